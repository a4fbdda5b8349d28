-- Revenue: every customer's MRR month by month, with its movement, and its
-- renewals due — computed in Go from the customer's subscription.changed
-- facts (warehouse/revenue.go, METRICS.md "Revenue"), never typed in.
--
-- ClickHouse 18.16 has no window functions, so month-over-month movements
-- are not computed in SQL: whenever a fact of a customer arrives, the
-- facts loader computes that customer's whole series again and inserts it
-- here, so a back-dated order or a void restates every month after it and
-- queries only sum.
--
-- One table holds three kinds of row, so that one computation of one
-- customer is one insert of one block — atomic in ClickHouse (no
-- PARTITION BY: one part per insert):
--   'month'    one per customer × currency × month with MRR or a movement;
--   'renewal'  one per subscription term that comes to its end;
--   'version'  one per customer and computation (currency '', month
--              1970-01-01): the computation's version.
-- Every query reads only the rows of each customer's latest version
-- (revenueLatest in warehouse/revenue_queries.go), so months a restatement
-- removed — a voided back-dated order — vanish at once, without deleting
-- anything.
--
-- Money is exact: a line's MRR is its amount ÷ its months, so each row
-- carries numerators over one denominator (den, the least common one of the
-- row's amounts). Queries sum numerators per denominator and Go adds the
-- fractions and rounds half up once (keel.ExactSum).
--
-- ReplacingMergeTree(version) ORDER BY the row's identity (currency, month,
-- customer, kind, subscription, end): a computation made again (a fact
-- re-delivered, `keel revenue rebuild`) replaces the rows it repeats, and
-- queries read with FINAL. Ordered by currency and month first, because
-- every report reads one currency over a range of months; the marker rows
-- sort first (currency '') where the latest-version lookup finds them.
CREATE TABLE IF NOT EXISTS revenue (
    currency        String,
    month           Date,
    customer_id     UInt64,
    row_kind        String,
    subscription_id UInt64,
    ends_on         Date,
    version         UInt64,
    den             Int64,
    mrr_num         Int64,
    prev_num        Int64,
    movement        String,
    change_num      Int64,
    cohort          Date,
    product_id      UInt64,
    orders          Array(UInt64),
    renewal_orders  Array(UInt64),
    computed_at     DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
ORDER BY (currency, month, customer_id, row_kind, subscription_id, ends_on);

-- Sales and marketing spend per month and currency (for CAC), from the
-- spend.set facts finance and admin make in the console. The latest fact
-- of a month and currency is its spend: ReplacingMergeTree(fact_id), read
-- with argMax(amount, fact_id).
CREATE TABLE IF NOT EXISTS revenue_spend (
    currency String,
    month    Date,
    amount   Int64,
    fact_id  UInt64
) ENGINE = ReplacingMergeTree(fact_id)
ORDER BY (currency, month);
