-- Alert channels (SPEC 4.4): HTTP webhooks with their delivery log, and the notification every channel
-- sends. Every change of an alert is already an alert_event row, so alert_event is the one source:
-- * a trigger NOTIFYs channel `alert_event` with the event id, delivered when the inserting transaction
--   commits (the SSE stream and the webhook dispatcher LISTEN to it);
-- * the same trigger queues one webhook_delivery per matching active webhook in that transaction (an
--   outbox), so a delivery exists exactly when its event is committed: nothing is lost while the
--   dispatcher is down or its LISTEN connection drops, and no event is skipped when concurrent
--   transactions commit their event ids out of order.

CREATE TABLE webhook (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url             text NOT NULL CHECK (url ~ '^https?://'),
    -- The HMAC-SHA256 key of X-Geohazard-Signature. Kept as given: signing needs the secret itself.
    secret          text NOT NULL CHECK (length(secret) >= 16),
    -- The event filter: an event is sent when the highest of its alert's level and its from/to levels
    -- reaches min_level (so whoever heard an alert rise also hears it fall and close), and its alert's
    -- type, its point's county and its kind are in the lists (NULL: any).
    min_level       text NOT NULL DEFAULT 'blue' CHECK (min_level IN ('blue', 'yellow', 'orange', 'red')),
    types           text[],
    county_codes    text[],
    kinds           text[],
    description     text,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per (webhook, event): its state and the schedule of its next attempt.
CREATE TABLE webhook_delivery (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    alert_event_id  bigint NOT NULL REFERENCES alert_event (id) ON DELETE CASCADE,
    -- pending until a 2xx answer (delivered) or until retrying would pass 24 h after queueing (failed).
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- The last attempt's HTTP status (NULL: no answer) and what went wrong, if anything.
    status_code     integer,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- While pending: when to try next; a new delivery is due at once, whatever the dispatcher's clock
    -- says. A dispatcher claims a delivery by moving this past its attempt (a lease), so one that dies
    -- mid-attempt leaves the delivery to be retried, never lost. NULL once delivered or failed.
    next_attempt_at timestamptz DEFAULT '-infinity',
    delivered_at    timestamptz,
    UNIQUE (webhook_id, alert_event_id)
);
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_delivery_event_idx ON webhook_delivery (alert_event_id);

-- The log: every attempt of every delivery.
CREATE TABLE webhook_delivery_attempt (
    delivery_id     bigint NOT NULL REFERENCES webhook_delivery (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    status_code     integer,
    error           text,
    PRIMARY KEY (delivery_id, attempt)
);

-- An alert event with its alert as it stands now: what every channel sends (SPEC 2.3 plus the event).
CREATE VIEW alert_notification AS
SELECT e.id AS event_id, e.kind AS event_kind, e.from_level, e.to_level, e.actor, e.at AS event_at, e.note,
       a.id, a.hazard_point AS point, a.type, a.level, a.state, a.reasons, a.evidence, a.raised_at,
       a.updated_at, a.rule_version
FROM alert_event e
JOIN alert a ON a.id = e.alert_id;

CREATE FUNCTION alert_event_published() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_delivery (webhook_id, alert_event_id)
    SELECT w.id, NEW.id
    FROM webhook w
    CROSS JOIN alert a
    JOIN hazard_point p ON p.code = a.hazard_point
    WHERE a.id = NEW.alert_id
      AND w.active
      AND greatest(array_position(ARRAY['blue', 'yellow', 'orange', 'red'], a.level),
                   array_position(ARRAY['blue', 'yellow', 'orange', 'red'], NEW.from_level),
                   array_position(ARRAY['blue', 'yellow', 'orange', 'red'], NEW.to_level))
          >= array_position(ARRAY['blue', 'yellow', 'orange', 'red'], w.min_level)
      AND (w.types IS NULL OR a.type = ANY (w.types))
      AND (w.county_codes IS NULL OR p.county_code = ANY (w.county_codes))
      AND (w.kinds IS NULL OR NEW.kind = ANY (w.kinds))
    ON CONFLICT (webhook_id, alert_event_id) DO NOTHING;
    -- Delivered to listeners at commit, in commit order; never if the transaction rolls back.
    PERFORM pg_notify('alert_event', NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_event_published
AFTER INSERT ON alert_event
FOR EACH ROW EXECUTE FUNCTION alert_event_published();
