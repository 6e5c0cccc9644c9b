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
