-- Indexes for the API's listings (SPEC 8: p99 under 50 ms with 20,000 points and 10,000 alerts), chosen
-- with bench/api.py and EXPLAIN ANALYZE of the `hazard_points` and `alerts` queries in sql/api.sql.

-- A hazard point's current level is the highest level of its alerts not yet resolved. Every hazard-point
-- query computes it by grouping those alerts by point; with this index that is an index-only scan already in
-- point order (no heap visit, no sort), which a merge join with the page's points consumes as far as needed.
CREATE INDEX alert_open_level_idx ON alert (hazard_point, level) WHERE state <> 'resolved';

-- A point's alert history, newest first (GET /alerts?point=), and the alerts of a county's points
-- (GET /alerts?county_code=) probed point by point; also what deleting a point cascades through, which
-- otherwise reads every alert.
CREATE INDEX alert_point_raised_idx ON alert (hazard_point, raised_at DESC);

-- A county's points in code order: the county filter's page straight from the index, its count and the
-- alert listing's county filter from the index alone.
CREATE INDEX hazard_point_county_code_idx ON hazard_point (county_code, code);

-- The map's bounding box (GET /hazard-points?bbox=): a longitude range, latitude checked in the index.
CREATE INDEX hazard_point_lon_lat_idx ON hazard_point (lon, lat);
