"""The warning science and the alert lifecycle.

`kernels` is pure numpy (arrays in, arrays out: no I/O, no clock); `engine` reads the database, runs
the kernels and hands level changes to `flows`, the lifecycle state machine. Imports `sql`, `sensors`
and `service.settings`, never the HTTP layer.
"""
