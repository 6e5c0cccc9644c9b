-- Patrol tasks and patrol reports (SPEC 5 and 6), loaded with sql.queries("patrols").
-- List queries follow api.sql: filters where NULL matches everything, every row carrying the total
-- matching count (an empty page is one row of NULLs with that count). A grid monitor's person id
-- bounds what it sees: NULL for every other role (service.auth.scope).
-- The API's connections encode json themselves and the engine's do not, so JSON goes in as text cast here.

-- name: patrol_tasks
-- Most urgent first. $1 scoping person, $2 assignee (mine), $3 point, $4 states, $5 regimes, $6 overdue,
-- $7 now, $8 limit, $9 offset.
WITH matching AS NOT MATERIALIZED (
    SELECT t.id, t.hazard_point AS point, p.name AS point_name, p.lon AS point_lon, p.lat AS point_lat,
           t.regime, t.state, t.assignee_id, a.name AS assignee_name, a.phone AS assignee_phone, t.alert_id,
           t.due_at, t.created_at, t.done_at, (t.state = 'open' AND t.due_at < $7) AS overdue
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
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY due_at, id LIMIT $8 OFFSET $9) AS page ON true
ORDER BY page.due_at, page.id

-- name: patrol_reports
-- Newest first. $1 report id, $2 scoping person, $3 point, $4 task, $5 judgements, $6 reported since,
-- $7 far from point, $8 limit, $9 offset.
WITH matching AS NOT MATERIALIZED (
    SELECT r.id, r.hazard_point AS point, r.task_id AS task, r.reporter_id, pe.name AS reporter_name,
           r.recorded_by, r.reported_at, r.received_at, r.lon, r.lat, r.accuracy_m, r.findings, r.judgement,
           r.note, r.photos, r.measurements, r.distance_m, r.far_from_point, r.alert_id
    FROM patrol_report r
    LEFT JOIN person pe ON pe.id = r.reporter_id
    WHERE ($1::bigint IS NULL OR r.id = $1)
      AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = r.hazard_point AND g.person_id = $2))
      AND ($3::text IS NULL OR r.hazard_point = $3)
      AND ($4::bigint IS NULL OR r.task_id = $4)
      AND ($5::text[] IS NULL OR r.judgement = ANY ($5))
      AND ($6::timestamptz IS NULL OR r.reported_at >= $6)
      AND ($7::boolean IS NULL OR r.far_from_point = $7)
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
INSERT INTO patrol_report (task_id, hazard_point, reporter_id, recorded_by, reported_at, received_at, lon, lat,
                           accuracy_m, findings, judgement, note, photos, distance_m, far_from_point, measurements)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb, $14, $15, $16::text::jsonb)
RETURNING id

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

-- The alert a person's report raises (alerting.flows.raise_from_patrol_report).

-- name: open_alert_for_update
SELECT id, hazard_point, type, level, state
FROM alert
WHERE hazard_point = $1 AND type = $2 AND state <> 'resolved'
FOR UPDATE

