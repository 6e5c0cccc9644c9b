-- A resident's report of a sign of danger from the public pages (issue 16): unverified until the duty room checks
-- it; the nearest public point within 2 km, if any, gets a verification patrol task for its monitor. The phone is
-- private (console only); the address is kept for the per-address rate limit.
CREATE TABLE public_report (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    accuracy_m double precision CHECK (accuracy_m >= 0),
    description text NOT NULL CHECK (length(btrim(description)) BETWEEN 1 AND 2000),
    phone text CHECK (length(phone) BETWEEN 1 AND 32),
    photo_key text,
    photo_media_type text,
    photo_size_bytes bigint,
    photo_sha256 text,
    address text NOT NULL,
    hazard_point text REFERENCES hazard_point (code),
    distance_m double precision,
    task_id bigint REFERENCES patrol_task (id),
    state text NOT NULL DEFAULT 'unverified' CHECK (state IN ('unverified', 'checked', 'dismissed')),
    checked_by text,
    checked_at timestamptz,
    note text,
    CHECK ((photo_key IS NULL) = (photo_media_type IS NULL) AND (photo_key IS NULL) = (photo_sha256 IS NULL)),
    CHECK ((hazard_point IS NULL) = (distance_m IS NULL))
);

CREATE INDEX public_report_address_idx ON public_report (address, received_at);
CREATE INDEX public_report_unverified_idx ON public_report (received_at DESC) WHERE state = 'unverified';
