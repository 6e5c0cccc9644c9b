-- Failed console sign-ins counted per phone number and client address, not per login (issue 15, from a review):
-- keyed on the login alone, anyone who knew a duty officer's phone number could keep that officer locked out with
-- one wrong password every few minutes. A row is claimed (locked) for the whole of an attempt, so concurrent
-- attempts from one address are counted one after another, and removed by a successful sign-in.
CREATE TABLE console_sign_in_failure (
    phone           text NOT NULL,
    address         text NOT NULL,
    failed_attempts integer NOT NULL DEFAULT 0,
    -- When the next attempt from this address for this phone is allowed (NULL: now).
    locked_until    timestamptz,
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (phone, address)
);
CREATE INDEX console_sign_in_failure_age_idx ON console_sign_in_failure (last_failed_at);

ALTER TABLE console_login DROP COLUMN failed_attempts, DROP COLUMN locked_until;
