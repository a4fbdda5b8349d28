-- Churn warnings (keel.Alert, METRICS.md "Health and churn warnings"):
-- raised by the daily scoring, owned by the customer's CSM (the sales owner
-- when there is none), worked by people. Records, so they live here;
-- the scores they come from are in ClickHouse.
CREATE TABLE alerts (
    id            bigserial PRIMARY KEY,
    customer_id   bigint NOT NULL REFERENCES customers (id),
    rule          text NOT NULL CHECK (rule IN ('no_login', 'login_drop', 'low_seat_use', 'renewal_at_risk', 'fell_into_red')),
    state         text NOT NULL CHECK (state IN ('open', 'acknowledged', 'snoozed', 'resolved')),
    owner_id      bigint REFERENCES employees (id), -- NULL = unassigned
    raised_on     date NOT NULL,                    -- the reporting day scored that raised it
    raised_at     timestamptz NOT NULL,
    evidence      jsonb NOT NULL,
    mrr_at_risk   bigint NOT NULL CHECK (mrr_at_risk >= 0),
    currency      text NOT NULL,
    acked_by      bigint REFERENCES employees (id),
    acked_at      timestamptz,
    resolved_by   bigint REFERENCES employees (id), -- NULL with resolved_at set: Keel resolved it
    resolved_at   timestamptz,
    closed_on     date,                             -- the reporting day it was resolved (for the backtest)
    note          text NOT NULL DEFAULT '',
    snoozed_until date,
    snooze_reason text NOT NULL DEFAULT '',
    cleared       boolean NOT NULL DEFAULT false,
    version       bigint NOT NULL DEFAULT 1
);
-- A rule is raised once per customer while its warning is live: two
-- scorers evaluating the same day at once cannot both raise it.
CREATE UNIQUE INDEX alerts_live ON alerts (customer_id, rule) WHERE state <> 'resolved';
CREATE INDEX alerts_owner ON alerts (owner_id, state);
CREATE INDEX alerts_customer ON alerts (customer_id, id);

-- What happened to each warning, for the customer's timeline: raised,
-- acknowledged, resolved (by a person, with the note, or by Keel),
-- snoozed, back open, reassigned.
CREATE TABLE alert_events (
    id        bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    at        timestamptz NOT NULL,
    actor_id  bigint REFERENCES employees (id), -- NULL = Keel (the scoring, or the CLI)
    action    text NOT NULL,
    detail    text NOT NULL DEFAULT ''
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- The days scored: re-running a day replaces its scores, but warnings are
-- evaluated only going forward (a day after the last one evaluated), so a
-- backfill of older days never rewrites the warnings' history.
CREATE TABLE scoring_days (
    day               date PRIMARY KEY,
    scored_at         timestamptz NOT NULL,
    customers         integer NOT NULL,
    alerts_evaluated  boolean NOT NULL
);
