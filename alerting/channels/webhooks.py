"""HTTP webhooks: each alert event POSTed to every matching active webhook, signed, retried with backoff, logged.

What a receiver gets, for one alert event (`notifications`: `{"event": {...}, "alert": {...}}`, UTF-8 JSON):

    POST <webhook url>
    Content-Type: application/json
    X-Geohazard-Event-Id: <alert event id>        the same on every retry: deduplicate on it
    X-Geohazard-Timestamp: <unix seconds>         when this attempt was sent
    X-Geohazard-Signature: sha256=<hex>           HMAC-SHA256, keyed with the webhook's secret, of
                                                  "<X-Geohazard-Timestamp>." followed by the raw body
    X-Geohazard-Delivery-Attempt: <1, 2, ...>

The receiver recomputes the HMAC over the timestamp header, a full stop and the body bytes exactly as
received, compares it in constant time (`verify_signature` does both checks), and refuses a timestamp more
than 5 minutes from its own clock. Because the timestamp is signed, a captured request can neither be
replayed later nor be given a fresh timestamp without the secret. Any 2xx answer is success; anything
else, a timeout or a refused connection is retried after 10 s, doubling up to 1 h between attempts, until
24 h after the event; then the delivery is `failed`. Deliveries of one webhook go out one at a time in
event order, each webhook on its own, so a slow or dead receiver delays nobody else; retries may still
reorder events, so order by event id (the alert part is always the alert's latest state).

`webhook_delivery` holds each (webhook, event) with its state, `webhook_delivery_attempt` every attempt.
"""

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

import asyncpg
import httpx

from alerting.channels.notifications import CHANNEL, Q, Listener, listen, notifications_by_id, unlisten
from runtime.settings import Settings

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Geohazard-Event-Id"
TIMESTAMP_HEADER = "X-Geohazard-Timestamp"
SIGNATURE_HEADER = "X-Geohazard-Signature"
ATTEMPT_HEADER = "X-Geohazard-Delivery-Attempt"

# A receiver has this long to answer one attempt, all of it (connecting, sending, the answer's headers):
# long enough for a loaded server across the country, short enough that a hung one costs little.
REQUEST_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
# Backoff: 10 s after the first failure, doubling, at most 1 h apart, for 24 h after the event (a
# receiver down over a night and a morning still gets everything; about 30 attempts in all).
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
# Each webhook gets at most this many deliveries per claim, sent one after the other; the claim is a
# lease long enough for all of them to time out, so a dispatcher that dies mid-way leaves them to retry.
PER_WEBHOOK_BATCH = 10
LEASE_MARGIN = timedelta(seconds=60)
# Retries come due with time, and a NOTIFY is lost while the LISTEN connection is being replaced.
POLL_INTERVAL_S = 5.0
# The LISTEN connection, a claim, and the lanes' records of their attempts, which are brief.
DISPATCHER_POOL_SIZE = 4
# What is kept of a failing answer's body in the log: enough to read the receiver's complaint.
ERROR_EXCERPT_BYTES = 200
SIGNATURE_TOLERANCE_S = 300
SECRET_BYTES = 32

Record = Callable[..., Awaitable[object]]
Clock = Callable[[], datetime]
# One webhook's claimed deliveries in event order, and the bodies of their events by event id.
Lane = tuple[list[asyncpg.Record], dict[int, bytes]]


def _user_agent() -> str:
    try:
        return f"geohazard-webhooks/{version('geohazard')}"
    except PackageNotFoundError:
        return "geohazard-webhooks"


USER_AGENT = _user_agent()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Geohazard-Signature value of this body sent at this timestamp."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, *, timestamp: str, body: bytes, signature: str, now_s: float | None = None,
                     tolerance_s: float = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver checks: the signature matches and the timestamp is within the tolerance of its clock."""
    try:
        sent_s = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now_s is None else now_s) - sent_s) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), MAX_RETRY)


async def create_webhook(conn: asyncpg.Connection, *, url: str, secret: str | None = None, min_level: str = "blue",
                         types: Sequence[str] | None = None, county_codes: Sequence[str] | None = None,
                         kinds: Sequence[str] | None = None, description: str | None = None) -> tuple[int, str]:
    """Register a webhook; returns its id and its secret (generated when not given: show it once)."""
    secret = secret or secrets.token_urlsafe(SECRET_BYTES)
    webhook_id = await conn.fetchval(Q["create_webhook"], url, secret, min_level, types, county_codes, kinds,
                                     description)
    return webhook_id, secret


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver one event to one webhook, as logged."""

    delivery_id: int
    webhook_id: int
    event_id: int
    attempt: int
    status_code: int | None
    error: str | None
    state: str  # delivered | pending (retried at next_attempt_at) | failed (given up)
    next_attempt_at: datetime | None
    duration_ms: float


class WebhookDispatcher:
    """Posts queued webhook deliveries: `run(stop)` as a process, `deliver_pending(conn, now)` as one step."""

    def __init__(self, settings: Settings, *, request_timeout_s: float = REQUEST_TIMEOUT_S):
        self.settings = settings
        self.request_timeout_s = request_timeout_s
        self.lease = PER_WEBHOOK_BATCH * timedelta(seconds=request_timeout_s) + LEASE_MARGIN
        self._client: httpx.AsyncClient | None = None
        # Webhooks with deliveries in flight here: not claimed again until those are done, which keeps
        # each webhook's events in order and one slow receiver to a single request at a time.
        self._busy: set[int] = set()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = httpx.Timeout(self.request_timeout_s, connect=min(CONNECT_TIMEOUT_S, self.request_timeout_s))
            self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                                             headers={"User-Agent": USER_AGENT})
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def deliver_pending(self, conn: asyncpg.Connection, now: datetime) -> list[Attempt]:
        """Send everything due at `now`, webhooks in parallel, and record every attempt; returns the attempts."""
        lanes = await self._claim(conn, now)
        lock = asyncio.Lock()  # the lanes share `conn`, which runs one query at a time

        async def record(query: str, *args) -> None:
            async with lock:
                await conn.execute(query, *args)

        done = await asyncio.gather(*(self._lane(deliveries, bodies, lambda: now, record)
                                      for deliveries, bodies in lanes))
        return [attempt for lane in done for attempt in lane]

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver as events are committed (LISTEN) and as retries come due, until `stop` is set."""
        pool = await asyncpg.create_pool(self.settings.database_url, min_size=1, max_size=DISPATCHER_POOL_SIZE)
        wake = asyncio.Event()
        lanes: set[asyncio.Task] = set()
        listener: Listener | None = None

        def lane_done(task: asyncio.Task) -> None:
            lanes.discard(task)
            wake.set()  # its webhook is free again and may have more due

        log.info("webhook dispatcher listening on %s", CHANNEL)
        try:
            while not stop.is_set():
                listener = await self._listen(pool, listener, wake)
                wake.clear()
                now = datetime.now(UTC)
                try:
                    async with pool.acquire() as conn:
                        claimed = await self._claim(conn, now)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.error("claiming webhook deliveries failed: %s: %s; trying again", type(exc).__name__, exc)
                    claimed = []
                for deliveries, bodies in claimed:
                    task = asyncio.create_task(self._lane(deliveries, bodies, lambda: datetime.now(UTC), pool.execute))
                    lanes.add(task)
                    task.add_done_callback(lane_done)
                await _first_of(wake, stop, timeout_s=POLL_INTERVAL_S)
        finally:
            if lanes:  # let attempts in flight finish; what is cut off is retried when its lease ends
                _, unfinished = await asyncio.wait(lanes, timeout=self.request_timeout_s + 1)
                for task in unfinished:
                    task.cancel()
            if listener is not None:
                await unlisten(pool, listener)
            await self.aclose()
            await pool.close()

    async def _listen(self, pool: asyncpg.Pool, listener: Listener | None, wake: asyncio.Event) -> Listener | None:
        """The pool connection LISTENing for committed events, replaced if it was lost."""
        if listener is not None and not listener.lost:
            return listener
        if listener is not None:
            await unlisten(pool, listener)
        try:
            return await listen(pool, lambda _event_id: wake.set(), wake.set)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("cannot LISTEN on %s (%s: %s); polling every %ss meanwhile", CHANNEL, type(exc).__name__,
                        exc, POLL_INTERVAL_S)
            return None

    async def _claim(self, conn: asyncpg.Connection, now: datetime) -> list[Lane]:
        """Claim what is due, grouped by webhook in event order, with the bodies to send."""
        rows = await conn.fetch(Q["claim_due_deliveries"], now, now + self.lease, PER_WEBHOOK_BATCH, list(self._busy))
        by_webhook: dict[int, list[asyncpg.Record]] = {}
        for row in sorted(rows, key=lambda r: r["alert_event_id"]):
            by_webhook.setdefault(row["webhook_id"], []).append(row)
        self._busy.update(by_webhook)
        try:
            bodies = await notifications_by_id(conn, [row["alert_event_id"] for row in rows]) if rows else {}
        except BaseException:
            self._busy.difference_update(by_webhook)
            raise
        return [(deliveries, bodies) for deliveries in by_webhook.values()]

    async def _lane(self, deliveries: list[asyncpg.Record], bodies: dict[int, bytes], clock: Clock,
                    record: Record) -> list[Attempt]:
        """One webhook's claimed deliveries, one after the other."""
        attempts = []
        try:
            for delivery in deliveries:
                body = bodies.get(delivery["alert_event_id"])
                if body is not None:  # else the event was deleted since, and its delivery with it
                    attempts.append(await self._attempt(delivery, body, clock, record))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.error("recording a delivery to webhook %s failed: %s: %s; it is retried when its lease ends",
                      deliveries[0]["webhook_id"], type(exc).__name__, exc)
        finally:
            self._busy.discard(deliveries[0]["webhook_id"])
        return attempts

    async def _attempt(self, delivery: asyncpg.Record, body: bytes, clock: Clock, record: Record) -> Attempt:
        number = delivery["attempts"] + 1
        started_at = clock()
        started = time.monotonic()
        status_code, error = await self._post(delivery, body, number)
        duration_ms = (time.monotonic() - started) * 1000
        if error is None:
            state, next_attempt_at = "delivered", None
        else:
            next_attempt_at = started_at + retry_delay(number)
            if next_attempt_at > delivery["created_at"] + GIVE_UP_AFTER:
                state, next_attempt_at = "failed", None
                log.warning("webhook %s: gave up on event %s after %s attempts: %s", delivery["webhook_id"],
                            delivery["alert_event_id"], number, error)
            else:
                state = "pending"
                log.info("webhook %s: event %s attempt %s failed (%s); retrying at %s", delivery["webhook_id"],
                         delivery["alert_event_id"], number, error, next_attempt_at.isoformat())
        await record(Q["record_attempt"], delivery["id"], state, status_code, error, next_attempt_at, started_at,
                     duration_ms)
        return Attempt(delivery["id"], delivery["webhook_id"], delivery["alert_event_id"], number, status_code,
                       error, state, next_attempt_at, duration_ms)

    async def _post(self, delivery: asyncpg.Record, body: bytes, number: int) -> tuple[int | None, str | None]:
        """POST one signed body; (status code, None) on a 2xx answer, else (status code or None, what went wrong)."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: str(delivery["alert_event_id"]),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(delivery["secret"], timestamp, body),
            ATTEMPT_HEADER: str(number),
        }
        try:
            # httpx's timeouts bound each read; this bounds the whole exchange, however slowly bytes trickle.
            async with asyncio.timeout(self.request_timeout_s):
                async with self.client.stream("POST", delivery["url"], content=body, headers=headers) as response:
                    if response.is_success:
                        return response.status_code, None
                    excerpt = b""
                    async for chunk in response.aiter_raw():
                        excerpt += chunk
                        if len(excerpt) >= ERROR_EXCERPT_BYTES:
                            break
            text = excerpt[:ERROR_EXCERPT_BYTES].decode(errors="replace").strip()
            return response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else "")
        except TimeoutError:
            return None, f"no answer within {self.request_timeout_s:g} s"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _first_of(*events: asyncio.Event, timeout_s: float) -> None:
    """Wait until any of the events is set, or the timeout passes."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()

