"""Broker to database: the MQTT receiver (a process of its own), the batcher that COPYs readings, dead
letters and quarantine, the devices' answers to commands, and the broker's ACL that decides what reaches it.

Stands beside `alerting` on `runtime` (settings, the MQTT client, the readings notice it sends), with
`sensors` (decoding) and `sql` (queries) below; it never imports `alerting` or `service`. paho's callbacks
do no I/O: they buffer what arrives for the receiver's sending thread (the message callback waits while the
writer holds its limit of messages or bytes).
"""
