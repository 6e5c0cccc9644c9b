-- What an alert change owes beyond itself, recorded in the change's own transaction (the outbox of issue 13):
-- an engine killed between an alert's commit and its effects used to lose them for good (on restart the level
-- had not changed, so nothing was done again).
--
-- A trigger on alert_event writes one row per owed effect, so no writer (the engine, an officer through the
-- API, a patrol report) can forget it:
--   topic         the point's retained MQTT topic (SPEC 2.3) republished: after every change of the alert's
--                 level or state;
--   verification  the field-verification task requested, hastened or called off (SPEC 4.4);
--   sampling      the point's sensors sent into accelerated sampling, or given their interval back.
-- Webhooks and the SSE stream need no row: the trigger of migration 0008 queues them the same way.
-- alerting.outbox carries the rows out, at least once, in whichever process runs next.

CREATE TABLE alert_owed (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_event_id  bigint NOT NULL REFERENCES alert_event (id) ON DELETE CASCADE,
    alert_id        bigint NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
    effect          text NOT NULL CHECK (effect IN ('topic', 'verification', 'sampling')),
    -- When the change was made: a verification task is due counted from here, however late it is created.
    owed_since      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    -- NULL: at once. Set after an attempt that could not finish (the broker away, a device not answering).
    next_attempt_at timestamptz,
    last_error      text,
    done_at         timestamptz,
    UNIQUE (alert_event_id, effect)
);
-- What is still owed, oldest first, and per alert and effect (rows of one alert and effect are done in order).
CREATE INDEX alert_owed_pending_idx ON alert_owed (id) WHERE done_at IS NULL;
CREATE INDEX alert_owed_alert_idx ON alert_owed (alert_id, effect, id) WHERE done_at IS NULL;

CREATE FUNCTION alert_event_owes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_owed (alert_event_id, alert_id, effect, owed_since)
    SELECT NEW.id, NEW.alert_id, owed.effect, NEW.at
    FROM unnest(CASE
        -- alerting.effects decides by the level what a raise sets going (a blue raise: only the topic).
        WHEN NEW.kind IN ('raised', 'level_raised', 'resolved') THEN ARRAY['topic', 'verification', 'sampling']
        WHEN NEW.kind IN ('level_lowered', 'acknowledged', 'verified') THEN ARRAY['topic']
        ELSE ARRAY[]::text[]
    END) AS owed (effect);
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_event_owes
AFTER INSERT ON alert_event
FOR EACH ROW EXECUTE FUNCTION alert_event_owes();
