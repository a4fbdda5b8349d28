-- The per-tenant daily rollup, activity_daily: the columns and their
-- meaning are 0005_activity_daily.sql's, which made it until Dec 2026.
-- This file makes it again in granules of 256 rows (below), from events,
-- like any zoned migration: `keel migrate` drops what an earlier run made
-- and runs the file (migrations/zone.go), on an install of 0005 rebuilding
-- every day from events once — while it runs no zone is recorded, so the
-- services refuse days rather than show a rollup half made.
--
-- PARTITION BY month of the day: a late event updates its own month, and a
-- read of a range of days touches only the months it spans.
-- ORDER BY (tenant_id, day): a tenant's days are one read (its pages, a
-- page of customers); reads across tenants take whole days of a month's
-- partition, which at one row per tenant and day is what they need anyway.
-- index_granularity = 256: a row is a few sets, and a tenant has about 30
-- rows in a month's partition, so a granule of 8,192 rows (the default)
-- made one tenant's 119 days — a customer page's 90 with the 29 before for
-- MAU — read and decode 40,960 rows of sets (21 MiB, ~35 ms at 10,000
-- tenants) for its 119; in granules of 256 it reads about 1,280 (~14 ms).
CREATE TABLE IF NOT EXISTS activity_daily (
    tenant_id   String,
    day         Date,
    users       AggregateFunction(uniqExact, String),
    login_users AggregateFunction(uniqExact, String),
    logins      AggregateFunction(uniqExact, String),
    features    AggregateFunction(uniqExact, String),
    seats       AggregateFunction(argMax, UInt64, Tuple(DateTime('UTC'), String)),
    seats_at    AggregateFunction(max, DateTime('UTC')),
    last_login  AggregateFunction(max, DateTime('UTC'))
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day)
SETTINGS index_granularity = 256;

-- The filters are activity_totals_daily_mv's (0005), so every rollup
-- counts the same events.
CREATE MATERIALIZED VIEW IF NOT EXISTS activity_daily_mv TO activity_daily AS
SELECT
    tenant_id,
    toDate(event_time, '{timezone}') AS day,
    uniqExactStateIf(user_id, user_id != '') AS users,
    uniqExactStateIf(user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactStateIf(event_id, event_type = 'login') AS logins,
    uniqExactStateIf(visitParamExtractString(props, 'feature'), event_type = 'feature_used' AND visitParamExtractString(props, 'feature') != '') AS features,
    argMaxStateIf(visitParamExtractUInt(props, 'seats'), tuple(event_time, event_id), event_type = 'seat_snapshot') AS seats,
    maxStateIf(event_time, event_type = 'seat_snapshot') AS seats_at,
    maxStateIf(event_time, event_type = 'login') AS last_login
FROM events
GROUP BY tenant_id, day;

-- Backfill: the events stored before the view existed. The view is
-- created first, so an event is either already in the table this reads or
-- inserted after its view began to roll it up; one inserted while this
-- runs may be in both, and running it again after an interruption adds
-- everything again, but every column is a set or a maximum, so nothing is
-- counted twice.
INSERT INTO activity_daily (tenant_id, day, users, login_users, logins, features, seats, seats_at, last_login)
SELECT
    tenant_id,
    toDate(event_time, '{timezone}') AS day,
    uniqExactStateIf(user_id, user_id != '') AS users,
    uniqExactStateIf(user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactStateIf(event_id, event_type = 'login') AS logins,
    uniqExactStateIf(visitParamExtractString(props, 'feature'), event_type = 'feature_used' AND visitParamExtractString(props, 'feature') != '') AS features,
    argMaxStateIf(visitParamExtractUInt(props, 'seats'), tuple(event_time, event_id), event_type = 'seat_snapshot') AS seats,
    maxStateIf(event_time, event_type = 'seat_snapshot') AS seats_at,
    maxStateIf(event_time, event_type = 'login') AS last_login
FROM events
GROUP BY tenant_id, day;
