-- requires: timescaledb
-- TimescaleDB storage for readings (TimescaleDB 2.17, PostgreSQL 15): `reading` becomes a
-- hypertable with compression and retention policies, `rain_hourly` a continuous aggregate.
--
-- sql/migrate.py applies this file only where the extension is available, as ONE transaction (and
-- as one multi-statement query, which PostgreSQL runs as an implicit transaction block anyway). It
-- may run long after 0002, when the extension is installed into a database that already holds
-- readings. So every statement here must be allowed inside a transaction block, and must cope with
-- existing rows:
--   * CREATE MATERIALIZED VIEW ... WITH DATA (the default for continuous aggregates) and
--     CALL refresh_continuous_aggregate(...) are refused inside a transaction block, so the
--     aggregate is created WITH NO DATA and its refresh policy fills it in the background;
--   * create_hypertable needs migrate_data => true to accept a non-empty table.
-- Later migrations must not create objects that depend on the view rain_hourly: this step drops and
-- re-creates it, possibly after they have run.

-- The extension itself. IF NOT EXISTS: the timescale/timescaledb image already creates it in
-- template1 (and so in every database created from it, as `geohazard migrate` does), and an
-- operator may have created it by hand.
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Partition readings by time into 7-day chunks, so retention drops whole chunks instead of deleting
-- rows, compression works chunk by chunk, and queries over recent hours touch one or two chunks.
-- * by_range(...) is the generalised create_hypertable API of TimescaleDB 2.13 and later.
-- * migrate_data => true moves rows already in the table into chunks; without it a non-empty table
--   is an error (this step may run after ingest has been storing readings on plain PostgreSQL).
-- * create_default_indexes => false: 0002 already has reading_ts_idx (ts DESC), which is the index
--   TimescaleDB would add, and the primary key (device_id, sensor_code, ts) already includes the
--   partitioning column, as TimescaleDB requires of every unique constraint on a hypertable.
SELECT create_hypertable(
    'reading',
    by_range('ts', INTERVAL '7 days'),
    create_default_indexes => false,
    migrate_data => true
);

-- Columnar compression of older chunks. Readings are read per series, so segment by the series key
-- (device_id, sensor_code) and order each segment by time, newest first: a "latest N readings of
-- this sensor" scan then reads one segment from its front. segmentby + orderby together cover the
-- primary key, which keeps the uniqueness check of INSERT ... ON CONFLICT DO NOTHING (redelivered
-- readings landing in an already compressed chunk) cheap.
ALTER TABLE reading SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id, sensor_code',
    timescaledb.compress_orderby = 'ts DESC'
);

-- Compress chunks once all their data is older than 7 days: the warning engine's windows (hours to
-- a few days) and most late or redelivered readings stay on uncompressed, row-oriented chunks.
SELECT add_compression_policy('reading', compress_after => INTERVAL '7 days');

-- Keep ten years of readings (3650 days, the same as GEOHAZARD_RETENTION_DAYS' default); the
-- background job drops whole chunks whose data is all older than that.
SELECT add_retention_policy('reading', drop_after => INTERVAL '3650 days');

-- The plain view from 0002 is replaced by a continuous aggregate of the same name and columns.
DROP VIEW rain_hourly;

-- Hourly rain per gauge, same columns (device_id, sensor_code, bucket, rain_mm, readings) and same
-- filter as the 0002 view, so readers do not change.
-- * time_bucket('1 hour', ts) buckets in UTC; for whole-hour buckets this equals 0002's
--   date_trunc('hour', ts) in every time zone with a whole-hour offset (e.g. Asia/Shanghai).
-- * materialized_only = false turns real-time aggregation on (it is off by default since 2.13): the
--   buckets not yet materialised by the policy are computed from `reading` at query time, so the
--   rainfall warnings see the current hour, exactly as with the plain view.
-- * WITH NO DATA: the default WITH DATA refreshes at creation and cannot run inside a transaction
--   block. Nothing is missing meanwhile: until the refresh policy below first runs nothing is
--   materialised, and real-time aggregation computes every bucket from the raw rows.
CREATE MATERIALIZED VIEW rain_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id, sensor_code, time_bucket(INTERVAL '1 hour', ts) AS bucket,
       sum(value) AS rain_mm, count(*) AS readings
FROM reading
WHERE kind = 'rain' AND quality = '{}'
GROUP BY device_id, sensor_code, bucket
WITH NO DATA;

-- Materialise the aggregate every 30 minutes over the window [beginning of the data, now - 1 hour):
-- * end_offset 1 hour keeps the bucket still being written out of the materialisation (the docs
--   advise never refreshing the most recent bucket); real-time aggregation serves it instead;
-- * start_offset NULL (open-ended, refresh from the oldest reading): each run recomputes only the
--   buckets invalidated since the last run, wherever they are, so late readings (gateways uploading
--   a backlog after an outage) are picked up however old they are, and readings already stored
--   when this step runs are materialised by the first run. With a bounded start_offset, readings
--   older than it would never reach rain_hourly (below the watermark only materialised buckets are
--   read), and neither would the history stored before this step ran. Open-ended also means that
--   chunks dropped by the retention policy leave the aggregate too, so rain_hourly keeps matching
--   `reading`, as the 0002 view did.
SELECT add_continuous_aggregate_policy('rain_hourly',
    start_offset => NULL,
    end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '30 minutes');
