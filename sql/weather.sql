-- Meteorological risk warnings (service.weather) and the patrol regimes that generate patrol tasks
-- (alerting.patrols), loaded with sql.queries("weather"). The API's connections encode json themselves
-- and the engine's do not, so JSON goes in as text cast here and the regime queries read no json column.

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

-- name: warning_points
SELECT hazard_point FROM weather_warning_point WHERE warning_id = $1 ORDER BY hazard_point

-- name: warning_commands
SELECT device_id, command_id, error, attempted_at FROM weather_warning_command WHERE warning_id = $1 ORDER BY device_id

-- Patrol regimes (alerting.patrols). Every task goes to the point's monitor (NULL: nobody holds the role).

-- name: lock_task_generation
-- Serialises everything that creates regime tasks (the engine's job, two API requests), so that "no
-- second open task of a regime" holds; released at the end of the transaction.
SELECT pg_advisory_xact_lock($1)

-- name: merge_open_rain_tasks
-- The points of $1 that already have an open task of regime $2: its due time moves to $3 when that is
-- earlier ($4 false) or later ($4 true); a task whose due time moved escalates from its new one.
WITH moved AS (
    SELECT t.id, CASE WHEN $4::boolean THEN greatest(t.due_at, $3) ELSE least(t.due_at, $3) END AS due_at
    FROM patrol_task t
    WHERE t.hazard_point = ANY ($1::text[]) AND t.regime = $2 AND t.state = 'open'
    FOR UPDATE
)
UPDATE patrol_task t
SET due_at = moved.due_at,
    escalate_at = CASE WHEN moved.due_at = t.due_at THEN t.escalate_at END
FROM moved
WHERE t.id = moved.id
RETURNING t.hazard_point

-- name: insert_rain_tasks
-- A task of regime $2 for warning $5, due at $3, for each point of $1 without an open one; $4 now.
INSERT INTO patrol_task (hazard_point, regime, assignee_id, weather_warning_id, due_at, created_at)
SELECT u.code, $2, g.person_id, $5, $3, $4
FROM unnest($1::text[]) AS u (code)
LEFT JOIN grid_assignment g ON g.hazard_point = u.code AND g.role = 'monitor'
WHERE NOT EXISTS (SELECT 1 FROM patrol_task t WHERE t.hazard_point = u.code AND t.regime = $2 AND t.state = 'open')
RETURNING id

-- name: insert_periodic_tasks
-- Regime $1 every $3 for each active point without an open task of it, at $2 now: due one interval after
-- the later of now and the due time of its last task of the regime created since $5 (NULL: ever). With
-- $4, a positive monitoring_plan.routine_patrols_per_week sets the interval instead (7 days / that).
-- No task is made that would be due after $6 (NULL: no limit).
WITH point AS (
    SELECT p.code,
           CASE WHEN $4::boolean AND jsonb_typeof(p.monitoring_plan -> 'routine_patrols_per_week') = 'number'
                     AND (p.monitoring_plan ->> 'routine_patrols_per_week')::float8 > 0
                THEN make_interval(secs => 604800 / (p.monitoring_plan ->> 'routine_patrols_per_week')::float8)
                ELSE $3::interval
           END AS every
    FROM hazard_point p
    WHERE p.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM patrol_task t WHERE t.hazard_point = p.code AND t.regime = $1 AND t.state = 'open')
), due AS (
    SELECT point.code,
           greatest((SELECT max(t.due_at) FROM patrol_task t
                     WHERE t.hazard_point = point.code AND t.regime = $1
                       AND ($5::timestamptz IS NULL OR t.created_at >= $5)), $2::timestamptz) + point.every AS due_at
    FROM point
)
INSERT INTO patrol_task (hazard_point, regime, assignee_id, due_at, created_at)
SELECT due.code, $1, g.person_id, due.due_at, $2
FROM due
LEFT JOIN grid_assignment g ON g.hazard_point = due.code AND g.role = 'monitor'
WHERE $6::timestamptz IS NULL OR due.due_at <= $6
RETURNING id

-- name: insert_seasonal_tasks
-- Regime $1 once a season: a task due at $3 for each active point that has no open task of it and got
-- none since $4, the start of this season's window; $2 now.
INSERT INTO patrol_task (hazard_point, regime, assignee_id, due_at, created_at)
SELECT p.code, $1, g.person_id, $3, $2
FROM hazard_point p
LEFT JOIN grid_assignment g ON g.hazard_point = p.code AND g.role = 'monitor'
WHERE p.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM patrol_task t WHERE t.hazard_point = p.code AND t.regime = $1
                                                AND (t.state = 'open' OR t.created_at >= $4))
RETURNING id

-- name: cancel_tasks_of_retired_points
-- Open tasks of points that are treated, relocated or cancelled: nobody is to patrol them any more.
UPDATE patrol_task t SET state = 'cancelled'
FROM hazard_point p
WHERE p.code = t.hazard_point AND t.state = 'open' AND p.status IN ('treated', 'relocated', 'cancelled')
RETURNING t.id, t.hazard_point, t.regime

-- name: overdue_tasks
-- Open tasks past their next escalation (their due time until the first), oldest first.
SELECT t.id, t.hazard_point, p.county_code, t.regime, t.assignee_id, t.due_at, t.escalation_step,
       coalesce(t.escalate_at, t.due_at) AS deadline
FROM patrol_task t
JOIN hazard_point p ON p.code = t.hazard_point
WHERE t.state = 'open' AND coalesce(t.escalate_at, t.due_at) <= $1
ORDER BY deadline, t.id
FOR UPDATE OF t SKIP LOCKED

-- name: set_task_escalation
UPDATE patrol_task SET escalation_step = $2, escalate_at = $3 WHERE id = $1

-- name: insert_task_event
INSERT INTO patrol_task_event (task_id, at, kind, step, role, person_id, actor, inputs, note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9)
