"""The MQTT side of ingest, in a process of its own: receive, pass on, and acknowledge when told.

paho parses every packet in Python, which is about as much work as decoding and storing the message; in
one process both would share one interpreter lock, so the receiver runs paho in a child process and the
writer (ingest.consumer) does everything else. The two talk over two pipes:

- messages: the receiver sends pickled lists of (session, mid, qos, topic, payload, received_at) tuples,
  and events ("connected", "subscribed", ...) the writer logs;
- acks: the writer first sends the ReceiverConfig as a dict (on the pipe, not the command line, which anyone can read
  with ps), then lists of (session, mid, qos) once their batch is committed, and None to stop.

The receiver acknowledges (PUBACK) nothing on its own, and only on the connection that delivered the
message. It exits when the writer goes away (its pipe closes, or the kernel's parent-death signal),
leaving every unacknowledged message with the broker for the next run.

It also keeps at most `max_outstanding` messages received and not yet acknowledged: at that many, paho's
thread waits in the message callback, so nothing more is read from the socket and the backlog stays in
the broker. The broker's own window (max_inflight_messages) cannot be relied on for this: Mosquitto 2.0.11
sends a client its whole queue once the client acknowledges anything.

    python -m ingest.receiver MESSAGES_FD ACKS_FD   (started by ingest.consumer, not by hand)
"""

import ctypes
import ctypes.util
import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import paho.mqtt.client as mqtt

# Waiting longer than this between reconnection attempts only delays recovery.
MAX_RECONNECT_DELAY_S = 30
# After the first message of a burst, wait this long for more before passing them on: one pipe write
# carries tens of messages instead of one (the writer batches for far longer anyway).
COALESCE_S = 0.001
# How long paho's thread waits at a time for room (see max_outstanding) before it looks again.
ROOM_WAIT_S = 1.0
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
    max_outstanding: int  # messages received and not yet acknowledged, at most


class Receiver:
    """paho's client; its callbacks only append to a buffer that a second thread sends down the pipe."""

    def __init__(self, config: ReceiverConfig, messages: Connection):
        self.config = config
        self._messages = messages
        self._send_lock = threading.Lock()  # both threads send events; a message on the pipe is one write
        self._buffer: list[tuple] = []
        self._buffer_lock = threading.Lock()
        self._ready = threading.Event()
        self._session = 0
        self._stopping = False
        self._outstanding = 0  # of this connection's messages, received and not acknowledged
        self._room = threading.Condition()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=False,  # a persistent session: the broker keeps what we have not acknowledged
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if config.username:
            client.username_pw_set(config.username, config.password)
        client.reconnect_delay_set(min_delay=1, max_delay=MAX_RECONNECT_DELAY_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_: self._send(("subscribed",))
        self.client = client

    def _send(self, item) -> None:
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            self._messages.send_bytes(data)

    # paho callbacks, on paho's thread.
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self._send(("refused", str(reason_code)))
            return
        with self._room:
            self._session += 1
            self._outstanding = 0  # the broker redelivers the earlier connection's; their acks are dropped
        client.subscribe([(f, 1) for f in self.config.filters])
        self._send(("connected", self._session, bool(flags.session_present)))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if not self._stopping:
            self._send(("disconnected", str(reason_code)))

    def _on_message(self, client, userdata, message):
        if message.qos > 0:
            with self._room:
                while self._outstanding >= self.config.max_outstanding and not self._stopping:
                    self._room.wait(ROOM_WAIT_S)
                self._outstanding += 1
        item = (self._session, message.mid, message.qos, message.topic, message.payload, time.time())
        with self._buffer_lock:
            self._buffer.append(item)
        if not self._ready.is_set():
            self._ready.set()

    def _forward(self) -> None:
        """On its own thread: send what has arrived, a burst at a time."""
        while True:
            self._ready.wait()
            time.sleep(COALESCE_S)
            # Cleared before taking the buffer: a message appended after this either is taken now or sets it again.
            self._ready.clear()
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
            if batch:
                self._send(("messages", batch))

    def acknowledge(self, acks: list[tuple[int, int, int]]) -> None:
        with self._room:
            # A message from an earlier connection is redelivered on the current one, under a new packet id;
            # the old id means nothing here, so it is acknowledged when it comes back.
            current = [(mid, qos) for session, mid, qos in acks if session == self._session]
            self._outstanding -= len(current)
            self._room.notify()
        for mid, qos in current:
            self.client.ack(mid, qos)

    def run(self, acks: Connection) -> None:
        """Receive until the writer says stop or goes away."""
        threading.Thread(target=self._forward, name="forward", daemon=True).start()
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()
        try:
            while True:
                try:
                    command = pickle.loads(acks.recv_bytes())
                except (EOFError, OSError):
                    return  # the writer is gone: leave everything unacknowledged with the broker
                if command is None:
                    return
                self.acknowledge(command)
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


def main(argv: list[str]) -> None:
    # Ctrl-C reaches the whole process group; the writer decides when to stop, after its last commit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
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
