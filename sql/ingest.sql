-- Queries of the ingest process. The staging table lives per connection and empties at commit.

-- name: create_stage
-- The same columns as reading, plus the topic the reading came on (for quarantine).
CREATE TEMP TABLE IF NOT EXISTS reading_stage (
    LIKE reading INCLUDING DEFAULTS,
    topic text NOT NULL
) ON COMMIT DELETE ROWS

-- name: store_registered
-- Readings of registered sensors of the same kind go to `reading`; redelivered ones are skipped.
INSERT INTO reading (device_id, sensor_code, ts, kind, value, fields, quality, server_timed)
SELECT s.device_id, s.sensor_code, s.ts, s.kind, s.value, s.fields, s.quality, s.server_timed
FROM reading_stage s
JOIN sensor ON sensor.device_id = s.device_id AND sensor.code = s.sensor_code AND sensor.kind = s.kind
ON CONFLICT (device_id, sensor_code, ts) DO NOTHING

-- name: quarantine_unregistered
-- Everything else is kept in quarantine with the reason, to be replayed once it is registered.
INSERT INTO quarantine (topic, device_id, sensor_code, ts, kind, value, fields, quality, server_timed, reason)
SELECT s.topic, s.device_id, s.sensor_code, s.ts, s.kind, s.value, s.fields, s.quality, s.server_timed,
       CASE
           WHEN device.id IS NULL THEN 'device ' || s.device_id || ' is not registered'
           WHEN sensor.code IS NULL THEN 'sensor ' || s.device_id || '/' || s.sensor_code || ' is not registered'
           ELSE 'sensor ' || s.device_id || '/' || s.sensor_code || ' is registered as ' || sensor.kind
                || ' but sent a ' || s.kind || ' reading'
       END
FROM reading_stage s
LEFT JOIN device ON device.id = s.device_id
LEFT JOIN sensor ON sensor.device_id = s.device_id AND sensor.code = s.sensor_code
WHERE sensor.code IS NULL OR sensor.kind <> s.kind
ON CONFLICT (device_id, sensor_code, ts) DO NOTHING

-- name: touch_sensors
UPDATE sensor
SET last_reading_at = greatest(sensor.last_reading_at, latest.ts)
FROM (SELECT device_id, sensor_code, max(ts) AS ts FROM reading_stage GROUP BY device_id, sensor_code) latest
WHERE sensor.device_id = latest.device_id AND sensor.code = latest.sensor_code

-- name: touch_devices
UPDATE device SET last_seen = greatest(device.last_seen, seen.at), online = true
FROM unnest($1::text[], $2::timestamptz[]) AS seen (id, at)
WHERE device.id = seen.id

-- name: insert_dead_letter
INSERT INTO dead_letter (received_at, topic, client_id, payload, reason) VALUES ($1, $2, $3, $4, $5)
