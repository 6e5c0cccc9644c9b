"""What prompt broker persistence costs (issue 13, item 3): Mosquitto with the shipped configuration beside the
same configuration with the old `autosave_interval 60`, measured in one run.

For each configuration, on a private broker (tests/servers.py): an ingest-like persistent session (fixed client
id, clean session off, QoS 1) subscribes and goes away, so that everything published is queued for it; a gateway
publishes N native messages of 50 readings (QoS 1, every PUBACK awaited), then the session comes back and drains
its queue. Printed per configuration: messages per second and the broker's CPU seconds (utime + stime from
/proc) while publishing and while draining, how many times the broker saved its database, the longest save (the
broker serves nobody while it saves) and the milliseconds per MB of the largest, and the size of the file at the
end of publishing: each save writes the whole in-memory database, so it grows with the queue.

    .venv/bin/python bench/broker.py [--messages 100000] [--baseline "autosave_interval 60"]
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.servers

from bench.ingest import PahoSubscriber  # noqa: E402
from tests.fault import SessionPublisher, crack_reading, native_message  # noqa: E402
from tests.servers import MOSQUITTO_CONF, TempMosquitto  # noqa: E402

GATEWAY = "GW-BENCH-0001"
TOPIC = f"bench/v1/gateways/{GATEWAY}/readings"
READINGS_PER_MESSAGE = 50  # what the simulator and SPEC 8 send: about 4 kB a message
# Unacknowledged messages the publisher may have at once: paho numbers them in 16 bits.
PUBLISH_AHEAD = 20_000
# How often the persistence file is looked at: a save shorter than this may be missed or measured short.
WATCH_S = 0.002
TIMEOUT_S = 900.0


@dataclass
class Run:
    """One configuration's figures."""

    name: str
    messages: int
    publish_s: float = 0.0
    publish_cpu_s: float = 0.0
    drain_s: float = 0.0
    drain_cpu_s: float = 0.0
    saves: int = 0
    longest_save_s: float = 0.0
    save_ms_per_mb: float = 0.0  # of the largest save
    file_bytes: int = 0


def with_autosave(lines: list[str], directory: Path) -> Path:
    """The shipped broker configuration with its autosave lines replaced by `lines`."""
    kept = [line for line in MOSQUITTO_CONF.read_text().splitlines()
            if line.split()[:1] not in (["autosave_interval"], ["autosave_on_changes"])]
    conf = directory / "mosquitto-baseline.conf"
    conf.write_text("\n".join(kept + lines) + "\n")
    return conf


def autosave_lines(conf: Path) -> str:
    return "; ".join(line for line in conf.read_text().splitlines() if line.startswith("autosave"))


def broker_cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SaveWatch:
    """The broker's saves, timed from the persistence file seen from outside: (seconds, bytes written) each.

    Mosquitto writes mosquitto.db.new and renames it over mosquitto.db: the .new file exists while it saves.
    """

    def __init__(self, data: Path):
        self.new, self.saved = data / "mosquitto.db.new", data / "mosquitto.db"
        self.saves: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        started = None
        while not self._stop.is_set():
            if self.new.exists():
                started = started or time.monotonic()
            elif started is not None:
                self.saves.append((time.monotonic() - started, self.saved.stat().st_size))
                started = None
            time.sleep(WATCH_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(name: str, conf: Path, messages: int) -> Run:
    run = Run(name, messages)
    payload = native_message(GATEWAY, [crack_reading(f"CR-{i + 1:02d}", datetime.now(timezone.utc)
                                                     - timedelta(minutes=i), value=i / 100)
                                       for i in range(READINGS_PER_MESSAGE)])
    with TempMosquitto(conf) as broker:
        subscriber = PahoSubscriber(broker.port, TOPIC)
        subscriber.subscribe()
        publisher = SessionPublisher(broker.port, "bench-gateway")
        watch = SaveWatch(broker.data)
        try:
            cpu, started = broker_cpu_s(broker.process.pid), time.monotonic()
            for _ in range(messages):
                while publisher.published - publisher.acknowledged >= PUBLISH_AHEAD:
                    time.sleep(0.001)
                publisher.publish(TOPIC, payload)
            publisher.wait_acknowledged(TIMEOUT_S)
            run.publish_s = time.monotonic() - started
            run.publish_cpu_s = broker_cpu_s(broker.process.pid) - cpu
            saved = broker.data / "mosquitto.db"
            run.file_bytes = saved.stat().st_size if saved.exists() else 0

            cpu = broker_cpu_s(broker.process.pid)
            run.drain_s = subscriber.drain(messages)
            run.drain_cpu_s = broker_cpu_s(broker.process.pid) - cpu
        finally:
            watch.stop()
            publisher.close()
        if watch.saves:
            run.saves, run.longest_save_s = len(watch.saves), max(seconds for seconds, _ in watch.saves)
            seconds, written = max(watch.saves, key=lambda save: save[1])
            run.save_ms_per_mb = seconds * 1000 / (written / 1e6)
    print(f"  {name}: {messages / run.publish_s:,.0f} msg/s published ({run.publish_cpu_s:.2f} s broker CPU), "
          f"{messages / run.drain_s:,.0f} msg/s drained ({run.drain_cpu_s:.2f} s), {run.saves} saves, "
          f"longest {run.longest_save_s * 1000:.0f} ms ({run.save_ms_per_mb:.1f} ms per MB written), "
          f"file {run.file_bytes / 1e6:.0f} MB", flush=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000,
                        help="messages of 50 readings queued for the session (default 100000, about 400 MB)")
    parser.add_argument("--baseline", default="autosave_interval 60",
                        help="autosave lines of the baseline, ';'-separated (default: the old 'autosave_interval 60')")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="geohazard-bench-broker-") as workdir:
        baseline_conf = with_autosave([line.strip() for line in args.baseline.split(";")], Path(workdir))
        print(f"{args.messages:,} messages of {READINGS_PER_MESSAGE} readings, queued for an offline session")
        baseline = measure(f"baseline ({autosave_lines(baseline_conf)})", baseline_conf, args.messages)
        shipped = measure(f"shipped ({autosave_lines(MOSQUITTO_CONF)})", MOSQUITTO_CONF, args.messages)

    print(f"\n| | {baseline.name} | {shipped.name} | shipped / baseline |\n| --- | --- | --- | --- |")
    ratios = [
        ("published, msg/s", baseline.messages / baseline.publish_s, shipped.messages / shipped.publish_s, ",.0f"),
        ("broker CPU while publishing, s", baseline.publish_cpu_s, shipped.publish_cpu_s, ".2f"),
        ("drained, msg/s", baseline.messages / baseline.drain_s, shipped.messages / shipped.drain_s, ",.0f"),
        ("broker CPU while draining, s", baseline.drain_cpu_s, shipped.drain_cpu_s, ".2f"),
    ]
    for label, old, new, fmt in ratios:
        print(f"| {label} | {old:{fmt}} | {new:{fmt}} | {new / old:.2f} |")
    figures = [
        ("saves", baseline.saves, shipped.saves, "d"),
        ("longest save, ms", baseline.longest_save_s * 1000, shipped.longest_save_s * 1000, ",.0f"),
        ("largest save, ms per MB written", baseline.save_ms_per_mb, shipped.save_ms_per_mb, ".1f"),
        ("file after publishing, MB", baseline.file_bytes / 1e6, shipped.file_bytes / 1e6, ",.0f"),
    ]
    for label, old, new, fmt in figures:
        print(f"| {label} | {old:{fmt}} | {new:{fmt}} | |")
    print("\nEach save writes the whole in-memory database, and the broker serves nobody meanwhile: with Q MB "
          "queued and autosave_interval S, it spends about Q x (ms per MB) ms of every S + 1 seconds saving.")

if __name__ == "__main__":
    main()
