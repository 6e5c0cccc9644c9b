"""The alert channels of SPEC 4.4 beyond the MQTT topic: HTTP webhooks, the server-sent-events stream, CAP 1.2.

Every alert change is an `alert_event` row, and every row is one notification: its event with the alert
(`notifications`). A trigger NOTIFYs `alert_event` with the id on commit and queues the webhook
deliveries in the same transaction (sql/migrations/0008). `webhooks` posts them, signed and retried;
`stream` fans them out to SSE clients; `cap` writes an alert as CAP XML. Imports `sql` and
`runtime.settings`, never the HTTP layer.
"""
