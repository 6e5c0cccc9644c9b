-- Meteorological risk warnings (service.weather), loaded with sql.queries("weather"); their rain patrol tasks
-- are the patrol domain's (patrols.sql). The API's connections encode json themselves, so JSON goes in as text
-- cast here.

-- name: points_by_codes
-- The active hazard points of the named counties ($1 'county'), townships or villages, by code.
SELECT code, lon, lat
FROM hazard_point
WHERE status = 'active'
  AND CASE $1::text WHEN 'county' THEN county_code = ANY ($2::text[])
                    WHEN 'township' THEN township_code = ANY ($2::text[])
                    ELSE village_code = ANY ($2::text[]) END
ORDER BY code

-- name: points_in_bbox
-- The active hazard points in a box ($1 min lon, $2 min lat, $3 max lon, $4 max lat): the candidates a
-- polygon is tested against.
SELECT code, lon, lat
FROM hazard_point
WHERE status = 'active' AND lon BETWEEN $1 AND $3 AND lat BETWEEN $2 AND $4
ORDER BY code

-- name: insert_warning
INSERT INTO weather_warning (level, area_kind, area_codes, polygon, valid_from, valid_to, issuer, note, created_by,
                             created_at)
VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10)
RETURNING id

-- name: insert_warning_points
INSERT INTO weather_warning_point (warning_id, hazard_point)
SELECT $1, u.code FROM unnest($2::text[]) AS u (code)

-- name: devices_of_points
-- The devices that take the broadcast: not the manual ones, which a grid monitor reads by hand.
SELECT id FROM device WHERE hazard_point = ANY ($1::text[]) AND protocol <> 'manual' ORDER BY id

-- name: insert_warning_command
INSERT INTO weather_warning_command (warning_id, device_id, command_id, error, attempted_at)
VALUES ($1, $2, $3, $4, $5)

-- name: weather_warnings
-- Newest first. $1 warning id, $2 active at $3 (true: valid then; false: not), $4 levels, $5 a county: the
-- area names it (or a township or village in it: their codes begin with the county's), or covered a point
-- of it; $6 limit, $7 offset.
WITH matching AS NOT MATERIALIZED (
    SELECT w.id, w.level, w.area_kind, w.area_codes, w.polygon, w.valid_from, w.valid_to, w.issuer, w.note,
           w.created_by, w.created_at, (w.valid_from <= $3 AND $3 < w.valid_to) AS active
    FROM weather_warning w
    WHERE ($1::bigint IS NULL OR w.id = $1)
      AND ($2::boolean IS NULL OR (w.valid_from <= $3 AND $3 < w.valid_to) = $2)
      AND ($4::text[] IS NULL OR w.level = ANY ($4))
      AND ($5::text IS NULL
           OR EXISTS (SELECT 1 FROM unnest(w.area_codes) AS c WHERE left(c, 6) = $5)
           OR EXISTS (SELECT 1 FROM weather_warning_point wp JOIN hazard_point p ON p.code = wp.hazard_point
                      WHERE wp.warning_id = w.id AND p.county_code = $5))
)
SELECT total.count AS total_count, page.*,
       (SELECT count(*) FROM weather_warning_point wp WHERE wp.warning_id = page.id) AS point_count,
       (SELECT count(*) FROM patrol_task t WHERE t.weather_warning_id = page.id) AS tasks_created,
       (SELECT count(*) FROM weather_warning_command c WHERE c.warning_id = page.id AND c.command_id IS NOT NULL)
           AS commands_sent,
       (SELECT count(*) FROM weather_warning_command c WHERE c.warning_id = page.id AND c.command_id IS NULL)
           AS commands_failed
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7) AS page ON true
ORDER BY page.created_at DESC, page.id DESC

-- name: warning_tasks
-- The rain patrol tasks warning $1 created, by point and regime, at most $3, each row with how many there are;
-- $2 scoping person.
SELECT t.id, t.hazard_point AS point, p.name AS point_name, t.regime, t.state, t.due_at, t.done_at,
       (t.state = 'open' AND t.due_at < now()) AS overdue, a.name AS assignee_name, a.phone AS assignee_phone,
       count(*) OVER () AS total_count
FROM patrol_task t
JOIN hazard_point p ON p.code = t.hazard_point
LEFT JOIN person a ON a.id = t.assignee_id
WHERE t.weather_warning_id = $1
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = t.hazard_point AND g.person_id = $2))
ORDER BY t.hazard_point, t.due_at, t.id
LIMIT $3

-- name: warning_broadcasts
-- Warning $1's broadcast, device by device: its command and the device's answer, or why it was not sent; at most
-- $3 devices, each row with how many there are; $2 scoping person.
SELECT c.device_id, d.hazard_point AS point, c.command_id, c.error, c.attempted_at, dc.result, dc.answer,
       dc.answered_at, count(*) OVER () AS total_count
FROM weather_warning_command c
LEFT JOIN device d ON d.id = c.device_id
LEFT JOIN device_command dc ON dc.command_id = c.command_id AND dc.device_id = c.device_id
WHERE c.warning_id = $1
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = d.hazard_point AND g.person_id = $2))
ORDER BY c.device_id
LIMIT $3

-- name: counties
-- The counties that have active hazard points, with how many: the areas a warning may name by county.
-- $1 scoping person.
SELECT p.county_code, count(*) AS points
FROM hazard_point p
WHERE p.status = 'active'
  AND ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = p.code AND g.person_id = $1))
GROUP BY p.county_code
ORDER BY p.county_code
