-- Patrol reports as phones file them (SPEC 5 and 6): who recorded each one, how far from its point it was
-- made, the alert a dangerous one raised, and the alert event that notes a report on an alert already at
-- orange or red.

ALTER TABLE patrol_report
    -- The API token that filed it (ApiToken.actor); reporter_id is that token's person, if it has one.
    ADD COLUMN recorded_by  text,
    -- Great-circle distance from the reported position to the point; far_from_point says it was too far.
    ADD COLUMN distance_m   double precision CHECK (distance_m >= 0),
    -- The deformation alert a `dangerous` report raised, raised further, or was recorded on.
    ADD COLUMN alert_id     bigint REFERENCES alert (id) ON DELETE SET NULL,
    ADD CONSTRAINT patrol_report_findings_check CHECK (findings <@ ARRAY['new_cracks', 'crack_widening', 'bulging',
        'subsidence', 'spring_or_seepage_change', 'rockfall', 'tilting_trees_or_poles', 'house_damage',
        'abnormal_sound', 'nothing_abnormal']::text[]);
UPDATE patrol_report SET recorded_by = 'unknown (filed before migration 0011)' WHERE recorded_by IS NULL;
ALTER TABLE patrol_report ALTER COLUMN recorded_by SET NOT NULL;

CREATE INDEX patrol_report_task_idx ON patrol_report (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX patrol_report_reported_idx ON patrol_report (reported_at DESC);
-- "My tasks" on a monitor's phone.
CREATE INDEX patrol_task_assignee_idx ON patrol_task (assignee_id, state);
CREATE INDEX patrol_task_due_idx ON patrol_task (due_at) WHERE state = 'open';

-- A dangerous report on an alert already at orange or red changes no level: the event says who reported what.
ALTER TABLE alert_event DROP CONSTRAINT alert_event_kind_check;
ALTER TABLE alert_event ADD CONSTRAINT alert_event_kind_check CHECK (kind IN (
    'raised', 'level_raised', 'level_lowered', 'acknowledged', 'verified', 'resolved', 'escalated',
    'notified', 'evacuated', 'verification_requested', 'verification_cancelled', 'sampling_accelerated',
    'sampling_restored', 'patrol_reported'));
