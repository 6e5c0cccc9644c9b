-- Device health as devices report it (status frames and topics) and as ingest observes it (traffic).

ALTER TABLE device
    ADD COLUMN solar_v          double precision,
    ADD COLUMN humidity_pct     double precision,
    ADD COLUMN sw_version       text,
    -- When the last status report came; `status` keeps the latest value of every field ever reported.
    ADD COLUMN status_at        timestamptz;

ALTER TABLE sensor
    -- When the device last reported this sensor's state (0 ok, -1 power error, -2 data error, -3 no data).
    ADD COLUMN state_reported_at timestamptz,
    -- Silent for more than three reporting intervals; set and cleared by ingest.
    ADD COLUMN offline          boolean NOT NULL DEFAULT false;

CREATE INDEX sensor_silent_idx ON sensor (last_reading_at) WHERE NOT offline;
