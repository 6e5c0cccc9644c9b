"""Broker to database: the MQTT consumer, the batcher that COPYs readings, dead letters and quarantine.

Imports `sensors` (decoding) and `sql` (queries); paho callbacks do no I/O and hand messages to asyncio.
"""
