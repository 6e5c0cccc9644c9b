-- Downlink commands to devices and their answers (SPEC 2.1, 2.2), and per-device broker passwords
-- (SPEC 2.4, written by `geohazard acl`).

CREATE TABLE device_command (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id       text NOT NULL REFERENCES device (id) ON DELETE CASCADE,
    -- In the universal request and answer topics and in the native JSON: how an answer finds its command.
    command_id      text NOT NULL UNIQUE,
    name            text NOT NULL CHECK (name IN ('setsensortime', 'getstatus', 'settime',
                        'meteorologicalearlywarning')),
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Exactly what was published, and where.
    payload         text NOT NULL,
    topic           text NOT NULL,
    sent_at         timestamptz NOT NULL DEFAULT now(),
    sent_by         text NOT NULL,
    -- The last answer as it arrived; result stays NULL when the answer could not be read.
    answer          text,
    result          text CHECK (result IN ('succ', 'fail')),
    answered_at     timestamptz
);
CREATE INDEX device_command_device_idx ON device_command (device_id, sent_at DESC);

-- Mosquitto's hash ($7$ PBKDF2-SHA512) of the device's broker password; the password itself is
-- shown once, when `geohazard acl` generates it. NULL: the device has no password yet.
ALTER TABLE device ADD COLUMN mqtt_password_hash text;
