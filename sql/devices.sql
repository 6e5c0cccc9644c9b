-- Devices, their sensors and readings (service.devices), loaded with sql.queries("devices").
-- Lists follow sql/__init__.py's conventions for lists and for a grid monitor's scope.

-- name: devices
-- Devices in id order with their health. $1 id, $2 hazard_point, $3 online, $4 limit, $5 offset,
-- $6 scoping person.
WITH matching AS NOT MATERIALIZED (
    SELECT id, hazard_point, protocol, accel_unit, last_seen, online, battery_pct, supply_v, signal, temp_c,
           solar_v, humidity_pct, sw_version, status_at, created_at, created_by, updated_at, updated_by
    FROM device d
    WHERE ($1::text IS NULL OR id = $1)
      AND ($2::text IS NULL OR hazard_point = $2)
      AND ($3::boolean IS NULL OR online IS NOT DISTINCT FROM $3)
      AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = d.hazard_point AND g.person_id = $6))
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY id LIMIT $4 OFFSET $5) AS page ON true
ORDER BY page.id

-- name: device_sensors
SELECT code, kind, reporting_interval_s, v0_mm_per_day, resolution_mm, thresholds, state, state_reported_at,
       last_reading_at, offline
FROM sensor
WHERE device_id = $1
ORDER BY code

-- name: create_device
-- Answers no row when the id is taken; a missing hazard point is a foreign-key violation. $5 author.
INSERT INTO device (id, hazard_point, protocol, accel_unit, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: create_sensors
-- $1 device, $2 hazard point, then one array per column; thresholds as JSON text.
INSERT INTO sensor (device_id, hazard_point, code, kind, reporting_interval_s, v0_mm_per_day, resolution_mm,
                    thresholds)
SELECT $1, $2, code, kind, interval_s, v0, resolution, thresholds::jsonb
FROM unnest($3::text[], $4::text[], $5::integer[], $6::float8[], $7::float8[], $8::text[])
     AS s (code, kind, interval_s, v0, resolution, thresholds)

-- name: update_device
-- NULL leaves a field as it is. Answers no row when there is no such device. $4 author.
UPDATE device
SET accel_unit = coalesce($2, accel_unit), hazard_point = coalesce($3, hazard_point),
    updated_by = $4, updated_at = now()
WHERE id = $1
RETURNING id

-- name: move_device_sensors
UPDATE sensor SET hazard_point = $2 WHERE device_id = $1

-- name: sensor_kinds
-- The kind of each of the device's sensors named in $2; a code it does not have is left out.
SELECT code, kind FROM sensor WHERE device_id = $1 AND code = ANY ($2::text[])

-- name: set_sensor_resolutions
-- $2 codes, $3 their resolutions (NULL: back to the kind's default).
UPDATE sensor
SET resolution_mm = given.resolution_mm
FROM unnest($2::text[], $3::float8[]) AS given (code, resolution_mm)
WHERE sensor.device_id = $1 AND sensor.code = given.code

-- name: sensor_of_device
-- $3 scoping person.
SELECT kind
FROM sensor s
WHERE device_id = $1 AND code = $2
  AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = s.hazard_point AND g.person_id = $3))

-- name: device_exists
-- $2 scoping person.
SELECT EXISTS (
    SELECT 1 FROM device d
    WHERE id = $1
      AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = d.hazard_point AND g.person_id = $2))
)

-- name: readings
-- Raw readings of one sensor in [$3, $4), oldest first. $5 limit.
WITH matching AS NOT MATERIALIZED (
    SELECT ts, value, fields, quality, server_timed, received_at
    FROM reading
    WHERE device_id = $1 AND sensor_code = $2 AND ts >= $3 AND ts < $4
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY ts LIMIT $5) AS page ON true
ORDER BY page.ts

-- name: reading_buckets
-- One sensor's readings in [$3, $4) in buckets of $5 seconds aligned on the Unix epoch, oldest first;
-- $6 the sensor's kind, $7 limit. Rain is summed, every other kind gives its last value: a displacement
-- is cumulative, so the last reading of a bucket is where the ground stood. Flagged readings are
-- counted but never make the value.
WITH matching AS NOT MATERIALIZED (
    SELECT date_bin(make_interval(secs => $5), ts, TIMESTAMPTZ 'epoch') AS bucket,
           CASE WHEN $6::text = 'rain'
                THEN sum(value) FILTER (WHERE quality = '{}')
                ELSE (array_agg(value ORDER BY ts DESC) FILTER (WHERE quality = '{}'))[1]
           END AS value,
           count(*) AS readings,
           count(*) FILTER (WHERE quality <> '{}') AS flagged
    FROM reading
    WHERE device_id = $1 AND sensor_code = $2 AND ts >= $3 AND ts < $4
    GROUP BY 1
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY bucket LIMIT $7) AS page ON true
ORDER BY page.bucket
