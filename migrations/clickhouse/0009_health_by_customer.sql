-- Health scores ordered by customer: what a customer's page, the API's
-- history of one customer and the overview's biggest drops read — a few
-- customers over a range of days. health_scores is ordered by day first
-- (the pages read one day of every customer), so a customer's 90 days
-- there are one row in each of 90 granules of 8,192 rows: at 10,000
-- customers a day it read every row of the range and decompressed every
-- column of those granules, ~100 ms per customer page. Ordered by customer,
-- the same days are one granule or two (~12 ms); granules of 512 rows, a
-- customer's year or so, so that a few customers' days (the overview's
-- drops) do not read 8,192 rows each.
--
-- The same rows, filled by a view from every insert into health_scores,
-- so a run's rows are in both or, when the insert fails, its marker is
-- never written and neither is read. Queries read the latest run of each
-- day (health_runs) exactly as from health_scores.
CREATE TABLE IF NOT EXISTS health_by_customer (
    day         Date,
    customer_id UInt64,
    version     UInt64,
    score       UInt8,
    band        String,
    components  Array(String),
    comp_values Array(Float64),
    comp_subs   Array(Float64),
    weights     Array(UInt32),
    no_data     Array(UInt8),
    mrr         Int64,
    currency    String,
    computed_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY (customer_id, day, version)
SETTINGS index_granularity = 512;

CREATE MATERIALIZED VIEW IF NOT EXISTS health_by_customer_mv TO health_by_customer AS
SELECT day, customer_id, version, score, band, components, comp_values, comp_subs, weights, no_data, mrr, currency, computed_at
FROM health_scores;

-- Backfill: the scores stored before the view existed. The view is made
-- first, so a run written while this runs may be copied twice, as may
-- everything when this runs again after an interruption; the copies are
-- the same row (the version is in the key), which merges fold and the
-- reads take once (LIMIT 1 BY customer_id, day).
INSERT INTO health_by_customer (day, customer_id, version, score, band, components, comp_values, comp_subs, weights, no_data, mrr, currency, computed_at)
SELECT day, customer_id, version, score, band, components, comp_values, comp_subs, weights, no_data, mrr, currency, computed_at
FROM health_scores;
