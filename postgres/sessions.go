package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// sessionBytes is the size of a session secret: 256 bits, beyond guessing.
const sessionBytes = 32

// sessionEncoding writes and reads session secrets. Strict, so each secret
// has exactly one spelling.
var sessionEncoding = base64.RawURLEncoding.Strict()

// expiredPerSignIn bounds the expired sessions one sign-in deletes, so a
// sign-in after a long quiet stays cheap; the rest go with later sign-ins.
const expiredPerSignIn = 1000

var errSession = keel.Errorf(keel.EUNAUTHORIZED, "your session has ended; sign in again")

// sessionHash returns the SHA-256 the sessions table keeps for secret, and
// false for a secret CreateSession cannot have made.
func sessionHash(secret string) ([]byte, bool) {
	if len(secret) != sessionEncoding.EncodedLen(sessionBytes) {
		return nil, false
	}
	raw, err := sessionEncoding.DecodeString(secret)
	if err != nil || len(raw) != sessionBytes {
		return nil, false
	}
	sum := sha256.Sum256(raw)
	return sum[:], true
}

// CreateSession starts a console session for active employee employeeID and
// returns the secret the browser keeps (32 random bytes, base64url; only
// their SHA-256 is stored) and when the session expires (now + ttl). It
// also deletes expired sessions. It returns EUNAUTHORIZED for an unknown or
// departed employee and EINVALID for a ttl that is not positive.
func (db *DB) CreateSession(ctx context.Context, employeeID int64, ttl time.Duration) (secret string, expires time.Time, err error) {
	if ttl <= 0 {
		return "", time.Time{}, keel.Invalid("ttl", "must be positive")
	}
	raw := make([]byte, sessionBytes)
	rand.Read(raw)
	secret = sessionEncoding.EncodeToString(raw)
	hash := sha256.Sum256(raw)
	now := db.now()
	expires = now.Add(ttl).Truncate(time.Microsecond)

	// SKIP LOCKED: a row another transaction holds (DeactivateEmployee
	// deleting that employee's sessions, another sign-in's sweep) is left
	// to it, so the sweep never waits and never deadlocks. It runs on its
	// own, holding no lock when the insert below takes one.
	if _, err := db.pool.Exec(ctx,
		`DELETE FROM sessions WHERE id_hash IN (
		     SELECT id_hash FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		now, expiredPerSignIn); err != nil {
		return "", time.Time{}, fmt.Errorf("create session: delete expired: %w", err)
	}

	// One statement, and the employee row FOR SHARE: the foreign key alone
	// takes only a KEY SHARE lock, which does not wait for a deactivation
	// (an UPDATE of status). With FOR SHARE, either the deactivation holds
	// the row first, and this statement waits, re-reads the row and finds
	// it departed; or this statement commits first, and the deactivation's
	// lock waits for it, so its DELETE FROM sessions sees this session.
	// Either way no live session of a departed employee remains.
	tag, err := db.pool.Exec(ctx,
		`INSERT INTO sessions (id_hash, employee_id, created_at, expires_at)
		 SELECT $1, e.id, $3, $4 FROM employees e WHERE e.id = $2 AND e.status = 'active' FOR SHARE`,
		hash[:], employeeID, now, expires)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session for employee %d: %w", employeeID, err)
	}
	if tag.RowsAffected() == 0 {
		return "", time.Time{}, keel.Errorf(keel.EUNAUTHORIZED, "employee %d is unknown or has departed", employeeID)
	}
	return secret, expires, nil
}

// SessionEmployee returns the employee of the live session secret belongs
// to, read in one query, so a deactivation or a role change shows on the
// next request. It returns EUNAUTHORIZED for an unknown, expired or
// malformed secret and for a departed employee's session.
func (db *DB) SessionEmployee(ctx context.Context, secret string) (keel.Employee, error) {
	hash, ok := sessionHash(secret)
	if !ok {
		return keel.Employee{}, errSession
	}
	e, err := scanEmployee(db.pool.QueryRow(ctx,
		`SELECT `+employeeColumns+`
		 FROM sessions s JOIN employees e ON e.id = s.employee_id
		 WHERE s.id_hash = $1 AND s.expires_at > $2 AND e.status = 'active'`, hash, db.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Employee{}, errSession
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("read session: %w", err)
	}
	return e, nil
}

// DeleteSession ends the session secret belongs to (sign-out). An unknown,
// expired or malformed secret is not an error: there is nothing to end.
func (db *DB) DeleteSession(ctx context.Context, secret string) error {
	hash, ok := sessionHash(secret)
	if !ok {
		return nil
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
