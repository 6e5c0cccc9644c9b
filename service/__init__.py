"""The service edge: the HTTP API, its pages, the `geohazard` command that starts every process (`cli`), and
the tools that join ingest and the engine (`replay_series`, `demo`).

The top layer: it may import every other package (`runtime`, `ingest`, `alerting`, `sensors`, `sql`);
nothing imports it.
"""
