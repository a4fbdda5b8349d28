-- The transactional outbox: facts that ClickHouse must learn about (an order
-- approved or voided, a subscription changed, a customer created, a tenant
-- linked) are inserted here by the same transaction that makes the change,
-- so a fact exists if and only if the change committed. `keel relay`
-- publishes unsent rows to Kafka in id order and then sets sent_at
-- (postgres/outbox.go explains why that is exactly once in effect).
--
-- Rows are kept after sending: replaying them (sent_at = NULL) rebuilds the
-- warehouse's facts.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text NOT NULL DEFAULT 'keel.facts' CHECK (topic <> ''),
    -- The Kafka message key: the customer id as text, so all of a
    -- customer's facts share a partition and stay in order.
    key        text NOT NULL CHECK (key <> ''),
    kind       text NOT NULL CHECK (kind <> ''),
    -- {"customer_id": …, "tenant": …, "at": …, "data": {…}}; the relay adds
    -- "id" and "kind" to make the message.
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

-- What the relay reads: unsent rows in id order. Small, because sent rows
-- leave it.
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Wakes the relay (LISTEN keel_outbox) when facts commit. Postgres delivers
-- a notification only at commit, and once per transaction however many rows
-- it inserted, so a rolled-back change never wakes anyone.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keel_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
