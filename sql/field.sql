-- The grid monitor's phone app (service/field): activation codes, the phones they bind, and wrong codes per address.

-- name: issue_code
-- A code (its sha256 $1) for person $2, issued by $3, valid $4 hours; NULL when the person is not one a phone may be
-- bound to: a monitor (person.roles) or someone on a point's grid.
INSERT INTO field_activation (code_hash, person_id, issued_by, expires_at)
SELECT $1, p.id, $3, now() + make_interval(secs => $4 * 3600)
FROM person p
WHERE p.id = $2
  AND ('monitor' = ANY (p.roles) OR EXISTS (SELECT 1 FROM grid_assignment g WHERE g.person_id = p.id))
RETURNING id, expires_at

-- name: eligible_people
-- The people a code may be issued for, by name.
SELECT p.id, p.name, p.phone
FROM person p
WHERE 'monitor' = ANY (p.roles) OR EXISTS (SELECT 1 FROM grid_assignment g WHERE g.person_id = p.id)
ORDER BY p.name, p.id

-- name: forget_old_activation_failures
-- Wrong codes untouched for a day, and not backing anyone off, are forgotten (a statement of its own, before the
-- claim: in one statement with it, the claim could still find the row it deletes).
DELETE FROM field_activation_failure
WHERE last_failed_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())

-- name: claim_activation_attempt
-- The wrong codes sent from address $1, the row locked until the attempt's transaction ends, with the database's
-- clock.
INSERT INTO field_activation_failure AS f (address)
VALUES ($1)
ON CONFLICT (address) DO UPDATE SET address = f.address
RETURNING f.failed_attempts, f.locked_until, now() AS now

-- name: record_failed_activation
-- One more wrong code from address $1; from the ($2 + 1)th in a row the next attempt waits $3 seconds, doubling each
-- time up to $4.
UPDATE field_activation_failure
SET failed_attempts = failed_attempts + 1,
    last_failed_at = now(),
    locked_until = CASE WHEN failed_attempts + 1 > $2
                        THEN now() + make_interval(secs => least($4, $3 * 2 ^ least(failed_attempts - $2, 20)))
                   END
WHERE address = $1
RETURNING locked_until

-- name: forget_failed_activations
DELETE FROM field_activation_failure WHERE address = $1

-- name: activation_by_code
-- The code whose sha256 is $1, locked until the activation's transaction ends, and whether it can still be used.
SELECT a.id, a.person_id, a.used_at IS NULL AND a.withdrawn_at IS NULL AND a.expires_at > now() AS usable
FROM field_activation a
WHERE a.code_hash = $1
FOR UPDATE

-- name: create_phone
-- A phone bound to person $2: session hash $1, CSRF token $3, label $4, from address $5.
INSERT INTO field_phone (session_hash, person_id, csrf_token, label, activated_from)
VALUES ($1, $2, $3, $4, $5)
RETURNING id

-- name: use_code
UPDATE field_activation SET used_at = now(), phone_id = $2 WHERE id = $1

-- name: phone_caller
-- The person behind a phone's session (sha256 $1), unless the phone was revoked. The phone is marked seen at most
-- every 5 minutes: not a write per request.
WITH phone AS (
    SELECT f.id AS phone_id, p.id AS person_id, p.name, f.csrf_token, f.last_seen_at
    FROM field_phone f
    JOIN person p ON p.id = f.person_id
    WHERE f.session_hash = $1 AND f.revoked_at IS NULL
), seen AS (
    UPDATE field_phone SET last_seen_at = now()
    WHERE id = (SELECT phone_id FROM phone) AND last_seen_at < now() - interval '5 minutes'
)
SELECT phone_id, person_id, name, csrf_token FROM phone

-- name: revoke_replaced_phone
-- The session a phone held before it was activated again (sha256 $1) ends; it was replaced by phone $2.
UPDATE field_phone SET revoked_at = now(), revoked_by = 'activated again as phone ' || $2::bigint
WHERE session_hash = $1 AND revoked_at IS NULL AND id <> $2

-- name: list_phones
-- Every phone, live ones first, newest first.
SELECT f.id, f.person_id, p.name, p.phone, f.label, f.activated_at, f.activated_from, f.last_seen_at,
       f.revoked_at, f.revoked_by
FROM field_phone f
JOIN person p ON p.id = f.person_id
ORDER BY f.revoked_at IS NOT NULL, f.activated_at DESC, f.id DESC

-- name: pending_codes
-- Codes issued and not yet used, withdrawn or expired, newest first.
SELECT a.id, a.person_id, p.name, p.phone, a.issued_by, a.issued_at, a.expires_at
FROM field_activation a
JOIN person p ON p.id = a.person_id
WHERE a.used_at IS NULL AND a.withdrawn_at IS NULL AND a.expires_at > now()
ORDER BY a.issued_at DESC, a.id DESC

-- name: revoke_phone
-- Revoke phone $1 by $2; NULL when there is no such live phone.
UPDATE field_phone SET revoked_at = now(), revoked_by = $2
WHERE id = $1 AND revoked_at IS NULL
RETURNING id

-- name: withdraw_code
-- Withdraw unused code $1; NULL when there is no such unused code.
UPDATE field_activation SET withdrawn_at = now()
WHERE id = $1 AND used_at IS NULL AND withdrawn_at IS NULL
RETURNING id

-- name: person_name
-- The name printed on a code's activation sheet (person $1).
SELECT name FROM person WHERE id = $1
