-- The HTTP API's queries, loaded with sql.queries("api").
-- Placeholders are $1, $2, ...: asyncpg in the API, psycopg's RawCursor in the CLI's token commands.
-- List queries take their filters as parameters where NULL matches everything, and give every row
-- the total matching count: an empty page is one row of NULLs carrying that count.
-- Grid-monitor scoping (service/auth/scope.py): a query that takes a scoping person filters with
--   ($n::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g WHERE g.hazard_point = <point> AND g.person_id = $n))
-- where $n is NULL for every caller who sees all points.

-- name: create_token
INSERT INTO api_token (name, role, person_id, token_hash)
VALUES ($1, $2, $3, $4)
RETURNING id

-- name: revoke_token
UPDATE api_token
SET revoked_at = now()
WHERE id = $1 AND revoked_at IS NULL
RETURNING id

-- name: list_tokens
SELECT id, name, role, person_id, created_at, revoked_at
FROM api_token
ORDER BY id

-- name: token_by_hash
SELECT id, name, role, person_id
FROM api_token
WHERE token_hash = $1 AND revoked_at IS NULL

-- name: hazard_points
-- Hazard points with their current level: the highest level among their alerts not resolved, else none.
-- $1 code, $2 county_code, $3 township_code, $4 village_code, $5 types, $6 levels,
-- $7..$10 bbox (min lon, min lat, max lon, max lat), $11 limit, $12 offset, $13 scoping person, $14 statuses.
WITH open_level AS (
    SELECT hazard_point, max(array_position(ARRAY['blue', 'yellow', 'orange', 'red'], level)) AS rank
    FROM alert
    WHERE state <> 'resolved'
    GROUP BY hazard_point
), point AS (
    SELECT p.code, p.name, p.type, p.scale, p.lon, p.lat, p.county_code, p.township_code, p.village_code,
           p.threatened_households, p.threatened_people, p.threatened_property_wan_yuan::float8, p.status,
           coalesce((ARRAY['blue', 'yellow', 'orange', 'red'])[o.rank], 'none') AS level,
           p.created_at, p.updated_at
    FROM hazard_point p
    LEFT JOIN open_level o ON o.hazard_point = p.code
), matching AS NOT MATERIALIZED (
    SELECT *
    FROM point
    WHERE ($1::text IS NULL OR code = $1)
      AND ($2::text IS NULL OR county_code = $2)
      AND ($3::text IS NULL OR township_code = $3)
      AND ($4::text IS NULL OR village_code = $4)
      AND ($5::text[] IS NULL OR type = ANY ($5))
      AND ($6::text[] IS NULL OR level = ANY ($6))
      -- The same, said so that the planner can start from the few points with open alerts of those levels.
      AND ($6::text[] IS NULL OR 'none' = ANY ($6) OR code = ANY (ARRAY(
              SELECT hazard_point FROM alert WHERE state <> 'resolved' AND level = ANY ($6))))
      AND ($7::float8 IS NULL OR (lon BETWEEN $7 AND $9::float8 AND lat BETWEEN $8::float8 AND $10::float8))
      AND ($13::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                          WHERE g.hazard_point = point.code AND g.person_id = $13))
      AND ($14::text[] IS NULL OR status = ANY ($14))
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY code LIMIT $11 OFFSET $12) AS page ON true
ORDER BY page.code

-- name: create_hazard_point
-- Answers no row when the code is taken. $14 thresholds, $15 monitoring plan, $16 card, $17 author.
INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, township_code, village_code,
                          threatened_households, threatened_people, threatened_property_wan_yuan, status,
                          thresholds, monitoring_plan, card, created_by, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)
ON CONFLICT (code) DO NOTHING
RETURNING code

-- name: hazard_point_documents
-- What a point's detail adds to its listing: its plan, its card and who wrote it.
SELECT thresholds, monitoring_plan, card, created_by, updated_by
FROM hazard_point
WHERE code = $1

-- name: hazard_point_for_update
-- The point's registry fields, locked so that a PATCH or a cancellation does not interleave with another.
SELECT code, name, type, scale, lon, lat, county_code, township_code, village_code, threatened_households,
       threatened_people, threatened_property_wan_yuan::float8, status
FROM hazard_point
WHERE code = $1
FOR UPDATE

-- name: update_hazard_point
-- Every registry field at once (a PATCH merged over the stored point); a NULL thresholds, monitoring plan
-- or card ($14..$16) leaves that document as it is. $17 author.
UPDATE hazard_point
SET name = $2, type = $3, scale = $4, lon = $5, lat = $6, county_code = $7, township_code = $8, village_code = $9,
    threatened_households = $10, threatened_people = $11, threatened_property_wan_yuan = $12, status = $13,
    thresholds = coalesce($14::jsonb, thresholds), monitoring_plan = coalesce($15::jsonb, monitoring_plan),
    card = coalesce($16::jsonb, card), updated_by = $17, updated_at = now()
WHERE code = $1

-- name: cancel_hazard_point
-- Take the point out of service (销号), keeping its history; a point already cancelled stays as it was.
UPDATE hazard_point
SET status = 'cancelled', updated_by = $2, updated_at = now()
WHERE code = $1 AND status <> 'cancelled'

-- name: open_alerts_of_point
SELECT id, type
FROM alert
WHERE hazard_point = $1 AND state <> 'resolved'
ORDER BY id

-- name: hazard_point_card
-- The point as its disaster-avoidance card shows it. $2 scoping person.
SELECT code, name, type, scale, status, lon, lat, county_code, township_code, village_code,
       threatened_households, threatened_people, card, updated_at
FROM hazard_point p
WHERE code = $1
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = p.code AND g.person_id = $2))

-- name: hazard_point_sensors
SELECT device_id, code, kind, reporting_interval_s, v0_mm_per_day, resolution_mm, thresholds, state, last_reading_at
FROM sensor
WHERE hazard_point = $1
ORDER BY device_id, code

-- name: hazard_point_grid
SELECT g.role, g.person_id, p.name, p.phone, g.assigned_at, g.assigned_by
FROM grid_assignment g
JOIN person p ON p.id = g.person_id
WHERE g.hazard_point = $1

-- name: alerts
-- Newest first. $1 id, $2 states, $3 levels, $4 types, $5 point, $6 county_code, $7 raised since,
-- $8 limit, $9 offset, $10 scoping person.
WITH matching AS NOT MATERIALIZED (
    SELECT a.id, a.hazard_point AS point, a.type, a.level, a.state, a.reasons, a.evidence,
           a.raised_at, a.updated_at, a.rule_version,
           a.acknowledged_at, a.acknowledged_by, a.verified_at, a.verified_by, a.verdict,
           a.resolved_at, a.resolved_by
    FROM alert a
    WHERE ($1::bigint IS NULL OR a.id = $1)
      AND ($2::text[] IS NULL OR a.state = ANY ($2))
      AND ($3::text[] IS NULL OR a.level = ANY ($3))
      AND ($4::text[] IS NULL OR a.type = ANY ($4))
      AND ($5::text IS NULL OR a.hazard_point = $5)
      AND ($6::text IS NULL OR a.hazard_point IN (SELECT code FROM hazard_point WHERE county_code = $6))
      AND ($7::timestamptz IS NULL OR a.raised_at >= $7)
      AND ($10::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                          WHERE g.hazard_point = a.hazard_point AND g.person_id = $10))
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY raised_at DESC, id DESC LIMIT $8 OFFSET $9) AS page ON true
ORDER BY page.raised_at DESC, page.id DESC

-- name: alert_events
SELECT at, kind, from_level, to_level, actor, inputs, thresholds, rule_version, note
FROM alert_event
WHERE alert_id = $1
ORDER BY at, id

-- name: hazard_point_county
SELECT county_code FROM hazard_point WHERE code = $1

-- name: alert_visible
-- Whether alert $1 exists and the scoping person $2 (NULL: anyone) may see it.
SELECT EXISTS (
    SELECT 1 FROM alert a
    WHERE a.id = $1
      AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = a.hazard_point AND g.person_id = $2))
)

-- name: alert_event_visible
-- Whether the alert event $1 is about a point assigned to person $2: what a grid monitor's stream may send.
SELECT EXISTS (
    SELECT 1
    FROM alert_event e
    JOIN alert a ON a.id = e.alert_id
    JOIN grid_assignment g ON g.hazard_point = a.hazard_point
    WHERE e.id = $1 AND g.person_id = $2
)

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

-- name: people
-- People in name order. $1 county_code, $2 role, $3 limit, $4 offset, $5 scoping person: a grid monitor
-- sees the people of the grids of its own points (its colleagues up the chain), not every phone number.
WITH matching AS NOT MATERIALIZED (
    SELECT id, name, phone, roles, county_code, created_at, created_by
    FROM person
    WHERE ($1::text IS NULL OR county_code = $1)
      AND ($2::text IS NULL OR $2 = ANY (roles))
      AND ($5::bigint IS NULL OR id = $5 OR id IN (
              SELECT g.person_id FROM grid_assignment g
              WHERE g.hazard_point IN (SELECT hazard_point FROM grid_assignment WHERE person_id = $5)))
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY name, id LIMIT $3 OFFSET $4) AS page ON true
ORDER BY page.name, page.id

-- name: create_person
-- $5 author.
INSERT INTO person (name, phone, roles, county_code, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, name, phone, roles, county_code, created_at, created_by

-- name: lock_hazard_point
-- The point whose grid is replaced, locked so that two replacements do not interleave.
SELECT code FROM hazard_point WHERE code = $1 FOR UPDATE

-- name: people_missing
-- Which of the given person ids are not registered, in order.
SELECT id FROM unnest($1::bigint[]) AS given (id)
WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.id = given.id)
ORDER BY id

-- name: vacate_grid_roles
-- Empty every role of the point but the given ones.
DELETE FROM grid_assignment WHERE hazard_point = $1 AND NOT (role = ANY ($2::text[]))

-- name: assign_grid
-- Put each person in their role; a role that keeps its person keeps when and by whom it was assigned.
-- $4 author.
INSERT INTO grid_assignment (hazard_point, role, person_id, assigned_by)
SELECT $1, role, person_id, $4 FROM unnest($2::text[], $3::bigint[]) AS g (role, person_id)
ON CONFLICT (hazard_point, role) DO UPDATE
SET person_id = excluded.person_id, assigned_at = now(), assigned_by = excluded.assigned_by
WHERE grid_assignment.person_id <> excluded.person_id
