"""`geohazard serve --workers N`: N processes answer on one port, /metrics counts them all, and all of them stop."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from runtime.settings import Settings
from service.auth import create_token
from service.cli.processes import _warn_if_postgres_lacks_connections
from tests.servers import ROOT, free_port, log_tail
from tests.support import wait_until

# Bounds of the waits below, generous for a loaded 2-core machine: start-up spawns two interpreters.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# Requests on fresh connections until both workers have answered; the kernel hands each accept to either one.
MAX_REQUESTS_TO_MEET_BOTH = 200


@dataclass
class Serve:
    process: subprocess.Popen
    url: str
    log: Path

    def worker_pids(self) -> set[int]:
        """The pids of the serve process's children that serve requests (uvicorn's workers)."""
        pids = set()
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.add(int(pid))
        return pids


def _answered(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.fixture
def serve(database_url, topic_root, tmp_path):
    """`geohazard serve --workers 2` on a free port, in a process group of its own that is gone afterwards."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", GEOHAZARD_DATABASE_URL=database_url, GEOHAZARD_TOPIC_ROOT=topic_root,
               GEOHAZARD_PATROL_PHOTO_DIR=str(tmp_path / "photos"), GEOHAZARD_LOG_LEVEL="INFO")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port)], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = Serve(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        # Both workers are up (each logs this once its lifespan has run), and the port answers.
        while log.read_text().count("Application startup complete.") < 2 or not _answered(f"{server.url}/healthz"):
            assert process.poll() is None, f"geohazard serve exited with {process.returncode}:\n{log_tail(log)}"
            assert time.monotonic() < deadline, f"geohazard serve did not start in {START_TIMEOUT_S}s:\n{log_tail(log)}"
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):  # then killed with the rest of its group below
                process.wait(STOP_TIMEOUT_S)
        if _group_alive(process.pid):  # workers left behind by a parent that died or hung
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)


def _answers_from_both_workers(url: str, headers: dict | None = None) -> list[httpx.Response]:
    """GET `url` on a fresh connection each time until two different workers have answered."""
    responses, workers = [], set()
    while len(workers) < 2 and len(responses) < MAX_REQUESTS_TO_MEET_BOTH:
        with httpx.Client(timeout=10) as client:
            response = client.get(url, headers=headers)
        responses.append(response)
        workers.add(response.headers.get("X-Geohazard-Worker"))
    return responses


def test_serve_help_explains_workers():
    result = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "--workers N" in text
    assert "one per two cores this process may use, at least 1 and at most 8" in text
    assert "GEOHAZARD_API_DB_CONNECTIONS" in text


def test_two_workers_answer_the_api_from_two_processes(serve, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        token = create_token(conn, name="console", role="viewer")
    responses = _answers_from_both_workers(f"{serve.url}/api/v1/alerts", {"Authorization": f"Bearer {token}"})
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["count"] for r in responses} == {0}
    answered_by = {int(r.headers["X-Geohazard-Worker"]) for r in responses}
    assert len(answered_by) == 2
    assert answered_by == serve.worker_pids()


def test_each_worker_logs_its_start_with_its_pid(serve):
    pids = serve.worker_pids()
    assert len(pids) == 2
    text = serve.log.read_text()
    for pid in pids:
        # The application's own log line, in the format of every geohazard command, naming its worker.
        assert re.search(rf"INFO \[{pid}\] service\.app: API worker {pid} serving, with a database pool of at most "
                         r"10 connections \(40 shared by 2 workers\)", text)


def test_metrics_count_the_requests_of_every_worker(serve):
    responses = _answers_from_both_workers(f"{serve.url}/readyz")
    assert {r.status_code for r in responses} == {200}

    def counted() -> float:
        text = httpx.get(f"{serve.url}/metrics", timeout=10).text
        match = re.search(r'^geohazard_api_requests_total\{method="GET",route="/readyz",status="200"\} (\S+)$', text,
                          re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    # A worker counts a request just after sending its answer: wait for the last count to land.
    wait_until(lambda: counted() >= len(responses), what="every /readyz request counted")
    assert counted() == len(responses)


def test_sigterm_stops_every_worker(serve):
    workers = serve.worker_pids()
    assert len(workers) == 2
    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(STOP_TIMEOUT_S) == 0
    wait_until(lambda: not _group_alive(serve.process.pid), what="every worker to exit")
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_more_workers_than_database_connections_is_refused_readably(database_url):
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--workers", "30", "--port", str(free_port())], cwd=ROOT,
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, GEOHAZARD_DATABASE_URL=database_url, GEOHAZARD_API_DB_CONNECTIONS="40"))
    assert result.returncode == 1
    assert ("30 workers need at least 60 database connections (2 each), but GEOHAZARD_API_DB_CONNECTIONS is 40"
            in result.stderr)


def test_serve_warns_when_postgres_has_fewer_connections_free_than_the_pools_may_open(database_url, caplog):
    with psycopg.connect(database_url) as conn:
        limit = conn.execute("SELECT current_setting('max_connections')::int").fetchone()[0]
    _warn_if_postgres_lacks_connections(Settings(database_url=database_url), limit)
    assert f"the API's pools may open {limit} database connections together, but PostgreSQL has" in caplog.text
    assert "raise max_connections, or lower GEOHAZARD_API_DB_CONNECTIONS or --workers" in caplog.text
