"""Broker to database: the MQTT receiver (a process of its own), the batcher that COPYs readings, dead
letters and quarantine.

Imports `sensors` (decoding) and `sql` (queries). paho's callbacks do no I/O: they buffer what arrives for
the receiver's sending thread (the message callback waits while the writer holds its limit of messages or
bytes).
"""
