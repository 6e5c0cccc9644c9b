"""The MQTT receiver of ingest (ingest/receiver.py) against a private broker with the project's configuration:
it holds no more unacknowledged messages than it is allowed, whatever the broker sends."""

import os
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


@pytest.fixture
def mosquitto():
    with TempMosquitto() as broker:
        yield broker


class RunningReceiver:
    """A receiver process, fed and drained through its pipes as the writer does."""

    def __init__(self, port: int):
        config = ReceiverConfig(host="127.0.0.1", port=port, username=None, password=None,
                                client_id=f"receiver-{uuid.uuid4().hex[:8]}", filters=["test/#"], keepalive_s=30,
                                parent_pid=os.getpid(), max_outstanding=MAX_OUTSTANDING)
        self.process, self.messages, self.acks = receiver.spawn(config)
        self.received: list[tuple] = []
        self.waiting_reported = threading.Event()
        self.subscribed = threading.Event()
        threading.Thread(target=self._take, daemon=True).start()

    def _take(self) -> None:
        for kind, *event in receiver.received(self.messages):
            if kind == "messages":
                self.received.extend(event[0])
            elif kind == "subscribed":
                self.subscribed.set()
            elif kind == "waiting":
                self.waiting_reported.set()

    def done_with(self, items: list[tuple]) -> None:
        receiver.send(self.acks, [(session, mid, qos) for session, mid, qos, *_ in items])

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
        assert [int(payload) for *_, payload, _ in running.received] == list(range(QUEUED))
    finally:
        running.stop()
        publisher.close()


def test_a_receiver_whose_mqtt_thread_fails_exits_instead_of_stalling_ingest(mosquitto):
    # paho refuses this filter inside the connect callback, on its own thread: that thread dies, and so
    # must the process, or the writer would wait for messages forever.
    config = ReceiverConfig(host="127.0.0.1", port=mosquitto.port, username=None, password=None,
                            client_id=f"receiver-{uuid.uuid4().hex[:8]}", filters=["test/#/bad"], keepalive_s=30,
                            parent_pid=os.getpid(), max_outstanding=MAX_OUTSTANDING)
    process, messages, acks = receiver.spawn(config)
    try:
        assert process.wait(20) == 1
        assert list(receiver.received(messages)) == []  # the pipe is closed: the writer sees it go
    finally:
        if process.poll() is None:
            process.kill()
        acks.close()
        messages.close()
