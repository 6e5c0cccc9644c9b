-- `geohazard demo` (service.demo), loaded with sql.queries("demo").
-- Placeholders are $1, $2, ...: psycopg's RawCursor.

-- name: forget_readings
-- The readings of the demo's devices ($1) from an earlier run.
DELETE FROM reading WHERE device_id = ANY ($1::text[])

-- name: forget_alerts
-- The alerts of the demo's points ($1) from an earlier run.
DELETE FROM alert WHERE hazard_point = ANY ($1::text[])

-- name: demo_person
-- The seeded person ($1: phone) who gets the demo's console login, and whether they have one already.
SELECT p.id, p.name, EXISTS (SELECT 1 FROM console_login l WHERE l.person_id = p.id) AS has_login
FROM person p
WHERE p.phone = $1
ORDER BY p.id
LIMIT 1

-- name: demo_monitor
-- The monitor on the grid of seeded point $1 (a point has one), whose phone the demo prints an activation link for.
SELECT p.id, p.name
FROM grid_assignment g
JOIN person p ON p.id = g.person_id
WHERE g.hazard_point = $1 AND g.role = 'monitor'
