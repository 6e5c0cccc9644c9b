-- The grid monitor's phone app (issue 16, /field): one-time activation codes and the phones they bound.
-- A monitor has no password: an administrator issues a code (printed as a QR code and a short code), the monitor
-- opens it on the phone, and the phone gets a long-lived session that acts as a grid_monitor caller of the person
-- (the API's grid scoping). An administrator lists and revokes phones; a revoked phone's session ends at once.

-- A phone bound to a person. Only the sha256 of its session cookie is stored; the CSRF token is the one every
-- report the phone sends must carry back (in a header: the outbox sends them from script).
CREATE TABLE field_phone (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id       bigint NOT NULL REFERENCES person (id),
    session_hash    bytea NOT NULL UNIQUE,
    csrf_token      text NOT NULL,
    -- What the phone said it was when activated (its user agent, cut short), for the administrator's list.
    label           text NOT NULL,
    activated_at    timestamptz NOT NULL DEFAULT now(),
    activated_from  text,
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_by      text
);
CREATE INDEX field_phone_person_idx ON field_phone (person_id) WHERE revoked_at IS NULL;

-- A code an administrator issued. Only the sha256 of the code is stored (the printed sheet is the only copy); it
-- binds one phone, once, before it expires, unless withdrawn first.
CREATE TABLE field_activation (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_hash       bytea NOT NULL UNIQUE,
    person_id       bigint NOT NULL REFERENCES person (id),
    issued_by       text NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    phone_id        bigint REFERENCES field_phone (id),
    withdrawn_at    timestamptz,
    CHECK ((used_at IS NULL) = (phone_id IS NULL)),
    CHECK (expires_at > issued_at)
);
CREATE INDEX field_activation_person_idx ON field_activation (person_id, issued_at DESC);

-- Wrong codes typed on a phone, per client address: after a few, each next attempt waits (as console sign-ins do).
CREATE TABLE field_activation_failure (
    address         text PRIMARY KEY,
    failed_attempts integer NOT NULL DEFAULT 0,
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz
);
