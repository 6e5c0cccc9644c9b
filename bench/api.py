"""API listing latency under concurrent load (SPEC 8: p99 under 50 ms for the alert and hazard-point listings
with 20,000 points and 10,000 alerts), with one `geohazard serve` worker and with several, beside /healthz under
the same load, all measured in the same run.

Starts a private PostgreSQL and Mosquitto (tests/servers.py), migrates, and seeds the registry with COPY from a
seeded generator: --points hazard points spread unevenly over 20 counties with their townships and villages,
types and scales in field proportions, devices with sensors on a third of them, a four-role grid on most;
--alerts alerts, 15% of them not yet resolved (open, acknowledged or verified, at most one per point and type)
and the rest two years of resolved history. Then one `geohazard serve --workers W` per --workers count runs on a
free loopback port (all at once, idle but for the one being measured), and a separate process drives them with
each --concurrency count of keep-alive clients (asyncio + httpx), each sending its next request as soon as the
last is answered, for --seconds per scenario after a short warm-up. Each scenario is one URL: the default page
of each listing and the filters consoles use (county, level, state, bbox); the baseline is /healthz, which does
no database work, under the same concurrency, measured first and again last (the machine's load drifts). Each
scenario is measured against every server back to back, so one worker and several see the same machine.
Latency is measured by the client, request sent to response read.

    .venv/bin/python bench/api.py [--points 20000] [--alerts 10000] [--workers 1,2] [--concurrency 4,20]
                                  [--seconds 5]
"""

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for service and tests

from runtime.settings import Settings  # noqa: E402
from service import db as service_db  # noqa: E402
from service.app import WORKER_HEADER, worker_pool_size  # noqa: E402
from service.auth import create_token  # noqa: E402
from tests.fault import geohazard_env, migrate  # noqa: E402
from tests.servers import ROOT, TempMosquitto, TempPostgres, free_port, log_tail  # noqa: E402

TARGET_P99_MS = 50.0
API = "/api/v1"
START_TIMEOUT_S = 60.0
WARM_UP_S = 1.0  # per scenario, not counted: every pooled connection has prepared the scenario's query
REQUEST_TIMEOUT_S = 30.0
NOW = datetime.now(timezone.utc).replace(microsecond=0)

# Chongqing's districts and counties as the bench's province: code, and the centre of its points (lon, lat).
COUNTIES = [(f"5001{n:02d}", 105.5 + (n % 5) * 0.9, 28.4 + (n // 5) * 0.8) for n in range(1, 21)]
TOWNSHIPS_PER_COUNTY, VILLAGES_PER_TOWNSHIP = 12, 10
# (value, weight): the proportions of a provincial ledger; mountain counties hold more points than the city.
TYPES = (("landslide", 60), ("collapse", 20), ("debris_flow", 10), ("unstable_slope", 6),
         ("ground_subsidence", 2), ("ground_fissure", 2))
SCALES = (("small", 70), ("medium", 22), ("large", 7), ("giant", 1))
POINT_STATUSES = (("active", 90), ("under_treatment", 5), ("treated", 3), ("relocated", 1), ("cancelled", 1))
LEVELS = (("blue", 40), ("yellow", 32), ("orange", 18), ("red", 10))
ALERT_TYPES = (("deformation", 50), ("rainfall", 35), ("device", 15))
UNRESOLVED_STATES = (("open", 40), ("acknowledged", 35), ("verified", 25))
UNRESOLVED_SHARE = 0.15
DEVICE_SHARE = 1 / 3
GRID_SHARE = 0.9


def pick(rng: random.Random, table) -> str:
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights)[0]


def point_rows(rng: random.Random, count: int) -> list[tuple]:
    county_weights = [1 + (n * 7) % 5 for n in range(len(COUNTIES))]
    rows = []
    for n in range(count):
        county, lon0, lat0 = rng.choices(COUNTIES, county_weights)[0]
        township = f"{county}{rng.randrange(1, TOWNSHIPS_PER_COUNTY + 1):03d}"
        village = f"{township}{rng.randrange(1, VILLAGES_PER_TOWNSHIP + 1):03d}"
        people = int(rng.paretovariate(1.2) * 5)
        rows.append((f"{county}-HP-{n:05d}", f"point {n}", pick(rng, TYPES), pick(rng, SCALES),
                     round(lon0 + rng.uniform(-0.4, 0.4), 5), round(lat0 + rng.uniform(-0.35, 0.35), 5),
                     county, township, village, max(1, people // 3), people, pick(rng, POINT_STATUSES)))
    return rows


def alert_rows(rng: random.Random, codes: list[str], count: int) -> list[tuple]:
    """Unresolved alerts on distinct points (so at most one per point and type), then resolved history."""
    unresolved = min(round(count * UNRESOLVED_SHARE), len(codes))
    restless = codes[: max(1, len(codes) // 3)]  # points that alert again and again
    rows = []
    for n in range(count):
        level, kind = pick(rng, LEVELS), pick(rng, ALERT_TYPES)
        if n < unresolved:
            point, state = codes[n], pick(rng, UNRESOLVED_STATES)
            raised = NOW - timedelta(minutes=rng.randrange(10, 3 * 24 * 60))
        else:
            point = rng.choice(restless) if rng.random() < 0.7 else rng.choice(codes)
            state, raised = "resolved", NOW - timedelta(minutes=rng.randrange(3 * 24 * 60, 730 * 24 * 60))
        step = timedelta(minutes=rng.randrange(5, 120))
        acknowledged = raised + step if state != "open" else None
        verified = raised + 2 * step if state in ("verified", "resolved") else None
        resolved = raised + 3 * step if state == "resolved" else None
        rows.append((point, kind, level, state, f'["{kind} at {level}"]', '{"v_mm_per_day": 3.1}', "bench-1",
                     raised, resolved or verified or acknowledged or raised, raised + timedelta(minutes=30),
                     acknowledged, acknowledged and "officer", verified, verified and "officer",
                     verified and rng.choice(["confirmed", "false_alarm"]), resolved, resolved and "officer"))
    rng.shuffle(rows)  # ids in no particular order of time, as after months of mixed traffic
    return rows


def seed(url: str, *, points: int, alerts: int, seed_value: int) -> None:
    """The registry and alerts described in the module docstring, by COPY, then VACUUM ANALYZE."""
    rng = random.Random(seed_value)
    hazard_points = point_rows(rng, points)
    codes = [row[0] for row in hazard_points]
    rng.shuffle(codes)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
                "COPY hazard_point (code, name, type, scale, lon, lat, county_code, township_code, village_code,"
                " threatened_households, threatened_people, status) FROM STDIN") as copy:
            for row in hazard_points:
                copy.write_row(row)
        with conn.cursor().copy(
                "COPY alert (hazard_point, type, level, state, reasons, evidence, rule_version, raised_at, updated_at,"
                " ack_deadline, acknowledged_at, acknowledged_by, verified_at, verified_by, verdict, resolved_at,"
                " resolved_by) FROM STDIN") as copy:
            for row in alert_rows(rng, codes, alerts):
                copy.write_row(row)
        conn.execute("INSERT INTO alert_event (alert_id, at, kind, to_level, actor, rule_version)"
                     " SELECT id, raised_at, 'raised', level, 'engine', rule_version FROM alert")
        equipped = codes[: int(len(codes) * DEVICE_SHARE)]
        with conn.cursor().copy("COPY device (id, hazard_point, protocol) FROM STDIN") as copy:
            for code in equipped:
                copy.write_row((f"GW-{code}", code, rng.choice(["universal", "native"])))
        with conn.cursor().copy("COPY sensor (device_id, code, kind, hazard_point, v0_mm_per_day) FROM STDIN") as copy:
            for n, code in enumerate(equipped):
                copy.write_row((f"GW-{code}", "L1_LF_1", "crack", code, 2.0))
                if n % 2 == 0:
                    copy.write_row((f"GW-{code}", "L3_YL_1", "rain", code, None))
        seed_grid(conn, rng, hazard_points)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def add_seed_arguments(parser: argparse.ArgumentParser) -> None:
    """--points, --alerts and --seed: the generated registry of seed()."""
    parser.add_argument("--points", type=int, default=20_000, help="hazard points (default 20000)")
    parser.add_argument("--alerts", type=int, default=10_000, help="alerts (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated registry (default 1)")


@contextmanager
def seeded_servers(args: argparse.Namespace) -> Iterator[tuple[TempPostgres, TempMosquitto, str, Path]]:
    """A private PostgreSQL, migrated and seeded as --points, --alerts and --seed say, a private Mosquitto and a
    scratch directory: (postgres, mosquitto, database URL, directory)."""
    with TempPostgres() as postgres, TempMosquitto() as mosquitto, \
            tempfile.TemporaryDirectory(prefix="geohazard-bench-") as workdir:
        url = postgres.url("bench")
        migrate(url)
        started = time.monotonic()
        seed(url, points=args.points, alerts=args.alerts, seed_value=args.seed)
        print(f"seeded {args.points:,} hazard points and {args.alerts:,} alerts in {time.monotonic() - started:.1f}s "
              f"(private PostgreSQL on :{postgres.port})", flush=True)
        yield postgres, mosquitto, url, Path(workdir)


def grid_units(row: tuple) -> tuple[tuple[str, str], ...]:
    """Who a point's four roles go to: the monitor of its village, the lead of its township, its county's two."""
    county, township, village = row[6], row[7], row[8]
    return (("monitor", village), ("area_lead", township), ("resident_geologist", county), ("county_admin", county))


def seed_grid(conn: psycopg.Connection, rng: random.Random, hazard_points: list[tuple]) -> None:
    """One person per role and unit (village, township, county), and the four-role grid of most points."""
    people: dict[tuple[str, str], int] = {}
    for row in hazard_points:
        for key in grid_units(row):
            people.setdefault(key, len(people))
    with conn.cursor().copy("COPY person (name, phone, roles, county_code) FROM STDIN") as copy:
        for (role, unit), n in people.items():
            copy.write_row((f"{role} {unit}", f"138{n:08d}", [role], unit[:6]))
    ids = [row[0] for row in conn.execute("SELECT id FROM person ORDER BY id")]  # identities follow COPY order
    with conn.cursor().copy("COPY grid_assignment (hazard_point, role, person_id) FROM STDIN") as copy:
        for row in hazard_points:
            if rng.random() < GRID_SHARE:
                for role, unit in grid_units(row):
                    copy.write_row((row[0], role, ids[people[(role, unit)]]))


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str  # with its query string
    listing: bool  # held to the SPEC target; the baseline is not


def scenarios(url: str) -> list[Scenario]:
    """The baseline and the listings as consoles and phones ask for them, filter values from the seeded data."""
    with psycopg.connect(url) as conn:
        # The busiest county: its filters select the most rows, the hardest case for a county console.
        county = conn.execute("SELECT county_code FROM hazard_point GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                              ).fetchone()[0]
    _, lon, lat = next(c for c in COUNTIES if c[0] == county)
    bbox = f"{lon - 0.25:.2f},{lat - 0.2:.2f},{lon + 0.25:.2f},{lat + 0.2:.2f}"  # a map view of part of a county
    return [
        Scenario("/healthz (baseline)", "/healthz", False),
        Scenario("alerts, default page", f"{API}/alerts", True),
        Scenario("alerts, unresolved", f"{API}/alerts?state=open&state=acknowledged&state=verified", True),
        Scenario("alerts, orange and red", f"{API}/alerts?level=orange&level=red", True),
        Scenario("alerts, one county", f"{API}/alerts?county_code={county}", True),
        Scenario("alerts, county + open", f"{API}/alerts?county_code={county}&state=open", True),
        Scenario("hazard points, default page", f"{API}/hazard-points", True),
        Scenario("hazard points, one county", f"{API}/hazard-points?county_code={county}", True),
        Scenario("hazard points, orange and red", f"{API}/hazard-points?level=orange&level=red", True),
        Scenario("hazard points, bbox", f"{API}/hazard-points?bbox={bbox}", True),
        Scenario("hazard points, county + landslide", f"{API}/hazard-points?county_code={county}&type=landslide",
                 True),
        Scenario("/healthz (baseline, again)", "/healthz", False),
    ]


@dataclass
class Result:
    latencies_s: list[float]
    errors: int
    first_error: str
    matching: int | None  # the listing's count, from a probe request
    elapsed_s: float
    client_cpu_s: float  # the load process's own CPU time over the timed part
    requests_total: int  # every request of the scenario, probe and warm-up included: what the CPU figures cover


async def _drive(base_url: str, token: str, path: str, concurrency: int, seconds: float) -> Result:
    """`concurrency` clients in a closed loop on one URL: a warm-up, then `seconds` of timed requests."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=REQUEST_TIMEOUT_S) as client:
        probe = await client.get(path)
        matching = probe.json().get("count") if probe.status_code == 200 else None
        latencies: list[float] = []
        errors = [0, ""]
        sent = [1]

        async def client_loop(until: float, record: bool) -> None:
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.get(path)
                elapsed = time.perf_counter() - started
                sent[0] += 1
                if response.status_code != 200:
                    errors[0] += 1
                    errors[1] = errors[1] or f"{response.status_code} {response.text[:200]}"
                elif record:
                    latencies.append(elapsed)

        warm_until = time.perf_counter() + WARM_UP_S
        await asyncio.gather(*(client_loop(warm_until, False) for _ in range(concurrency)))
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client_loop(started + seconds, True) for _ in range(concurrency)))
        return Result(latencies, errors[0], errors[1], matching, time.perf_counter() - started,
                      time.process_time() - cpu_started, sent[0])


def load_process(conn, token: str, seconds: float) -> None:
    """The load generator, in its own process: runs each (server URL, path, concurrency) it is sent and sends back
    the Result."""
    while (job := conn.recv()) is not None:
        base_url, path, concurrency = job
        conn.send(asyncio.run(_drive(base_url, token, path, concurrency, seconds)))


class ServeProcess:
    """`geohazard serve --workers N` on a free loopback port, logging to a file; CPU and memory read from /proc."""

    def __init__(self, log_path: Path, workers: int, **env) -> None:
        self.port = free_port()
        self.log = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "serve", "--workers", str(workers), "--port", str(self.port)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=geohazard_env(**env))
        self.url = f"http://127.0.0.1:{self.port}"
        # Up once every worker has answered: new connections until as many pids as workers have been seen.
        answered_by: set[str] = set()
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(answered_by) < workers:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"geohazard serve --workers {workers} did not come up ({len(answered_by)} answered)\n"
                         f"--- {log_path} ---\n{log_tail(log_path)}")
            try:
                answered_by.add(httpx.get(f"{self.url}/healthz", timeout=1).headers[WORKER_HEADER])
            except httpx.HTTPError:
                time.sleep(0.1)

    def cpu_s(self) -> float:
        """CPU seconds the server's processes (uvicorn's parent and its workers) have used so far."""
        return tree_cpu_s(self.process.pid, include_root=True)

    def rss_mb(self) -> float:
        """Resident memory of the server's processes together, in MiB."""
        total_kb = 0
        for pid in tree_pids(self.process.pid, include_root=True):
            status = Path(f"/proc/{pid}/status").read_text()
            total_kb += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
        return total_kb / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def _processes() -> dict[int, tuple[float, int]]:
    """Every process's user plus system CPU seconds so far and its parent's pid, from /proc/<pid>/stat."""
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        except (FileNotFoundError, ProcessLookupError):  # exited while we looked
            continue
        processes[int(stat.parent.name)] = ((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
                                            int(fields[1]))
    return processes


def tree_pids(root: int, *, include_root: bool, processes: dict[int, tuple[float, int]] | None = None) -> list[int]:
    """The pids of `root`'s descendants, and `root` itself if asked."""
    processes = processes if processes is not None else _processes()
    children: dict[int, list[int]] = {}
    for pid, (_, parent) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return [root, *found] if include_root else found


def tree_cpu_s(root: int, *, include_root: bool) -> float:
    """CPU seconds used so far by `root`'s descendants (and `root` if asked); exited ones are no longer counted."""
    processes = _processes()
    return sum(processes[pid][0] for pid in tree_pids(root, include_root=include_root, processes=processes)
               if pid in processes)


def postgres_cpu_s(postgres: TempPostgres) -> float:
    """CPU seconds used so far by the private PostgreSQL's processes (the postmaster's children: the API pools'
    backends, checkpointer, autovacuum...)."""
    return tree_cpu_s(int((postgres.data / "postmaster.pid").read_text().split()[0]), include_root=False)


def quantiles_ms(latencies_s: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def counts(text: str) -> list[int]:
    """A comma-separated list of counts of at least 1, e.g. 4,20."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every count must be at least 1")
    return values


@dataclass
class Measured:
    scenario: Scenario
    result: Result
    api_cpu_s: float  # per request, the server's processes
    db_cpu_s: float  # per request, PostgreSQL's processes


def print_table(measured: list[Measured]) -> list[str]:
    """One server at one concurrency: every scenario's figures; returns the listings that missed the target."""
    base_p50, base_p99 = quantiles_ms([latency for m in measured if not m.scenario.listing
                                       for latency in m.result.latencies_s])
    print(f"{'scenario':<36}{'matching':>9}{'req/s':>7}{'API':>6}{'DB':>6}{'load':>6}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'p50/hz':>8}{'p99/hz':>8}   target p99 < {TARGET_P99_MS:g} ms")
    print(f"{'':<36}{'':>9}{'':>7}{'CPU ms per request':>18}")
    missed = []
    for m in measured:
        result = m.result
        if not result.latencies_s:
            print(f"{m.scenario.name:<36} no successful request; {result.errors} errors, first: {result.first_error}")
            missed.append(m.scenario.name)
            continue
        p50, p99 = quantiles_ms(result.latencies_s)
        verdict = ""
        if m.scenario.listing:
            verdict = "met" if p99 < TARGET_P99_MS and not result.errors else "NOT met"
            if verdict != "met":
                missed.append(m.scenario.name)
        matching = "" if result.matching is None else f"{result.matching:,}"
        rate = len(result.latencies_s) / result.elapsed_s
        print(f"{m.scenario.name:<36}{matching:>9}{rate:>7,.0f}{m.api_cpu_s * 1000:>6.1f}{m.db_cpu_s * 1000:>6.1f}"
              f"{result.client_cpu_s / len(result.latencies_s) * 1000:>6.1f}{p50:>8.1f}{p99:>8.1f}"
              f"{p50 / base_p50:>8.1f}{p99 / base_p99:>8.1f}   {verdict}"
              + (f" ({result.errors} errors, first: {result.first_error})" if result.errors else ""))
    return missed


def print_comparison(concurrency: int, by_workers: dict[int, list[Measured]]) -> None:
    """Each scenario's p50 and p99 with every worker count, and their ratios to the first count (the baseline)."""
    worker_counts = list(by_workers)
    baseline = worker_counts[0]
    head = "".join(f"{f'{w}w p50':>9}{f'{w}w p99':>9}" for w in worker_counts)
    head += "".join(f"{f'p50 {w}w/{baseline}w':>12}{f'p99 {w}w/{baseline}w':>12}" for w in worker_counts[1:])
    print(f"{concurrency} clients{'':<26}{head}")
    p99s: dict[int, list[float]] = {w: [] for w in worker_counts}
    ratios: dict[int, list[float]] = {w: [] for w in worker_counts[1:]}
    for n, scenario in enumerate(m.scenario for m in by_workers[baseline]):
        figures = {w: quantiles_ms(by_workers[w][n].result.latencies_s) if by_workers[w][n].result.latencies_s
                   else (float("nan"), float("nan")) for w in worker_counts}
        row = "".join(f"{figures[w][0]:>9.1f}{figures[w][1]:>9.1f}" for w in worker_counts)
        row += "".join(f"{figures[w][0] / figures[baseline][0]:>12.2f}{figures[w][1] / figures[baseline][1]:>12.2f}"
                       for w in worker_counts[1:])
        print(f"{scenario.name:<36}{row}")
        if scenario.listing:
            for w in worker_counts:
                p99s[w].append(figures[w][1])
            for w in worker_counts[1:]:
                ratios[w].append(figures[w][1] / figures[baseline][1])
    summary = ", ".join(f"{w} worker{'s' if w > 1 else ''} {min(p99s[w]):.0f}-{max(p99s[w]):.0f} ms"
                        for w in worker_counts)
    summary += "".join(f"; {w}w/{baseline}w {min(ratios[w]):.2f}-{max(ratios[w]):.2f} (median "
                       f"{statistics.median(ratios[w]):.2f})" for w in worker_counts[1:])
    print(f"listings' p99 at {concurrency} clients: {summary}\n")


def main() -> int:
    serve_default = Settings().api_worker_count
    default_workers = sorted({1, max(2, serve_default)})
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_seed_arguments(parser)
    parser.add_argument("--workers", type=counts, default=default_workers,
                        help=f"worker counts of `geohazard serve`, comma-separated, one server each; the first is the "
                             f"baseline of the ratios (default {','.join(map(str, default_workers))}: one worker, and "
                             f"serve's default here, {serve_default}, or 2 if that is 1); the target is judged on "
                             f"serve's default if measured, else on the last")
    parser.add_argument("--concurrency", type=counts, default=[4, 20],
                        help="numbers of concurrent keep-alive clients, comma-separated (default 4,20: a duty room's "
                             "consoles refreshing at once, and a busy province's)")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per scenario (default 5)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with seeded_servers(args) as (postgres, mosquitto, url, workdir):
        with psycopg.connect(url, autocommit=True) as conn:
            token = create_token(conn, name="bench console", role="duty_officer")
            max_connections = conn.execute("SHOW max_connections").fetchone()[0]
        runs = scenarios(url)
        servers: dict[int, ServeProcess] = {}
        results: dict[tuple[int, int], list[Measured]] = {}
        try:
            for workers in args.workers:
                servers[workers] = ServeProcess(Path(workdir) / f"serve-{workers}.log", workers, database_url=url,
                                                mqtt_url=mosquitto.url, topic_root="bench/v1", client_id="bench-api",
                                                log_level="WARNING")
            print(f"geohazard serve with {' and '.join(map(str, servers))} workers; {len(runs)} scenarios of "
                  f"{args.seconds:g}s (+{WARM_UP_S:g}s warm-up) each, per server and per concurrency", flush=True)
            ours, theirs = multiprocessing.get_context("spawn").Pipe()
            driver = multiprocessing.get_context("spawn").Process(
                target=load_process, args=(theirs, token, args.seconds), daemon=True)
            driver.start()
            for concurrency in args.concurrency:
                for scenario in runs:
                    done = []
                    for workers, server in servers.items():  # back to back: the same machine for every server
                        api_cpu, db_cpu = server.cpu_s(), postgres_cpu_s(postgres)
                        ours.send((server.url, scenario.path, concurrency))
                        result = ours.recv()
                        api_cpu, db_cpu = server.cpu_s() - api_cpu, postgres_cpu_s(postgres) - db_cpu
                        results.setdefault((concurrency, workers), []).append(
                            Measured(scenario, result, api_cpu / result.requests_total, db_cpu / result.requests_total))
                        done.append(f"{workers}w {len(result.latencies_s):,}")
                    print(f"  {concurrency} clients, {scenario.name}: {', '.join(done)} requests", flush=True)
            ours.send(None)
            driver.join(30)
            memory_mb = {workers: server.rss_mb() for workers, server in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
        load_after = os.getloadavg()

    print()
    print(f"machine: {os.cpu_count()} cores; load average (1 min) {load_before[0]:.2f} before the run, "
          f"{load_after[0]:.2f} after; other work on the machine shares the cores")
    # What uvicorn picks by itself when installed (uvicorn[standard]); the serve process shares this environment.
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http_parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    pools = ", ".join(f"{w} worker{'s' if w > 1 else ''} {service_db.POOL_MIN_SIZE}.."
                      f"{worker_pool_size(Settings(api_workers=w))} each" for w in servers)
    print(f"clients: keep-alive, in one load process (asyncio + httpx, closed loop); geohazard serve: one event loop "
          f"per worker ({loop}, HTTP parser {http_parser}), log level WARNING (no access log); asyncpg pools: {pools}; "
          f"PostgreSQL max_connections {max_connections}")
    print("memory of each server's processes after the run: "
          + ", ".join(f"{w} worker{'s' if w > 1 else ''} {mb:.0f} MiB" for w, mb in memory_mb.items()))
    judged_workers = serve_default if serve_default in servers else args.workers[-1]
    missed = []
    for (concurrency, workers), measured in results.items():
        print(f"\n{concurrency} clients, {workers} worker{'s' if workers > 1 else ''}:")
        table_missed = print_table(measured)
        if workers == judged_workers:
            missed += [f"{name} ({concurrency} clients)" for name in table_missed]
    print("\nLatency is the client's, request sent to response read, with every client busy; /hz is the /healthz "
          "baseline of\nthe same server and concurrency (its two runs together). CPU per request: the server's "
          "processes (API),\nPostgreSQL's (DB) and the load generator (load); their sum bounds the rate the "
          "machine's cores can serve.\n")
    if len(servers) > 1:
        for concurrency in args.concurrency:
            print_comparison(concurrency, {w: results[(concurrency, w)] for w in servers})
    judged = f"{judged_workers} worker{'s' if judged_workers > 1 else ''} (serve's default here)" \
        if judged_workers == serve_default else f"{judged_workers} workers"
    print(f"All listings met the target with {judged}." if not missed
          else f"Target missed with {judged} by: {', '.join(missed)}.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
