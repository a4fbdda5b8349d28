-- Facts: what Postgres tells the warehouse through the transactional outbox
-- (postgres/outbox.go) and Kafka topic keel.facts: orders approved and
-- voided, subscriptions changed, customers created and updated, tenants
-- linked. One row per outbox id (fact_id).
--
-- The facts loader (warehouse/facts_loader.go) stores each fact once: it
-- drops the ids ClickHouse already has before every insert.
-- ReplacingMergeTree on the fact's identity is the second line of defence:
-- should a duplicate ever land (a loader that lost its partition while
-- still writing), a merge folds it away, and until then every query counts
-- distinct fact ids or picks one row per id with argMax, so it never counts
-- twice.
--
-- ORDER BY (customer_id, fact_id): the identity ReplacingMergeTree folds on
-- (a fact's customer never changes: it is the Kafka key the relay sent it
-- with), one contiguous range per customer for the per-customer reads that
-- revenue and health need, and an index the loader's "which of these ids do
-- you have" lookup can use, because it knows each fact's customer too.
-- No PARTITION BY: facts are business events (thousands a day, not
-- millions), never dropped by age, and one partition lets any two copies of a
-- fact meet in a merge whatever their time.
CREATE TABLE IF NOT EXISTS facts (
    fact_id         UInt64,
    kind            String,
    customer_id     UInt64,
    tenant          String,
    at              DateTime('UTC'),
    payload         String,
    loaded_at       DateTime('UTC'),
    kafka_topic     String,
    kafka_partition UInt32,
    kafka_offset    UInt64
) ENGINE = ReplacingMergeTree()
ORDER BY (customer_id, fact_id);

-- Which customer each product tenant belongs to, so that events (keyed by
-- tenant) can be attributed to customers. Written by the facts loader for
-- every tenant.linked fact it reads, including ones it has stored before:
-- that way a link is never lost to a crash between storing the fact and
-- storing the link. A tenant belongs to the customer of its latest link:
-- ReplacingMergeTree(fact_id) keeps the row with the highest fact id when it
-- merges, and queries take argMax(customer_id, fact_id) so repeated rows
-- never matter.
-- ORDER BY tenant: the identity, and the lookup by tenant.
CREATE TABLE IF NOT EXISTS tenant_links (
    tenant      String,
    customer_id UInt64,
    linked_at   DateTime('UTC'),
    fact_id     UInt64
) ENGINE = ReplacingMergeTree(fact_id)
ORDER BY tenant;
