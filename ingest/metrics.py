"""Prometheus metrics of the ingest process."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("geohazard_ingest_messages_total", "MQTT messages taken from the broker")
READINGS = Counter("geohazard_ingest_readings_total", "Readings written, by outcome", ["outcome"])
DEAD_LETTERS = Counter("geohazard_ingest_dead_letters_total", "Messages or readings sent to the dead-letter store")
BATCH_MESSAGES = Histogram("geohazard_ingest_batch_messages", "Messages per committed batch",
                           buckets=(1, 5, 20, 50, 100, 200, 500, 1000, 2000, 5000))
COMMIT_SECONDS = Histogram("geohazard_ingest_commit_seconds", "Time to commit one batch, retries included",
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
LAG_SECONDS = Gauge("geohazard_ingest_lag_seconds", "Age of the oldest message of the last committed batch")
WAITING = Gauge("geohazard_ingest_waiting_messages", "Messages received and not yet committed")
DATABASE_UP = Gauge("geohazard_ingest_database_up", "1 while the last write succeeded, 0 while retrying")
