-- The schema that sql/migrations give on PostgreSQL without TimescaleDB (0004_timescaledb left out), as
-- pg_dump --schema-only prints it, normalised. Generated, not edited: python -m sql.schema > sql/schema.sql

CREATE FUNCTION public.alert_event_owes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.alert_event_published() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.alert_levels() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['blue'::text, 'yellow'::text, 'orange'::text, 'red'::text];

CREATE FUNCTION public.alert_level_rank(level text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN array_position(public.alert_levels(), level);

CREATE TABLE public.accelerated_sampling (
    alert_id bigint NOT NULL,
    device_id text NOT NULL,
    sensor_code text NOT NULL,
    normal_interval_s integer NOT NULL,
    accelerated_interval_s integer NOT NULL,
    accelerated_at timestamp with time zone NOT NULL,
    accelerate_command_id text NOT NULL,
    restored_at timestamp with time zone,
    restore_command_id text,
    CONSTRAINT accelerated_sampling_accelerated_interval_s_check CHECK ((accelerated_interval_s > 0)),
    CONSTRAINT accelerated_sampling_normal_interval_s_check CHECK ((normal_interval_s > 0))
);

CREATE TABLE public.alert (
    id bigint NOT NULL,
    hazard_point text NOT NULL,
    type text NOT NULL,
    level text NOT NULL,
    state text DEFAULT 'open'::text NOT NULL,
    reasons jsonb DEFAULT '[]'::jsonb NOT NULL,
    evidence jsonb DEFAULT '{}'::jsonb NOT NULL,
    rule_version text NOT NULL,
    raised_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    pending_level text,
    pending_since timestamp with time zone,
    acknowledged_at timestamp with time zone,
    acknowledged_by text,
    verified_at timestamp with time zone,
    verified_by text,
    verdict text,
    resolved_at timestamp with time zone,
    resolved_by text,
    ack_deadline timestamp with time zone,
    escalation_step smallint DEFAULT 0 NOT NULL,
    accelerated_at timestamp with time zone,
    CONSTRAINT alert_escalation_step_check CHECK (((escalation_step >= 0) AND (escalation_step <= 4))),
    CONSTRAINT alert_level_check CHECK ((level = ANY (ARRAY['blue'::text, 'yellow'::text, 'orange'::text, 'red'::text]))),
    CONSTRAINT alert_pending_level_check CHECK ((pending_level = ANY (ARRAY['none'::text, 'blue'::text, 'yellow'::text, 'orange'::text, 'red'::text]))),
    CONSTRAINT alert_state_check CHECK ((state = ANY (ARRAY['open'::text, 'acknowledged'::text, 'verified'::text, 'resolved'::text]))),
    CONSTRAINT alert_type_check CHECK ((type = ANY (ARRAY['deformation'::text, 'rainfall'::text, 'device'::text]))),
    CONSTRAINT alert_verdict_check CHECK ((verdict = ANY (ARRAY['confirmed'::text, 'false_alarm'::text])))
);

CREATE TABLE public.alert_event (
    id bigint NOT NULL,
    alert_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    kind text NOT NULL,
    from_level text,
    to_level text,
    actor text NOT NULL,
    inputs jsonb DEFAULT '{}'::jsonb NOT NULL,
    thresholds jsonb DEFAULT '{}'::jsonb NOT NULL,
    rule_version text,
    note text,
    CONSTRAINT alert_event_kind_check CHECK ((kind = ANY (ARRAY['raised'::text, 'level_raised'::text, 'level_lowered'::text, 'acknowledged'::text, 'verified'::text, 'resolved'::text, 'escalated'::text, 'notified'::text, 'evacuated'::text, 'verification_requested'::text, 'verification_cancelled'::text, 'sampling_accelerated'::text, 'sampling_restored'::text, 'patrol_reported'::text])))
);

ALTER TABLE public.alert_event ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.alert_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE public.alert ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.alert_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE VIEW public.alert_notification AS
 SELECT e.id AS event_id,
    e.kind AS event_kind,
    e.from_level,
    e.to_level,
    e.actor,
    e.at AS event_at,
    e.note,
    a.id,
    a.hazard_point AS point,
    a.type,
    a.level,
    a.state,
    a.reasons,
    a.evidence,
    a.raised_at,
    a.updated_at,
    a.rule_version
   FROM (public.alert_event e
     JOIN public.alert a ON ((a.id = e.alert_id)));

CREATE TABLE public.alert_owed (
    id bigint NOT NULL,
    alert_event_id bigint NOT NULL,
    alert_id bigint NOT NULL,
    effect text NOT NULL,
    owed_since timestamp with time zone NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone,
    last_error text,
    done_at timestamp with time zone,
    CONSTRAINT alert_owed_effect_check CHECK ((effect = ANY (ARRAY['topic'::text, 'verification'::text, 'sampling'::text])))
);

ALTER TABLE public.alert_owed ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.alert_owed_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.api_token (
    id bigint NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    person_id bigint,
    token_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT api_token_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'duty_officer'::text, 'grid_monitor'::text, 'viewer'::text])))
);

ALTER TABLE public.api_token ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.api_token_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.console_login (
    person_id bigint NOT NULL,
    phone text NOT NULL,
    role text NOT NULL,
    password_hash text NOT NULL,
    must_change boolean DEFAULT true NOT NULL,
    disabled_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text,
    password_changed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT console_login_phone_check CHECK ((phone <> ''::text)),
    CONSTRAINT console_login_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'duty_officer'::text, 'grid_monitor'::text, 'viewer'::text])))
);

CREATE TABLE public.console_session (
    id_hash bytea NOT NULL,
    person_id bigint NOT NULL,
    csrf_token text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    ended_at timestamp with time zone,
    user_agent text,
    address text
);

CREATE TABLE public.console_sign_in_failure (
    phone text NOT NULL,
    address text NOT NULL,
    failed_attempts integer DEFAULT 0 NOT NULL,
    locked_until timestamp with time zone,
    last_failed_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.dead_letter (
    id bigint NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    topic text NOT NULL,
    client_id text,
    payload bytea NOT NULL,
    reason text NOT NULL,
    payload_bytes integer NOT NULL,
    payload_sha256 bytea NOT NULL,
    CONSTRAINT dead_letter_payload_kept CHECK ((length(payload) <= payload_bytes)),
    CONSTRAINT dead_letter_sha256_length CHECK ((length(payload_sha256) = 32))
);

ALTER TABLE public.dead_letter ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.dead_letter_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.device (
    id text NOT NULL,
    hazard_point text NOT NULL,
    protocol text NOT NULL,
    accel_unit text DEFAULT 'mg'::text NOT NULL,
    last_seen timestamp with time zone,
    battery_pct double precision,
    supply_v double precision,
    signal double precision,
    temp_c double precision,
    status jsonb DEFAULT '{}'::jsonb NOT NULL,
    online boolean,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    solar_v double precision,
    humidity_pct double precision,
    sw_version text,
    status_at timestamp with time zone,
    mqtt_password_hash text,
    created_by text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by text,
    CONSTRAINT device_accel_unit_check CHECK ((accel_unit = ANY (ARRAY['mg'::text, 'g'::text]))),
    CONSTRAINT device_protocol_check CHECK ((protocol = ANY (ARRAY['universal'::text, 'native'::text, 'manual'::text])))
);

CREATE TABLE public.device_command (
    id bigint NOT NULL,
    device_id text NOT NULL,
    command_id text NOT NULL,
    name text NOT NULL,
    params jsonb DEFAULT '{}'::jsonb NOT NULL,
    payload text NOT NULL,
    topic text NOT NULL,
    sent_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_by text NOT NULL,
    answer text,
    result text,
    answered_at timestamp with time zone,
    CONSTRAINT device_command_name_check CHECK ((name = ANY (ARRAY['setsensortime'::text, 'getstatus'::text, 'settime'::text, 'meteorologicalearlywarning'::text]))),
    CONSTRAINT device_command_result_check CHECK ((result = ANY (ARRAY['succ'::text, 'fail'::text])))
);

ALTER TABLE public.device_command ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.device_command_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.evacuation (
    id bigint NOT NULL,
    alert_id bigint NOT NULL,
    people_moved integer NOT NULL,
    households_moved integer,
    threatened_people integer NOT NULL,
    shelter text NOT NULL,
    organised_by text NOT NULL,
    moved_at timestamp with time zone NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamp with time zone NOT NULL,
    note text,
    CONSTRAINT evacuation_households_moved_check CHECK ((households_moved >= 0)),
    CONSTRAINT evacuation_people_moved_check CHECK ((people_moved >= 0)),
    CONSTRAINT evacuation_shelter_check CHECK ((shelter <> ''::text))
);

ALTER TABLE public.evacuation ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.evacuation_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.field_activation (
    id bigint NOT NULL,
    code_hash bytea NOT NULL,
    person_id bigint NOT NULL,
    issued_by text NOT NULL,
    issued_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    phone_id bigint,
    withdrawn_at timestamp with time zone,
    CONSTRAINT field_activation_check CHECK (((used_at IS NULL) = (phone_id IS NULL))),
    CONSTRAINT field_activation_check1 CHECK ((expires_at > issued_at))
);

CREATE TABLE public.field_activation_failure (
    address text NOT NULL,
    failed_attempts integer DEFAULT 0 NOT NULL,
    last_failed_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_until timestamp with time zone
);

ALTER TABLE public.field_activation ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.field_activation_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.field_phone (
    id bigint NOT NULL,
    person_id bigint NOT NULL,
    session_hash bytea NOT NULL,
    csrf_token text NOT NULL,
    label text NOT NULL,
    activated_at timestamp with time zone DEFAULT now() NOT NULL,
    activated_from text,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    revoked_by text
);

ALTER TABLE public.field_phone ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.field_phone_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.grid_assignment (
    hazard_point text NOT NULL,
    role text NOT NULL,
    person_id bigint NOT NULL,
    assigned_at timestamp with time zone DEFAULT now() NOT NULL,
    assigned_by text,
    CONSTRAINT grid_assignment_role_check CHECK ((role = ANY (ARRAY['monitor'::text, 'area_lead'::text, 'resident_geologist'::text, 'county_admin'::text])))
);

CREATE TABLE public.hazard_point (
    code text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    scale text NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    county_code text NOT NULL,
    township_code text,
    village_code text,
    threatened_households integer DEFAULT 0 NOT NULL,
    threatened_people integer DEFAULT 0 NOT NULL,
    threatened_property_wan_yuan numeric,
    status text DEFAULT 'active'::text NOT NULL,
    thresholds jsonb DEFAULT '{}'::jsonb NOT NULL,
    monitoring_plan jsonb DEFAULT '{}'::jsonb NOT NULL,
    card jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text,
    updated_by text,
    CONSTRAINT hazard_point_lat_check CHECK (((lat >= ('-90'::integer)::double precision) AND (lat <= (90)::double precision))),
    CONSTRAINT hazard_point_lon_check CHECK (((lon >= ('-180'::integer)::double precision) AND (lon <= (180)::double precision))),
    CONSTRAINT hazard_point_scale_check CHECK ((scale = ANY (ARRAY['small'::text, 'medium'::text, 'large'::text, 'giant'::text]))),
    CONSTRAINT hazard_point_status_check CHECK ((status = ANY (ARRAY['active'::text, 'under_treatment'::text, 'treated'::text, 'relocated'::text, 'cancelled'::text]))),
    CONSTRAINT hazard_point_threatened_households_check CHECK ((threatened_households >= 0)),
    CONSTRAINT hazard_point_threatened_people_check CHECK ((threatened_people >= 0)),
    CONSTRAINT hazard_point_type_check CHECK ((type = ANY (ARRAY['landslide'::text, 'collapse'::text, 'debris_flow'::text, 'ground_subsidence'::text, 'ground_fissure'::text, 'unstable_slope'::text])))
);

CREATE TABLE public.patrol_report (
    id bigint NOT NULL,
    task_id bigint,
    hazard_point text NOT NULL,
    reporter_id bigint,
    reported_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    lon double precision,
    lat double precision,
    accuracy_m double precision,
    findings text[] DEFAULT '{}'::text[] NOT NULL,
    judgement text NOT NULL,
    note text,
    photos jsonb DEFAULT '[]'::jsonb NOT NULL,
    far_from_point boolean DEFAULT false NOT NULL,
    recorded_by text NOT NULL,
    distance_m double precision,
    alert_id bigint,
    measurements jsonb DEFAULT '[]'::jsonb NOT NULL,
    client_id uuid,
    task_marked_done boolean,
    CONSTRAINT patrol_report_distance_m_check CHECK ((distance_m >= (0)::double precision)),
    CONSTRAINT patrol_report_findings_check CHECK ((findings <@ ARRAY['new_cracks'::text, 'crack_widening'::text, 'bulging'::text, 'subsidence'::text, 'spring_or_seepage_change'::text, 'rockfall'::text, 'tilting_trees_or_poles'::text, 'house_damage'::text, 'abnormal_sound'::text, 'nothing_abnormal'::text])),
    CONSTRAINT patrol_report_judgement_check CHECK ((judgement = ANY (ARRAY['normal'::text, 'suspicious'::text, 'dangerous'::text])))
);

ALTER TABLE public.patrol_report ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.patrol_report_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.patrol_task (
    id bigint NOT NULL,
    hazard_point text NOT NULL,
    regime text NOT NULL,
    state text DEFAULT 'open'::text NOT NULL,
    assignee_id bigint,
    alert_id bigint,
    due_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    done_at timestamp with time zone,
    weather_warning_id bigint,
    escalation_step smallint,
    escalate_at timestamp with time zone,
    CONSTRAINT patrol_task_escalation_step_check CHECK (((escalation_step >= 0) AND (escalation_step <= 4))),
    CONSTRAINT patrol_task_regime_check CHECK ((regime = ANY (ARRAY['routine'::text, 'flood_before'::text, 'flood_during'::text, 'flood_after'::text, 'rain_before'::text, 'rain_during'::text, 'rain_after'::text, 'verification'::text]))),
    CONSTRAINT patrol_task_state_check CHECK ((state = ANY (ARRAY['open'::text, 'done'::text, 'cancelled'::text])))
);

CREATE TABLE public.patrol_task_event (
    id bigint NOT NULL,
    task_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    kind text NOT NULL,
    step smallint NOT NULL,
    role text,
    person_id bigint,
    actor text NOT NULL,
    inputs jsonb DEFAULT '{}'::jsonb NOT NULL,
    note text,
    CONSTRAINT patrol_task_event_kind_check CHECK ((kind = ANY (ARRAY['escalated'::text, 'notified'::text]))),
    CONSTRAINT patrol_task_event_step_check CHECK (((step >= 0) AND (step <= 4)))
);

ALTER TABLE public.patrol_task_event ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.patrol_task_event_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE public.patrol_task ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.patrol_task_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.person (
    id bigint NOT NULL,
    name text NOT NULL,
    phone text,
    roles text[] DEFAULT '{}'::text[] NOT NULL,
    county_code text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    created_by text
);

ALTER TABLE public.person ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.person_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.public_report (
    id bigint NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    accuracy_m double precision,
    description text NOT NULL,
    phone text,
    photo_key text,
    photo_media_type text,
    photo_size_bytes bigint,
    photo_sha256 text,
    address text NOT NULL,
    hazard_point text,
    distance_m double precision,
    task_id bigint,
    state text DEFAULT 'unverified'::text NOT NULL,
    checked_by text,
    checked_at timestamp with time zone,
    note text,
    CONSTRAINT public_report_accuracy_m_check CHECK ((accuracy_m >= (0)::double precision)),
    CONSTRAINT public_report_check CHECK ((((photo_key IS NULL) = (photo_media_type IS NULL)) AND ((photo_key IS NULL) = (photo_sha256 IS NULL)))),
    CONSTRAINT public_report_check1 CHECK (((hazard_point IS NULL) = (distance_m IS NULL))),
    CONSTRAINT public_report_description_check CHECK (((length(btrim(description)) >= 1) AND (length(btrim(description)) <= 2000))),
    CONSTRAINT public_report_lat_check CHECK (((lat >= ('-90'::integer)::double precision) AND (lat <= (90)::double precision))),
    CONSTRAINT public_report_lon_check CHECK (((lon >= ('-180'::integer)::double precision) AND (lon <= (180)::double precision))),
    CONSTRAINT public_report_phone_check CHECK (((length(phone) >= 1) AND (length(phone) <= 32))),
    CONSTRAINT public_report_state_check CHECK ((state = ANY (ARRAY['unverified'::text, 'checked'::text, 'dismissed'::text])))
);

CREATE SEQUENCE public.public_report_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.public_report_id_seq OWNED BY public.public_report.id;

CREATE TABLE public.quarantine (
    id bigint NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    topic text NOT NULL,
    device_id text NOT NULL,
    sensor_code text NOT NULL,
    ts timestamp with time zone NOT NULL,
    kind text NOT NULL,
    value double precision,
    fields jsonb,
    quality text[] DEFAULT '{}'::text[] NOT NULL,
    server_timed boolean DEFAULT false NOT NULL,
    reason text NOT NULL,
    replayed_at timestamp with time zone
);

ALTER TABLE public.quarantine ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.quarantine_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.reading (
    device_id text NOT NULL,
    sensor_code text NOT NULL,
    ts timestamp with time zone NOT NULL,
    kind text NOT NULL,
    value double precision,
    fields jsonb,
    quality text[] DEFAULT '{}'::text[] NOT NULL,
    server_timed boolean DEFAULT false NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE VIEW public.rain_hourly AS
 SELECT reading.device_id,
    reading.sensor_code,
    date_trunc('hour'::text, reading.ts) AS bucket,
    sum(reading.value) AS rain_mm,
    count(*) AS readings
   FROM public.reading
  WHERE ((reading.kind = 'rain'::text) AND (reading.quality = '{}'::text[]))
  GROUP BY reading.device_id, reading.sensor_code, (date_trunc('hour'::text, reading.ts));

CREATE TABLE public.schema_migration (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.sensor (
    device_id text NOT NULL,
    code text NOT NULL,
    kind text NOT NULL,
    hazard_point text NOT NULL,
    reporting_interval_s integer DEFAULT 600 NOT NULL,
    v0_mm_per_day double precision,
    thresholds jsonb DEFAULT '{}'::jsonb NOT NULL,
    state smallint DEFAULT 0 NOT NULL,
    last_reading_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    state_reported_at timestamp with time zone,
    offline boolean DEFAULT false NOT NULL,
    resolution_mm double precision,
    CONSTRAINT sensor_kind_check CHECK ((kind = ANY (ARRAY['crack'::text, 'gnss'::text, 'tilt'::text, 'deep'::text, 'accel'::text, 'rain'::text, 'soil_moisture'::text, 'soil_temp'::text, 'pore_pressure'::text, 'other'::text]))),
    CONSTRAINT sensor_reporting_interval_s_check CHECK ((reporting_interval_s > 0)),
    CONSTRAINT sensor_resolution_mm_check CHECK (((resolution_mm > (0)::double precision) AND (resolution_mm < 'Infinity'::double precision))),
    CONSTRAINT sensor_v0_mm_per_day_check CHECK ((v0_mm_per_day > (0)::double precision))
);

CREATE TABLE public.sensor_baseline (
    device_id text NOT NULL,
    code text NOT NULL,
    v0_mm_per_day double precision,
    reference_value double precision,
    quiet_days double precision NOT NULL,
    period_from timestamp with time zone NOT NULL,
    period_to timestamp with time zone NOT NULL,
    computed_at timestamp with time zone NOT NULL
);

CREATE TABLE public.shift_note (
    id bigint NOT NULL,
    person_id bigint NOT NULL,
    written_by text NOT NULL,
    note text NOT NULL,
    written_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT shift_note_note_check CHECK ((note <> ''::text))
);

ALTER TABLE public.shift_note ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.shift_note_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.weather_warning (
    id bigint NOT NULL,
    level text NOT NULL,
    area_kind text NOT NULL,
    area_codes text[],
    polygon jsonb,
    valid_from timestamp with time zone NOT NULL,
    valid_to timestamp with time zone NOT NULL,
    issuer text,
    note text,
    created_by text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT weather_warning_area_codes_check CHECK ((cardinality(area_codes) > 0)),
    CONSTRAINT weather_warning_area_kind_check CHECK ((area_kind = ANY (ARRAY['county'::text, 'township'::text, 'village'::text, 'polygon'::text]))),
    CONSTRAINT weather_warning_check CHECK ((valid_to > valid_from)),
    CONSTRAINT weather_warning_check1 CHECK (
CASE
    WHEN (area_kind = 'polygon'::text) THEN ((polygon IS NOT NULL) AND (area_codes IS NULL))
    ELSE ((area_codes IS NOT NULL) AND (polygon IS NULL))
END),
    CONSTRAINT weather_warning_level_check CHECK ((level = ANY (ARRAY['blue'::text, 'yellow'::text, 'orange'::text, 'red'::text])))
);

CREATE TABLE public.weather_warning_command (
    warning_id bigint NOT NULL,
    device_id text NOT NULL,
    command_id text,
    error text,
    attempted_at timestamp with time zone NOT NULL,
    CONSTRAINT weather_warning_command_check CHECK (((command_id IS NULL) <> (error IS NULL)))
);

ALTER TABLE public.weather_warning ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.weather_warning_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.weather_warning_point (
    warning_id bigint NOT NULL,
    hazard_point text NOT NULL
);

CREATE TABLE public.webhook (
    id bigint NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    min_level text DEFAULT 'blue'::text NOT NULL,
    types text[],
    county_codes text[],
    kinds text[],
    description text,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_min_level_check CHECK ((min_level = ANY (ARRAY['blue'::text, 'yellow'::text, 'orange'::text, 'red'::text]))),
    CONSTRAINT webhook_secret_check CHECK ((length(secret) >= 16)),
    CONSTRAINT webhook_url_check CHECK ((url ~ '^https?://'::text))
);

CREATE TABLE public.webhook_delivery (
    id bigint NOT NULL,
    webhook_id bigint NOT NULL,
    alert_event_id bigint NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    status_code integer,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT '-infinity'::timestamp with time zone,
    delivered_at timestamp with time zone,
    CONSTRAINT webhook_delivery_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
);

CREATE TABLE public.webhook_delivery_attempt (
    delivery_id bigint NOT NULL,
    attempt integer NOT NULL,
    started_at timestamp with time zone NOT NULL,
    duration_ms double precision NOT NULL,
    status_code integer,
    error text
);

ALTER TABLE public.webhook_delivery ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_delivery_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE public.webhook ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.webhook_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ONLY public.public_report ALTER COLUMN id SET DEFAULT nextval('public.public_report_id_seq'::regclass);

ALTER TABLE ONLY public.accelerated_sampling
    ADD CONSTRAINT accelerated_sampling_pkey PRIMARY KEY (alert_id, device_id, sensor_code);

ALTER TABLE ONLY public.alert_event
    ADD CONSTRAINT alert_event_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.alert_owed
    ADD CONSTRAINT alert_owed_alert_event_id_effect_key UNIQUE (alert_event_id, effect);

ALTER TABLE ONLY public.alert_owed
    ADD CONSTRAINT alert_owed_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.alert
    ADD CONSTRAINT alert_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY public.console_login
    ADD CONSTRAINT console_login_phone_key UNIQUE (phone);

ALTER TABLE ONLY public.console_login
    ADD CONSTRAINT console_login_pkey PRIMARY KEY (person_id);

ALTER TABLE ONLY public.console_session
    ADD CONSTRAINT console_session_pkey PRIMARY KEY (id_hash);

ALTER TABLE ONLY public.console_sign_in_failure
    ADD CONSTRAINT console_sign_in_failure_pkey PRIMARY KEY (phone, address);

ALTER TABLE ONLY public.dead_letter
    ADD CONSTRAINT dead_letter_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.device_command
    ADD CONSTRAINT device_command_command_id_key UNIQUE (command_id);

ALTER TABLE ONLY public.device_command
    ADD CONSTRAINT device_command_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.device
    ADD CONSTRAINT device_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.evacuation
    ADD CONSTRAINT evacuation_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.field_activation
    ADD CONSTRAINT field_activation_code_hash_key UNIQUE (code_hash);

ALTER TABLE ONLY public.field_activation_failure
    ADD CONSTRAINT field_activation_failure_pkey PRIMARY KEY (address);

ALTER TABLE ONLY public.field_activation
    ADD CONSTRAINT field_activation_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.field_phone
    ADD CONSTRAINT field_phone_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.field_phone
    ADD CONSTRAINT field_phone_session_hash_key UNIQUE (session_hash);

ALTER TABLE ONLY public.grid_assignment
    ADD CONSTRAINT grid_assignment_pkey PRIMARY KEY (hazard_point, role);

ALTER TABLE ONLY public.hazard_point
    ADD CONSTRAINT hazard_point_pkey PRIMARY KEY (code);

ALTER TABLE ONLY public.patrol_report
    ADD CONSTRAINT patrol_report_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.patrol_task_event
    ADD CONSTRAINT patrol_task_event_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.patrol_task
    ADD CONSTRAINT patrol_task_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.person
    ADD CONSTRAINT person_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.public_report
    ADD CONSTRAINT public_report_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.quarantine
    ADD CONSTRAINT quarantine_device_id_sensor_code_ts_key UNIQUE (device_id, sensor_code, ts);

ALTER TABLE ONLY public.quarantine
    ADD CONSTRAINT quarantine_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.reading
    ADD CONSTRAINT reading_pkey PRIMARY KEY (device_id, sensor_code, ts);

ALTER TABLE ONLY public.schema_migration
    ADD CONSTRAINT schema_migration_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.sensor_baseline
    ADD CONSTRAINT sensor_baseline_pkey PRIMARY KEY (device_id, code);

ALTER TABLE ONLY public.sensor
    ADD CONSTRAINT sensor_pkey PRIMARY KEY (device_id, code);

ALTER TABLE ONLY public.shift_note
    ADD CONSTRAINT shift_note_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.weather_warning_command
    ADD CONSTRAINT weather_warning_command_pkey PRIMARY KEY (warning_id, device_id);

ALTER TABLE ONLY public.weather_warning
    ADD CONSTRAINT weather_warning_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.weather_warning_point
    ADD CONSTRAINT weather_warning_point_pkey PRIMARY KEY (warning_id, hazard_point);

ALTER TABLE ONLY public.webhook_delivery_attempt
    ADD CONSTRAINT webhook_delivery_attempt_pkey PRIMARY KEY (delivery_id, attempt);

ALTER TABLE ONLY public.webhook_delivery
    ADD CONSTRAINT webhook_delivery_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_delivery
    ADD CONSTRAINT webhook_delivery_webhook_id_alert_event_id_key UNIQUE (webhook_id, alert_event_id);

ALTER TABLE ONLY public.webhook
    ADD CONSTRAINT webhook_pkey PRIMARY KEY (id);

CREATE INDEX accelerated_sampling_open_idx ON public.accelerated_sampling USING btree (device_id, sensor_code) WHERE (restored_at IS NULL);

CREATE INDEX alert_ack_deadline_idx ON public.alert USING btree (ack_deadline) WHERE (state = 'open'::text);

CREATE INDEX alert_event_alert_idx ON public.alert_event USING btree (alert_id, at);

CREATE INDEX alert_event_at_idx ON public.alert_event USING btree (at);

CREATE UNIQUE INDEX alert_one_open_idx ON public.alert USING btree (hazard_point, type) WHERE (state <> 'resolved'::text);

CREATE INDEX alert_open_level_idx ON public.alert USING btree (hazard_point, level) WHERE (state <> 'resolved'::text);

CREATE INDEX alert_owed_alert_idx ON public.alert_owed USING btree (alert_id, effect, id) WHERE (done_at IS NULL);

CREATE INDEX alert_owed_pending_idx ON public.alert_owed USING btree (id) WHERE (done_at IS NULL);

CREATE INDEX alert_point_raised_idx ON public.alert USING btree (hazard_point, raised_at DESC);

CREATE INDEX alert_raised_idx ON public.alert USING btree (raised_at DESC);

CREATE INDEX alert_state_idx ON public.alert USING btree (state, level);

CREATE INDEX console_session_person_idx ON public.console_session USING btree (person_id) WHERE (ended_at IS NULL);

CREATE INDEX console_sign_in_failure_age_idx ON public.console_sign_in_failure USING btree (last_failed_at);

CREATE INDEX dead_letter_received_idx ON public.dead_letter USING btree (received_at DESC);

CREATE INDEX dead_letter_sha256_idx ON public.dead_letter USING btree (payload_sha256);

CREATE INDEX device_command_device_idx ON public.device_command USING btree (device_id, sent_at DESC);

CREATE INDEX device_point_idx ON public.device USING btree (hazard_point);

CREATE INDEX evacuation_alert_idx ON public.evacuation USING btree (alert_id, moved_at);

CREATE INDEX field_activation_person_idx ON public.field_activation USING btree (person_id, issued_at DESC);

CREATE INDEX field_phone_person_idx ON public.field_phone USING btree (person_id) WHERE (revoked_at IS NULL);

CREATE INDEX grid_assignment_person_idx ON public.grid_assignment USING btree (person_id, hazard_point);

CREATE INDEX hazard_point_county_code_idx ON public.hazard_point USING btree (county_code, code);

CREATE INDEX hazard_point_county_idx ON public.hazard_point USING btree (county_code, township_code, village_code);

CREATE INDEX hazard_point_lon_lat_idx ON public.hazard_point USING btree (lon, lat);

CREATE UNIQUE INDEX patrol_report_client_id_key ON public.patrol_report USING btree (client_id) WHERE (client_id IS NOT NULL);

CREATE INDEX patrol_report_point_idx ON public.patrol_report USING btree (hazard_point, reported_at DESC);

CREATE INDEX patrol_report_received_idx ON public.patrol_report USING btree (received_at DESC);

CREATE INDEX patrol_report_reported_idx ON public.patrol_report USING btree (reported_at DESC);

CREATE INDEX patrol_report_task_idx ON public.patrol_report USING btree (task_id) WHERE (task_id IS NOT NULL);

CREATE INDEX patrol_task_assignee_idx ON public.patrol_task USING btree (assignee_id, state);

CREATE INDEX patrol_task_due_idx ON public.patrol_task USING btree (due_at) WHERE (state = 'open'::text);

CREATE INDEX patrol_task_escalate_idx ON public.patrol_task USING btree (COALESCE(escalate_at, due_at)) WHERE (state = 'open'::text);

CREATE INDEX patrol_task_event_task_idx ON public.patrol_task_event USING btree (task_id, at);

CREATE INDEX patrol_task_point_idx ON public.patrol_task USING btree (hazard_point, state);

CREATE INDEX patrol_task_regime_idx ON public.patrol_task USING btree (hazard_point, regime, created_at DESC);

CREATE INDEX patrol_task_weather_warning_idx ON public.patrol_task USING btree (weather_warning_id) WHERE (weather_warning_id IS NOT NULL);

CREATE INDEX public_report_address_idx ON public.public_report USING btree (address, received_at);

CREATE INDEX public_report_unverified_idx ON public.public_report USING btree (received_at DESC) WHERE (state = 'unverified'::text);

CREATE INDEX quarantine_pending_idx ON public.quarantine USING btree (device_id, sensor_code) WHERE (replayed_at IS NULL);

CREATE INDEX reading_ts_idx ON public.reading USING btree (ts DESC);

CREATE INDEX sensor_point_idx ON public.sensor USING btree (hazard_point);

CREATE INDEX sensor_silent_idx ON public.sensor USING btree (last_reading_at) WHERE (NOT offline);

CREATE INDEX shift_note_written_idx ON public.shift_note USING btree (written_at DESC);

CREATE INDEX weather_warning_created_idx ON public.weather_warning USING btree (created_at DESC, id DESC);

CREATE INDEX weather_warning_point_idx ON public.weather_warning_point USING btree (hazard_point);

CREATE INDEX weather_warning_validity_idx ON public.weather_warning USING btree (valid_to, valid_from);

CREATE INDEX webhook_delivery_due_idx ON public.webhook_delivery USING btree (next_attempt_at) WHERE (state = 'pending'::text);

CREATE INDEX webhook_delivery_event_idx ON public.webhook_delivery USING btree (alert_event_id);

CREATE TRIGGER alert_event_owes AFTER INSERT ON public.alert_event FOR EACH ROW EXECUTE FUNCTION public.alert_event_owes();

CREATE TRIGGER alert_event_published AFTER INSERT ON public.alert_event FOR EACH ROW EXECUTE FUNCTION public.alert_event_published();

ALTER TABLE ONLY public.accelerated_sampling
    ADD CONSTRAINT accelerated_sampling_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alert(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.alert_event
    ADD CONSTRAINT alert_event_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alert(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.alert
    ADD CONSTRAINT alert_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code) ON DELETE CASCADE;

ALTER TABLE ONLY public.alert_owed
    ADD CONSTRAINT alert_owed_alert_event_id_fkey FOREIGN KEY (alert_event_id) REFERENCES public.alert_event(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.alert_owed
    ADD CONSTRAINT alert_owed_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alert(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.api_token
    ADD CONSTRAINT api_token_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.console_login
    ADD CONSTRAINT console_login_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.console_session
    ADD CONSTRAINT console_session_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.console_login(person_id);

ALTER TABLE ONLY public.device_command
    ADD CONSTRAINT device_command_device_id_fkey FOREIGN KEY (device_id) REFERENCES public.device(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.device
    ADD CONSTRAINT device_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code) ON DELETE CASCADE;

ALTER TABLE ONLY public.evacuation
    ADD CONSTRAINT evacuation_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alert(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.field_activation
    ADD CONSTRAINT field_activation_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.field_activation
    ADD CONSTRAINT field_activation_phone_id_fkey FOREIGN KEY (phone_id) REFERENCES public.field_phone(id);

ALTER TABLE ONLY public.field_phone
    ADD CONSTRAINT field_phone_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.grid_assignment
    ADD CONSTRAINT grid_assignment_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code) ON DELETE CASCADE;

ALTER TABLE ONLY public.grid_assignment
    ADD CONSTRAINT grid_assignment_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.patrol_report
    ADD CONSTRAINT patrol_report_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alert(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.patrol_report
    ADD CONSTRAINT patrol_report_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code) ON DELETE CASCADE;

ALTER TABLE ONLY public.patrol_report
    ADD CONSTRAINT patrol_report_reporter_id_fkey FOREIGN KEY (reporter_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.patrol_report
    ADD CONSTRAINT patrol_report_task_id_fkey FOREIGN KEY (task_id) REFERENCES public.patrol_task(id);

ALTER TABLE ONLY public.patrol_task
    ADD CONSTRAINT patrol_task_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES public.alert(id);

ALTER TABLE ONLY public.patrol_task
    ADD CONSTRAINT patrol_task_assignee_id_fkey FOREIGN KEY (assignee_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.patrol_task_event
    ADD CONSTRAINT patrol_task_event_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.person(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.patrol_task_event
    ADD CONSTRAINT patrol_task_event_task_id_fkey FOREIGN KEY (task_id) REFERENCES public.patrol_task(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.patrol_task
    ADD CONSTRAINT patrol_task_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code) ON DELETE CASCADE;

ALTER TABLE ONLY public.patrol_task
    ADD CONSTRAINT patrol_task_weather_warning_id_fkey FOREIGN KEY (weather_warning_id) REFERENCES public.weather_warning(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.public_report
    ADD CONSTRAINT public_report_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code);

ALTER TABLE ONLY public.public_report
    ADD CONSTRAINT public_report_task_id_fkey FOREIGN KEY (task_id) REFERENCES public.patrol_task(id);

ALTER TABLE ONLY public.sensor_baseline
    ADD CONSTRAINT sensor_baseline_device_id_code_fkey FOREIGN KEY (device_id, code) REFERENCES public.sensor(device_id, code) ON DELETE CASCADE;

ALTER TABLE ONLY public.sensor
    ADD CONSTRAINT sensor_device_id_fkey FOREIGN KEY (device_id) REFERENCES public.device(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.sensor
    ADD CONSTRAINT sensor_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code) ON DELETE CASCADE;

ALTER TABLE ONLY public.shift_note
    ADD CONSTRAINT shift_note_person_id_fkey FOREIGN KEY (person_id) REFERENCES public.person(id);

ALTER TABLE ONLY public.weather_warning_command
    ADD CONSTRAINT weather_warning_command_warning_id_fkey FOREIGN KEY (warning_id) REFERENCES public.weather_warning(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.weather_warning_point
    ADD CONSTRAINT weather_warning_point_hazard_point_fkey FOREIGN KEY (hazard_point) REFERENCES public.hazard_point(code) ON DELETE CASCADE;

ALTER TABLE ONLY public.weather_warning_point
    ADD CONSTRAINT weather_warning_point_warning_id_fkey FOREIGN KEY (warning_id) REFERENCES public.weather_warning(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.webhook_delivery
    ADD CONSTRAINT webhook_delivery_alert_event_id_fkey FOREIGN KEY (alert_event_id) REFERENCES public.alert_event(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.webhook_delivery_attempt
    ADD CONSTRAINT webhook_delivery_attempt_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES public.webhook_delivery(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.webhook_delivery
    ADD CONSTRAINT webhook_delivery_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES public.webhook(id) ON DELETE CASCADE;
