package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// Sign-in attempts live in Postgres (sign_in_attempts, migration 0006), so
// the throttle (keel.SignInHistory.Wait) survives a restart and several
// console processes share it, and admin can read who tried what from
// where. BeginSignIn decides and records an attempt before its password is
// checked; EndSignIn records how the check went.

// signInRetention is how long attempts are kept: as long as an address
// stays one the employee signs in from (keel.SignInKnownFor).
const signInRetention = keel.SignInKnownFor

// sweepPerAttempt bounds the old attempts one attempt deletes, as with
// expired sessions.
const sweepPerAttempt = 1000

// lockSignIns orders the attempts on one email, in every console process:
// the history is read and the attempt recorded under it, so attempts
// arriving at once are counted one after the other and cannot all slip
// through on the same count. (Different emails whose hashes collide
// merely queue too.)
const lockSignIns = `SELECT pg_advisory_xact_lock(hashtextextended($1, 7370102))`

// BeginSignIn decides whether an attempt to sign in as email from address
// may have its password checked, and records it. When the answer's Wait is
// positive, it may not: the attempt is recorded as throttled (folded into
// the row of the attempts throttled before it while the wait lasts) and the
// caller must answer "wait" without looking at the password. Otherwise the
// attempt is recorded as pending — counted as a failure by any attempt
// that arrives before EndSignIn — and its ID is for EndSignIn.
func (db *DB) BeginSignIn(ctx context.Context, email, address string, via keel.SignInVia) (keel.SignInAttempt, error) {
	now := db.now()
	a := keel.SignInAttempt{At: now, LastAt: now, Email: keel.SignInEmail(email), Address: address, Via: via, Repeats: 1}
	if address == "" || len(address) > 64 {
		return keel.SignInAttempt{}, fmt.Errorf("sign-in from %q: not a client address", address)
	}
	if err := keel.OneOf("via", via, []keel.SignInVia{keel.SignInForm, keel.SignInPasswordChange}); err != nil {
		return keel.SignInAttempt{}, err
	}
	// SKIP LOCKED and outside the transaction below, as the sessions'
	// sweep: it never waits for, nor holds up, an attempt.
	if _, err := db.pool.Exec(ctx,
		`DELETE FROM sign_in_attempts WHERE id IN (
		     SELECT id FROM sign_in_attempts WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		now.Add(-signInRetention), sweepPerAttempt); err != nil {
		return keel.SignInAttempt{}, fmt.Errorf("sign-in: delete old attempts: %w", err)
	}

	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return keel.SignInAttempt{}, fmt.Errorf("sign-in: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, lockSignIns, a.Email); err != nil {
		return keel.SignInAttempt{}, fmt.Errorf("sign-in: lock: %w", err)
	}
	h, err := signInHistory(ctx, tx, a.Email, a.Address, now)
	if err != nil {
		return keel.SignInAttempt{}, err
	}
	var employeeID *int64
	if err := tx.QueryRow(ctx, `SELECT id FROM employees WHERE lower(email) = $1`, a.Email).Scan(&employeeID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return keel.SignInAttempt{}, fmt.Errorf("sign-in: read employee: %w", err)
	}
	if employeeID != nil {
		a.EmployeeID = *employeeID
	}
	if a.Wait = h.Wait(now); a.Wait > 0 {
		a.Outcome = keel.SignInThrottled
		since := h.PairLast
		if h.EmailLast.After(since) {
			since = h.EmailLast
		}
		if err := recordThrottled(ctx, tx, &a, since); err != nil {
			return keel.SignInAttempt{}, err
		}
	} else {
		a.Outcome = keel.SignInPending
		if err := tx.QueryRow(ctx,
			`INSERT INTO sign_in_attempts (at, last_at, email, address, via, outcome, employee_id)
			 VALUES ($1, $1, $2, $3, $4, 'pending', $5) RETURNING id`,
			now, a.Email, a.Address, a.Via, employeeID).Scan(&a.ID); err != nil {
			return keel.SignInAttempt{}, fmt.Errorf("sign-in: record: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return keel.SignInAttempt{}, fmt.Errorf("sign-in: commit: %w", err)
	}
	return a, nil
}

// signInHistory reads what keel.SignInHistory needs of email's attempts,
// in one statement. Pending attempts count as failures: they are either
// being checked right now or were never finished.
func signInHistory(ctx context.Context, tx pgx.Tx, email, address string, now time.Time) (keel.SignInHistory, error) {
	var h keel.SignInHistory
	var pairLast, emailLast *time.Time
	// "Since the last sign-in" goes by id, not time: attempts on one email
	// are recorded one after the other (lockSignIns), and two of them may
	// share a timestamp.
	err := tx.QueryRow(ctx,
		`WITH ok AS (
		     SELECT max(id) AS id FROM sign_in_attempts
		     WHERE email = $1 AND address = $2 AND outcome = 'succeeded' AND at > $3)
		 SELECT count(a.id), max(a.at), (SELECT id IS NOT NULL FROM ok),
		        (SELECT count(*) FROM sign_in_attempts
		         WHERE email = $1 AND outcome IN ('failed', 'pending') AND at > $5),
		        (SELECT max(at) FROM sign_in_attempts
		         WHERE email = $1 AND outcome IN ('failed', 'pending') AND at > $5)
		 FROM ok LEFT JOIN sign_in_attempts a
		   ON a.email = $1 AND a.address = $2 AND a.outcome IN ('failed', 'pending')
		  AND a.at > $4 AND a.id > coalesce(ok.id, 0)`,
		email, address, now.Add(-keel.SignInKnownFor), now.Add(-keel.SignInPairWindow), now.Add(-keel.SignInEmailWindow),
	).Scan(&h.PairFailures, &pairLast, &h.Known, &h.EmailFailures, &emailLast)
	if err != nil {
		return h, fmt.Errorf("sign-in: read attempts: %w", err)
	}
	if pairLast != nil {
		h.PairLast = pairLast.UTC()
	}
	if emailLast != nil {
		h.EmailLast = emailLast.UTC()
	}
	return h, nil
}

// recordThrottled records a throttled attempt: as one more repeat of the
// pair's throttled row since the failure that made it wait (since), or a
// new row.
func recordThrottled(ctx context.Context, tx pgx.Tx, a *keel.SignInAttempt, since time.Time) error {
	err := tx.QueryRow(ctx,
		`UPDATE sign_in_attempts SET repeats = repeats + 1, last_at = $4, wait_ms = $5
		 WHERE id = (SELECT id FROM sign_in_attempts
		             WHERE email = $1 AND address = $2 AND outcome = 'throttled' AND at >= $3
		             ORDER BY at DESC LIMIT 1)
		 RETURNING id, at, repeats`,
		a.Email, a.Address, since, a.LastAt, a.Wait.Milliseconds()).Scan(&a.ID, &a.At, &a.Repeats)
	if err == nil {
		a.At = a.At.UTC()
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("sign-in: record throttled: %w", err)
	}
	if err := tx.QueryRow(ctx,
		`INSERT INTO sign_in_attempts (at, last_at, email, address, via, outcome, employee_id, wait_ms)
		 VALUES ($1, $1, $2, $3, $4, 'throttled', $5, $6) RETURNING id`,
		a.At, a.Email, a.Address, a.Via, nullID(a.EmployeeID), a.Wait.Milliseconds()).Scan(&a.ID); err != nil {
		return fmt.Errorf("sign-in: record throttled: %w", err)
	}
	return nil
}

// EndSignIn records how pending attempt id ended: keel.SignInFailed or
// keel.SignInSucceeded (which forgets the address's failures for the
// email, and makes the address one the employee signs in from). An
// attempt that is not pending is left as it is.
func (db *DB) EndSignIn(ctx context.Context, id int64, outcome keel.SignInOutcome) error {
	if err := keel.OneOf("outcome", outcome, []keel.SignInOutcome{keel.SignInFailed, keel.SignInSucceeded}); err != nil {
		return err
	}
	if _, err := db.pool.Exec(ctx,
		`UPDATE sign_in_attempts SET outcome = $2, last_at = greatest(at, $3) WHERE id = $1 AND outcome = 'pending'`,
		id, outcome, db.now()); err != nil {
		return fmt.Errorf("sign-in %d: record the outcome: %w", id, err)
	}
	return nil
}

// SignInAttempts lists recorded attempts, newest first, and how many match
// the filter. It returns EINVALID for a bad page or outcome.
func (db *DB) SignInAttempts(ctx context.Context, f keel.SignInFilter) ([]keel.SignInAttempt, int, error) {
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	var c conds
	if f.Email != "" {
		c.add("email = ?", keel.SignInEmail(f.Email))
	}
	if f.Address != "" {
		c.add("address = ?", f.Address)
	}
	if f.Outcome != "" {
		if err := keel.OneOf("outcome", f.Outcome, keel.SignInOutcomes); err != nil {
			return nil, 0, err
		}
		c.add("outcome = ?", f.Outcome)
	}
	if f.EmployeeID != 0 {
		c.add("employee_id = ?", f.EmployeeID)
	}
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM sign_in_attempts`+c.sql(), c.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count sign-in attempts: %w", err)
	}
	q := `SELECT id, at, last_at, email, address, via, outcome, coalesce(employee_id, 0), wait_ms, repeats FROM sign_in_attempts` +
		c.sql() + ` ORDER BY at DESC, id DESC` + c.page(p)
	rows, err := db.pool.Query(ctx, q, c.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list sign-in attempts: %w", err)
	}
	defer rows.Close()
	out := []keel.SignInAttempt{}
	for rows.Next() {
		var a keel.SignInAttempt
		var waitMS int64
		if err := rows.Scan(&a.ID, &a.At, &a.LastAt, &a.Email, &a.Address, &a.Via, &a.Outcome, &a.EmployeeID, &waitMS, &a.Repeats); err != nil {
			return nil, 0, fmt.Errorf("list sign-in attempts: %w", err)
		}
		a.At, a.LastAt, a.Wait = a.At.UTC(), a.LastAt.UTC(), time.Duration(waitMS)*time.Millisecond
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list sign-in attempts: %w", err)
	}
	return out, total, nil
}
