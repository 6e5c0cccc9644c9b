"""The MQTT side of ingest, in a process of its own: receive, pass on, and acknowledge when told.

paho parses every packet in Python, which is about as much work as decoding and storing the message; in
one process both would share one interpreter lock, so the receiver runs paho in a child process and the
writer (ingest.consumer) does everything else. The two talk over two pipes:

- messages: the receiver sends pickled lists of (session, mid, qos, topic, payload, received_at, whole)
  tuples, and events ("connected", "subscribed", "waiting", ...) the writer logs; `whole` is None, or the
  (size, SHA-256) of a payload larger than `max_message_bytes`, of which only the first `kept_bytes` are sent;
- acks: the writer first sends the ReceiverConfig as a dict (on the pipe, not the command line, which
  anyone can read with ps), then lists of (session, mid, qos, payload bytes as sent) of the messages it is
  done with, their batch committed, and None to stop.

The receiver acknowledges (PUBACK) nothing on its own, and only on the connection that delivered the
message. It exits when the writer goes away (its pipe closes, or the kernel's parent-death signal), and
when one of its threads fails, leaving every unacknowledged message with the broker for the next run.

It also holds at most `max_outstanding` messages, and `max_outstanding_bytes` bytes of payload, that the
writer is not done with: when the next message would pass either, paho's thread waits in the message
callback, so nothing more is read from the socket and the backlog stays in the broker. A message larger
than the byte window passes alone, once the writer is done with every other. A payload larger than
`max_message_bytes` (none a device sends) is not passed on: only its beginning, size and hash, for its
dead letter, so the receiver holds it no longer than paho's callback. The broker's own window
(max_inflight_messages) cannot be relied on for this: Mosquitto 2.0.11 sends a client its whole queue
once the client acknowledges anything. While it waits, paho sends nothing either, keepalive pings included:
if the writer is done with nothing for 1.5 keepalive intervals (a database outage with the window full),
the broker drops the connection, paho reconnects once there is room, and the broker redelivers what was
not acknowledged.

    python -m ingest.receiver MESSAGES_FD ACKS_FD   (started by spawn(), not by hand)
"""

import ctypes
import ctypes.util
import dataclasses
import hashlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

from runtime.mqtt import BrokerLogin, new_client

# Waiting longer than this between reconnection attempts only delays recovery.
MAX_RECONNECT_DELAY_S = 30
# After the first message of a burst, wait this long for more before passing them on: one pipe write
# carries tens of messages instead of one (the writer batches for far longer anyway).
COALESCE_S = 0.001
# How long paho's thread waits at a time for room (see max_outstanding) before it looks again, and how
# long it waits before the writer is told (catching up on a backlog, waits of a fraction of a second are
# the normal pace; seconds mean the database is slow or down).
ROOM_WAIT_S = 1.0
WAIT_REPORT_S = 5.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ReceiverConfig:
    """What the receiver needs: where the broker is, who it is there, and what to subscribe to."""

    host: str
    port: int
    username: str | None
    password: str | None
    client_id: str
    filters: list[str]
    keepalive_s: int
    parent_pid: int
    max_outstanding: int  # messages received that the writer is not done with, at most
    max_outstanding_bytes: int  # and their payloads' bytes, at most (or one larger message alone)
    max_message_bytes: int  # a larger payload is passed on cut to its first kept_bytes, with its size and hash
    kept_bytes: int


def spawn(config: ReceiverConfig) -> tuple[subprocess.Popen, Connection, Connection]:
    """Start a receiver process for `config`: (the process, the pipe it sends on, the pipe it reads acks from)."""
    messages_out, messages_in = os.pipe()
    acks_out, acks_in = os.pipe()
    process = subprocess.Popen([sys.executable, "-m", "ingest.receiver", str(messages_in), str(acks_out)],
                               pass_fds=(messages_in, acks_out), stdin=subprocess.DEVNULL)
    os.close(messages_in)
    os.close(acks_out)
    messages, acks = Connection(messages_out, writable=False), Connection(acks_in, readable=False)
    send(acks, dataclasses.asdict(config))
    return process, messages, acks


def send(conn: Connection, item) -> None:
    """Send one item on a pipe (one write: a message is never interleaved with another)."""
    conn.send_bytes(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))


def received(conn: Connection) -> Iterator:
    """What arrives on a pipe, item by item, until the other end is closed."""
    while True:
        try:
            yield pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return


class Receiver:
    """paho's client; its callbacks only append to a buffer that a second thread sends down the pipe.

    The buffer holds messages, as (session, mid, qos, topic, payload, received_at, whole), and events, as
    (kind, *details), in the order they happened.
    """

    def __init__(self, config: ReceiverConfig, messages: Connection):
        self.config = config
        self._messages = messages
        self._buffer: list[tuple] = []
        self._buffer_lock = threading.Lock()
        self._ready = threading.Event()
        self._session = 0
        self._stopping = False
        self._outstanding = 0  # of this connection's messages, received and not acknowledged
        self._outstanding_bytes = 0  # their payloads' bytes, as passed on
        self._room = threading.Condition()
        client = new_client(
            BrokerLogin(config.host, config.port, config.username, config.password),
            config.client_id,
            clean_session=False,  # a persistent session: the broker keeps what we have not acknowledged
            manual_ack=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=MAX_RECONNECT_DELAY_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_: self._put(("subscribed",))
        self.client = client

    def _put(self, item: tuple) -> None:
        with self._buffer_lock:
            self._buffer.append(item)
        if not self._ready.is_set():
            self._ready.set()

    # paho callbacks, on paho's thread.
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._put(("refused", str(reason_code)))
            return
        with self._room:
            self._session += 1
            # The broker redelivers the earlier connection's messages; their acks are dropped.
            self._outstanding = self._outstanding_bytes = 0
        client.subscribe([(f, 1) for f in self.config.filters])
        self._put(("connected", self._session, bool(flags.session_present)))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if not self._stopping:
            self._put(("disconnected", str(reason_code)))

    def _on_message(self, client, userdata, message):
        payload, whole = message.payload, None
        if len(payload) > self.config.max_message_bytes:
            whole = (len(payload), hashlib.sha256(payload).digest())
            payload = payload[:self.config.kept_bytes]
        size = len(payload)
        with self._room:
            since, reported = time.monotonic(), False
            while not self._has_room(size) and not self._stopping:
                if not reported and time.monotonic() - since >= WAIT_REPORT_S:
                    self._put(("waiting", self._outstanding, self._outstanding_bytes, WAIT_REPORT_S))
                    reported = True
                self._room.wait(ROOM_WAIT_S)
            self._outstanding += 1
            self._outstanding_bytes += size
        self._put((self._session, message.mid, message.qos, message.topic, payload, time.time(), whole))

    def _has_room(self, size: int) -> bool:
        """Whether a message of `size` bytes fits the window now (alone, it always does: never a deadlock)."""
        return self._outstanding == 0 or (
            self._outstanding < self.config.max_outstanding
            and self._outstanding_bytes + size <= self.config.max_outstanding_bytes)

    def _forward(self) -> None:
        """On its own thread: send what has arrived, a burst at a time."""
        while True:
            self._ready.wait()
            time.sleep(COALESCE_S)
            # Cleared before taking the buffer: a message appended after this either is taken now or sets it again.
            self._ready.clear()
            with self._buffer_lock:
                items, self._buffer = self._buffer, []
            messages = []
            for item in items:  # runs of messages as one ("messages", [...]), events between them as they are
                if type(item[0]) is int:
                    messages.append(item)
                    continue
                if messages:
                    send(self._messages, ("messages", messages))
                    messages = []
                send(self._messages, item)
            if messages:
                send(self._messages, ("messages", messages))

    def acknowledge(self, done: list[tuple[int, int, int, int]]) -> None:
        """Acknowledge the QoS 1 and 2 messages of `done`, (session, mid, qos, bytes) of each (the writer is done
        with all of them)."""
        with self._room:
            # A message from an earlier connection is redelivered on this one: it is acknowledged when the
            # writer is done with it again (its readings are already stored, so nothing is doubled).
            current = [item for item in done if item[0] == self._session]
            self._outstanding -= len(current)
            self._outstanding_bytes -= sum(size for *_, size in current)
            self._room.notify()
        for _, mid, qos, _ in current:
            if qos > 0:
                self.client.ack(mid, qos)

    def run(self, acks: Connection) -> None:
        """Receive until the writer says stop or goes away."""
        threading.Thread(target=self._forward, name="forward", daemon=True).start()
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()
        try:
            # Until the writer says stop, or is gone (the pipe closed): what is not acknowledged stays with the broker.
            for done in received(acks):
                if done is None:
                    return
                self.acknowledge(done)
        finally:
            with self._room:
                self._stopping = True
                self._room.notify()
            self.client.disconnect()
            self.client.loop_stop()


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when the writer dies (Linux); the closed pipe covers the rest.

    Strictly, the signal comes when the writer's thread that started this process ends: the consumer starts
    it from its event loop's thread, which lives as long as the consumer runs.
    """
    libc_name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the writer died before the line above took effect
        sys.exit(1)


def _fail(args: threading.ExceptHookArgs) -> None:
    """A thread failed (paho's re-raises what a callback raised): exit, so the writer sees the pipe close
    and stops too, rather than wait for messages that will never come."""
    traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback, file=sys.stderr)
    print(f"ingest receiver: thread {args.thread.name if args.thread else '?'} failed; exiting", file=sys.stderr,
          flush=True)
    os._exit(1)


def main(argv: list[str]) -> None:
    # Ctrl-C reaches the whole process group; the writer decides when to stop, after its last commit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.excepthook = _fail
    messages = Connection(int(argv[0]), readable=False)
    acks = Connection(int(argv[1]), writable=False)
    try:
        config = ReceiverConfig(**pickle.loads(acks.recv_bytes()))  # a dict: this module is __main__ here
    except EOFError:
        sys.exit(1)  # the writer died before it told us anything
    _die_with_parent(config.parent_pid)
    Receiver(config, messages).run(acks)


if __name__ == "__main__":
    main(sys.argv[1:])
