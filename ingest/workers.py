"""`geohazard ingest --workers N`: N ingest processes sharing the subscriptions of one share group."""

import logging
import os
import signal
import subprocess
import sys
import time

from runtime.settings import Settings

log = logging.getLogger(__name__)

SHARE_GROUP = "geohazard-ingest"
# A worker that dies is restarted; one that keeps dying this fast is not restarted in a tight loop.
RESTART_BACKOFF_S = 5.0


def _start(settings: Settings, index: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        GEOHAZARD_INGEST_CLIENT_ID=f"{settings.ingest_client_id}-{index}",
        GEOHAZARD_INGEST_SHARE_GROUP=settings.ingest_share_group or SHARE_GROUP,
        GEOHAZARD_INGEST_METRICS_PORT=str(settings.ingest_metrics_port + index if settings.ingest_metrics_port else 0),
        # Mosquitto cannot share $-topics: one worker takes every $dp frame and $crsp answer.
        GEOHAZARD_INGEST_DOLLAR_TOPICS="true" if index == 0 else "false",
    )
    return subprocess.Popen([sys.executable, "-m", "service.cli", "ingest"], env=env)


def run_workers(settings: Settings, count: int) -> None:
    """Start `count` workers, restart any that exits, and stop them all on SIGINT or SIGTERM."""
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    workers = {i: _start(settings, i) for i in range(count)}
    log.info("started %d ingest workers in share group %s", count, settings.ingest_share_group or SHARE_GROUP)
    while not stopping:
        time.sleep(0.5)
        for i, proc in list(workers.items()):
            if proc.poll() is not None and not stopping:
                log.error("ingest worker %d exited with %s; restarting it in %.0fs", i, proc.returncode,
                          RESTART_BACKOFF_S)
                time.sleep(RESTART_BACKOFF_S)
                workers[i] = _start(settings, i)
    for proc in workers.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in workers.values():
        proc.wait(timeout=30)
