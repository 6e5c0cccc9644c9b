"""SPEC 3 and 8: fuzzed payloads never stop ingest, and none vanishes without a trace.

10,000 seeded random and mutated native readings messages, and 2,000 mutated universal `$dp` frames,
go through a running `geohazard ingest` on private servers. Afterwards ingest is still alive and stores
a valid message, and every payload is accounted for: either it is dead-lettered (raw bytes, topic and
a reason), or its readings are stored or quarantined and each of its bad readings is dead-lettered.

Each native payload is published on the topic of its own registered gateway, so the rows and dead
letters of every payload can be told apart; `$dp` frames carry their device id inside, so there the
rows are traced through the device ids each frame claims.
"""

import hashlib
import json
import random
import re
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from ingest.writer import KEPT_PAYLOAD_BYTES
from sensors.timestamps import format_utc
from tests.fault import IngestProcess, SessionPublisher, migrate, native_message, wait_for
from tests.servers import TempMosquitto, TempPostgres

SEED = 20260701
NATIVE_PAYLOADS = 10_000
DP_FRAMES = 2_000
TOPIC_ROOT = "geohazard/v1"
DP_TOPIC = "$dp"
POINT = "500113-HP-FUZZ"
# A registered gateway outside the fuzzed ones: its valid messages show that ingest still works.
SENTINEL = "GW-SENTINEL"
# (sensor, kind) registered on every fuzz gateway; CR-02 and RG-01 are not, so they go to quarantine.
NATIVE_SENSORS = (("CR-01", "crack"), ("GN-01", "gnss"))
DP_SENSORS = (("L1_LF_1", "crack"), ("L1_GP_1", "gnss"), ("L1_QJ_1", "tilt"), ("L3_YL_1", "rain"))
# Publishing, then storing, 10,000 payloads takes seconds; these are the bounds.
SUBSCRIBE_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 120.0
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)


def native_gateway(i: int) -> str:
    return f"GW-F{i:05d}"


def dp_device(i: int) -> str:
    return f"DP-F{i:05d}"


# --- payload generation ------------------------------------------------------------------------

class Raw(str):
    """JSON text to splice in as is (tokens json.dumps cannot write: 1e999, NaN, 10**400, deep nesting)."""


HUGE_NUMBERS = ["1e999", "-1e999", "1" + "0" * 400, "-" + "9" * 400, "9" * 5000, "1.7976931348623157e308",
                "4.9e-324", "1e-999", "18446744073709551616", "123456789012345678901234567890.5", "-0"]
NON_NUMBERS = [Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), "NaN", "nan", "Infinity", "-inf", "inf", "",
               " ", "1,2", "0x10", "12.5mm", "1e999", "--1"]
WRONG_VALUES = [None, True, False, 0, -1, 1.5, "x", "", [], {}, [1, 2], {"a": 1}, "12.5", [[]], {"value": None}]
STRANGE_STRINGS = ["\u0000", "CR\u000001", "\ud800", "CR-\udfff", "\u202eCR-01", "传感器", "😀", "' OR 1=1 --",
                   "CR-01\n", " CR-01", "%s%s%n", "\\", "\"", "CR-01" * 2]


def _dumps(obj) -> str:
    """JSON text of `obj`, with every Raw value spliced in verbatim."""
    raws: list[str] = []

    def mark(value):
        if isinstance(value, Raw):
            raws.append(value)
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(obj), separators=(",", ":"))
    for n, raw in enumerate(raws):
        text = text.replace(f'"@@raw{n}@@"', raw, 1)
    return text


def _paths(obj, prefix=()):
    """Every path (tuple of keys and indexes) to a node below `obj`."""
    children = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, child in children:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


def _parent(obj, path):
    for key in path[:-1]:
        obj = obj[key]
    return obj


def _set(obj, path, value):
    _parent(obj, path)[path[-1]] = value


def _long_string(rng: random.Random) -> str:
    # Random letters do not compress, so an index entry of this cannot be squeezed under the btree limit.
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(rng.randrange(3000, 6000)))


def _deep(rng: random.Random) -> Raw:
    depth = rng.choice([10, 100, 1000, 10_000, 100_000])
    return Raw("[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth)


def _flip_bits(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def _noise(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(data) + 1)
        op = rng.randrange(3)
        if op == 0:
            data[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4)))
        elif op == 1:
            del data[at:at + rng.randint(1, 4)]
        elif at < len(data):
            data[at] = rng.getrandbits(8)
    return bytes(data)


def _non_utf8(rng: random.Random, text: str) -> bytes:
    data = text.encode()
    choice = rng.randrange(5)
    if choice == 0:  # invalid bytes inside a string
        at = data.find(b'"', rng.randrange(len(data))) + 1 or 1
        return data[:at] + rng.choice([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                                       b"\x80"]) + data[at:]
    if choice == 1:
        return text.replace("CR-", "CR-é").encode("latin-1", errors="replace")
    if choice == 2:
        return text.encode(rng.choice(["utf-16", "utf-16-be", "utf-32"]))
    if choice == 3:
        return b"\xef\xbb\xbf" + data  # a UTF-8 byte-order mark
    return rng.choice([b"\xff\xfe", b"\xc0\xaf"]) + data


def _mutate_tree(rng: random.Random, body, mutation: str):
    """Apply a structural mutation to a JSON tree in place (the tree has at least one node below it)."""
    paths = list(_paths(body))
    if mutation == "wrong_type":
        _set(body, rng.choice(paths), rng.choice(WRONG_VALUES))
    elif mutation == "huge_number":
        numeric = [p for p in paths if isinstance(_parent(body, p)[p[-1]], (int, float))] or paths
        _set(body, rng.choice(numeric), Raw(rng.choice(HUGE_NUMBERS)))
    elif mutation == "nan":
        numeric = [p for p in paths if isinstance(_parent(body, p)[p[-1]], (int, float))] or paths
        _set(body, rng.choice(numeric), rng.choice(NON_NUMBERS))
    elif mutation == "missing_field":
        path = rng.choice([p for p in paths if isinstance(p[-1], str)])
        del _parent(body, path)[path[-1]]
    elif mutation == "deep_nesting":
        _set(body, rng.choice(paths), _deep(rng))
    elif mutation == "strange_string":
        path = rng.choice(paths)
        strange = _long_string(rng) if rng.random() < 0.3 else rng.choice(STRANGE_STRINGS)
        parent = _parent(body, path)
        if isinstance(path[-1], str) and rng.random() < 0.3:  # a strange key instead of a strange value
            parent[strange] = parent.pop(path[-1])
        else:
            parent[path[-1]] = strange
    return body


TREE_MUTATIONS = ["wrong_type", "huge_number", "nan", "missing_field", "deep_nesting", "strange_string"]
# Mutation -> weight; every kind the spec's fault list names, plus a few valid payloads.
NATIVE_MUTATIONS = {"valid": 4, "truncate": 10, "bit_flip": 12, "noise": 6, "wrong_type": 12, "huge_number": 8,
                    "nan": 8, "missing_field": 10, "wrong_gateway": 6, "non_utf8": 6, "deep_nesting": 5,
                    "strange_string": 7, "empty": 3, "random_bytes": 3}
EMPTY_PAYLOADS = [b"", b" ", b"\n", b"{}", b"[]", b"null", b"0", b'""', b"\x00", b"true", b'{"readings":[]}']


def native_base(rng: random.Random, i: int) -> dict:
    """A valid readings message of gateway i: registered, unregistered and server-timed readings."""
    readings = []
    for j in range(rng.randint(1, 5)):
        ts = format_utc(T0 + timedelta(seconds=i * 10 + j))
        shape = rng.randrange(6)
        if shape == 0:
            readings.append({"sensor": "GN-01", "ts": ts, "kind": "gnss", "e": round(rng.uniform(-50, 50), 3),
                             "n": round(rng.uniform(-50, 50), 3), "u": round(rng.uniform(-5, 5), 3)})
        elif shape == 1:
            readings.append({"sensor": "CR-02", "ts": ts, "kind": "crack", "value": round(rng.uniform(0, 30), 2)})
        elif shape == 2:
            readings.append({"sensor": "RG-01", "ts": ts, "kind": "rain", "value": round(rng.uniform(0, 5), 1),
                             "totalValue": round(rng.uniform(0, 900), 1)})
        elif shape == 3 and not any("ts" not in r for r in readings):
            readings.append({"sensor": "CR-01", "kind": "crack", "value": round(rng.uniform(0, 30), 2)})
        else:
            readings.append({"sensor": "CR-01", "ts": ts, "kind": "crack", "value": round(rng.uniform(0, 30), 2)})
    return {"gateway": native_gateway(i), "seq": i, "readings": readings}


def native_payload(rng: random.Random, i: int) -> tuple[str, bytes]:
    """The mutation applied and the payload for gateway i."""
    mutation = rng.choices(list(NATIVE_MUTATIONS), weights=list(NATIVE_MUTATIONS.values()))[0]
    body = native_base(rng, i)
    valid = _dumps(body).encode()
    if mutation == "valid":
        return mutation, valid
    if mutation == "truncate":
        return mutation, valid[:rng.randrange(len(valid))]
    if mutation == "bit_flip":
        return mutation, _flip_bits(rng, valid)
    if mutation == "noise":
        return mutation, _noise(rng, valid)
    if mutation == "wrong_gateway":
        body["gateway"] = rng.choice([native_gateway((i + 1) % NATIVE_PAYLOADS), native_gateway(i).lower(), "",
                                      native_gateway(i) + " ", None, 42, "GW-UNKNOWN"])
        return mutation, _dumps(body).encode()
    if mutation == "non_utf8":
        return mutation, _non_utf8(rng, _dumps(body))
    if mutation == "empty":
        return mutation, rng.choice(EMPTY_PAYLOADS)
    if mutation == "random_bytes":
        return mutation, bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
    return mutation, _dumps(_mutate_tree(rng, body, mutation)).encode()


def dp_frame(frame_type: int, json_bytes: bytes) -> bytes:
    return bytes([frame_type]) + len(json_bytes).to_bytes(2, "big") + json_bytes


def dp_base(rng: random.Random, i: int) -> tuple[int, dict]:
    """A valid `$dp` frame body of device i: mostly data (every value shape), some status."""
    device = dp_device(i)
    if rng.random() < 0.15:
        status = {"ext_power_volt": 12.1, "solar_volt": 18.0, "battery_dump_energy": 80, "temp": 21.5,
                  "humidity": 60, "lon": "106.52", "lat": "29.40", "signal_4g": -71, "sw_version": "1.2.3",
                  "sensor_state": {"L1_LF_1": 0, "L1_GP_1": -3}}
        return 1, {device: {"S1_ZT_1": status}}
    times = [format_utc(T0 + timedelta(seconds=i * 10 + j)) for j in range(rng.randint(1, 3))]
    sensors = {
        "L1_LF_1": {t: round(rng.uniform(0, 30), 2) for t in times},
        "L1_GP_1": {t: ",".join(f"{rng.uniform(-50, 50):.3f}" for _ in range(3)) for t in times},
        "L1_QJ_1": {t: {"X": 0.12, "Y": -0.03, "Z": 89.99, "angle": 0.124, "AZI": 271.5} for t in times},
        "L3_YL_1": {t: {"value": 0.5, "totalValue": 120.0} for t in times},
        "L9_ZZ_1": {t: 5 for t in times},  # an unknown type: kept as kind "other"
    }
    chosen = dict(rng.sample(sorted(sensors.items()), rng.randint(1, len(sensors))))
    if rng.random() < 0.2:
        chosen = {"L1_LF_1": round(rng.uniform(0, 30), 2)}  # firmware that leaves the time level out
    return 2, {device: chosen}


DP_MUTATIONS = {"valid": 4, "type_byte": 8, "length": 10, "truncate": 10, "extend": 5, "bit_flip": 12,
                "empty": 3, "non_utf8": 8, **{m: 8 for m in TREE_MUTATIONS}}


def dp_payload(rng: random.Random, i: int) -> tuple[str, bytes]:
    mutation = rng.choices(list(DP_MUTATIONS), weights=list(DP_MUTATIONS.values()))[0]
    frame_type, body = dp_base(rng, i)
    text = _dumps(body)
    valid = dp_frame(frame_type, text.encode())
    if mutation == "valid":
        return mutation, valid
    if mutation == "type_byte":
        return mutation, bytes([rng.choice([0, 1, 2, 3, 0x7B, 0xFF])]) + valid[1:]
    if mutation == "length":
        declared = (len(valid) - 3 + rng.choice([-1, 1, -100, 1000])) % 0x10000
        return mutation, valid[:1] + declared.to_bytes(2, "big") + valid[3:]
    if mutation == "truncate":
        return mutation, valid[:rng.randrange(len(valid))]
    if mutation == "extend":
        return mutation, valid + rng.choice([b"\x00", b" ", b"}", bytes(rng.getrandbits(8) for _ in range(8))])
    if mutation == "bit_flip":
        return mutation, _flip_bits(rng, valid)
    if mutation == "empty":
        return mutation, rng.choice([b"", b"\x02", b"\x02\x00", b"\x02\x00\x00", b"\x02\x00\x02{}", b"\x01\x00\x02{}",
                                     b"\x02\x00\x04null"])
    if mutation == "non_utf8":
        return mutation, dp_frame(frame_type, _non_utf8(rng, text))
    data = _dumps(_mutate_tree(rng, body, mutation)).encode()
    # Framed with its true length when it fits, so the decoder has to look inside.
    return mutation, dp_frame(frame_type, data) if len(data) <= 0xFFFF else valid[:3] + data


def generate(count: int, make) -> list[tuple[str, bytes]]:
    rng = random.Random(SEED)
    return [make(rng, i) for i in range(count)]


# --- what ingest should have done with a payload ---------------------------------------------------

def native_items(payload: bytes, gateway: str) -> list | None:
    """The reading items of a payload that is a well-formed readings message of `gateway`; else None."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get("gateway") != gateway or not isinstance(body.get("readings"), list):
        return None
    return body["readings"]


def item_key(item) -> tuple[str, str, object]:
    """(table, sensor, time or 'server') an accepted item must have produced."""
    kind, sensor = item["kind"], item["sensor"]
    ts = item.get("ts")
    at = "server" if ts is None else datetime.fromisoformat(ts).astimezone(timezone.utc)
    return ("reading" if (sensor, kind) in NATIVE_SENSORS else "quarantine"), sensor, at


def dp_claimed_devices(frame: bytes) -> tuple[int | None, set[str]]:
    """The frame type and the device ids a frame speaks for, as far as it can be read."""
    if len(frame) < 3 or int.from_bytes(frame[1:3], "big") != len(frame) - 3:
        return None, set()
    try:
        body = json.loads(frame[3:].decode("utf-8"))
    except (ValueError, RecursionError):
        return None, set()
    return frame[0], set(body) if isinstance(body, dict) else set()


# --- the running ingest ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def postgres():
    with TempPostgres() as pg:
        yield pg


class FuzzRun:
    """A fresh database with the fuzz registry, a private broker and a running ingest."""

    def __init__(self, postgres, mosquitto, tmp_path):
        self.url = postgres.url(f"fuzz_{uuid.uuid4().hex[:10]}")
        migrate(self.url)
        self._register()
        self.ingest = IngestProcess(tmp_path / "ingest.log", database_url=self.url, mqtt_url=mosquitto.url,
                                    topic_root=TOPIC_ROOT, client_id=f"ingest-{uuid.uuid4().hex[:8]}")
        self.publisher = SessionPublisher(mosquitto.port, f"fuzzer-{uuid.uuid4().hex[:8]}")
        self._sentinels = 0
        self._published: dict[bytes, bytes] = {}  # SHA-256 -> payload of what publish_all sent

    def _register(self) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute("INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code) "
                         "VALUES (%s, 'fuzz slope', 'landslide', 'medium', 106.52, 29.40, '500113')", (POINT,))
            with conn.cursor() as cur:
                devices = [(native_gateway(i), "native") for i in range(NATIVE_PAYLOADS)] + [(SENTINEL, "native")]
                devices += [(dp_device(i), "universal") for i in range(DP_FRAMES)]
                with cur.copy("COPY device (id, hazard_point, protocol) FROM STDIN") as copy:
                    for device, protocol in devices:
                        copy.write_row((device, POINT, protocol))
                with cur.copy("COPY sensor (device_id, code, kind, hazard_point) FROM STDIN") as copy:
                    for device, protocol in devices:
                        for code, kind in NATIVE_SENSORS if protocol == "native" else DP_SENSORS:
                            copy.write_row((device, code, kind, POINT))

    def stored(self, device: str) -> int:
        with psycopg.connect(self.url) as conn:
            return conn.execute("SELECT count(*) FROM reading WHERE device_id = %s", (device,)).fetchone()[0]

    def store_valid(self, timeout_s: float) -> None:
        """Publish valid native messages until one is stored: ingest is subscribed and taking messages."""
        self._sentinels += 1
        ts = T0 - timedelta(hours=self._sentinels)
        message = native_message(SENTINEL, [{"sensor": "CR-01", "ts": format_utc(ts), "kind": "crack", "value": 1.0}])
        topic = f"{TOPIC_ROOT}/gateways/{SENTINEL}/readings"

        def stored():
            self.publisher.publish(topic, message)
            with psycopg.connect(self.url) as conn:
                return conn.execute("SELECT 1 FROM reading WHERE device_id = %s AND ts = %s", (SENTINEL, ts)).fetchone()

        wait_for(stored, what="a valid message stored", timeout_s=timeout_s, ingest=self.ingest)

    def publish_all(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish (topic, payload) pairs, QoS 1, and wait for every PUBACK."""
        self._published.update((hashlib.sha256(payload).digest(), payload) for _, payload in messages)
        for i, (topic, payload) in enumerate(messages):
            self.publisher.publish(topic, payload)
            assert i % 1000 or self.ingest.alive, f"ingest died after {i} payloads\n{self.ingest.evidence()}"
        self.publisher.wait_acknowledged(DRAIN_TIMEOUT_S)

    def outcomes(self, topic_filter: str):
        """Dead letters (topic -> [(payload, reason)]) and stored or quarantined rows per device.

        A dead letter keeps only the beginning of a long payload (or none, past its message's first letters), with
        the whole payload's size and hash: such a payload is given back here as the whole one if what was kept of
        it agrees, else as what was kept."""
        with psycopg.connect(self.url) as conn:
            letters = defaultdict(list)
            for topic, kept, size, sha256, reason in conn.execute(
                    "SELECT topic, payload, payload_bytes, payload_sha256, reason FROM dead_letter WHERE topic LIKE %s",
                    (topic_filter,)):
                kept = bytes(kept)
                whole = self._published.get(bytes(sha256), kept)
                agrees = len(whole) == size and kept in (whole[:KEPT_PAYLOAD_BYTES], b"")
                letters[topic].append((whole if agrees else kept, reason))
            rows = defaultdict(set)
            for table in ("reading", "quarantine"):
                for device, sensor, ts, server_timed in conn.execute(
                        f"SELECT device_id, sensor_code, ts, server_timed FROM {table}"):
                    rows[device].add((table, sensor, "server" if server_timed else ts))
        return letters, rows


@pytest.fixture
def fuzz_run(postgres, tmp_path):
    with TempMosquitto() as mosquitto:
        run = FuzzRun(postgres, mosquitto, tmp_path)
        with run.ingest:
            run.store_valid(SUBSCRIBE_TIMEOUT_S)
            yield run
        run.publisher.close()


def test_fuzzed_native_messages_never_stop_ingest_and_each_is_stored_or_dead_lettered(fuzz_run):
    payloads = generate(NATIVE_PAYLOADS, native_payload)
    topics = [f"{TOPIC_ROOT}/gateways/{native_gateway(i)}/readings" for i in range(NATIVE_PAYLOADS)]
    fuzz_run.publish_all([(topic, payload) for topic, (_, payload) in zip(topics, payloads)])
    fuzz_run.store_valid(DRAIN_TIMEOUT_S)

    letters, rows = fuzz_run.outcomes(f"{TOPIC_ROOT}/gateways/GW-F%/readings")
    problems, outcome = [], Counter()
    for i, ((mutation, payload), topic) in enumerate(zip(payloads, topics)):
        gateway = native_gateway(i)
        mine = letters.pop(topic, [])
        if any(p != payload or not r.strip() for p, r in mine):
            problems.append(f"{i} ({mutation}): a dead letter without the payload's bytes or a reason: {mine!r:.300}")
        item_letters = {int(m[1]) for _, r in mine if (m := re.match(r"readings\[(\d+)\]", r))}
        whole = len(mine) > len(item_letters)
        items = native_items(payload, gateway)
        stored = rows.pop(gateway, set())
        if whole:
            outcome["dead-lettered whole"] += 1
            continue
        if items is None:
            problems.append(f"{i} ({mutation}): not a readings message of {gateway} but not dead-lettered "
                            f"(stored {len(stored)}): {payload[:200]!r}")
            continue
        if not items:
            problems.append(f"{i} ({mutation}): no readings and no dead letter: {payload[:200]!r}")
            continue
        try:
            expected = {item_key(item) for n, item in enumerate(items) if n not in item_letters}
        except (KeyError, TypeError, ValueError, AttributeError):
            problems.append(f"{i} ({mutation}): a reading that should have been dead-lettered was taken: "
                            f"{payload[:300]!r}")
            continue
        if stored != expected:
            problems.append(f"{i} ({mutation}): stored {sorted(map(str, stored - expected))[:3]} beyond, and lacks "
                            f"{sorted(map(str, expected - stored))[:3]}, what its readings say: {payload[:300]!r}")
            continue
        outcome["stored, bad readings dead-lettered" if item_letters else "stored"] += 1
    rows.pop(SENTINEL, None)
    problems += [f"dead letters on {t} matching no payload" for t in letters]
    problems += [f"rows of device {d} matching no payload" for d in rows]
    print(f"{NATIVE_PAYLOADS} native payloads ({dict(Counter(m for m, _ in payloads))}): {dict(outcome)}")
    assert fuzz_run.ingest.alive, fuzz_run.ingest.evidence()
    assert not problems, f"{len(problems)} payloads unaccounted for:\n" + "\n".join(problems[:30])


def test_fuzzed_universal_frames_never_stop_ingest_and_each_is_stored_or_dead_lettered(fuzz_run):
    valid = dp_frame(2, json.dumps({dp_device(0): {"L1_LF_1": {format_utc(T0 - timedelta(hours=5)): 1.0}}}).encode())
    fuzz_run.publisher.publish(DP_TOPIC, valid)
    try:
        wait_for(lambda: fuzz_run.stored(dp_device(0)), what="a valid $dp frame stored", timeout_s=10,
                 ingest=fuzz_run.ingest)
    except AssertionError:
        if not fuzz_run.ingest.alive:
            raise
        letters, _ = fuzz_run.outcomes(DP_TOPIC)
        assert not letters, f"a valid $dp frame was dead-lettered: {letters[DP_TOPIC][0][1]}"
        pytest.xfail("universal protocol not wired into ingest yet")

    frames = generate(DP_FRAMES, dp_payload)
    fuzz_run.publish_all([(DP_TOPIC, frame) for _, frame in frames])
    fuzz_run.store_valid(DRAIN_TIMEOUT_S)

    letters, rows = fuzz_run.outcomes(DP_TOPIC)
    lettered = Counter(payload for payload, _ in letters.get(DP_TOPIC, []))
    problems, outcome = [], Counter()
    for payload, reason in letters.get(DP_TOPIC, []):
        if not reason.strip():
            problems.append(f"a dead letter without a reason: {payload[:200]!r}")
    published = {payload for _, payload in frames} | {valid}
    problems += [f"a dead letter matching no frame: {p[:100]!r}" for p in lettered if p not in published]
    for i, (mutation, frame) in enumerate(frames):
        frame_type, devices = dp_claimed_devices(frame)
        if lettered[frame]:
            lettered[frame] -= 1  # identical frames need a dead letter each
            outcome["dead-lettered (whole or in part)"] += 1
        elif any(rows.get(d) for d in devices):
            outcome["stored"] += 1
        elif frame_type == 1 and devices:
            outcome["status frame taken"] += 1  # a status frame updates the device, not the readings
        else:
            problems.append(f"{i} ({mutation}): neither stored nor dead-lettered: {frame[:200]!r}")
    print(f"{DP_FRAMES} $dp frames ({dict(Counter(m for m, _ in frames))}): {dict(outcome)}")
    assert fuzz_run.ingest.alive, fuzz_run.ingest.evidence()
    assert not problems, f"{len(problems)} frames unaccounted for:\n" + "\n".join(problems[:30])
