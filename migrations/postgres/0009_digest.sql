-- The morning digest (keel.Digest): after a day's scoring, one digest per
-- CSM and one of what no CSM owns, each sent to the company's webhook.

-- The webhook: one row, or none when no webhook is set. The secret signs
-- every delivery (HMAC-SHA256), so it is kept as typed; no API answer and
-- no audit row ever holds it, only whether one is set.
CREATE TABLE digest_webhook (
    id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    url         text NOT NULL CHECK (url <> ''),
    secret      text NOT NULL CHECK (secret <> ''),
    updated_by  bigint REFERENCES employees (id), -- NULL = Keel (the CLI)
    updated_at  timestamptz NOT NULL
);

-- The days whose digests were made: the row is inserted in the same
-- transaction as the day's digests, so two scorers (two consoles) make a
-- day's digests once.
CREATE TABLE digest_days (
    day      date PRIMARY KEY,
    made_at  timestamptz NOT NULL,
    digests  integer NOT NULL
);

CREATE TABLE digests (
    id               bigserial PRIMARY KEY,
    day              date NOT NULL REFERENCES digest_days (day),
    employee_id      bigint REFERENCES employees (id), -- NULL = unassigned (what no CSM owns)
    delivery_id      text NOT NULL UNIQUE,              -- X-Keel-Delivery, the same on every attempt
    -- json, not jsonb: the body is sent, and signed, exactly as made.
    body             json NOT NULL,
    state            text NOT NULL CHECK (state IN ('empty', 'unsent', 'pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL)),
    delivered_at     timestamptz,
    made_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX digests_day_employee ON digests (day, coalesce(employee_id, 0));
CREATE INDEX digests_employee ON digests (coalesce(employee_id, 0), day DESC);
-- What the delivery worker looks for: the pending digests, soonest first.
CREATE INDEX digests_due ON digests (next_attempt_at) WHERE state = 'pending';

-- Every delivery attempt, for admin's delivery log.
CREATE TABLE digest_deliveries (
    id               bigserial PRIMARY KEY,
    digest_id        bigint NOT NULL REFERENCES digests (id),
    attempt          integer NOT NULL CHECK (attempt > 0),
    at               timestamptz NOT NULL,
    url              text NOT NULL,              -- '' when no webhook was set
    status_code      integer,                    -- NULL: no HTTP answer
    error            text NOT NULL DEFAULT '',   -- '' when delivered
    took_ms          integer NOT NULL,
    next_attempt_at  timestamptz,                -- NULL: delivered, or given up
    UNIQUE (digest_id, attempt)
);
