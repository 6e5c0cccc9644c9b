-- Alerts with their events, patrol tasks and patrol reports.

CREATE TABLE alert (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard_point    text NOT NULL REFERENCES hazard_point (code) ON DELETE CASCADE,
    type            text NOT NULL CHECK (type IN ('deformation', 'rainfall', 'device')),
    level           text NOT NULL CHECK (level IN ('blue', 'yellow', 'orange', 'red')),
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'verified',
                        'resolved')),
    reasons         jsonb NOT NULL DEFAULT '[]'::jsonb,
    evidence        jsonb NOT NULL DEFAULT '{}'::jsonb,
    rule_version    text NOT NULL,
    raised_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- The level the inputs have fallen to, and since when; the alert lowers once it has held long enough.
    pending_level   text CHECK (pending_level IN ('none', 'blue', 'yellow', 'orange', 'red')),
    pending_since   timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    verified_at     timestamptz,
    verified_by     text,
    verdict         text CHECK (verdict IN ('confirmed', 'false_alarm')),
    resolved_at     timestamptz,
    resolved_by     text
);
-- At most one open alert per hazard point and type.
CREATE UNIQUE INDEX alert_one_open_idx ON alert (hazard_point, type) WHERE state <> 'resolved';
CREATE INDEX alert_state_idx ON alert (state, level);
CREATE INDEX alert_raised_idx ON alert (raised_at DESC);

CREATE TABLE alert_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('raised', 'level_raised', 'level_lowered',
                        'acknowledged', 'verified', 'resolved', 'escalated', 'notified')),
    from_level      text,
    to_level        text,
    actor           text NOT NULL,
    -- The inputs (v, v0, alpha, totals, ...) and thresholds used, so the change can be explained.
    inputs          jsonb NOT NULL DEFAULT '{}'::jsonb,
    thresholds      jsonb NOT NULL DEFAULT '{}'::jsonb,
    rule_version    text,
    note            text
);
CREATE INDEX alert_event_alert_idx ON alert_event (alert_id, at);

CREATE TABLE patrol_task (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hazard_point    text NOT NULL REFERENCES hazard_point (code) ON DELETE CASCADE,
    regime          text NOT NULL CHECK (regime IN ('routine', 'flood_before', 'flood_during', 'flood_after',
                        'rain_before', 'rain_during', 'rain_after', 'verification')),
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'cancelled')),
    assignee_id     bigint REFERENCES person (id),
    alert_id        bigint REFERENCES alert (id),
    due_at          timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE INDEX patrol_task_point_idx ON patrol_task (hazard_point, state);

CREATE TABLE patrol_report (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id         bigint REFERENCES patrol_task (id),
    hazard_point    text NOT NULL REFERENCES hazard_point (code) ON DELETE CASCADE,
    reporter_id     bigint REFERENCES person (id),
    reported_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    lon             double precision,
    lat             double precision,
    accuracy_m      double precision,
    findings        text[] NOT NULL DEFAULT '{}',
    judgement       text NOT NULL CHECK (judgement IN ('normal', 'suspicious', 'dangerous')),
    note            text,
    photos          jsonb NOT NULL DEFAULT '[]'::jsonb,
    far_from_point  boolean NOT NULL DEFAULT false
);
CREATE INDEX patrol_report_point_idx ON patrol_report (hazard_point, reported_at DESC);
