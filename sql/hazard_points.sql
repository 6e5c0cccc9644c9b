-- Hazard points and their grids (service.hazard_points), loaded with sql.queries("hazard_points").
-- The list follows sql/__init__.py's conventions for lists and for a grid monitor's scope.

-- name: hazard_points
-- Hazard points with their current level: the highest level among their alerts not resolved, else none.
-- $1 code, $2 county_code, $3 township_code, $4 village_code, $5 types, $6 levels,
-- $7..$10 bbox (min lon, min lat, max lon, max lat), $11 limit, $12 offset, $13 scoping person, $14 statuses.
WITH open_level AS (
    SELECT hazard_point, max(alert_level_rank(level)) AS rank
    FROM alert
    WHERE state <> 'resolved'
    GROUP BY hazard_point
), point AS (
    SELECT p.code, p.name, p.type, p.scale, p.lon, p.lat, p.county_code, p.township_code, p.village_code,
           p.threatened_households, p.threatened_people, p.threatened_property_wan_yuan::float8, p.status,
           coalesce((alert_levels())[o.rank], 'none') AS level,
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

-- name: hazard_point_county
SELECT county_code FROM hazard_point WHERE code = $1

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
