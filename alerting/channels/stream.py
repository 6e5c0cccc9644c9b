"""Server-sent events of alert events for consoles: one LISTEN connection per API process, fanned out to every client.

Each event is `id: <alert event id>` and `data: <the notification JSON>`. A client that reconnects with
`Last-Event-ID` first gets every event after that id from the database, then the live ones; delivery is
at least once (an id may come twice across a reconnect, never out of the database's reach). A comment
line every HEARTBEAT_S keeps proxies from closing an idle stream and lets clients notice a dead one.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg

from alerting.channels.notifications import Listener, listen, notifications_after, notifications_by_id, unlisten

log = logging.getLogger(__name__)

# Under the 30-60 s idle timeouts of common proxies and load balancers.
HEARTBEAT_S = 15.0
# How long a disconnected EventSource waits before reconnecting.
RETRY_MS = 5000
# Events waiting for one slow client; past this it is disconnected and catches up with Last-Event-ID.
SUBSCRIBER_QUEUE = 1000
# Catching up after Last-Event-ID reads the database in pages of this many events.
CATCH_UP_PAGE = 500

_CLOSED = object()  # put in a subscriber's queue: the stream ends, and the client reconnects
_LOST = -1  # put in the hub's id queue by the termination listener: the LISTEN connection is gone


class AlertEventHub:
    """One pool connection LISTENing for committed alert events on behalf of every SSE client of a process.

    Opened by the first subscriber and given back to the pool when the last one leaves, so the app's
    shutdown (which waits for every pool connection) is never held up by it.
    """

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool
        self._subscribers: set[asyncio.Queue] = set()
        self._listener: Listener | None = None
        self._reader: asyncio.Task | None = None
        self._stopping: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def subscribe(self) -> asyncio.Queue:
        """A queue that receives (event id, body) of every event committed from now on, or _CLOSED."""
        queue: asyncio.Queue = asyncio.Queue(SUBSCRIBER_QUEUE)
        async with self._lock:
            if self._listener is None:
                ids: asyncio.Queue[int] = asyncio.Queue()
                self._listener = await listen(self.pool, ids.put_nowait, lambda: ids.put_nowait(_LOST))
                self._reader = asyncio.create_task(self._read(self._listener, ids))
            self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Forget a subscriber; synchronous, so a cancelled stream can call it while it unwinds."""
        self._subscribers.discard(queue)
        if not self._subscribers and self._listener is not None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop_if_idle())

    async def _stop_if_idle(self) -> None:
        async with self._lock:
            if self._subscribers or self._listener is None:
                return
            listener, reader, self._listener, self._reader = self._listener, self._reader, None, None
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader  # off the connection before it goes back
            await unlisten(self.pool, listener)

    async def _read(self, listener: Listener, ids: asyncio.Queue) -> None:
        """Turn notified ids into bodies, read once on the LISTEN connection, and hand them to every subscriber."""
        while True:
            batch = [await ids.get()]
            while not ids.empty():
                batch.append(ids.get_nowait())
            if _LOST in batch:
                log.warning("the LISTEN connection for the alert stream was lost; clients reconnect and catch up")
                return await self._fail(listener)
            try:
                bodies = await notifications_by_id(listener.conn, batch)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("reading alert events %s for the stream failed: %s: %s", batch, type(exc).__name__, exc)
                return await self._fail(listener)
            for event_id in batch:  # commit order, as notified
                if event_id in bodies:
                    self._publish(event_id, bodies[event_id])

    def _publish(self, event_id: int, body: bytes) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait((event_id, body))
            except asyncio.QueueFull:
                log.warning("an alert stream client fell %s events behind; disconnecting it", SUBSCRIBER_QUEUE)
                self._subscribers.discard(queue)
                _close(queue)

    async def _fail(self, listener: Listener) -> None:
        """End every stream (their clients reconnect with Last-Event-ID) and give the connection back."""
        for queue in self._subscribers:
            _close(queue)
        self._subscribers.clear()
        if self._listener is listener:
            self._listener, self._reader = None, None
        await unlisten(self.pool, listener)


def _close(queue: asyncio.Queue) -> None:
    """End a subscriber's stream, making room for the marker if its queue is full."""
    while True:
        try:
            queue.put_nowait(_CLOSED)
            return
        except asyncio.QueueFull:
            queue.get_nowait()


def sse_event(event_id: int, body: bytes) -> bytes:
    """One server-sent event; `body` is one line of JSON."""
    return b"id: %d\ndata: %s\n\n" % (event_id, body)


async def alert_event_stream(hub: AlertEventHub, *, last_event_id: int | None,
                             visible: Callable[[int], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
    """The text/event-stream body: the events after `last_event_id` (if given), then each one as it is
    committed; with `visible`, only the events for which it answers true (asked as each goes out)."""
    queue = await hub.subscribe()  # before catching up, so nothing committed meanwhile is missed
    try:
        # The first bytes: the client's reconnection delay, and the sign that the stream is live.
        yield b"retry: %d\n\n" % RETRY_MS
        caught_up: set[int] = set()
        cursor = last_event_id
        while cursor is not None:
            async with hub.pool.acquire() as conn:
                page = await notifications_after(conn, cursor, CATCH_UP_PAGE)
            for event_id, body in page:
                caught_up.add(event_id)
                if visible is None or await visible(event_id):
                    yield sse_event(event_id, body)
            cursor = page[-1][0] if len(page) == CATCH_UP_PAGE else None
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if item is _CLOSED:
                return
            event_id, body = item
            if event_id not in caught_up and (visible is None or await visible(event_id)):
                yield sse_event(event_id, body)
    finally:
        hub.unsubscribe(queue)
