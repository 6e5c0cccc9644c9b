"""The service edge: configuration, the HTTP API and the `geohazard` command that starts every process.

It may import every other package; nothing else imports it except `service.settings`.
"""
