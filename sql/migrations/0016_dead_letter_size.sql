-- A dead letter keeps only the beginning of a long payload (ingest keeps 65,538 bytes, the largest universal
-- frame), with the whole payload's size and SHA-256 so that a person can tell what it was and match it to a
-- device's log (issue 13: 200 messages of 5 MB had put 1 GB of dead letters in the database).
-- Plain PostgreSQL; no TimescaleDB step touches dead_letter.

ALTER TABLE dead_letter
    ADD COLUMN payload_bytes integer,
    ADD COLUMN payload_sha256 bytea;

-- The letters already stored: sized and hashed whole, then cut like new ones.
UPDATE dead_letter
SET payload_bytes = length(payload),
    payload_sha256 = sha256(payload),
    payload = substring(payload FROM 1 FOR 65538);

ALTER TABLE dead_letter
    ALTER COLUMN payload_bytes SET NOT NULL,
    ALTER COLUMN payload_sha256 SET NOT NULL,
    ADD CONSTRAINT dead_letter_payload_kept CHECK (length(payload) <= payload_bytes),
    ADD CONSTRAINT dead_letter_sha256_length CHECK (length(payload_sha256) = 32);

-- GET /dead-letters?payload_sha256=...: every letter of one message (a letter per bad reading) and its
-- redeliveries, whichever of them kept its bytes.
CREATE INDEX dead_letter_sha256_idx ON dead_letter (payload_sha256);
