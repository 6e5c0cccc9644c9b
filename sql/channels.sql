-- Queries of the alert channels (webhooks, the SSE stream, CAP), loaded with sql.queries("channels").
-- Placeholders are $1, $2, ... (asyncpg).

-- name: notifications_by_id
-- The notifications of the given alert event ids, oldest event first.
SELECT *
FROM alert_notification
WHERE event_id = ANY ($1::bigint[])
ORDER BY event_id

-- name: notifications_after
-- The notifications of the events after $1, oldest first, at most $2.
SELECT *
FROM alert_notification
WHERE event_id > $1
ORDER BY event_id
LIMIT $2

-- name: create_webhook
INSERT INTO webhook (url, secret, min_level, types, county_codes, kinds, description)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id

-- name: claim_due_deliveries
-- Claim the due pending deliveries of active webhooks, at most $3 per webhook (oldest event first), by
-- moving their next attempt to the lease's end $2. $1 now, $4 webhooks this dispatcher is busy with.
-- Two dispatchers racing for one row: the loser's UPDATE re-checks next_attempt_at and skips it.
WITH due AS (
    SELECT d.id, row_number() OVER (PARTITION BY d.webhook_id ORDER BY d.alert_event_id) AS n
    FROM webhook_delivery d
    JOIN webhook w ON w.id = d.webhook_id
    WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND w.active
      AND NOT (d.webhook_id = ANY ($4::bigint[]))
)
UPDATE webhook_delivery d
SET next_attempt_at = $2
FROM due, webhook w
WHERE d.id = due.id AND due.n <= $3 AND w.id = d.webhook_id
  AND d.state = 'pending' AND d.next_attempt_at <= $1
RETURNING d.id, d.webhook_id, d.alert_event_id, d.attempts, d.created_at, w.url, w.secret

-- name: record_attempt
-- One attempt of delivery $1: its outcome on the delivery, and a row in the log.
-- $2 state, $3 status code, $4 error, $5 next attempt, $6 started at, $7 duration (ms).
WITH delivery AS (
    UPDATE webhook_delivery
    SET attempts = attempts + 1, state = $2::text, status_code = $3::integer, error = $4::text,
        next_attempt_at = $5::timestamptz,
        delivered_at = CASE WHEN $2::text = 'delivered' THEN $6::timestamptz END
    WHERE id = $1
    RETURNING id, attempts
)
INSERT INTO webhook_delivery_attempt (delivery_id, attempt, started_at, duration_ms, status_code, error)
SELECT id, attempts, $6, $7, $3, $4
FROM delivery

-- name: cap_alert
-- An alert with what CAP needs of its hazard point.
SELECT a.id, a.hazard_point AS point, a.type, a.level, a.state, a.reasons, a.evidence, a.raised_at,
       a.updated_at, a.rule_version, a.verdict, a.verified_at, a.resolved_at, a.resolved_by,
       p.code AS point_code, p.name AS point_name, p.type AS point_type, p.scale AS point_scale,
       p.lon, p.lat, p.county_code, p.township_code, p.village_code, p.threatened_people, p.card
FROM alert a
JOIN hazard_point p ON p.code = a.hazard_point
WHERE a.id = $1

-- name: cap_alert_events
SELECT id, at, kind, from_level, to_level, actor
FROM alert_event
WHERE alert_id = $1
ORDER BY at, id
