-- The duty console (issue 15): logins for people, their browser sessions, and the shift log.
-- Tokens stay for machines; a person signs in to /console with a phone number and a password.

-- One login per person. The phone is the sign-in name, so it is unique among logins (person.phone is not
-- unique: a household may share one). The role is one of the API's roles (service.auth.schemas.ROLES) and
-- scopes the console exactly as it scopes a token: a grid monitor sees only its own points.
CREATE TABLE console_login (
    person_id           bigint PRIMARY KEY REFERENCES person (id),
    phone               text NOT NULL UNIQUE CHECK (phone <> ''),
    role                text NOT NULL CHECK (role IN ('admin', 'duty_officer', 'grid_monitor', 'viewer')),
    -- argon2id, in the PHC string format argon2-cffi writes ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash       text NOT NULL,
    -- Set by an administrator's reset: the person must choose a password of their own at the next sign-in.
    must_change         boolean NOT NULL DEFAULT true,
    -- Failed sign-ins in a row, and when the next attempt is allowed (a back-off that doubles; NULL: now).
    failed_attempts     integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    disabled_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text,
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

-- A signed-in browser. Only the sha256 of the cookie is stored; the CSRF token is the one every form of the
-- session must carry back. A session ends at logout, after console_session_idle_h without a request, when its
-- password changes elsewhere, or when an administrator resets or disables the login.
CREATE TABLE console_session (
    id_hash         bytea PRIMARY KEY,
    person_id       bigint NOT NULL REFERENCES console_login (person_id),
    csrf_token      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    user_agent      text,
    address         text
);
CREATE INDEX console_session_person_idx ON console_session (person_id) WHERE ended_at IS NULL;

-- The handover note an officer writes at the end of a shift; the next officer reads the latest one with what
-- changed since it was written.
CREATE TABLE shift_note (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES person (id),
    written_by  text NOT NULL,
    note        text NOT NULL CHECK (note <> ''),
    written_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shift_note_written_idx ON shift_note (written_at DESC);
