"""Ingest's memory under oversized messages (issue 13, item 5): 200 MQTT messages of 5 MB, with small readings
messages between them, through `geohazard ingest`; prints the peak and remaining memory of its two processes
(the writer and its MQTT receiver) beside their memory at rest, measured in the same run, and what the dead
letters take in the database.

Everything runs on a private PostgreSQL and Mosquitto (tests/servers.py) on loopback. The broker runs the
project's configuration without any message size limit (message_size_limit, max_packet_size): this measures
what ingest does with what a broker lets through, as a broker configured otherwise (or EMQX) would. The
messages are queued while ingest is stopped, then ingest is started: the broker sends its queue at once, the
hardest case for the receiver.

    .venv/bin/python bench/ingest_memory.py [--messages 200] [--message-mb 5] [--readings 200]
                                            [--max-message-bytes N] [--window-bytes N]

--max-message-bytes above the message size makes ingest decode them (they are not JSON: dead letters all the
same), so that only the byte window bounds what it holds.
"""

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.servers

import psycopg  # noqa: E402

from tests.fault import IngestProcess, SessionPublisher, crack_reading, migrate, native_message  # noqa: E402
from tests.servers import MOSQUITTO_CONF, TempMosquitto, TempPostgres  # noqa: E402
from tests.support import register  # noqa: E402

TOPIC_ROOT = "bench/v1"
GATEWAY = "GW-BENCH-0001"
DRAIN_TIMEOUT_S = 900.0
# The publisher waits for the broker's PUBACKs every this many large messages, so that it does not hold them all.
PUBLISH_AHEAD = 10
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
SIZE_LIMITS = ("message_size_limit", "max_packet_size")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak) of a process, in KiB, from /proc/<pid>/status."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def unlimited_broker_conf(directory: Path) -> Path:
    """The project's broker configuration without its message size limits."""
    lines = [line for line in MOSQUITTO_CONF.read_text().splitlines()
             if not line.split() or line.split()[0] not in SIZE_LIMITS]
    conf = directory / "mosquitto-unlimited.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200, help="large messages (default 200)")
    parser.add_argument("--message-mb", type=float, default=5.0, help="size of each, in MB (default 5)")
    parser.add_argument("--readings", type=int, default=200,
                        help="one-reading messages published among them, each to be stored (default 200)")
    parser.add_argument("--max-message-bytes", type=int,
                        help="GEOHAZARD_INGEST_MAX_MESSAGE_BYTES for ingest (default: its own default)")
    parser.add_argument("--window-bytes", type=int,
                        help="GEOHAZARD_INGEST_WINDOW_BYTES for ingest (default: its own default)")
    args = parser.parse_args()
    tuning = {name: value for name, value in (("ingest_max_message_bytes", args.max_message_bytes),
                                              ("ingest_window_bytes", args.window_bytes)) if value is not None}
    size = int(args.message_mb * 1_000_000)
    rng = random.Random(1)

    with tempfile.TemporaryDirectory(prefix="geohazard-bench-") as workdir, TempPostgres() as postgres, \
            TempMosquitto(unlimited_broker_conf(Path(workdir))) as mosquitto:
        url = postgres.url("bench")
        migrate(url)
        register(url, point="500113-HP-B001", gateway=GATEWAY, sensors=[("CR-01", "crack", {})])
        topic = f"{TOPIC_ROOT}/gateways/{GATEWAY}/readings"
        ingest = IngestProcess(Path(workdir) / "ingest.log", database_url=url, mqtt_url=mosquitto.url,
                               topic_root=TOPIC_ROOT, client_id="bench-ingest", **tuning)
        publisher = SessionPublisher(mosquitto.port, f"bench-pub-{uuid.uuid4().hex[:6]}")
        db = psycopg.connect(url, autocommit=True)

        def stored() -> int:
            return db.execute("SELECT count(*) FROM reading").fetchone()[0]

        # Subscribe ingest's persistent session (a probe reading stored), and measure both processes at rest.
        ingest.start()
        deadline = time.monotonic() + 60
        while stored() == 0:
            if not ingest.alive or time.monotonic() > deadline:
                sys.exit(f"ingest did not store the probe reading\n{ingest.evidence()}")
            publisher.publish(topic, native_message(GATEWAY, [crack_reading("CR-01", T0 - timedelta(hours=1), 0.0)]))
            time.sleep(0.2)
        time.sleep(1.0)
        rest = memory_kib(ingest.process.pid), memory_kib(ingest.receiver_pid())
        ingest.stop()

        # Queue the large messages and the readings, interleaved, for the stopped ingest.
        started = time.monotonic()
        for n in range(args.messages):
            publisher.publish(topic, rng.randbytes(size))
            for i in range(n * args.readings // args.messages, (n + 1) * args.readings // args.messages):
                reading = crack_reading("CR-01", T0 + timedelta(seconds=i), i / 100)
                publisher.publish(topic, native_message(GATEWAY, [reading], seq=i))
            if n % PUBLISH_AHEAD == PUBLISH_AHEAD - 1:
                publisher.wait_acknowledged(DRAIN_TIMEOUT_S)
        publisher.wait_acknowledged(DRAIN_TIMEOUT_S)
        print(f"queued {args.messages} messages of {size:,} bytes and {args.readings} one-reading messages in "
              f"{time.monotonic() - started:.1f}s (broker without a size limit)")

        # Let ingest drain the queue; measure its two processes once everything is written.
        ingest.start()
        writer_pid, receiver_pid = ingest.process.pid, ingest.receiver_pid()
        started = time.monotonic()
        deadline = started + DRAIN_TIMEOUT_S
        while True:
            letters = db.execute("SELECT count(*) FROM dead_letter").fetchone()[0]
            readings = stored() - 1
            if letters >= args.messages and readings >= args.readings:
                break
            if not ingest.alive or time.monotonic() > deadline:
                sys.exit(f"ingest wrote {letters} dead letters and {readings} readings\n{ingest.evidence()}")
            time.sleep(0.2)
        drained_s = time.monotonic() - started
        time.sleep(1.0)
        writer, receiver = memory_kib(writer_pid), memory_kib(receiver_pid)
        columns = [r[0] for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'dead_letter'").fetchall()]
        kept = db.execute("SELECT sum(length(payload)) FROM dead_letter").fetchone()[0]
        on_disk = db.execute("SELECT pg_total_relation_size('dead_letter')").fetchone()[0]
        sizes = (db.execute("SELECT min(payload_bytes), max(payload_bytes) FROM dead_letter").fetchone()
                 if "payload_bytes" in columns else None)
        ingest.stop()
        publisher.close()
        db.close()

    print(f"ingest settings: {', '.join(f'GEOHAZARD_{k.upper()}={v}' for k, v in tuning.items()) or 'defaults'}")
    print(f"ingest drained them in {drained_s:.1f}s: {letters} dead letters, {readings} of {args.readings} readings "
          "stored")
    print(f"\n{'process':<10} {'at rest':>10} {'peak (VmHWM)':>13} {'after (VmRSS)':>14} {'peak / rest':>12}")
    for name, at_rest, now in (("writer", rest[0], writer), ("receiver", rest[1], receiver)):
        print(f"{name:<10} {mib(at_rest['VmRSS']):>10} {mib(now['VmHWM']):>13} {mib(now['VmRSS']):>14} "
              f"{now['VmHWM'] / at_rest['VmRSS']:>11.1f}x")
    print(f"\ndead letters: {kept:,} payload bytes kept ({on_disk:,} bytes on disk with indexes and TOAST)"
          + (f"; payload_bytes from {sizes[0]:,} to {sizes[1]:,}" if sizes else ""))


if __name__ == "__main__":
    main()
