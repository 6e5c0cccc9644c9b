"""The warning science and the alert lifecycle.

`kernels` is pure numpy (arrays in, arrays out: no I/O, no clock); `engine` reads the database, runs
the kernels and hands level changes to `flows`, the lifecycle state machine. Stands beside `ingest` on
`runtime` (settings, the MQTT client, device commands, the readings notice it listens for), with `sensors`
and `sql` below; it never imports `ingest` or `service`.
"""
