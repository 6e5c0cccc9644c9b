-- Patrol tasks and patrol reports (SPEC 5 and 6): the patrol domain's (alerting.patrols), loaded with
-- sql.queries("patrols").
-- List queries follow sql/__init__.py: filters where NULL matches everything, every row carrying the total
-- matching count (an empty page is one row of NULLs with that count). A grid monitor's person id
-- bounds what it sees: NULL for every other role (service.auth.scope).
-- The API's connections encode json themselves and the engine's do not, so JSON goes in as text cast here.

-- The regimes (alerting.patrols.tasks). Every task goes to the point's monitor (NULL: nobody holds the role).

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

-- The API's lists and a report's writes (alerting.patrols.tasks and alerting.patrols.reports).

-- name: patrol_tasks
-- Most urgent first. $1 scoping person, $2 assignee (mine), $3 point, $4 states, $5 regimes, $6 overdue,
-- $7 now, $8 limit, $9 offset, $10 county.
WITH matching AS NOT MATERIALIZED (
    SELECT t.id, t.hazard_point AS point, p.name AS point_name, p.lon AS point_lon, p.lat AS point_lat,
           t.regime, t.state, t.assignee_id, a.name AS assignee_name, a.phone AS assignee_phone, t.alert_id,
           t.due_at, t.created_at, t.done_at, (t.state = 'open' AND t.due_at < $7) AS overdue,
           t.escalation_step, CASE WHEN t.state = 'open' THEN coalesce(t.escalate_at, t.due_at) END AS escalate_at
    FROM patrol_task t
    JOIN hazard_point p ON p.code = t.hazard_point
    LEFT JOIN person a ON a.id = t.assignee_id
    WHERE ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = t.hazard_point AND g.person_id = $1))
      AND ($2::bigint IS NULL OR t.assignee_id = $2)
      AND ($3::text IS NULL OR t.hazard_point = $3)
      AND ($4::text[] IS NULL OR t.state = ANY ($4))
      AND ($5::text[] IS NULL OR t.regime = ANY ($5))
      AND ($6::boolean IS NULL OR (t.state = 'open' AND t.due_at < $7) = $6)
      AND ($10::text IS NULL OR p.county_code = $10)
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY due_at, id LIMIT $8 OFFSET $9) AS page ON true
ORDER BY page.due_at, page.id

-- name: patrol_reports
-- Newest first. $1 report id, $2 scoping person, $3 point, $4 task, $5 judgements, $6 reported since,
-- $7 far from point, $8 limit, $9 offset, $10 county.
WITH matching AS NOT MATERIALIZED (
    SELECT r.id, r.hazard_point AS point, hp.name AS point_name, r.task_id AS task, r.reporter_id,
           pe.name AS reporter_name,
           r.recorded_by, r.reported_at, r.received_at, r.lon, r.lat, r.accuracy_m, r.findings, r.judgement,
           r.note, r.photos, r.measurements, r.distance_m, r.far_from_point, r.alert_id, r.client_id
    FROM patrol_report r
    JOIN hazard_point hp ON hp.code = r.hazard_point
    LEFT JOIN person pe ON pe.id = r.reporter_id
    WHERE ($1::bigint IS NULL OR r.id = $1)
      AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = r.hazard_point AND g.person_id = $2))
      AND ($3::text IS NULL OR r.hazard_point = $3)
      AND ($4::bigint IS NULL OR r.task_id = $4)
      AND ($5::text[] IS NULL OR r.judgement = ANY ($5))
      AND ($6::timestamptz IS NULL OR r.reported_at >= $6)
      AND ($7::boolean IS NULL OR r.far_from_point = $7)
      AND ($10::text IS NULL OR hp.county_code = $10)
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY reported_at DESC, id DESC LIMIT $8 OFFSET $9) AS page ON true
ORDER BY page.reported_at DESC, page.id DESC

-- name: report_point
SELECT code, county_code, lon, lat FROM hazard_point WHERE code = $1

-- name: reporter_name
SELECT name FROM person WHERE id = $1

-- name: task_for_update
-- The task a report names, locked until the report commits so two reports cannot both close it.
SELECT id, hazard_point, state FROM patrol_task WHERE id = $1
FOR UPDATE

-- name: mark_task_done
UPDATE patrol_task SET state = 'done', done_at = $2
WHERE id = $1 AND state = 'open'

-- name: insert_report
-- No row (and no id) when a report with the same client id ($17) is stored, or is being stored by a transaction
-- that then commits: the statement waits for it.
INSERT INTO patrol_report (task_id, hazard_point, reporter_id, recorded_by, reported_at, received_at, lon, lat,
                           accuracy_m, findings, judgement, note, photos, distance_m, far_from_point, measurements,
                           client_id, task_marked_done)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb, $14, $15, $16::text::jsonb, $17, $18)
ON CONFLICT (client_id) WHERE client_id IS NOT NULL DO NOTHING
RETURNING id

-- name: report_by_client_id
-- The stored report of a client id, and who filed it: a resent report is answered with it.
SELECT id, reporter_id, recorded_by, task_marked_done FROM patrol_report WHERE client_id = $1

-- name: manual_sensors
-- The sensors of the point's manual devices: the marked cracks a report may carry tape measurements of.
SELECT s.device_id, s.code
FROM sensor s
JOIN device d ON d.id = s.device_id
WHERE s.hazard_point = $1 AND d.protocol = 'manual'
ORDER BY s.code, s.device_id

-- name: insert_measured_reading
-- A tape measurement as a reading of its manual sensor; a resent report stores nothing twice.
INSERT INTO reading (device_id, sensor_code, ts, kind, value, quality)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (device_id, sensor_code, ts) DO NOTHING

-- name: set_report_alert
UPDATE patrol_report SET alert_id = $2 WHERE id = $1

-- name: report_photos
-- The photos of a report the caller may see ($2: the scoping person, as in patrol_reports).
SELECT r.photos
FROM patrol_report r
WHERE r.id = $1
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = r.hazard_point AND g.person_id = $2))
