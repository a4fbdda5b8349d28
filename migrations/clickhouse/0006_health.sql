-- Health: every scored customer's score of every day, with each
-- component's value, sub-score and weight (keel.HealthScore), written by
-- the daily scoring (scoring/). A day is scored again by writing a new
-- version of it: health_runs records each day's versions, and every query
-- reads the rows of each day's latest run, so a re-run replaces the day
-- whole — a customer no longer scored that day vanishes from it — and a
-- run that died half-way (its marker not written) is never read.
--
-- ReplacingMergeTree ORDER BY (day, customer_id, version): the version is
-- in the key, so an older run's rows are never replaced by a newer run's
-- before that run's marker exists (a merge cannot make a hole); a run's
-- rows inserted twice fold. Ordered by day first: the pages read one day
-- of every customer, the customer page a range of days of one customer,
-- and the backtest ranges of days.
CREATE TABLE IF NOT EXISTS health_scores (
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
ORDER BY (day, customer_id, version);

-- One row per scoring of a day, written after its scores.
CREATE TABLE IF NOT EXISTS health_runs (
    day         Date,
    version     UInt64,
    customers   UInt32,
    computed_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
ORDER BY (day, version);
