-- The company's settings, one row per section ("revenue"; later ones add
-- their own), as the JSON of the domain's settings type (keel.RevenueSettings).
-- A missing row means the defaults of METRICS.md. Admin edits them in the
-- console; every save is audited and sent to the warehouse as a
-- settings.changed fact, which makes the warehouse compute revenue again.
CREATE TABLE settings (
    id         bigserial PRIMARY KEY,
    section    text NOT NULL UNIQUE CHECK (section <> ''),
    value      jsonb NOT NULL,
    updated_by bigint REFERENCES employees (id), -- NULL = keel.System
    updated_at timestamptz NOT NULL
);

-- Sales and marketing spend per month and currency, entered by finance or
-- admin, for CAC (METRICS.md). One row per month and currency; a change is
-- audited and sent to the warehouse as a spend.set fact.
CREATE TABLE spend (
    id         bigserial PRIMARY KEY,
    month      date NOT NULL CHECK (extract(day FROM month) = 1),
    currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount     bigint NOT NULL CHECK (amount >= 0 AND amount <= 1000000000000),
    updated_by bigint REFERENCES employees (id),
    updated_at timestamptz NOT NULL,
    UNIQUE (month, currency)
);
