-- The registry: hazard points, devices, sensors, people and the four-role grid.

CREATE TABLE hazard_point (
    code                    text PRIMARY KEY,
    name                    text NOT NULL,
    type                    text NOT NULL CHECK (type IN ('landslide', 'collapse', 'debris_flow',
                                'ground_subsidence', 'ground_fissure', 'unstable_slope')),
    scale                   text NOT NULL CHECK (scale IN ('small', 'medium', 'large', 'giant')),
    lon                     double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat                     double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    county_code             text NOT NULL,
    township_code           text,
    village_code            text,
    threatened_households   integer NOT NULL DEFAULT 0 CHECK (threatened_households >= 0),
    threatened_people       integer NOT NULL DEFAULT 0 CHECK (threatened_people >= 0),
    threatened_property_wan_yuan numeric,
    status                  text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'under_treatment',
                                'treated', 'relocated', 'cancelled')),
    -- Rainfall thresholds and switches of this point's monitoring plan; empty means the area defaults.
    thresholds              jsonb NOT NULL DEFAULT '{}'::jsonb,
    monitoring_plan         jsonb NOT NULL DEFAULT '{}'::jsonb,
    card                    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hazard_point_county_idx ON hazard_point (county_code, township_code, village_code);

CREATE TABLE device (
    id                  text PRIMARY KEY,
    hazard_point        text NOT NULL REFERENCES hazard_point (code) ON DELETE CASCADE,
    protocol            text NOT NULL CHECK (protocol IN ('universal', 'native')),
    accel_unit          text NOT NULL DEFAULT 'mg' CHECK (accel_unit IN ('mg', 'g')),
    last_seen           timestamptz,
    battery_pct         double precision,
    supply_v            double precision,
    signal              double precision,
    temp_c              double precision,
    status              jsonb NOT NULL DEFAULT '{}'::jsonb,
    online              boolean,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_point_idx ON device (hazard_point);

CREATE TABLE sensor (
    device_id               text NOT NULL REFERENCES device (id) ON DELETE CASCADE,
    code                    text NOT NULL,
    kind                    text NOT NULL CHECK (kind IN ('crack', 'gnss', 'tilt', 'deep', 'accel', 'rain',
                                'soil_moisture', 'soil_temp', 'pore_pressure', 'other')),
    hazard_point            text NOT NULL REFERENCES hazard_point (code) ON DELETE CASCADE,
    reporting_interval_s    integer NOT NULL DEFAULT 600 CHECK (reporting_interval_s > 0),
    v0_mm_per_day           double precision CHECK (v0_mm_per_day > 0),
    thresholds              jsonb NOT NULL DEFAULT '{}'::jsonb,
    state                   smallint NOT NULL DEFAULT 0,
    last_reading_at         timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, code)
);
CREATE INDEX sensor_point_idx ON sensor (hazard_point);

CREATE TABLE person (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    phone       text,
    roles       text[] NOT NULL DEFAULT '{}',
    county_code text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The four-layer grid: one person per role per point.
CREATE TABLE grid_assignment (
    hazard_point    text NOT NULL REFERENCES hazard_point (code) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('monitor', 'area_lead', 'resident_geologist',
                        'county_admin')),
    person_id       bigint NOT NULL REFERENCES person (id),
    assigned_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hazard_point, role)
);

CREATE TABLE api_token (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'duty_officer', 'grid_monitor', 'viewer')),
    person_id   bigint REFERENCES person (id),
    -- sha256 of the token; the token itself is shown once, at creation.
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
