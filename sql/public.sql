-- The public warning pages (service.public): what anyone may see, with no sign-in. Public points are those whose
-- status is one of $1 (service.public.service.PUBLIC_STATUSES); a point's level is read through the API's own query
-- (hazard_points.sql), these add what it lacks.

-- name: public_divisions
-- The county, township and village codes that have public points, with how many: the choices of the place selects.
SELECT county_code, township_code, village_code, count(*) AS points
FROM hazard_point
WHERE status = ANY ($1::text[])
GROUP BY county_code, township_code, village_code
ORDER BY county_code, township_code NULLS FIRST, village_code NULLS FIRST

-- name: public_warnings
-- The unresolved alerts of levels $2 at public points, highest level first, then the oldest: what the public is
-- warned of, with the card that says what to do. At most $3, each row with how many there are.
SELECT a.id, a.type, a.level, a.raised_at, a.updated_at, p.code AS point, p.name AS point_name,
       p.type AS point_type, p.county_code, p.township_code, p.village_code, p.card,
       count(*) OVER () AS total_count
FROM alert a
JOIN hazard_point p ON p.code = a.hazard_point
WHERE a.state <> 'resolved'
  AND a.level = ANY ($2::text[])
  AND p.status = ANY ($1::text[])
ORDER BY alert_level_rank(a.level) DESC, a.raised_at, a.id
LIMIT $3

-- name: public_reports_since
-- How many reports one address sent since $2 (the rate limit).
SELECT count(*) FROM public_report WHERE address = $1 AND received_at >= $2

-- name: insert_public_report
INSERT INTO public_report (received_at, lon, lat, accuracy_m, description, phone, photo_key, photo_media_type,
                           photo_size_bytes, photo_sha256, address, hazard_point, distance_m, task_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id

-- name: open_report_verification_task
-- The point's open verification task of no alert, made for an earlier report: the monitor goes once for them all.
-- Reports about one point are filed one at a time (the lock), so two cannot each make a task.
SELECT pg_advisory_xact_lock(hashtext('public_report_point:' || $1)),
       (SELECT id FROM patrol_task
        WHERE hazard_point = $1 AND regime = 'verification' AND alert_id IS NULL AND state = 'open'
        ORDER BY id LIMIT 1) AS id

-- name: unverified_public_reports
-- The unverified reports, newest first; $1 a grid person sees only those whose nearest point is theirs.
SELECT r.id, r.received_at, r.lon, r.lat, r.accuracy_m, r.description, r.phone, r.photo_key IS NOT NULL AS has_photo,
       r.hazard_point, r.distance_m, r.task_id, h.name AS point_name
FROM public_report r
LEFT JOIN hazard_point h ON h.code = r.hazard_point
WHERE r.state = 'unverified'
  AND ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                      WHERE g.hazard_point = r.hazard_point AND g.person_id = $1))
ORDER BY r.received_at DESC, r.id DESC
LIMIT $2

-- name: public_report_photo
SELECT r.photo_key, r.photo_media_type
FROM public_report r
WHERE r.id = $1 AND r.photo_key IS NOT NULL
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                      WHERE g.hazard_point = r.hazard_point AND g.person_id = $2))

-- name: close_public_report
UPDATE public_report SET state = $2, checked_by = $3, checked_at = $4, note = $5
WHERE id = $1 AND state = 'unverified'
  AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                      WHERE g.hazard_point = public_report.hazard_point AND g.person_id = $6))
RETURNING id

-- name: lock_report_address
-- One address's reports are counted and written one at a time, so two sent together cannot both slip under the limit.
SELECT pg_advisory_xact_lock(hashtext('public_report:' || $1))
