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
MESSAGE_BYTES = Counter("geohazard_ingest_message_bytes_total",
                        "Payload bytes of the MQTT messages taken (whole sizes)")
OVERSIZED = Counter("geohazard_ingest_oversized_messages_total",
                    "Messages over GEOHAZARD_INGEST_MAX_MESSAGE_BYTES, dead-lettered without being decoded")
BATCH_BYTES = Histogram("geohazard_ingest_batch_bytes", "Payload bytes per committed batch (as received)",
                        buckets=(4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864))
HELD_BYTES = Gauge("geohazard_ingest_held_bytes", "Payload bytes received and not yet acknowledged")
HELD_BYTES_MAX = Gauge("geohazard_ingest_held_bytes_max",
                       "The most payload bytes held received and not yet acknowledged at once since ingest started "
                       "(at most GEOHAZARD_INGEST_WINDOW_BYTES, or one larger message alone)")
