"""The MQTT receiver of ingest (ingest/receiver.py) against a private broker with the project's configuration:
it holds no more unacknowledged messages than it is allowed, whatever the broker sends."""

import os
import pickle
import threading
import time
import uuid
from dataclasses import asdict
from multiprocessing.connection import Connection

import pytest

from ingest.receiver import Receiver, ReceiverConfig
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
    """A Receiver on its own thread, fed and drained through pipes as the writer does."""

    def __init__(self, port: int):
        messages_out, messages_in = os.pipe()
        acks_out, acks_in = os.pipe()
        self.messages = Connection(messages_out, writable=False)
        self.acks = Connection(acks_in, readable=False)
        config = ReceiverConfig(host="127.0.0.1", port=port, username=None, password=None,
                                client_id=f"receiver-{uuid.uuid4().hex[:8]}", filters=["test/#"], keepalive_s=30,
                                parent_pid=os.getpid(), max_outstanding=MAX_OUTSTANDING)
        self.config = config
        self.received: list[tuple] = []
        self.subscribed = threading.Event()
        receiver = Receiver(config, Connection(messages_in, readable=False))
        self._thread = threading.Thread(target=receiver.run, args=(Connection(acks_out, writable=False),),
                                        daemon=True)
        threading.Thread(target=self._take, daemon=True).start()
        self._thread.start()

    def _take(self) -> None:
        while True:
            try:
                kind, *event = pickle.loads(self.messages.recv_bytes())
            except EOFError:
                return
            if kind == "messages":
                self.received.extend(event[0])
            elif kind == "subscribed":
                self.subscribed.set()

    def acknowledge(self, items: list[tuple]) -> None:
        self.acks.send_bytes(pickle.dumps([(session, mid, qos) for session, mid, qos, *_ in items]))

    def stop(self) -> None:
        self.acks.send_bytes(pickle.dumps(None))
        self._thread.join(10)


def test_the_receiver_holds_no_more_unacknowledged_messages_than_allowed_while_the_broker_sends_its_queue(mosquitto):
    receiver = RunningReceiver(mosquitto.port)
    publisher = SessionPublisher(mosquitto.port, f"gateway-{uuid.uuid4().hex[:8]}")
    try:
        assert receiver.subscribed.wait(10), "the receiver did not subscribe"
        for n in range(QUEUED):
            publisher.publish("test/readings", f"{n}".encode())
        publisher.wait_acknowledged(60)
        time.sleep(SETTLE_S)
        assert len(receiver.received) == MAX_OUTSTANDING
        # Mosquitto sends the rest of its queue at the first acknowledgement; the receiver still takes only
        # as many as were acknowledged.
        receiver.acknowledge(receiver.received[:10])
        time.sleep(SETTLE_S)
        assert len(receiver.received) == MAX_OUTSTANDING + 10
        taken = 10
        deadline = time.monotonic() + 60
        while taken < QUEUED:  # acknowledging everything it passes on, it passes on everything, in order
            assert time.monotonic() < deadline, f"{len(receiver.received)} of {QUEUED} received"
            batch = receiver.received[taken:]
            receiver.acknowledge(batch)
            taken += len(batch)
            time.sleep(0.05)
        assert [int(payload) for *_, payload, _ in receiver.received] == list(range(QUEUED))
    finally:
        receiver.stop()
        publisher.close()
