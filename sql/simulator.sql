-- The demo registry as sensors.simulator.seed_registry writes it, loaded with sql.queries("simulator").
-- Placeholders are $1, $2, ...: psycopg's RawCursor. Rows already there are left alone.

-- name: person_by_phone
SELECT id FROM person WHERE phone = $1

-- name: insert_person
INSERT INTO person (name, phone, roles, county_code, created_by)
VALUES ($1, $2, $3, '500113', $4)
RETURNING id

-- name: insert_hazard_point
INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, township_code, village_code,
                          threatened_households, threatened_people, monitoring_plan, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (code) DO NOTHING

-- name: insert_device
INSERT INTO device (id, hazard_point, protocol, created_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO NOTHING

-- name: insert_sensor
INSERT INTO sensor (device_id, code, kind, hazard_point, reporting_interval_s, v0_mm_per_day, thresholds)
VALUES ($1, $2, $3, $4, 600, $5, $6)
ON CONFLICT DO NOTHING

-- name: insert_grid_assignment
INSERT INTO grid_assignment (hazard_point, role, person_id, assigned_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
