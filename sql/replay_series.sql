-- Queries of `geohazard replay-series` (service/replay_series.py): one series replayed through the
-- engine against temporary twins of the tables it reads and writes, inside a transaction rolled back.

-- name: has_sensor_baseline
-- Whether this database has the persisted quiet baselines (migration 0014), which the engine reads.
SELECT to_regclass('public.sensor_baseline') IS NOT NULL

-- name: shadow_tables
-- Empty temporary twins of the registry, the readings and the quiet baselines, found before the real ones
-- (pg_temp is searched first) and dropped with the transaction: the replay's one point, device and sensor
-- are all there is. Triggers and foreign keys are not copied; quarantine is shadowed too, so that nothing of
-- ingest's path can reach a real table.
CREATE TEMP TABLE hazard_point (LIKE public.hazard_point INCLUDING ALL) ON COMMIT DROP;
CREATE TEMP TABLE device (LIKE public.device INCLUDING ALL) ON COMMIT DROP;
CREATE TEMP TABLE sensor (LIKE public.sensor INCLUDING ALL) ON COMMIT DROP;
CREATE TEMP TABLE reading (LIKE public.reading INCLUDING ALL) ON COMMIT DROP;
CREATE TEMP TABLE quarantine (LIKE public.quarantine INCLUDING ALL) ON COMMIT DROP;
CREATE TEMP TABLE sensor_baseline (LIKE public.sensor_baseline INCLUDING ALL) ON COMMIT DROP;

-- name: insert_point
INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, created_by)
VALUES ($1, $2, 'landslide', 'medium', 0, 0, '000000', $3)

-- name: insert_device
INSERT INTO device (id, hazard_point, protocol, created_by) VALUES ($1, $2, 'native', $3)

-- name: insert_sensor
INSERT INTO sensor (device_id, code, kind, hazard_point, reporting_interval_s, v0_mm_per_day, resolution_mm)
VALUES ($1, $2, $3, $4, $5, $6, $7)

-- name: flagged_readings
-- The replayed readings that ended flagged (left out of evaluation), oldest first.
SELECT ts, quality FROM reading WHERE quality <> '{}' ORDER BY ts
