-- Product events, one row per (tenant, event id).
--
-- The loader writes each event once (warehouse/loader.go explains how it
-- survives crashes and re-deliveries). ReplacingMergeTree on the event's
-- identity is the second line of defence: should a duplicate ever land, a
-- merge folds it away, and until then every number keel shows counts
-- distinct ids or users, so it is never counted twice.
--
-- PARTITION BY month of the event's own time: a late event lands in the
-- month it happened, and old months can be dropped whole.
-- ORDER BY (tenant_id, event_id): the identity ReplacingMergeTree folds on,
-- and one contiguous range per tenant for per-tenant reads.
-- kafka_topic / kafka_partition / kafka_offset record where each row came
-- from; the loader reads them back after a crash to skip what it already
-- stored.
CREATE TABLE IF NOT EXISTS events (
    tenant_id       String,
    event_id        String,
    event_type      String,
    user_id         String,
    event_time      DateTime('UTC'),
    props           String,
    ingested_at     DateTime('UTC'),
    kafka_topic     String,
    kafka_partition UInt32,
    kafka_offset    UInt64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant_id, event_id);

-- Messages the loader could not store as events (bad JSON, a missing field,
-- a time outside the window), with the reason, so nothing vanishes silently.
-- ORDER BY the Kafka position: the loader looks rows up by it after a crash.
CREATE TABLE IF NOT EXISTS rejected_events (
    received_at     DateTime('UTC'),
    kafka_topic     String,
    kafka_partition UInt32,
    kafka_offset    UInt64,
    tenant_id       String,
    reason          String,
    raw             String
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(received_at)
ORDER BY (kafka_topic, kafka_partition, kafka_offset);

-- Hourly activity per tenant, kept up to date by the materialized view below
-- as events are inserted (a late event updates the hour it belongs to).
-- Hours, not days, so that days can be cut in any whole-hour reporting
-- timezone at query time. Every column is a set (uniqExact state), which
-- makes the rollup immune to an event inserted twice.
-- ORDER BY (tenant_id, hour): a tenant's range of hours is one read.
CREATE TABLE IF NOT EXISTS activity_hourly (
    tenant_id   String,
    hour        DateTime('UTC'),
    users       AggregateFunction(uniqExact, String),
    login_users AggregateFunction(uniqExact, String),
    logins      AggregateFunction(uniqExact, String),
    features    AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS activity_hourly_mv TO activity_hourly AS
SELECT
    tenant_id,
    toStartOfHour(event_time) AS hour,
    uniqExactStateIf(user_id, user_id != '') AS users,
    uniqExactStateIf(user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactStateIf(event_id, event_type = 'login') AS logins,
    uniqExactStateIf(visitParamExtractString(props, 'feature'), event_type = 'feature_used' AND visitParamExtractString(props, 'feature') != '') AS features
FROM events
GROUP BY tenant_id, hour;
