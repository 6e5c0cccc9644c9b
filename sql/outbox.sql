-- What alert changes owe, and its carrying out (alerting.outbox; the rows are written by the trigger of
-- migration 0015). Loaded with sql.queries("outbox").

-- name: owed_due
-- Up to $3 owed effects due at $1, of one alert ($2) or of any (NULL): topics and tasks first (the warning
-- itself, and quick), then sampling commands, each oldest first. A row waits while an earlier one of the same
-- alert and effect is owed, so a resolve's restore never runs before the raise's acceleration.
SELECT o.id, o.effect
FROM alert_owed o
WHERE o.done_at IS NULL
  AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= $1)
  AND ($2::bigint IS NULL OR o.alert_id = $2)
  AND NOT EXISTS (SELECT 1 FROM alert_owed b
                  WHERE b.alert_id = o.alert_id AND b.effect = o.effect AND b.done_at IS NULL AND b.id < o.id)
ORDER BY o.effect = 'sampling', o.id
LIMIT $3

-- name: owed_for_update
-- One owed effect with what carrying it out needs, locked until it is done; nothing when it is done already, is
-- being done by another process (skipped, not waited for), or must wait for an earlier one.
SELECT o.id, o.effect, o.owed_since, o.attempts, e.kind, e.from_level, e.to_level, e.actor,
       a.id AS alert_id, a.hazard_point, p.county_code, a.type, a.state
FROM alert_owed o
JOIN alert_event e ON e.id = o.alert_event_id
JOIN alert a ON a.id = o.alert_id
JOIN hazard_point p ON p.code = a.hazard_point
WHERE o.id = $1 AND o.done_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM alert_owed b
                  WHERE b.alert_id = o.alert_id AND b.effect = o.effect AND b.done_at IS NULL AND b.id < o.id)
FOR UPDATE OF o SKIP LOCKED

-- name: owed_done
UPDATE alert_owed SET done_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1

-- name: owed_later
-- An attempt that could not finish: tried again at $2, with what went wrong.
UPDATE alert_owed SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $1

-- name: owed_count
-- How many effects are owed and how old the oldest is: for the engine's log and the health check.
SELECT count(*) AS owed, min(owed_since) AS oldest FROM alert_owed WHERE done_at IS NULL

-- name: current_alert_of_point
-- The alert a point's retained MQTT topic shows: its highest open alert, newest first on ties.
SELECT a.id, a.hazard_point AS point, a.type, a.level, a.state, a.reasons, a.evidence,
       a.raised_at, a.updated_at, a.rule_version
FROM alert a
WHERE a.hazard_point = $1 AND a.state <> 'resolved'
ORDER BY alert_level_rank(a.level) DESC, a.updated_at DESC
LIMIT 1
