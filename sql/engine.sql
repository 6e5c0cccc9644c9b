-- Queries of the warning engine.

-- name: monitored_sensors
-- Sensors of active points whose readings the engine analyses, with what it needs to judge them: their
-- configured v0 and resolution, and their quiet baseline.
SELECT s.device_id, s.code, s.kind, s.hazard_point, s.v0_mm_per_day, s.thresholds,
       s.reporting_interval_s, p.lon, p.lat, s.resolution_mm,
       b.v0_mm_per_day AS baseline_v0_mm_per_day, b.reference_value AS baseline_reference
FROM sensor s
JOIN hazard_point p ON p.code = s.hazard_point
LEFT JOIN sensor_baseline b ON b.device_id = s.device_id AND b.code = s.code
WHERE p.status IN ('active', 'under_treatment') AND s.kind = ANY($1::text[])
  AND ($2::text[] IS NULL OR s.hazard_point = ANY($2::text[]))
ORDER BY s.hazard_point, s.device_id, s.code

-- name: gauges_near
-- Rain gauges of active points within about 10 km (0.1 degree of latitude is 11 km) of the given
-- points, or every gauge when $1 is NULL: the candidates for each point's nearest working gauge.
SELECT s.device_id, s.code, s.kind, s.hazard_point, s.v0_mm_per_day, s.thresholds,
       s.reporting_interval_s, p.lon, p.lat
FROM sensor s
JOIN hazard_point p ON p.code = s.hazard_point
WHERE p.status IN ('active', 'under_treatment') AND s.kind = 'rain'
  AND ($1::text[] IS NULL OR EXISTS (
      SELECT 1 FROM hazard_point q
      WHERE q.code = ANY($1::text[]) AND abs(q.lat - p.lat) <= 0.1
        AND abs(q.lon - p.lon) <= 0.1 / greatest(cos(radians(q.lat)), 0.01)))
ORDER BY s.hazard_point, s.device_id, s.code

-- name: points_of_devices
-- The points whose assessment new readings of these devices can change: their own points and, for a
-- rain gauge, every point within about 10 km that may borrow it.
WITH touched AS (
    SELECT s.hazard_point, s.kind, p.lon, p.lat
    FROM sensor s JOIN hazard_point p ON p.code = s.hazard_point
    WHERE s.device_id = ANY($1::text[])
)
SELECT q.code FROM hazard_point q
WHERE q.status IN ('active', 'under_treatment')
  AND (q.code IN (SELECT hazard_point FROM touched)
       OR EXISTS (SELECT 1 FROM touched t
                  WHERE t.kind = 'rain' AND abs(q.lat - t.lat) <= 0.1
                    AND abs(q.lon - t.lon) <= 0.1 / greatest(cos(radians(t.lat)), 0.01)))

-- name: window_readings
-- Good readings of the given sensors in (from, to], as three parallel arrays: sensor position
-- (1-based, in the order given), epoch seconds and value.
SELECT coalesce(array_agg(s.idx), '{}') AS idx,
       coalesce(array_agg(extract(epoch FROM r.ts)::float8), '{}') AS t_s,
       coalesce(array_agg(r.value), '{}') AS value
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS s (device_id, code, idx)
JOIN reading r ON r.device_id = s.device_id AND r.sensor_code = s.code
WHERE r.ts > $3 AND r.ts <= $4 AND r.quality = '{}' AND r.value IS NOT NULL

-- name: window_since
-- Every reading of the given sensors from that sensor's own time on (inclusive) up to $4, as parallel
-- arrays: sensor position (1-based, in the order given), epoch seconds, value (NaN when none) and whether
-- it is good (no flag and a value). The engine keeps the good ones and remembers the last one of any
-- quality (its cursor: what was stored since the engine last looked starts there).
SELECT coalesce(array_agg(s.idx), '{}') AS idx,
       coalesce(array_agg(extract(epoch FROM r.ts)::float8), '{}') AS t_s,
       coalesce(array_agg(coalesce(r.value, 'NaN')), '{}') AS value,
       coalesce(array_agg(r.quality = '{}' AND r.value IS NOT NULL), '{}') AS good
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS s (device_id, code, since, idx)
JOIN reading r ON r.device_id = s.device_id AND r.sensor_code = s.code
WHERE r.ts >= s.since AND r.ts <= $4

-- name: active_points
-- The points the engine evaluates: in service, including those under engineering treatment (the slope is
-- still moving while the works go on); treated, relocated and cancelled points are not watched.
SELECT code, county_code, lon, lat, thresholds, monitoring_plan
FROM hazard_point
WHERE status IN ('active', 'under_treatment') AND ($1::text[] IS NULL OR code = ANY($1::text[]))
ORDER BY code

-- name: open_alerts
SELECT id, hazard_point, type, level, state, pending_level, pending_since, raised_at
FROM alert
WHERE state <> 'resolved'

-- name: shadow_alert_tables
-- For replay: empty temporary twins of the alert tables, found before the real ones (pg_temp is
-- searched first), dropped with the transaction. Triggers are not copied, so nothing is notified.
CREATE TEMP TABLE alert (LIKE public.alert INCLUDING ALL) ON COMMIT DROP;
CREATE TEMP TABLE alert_event (LIKE public.alert_event INCLUDING ALL) ON COMMIT DROP;

-- name: shadow_events
SELECT e.at, a.hazard_point, a.type, e.kind, e.from_level, e.to_level, a.reasons
FROM alert_event e JOIN alert a ON a.id = e.alert_id
ORDER BY e.at, e.id

-- name: baseline_due
-- Displacement sensors of active points whose quiet baseline is missing or older than $2, oldest first,
-- at most $3 of them (NULL: all); $1 limits them to those points.
SELECT s.device_id, s.code, s.kind, s.hazard_point, s.reporting_interval_s, s.resolution_mm
FROM sensor s
JOIN hazard_point p ON p.code = s.hazard_point
LEFT JOIN sensor_baseline b ON b.device_id = s.device_id AND b.code = s.code
WHERE p.status IN ('active', 'under_treatment') AND s.kind = ANY($4::text[])
  AND ($1::text[] IS NULL OR s.hazard_point = ANY($1::text[]))
  AND (b.computed_at IS NULL OR b.computed_at < $2)
ORDER BY b.computed_at NULLS FIRST, s.device_id, s.code
LIMIT $3

-- name: deformation_alert_periods
-- When each of these points had a deformation alert open, up to $2: the periods a quiet baseline leaves out.
SELECT hazard_point, extract(epoch FROM raised_at)::float8 AS from_s,
       extract(epoch FROM coalesce(resolved_at, $2))::float8 AS to_s
FROM alert
WHERE type = 'deformation' AND hazard_point = ANY($1::text[]) AND raised_at <= $2

-- name: upsert_baseline
INSERT INTO sensor_baseline (device_id, code, v0_mm_per_day, reference_value, quiet_days, period_from, period_to,
                             computed_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::timestamptz[],
                     $7::timestamptz[], $8::timestamptz[])
-- A v0 that counted is kept while the new one does not (a deformation alert open for most of the month
-- leaves fewer than 7 quiet days): falling back to the kind's default would judge a fast creeping slope
-- against a slow default and turn steady creep red. Only the time of the attempt moves on.
ON CONFLICT (device_id, code) DO UPDATE
SET v0_mm_per_day = CASE WHEN excluded.v0_mm_per_day IS NULL AND sensor_baseline.v0_mm_per_day IS NOT NULL THEN sensor_baseline.v0_mm_per_day ELSE excluded.v0_mm_per_day END,
    reference_value = CASE WHEN excluded.v0_mm_per_day IS NULL AND sensor_baseline.v0_mm_per_day IS NOT NULL THEN sensor_baseline.reference_value ELSE excluded.reference_value END,
    quiet_days = CASE WHEN excluded.v0_mm_per_day IS NULL AND sensor_baseline.v0_mm_per_day IS NOT NULL THEN sensor_baseline.quiet_days ELSE excluded.quiet_days END,
    period_from = CASE WHEN excluded.v0_mm_per_day IS NULL AND sensor_baseline.v0_mm_per_day IS NOT NULL THEN sensor_baseline.period_from ELSE excluded.period_from END,
    period_to = CASE WHEN excluded.v0_mm_per_day IS NULL AND sensor_baseline.v0_mm_per_day IS NOT NULL THEN sensor_baseline.period_to ELSE excluded.period_to END,
    computed_at = excluded.computed_at

-- name: live_rule_versions
-- The rule versions of the live events recorded in (from, to], other than $3 (the engine's own), with how many.
SELECT rule_version, count(*) AS events
FROM alert_event
WHERE at > $1 AND at <= $2 AND rule_version IS NOT NULL AND rule_version <> $3
GROUP BY rule_version
ORDER BY rule_version
