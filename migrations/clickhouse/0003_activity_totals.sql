-- Hourly activity across all tenants, for the cross-tenant views (the
-- console's activity dashboard: warehouse.DailyTotals). activity_hourly has
-- one row per tenant and hour, so a day across 200 tenants merges 4,800
-- states; this table has one row per hour whatever the number of tenants.
--
-- It holds what the dashboard shows: who logged in, logins and the tenants
-- with a login. Users active without a login are left out on purpose: their
-- set is the largest (most events are not logins) and reading it more than
-- doubled the cost of the dashboard's 90 days; per tenant they are in
-- activity_hourly.
--
-- Days are summed over tenants (METRICS.md: users are distinct per tenant
-- and day), so every member is scoped by its tenant: the sets hold (tenant,
-- user) and (tenant, event id) pairs, and a day's distinct count of pairs is
-- exactly the sum over tenants of each tenant's distinct count.
-- uniqExact over two arguments hashes the pair as two values (each with its
-- length), so no separator can make two pairs collide the way a string
-- concatenation could.
--   login_users   (tenant, user) who logged in
--   logins        (tenant, event id) of login events
--   login_tenants tenants with a login
-- The filters are activity_hourly_mv's, so both rollups count the same
-- events. Hours, not days, so that days can be cut in any whole-hour
-- reporting timezone at query time. Every column is a set (uniqExact
-- state), which makes the rollup immune to an event inserted twice.
--
-- PARTITION BY month of the hour: a late event updates its own month, and a
-- read of a range of days touches only the months it spans.
-- ORDER BY hour: the only key; a range of hours is one read.
-- index_granularity = 24: the table has 24 rows a day and each row is a set
-- of thousands, so the default granule (8,192 rows, nearly a year) would
-- make a 30-day read decode every row of the months it touches; one granule
-- a day reads only the days asked for.
CREATE TABLE IF NOT EXISTS activity_totals_hourly (
    hour          DateTime('UTC'),
    login_users   AggregateFunction(uniqExact, String, String),
    logins        AggregateFunction(uniqExact, String, String),
    login_tenants AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY hour
SETTINGS index_granularity = 24;

CREATE MATERIALIZED VIEW IF NOT EXISTS activity_totals_hourly_mv TO activity_totals_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    uniqExactStateIf(tenant_id, user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactStateIf(tenant_id, event_id, event_type = 'login') AS logins,
    uniqExactStateIf(tenant_id, event_type = 'login') AS login_tenants
FROM events
GROUP BY hour;

-- Backfill: the events stored before the view existed. The view is created
-- first, so an event is either already in the table this reads or inserted
-- after the view began to roll it up; one inserted while this runs may be
-- in both, and running the migration again after an interruption adds
-- everything again, but the columns are sets, so nothing is counted twice.
INSERT INTO activity_totals_hourly (hour, login_users, logins, login_tenants)
SELECT
    toStartOfHour(event_time) AS hour,
    uniqExactStateIf(tenant_id, user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactStateIf(tenant_id, event_id, event_type = 'login') AS logins,
    uniqExactStateIf(tenant_id, event_type = 'login') AS login_tenants
FROM events
GROUP BY hour;
