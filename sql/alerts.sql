-- Alerts and their events as the API reads them (service.alerts), loaded with sql.queries("alerts"). The
-- lifecycle's writes are in lifecycle.sql. The list follows sql/__init__.py's conventions for lists and for a
-- grid monitor's scope.

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
