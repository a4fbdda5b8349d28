-- The records: employees and their credentials, customers and follow-ups,
-- the catalogue, orders and the subscriptions they grant, and the audit log.
--
-- The rules live in the Go domain (package keel); the CHECK constraints here
-- are a second line of defence, so a bug in a store cannot write a record the
-- domain would never make. Times are timestamptz (UTC); days are date.
--
-- Employee references that may be the keel CLI (keel.System, id 0) are NULL
-- for it: the CLI is not a row in employees.

CREATE TABLE employees (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL CHECK (email <> '' AND length(email) <= 254),
    name          text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 200),
    roles         text[] NOT NULL CHECK (cardinality(roles) > 0
                      AND roles <@ ARRAY['admin', 'sales', 'csm', 'finance', 'leadership']),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'departed')),
    locale        text NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'zh')),
    -- argon2id in PHC string format: $argon2id$v=19$m=…,t=…,p=…$salt$hash
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL
);
-- Email addresses are unique whatever their case: people type them both ways.
CREATE UNIQUE INDEX employees_email_key ON employees (lower(email));

-- Personal API tokens. Only the SHA-256 of a token is kept; the token is
-- shown once, when it is created.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    employee_id  bigint NOT NULL REFERENCES employees (id),
    name         text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_tokens_employee ON api_tokens (employee_id);

-- Web console sessions. As with tokens, only the SHA-256 of the session id
-- the browser holds is kept.
CREATE TABLE sessions (
    id_hash     bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    employee_id bigint NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX sessions_employee ON sessions (employee_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 200),
    -- NULL until the customer is linked to its tenant in the product's
    -- events; a tenant belongs to at most one customer.
    tenant_id   text UNIQUE REFERENCES tenants (id),
    sales_owner bigint REFERENCES employees (id),
    csm_owner   bigint REFERENCES employees (id),
    industry    text NOT NULL DEFAULT '' CHECK (length(industry) <= 200),
    region      text NOT NULL DEFAULT '' CHECK (length(region) <= 200),
    website     text NOT NULL DEFAULT '' CHECK (length(website) <= 200),
    notes       text NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    contacts    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(contacts) = 'array'),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- Counts the updates: a change merged onto the customer as read states
    -- the version it read, and is refused when another landed in between.
    version     bigint NOT NULL DEFAULT 1 CHECK (version > 0)
);
CREATE INDEX customers_name ON customers (lower(name), id);
CREATE INDEX customers_sales_owner ON customers (sales_owner) WHERE sales_owner IS NOT NULL;
CREATE INDEX customers_csm_owner ON customers (csm_owner) WHERE csm_owner IS NOT NULL;

CREATE TABLE follow_ups (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    at          timestamptz NOT NULL,
    author_id   bigint REFERENCES employees (id), -- NULL = keel.System
    kind        text NOT NULL CHECK (kind IN ('call', 'visit', 'email', 'meeting', 'note')),
    text        text NOT NULL CHECK (btrim(text) <> '' AND length(text) <= 20000),
    created_at  timestamptz NOT NULL
);
-- A customer's follow-ups are listed newest first.
CREATE INDEX follow_ups_customer ON follow_ups (customer_id, at DESC, id DESC);

-- Attachments live in Postgres, so they are kept small (keel.MaxAttachmentBytes).
CREATE TABLE attachments (
    id           bigserial PRIMARY KEY,
    follow_up_id bigint NOT NULL REFERENCES follow_ups (id),
    name         text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 255),
    content_type text NOT NULL CHECK (length(content_type) <= 255),
    size         bigint NOT NULL,
    data         bytea NOT NULL,
    CHECK (size = octet_length(data) AND size BETWEEN 1 AND 5242880)
);
CREATE INDEX attachments_follow_up ON attachments (follow_up_id, id);

CREATE TABLE products (
    id         bigserial PRIMARY KEY,
    code       text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    name       text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 200),
    kind       text NOT NULL CHECK (kind IN ('edition', 'addon_term', 'addon_standalone')),
    unit       text NOT NULL CHECK (btrim(unit) <> '' AND length(unit) <= 32),
    status     text NOT NULL CHECK (status IN ('enabled', 'disabled')),
    created_at timestamptz NOT NULL
);

-- Price versions are immutable: an order line points at the version it was
-- sold at, so editing one would rewrite what past orders cost. The one
-- change allowed is setting effective_to, once, when a later version starts
-- (the store does that in the transaction that adds the later version). The
-- trigger below enforces this for every writer, not only the store.
CREATE TABLE price_versions (
    id             bigserial PRIMARY KEY,
    product_id     bigint NOT NULL REFERENCES products (id),
    amount         bigint NOT NULL CHECK (amount >= 0 AND amount <= 1000000000000),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    period         text NOT NULL CHECK (period IN ('month', 'year', 'once')),
    effective_from date NOT NULL,
    effective_to   date CHECK (effective_to > effective_from),
    created_at     timestamptz NOT NULL,
    UNIQUE (product_id, effective_from)
);
-- At most one open (current or future) version per product.
CREATE UNIQUE INDEX price_versions_open ON price_versions (product_id) WHERE effective_to IS NULL;

CREATE FUNCTION price_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'price version % cannot be deleted: prices are never edited in place', OLD.id;
    END IF;
    IF OLD.effective_to IS NOT NULL OR NEW.effective_to IS NULL
       OR (NEW.id, NEW.product_id, NEW.amount, NEW.currency, NEW.period, NEW.effective_from, NEW.created_at)
          IS DISTINCT FROM
          (OLD.id, OLD.product_id, OLD.amount, OLD.currency, OLD.period, OLD.effective_from, OLD.created_at) THEN
        RAISE EXCEPTION 'price version % is immutable: only effective_to may be set, once', OLD.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER price_versions_immutable BEFORE UPDATE OR DELETE ON price_versions
    FOR EACH ROW EXECUTE FUNCTION price_versions_immutable();

CREATE TABLE orders (
    id            bigserial PRIMARY KEY,
    customer_id   bigint NOT NULL REFERENCES customers (id),
    kind          text NOT NULL CHECK (kind IN ('trial', 'new', 'renewal', 'upgrade', 'addon')),
    status        text NOT NULL CHECK (status IN ('draft', 'pending_approval', 'approved', 'rejected', 'void')),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_by    bigint REFERENCES employees (id), -- NULL = keel.System
    created_at    timestamptz NOT NULL,
    submitted_at  timestamptz,
    decided_by    bigint REFERENCES employees (id),
    decided_at    timestamptz,
    paid_amount   bigint CHECK (paid_amount >= 0 AND paid_amount <= 1000000000000),
    paid_at       timestamptz,
    payment_ref   text CHECK (length(payment_ref) <= 200),
    reject_reason text NOT NULL DEFAULT '' CHECK (length(reject_reason) <= 2000),
    voided_by     bigint REFERENCES employees (id),
    voided_at     timestamptz,
    -- A payment is recorded with an approval, all three fields together.
    CHECK ((paid_amount IS NULL) = (paid_at IS NULL) AND (paid_at IS NULL) = (payment_ref IS NULL)),
    CHECK (paid_amount IS NULL OR status IN ('approved', 'void')),
    CHECK ((status = 'draft') = (submitted_at IS NULL)),
    CHECK ((status = 'void') = (voided_at IS NOT NULL))
);
CREATE INDEX orders_customer ON orders (customer_id, id DESC);
CREATE INDEX orders_status ON orders (status, id DESC);
CREATE INDEX orders_created_by ON orders (created_by, id DESC);

-- An order line keeps the price version it was sold at, and copies its
-- amount and period so the order reads the same whatever happens later.
CREATE TABLE order_lines (
    id               bigserial PRIMARY KEY,
    order_id         bigint NOT NULL REFERENCES orders (id),
    position         integer NOT NULL CHECK (position >= 0),
    product_id       bigint NOT NULL REFERENCES products (id),
    price_version_id bigint REFERENCES price_versions (id), -- NULL on trial lines: trials are free
    unit_amount      bigint NOT NULL CHECK (unit_amount >= 0 AND unit_amount <= 1000000000000),
    period           text NOT NULL CHECK (period IN ('month', 'year', 'once')),
    quantity         bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    months           integer NOT NULL CHECK (months BETWEEN 1 AND 120),
    start_on         date, -- NULL = the approval day
    UNIQUE (order_id, position)
);

-- A subscription is a customer's service of one product. The row holds no
-- state: status, start, end and quantity are derived from its grants by the
-- domain (keel.Subscription), so nothing here can drift from the orders.
CREATE TABLE subscriptions (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    product_id  bigint NOT NULL REFERENCES products (id),
    created_at  timestamptz NOT NULL,
    UNIQUE (customer_id, product_id)
);
CREATE INDEX subscriptions_product ON subscriptions (product_id);

-- One row per keel.Grant: what one line of one approved order did to one
-- subscription. Voiding an order sets void on its grants and nothing else.
CREATE TABLE grants (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES subscriptions (id),
    order_id        bigint NOT NULL REFERENCES orders (id),
    line_id         bigint NOT NULL REFERENCES order_lines (id),
    kind            text NOT NULL CHECK (kind IN ('term', 'cut')),
    trial           boolean NOT NULL,
    quantity        bigint NOT NULL CHECK (quantity >= 0),
    starts_on       date NOT NULL,
    ends_on         date, -- exclusive; NULL for a cut
    monthly_amount  bigint NOT NULL CHECK (monthly_amount >= 0),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    void            boolean NOT NULL DEFAULT false,
    CHECK (CASE kind WHEN 'term' THEN ends_on >= starts_on ELSE ends_on IS NULL END),
    CHECK (NOT trial OR monthly_amount = 0)
);
CREATE INDEX grants_subscription ON grants (subscription_id);
CREATE INDEX grants_order ON grants (order_id);

-- live_terms is keel.Subscription's terms() in SQL: the live terms of each
-- subscription, each clipped at the earliest live cut made after it (a cut
-- ends the service granted before it, not service granted again later),
-- without empty ones. The list queries filter on derived statuses with it
-- (a page of customers by status needs the status of every customer); the
-- records they return still get their status from the domain, and a test
-- checks that the two agree.
CREATE VIEW live_terms AS
SELECT g.id AS grant_id, g.subscription_id, s.customer_id, g.trial, o.kind AS order_kind,
       g.starts_on, LEAST(g.ends_on, c.cut) AS ends_on
FROM grants g
JOIN subscriptions s ON s.id = g.subscription_id
JOIN orders o ON o.id = g.order_id
LEFT JOIN LATERAL (
    SELECT min(x.starts_on) AS cut FROM grants x
    WHERE x.subscription_id = g.subscription_id AND x.id > g.id AND x.kind = 'cut' AND NOT x.void
) c ON true
WHERE g.kind = 'term' AND NOT g.void AND LEAST(g.ends_on, c.cut) > g.starts_on;

-- Every change to a record, in the transaction that made it.
CREATE TABLE audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor_id  bigint REFERENCES employees (id), -- NULL = keel.System
    actor     text NOT NULL,                    -- the actor's email at the time
    action    text NOT NULL CHECK (action <> ''),
    entity    text NOT NULL CHECK (entity <> ''),
    entity_id bigint NOT NULL,
    before    jsonb,
    after     jsonb
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id DESC);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
