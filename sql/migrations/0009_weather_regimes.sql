-- Meteorological risk warnings (气象风险预警) and the patrol regimes that generate patrol tasks (SPEC 5):
-- the warnings with their area, the points they covered and the devices they were broadcast to; which
-- warning a rain task came from; and the escalation of overdue tasks up the point's grid chain.

CREATE TABLE weather_warning (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    level           text NOT NULL CHECK (level IN ('blue', 'yellow', 'orange', 'red')),
    -- The area, given one way: administrative codes of one kind, or a GeoJSON Polygon/MultiPolygon.
    area_kind       text NOT NULL CHECK (area_kind IN ('county', 'township', 'village', 'polygon')),
    area_codes      text[] CHECK (cardinality(area_codes) > 0),
    polygon         jsonb,
    valid_from      timestamptz NOT NULL,
    valid_to        timestamptz NOT NULL,
    issuer          text,
    note            text,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to > valid_from),
    CHECK (CASE WHEN area_kind = 'polygon' THEN polygon IS NOT NULL AND area_codes IS NULL
                ELSE area_codes IS NOT NULL AND polygon IS NULL END)
);
CREATE INDEX weather_warning_validity_idx ON weather_warning (valid_to, valid_from);
CREATE INDEX weather_warning_created_idx ON weather_warning (created_at DESC, id DESC);

-- The active hazard points the area held when the warning was issued.
CREATE TABLE weather_warning_point (
    warning_id      bigint NOT NULL REFERENCES weather_warning (id) ON DELETE CASCADE,
    hazard_point    text NOT NULL REFERENCES hazard_point (code) ON DELETE CASCADE,
    PRIMARY KEY (warning_id, hazard_point)
);
CREATE INDEX weather_warning_point_idx ON weather_warning_point (hazard_point);

-- The `meteorologicalearlywarning` broadcast, one row per device of the covered points: the command id
-- (in device_command, with whatever answer arrives) or why it could not be sent.
CREATE TABLE weather_warning_command (
    warning_id      bigint NOT NULL REFERENCES weather_warning (id) ON DELETE CASCADE,
    device_id       text NOT NULL,
    command_id      text,
    error           text,
    attempted_at    timestamptz NOT NULL,
    PRIMARY KEY (warning_id, device_id),
    CHECK ((command_id IS NULL) <> (error IS NULL))
);

ALTER TABLE patrol_task
    -- The warning a rain task was created for.
    ADD COLUMN weather_warning_id   bigint REFERENCES weather_warning (id) ON DELETE SET NULL,
    -- How far up the point's grid chain an overdue task has gone (as alert.escalation_step: 1 monitor ..
    -- 4 county technical admin); NULL: not escalated yet, the chain starts above the assignee's role.
    ADD COLUMN escalation_step      smallint CHECK (escalation_step BETWEEN 0 AND 4),
    -- When the open task escalates next; NULL: at due_at.
    ADD COLUMN escalate_at          timestamptz;

CREATE INDEX patrol_task_escalate_idx ON patrol_task (coalesce(escalate_at, due_at)) WHERE state = 'open';
CREATE INDEX patrol_task_regime_idx ON patrol_task (hazard_point, regime, created_at DESC);

-- Who was told about an overdue task, and when.
CREATE TABLE patrol_task_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id         bigint NOT NULL REFERENCES patrol_task (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('escalated', 'notified')),
    step            smallint NOT NULL CHECK (step BETWEEN 0 AND 4),
    role            text,
    person_id       bigint REFERENCES person (id) ON DELETE SET NULL,
    actor           text NOT NULL,
    inputs          jsonb NOT NULL DEFAULT '{}'::jsonb,
    note            text
);
CREATE INDEX patrol_task_event_task_idx ON patrol_task_event (task_id, at);
