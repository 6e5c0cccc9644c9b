-- The coverage report's queries (SPEC 5), loaded with sql.queries("coverage").
-- Both take the same scope: $1 county_code (NULL: every county), $2 the scoping person of a grid monitor
-- (NULL: every point), $3 the statuses of the points the report covers.

-- name: coverage_points
-- Every point in scope with what its gaps are judged on: threatened people, the grid roles nobody holds
-- (in the order of the grid chain), the last patrol report, and the routine patrols a week of its regime.
-- routine_patrols_per_week is read from the monitoring plan when it is a positive number, else $4.
SELECT p.code, p.name, p.county_code, p.status, p.threatened_people,
       ARRAY(SELECT r.role
             FROM unnest(ARRAY['monitor', 'area_lead', 'resident_geologist', 'county_admin'])
                  WITH ORDINALITY AS r (role, n)
             WHERE NOT EXISTS (SELECT 1 FROM grid_assignment g WHERE g.hazard_point = p.code AND g.role = r.role)
             ORDER BY r.n) AS missing_roles,
       (SELECT max(pr.reported_at) FROM patrol_report pr WHERE pr.hazard_point = p.code) AS last_report_at,
       CASE WHEN jsonb_typeof(p.monitoring_plan -> 'routine_patrols_per_week') = 'number'
                 AND (p.monitoring_plan ->> 'routine_patrols_per_week')::float8 > 0
            THEN (p.monitoring_plan ->> 'routine_patrols_per_week')::float8
            ELSE $4::float8
       END AS patrols_per_week
FROM hazard_point p
WHERE ($1::text IS NULL OR p.county_code = $1)
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g WHERE g.hazard_point = p.code AND g.person_id = $2))
  AND p.status = ANY ($3::text[])
ORDER BY p.county_code, p.code

-- name: coverage_devices
-- Every device of the points in scope and whether it is online at $4: its retained online flag is true
-- (ingest sets it on traffic and on the gateway's `online` topic; the last will clears it) and it was
-- last seen within $5 times the longest reporting interval of its sensors ($6 seconds when it has none).
-- Manual devices are not automatic monitoring: they are neither online nor offline.
SELECT d.id, d.hazard_point, d.online, d.last_seen,
       coalesce(d.online, false)
       AND d.last_seen IS NOT NULL
       AND d.last_seen >= $4::timestamptz - make_interval(secs => $5::float8 * coalesce(max(s.reporting_interval_s), $6::integer))
           AS online_now,
       $5::float8 * coalesce(max(s.reporting_interval_s), $6::integer) AS silence_limit_s
FROM device d
JOIN hazard_point p ON p.code = d.hazard_point
LEFT JOIN sensor s ON s.device_id = d.id
WHERE ($1::text IS NULL OR p.county_code = $1)
  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g WHERE g.hazard_point = p.code AND g.person_id = $2))
  AND p.status = ANY ($3::text[]) AND d.protocol <> 'manual'
GROUP BY d.id
ORDER BY d.id
