-- The alert lifecycle: alert changes, officer transitions, escalation and the effects of level changes
-- (SPEC 4.4): alerting.flows, alerting.scheduled and alerting.effects.
-- Loaded with sql.queries("lifecycle"). The HTTP pool decodes json as Python objects and the engine's
-- connections do not, so JSON goes in as text cast here and these queries never read a json column.

-- name: insert_alert
-- Nothing when the point already has an open alert of the type: one was opened since the evaluation
-- looked (a patrol report judged dangerous); the next evaluation moves that one.
-- JSON goes in as text: the API's connections encode json themselves and the engine's do not.
INSERT INTO alert (hazard_point, type, level, reasons, evidence, rule_version, raised_at, updated_at)
VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb, $6, $7, $7)
ON CONFLICT (hazard_point, type) WHERE state <> 'resolved' DO NOTHING
RETURNING id

-- name: set_alert_level
-- Only while it is still open at the level the evaluation read ($7): an officer may have closed or
-- lowered it, or a dangerous patrol report raised it, since; then nothing, and the next evaluation
-- acts on what it is now.
WITH old AS (SELECT id, level FROM alert WHERE id = $1 AND state <> 'resolved' AND level = $7 FOR NO KEY UPDATE)
UPDATE alert a
SET level = $2, reasons = $3::text::jsonb, evidence = $4::text::jsonb, rule_version = $5, updated_at = $6,
    pending_level = NULL, pending_since = NULL
FROM old WHERE a.id = old.id
RETURNING old.level AS from_level

-- name: set_alert_pending
UPDATE alert SET pending_level = $2, pending_since = $3 WHERE id = $1

-- name: resolve_alert
-- Nothing when it was closed, or its level changed ($4: the level the caller read), meanwhile.
UPDATE alert
SET state = 'resolved', resolved_at = $2, resolved_by = $3, updated_at = $2,
    pending_level = NULL, pending_since = NULL
WHERE id = $1 AND state <> 'resolved' AND level = $4
RETURNING id

-- name: open_alert_for_update
-- The point's unresolved alert of a type, which a person's report raises (raise_from_patrol_report).
SELECT id, hazard_point, type, level, state
FROM alert
WHERE hazard_point = $1 AND type = $2 AND state <> 'resolved'
FOR NO KEY UPDATE

-- name: alert_for_update
-- One alert with what its transitions check, locked until the transition commits. Alert rows are locked
-- FOR NO KEY UPDATE throughout: the outbox's inserts referencing an alert (tasks, accelerated sensors) hold a
-- KEY SHARE lock on it while commands are sent, which FOR UPDATE would wait for.
SELECT a.id, a.hazard_point, p.county_code, p.threatened_people, a.type, a.level, a.state, a.verdict,
       a.pending_level, a.pending_since
FROM alert a
JOIN hazard_point p ON p.code = a.hazard_point
WHERE a.id = $1
FOR NO KEY UPDATE OF a

-- name: acknowledge
UPDATE alert SET state = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3, updated_at = $2
WHERE id = $1

-- name: verify
UPDATE alert SET state = 'verified', verified_at = $2, verified_by = $3, verdict = $4, updated_at = $2
WHERE id = $1

-- name: lower_level
-- An officer's confirmation lowers the level; the alert keeps its state, reasons and evidence.
UPDATE alert SET level = $2, updated_at = $3, pending_level = NULL, pending_since = NULL
WHERE id = $1

-- name: insert_event
INSERT INTO alert_event (alert_id, at, kind, from_level, to_level, actor, inputs, thresholds, rule_version, note)
VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9, $10)

-- name: insert_evacuation
INSERT INTO evacuation (alert_id, people_moved, households_moved, threatened_people, shelter, organised_by,
                        moved_at, recorded_by, recorded_at, note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id

-- name: set_ack_deadline
UPDATE alert SET ack_deadline = $2 WHERE id = $1

-- name: overdue_alerts
-- Open alerts past their acknowledgement deadline, oldest deadline first. $2 levels and $3 their
-- deadlines: an alert raised by code that set no deadline counts from when it was raised.
SELECT a.id, a.hazard_point, p.county_code, a.type, a.level, a.escalation_step,
       coalesce(a.ack_deadline, a.raised_at + d.period) AS deadline
FROM alert a
JOIN hazard_point p ON p.code = a.hazard_point
JOIN unnest($2::text[], $3::interval[]) AS d (level, period) ON d.level = a.level
WHERE a.state = 'open' AND coalesce(a.ack_deadline, a.raised_at + d.period) <= $1
ORDER BY deadline, a.id  -- the output column: the deadline in force
FOR NO KEY UPDATE OF a SKIP LOCKED

-- name: grid_chains
SELECT g.hazard_point, g.role, p.id AS person_id, p.name, p.phone
FROM grid_assignment g
JOIN person p ON p.id = g.person_id
WHERE g.hazard_point = ANY ($1::text[])

-- name: set_escalation
UPDATE alert SET escalation_step = $2, ack_deadline = $3 WHERE id = $1

-- name: point_monitor
SELECT p.id, p.name, p.phone
FROM grid_assignment g
JOIN person p ON p.id = g.person_id
WHERE g.hazard_point = $1 AND g.role = 'monitor'

-- name: verification_tasks
SELECT id, state, due_at FROM patrol_task
WHERE alert_id = $1 AND regime = 'verification'
ORDER BY id
FOR UPDATE

-- name: insert_verification_task
INSERT INTO patrol_task (hazard_point, regime, assignee_id, alert_id, due_at, created_at)
VALUES ($1, 'verification', $2, $3, $4, $5)
RETURNING id

-- name: set_task_due
UPDATE patrol_task SET due_at = $2 WHERE id = $1

-- name: cancel_verification_tasks
UPDATE patrol_task SET state = 'cancelled'
WHERE alert_id = $1 AND regime = 'verification' AND state = 'open'
RETURNING id

-- name: sensors_to_accelerate
-- The sensors of the point's devices, of the given kinds, this alert has not accelerated yet; manual ones
-- (measured by hand) take no commands.
SELECT s.device_id, s.code, s.reporting_interval_s
FROM sensor s
JOIN device d ON d.id = s.device_id
WHERE d.hazard_point = $1 AND s.kind = ANY ($2::text[]) AND d.protocol <> 'manual'
  AND NOT EXISTS (SELECT 1 FROM accelerated_sampling x
                  WHERE x.alert_id = $3 AND x.device_id = s.device_id AND x.sensor_code = s.code)
ORDER BY s.device_id, s.code

-- name: insert_accelerated
INSERT INTO accelerated_sampling (alert_id, device_id, sensor_code, normal_interval_s, accelerated_interval_s,
                                  accelerated_at, accelerate_command_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)

-- name: mark_accelerated
UPDATE alert SET accelerated_at = coalesce(accelerated_at, $2) WHERE id = $1

-- name: sampling_to_restore
-- What this alert accelerated and has not restored, at the sensor's current normal interval, and
-- whether another unresolved alert of the point still wants the sensor fast.
SELECT x.device_id, x.sensor_code, coalesce(s.reporting_interval_s, x.normal_interval_s) AS normal_interval_s,
       EXISTS (SELECT 1 FROM accelerated_sampling y JOIN alert b ON b.id = y.alert_id
               WHERE y.device_id = x.device_id AND y.sensor_code = x.sensor_code AND y.restored_at IS NULL
                 AND y.alert_id <> x.alert_id AND b.state <> 'resolved') AS kept_by_another_alert
FROM accelerated_sampling x
LEFT JOIN sensor s ON s.device_id = x.device_id AND s.code = x.sensor_code
WHERE x.alert_id = $1 AND x.restored_at IS NULL
ORDER BY x.device_id, x.sensor_code

-- name: mark_restored
UPDATE accelerated_sampling SET restored_at = $4, restore_command_id = $5
WHERE alert_id = $1 AND device_id = $2 AND sensor_code = $3
