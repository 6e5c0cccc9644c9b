-- Who wrote each registry record (SPEC 6: every write records its author), next to when.
-- The API fills these from the caller's token (ApiToken.actor, e.g. "county admin (person 7)").
-- NULL: written before authorship was recorded, or seeded by a tool that writes SQL directly.

ALTER TABLE hazard_point
    ADD COLUMN created_by   text,
    -- The last change through the API (PATCH, cancellation); updated_at already says when.
    ADD COLUMN updated_by   text;

-- Registry changes of a device (its point, its acceleration unit), not the health it reports.
ALTER TABLE device
    ADD COLUMN created_by   text,
    ADD COLUMN updated_at   timestamptz,
    ADD COLUMN updated_by   text;
UPDATE device SET updated_at = created_at;
ALTER TABLE device
    ALTER COLUMN updated_at SET DEFAULT now(),
    ALTER COLUMN updated_at SET NOT NULL;

ALTER TABLE person ADD COLUMN created_by text;

-- Who put this person in this role of the point's grid; assigned_at already says when.
ALTER TABLE grid_assignment ADD COLUMN assigned_by text;

-- A grid monitor's view of the registry (service/auth/scope.py) starts from its own assignments.
CREATE INDEX grid_assignment_person_idx ON grid_assignment (person_id, hazard_point);
