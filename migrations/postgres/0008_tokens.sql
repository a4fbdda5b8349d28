-- Tokens and ingest keys: each can be listed with when it was made and last
-- used, given an expiry, and revoked one at a time; an ingest key can be
-- limited to the tenants it may write.

-- An expiry is an instant (NULL = the credential does not expire). An
-- expired token or key is refused like a revoked one; it stays listed, as
-- a revoked one does, so its history can be read.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz
    CHECK (expires_at IS NULL OR expires_at > created_at);

ALTER TABLE ingest_keys
    ADD COLUMN expires_at timestamptz CHECK (expires_at IS NULL OR expires_at > created_at),
    -- Written by the collectors from their key caches, at most once a
    -- minute per key (never per request), so it is the last minute of use.
    ADD COLUMN last_used_at timestamptz,
    -- The tenants a key may write events for: a tenant listed in tenants,
    -- or one whose id starts with tenant_prefix. A key with neither may
    -- write any tenant (every key made before this migration).
    ADD COLUMN tenants text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(tenants) <= 1000 AND array_position(tenants, '') IS NULL),
    ADD COLUMN tenant_prefix text NOT NULL DEFAULT '' CHECK (length(tenant_prefix) <= 128);

