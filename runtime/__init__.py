"""What every process shares at run time: settings (`settings`), start-up checks (`checks`), the one MQTT
client factory (`mqtt`), outbound device commands (`commands`) and the readings notice (`notices`).

The layer above `sql` and `sensors`, below `ingest`, `alerting` and `service`: it imports only `sql` and
`sensors`. This file imports nothing, so a module of it loads only what it needs (the ingest receiver
takes `mqtt` alone).
"""
