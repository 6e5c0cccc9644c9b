-- What comes in from outside other than good readings, loaded with sql.queries("intake"): the dead letters
-- and quarantined readings ingest could not take (the API's /dead-letters and /quarantine), and the
-- registry lookups of `geohazard import`. List queries follow sql/__init__.py: every row carries the total
-- matching count, and an empty page is one row of NULLs carrying that count.

-- name: dead_letters
-- Newest first. $1 received since, $2 text the reason contains (any case), $3 topic prefix, $4 limit, $5 offset,
-- $6 the payload's SHA-256.
WITH matching AS NOT MATERIALIZED (
    SELECT id, received_at, topic, client_id, payload, payload_bytes, payload_sha256, reason
    FROM dead_letter
    WHERE ($1::timestamptz IS NULL OR received_at >= $1)
      AND ($2::text IS NULL OR strpos(lower(reason), lower($2)) > 0)
      AND ($3::text IS NULL OR starts_with(topic, $3))
      AND ($6::bytea IS NULL OR payload_sha256 = $6)
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY received_at DESC, id DESC LIMIT $4 OFFSET $5) AS page ON true
ORDER BY page.received_at DESC, page.id DESC

-- name: quarantine
-- Newest first. $1 device, $2 text the reason contains (any case), $3 also those already replayed,
-- $4 limit, $5 offset.
WITH matching AS NOT MATERIALIZED (
    SELECT id, received_at, topic, device_id, sensor_code, ts, kind, value, fields, quality, server_timed, reason,
           replayed_at
    FROM quarantine
    WHERE ($1::text IS NULL OR device_id = $1)
      AND ($2::text IS NULL OR strpos(lower(reason), lower($2)) > 0)
      AND ($3::boolean OR replayed_at IS NULL)
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY received_at DESC, id DESC LIMIT $4 OFFSET $5) AS page ON true
ORDER BY page.received_at DESC, page.id DESC

-- name: quarantine_pending
-- Quarantined readings not yet replayed, of one device ($1) or of all (NULL).
SELECT count(*) FROM quarantine WHERE replayed_at IS NULL AND ($1::text IS NULL OR device_id = $1)

-- name: device_registered
SELECT EXISTS (SELECT 1 FROM device WHERE id = $1)

-- name: registered_point_codes
-- Which of the given hazard point codes are registered.
SELECT code FROM hazard_point WHERE code = ANY ($1::text[])

-- name: registered_device_ids
-- Which of the given device ids are registered.
SELECT id FROM device WHERE id = ANY ($1::text[])

-- name: people_by_phone
-- Registered people with one of the given phone numbers.
SELECT id, name, phone FROM person WHERE phone = ANY ($1::text[]) ORDER BY id
