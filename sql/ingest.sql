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
SELECT s.device_id, s.sensor_code, s.ts, s.kind, s.value, s.fields,
       -- A sensor its device reports as faulty (sensor_state != 0) gives flagged readings.
       CASE WHEN sensor.state <> 0 THEN array_append(s.quality, 'sensor_state') ELSE s.quality END,
       s.server_timed
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

-- name: registered_sensors
-- The sensors of the given devices, to tell which readings go straight to `reading` (see store_readings
-- in ingest/writer.py) and which need the staging table's joins.
SELECT device_id, code, kind, state FROM sensor WHERE device_id = ANY($1::text[])

-- name: touch_sensors_latest
-- Each (device, sensor)'s last reading time moved up to its latest new reading (computed by the caller), and
-- the sensor no longer offline.
UPDATE sensor
SET last_reading_at = greatest(sensor.last_reading_at, latest.ts),
    offline = false
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS latest (device_id, sensor_code, ts)
WHERE sensor.device_id = latest.device_id AND sensor.code = latest.sensor_code

-- name: touch_devices
UPDATE device SET last_seen = greatest(device.last_seen, seen.at), online = true
FROM unnest($1::text[], $2::timestamptz[]) AS seen (id, at)
WHERE device.id = seen.id

-- name: insert_dead_letter
-- $4 is the payload, or only its beginning when it is long (see ingest/writer.py); $5 and $6 are the whole
-- payload's size and SHA-256.
INSERT INTO dead_letter (received_at, topic, client_id, payload, payload_bytes, payload_sha256, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7)

-- name: apply_status
-- A device's status report: fields it did not send keep their last value.
UPDATE device
SET battery_pct = coalesce($2, battery_pct),
    supply_v = coalesce($3, supply_v),
    solar_v = coalesce($4, solar_v),
    signal = coalesce($5, signal),
    temp_c = coalesce($6, temp_c),
    humidity_pct = coalesce($7, humidity_pct),
    sw_version = coalesce($8, sw_version),
    status = status || $9::jsonb,
    status_at = greatest(status_at, $10),
    last_seen = greatest(last_seen, $10)
WHERE id = $1

-- name: apply_sensor_states
UPDATE sensor
SET state = reported.state, state_reported_at = $4
FROM unnest($2::text[], $3::smallint[]) AS reported (code, state)
WHERE sensor.device_id = $1 AND sensor.code = reported.code
  AND (sensor.state_reported_at IS NULL OR sensor.state_reported_at <= $4)

-- name: set_online
UPDATE device SET online = $2 WHERE id = $1

-- name: registered_devices
SELECT id FROM device WHERE id = ANY($1::text[])

-- name: mark_silent_sensors_offline
-- Sensors silent for more than three reporting intervals (or never heard from since registration).
UPDATE sensor
SET offline = true
WHERE NOT offline
  AND coalesce(last_reading_at, created_at) < $1::timestamptz - make_interval(secs => 3 * reporting_interval_s)
RETURNING device_id, code

-- name: mark_reporting_sensors_online
UPDATE sensor
SET offline = false
WHERE offline AND last_reading_at >= $1::timestamptz - make_interval(secs => 3 * reporting_interval_s)
RETURNING device_id, code

-- name: accel_units_in_g
SELECT id FROM device WHERE accel_unit = 'g'

-- name: devices_without_dp
-- Native gateways and manual devices: a `$dp` frame naming one of them is refused (ingest/routing.py).
SELECT id, protocol FROM device WHERE protocol <> 'universal'

-- name: replay_quarantine
-- Quarantined readings whose device and sensor (of the same kind) are now registered move to reading.
WITH ready AS (
    UPDATE quarantine q
    SET replayed_at = $1
    FROM sensor
    WHERE q.replayed_at IS NULL
      AND sensor.device_id = q.device_id AND sensor.code = q.sensor_code AND sensor.kind = q.kind
      AND ($2::text IS NULL OR q.device_id = $2)
    RETURNING q.device_id, q.sensor_code, q.ts, q.kind, q.value, q.fields, q.quality, q.server_timed
)
INSERT INTO reading (device_id, sensor_code, ts, kind, value, fields, quality, server_timed)
SELECT * FROM ready
ON CONFLICT (device_id, sensor_code, ts) DO NOTHING
RETURNING device_id, ts

-- name: recent_good_values
-- The last $3 unflagged values of each given sensor, oldest first, to judge new readings against; and, as
-- its last row (suspect true), the sensor's newest reading when that one is flagged only as a spike: the next
-- reading may take the flag back, whichever worker (or restarted one) judges it.
SELECT s.device_id, s.sensor_code, recent.ts, recent.value, recent.kind, false AS suspect
FROM unnest($1::text[], $2::text[]) AS s (device_id, sensor_code)
CROSS JOIN LATERAL (
    SELECT r.ts, r.value, r.kind FROM reading r
    WHERE r.device_id = s.device_id AND r.sensor_code = s.sensor_code AND r.quality = '{}'
      AND r.value IS NOT NULL
    ORDER BY r.ts DESC
    LIMIT $3
) recent
UNION ALL
SELECT s.device_id, s.sensor_code, newest.ts, newest.value, newest.kind, true AS suspect
FROM unnest($1::text[], $2::text[]) AS s (device_id, sensor_code)
CROSS JOIN LATERAL (
    SELECT r.ts, r.value, r.kind, r.quality FROM reading r
    WHERE r.device_id = s.device_id AND r.sensor_code = s.sensor_code
    ORDER BY r.ts DESC
    LIMIT 1
) newest
WHERE newest.quality = '{spike}' AND newest.value IS NOT NULL
ORDER BY 1, 2, 3

-- name: clear_spike_flags
-- Spikes that the next reading confirmed as real movement go back into evaluation.
UPDATE reading
SET quality = array_remove(quality, 'spike')
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS c (device_id, sensor_code, ts)
WHERE reading.device_id = c.device_id AND reading.sensor_code = c.sensor_code AND reading.ts = c.ts

-- name: notify_readings_stored
-- Comma-separated ids of devices with newly stored readings, for the engine's event path.
SELECT pg_notify('readings_stored', $1)
