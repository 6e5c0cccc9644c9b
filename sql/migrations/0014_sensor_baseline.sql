-- The quiet baseline of each displacement sensor (SPEC 4.1): the median velocity over the last 30 days outside
-- open deformation alerts, which is the sensor's reference creep rate v0 unless the geologist configured one.
-- The engine refreshes it at least daily; it counts once it rests on 7 days of quiet data.

CREATE TABLE sensor_baseline (
    device_id       text NOT NULL,
    code            text NOT NULL,
    -- mm/d (deg/d for tilt); NULL while fewer than 7 quiet days stand behind it: the kind's default applies.
    v0_mm_per_day   double precision,
    -- The series' median over the quiet period: where a tilt's change is counted from.
    reference_value double precision,
    quiet_days      double precision NOT NULL,
    period_from     timestamptz NOT NULL,
    period_to       timestamptz NOT NULL,
    computed_at     timestamptz NOT NULL,
    PRIMARY KEY (device_id, code),
    FOREIGN KEY (device_id, code) REFERENCES sensor (device_id, code) ON DELETE CASCADE
);
