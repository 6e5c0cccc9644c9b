"""The MQTT receiver of ingest (ingest/receiver.py) against a private broker with the project's configuration:
it holds no more unacknowledged messages, nor bytes, than it is allowed, whatever the broker sends."""

import hashlib
import os
import random
import threading
import time
import uuid

import pytest

from ingest import receiver
from ingest.receiver import ReceiverConfig
from tests.fault import SessionPublisher
from tests.servers import TempMosquitto

MAX_OUTSTANDING = 100
QUEUED = 3000
SETTLE_S = 1.5  # long enough for the broker to send whatever it is going to send
UNLIMITED_BYTES = 1 << 40


@pytest.fixture
def mosquitto():
    with TempMosquitto() as broker:
        yield broker


class RunningReceiver:
    """A receiver process, fed and drained through its pipes as the writer does."""

    def __init__(self, port: int, *, max_outstanding: int = MAX_OUTSTANDING,
                 max_outstanding_bytes: int = UNLIMITED_BYTES, max_message_bytes: int = UNLIMITED_BYTES,
                 kept_bytes: int = 0):
        config = ReceiverConfig(host="127.0.0.1", port=port, username=None, password=None,
                                client_id=f"receiver-{uuid.uuid4().hex[:8]}", filters=["test/#"], keepalive_s=30,
                                parent_pid=os.getpid(), max_outstanding=max_outstanding,
                                max_outstanding_bytes=max_outstanding_bytes, max_message_bytes=max_message_bytes,
                                kept_bytes=kept_bytes)
        self.process, self.messages, self.acks = receiver.spawn(config)
        self.received: list[tuple] = []
        self.waiting_reported = threading.Event()
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.acknowledged_bytes = 0
        # Payload bytes passed on and not yet acknowledged, when each message arrived (the message included).
        self.held_bytes_at_arrival: list[int] = []
        threading.Thread(target=self._take, daemon=True).start()

    def _take(self) -> None:
        for kind, *event in receiver.received(self.messages):
            if kind == "messages":
                with self._lock:
                    for item in event[0]:
                        self.received.append(item)
                        held = sum(len(m[4]) for m in self.received) - self.acknowledged_bytes
                        self.held_bytes_at_arrival.append(held)
            elif kind == "subscribed":
                self.subscribed.set()
            elif kind == "waiting":
                self.waiting_reported.set()

    def done_with(self, items: list[tuple]) -> None:
        with self._lock:
            # Counted as done before the receiver hears it: what is held here is never less than what it holds.
            self.acknowledged_bytes += sum(len(payload) for _, _, _, _, payload, *_ in items)
        receiver.send(self.acks, [(session, mid, qos, len(payload)) for session, mid, qos, _, payload, *_ in items])

    def stop(self) -> None:
        receiver.send(self.acks, None)
        self.process.wait(10)


def test_the_receiver_holds_no_more_unacknowledged_messages_than_allowed_while_the_broker_sends_its_queue(mosquitto):
    running = RunningReceiver(mosquitto.port)
    publisher = SessionPublisher(mosquitto.port, f"gateway-{uuid.uuid4().hex[:8]}")
    try:
        assert running.subscribed.wait(10), "the receiver did not subscribe"
        for n in range(QUEUED):
            publisher.publish("test/readings", f"{n}".encode())
        publisher.wait_acknowledged(60)
        time.sleep(SETTLE_S)
        assert len(running.received) == MAX_OUTSTANDING
        assert running.waiting_reported.wait(receiver.WAIT_REPORT_S + 5), "the receiver did not say it waits for room"
        # Mosquitto sends the rest of its queue at the first acknowledgement; the receiver still takes only
        # as many as were acknowledged.
        running.done_with(running.received[:10])
        time.sleep(SETTLE_S)
        assert len(running.received) == MAX_OUTSTANDING + 10
        taken = 10
        deadline = time.monotonic() + 60
        while taken < QUEUED:  # acknowledging everything it passes on, it passes on everything, in order
            assert time.monotonic() < deadline, f"{len(running.received)} of {QUEUED} received"
            batch = running.received[taken:]
            running.done_with(batch)
            taken += len(batch)
            time.sleep(0.05)
        assert [int(payload) for _, _, _, _, payload, *_ in running.received] == list(range(QUEUED))
    finally:
        running.stop()
        publisher.close()


def test_a_receiver_whose_mqtt_thread_fails_exits_instead_of_stalling_ingest(mosquitto):
    # paho refuses this filter inside the connect callback, on its own thread: that thread dies, and so
    # must the process, or the writer would wait for messages forever.
    config = ReceiverConfig(host="127.0.0.1", port=mosquitto.port, username=None, password=None,
                            client_id=f"receiver-{uuid.uuid4().hex[:8]}", filters=["test/#/bad"], keepalive_s=30,
                            parent_pid=os.getpid(), max_outstanding=MAX_OUTSTANDING,
                            max_outstanding_bytes=UNLIMITED_BYTES, max_message_bytes=UNLIMITED_BYTES, kept_bytes=0)
    process, messages, acks = receiver.spawn(config)
    try:
        assert process.wait(20) == 1
        assert list(receiver.received(messages)) == []  # the pipe is closed: the writer sees it go
    finally:
        if process.poll() is None:
            process.kill()
        acks.close()
        messages.close()


WINDOW_BYTES = 1_000_000
SMALL_BYTES = 100_000  # ten fill the window
LARGE_BYTES = 1_500_000  # more than the whole window (and less than the broker's max_packet_size, 2 MiB)


def test_the_receiver_holds_no_more_unacknowledged_bytes_than_its_window_and_a_larger_message_passes_alone(
        mosquitto):
    running = RunningReceiver(mosquitto.port, max_outstanding=1000, max_outstanding_bytes=WINDOW_BYTES)
    publisher = SessionPublisher(mosquitto.port, f"gateway-{uuid.uuid4().hex[:8]}")
    sizes = [SMALL_BYTES] * 30 + [LARGE_BYTES] + [SMALL_BYTES] * 10
    try:
        assert running.subscribed.wait(10), "the receiver did not subscribe"
        for n, size in enumerate(sizes):
            publisher.publish("test/readings", n.to_bytes(4, "big") + bytes(size - 4))
        publisher.wait_acknowledged(60)
        time.sleep(SETTLE_S)
        assert len(running.received) == WINDOW_BYTES // SMALL_BYTES  # a message count allowing 1000
        assert running.waiting_reported.wait(receiver.WAIT_REPORT_S + 5), "the receiver did not say it waits for room"
        taken = 0
        deadline = time.monotonic() + 60
        while taken < len(sizes):  # the writer's pace: done with three messages at a time
            assert time.monotonic() < deadline, f"{len(running.received)} of {len(sizes)} received"
            batch = running.received[taken:taken + 3]
            running.done_with(batch)
            taken += len(batch)
            time.sleep(0.02)
        assert [int.from_bytes(p[:4], "big") for _, _, _, _, p, *_ in running.received] == list(range(len(sizes)))
        held = running.held_bytes_at_arrival
        assert max(held[:30] + held[31:]) <= WINDOW_BYTES
        assert held[30] == LARGE_BYTES  # alone: everything before it acknowledged first
    finally:
        running.stop()
        publisher.close()


def test_a_message_larger_than_ingest_decodes_is_passed_on_as_its_beginning_size_and_hash(mosquitto):
    running = RunningReceiver(mosquitto.port, max_message_bytes=100_000, kept_bytes=1000)
    publisher = SessionPublisher(mosquitto.port, f"gateway-{uuid.uuid4().hex[:8]}")
    large = random.Random(1).randbytes(300_000)
    try:
        assert running.subscribed.wait(10), "the receiver did not subscribe"
        publisher.publish("test/readings", large)
        publisher.publish("test/readings", b"small")
        publisher.wait_acknowledged(60)
        deadline = time.monotonic() + 30
        while len(running.received) < 2:
            assert time.monotonic() < deadline, f"{len(running.received)} of 2 received"
            time.sleep(0.05)
        (*_, cut, _, whole), (*_, small, _, small_whole) = running.received
        assert (cut, whole) == (large[:1000], (300_000, hashlib.sha256(large).digest()))
        assert (small, small_whole) == (b"small", None)
    finally:
        running.stop()
        publisher.close()
