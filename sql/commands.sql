-- Downlink commands and broker credentials, loaded with sql.queries("commands").
-- Placeholders are $1, $2, ...: psycopg's RawCursor in the CLI, asyncpg in the long-running processes.
-- JSON goes in as text and is cast here, which both drivers accept without a codec.

-- name: device_protocol
SELECT protocol FROM device WHERE id = $1

-- name: insert_command
INSERT INTO device_command (device_id, command_id, name, params, payload, topic, sent_by)
VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7)

-- name: withdraw_command
-- A command the broker did not accept: it was never sent.
DELETE FROM device_command WHERE command_id = $1

-- name: record_answer
-- $1 command_id, $2 answering device, $3 the answer as it arrived, $4 the command it names, $5 result.
-- The result counts only when the answer names the command it answers; the text is kept either way.
UPDATE device_command
SET answer = $3,
    result = CASE WHEN name = $4::text THEN $5::text END,
    answered_at = now()
WHERE command_id = $1 AND device_id = $2
RETURNING name, result

-- name: recent_commands
SELECT command_id, name, params, sent_at, sent_by, result, answer, answered_at
FROM device_command
WHERE device_id = $1
ORDER BY sent_at DESC
LIMIT $2

-- name: lock_credentials
-- Serialises `geohazard acl` runs, so two of them never hand out two passwords for one device.
SELECT pg_advisory_xact_lock($1)

-- name: broker_accounts
-- Manual devices (a grid monitor's tape at marked cracks) never connect: no broker account for them.
SELECT id, protocol, hazard_point, mqtt_password_hash FROM device WHERE protocol <> 'manual' ORDER BY id

-- name: set_password_hashes
UPDATE device
SET mqtt_password_hash = new.hash
FROM unnest($1::text[], $2::text[]) AS new (id, hash)
WHERE device.id = new.id
