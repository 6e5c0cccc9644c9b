-- API tokens and what a grid monitor may see (service.auth), loaded with sql.queries("auth").
-- Placeholders are $1, $2, ...: asyncpg in the API, psycopg's RawCursor in the CLI's token commands.

-- name: create_token
INSERT INTO api_token (name, role, person_id, token_hash)
VALUES ($1, $2, $3, $4)
RETURNING id

-- name: revoke_token
UPDATE api_token
SET revoked_at = now()
WHERE id = $1 AND revoked_at IS NULL
RETURNING id

-- name: list_tokens
SELECT id, name, role, person_id, created_at, revoked_at
FROM api_token
ORDER BY id

-- name: token_by_hash
SELECT id, name, role, person_id
FROM api_token
WHERE token_hash = $1 AND revoked_at IS NULL

-- name: point_assigned
-- Whether person $2 holds a role in the grid of point $1 (service.auth.scope: what a grid monitor may see).
SELECT EXISTS (SELECT 1 FROM grid_assignment WHERE hazard_point = $1 AND person_id = $2)
