-- Sign-in: one-time passwords, and the record of sign-in attempts that both
-- throttles password guessing and tells admin who tried what from where.

-- A password Keel made (keel user add, a reset) is one-time: a session
-- started with it can do nothing but set the employee's own password. A
-- password the employee chose, or one set for provisioning
-- (--password-stdin), is not. Employees added before this migration keep
-- signing in as they did.
ALTER TABLE employees ADD COLUMN password_one_time boolean NOT NULL DEFAULT false;

-- Every attempt to sign in (or to prove one's current password when
-- changing it), kept 90 days. Postgres, not a console's memory, so that
-- the throttle survives restarts and every console process sees the same
-- attempts. An attempt is recorded as pending before its password is
-- checked, so attempts in flight count against the next one; a throttled
-- attempt's password is never checked, and repeats of it while the wait
-- lasts are folded into its row (repeats, last_at), so hammering a
-- throttled pair adds no rows.
CREATE TABLE sign_in_attempts (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    -- As typed, in lower case: attempts on emails that are no employee's
    -- are throttled and shown too.
    email       text NOT NULL CHECK (length(email) <= 254),
    -- The client's address: the connection's, or X-Forwarded-For's when
    -- the connection comes from a trusted proxy.
    address     text NOT NULL CHECK (address <> '' AND length(address) <= 64),
    via         text NOT NULL CHECK (via IN ('sign-in', 'password-change')),
    outcome     text NOT NULL CHECK (outcome IN ('pending', 'failed', 'succeeded', 'throttled')),
    employee_id bigint REFERENCES employees (id) ON DELETE SET NULL, -- the employee the email is, if any
    wait_ms     bigint NOT NULL DEFAULT 0 CHECK (wait_ms >= 0),      -- throttled: how long it was told to wait
    repeats     integer NOT NULL DEFAULT 1 CHECK (repeats > 0),
    CHECK (last_at >= at)
);
-- The throttle reads one email's attempts from one address, and from all.
CREATE INDEX sign_in_attempts_pair ON sign_in_attempts (email, address, at);
CREATE INDEX sign_in_attempts_email ON sign_in_attempts (email, at);
-- Admin's list, newest first, and the sweep of old rows.
CREATE INDEX sign_in_attempts_at ON sign_in_attempts (at);
