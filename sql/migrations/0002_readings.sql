-- Readings, and what ingest could not take: dead letters and quarantine.
-- Plain PostgreSQL tables; 0004 turns readings into a hypertable where TimescaleDB is available.

CREATE TABLE reading (
    device_id       text NOT NULL,
    sensor_code     text NOT NULL,
    ts              timestamptz NOT NULL,
    kind            text NOT NULL,
    -- The analysed series: crack opening, GNSS horizontal resultant, tilt angle, deep resultant,
    -- rain in the interval; the other fields of the reading are in `fields`.
    value           double precision,
    fields          jsonb,
    -- Quality flags (out_of_range, spike, stuck, future, stale, sensor_state); flagged readings are
    -- stored and left out of warning evaluation.
    quality         text[] NOT NULL DEFAULT '{}',
    server_timed    boolean NOT NULL DEFAULT false,
    received_at     timestamptz NOT NULL DEFAULT now(),
    -- Redelivery never duplicates: a reading is unique on (device, sensor, time).
    PRIMARY KEY (device_id, sensor_code, ts)
);
CREATE INDEX reading_ts_idx ON reading (ts DESC);

-- Hourly rain per gauge. 0004 replaces this view with a continuous aggregate of the same shape.
CREATE VIEW rain_hourly AS
SELECT device_id, sensor_code, date_trunc('hour', ts) AS bucket,
       sum(value) AS rain_mm, count(*) AS readings
FROM reading
WHERE kind = 'rain' AND quality = '{}'
GROUP BY device_id, sensor_code, date_trunc('hour', ts);

CREATE TABLE dead_letter (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    client_id   text,
    payload     bytea NOT NULL,
    reason      text NOT NULL
);
CREATE INDEX dead_letter_received_idx ON dead_letter (received_at DESC);

-- Readings from devices or sensors not in the registry: kept, never analysed, replayable.
CREATE TABLE quarantine (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    topic           text NOT NULL,
    device_id       text NOT NULL,
    sensor_code     text NOT NULL,
    ts              timestamptz NOT NULL,
    kind            text NOT NULL,
    value           double precision,
    fields          jsonb,
    quality         text[] NOT NULL DEFAULT '{}',
    server_timed    boolean NOT NULL DEFAULT false,
    reason          text NOT NULL,
    replayed_at     timestamptz,
    UNIQUE (device_id, sensor_code, ts)
);
CREATE INDEX quarantine_pending_idx ON quarantine (device_id, sensor_code) WHERE replayed_at IS NULL;
