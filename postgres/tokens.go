package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// TokenPrefix starts every personal API token, so a leaked one is easy to
// recognise (and to tell from an ingest key).
const TokenPrefix = "keel_api_"

// apiToken is the audit record of a token: never the token, nor its hash.
// The console's audit pages read it back (console/audit_fields.go).
type apiToken struct {
	ID         int64      `json:"id"`
	EmployeeID int64      `json:"employee_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func auditToken(t keel.APIToken) apiToken {
	return apiToken{ID: t.ID, EmployeeID: t.EmployeeID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

// CreateToken is CreateTokenUntil with no expiry.
func (db *DB) CreateToken(ctx context.Context, by keel.Employee, employeeID int64, name string) (string, error) {
	token, _, err := db.CreateTokenUntil(ctx, by, employeeID, name, nil)
	return token, err
}

// CreateTokenUntil creates a personal API token for employee employeeID,
// working until expires (nil = until revoked), and returns it with its
// record; only its SHA-256 is stored, so show it once. Employees may
// create tokens for themselves; for anyone else it needs
// keel.ActEmployeeAdmin. An empty name is "personal token". It returns
// ENOTFOUND, EINVALID for a name over 100 characters or an expiry that is
// not in the future, and ECONFLICT when the employee has departed.
func (db *DB) CreateTokenUntil(ctx context.Context, by keel.Employee, employeeID int64, name string, expires *time.Time) (string, keel.APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "personal token"
	}
	if err := keel.ValidText("name", name); err != nil {
		return "", keel.APIToken{}, err
	}
	if len(name) > 100 {
		return "", keel.APIToken{}, keel.Invalid("name", "at most %d characters", 100)
	}
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return "", keel.APIToken{}, err
	}
	defer c.tx.Rollback(ctx)
	if c.by.ID != employeeID || employeeID == 0 {
		if err := c.by.Can(keel.ActEmployeeAdmin); err != nil {
			return "", keel.APIToken{}, err
		}
	} else if c.by.Status != keel.EmployeeActive {
		return "", keel.APIToken{}, keel.Errorf(keel.EUNAUTHORIZED, "%s's account is deactivated", c.by.Email)
	}
	if err := keel.ValidExpiry("expires_at", expires, c.now); err != nil {
		return "", keel.APIToken{}, err
	}
	var status keel.EmployeeStatus
	err = c.tx.QueryRow(ctx, `SELECT status FROM employees WHERE id = $1 FOR SHARE`, employeeID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", keel.APIToken{}, keel.EmployeeNotFound(employeeID)
	}
	if err != nil {
		return "", keel.APIToken{}, fmt.Errorf("create token for employee %d: %w", employeeID, err)
	}
	if status != keel.EmployeeActive {
		return "", keel.APIToken{}, keel.Errorf(keel.ECONFLICT, "employee %d has departed", employeeID)
	}
	token := TokenPrefix + rand.Text()
	hash := sha256.Sum256([]byte(token))
	t := keel.APIToken{EmployeeID: employeeID, Name: name, CreatedAt: c.now, ExpiresAt: utcPtr(expires)}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO api_tokens (employee_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		employeeID, name, hash[:], c.now, t.ExpiresAt).Scan(&t.ID)
	if err != nil {
		return "", keel.APIToken{}, fmt.Errorf("create token for employee %d: %w", employeeID, err)
	}
	if err := c.audit(ctx, "token.create", "api_token", t.ID, nil, auditToken(t)); err != nil {
		return "", keel.APIToken{}, err
	}
	if err := c.commit(ctx); err != nil {
		return "", keel.APIToken{}, fmt.Errorf("create token for employee %d: %w", employeeID, err)
	}
	return token, t, nil
}

// utcPtr is t in UTC, truncated to what timestamptz keeps; nil stays nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

const tokenColumns = `id, employee_id, name, created_at, expires_at, last_used_at, revoked_at`

func scanToken(row pgx.Row) (keel.APIToken, error) {
	var t keel.APIToken
	err := row.Scan(&t.ID, &t.EmployeeID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt)
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = utcPtr(t.ExpiresAt), utcPtr(t.LastUsedAt), utcPtr(t.RevokedAt)
	return t, err
}

// Tokens lists API tokens, newest first — revoked and expired ones too,
// which say so by their state — and how many match. by may list their
// own; anyone else's, or All, needs keel.ActTokenAdmin (EFORBIDDEN). It
// returns EINVALID for a bad page.
func (db *DB) Tokens(ctx context.Context, by keel.Employee, f keel.TokenFilter) ([]keel.APIToken, int, error) {
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	var c conds
	if f.All {
		err = by.Can(keel.ActTokenAdmin)
	} else {
		err = by.CanManageTokensOf(f.EmployeeID)
		c.add("employee_id = ?", f.EmployeeID)
	}
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens`+c.sql(), c.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count api tokens: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens`+c.sql()+` ORDER BY id DESC`+c.page(p), c.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list api tokens: %w", err)
	}
	defer rows.Close()
	out := []keel.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list api tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list api tokens: %w", err)
	}
	return out, total, nil
}

// RevokeToken revokes API token id at once (the next request with it is
// refused) and returns it as revoked, audited as token.revoke. by may
// revoke their own; anyone else's needs keel.ActTokenAdmin (EFORBIDDEN).
// It returns ENOTFOUND, and ECONFLICT for a token already revoked.
func (db *DB) RevokeToken(ctx context.Context, by keel.Employee, id int64) (keel.APIToken, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.APIToken{}, err
	}
	defer c.tx.Rollback(ctx)
	before, err := scanToken(c.tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = $1 FOR NO KEY UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.APIToken{}, keel.TokenNotFound(id)
	}
	if err != nil {
		return keel.APIToken{}, fmt.Errorf("revoke api token %d: %w", id, err)
	}
	if err := c.by.CanManageTokensOf(before.EmployeeID); err != nil {
		return keel.APIToken{}, err
	}
	if before.RevokedAt != nil {
		return keel.APIToken{}, keel.Errorf(keel.ECONFLICT, "API token %d is already revoked", id)
	}
	after := before
	after.RevokedAt = &c.now
	if _, err := c.tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1`, id, c.now); err != nil {
		return keel.APIToken{}, fmt.Errorf("revoke api token %d: %w", id, err)
	}
	if err := c.audit(ctx, "token.revoke", "api_token", id, auditToken(before), auditToken(after)); err != nil {
		return keel.APIToken{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.APIToken{}, fmt.Errorf("revoke api token %d: %w", id, err)
	}
	return after, nil
}

var errToken = keel.Errorf(keel.EUNAUTHORIZED, "invalid, expired or revoked API token")

// lastUsedEvery bounds how often Authenticate writes a token's last use:
// an API client calling many times a second should not write as often.
const lastUsedEvery = time.Minute

// Authenticate returns the employee a personal API token belongs to. It
// reads the employee's status on every call, so the token of a departed
// employee dies at once; it returns EUNAUTHORIZED for an unknown, revoked
// or expired token, or a departed employee's.
func (db *DB) Authenticate(ctx context.Context, token string) (keel.Employee, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 200 {
		return keel.Employee{}, errToken
	}
	hash := sha256.Sum256([]byte(token))
	var id int64
	var lastUsed *time.Time
	now := db.now()
	e, err := scanEmployee(db.pool.QueryRow(ctx,
		`SELECT `+employeeColumns+`, t.id, t.last_used_at
		 FROM api_tokens t JOIN employees e ON e.id = t.employee_id
		 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)`, hash[:], now), &id, &lastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Employee{}, errToken
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("authenticate token: %w", err)
	}
	if e.Status != keel.EmployeeActive {
		return keel.Employee{}, errToken
	}
	if lastUsed == nil || now.Sub(*lastUsed) >= lastUsedEvery {
		if _, err := db.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, now); err != nil {
			return keel.Employee{}, fmt.Errorf("authenticate token: record use: %w", err)
		}
	}
	return e, nil
}
