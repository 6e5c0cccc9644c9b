"""The alert channels of SPEC 4.4 against a real database: signed webhooks with retries and a delivery log,
CAP 1.2 XML validated against the OASIS schema, and the server-sent-events stream. Every HTTP peer is on
127.0.0.1, and every wait is bounded."""

import asyncio
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET

import asyncpg
import psycopg
import pytest
from fastapi.testclient import TestClient

from alerting.channels import stream
from alerting.channels.cap import CAP_NS, alert_to_cap
from alerting.channels.webhooks import GIVE_UP_AFTER, WebhookDispatcher, sign, verify_signature
from service.app import create_app
from service.auth import create_token
from tests.support import WAIT_S, running, wait_until

CAP_SCHEMA = Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd"
SECRET = "s3cret-of-the-county-bureau"
POINT = "500113-HP-0042"
CARD = {"warning_signal": "鸣锣、敲盆", "signal_giver": "张三", "evacuation_route": "沿村道向东撤离至村委会",
        "shelter": "村委会广场", "contacts": [{"name": "张三", "phone": "13800000000"}]}
T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


# --- the database's side -------------------------------------------------------------------------


@pytest.fixture
def point(db):
    db.execute(
        "INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, card)"
        " VALUES (%s, '黄桷垭', 'landslide', 'medium', 106.52, 29.40, '500113', %s)",
        (POINT, json.dumps(CARD)))
    return POINT


def insert_alert(db, *, level="yellow", state="open", verdict=None, type="deformation") -> int:
    return db.execute(
        "INSERT INTO alert (hazard_point, type, level, state, verdict, reasons, evidence, rule_version, raised_at,"
        " updated_at, resolved_at) VALUES (%s, %s, %s, %s, %s, %s, '{\"v_mm_per_day\": 3.0}', 'r1', %s, %s, %s)"
        " RETURNING id",
        (POINT, type, level, state, verdict, json.dumps(["切线角 56.3° > 50°", "位移 101.0 mm (yellow)"]), T0, T0,
         T0 + timedelta(hours=30) if state == "resolved" else None),
    ).fetchone()[0]


def insert_event(db, alert_id, kind="raised", *, from_level=None, to_level="yellow", at=T0) -> int:
    return db.execute(
        "INSERT INTO alert_event (alert_id, at, kind, from_level, to_level, actor)"
        " VALUES (%s, %s, %s, %s, %s, 'engine') RETURNING id", (alert_id, at, kind, from_level, to_level)).fetchone()[0]


def insert_webhook(db, url, *, min_level="blue") -> int:
    return db.execute("INSERT INTO webhook (url, secret, min_level) VALUES (%s, %s, %s) RETURNING id",
                      (url, SECRET, min_level)).fetchone()[0]


def terminate_listeners(db) -> int:
    """Kill this database's backends whose last query was LISTEN (the listeners), as a network failure would."""
    return len(rows(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND query LIKE 'LISTEN %%'"))


def rows(db, query, *params):
    return db.execute(query, params).fetchall()


async def deliver(database_url, dispatcher, now):
    """One deliver_pending step on a connection of its own."""
    conn = await asyncpg.connect(database_url)
    try:
        return await dispatcher.deliver_pending(conn, now)
    finally:
        await conn.close()
        await dispatcher.aclose()


# --- a webhook receiver on a free loopback port ----------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool


class Receiver:
    """Checks each POST's signature independently, answers 500 to the first `fail_first`, and with `stall`
    holds every answer until `release()`."""

    def __init__(self, *, fail_first: int = 0, stall: bool = False):
        self.requests: list[Received] = []
        self.fail_first = fail_first
        self._released = threading.Event()
        if not stall:
            self._released.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-Geohazard-Timestamp"]
                expected = "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                valid = (hmac.compare_digest(expected, self.headers["X-Geohazard-Signature"])
                         and abs(time.time() - int(timestamp)) < 300)
                receiver.requests.append(Received(dict(self.headers), body, valid))
                receiver._released.wait(WAIT_S)
                failing = len(receiver.requests) <= receiver.fail_first
                self.send_response(500 if failing else 200)
                reply = b"receiver down for maintenance" if failing else b"ok"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/geohazard"

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


# --- webhooks ------------------------------------------------------------------------------------


def test_committing_an_alert_event_notifies_its_id_on_the_alert_event_channel(database_url, db, point):
    alert_id = insert_alert(db)
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN alert_event")
        with db.transaction():
            insert_event(db, alert_id, "escalated", to_level=None)
            raise psycopg.Rollback()
        event_id = insert_event(db, alert_id)
        notified = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert notified == [str(event_id)]  # the rolled-back event was never announced


def test_a_committed_alert_event_is_posted_to_the_webhook_signed_with_its_secret(settings, db, point, receivers):
    receiver = receivers()
    webhook_id = insert_webhook(db, receiver.url)
    with running(WebhookDispatcher(settings).run):
        alert_id = insert_alert(db, level="orange")
        event_id = insert_event(db, alert_id, to_level="orange")
        wait_until(lambda: receiver.requests, what="the webhook POST")
        wait_until(lambda: rows(db, "SELECT state FROM webhook_delivery") == [("delivered",)],
                   what="the delivery recorded")

    [request] = receiver.requests
    assert request.signature_valid
    assert request.headers["X-Geohazard-Event-Id"] == str(event_id)
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["event"] == {"id": event_id, "alert_id": alert_id, "kind": "raised", "from_level": None,
                             "to_level": "orange", "actor": "engine", "at": "2026-07-01T08:00:00+00:00", "note": None}
    assert body["alert"] == {"id": alert_id, "point": POINT, "type": "deformation", "level": "orange", "state": "open",
                             "reasons": ["切线角 56.3° > 50°", "位移 101.0 mm (yellow)"],
                             "evidence": {"v_mm_per_day": 3.0}, "raised_at": "2026-07-01T08:00:00+00:00",
                             "updated_at": "2026-07-01T08:00:00+00:00", "rule_version": "r1"}
    assert rows(db, "SELECT webhook_id, alert_event_id, attempts, status_code, error FROM webhook_delivery") == [
        (webhook_id, event_id, 1, 200, None)]


def test_the_dispatcher_listens_again_after_losing_its_connection(settings, db, point, receivers):
    receiver = receivers()
    insert_webhook(db, receiver.url)
    alert_id = insert_alert(db)
    with running(WebhookDispatcher(settings).run):
        insert_event(db, alert_id)
        wait_until(lambda: len(receiver.requests) == 1, what="the first POST")
        assert terminate_listeners(db) == 1
        insert_event(db, alert_id, "acknowledged", to_level=None)
        wait_until(lambda: len(receiver.requests) == 2, what="the POST after the connection was lost")
    assert json.loads(receiver.requests[1].body)["event"]["kind"] == "acknowledged"


def test_a_failing_webhook_is_retried_with_doubling_backoff_and_every_attempt_is_logged(
        settings, db, point, receivers):
    receiver = receivers(fail_first=2)
    insert_webhook(db, receiver.url)
    event_id = insert_event(db, insert_alert(db))
    now = datetime.now(UTC)

    async def scenario():
        dispatcher = WebhookDispatcher(settings)
        first = await deliver(settings.database_url, dispatcher, now)
        too_early = await deliver(settings.database_url, dispatcher, now + timedelta(seconds=9))
        second = await deliver(settings.database_url, dispatcher, now + timedelta(seconds=10))
        third = await deliver(settings.database_url, dispatcher, now + timedelta(seconds=30))
        return first, too_early, second, third

    first, too_early, second, third = asyncio.run(scenario())
    assert [(a.attempt, a.state, a.next_attempt_at) for a in first] == [(1, "pending", now + timedelta(seconds=10))]
    assert too_early == []
    assert [(a.attempt, a.state, a.next_attempt_at) for a in second] == [(2, "pending", now + timedelta(seconds=30))]
    assert [(a.attempt, a.state) for a in third] == [(3, "delivered")]
    assert len(receiver.requests) == 3
    assert {r.headers["X-Geohazard-Event-Id"] for r in receiver.requests} == {str(event_id)}
    assert [r.headers["X-Geohazard-Delivery-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    log = rows(db, "SELECT attempt, started_at, status_code, error FROM webhook_delivery_attempt ORDER BY attempt")
    assert log == [
        (1, now, 500, "HTTP 500: receiver down for maintenance"),
        (2, now + timedelta(seconds=10), 500, "HTTP 500: receiver down for maintenance"),
        (3, now + timedelta(seconds=30), 200, None),
    ]
    assert rows(db, "SELECT state, attempts, delivered_at, next_attempt_at FROM webhook_delivery") == [
        ("delivered", 3, now + timedelta(seconds=30), None)]


def test_a_delivery_is_given_up_24_hours_after_its_event(settings, db, point, receivers):
    receiver = receivers(fail_first=1000)
    insert_webhook(db, receiver.url)
    insert_event(db, insert_alert(db))
    [(queued_at,)] = rows(db, "SELECT created_at FROM webhook_delivery")

    almost_a_day_later = queued_at + GIVE_UP_AFTER - timedelta(seconds=5)
    [attempt] = asyncio.run(deliver(settings.database_url, WebhookDispatcher(settings), almost_a_day_later))

    assert (attempt.state, attempt.next_attempt_at) == ("failed", None)
    assert rows(db, "SELECT state, next_attempt_at FROM webhook_delivery") == [("failed", None)]
    later = asyncio.run(deliver(settings.database_url, WebhookDispatcher(settings), queued_at + 2 * GIVE_UP_AFTER))
    assert later == []


def test_a_slow_webhook_does_not_delay_another(settings, db, point, receivers):
    slow, fast = receivers(stall=True), receivers()
    slow_id, fast_id = insert_webhook(db, slow.url), insert_webhook(db, fast.url)
    insert_event(db, insert_alert(db))

    def state_of(webhook_id):
        return rows(db, "SELECT state FROM webhook_delivery WHERE webhook_id = %s", webhook_id)[0][0]

    async def scenario():
        step = asyncio.create_task(deliver(settings.database_url, WebhookDispatcher(settings), datetime.now(UTC)))
        deadline = time.monotonic() + WAIT_S
        while state_of(fast_id) != "delivered" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # The slow receiver has the request and has not answered, yet the fast one is done and recorded.
        observed = (state_of(fast_id), len(slow.requests), step.done())
        slow.release()
        return observed, await asyncio.wait_for(step, WAIT_S)

    (fast_state, slow_requests, step_done), attempts = asyncio.run(scenario())
    assert (fast_state, slow_requests, step_done) == ("delivered", 1, False)
    assert sorted((a.webhook_id, a.state) for a in attempts) == sorted([(slow_id, "delivered"), (fast_id, "delivered")])


def test_a_receiver_that_does_not_answer_is_cut_off_at_the_timeout_and_retried(settings, db, point, receivers):
    receiver = receivers(stall=True)
    insert_webhook(db, receiver.url)
    insert_event(db, insert_alert(db))
    now = datetime.now(UTC)

    [attempt] = asyncio.run(deliver(settings.database_url, WebhookDispatcher(settings, request_timeout_s=0.5), now))

    assert (attempt.status_code, attempt.error) == (None, "no answer within 0.5 s")
    assert (attempt.state, attempt.next_attempt_at) == ("pending", now + timedelta(seconds=10))
    assert attempt.duration_ms < 5000


def test_a_webhook_gets_only_events_at_or_above_its_min_level(db, point):
    orange_only = insert_webhook(db, "http://127.0.0.1:9/orange", min_level="orange")
    everything = insert_webhook(db, "http://127.0.0.1:9/all")
    alert_id = insert_alert(db)
    yellow = insert_event(db, alert_id, to_level="yellow")
    db.execute("UPDATE alert SET level = 'red' WHERE id = %s", (alert_id,))
    red = insert_event(db, alert_id, "level_raised", from_level="yellow", to_level="red")

    queued = rows(db, "SELECT webhook_id, alert_event_id FROM webhook_delivery ORDER BY webhook_id, alert_event_id")
    assert queued == [(orange_only, red), (everything, yellow), (everything, red)]


def test_verify_signature_refuses_a_timestamp_older_than_five_minutes():
    body, sent = b'{"event": {}}', "1782892800"
    signature = sign(SECRET, sent, body)
    assert verify_signature(SECRET, timestamp=sent, body=body, signature=signature, now_s=1782892800 + 60)
    assert not verify_signature(SECRET, timestamp=sent, body=body, signature=signature, now_s=1782892800 + 301)
    assert not verify_signature("another-secret-entirely", timestamp=sent, body=body, signature=signature,
                                now_s=1782892800)


# --- CAP -----------------------------------------------------------------------------------------


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def viewer(db):
    return {"Authorization": f"Bearer {create_token(db, name='console', role='viewer')}"}


def cap_fields(xml: bytes) -> dict[str, str]:
    """Every CAP element with text, by local name (the first of each)."""
    found = {}
    for element in ET.fromstring(xml).iter():
        name = element.tag.removeprefix(f"{{{CAP_NS}}}")
        if element.text and element.text.strip() and name not in found:
            found[name] = element.text
    return found


CAP_CASES = {
    "raised": dict(state="open", events=[("raised", None, "orange")]),
    "raised-then-red": dict(state="open", events=[("raised", None, "orange"), ("level_raised", "orange", "red")]),
    "resolved": dict(state="resolved", events=[("raised", None, "orange"), ("resolved", "orange", None)]),
}


@pytest.mark.parametrize("case", CAP_CASES, ids=list(CAP_CASES))
def test_alert_cap_is_valid_cap_1_2_by_the_oasis_schema(client, viewer, db, point, case):
    xmlschema = pytest.importorskip("xmlschema", reason="validating CAP needs xmlschema (the test extra)")
    alert_id = insert_alert(db, level="orange", state=CAP_CASES[case]["state"])
    for kind, from_level, to_level in CAP_CASES[case]["events"]:
        insert_event(db, alert_id, kind, from_level=from_level, to_level=to_level)

    response = client.get(f"/api/v1/alerts/{alert_id}/cap", headers=viewer)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/cap+xml"
    xmlschema.XMLSchema(CAP_SCHEMA).validate(response.content)  # raises, naming the element, when invalid
    assert cap_fields(response.content)["msgType"] == {"raised": "Alert", "raised-then-red": "Update",
                                                       "resolved": "Cancel"}[case]


@pytest.mark.parametrize(
    ("level", "urgency", "severity", "certainty", "response_type"),
    [
        ("red", "Immediate", "Extreme", "Likely", "Evacuate"),
        ("orange", "Expected", "Severe", "Likely", "Prepare"),
        ("yellow", "Future", "Moderate", "Possible", "Monitor"),
        ("blue", "Future", "Minor", "Possible", "Monitor"),
    ],
)
def test_cap_urgency_severity_and_certainty_follow_the_warning_level(level, urgency, severity, certainty,
                                                                       response_type):
    alert = {"id": 7, "type": "deformation", "level": level, "state": "open", "reasons": ["切线角 86.2°"],
             "raised_at": T0, "updated_at": T0}
    point = {"code": POINT, "name": "黄桷垭", "type": "landslide", "scale": "medium", "lon": 106.52, "lat": 29.4,
             "county_code": "500113", "card": {}}

    fields = cap_fields(alert_to_cap(alert, point, sender="geohazard@example.org"))

    assert (fields["urgency"], fields["severity"], fields["certainty"], fields["responseType"]) == (
        urgency, severity, certainty, response_type)


def test_cap_of_a_raised_alert_describes_the_point_its_area_and_reasons(client, viewer, db, point):
    alert_id = insert_alert(db, level="red")
    insert_event(db, alert_id, to_level="red")

    xml = client.get(f"/api/v1/alerts/{alert_id}/cap", headers=viewer).content
    fields = cap_fields(xml)

    assert {k: fields[k] for k in ("identifier", "sender", "sent", "status", "msgType", "scope", "language",
                                   "category", "event", "areaDesc", "circle")} == {
        "identifier": f"geohazard-alert-{alert_id}", "sender": "geohazard@testserver",
        "sent": "2026-07-01T16:00:00+08:00", "status": "Actual", "msgType": "Alert", "scope": "Public",
        "language": "zh-CN", "category": "Geo", "event": "地质灾害 滑坡 (landslide)",
        "areaDesc": f"黄桷垭（{POINT}）", "circle": "29.400000,106.520000 1"}
    assert fields["headline"] == "黄桷垭滑坡变形红色预警（I级，警报级）"
    assert fields["description"] == "切线角 56.3° > 50°\n位移 101.0 mm (yellow)"
    geocode = ET.fromstring(xml).find(f".//{{{CAP_NS}}}geocode")
    assert [child.text for child in geocode] == ["GB/T 2260", "500113"]


def test_cap_instruction_comes_from_the_disaster_avoidance_card(client, viewer, db, point):
    alert_id = insert_alert(db)

    fields = cap_fields(client.get(f"/api/v1/alerts/{alert_id}/cap", headers=viewer).content)

    assert fields["instruction"] == ("预警信号：鸣锣、敲盆\n信号发布人：张三\n撤离路线：沿村道向东撤离至村委会\n"
                                     "避险场所：村委会广场\n联系人：张三 13800000000")


def test_cap_of_a_resolved_alert_is_a_cancel_referencing_the_first_message(client, viewer, db, point):
    alert_id = insert_alert(db, level="orange", state="resolved", verdict="false_alarm")
    insert_event(db, alert_id, to_level="orange")
    resolved = insert_event(db, alert_id, "resolved", from_level="orange", to_level=None, at=T0 + timedelta(hours=30))

    fields = cap_fields(client.get(f"/api/v1/alerts/{alert_id}/cap", headers=viewer).content)

    assert (fields["msgType"], fields["identifier"], fields["sent"]) == (
        "Cancel", f"geohazard-alert-{alert_id}-{resolved}", "2026-07-02T22:00:00+08:00")
    assert fields["references"] == f"geohazard@testserver,geohazard-alert-{alert_id},2026-07-01T16:00:00+08:00"
    assert (fields["urgency"], fields["certainty"], fields["responseType"]) == ("Past", "Unlikely", "AllClear")
    assert fields["note"] == "核实为误报，预警撤销"


def test_cap_of_an_unknown_alert_is_404_naming_it(client, viewer):
    response = client.get("/api/v1/alerts/7/cap", headers=viewer)
    assert response.status_code == 404
    assert response.json() == {"detail": "Alert 7 not found"}


# --- server-sent events --------------------------------------------------------------------------


@pytest.fixture
def quick_heartbeat(monkeypatch):
    """Heartbeats every 0.2 s, so a reader always gets a line soon and every wait below stays bounded."""
    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.2)


def read_events(lines, count: int) -> list[tuple[int, dict]]:
    """The next `count` server-sent events (id, data), skipping comments; fails after WAIT_S."""
    deadline, events, fields = time.monotonic() + WAIT_S, [], {}
    for line in lines:
        if line.startswith("id: "):
            fields["id"] = int(line.removeprefix("id: "))
        elif line.startswith("data: "):
            fields["data"] = json.loads(line.removeprefix("data: "))
        elif line == "" and "data" in fields:
            events.append((fields["id"], fields["data"]))
            fields = {}
            if len(events) == count:
                return events
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"timed out after {WAIT_S}s waiting for {count} events; got {events}")


def test_alert_stream_sends_an_event_committed_after_the_client_connected(client, viewer, db, point, quick_heartbeat):
    alert_id = insert_alert(db, level="orange")
    insert_event(db, alert_id, to_level="orange")  # before the client: not sent without Last-Event-ID

    with client.stream("GET", "/api/v1/alerts/stream", headers=viewer) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "retry: 5000"  # the stream is live from here on
        acknowledged = insert_event(db, alert_id, "acknowledged", to_level=None)
        [(event_id, data)] = read_events(lines, 1)

    assert event_id == acknowledged
    assert data["event"]["kind"] == "acknowledged"
    assert (data["alert"]["id"], data["alert"]["level"]) == (alert_id, "orange")


def test_alert_stream_resends_the_events_after_last_event_id(client, viewer, db, point, quick_heartbeat):
    alert_id = insert_alert(db)
    seen, missed_1, missed_2 = (insert_event(db, alert_id, kind) for kind in ("raised", "acknowledged", "escalated"))

    with client.stream("GET", "/api/v1/alerts/stream", headers={**viewer, "Last-Event-ID": str(seen)}) as response:
        lines = response.iter_lines()
        caught_up = read_events(lines, 2)
        live = insert_event(db, alert_id, "verified", to_level=None)
        [(live_id, _)] = read_events(lines, 1)

    assert [(event_id, data["event"]["kind"]) for event_id, data in caught_up] == [
        (missed_1, "acknowledged"), (missed_2, "escalated")]
    assert live_id == live


def test_alert_stream_sends_a_heartbeat_comment_while_idle(client, viewer, quick_heartbeat):
    with client.stream("GET", "/api/v1/alerts/stream", headers=viewer) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 5000"
        following = [next(lines) for _ in range(5)]  # bounded: a heartbeat comes every 0.2 s
    assert [line for line in following if line] == [": heartbeat", ": heartbeat"]


def test_alert_stream_ends_when_its_listen_connection_is_lost_so_the_client_reconnects(
        client, viewer, db, point, quick_heartbeat):
    with client.stream("GET", "/api/v1/alerts/stream", headers=viewer) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 5000"
        assert terminate_listeners(db) == 1
        rest = [line for line, _ in zip(lines, range(1000))]  # ends with the stream; bounded regardless
    assert len(rest) < 1000 and set(rest) <= {"", ": heartbeat"}
    # The next client gets a fresh LISTEN connection.
    alert_id = insert_alert(db)
    with client.stream("GET", "/api/v1/alerts/stream", headers=viewer) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 5000"
        raised = insert_event(db, alert_id)
        assert read_events(lines, 1)[0][0] == raised


def test_alert_stream_needs_a_bearer_token(client):
    response = client.get("/api/v1/alerts/stream")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
