-- The duty console's logins and sessions (service.console.accounts), loaded with sql.queries("console").
-- Placeholders are $1, $2, ...: asyncpg in the console's pages, psycopg's RawCursor in `geohazard login`.

-- name: create_login
-- A login for person $1; the phone defaults to the person's own. NULL when the person does not exist.
INSERT INTO console_login (person_id, phone, role, password_hash, created_by)
SELECT p.id, coalesce($2, p.phone), $3, $4, $5
FROM person p
WHERE p.id = $1
RETURNING person_id, phone

-- name: login_by_phone
-- What a sign-in needs to know of the login with phone $1.
SELECT l.person_id, l.phone, l.role, l.password_hash, l.must_change, l.disabled_at, p.name
FROM console_login l
JOIN person p ON p.id = l.person_id
WHERE l.phone = $1

-- name: forget_old_sign_in_failures
-- Failures untouched for a day, and not backing anyone off, are forgotten (a statement of its own, before the claim:
-- in one statement with it, the claim could still find the row it deletes and keep its old count).
DELETE FROM console_sign_in_failure
WHERE last_failed_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())

-- name: claim_sign_in
-- The failures of phone $1 from address $2, the row claimed (locked) until the attempt's transaction ends, with the
-- database's clock.
INSERT INTO console_sign_in_failure AS f (phone, address)
VALUES ($1, $2)
ON CONFLICT (phone, address) DO UPDATE SET phone = f.phone
RETURNING f.failed_attempts, f.locked_until, now() AS now

-- name: record_failed_sign_in
-- One more failed sign-in of phone $1 from address $2; from the ($3 + 1)th in a row the next attempt waits $4
-- seconds, doubling each time up to $5 (the exponent is capped, so the wait never overflows).
UPDATE console_sign_in_failure
SET failed_attempts = failed_attempts + 1,
    last_failed_at = now(),
    locked_until = CASE WHEN failed_attempts + 1 > $3
                        THEN now() + make_interval(secs => least($5, $4 * 2 ^ least(failed_attempts - $3, 20)))
                   END
WHERE phone = $1 AND address = $2
RETURNING locked_until

-- name: forget_failed_sign_ins
-- A successful sign-in of phone $1 from address $2.
DELETE FROM console_sign_in_failure WHERE phone = $1 AND address = $2

-- name: record_sign_in
-- $2, when not NULL, is the password rehashed with today's parameters.
UPDATE console_login
SET password_hash = coalesce($2, password_hash)
WHERE person_id = $1 AND $2::text IS NOT NULL

-- name: create_session
INSERT INTO console_session (id_hash, person_id, csrf_token, user_agent, address)
VALUES ($1, $2, $3, $4, $5)

-- name: session_caller
-- The person behind session $1 while the session is live (not ended, the login enabled, a request within the
-- last $2 hours); last_seen_at moves on at most once a minute, not with every request.
WITH caller AS (
    SELECT s.person_id, s.csrf_token, l.role, l.phone, l.must_change, p.name
    FROM console_session s
    JOIN console_login l ON l.person_id = s.person_id
    JOIN person p ON p.id = s.person_id
    WHERE s.id_hash = $1
      AND s.ended_at IS NULL
      AND l.disabled_at IS NULL
      AND s.last_seen_at > now() - $2::float8 * interval '1 hour'
), touched AS (
    UPDATE console_session
    SET last_seen_at = now()
    WHERE id_hash = $1 AND last_seen_at < now() - interval '1 minute' AND EXISTS (SELECT 1 FROM caller)
)
SELECT * FROM caller

-- name: end_session
UPDATE console_session SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL

-- name: end_sessions_of
-- Every live session of person $1 but session $2 (NULL: every one).
UPDATE console_session
SET ended_at = now()
WHERE person_id = $1 AND ended_at IS NULL AND ($2::bytea IS NULL OR id_hash <> $2)

-- name: password_hash_of
SELECT password_hash FROM console_login WHERE person_id = $1

-- name: change_password
-- The person's own new password.
UPDATE console_login
SET password_hash = $2, must_change = false, password_changed_at = now()
WHERE person_id = $1

-- name: reset_password
-- An administrator's reset: a temporary password to be changed at the next sign-in; the back-off of its phone ends.
WITH reset AS (
    UPDATE console_login
    SET password_hash = $2, must_change = true, password_changed_at = now()
    WHERE person_id = $1
    RETURNING person_id, phone
), forgotten AS (
    DELETE FROM console_sign_in_failure f USING reset WHERE f.phone = reset.phone
)
SELECT person_id FROM reset

-- name: set_login_disabled
UPDATE console_login
SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
WHERE person_id = $1
RETURNING person_id

-- name: list_logins
SELECT l.person_id, p.name, l.phone, l.role, l.must_change, l.disabled_at,
       EXISTS (SELECT 1 FROM console_sign_in_failure f WHERE f.phone = l.phone AND f.locked_until > now())
           AS backed_off,
       l.created_at, l.created_by,
       (SELECT max(s.last_seen_at) FROM console_session s WHERE s.person_id = l.person_id) AS last_seen_at
FROM console_login l
JOIN person p ON p.id = l.person_id
ORDER BY p.name, l.person_id

-- name: phone_of_login
SELECT phone FROM console_login WHERE person_id = $1

-- name: alert_queue
-- The alerts not yet closed, highest level first, then unacknowledged before the rest, then oldest first: the
-- duty officer's queue. $1 scoping person (NULL: every point), $2 the most rows shown.
SELECT a.id, a.hazard_point AS point, p.name AS point_name, p.county_code, p.township_code,
       p.type AS point_type, p.threatened_people, a.type, a.level, a.state, a.pending_level, a.reasons,
       a.raised_at, a.updated_at, a.ack_deadline, a.escalation_step, a.acknowledged_at, a.acknowledged_by,
       a.verified_at, a.verified_by, a.verdict, count(*) OVER () AS total_count
FROM alert a
JOIN hazard_point p ON p.code = a.hazard_point
WHERE a.state <> 'resolved'
  AND ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = a.hazard_point AND g.person_id = $1))
ORDER BY alert_level_rank(a.level) DESC, a.state = 'open' DESC, a.raised_at, a.id
LIMIT $2

-- name: alert_point
-- The hazard point of alert $1, as the alert page heads it.
SELECT p.code, p.name, p.type, p.county_code, p.township_code, p.village_code, p.threatened_households,
       p.threatened_people, p.card
FROM alert a
JOIN hazard_point p ON p.code = a.hazard_point
WHERE a.id = $1

-- name: alert_escalation
SELECT ack_deadline, escalation_step, pending_level FROM alert WHERE id = $1

-- name: alert_evacuations
SELECT people_moved, households_moved, threatened_people, shelter, organised_by, moved_at, recorded_by, note
FROM evacuation
WHERE alert_id = $1
ORDER BY recorded_at

-- The devices page and a hazard point's page (service/console/pages/devices.py, points.py).

-- name: device_health
-- Devices of the points in scope with their health, offline ones first, then low battery, then the emptiest
-- battery and the longest silent. Online as the coverage report judges it (coverage_devices): the online flag is
-- true and the device was last seen within $5 times the longest reporting interval of its sensors ($6 seconds
-- when it has none); a manual device (a tape read by a grid monitor) is never offline. $1 county_code,
-- $2 hazard point, $3 state (offline, low_battery, online; NULL: all), $4 now, $7 the battery % below which it is
-- low, $8 the most rows, $9 scoping person.
WITH health AS (
    SELECT d.id, d.hazard_point, p.name AS point_name, p.county_code, d.protocol, d.online, d.last_seen,
           d.battery_pct, d.supply_v, d.signal, d.status_at, coalesce(s.sensors, 0) AS sensors,
           coalesce(s.sensors_offline, 0) AS sensors_offline, coalesce(s.sensors_faulty, 0) AS sensors_faulty,
           d.protocol <> 'manual' AND NOT (
               coalesce(d.online, false)
               AND d.last_seen IS NOT NULL
               AND d.last_seen >= $4::timestamptz
                   - make_interval(secs => $5::float8 * coalesce(s.longest_interval_s, $6::integer))
           ) AS offline,
           coalesce(d.battery_pct < $7::float8, false) AS low_battery
    FROM device d
    JOIN hazard_point p ON p.code = d.hazard_point
    LEFT JOIN (
        SELECT device_id, max(reporting_interval_s) AS longest_interval_s, count(*) AS sensors,
               count(*) FILTER (WHERE offline) AS sensors_offline, count(*) FILTER (WHERE state <> 0) AS sensors_faulty
        FROM sensor
        WHERE $2::text IS NULL OR hazard_point = $2
        GROUP BY device_id
    ) AS s ON s.device_id = d.id
    WHERE ($1::text IS NULL OR p.county_code = $1)
      AND ($2::text IS NULL OR d.hazard_point = $2)
      AND ($9::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = d.hazard_point AND g.person_id = $9))
), listed AS (
    SELECT h.*, count(*) OVER () AS total_count
    FROM health h
    WHERE $3::text IS NULL
       OR ($3 = 'offline' AND h.offline)
       OR ($3 = 'low_battery' AND h.low_battery)
       OR ($3 = 'online' AND NOT h.offline AND h.protocol <> 'manual')
    ORDER BY h.offline DESC, h.low_battery DESC, h.battery_pct NULLS LAST, h.last_seen NULLS FIRST, h.id
    LIMIT $8
)
-- The commands waiting for an answer are counted for the rows shown only.
SELECT l.*,
       (SELECT count(*) FROM device_command c WHERE c.device_id = l.id AND c.answered_at IS NULL) AS pending_commands
FROM listed l
ORDER BY l.offline DESC, l.low_battery DESC, l.battery_pct NULLS LAST, l.last_seen NULLS FIRST, l.id

-- name: device_counties
-- The counties of the points in scope that have devices, for the devices page's filter. $1 scoping person.
SELECT DISTINCT p.county_code
FROM device d
JOIN hazard_point p ON p.code = d.hazard_point
WHERE $1::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                    WHERE g.hazard_point = d.hazard_point AND g.person_id = $1)
ORDER BY 1

-- name: point_alerts
-- The alerts of point $1, newest first, at most $2: the point's alert history.
SELECT id, type, level, state, verdict, reasons, raised_at, acknowledged_by, resolved_at, resolved_by,
       count(*) OVER () AS total_count
FROM alert
WHERE hazard_point = $1
ORDER BY raised_at DESC, id DESC
LIMIT $2

-- name: point_alert_periods
-- The alerts of point $1 that were open at some time in [$2, $3): what a chart of the point shades.
SELECT id, type, level, raised_at, resolved_at
FROM alert
WHERE hazard_point = $1 AND raised_at < $3 AND (resolved_at IS NULL OR resolved_at > $2)
ORDER BY raised_at, id
-- The map page (service/console/pages/map.py).

-- name: map_points
-- Every point the caller may see, for the map, as one JSON object of parallel arrays (code, name, type, lon, lat,
-- county, township, level): built here in one statement, it is a fraction of the time and size of GeoJSON rows.
-- level is the rank (0 none .. 4 red, alerting.levels) of the highest level among the point's unresolved alerts,
-- as hazard_points.sql computes a point's level. $1 scoping person (NULL: every point).
WITH open_level AS (
    SELECT hazard_point, max(alert_level_rank(level)) AS rank
    FROM alert
    WHERE state <> 'resolved'
    GROUP BY hazard_point
), visible AS (
    SELECT p.code, p.name, p.type, p.lon, p.lat, p.county_code, p.township_code, coalesce(o.rank, 0) AS level
    FROM hazard_point p
    LEFT JOIN open_level o ON o.hazard_point = p.code
    WHERE ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = p.code AND g.person_id = $1))
)
SELECT json_build_object(
    'code', coalesce(json_agg(code), '[]'), 'name', coalesce(json_agg(name), '[]'),
    'type', coalesce(json_agg(type), '[]'), 'lon', coalesce(json_agg(lon), '[]'), 'lat', coalesce(json_agg(lat), '[]'),
    'county', coalesce(json_agg(county_code), '[]'), 'township', coalesce(json_agg(township_code), '[]'),
    'level', coalesce(json_agg(level), '[]'))::text
FROM visible

-- The shift log (service/console/pages/shift.py): the handover notes officers write at the end of a shift, and what
-- changed since the latest one. Each summary list takes the time of that note ($1), a grid monitor's scoping person
-- ($2, NULL for every other role) and the most rows shown ($3); every row carries the whole count (total_count), so
-- a list cut short still says how many there were.

-- name: shift_notes
-- The latest notes first, each with the name of the person who wrote it.
SELECT n.id, n.person_id, p.name, n.written_by, n.note, n.written_at
FROM shift_note n
JOIN person p ON p.id = n.person_id
ORDER BY n.written_at DESC, n.id DESC
LIMIT $1

-- name: insert_shift_note
INSERT INTO shift_note (person_id, written_by, note)
VALUES ($1, $2, $3)
RETURNING id, written_at

-- name: alert_events_since
-- The alerts with an event of kinds $4 since $1, each once with its latest such event, newest first: raised,
-- escalated (up the grid, notified again, or to a higher level), or resolved. An alert nobody acknowledges is
-- notified again at every deadline: it is still one alert.
WITH latest AS (
    SELECT DISTINCT ON (e.alert_id) e.id, e.alert_id, e.kind, e.at, e.from_level, e.to_level, e.actor, e.note
    FROM alert_event e
    WHERE e.at >= $1 AND e.kind = ANY ($4::text[])
    ORDER BY e.alert_id, e.at DESC, e.id DESC
)
SELECT l.id, l.alert_id, l.kind, l.at, l.from_level, l.to_level, l.actor, l.note, a.hazard_point AS point,
       p.name AS point_name, a.type, a.level, a.state, count(*) OVER () AS total_count
FROM latest l
JOIN alert a ON a.id = l.alert_id
JOIN hazard_point p ON p.code = a.hazard_point
WHERE ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = a.hazard_point AND g.person_id = $2))
ORDER BY l.at DESC, l.id DESC
LIMIT $3

-- name: patrol_reports_since
-- The patrol reports filed (received) since $1, newest first.
SELECT r.id, r.hazard_point AS point, p.name AS point_name, r.reported_at, r.received_at, r.judgement,
       r.findings, r.far_from_point, r.alert_id, coalesce(pe.name, r.recorded_by) AS reporter,
       count(*) OVER () AS total_count
FROM patrol_report r
JOIN hazard_point p ON p.code = r.hazard_point
LEFT JOIN person pe ON pe.id = r.reporter_id
WHERE r.received_at >= $1
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                     WHERE g.hazard_point = r.hazard_point AND g.person_id = $2))
ORDER BY r.received_at DESC, r.id DESC
LIMIT $3

-- name: devices_offline_since
-- Devices that went offline since $1 and still are, as the device health pages judge it (service.devices):
-- a sensor that ingest has marked offline (silent for more than three reporting intervals) went offline
-- three intervals after its last reading (or after its registration, if it never reported); a device whose
-- retained online flag is false (its last will, or the gateway's own `online` topic) went offline when it
-- was last seen. Of the two, the earlier counts; manual devices are never online, so never go offline.
WITH offline AS (
    SELECT d.id, d.hazard_point, d.protocol, d.online, d.last_seen,
           count(s.code) FILTER (WHERE s.offline) AS sensors_offline, count(s.code) AS sensors,
           least(CASE WHEN d.online IS false THEN d.last_seen END,
                 min(coalesce(s.last_reading_at, s.created_at) + make_interval(secs => 3 * s.reporting_interval_s))
                     FILTER (WHERE s.offline)) AS offline_at
    FROM device d
    LEFT JOIN sensor s ON s.device_id = d.id
    WHERE d.protocol <> 'manual'
      AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                         WHERE g.hazard_point = d.hazard_point AND g.person_id = $2))
    GROUP BY d.id
)
SELECT o.id, o.hazard_point AS point, p.name AS point_name, o.protocol, o.online, o.last_seen, o.sensors_offline,
       o.sensors, o.offline_at, count(*) OVER () AS total_count
FROM offline o
JOIN hazard_point p ON p.code = o.hazard_point
WHERE o.offline_at >= $1
ORDER BY o.offline_at DESC, o.id
LIMIT $3
