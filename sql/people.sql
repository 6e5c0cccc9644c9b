-- People (service.people), loaded with sql.queries("people").
-- The list follows sql/__init__.py's conventions for lists and for a grid monitor's scope.

-- name: people
-- People in name order. $1 county_code, $2 role, $3 limit, $4 offset, $5 scoping person: a grid monitor
-- sees the people of the grids of its own points (its colleagues up the chain), not every phone number.
WITH matching AS NOT MATERIALIZED (
    SELECT id, name, phone, roles, county_code, created_at, created_by
    FROM person
    WHERE ($1::text IS NULL OR county_code = $1)
      AND ($2::text IS NULL OR $2 = ANY (roles))
      AND ($5::bigint IS NULL OR id = $5 OR id IN (
              SELECT g.person_id FROM grid_assignment g
              WHERE g.hazard_point IN (SELECT hazard_point FROM grid_assignment WHERE person_id = $5)))
)
SELECT total.count AS total_count, page.*
FROM (SELECT count(*) FROM matching) AS total
LEFT JOIN LATERAL (SELECT * FROM matching ORDER BY name, id LIMIT $3 OFFSET $4) AS page ON true
ORDER BY page.name, page.id

-- name: create_person
-- $5 author.
INSERT INTO person (name, phone, roles, county_code, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, name, phone, roles, county_code, created_at, created_by
