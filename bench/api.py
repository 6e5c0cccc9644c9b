"""API listing latency under concurrent load (SPEC 8: p99 under 50 ms for the alert and hazard-point listings
with 20,000 points and 10,000 alerts), beside /healthz under the same load, measured in the same run.

Starts a private PostgreSQL and Mosquitto (tests/servers.py), migrates, and seeds the registry with COPY from a
seeded generator: --points hazard points spread unevenly over 20 counties with their townships and villages,
types and scales in field proportions, devices with sensors on a third of them, a four-role grid on most;
--alerts alerts, 15% of them not yet resolved (open, acknowledged or verified, at most one per point and type)
and the rest two years of resolved history. Then `geohazard serve` runs on a free loopback port, and a separate
process drives it with --concurrency keep-alive clients (asyncio + httpx), each sending its next request as soon
as the last is answered, for --seconds per scenario after a short warm-up. Each scenario is one URL: the default
page of each listing and the filters consoles use (county, level, state, bbox); the baseline is /healthz, which
does no database work, under the same concurrency, measured first and again last (the machine's load drifts).
Latency is measured by the client, request sent to response read.

    .venv/bin/python bench/api.py [--points 20000] [--alerts 10000] [--concurrency 4] [--seconds 5]
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for service and tests

from service import db as service_db  # noqa: E402
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


def load_process(conn, base_url: str, token: str, concurrency: int, seconds: float) -> None:
    """The load generator, in its own process: runs each path it is sent and sends back the Result."""
    while (path := conn.recv()) is not None:
        conn.send(asyncio.run(_drive(base_url, token, path, concurrency, seconds)))


class ServeProcess:
    """`geohazard serve` on a free loopback port, logging to a file; its CPU time read from /proc."""

    def __init__(self, log_path: Path, **env) -> None:
        self.port = free_port()
        self.log = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)], cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=geohazard_env(**env))
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"geohazard serve did not come up\n--- {log_path} ---\n{log_tail(log_path)}")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far."""
        return process_cpu_s(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def _cpu_s_and_parent(stat: Path) -> tuple[float, str]:
    """A process's user plus system CPU seconds so far, and its parent's pid, from its /proc/<pid>/stat."""
    fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), fields[1]


def process_cpu_s(pid: int) -> float:
    return _cpu_s_and_parent(Path(f"/proc/{pid}/stat"))[0]


def postgres_cpu_s(postgres: TempPostgres) -> float:
    """CPU seconds used so far by the private PostgreSQL's processes (the postmaster's children: the API pool's
    backends, checkpointer, autovacuum...)."""
    postmaster = (postgres.data / "postmaster.pid").read_text().split()[0]
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            cpu_s, parent = _cpu_s_and_parent(stat)
        except (FileNotFoundError, ProcessLookupError):  # exited while we looked
            continue
        if parent == postmaster:
            total += cpu_s
    return total


def quantiles_ms(latencies_s: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20_000, help="hazard points (default 20000)")
    parser.add_argument("--alerts", type=int, default=10_000, help="alerts (default 10000)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="concurrent keep-alive clients (default 4: a duty room's consoles refreshing at once)")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per scenario (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated registry (default 1)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with TempPostgres() as postgres, TempMosquitto() as mosquitto, \
            tempfile.TemporaryDirectory(prefix="geohazard-bench-") as workdir:
        url = postgres.url("bench")
        migrate(url)
        started = time.monotonic()
        seed(url, points=args.points, alerts=args.alerts, seed_value=args.seed)
        print(f"seeded {args.points:,} hazard points and {args.alerts:,} alerts in {time.monotonic() - started:.1f}s "
              f"(private PostgreSQL on :{postgres.port})", flush=True)
        with psycopg.connect(url, autocommit=True) as conn:
            token = create_token(conn, name="bench console", role="duty_officer")
            max_connections = conn.execute("SHOW max_connections").fetchone()[0]
        runs = scenarios(url)
        server = ServeProcess(Path(workdir) / "serve.log", database_url=url, mqtt_url=mosquitto.url,
                              topic_root="bench/v1", client_id="bench-api", log_level="WARNING")
        print(f"geohazard serve on {server.url}; {len(runs)} scenarios of {args.seconds:g}s "
              f"(+{WARM_UP_S:g}s warm-up) each", flush=True)
        ours, theirs = multiprocessing.get_context("spawn").Pipe()
        driver = multiprocessing.get_context("spawn").Process(
            target=load_process, args=(theirs, server.url, token, args.concurrency, args.seconds), daemon=True)
        driver.start()
        results: list[tuple[Scenario, Result, float, float]] = []
        try:
            for scenario in runs:
                api_cpu, db_cpu = server.cpu_s(), postgres_cpu_s(postgres)
                ours.send(scenario.path)
                result = ours.recv()
                api_cpu, db_cpu = server.cpu_s() - api_cpu, postgres_cpu_s(postgres) - db_cpu
                results.append((scenario, result, api_cpu / result.requests_total, db_cpu / result.requests_total))
                print(f"  {scenario.name}: {len(result.latencies_s):,} requests", flush=True)
            ours.send(None)
            driver.join(30)
        finally:
            server.stop()
        load_after = os.getloadavg()

    print()
    print(f"machine: {os.cpu_count()} cores; load average (1 min) {load_before[0]:.2f} before the run, "
          f"{load_after[0]:.2f} after; other work on the machine shares the cores")
    # What uvicorn picks by itself when installed (uvicorn[standard]); the serve process shares this environment.
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http_parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(f"concurrency: {args.concurrency} keep-alive clients in one load process (asyncio + httpx, closed loop); "
          f"geohazard serve: 1 uvicorn process, 1 event loop ({loop}, HTTP parser {http_parser}), asyncpg pool "
          f"{service_db.POOL_MIN_SIZE}..{service_db.POOL_MAX_SIZE}, log level WARNING (no access log); "
          f"PostgreSQL max_connections {max_connections}")
    print()
    base_p50, base_p99 = quantiles_ms([latency for scenario, result, *_ in results if not scenario.listing
                                       for latency in result.latencies_s])
    print(f"{'scenario':<36}{'matching':>9}{'req/s':>7}{'API':>6}{'DB':>6}{'load':>6}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'p50/hz':>8}{'p99/hz':>8}   target p99 < {TARGET_P99_MS:g} ms")
    print(f"{'':<36}{'':>9}{'':>7}{'CPU ms per request':>18}")
    missed = []
    for scenario, result, api_cpu, db_cpu in results:
        if not result.latencies_s:
            print(f"{scenario.name:<36} no successful request; {result.errors} errors, first: {result.first_error}")
            missed.append(scenario.name)
            continue
        p50, p99 = quantiles_ms(result.latencies_s)
        verdict = ""
        if scenario.listing:
            verdict = "met" if p99 < TARGET_P99_MS and not result.errors else "NOT met"
            if verdict != "met":
                missed.append(scenario.name)
        matching = "" if result.matching is None else f"{result.matching:,}"
        rate = len(result.latencies_s) / result.elapsed_s
        print(f"{scenario.name:<36}{matching:>9}{rate:>7,.0f}{api_cpu * 1000:>6.1f}{db_cpu * 1000:>6.1f}"
              f"{result.client_cpu_s / len(result.latencies_s) * 1000:>6.1f}{p50:>8.1f}{p99:>8.1f}"
              f"{p50 / base_p50:>8.1f}{p99 / base_p99:>8.1f}   {verdict}"
              + (f" ({result.errors} errors, first: {result.first_error})" if result.errors else ""))
    print(f"\nLatency is the client's, request sent to response read, with all {args.concurrency} clients busy; "
          "/hz is the /healthz\nbaseline of the same run (its two runs together). CPU per request: the API process "
          "(API), PostgreSQL's\nprocesses (DB) and the load generator (load); their sum bounds the rate the machine's "
          "cores can serve.")
    print("All listings met the target." if not missed else f"Target missed by: {', '.join(missed)}.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
