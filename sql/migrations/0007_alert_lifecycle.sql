-- The alert lifecycle of SPEC 4.4: acknowledgement deadlines and escalation, accelerated sampling
-- while an alert is orange or red, and the evacuation a confirmed red alert records.

ALTER TABLE alert
    -- When the alert escalates next unless acknowledged: raised_at plus the level's deadline,
    -- restarted by a level raise, moved on one deadline at each escalation.
    ADD COLUMN ack_deadline     timestamptz,
    -- How far up the point's grid chain the alert has gone: 0 nobody yet, 1 monitor, 2 area lead,
    -- 3 resident geologist, 4 county technical admin (roles nobody holds are skipped).
    ADD COLUMN escalation_step  smallint NOT NULL DEFAULT 0 CHECK (escalation_step BETWEEN 0 AND 4),
    -- When the point's devices were first sent into accelerated sampling for this alert.
    ADD COLUMN accelerated_at   timestamptz;

CREATE INDEX alert_ack_deadline_idx ON alert (ack_deadline) WHERE state = 'open';

-- What else happens to an alert, so its history shows who did what and when.
ALTER TABLE alert_event DROP CONSTRAINT alert_event_kind_check;
ALTER TABLE alert_event ADD CONSTRAINT alert_event_kind_check CHECK (kind IN (
    'raised', 'level_raised', 'level_lowered', 'acknowledged', 'verified', 'resolved', 'escalated',
    'notified', 'evacuated', 'verification_requested', 'verification_cancelled', 'sampling_accelerated',
    'sampling_restored'));

-- One row per sensor an alert sent into accelerated sampling; restoring fills in the second half.
CREATE TABLE accelerated_sampling (
    alert_id                bigint NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
    device_id               text NOT NULL,
    sensor_code             text NOT NULL,
    normal_interval_s       integer NOT NULL CHECK (normal_interval_s > 0),
    accelerated_interval_s  integer NOT NULL CHECK (accelerated_interval_s > 0),
    accelerated_at          timestamptz NOT NULL,
    accelerate_command_id   text NOT NULL,
    restored_at             timestamptz,
    -- NULL with restored_at set: another open alert of the point still keeps the sensor accelerated.
    restore_command_id      text,
    PRIMARY KEY (alert_id, device_id, sensor_code)
);
CREATE INDEX accelerated_sampling_open_idx ON accelerated_sampling (device_id, sensor_code) WHERE restored_at IS NULL;

-- The evacuation of a point's threatened people under a confirmed red alert: how many moved, where,
-- who organised it and when. An alert may record several (groups moved at different times or places).
CREATE TABLE evacuation (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id            bigint NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
    people_moved        integer NOT NULL CHECK (people_moved >= 0),
    households_moved    integer CHECK (households_moved >= 0),
    -- The point's threatened people when this was recorded: of how many.
    threatened_people   integer NOT NULL,
    shelter             text NOT NULL CHECK (shelter <> ''),
    organised_by        text NOT NULL,
    moved_at            timestamptz NOT NULL,
    recorded_by         text NOT NULL,
    recorded_at         timestamptz NOT NULL,
    note                text
);
CREATE INDEX evacuation_alert_idx ON evacuation (alert_id, moved_at);
