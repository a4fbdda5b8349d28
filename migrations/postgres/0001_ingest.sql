-- Tenants are the customer ids product apps put in events. A tenant exists
-- here once someone (the demo, an admin, later a customer record) names it;
-- events for tenants not listed here are still stored and counted, and show
-- up as unknown tenants until they are linked.
CREATE TABLE tenants (
    id         text PRIMARY KEY CHECK (id <> '' AND length(id) <= 128),
    name       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Ingest keys authenticate product apps at the collector. Only the SHA-256
-- of a key is kept; the key itself is shown once, when it is created.
CREATE TABLE ingest_keys (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL CHECK (name <> ''),
    key_hash        bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    -- 0 = the collector's late-arrival window; keys that import history
    -- get a longer one.
    max_age_seconds bigint NOT NULL DEFAULT 0 CHECK (max_age_seconds >= 0),
    -- 0 = the collector's default events/s limit; negative = unlimited.
    rate_per_second double precision NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
