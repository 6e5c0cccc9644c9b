-- A displacement sensor's resolution (SPEC 4.1), and manual devices (SPEC 6): the marked cracks of a point that
-- grid monitors measure with a tape, whose measurements come with patrol reports rather than over MQTT.

-- mm (degrees for tilt); NULL: the kind's default (alerting.rules.DEFAULT_RESOLUTION_MM). PostgreSQL orders NaN
-- above Infinity, so the second bound keeps out both.
ALTER TABLE sensor
    ADD COLUMN resolution_mm double precision CHECK (resolution_mm > 0 AND resolution_mm < 'Infinity');

ALTER TABLE device DROP CONSTRAINT device_protocol_check;
ALTER TABLE device ADD CONSTRAINT device_protocol_check CHECK (protocol IN ('universal', 'native', 'manual'));

-- The tape measurements a report carried, as filed: [{"device", "sensor", "value_mm"}]; each is also a reading
-- of its sensor at the report's time.
ALTER TABLE patrol_report ADD COLUMN measurements jsonb NOT NULL DEFAULT '[]'::jsonb;
