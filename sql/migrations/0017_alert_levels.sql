-- The warning levels for the queries, so that SQL stops spelling them out (issue 14). Their home is
-- alerting/levels.py; tests/test_alert_levels.py holds these functions equal to it. A level's rank is its
-- position, blue 1 to red 4, as in alerting.levels; none (no alert) has no position here: NULL.
-- IMMUTABLE SQL functions of one expression are inlined by the planner, so a query ranks with the same
-- constant array as when it spelled it out, and plans as before.

CREATE FUNCTION alert_levels() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['blue', 'yellow', 'orange', 'red'];

CREATE FUNCTION alert_level_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_position(alert_levels(), level);

-- Migration 0008's webhook trigger, unchanged but for ranking the levels with alert_level_rank.
CREATE OR REPLACE FUNCTION alert_event_published() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_delivery (webhook_id, alert_event_id)
    SELECT w.id, NEW.id
    FROM webhook w
    CROSS JOIN alert a
    JOIN hazard_point p ON p.code = a.hazard_point
    WHERE a.id = NEW.alert_id
      AND w.active
      AND greatest(alert_level_rank(a.level), alert_level_rank(NEW.from_level), alert_level_rank(NEW.to_level))
          >= alert_level_rank(w.min_level)
      AND (w.types IS NULL OR a.type = ANY (w.types))
      AND (w.county_codes IS NULL OR p.county_code = ANY (w.county_codes))
      AND (w.kinds IS NULL OR NEW.kind = ANY (w.kinds))
    ON CONFLICT (webhook_id, alert_event_id) DO NOTHING;
    -- Delivered to listeners at commit, in commit order; never if the transaction rolls back.
    PERFORM pg_notify('alert_event', NEW.id::text);
    RETURN NULL;
END
$$;
