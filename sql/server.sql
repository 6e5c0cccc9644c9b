-- Questions about the database server itself, not about any domain: whether it answers, whether it is migrated,
-- and how many connections it has left. Loaded with sql.queries("server").

-- name: ready
SELECT 1

-- name: schema_present
-- NULL until `geohazard migrate` has run here.
SELECT to_regclass('schema_migration')

-- name: connection_budget
-- max_connections, the superusers' reserve, and the client connections in use other than this one.
SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
       (SELECT count(*) - 1 FROM pg_stat_activity WHERE backend_type = 'client backend')
