-- Daily activity: what every activity page and health score reads
-- (METRICS.md "Activity", "Health"). Days, not hours: a 90-day page reads
-- 90 rows per tenant instead of 2,160, and the dashboard's trends over all
-- tenants read one row per tenant and day.
--
-- Days are calendar days of the company's reporting timezone. A
-- materialized view cannot read a setting, so the zone is fixed when the
-- views are made: this file is zoned (migrations/zone.go) — `keel migrate
-- --tz ZONE` (default UTC, $KEEL_TIMEZONE) fills in the zone, records it in
-- schema_timezone, and when it is run with another zone drops what this
-- file made and runs it again, the backfills below rebuilding every day
-- from events. The services that read days refuse a --tz other than the
-- recorded one (warehouse.Store.CheckZone), so no page shows days cut in a
-- zone it was not asked for. One zone for the whole warehouse is the simple
-- choice: a company reports in one zone, and changing it is rare enough to
-- pay a rebuild. Cut this way every zone is exact, a half-hour one
-- (Asia/Kolkata) too, which the hourly rollup could not be.
--
-- Every column is a set or a maximum (uniqExact, argMax, max states), so an
-- event inserted twice never counts twice, and a late event updates the day
-- it belongs to. Breadth over 30 days and "features seen across all
-- customers" are unions of the daily sets, never sums.
--   users        users with any event
--   login_users  users who logged in
--   logins       ids of login events
--   features     `feature` props of feature_used events
--   seats        `seats` of the day's latest seat_snapshot (by event time,
--                then event id, so a tie is decided the same way every time)
--   seats_at     the time of that snapshot (max over snapshots): zero when
--                the tenant sent none, which 0 seats alone could not say
--   last_login   the time of the day's last login; zero when none
--
-- The per-tenant rollup activity_daily described above is made by
-- 0010_activity_daily_granules.sql (it was made here until Dec 2026, in
-- granules of 8,192 rows; 0010 remakes it in granules of 256).

-- Daily activity across all tenants, for the dashboard (its chart of 90
-- days) and for "features seen across all customers" in health scores:
-- one row per day whatever the number of tenants. As in
-- activity_totals_hourly (0003), users and logins are scoped by tenant —
-- (tenant, user) and (tenant, event id) pairs — so a day's distinct pairs
-- are the sum over tenants of each tenant's distinct count; features are
-- not, since "seen across all customers" is one set of names.
-- ORDER BY day; index_granularity = 1: a row is a set of thousands, so one
-- granule a day reads only the days asked for.
CREATE TABLE IF NOT EXISTS activity_totals_daily (
    day           Date,
    login_users   AggregateFunction(uniqExact, String, String),
    logins        AggregateFunction(uniqExact, String, String),
    login_tenants AggregateFunction(uniqExact, String),
    features      AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY day
SETTINGS index_granularity = 1;

-- The filters are activity_hourly_mv's, so every rollup counts the same
-- events.
CREATE MATERIALIZED VIEW IF NOT EXISTS activity_totals_daily_mv TO activity_totals_daily AS
SELECT
    toDate(event_time, '{timezone}') AS day,
    uniqExactStateIf(tenant_id, user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactStateIf(tenant_id, event_id, event_type = 'login') AS logins,
    uniqExactStateIf(tenant_id, event_type = 'login') AS login_tenants,
    uniqExactStateIf(visitParamExtractString(props, 'feature'), event_type = 'feature_used' AND visitParamExtractString(props, 'feature') != '') AS features
FROM events
GROUP BY day;

-- Backfill: the events stored before the view existed. The view is
-- created first, so an event is either already in the table this reads or
-- inserted after its view began to roll it up; one inserted while this
-- runs may be in both, and running it again after an interruption adds
-- everything again, but every column is a set or a maximum, so nothing is
-- counted twice.
INSERT INTO activity_totals_daily (day, login_users, logins, login_tenants, features)
SELECT
    toDate(event_time, '{timezone}') AS day,
    uniqExactStateIf(tenant_id, user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactStateIf(tenant_id, event_id, event_type = 'login') AS logins,
    uniqExactStateIf(tenant_id, event_type = 'login') AS login_tenants,
    uniqExactStateIf(visitParamExtractString(props, 'feature'), event_type = 'feature_used' AND visitParamExtractString(props, 'feature') != '') AS features
FROM events
GROUP BY day;
