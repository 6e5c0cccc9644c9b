-- The HTTP API's queries, loaded with sql.queries("api").
-- Placeholders are $1, $2, ...: asyncpg in the API, psycopg's RawCursor in the CLI's token commands.
-- List queries take their filters as parameters where NULL matches everything, and give every row
-- the total matching count: an empty page is one row of NULLs carrying that count.

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
-- $7..$10 bbox (min lon, min lat, max lon, max lat), $11 limit, $12 offset.
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
      AND ($7::float8 IS NULL OR (lon BETWEEN $7 AND $9::float8 AND lat BETWEEN $8::float8 AND $10::float8))
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY code LIMIT $11 OFFSET $12) AS page ON true
ORDER BY page.code

-- name: create_hazard_point
-- Answers no row when the code is taken.
INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, township_code, village_code,
                          threatened_households, threatened_people, threatened_property_wan_yuan, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (code) DO NOTHING
RETURNING code

-- name: hazard_point_sensors
SELECT device_id, code, kind, reporting_interval_s, v0_mm_per_day, thresholds, state, last_reading_at
FROM sensor
WHERE hazard_point = $1
ORDER BY device_id, code

-- name: hazard_point_grid
SELECT g.role, g.person_id, p.name, p.phone
FROM grid_assignment g
JOIN person p ON p.id = g.person_id
WHERE g.hazard_point = $1

-- name: alerts
-- Newest first. $1 id, $2 states, $3 levels, $4 types, $5 point, $6 county_code, $7 raised since,
-- $8 limit, $9 offset.
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
