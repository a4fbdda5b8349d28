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
type apiToken struct {
	ID         int64     `json:"id"`
	EmployeeID int64     `json:"employee_id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
}

// CreateToken creates a personal API token for employee employeeID and
// returns it; only its SHA-256 is stored, so show it once. Employees may
// create tokens for themselves; for anyone else it needs
// keel.ActEmployeeAdmin. An empty name is "personal token". It returns
// ENOTFOUND, EINVALID for a name over 100 characters and ECONFLICT when the
// employee has departed.
func (db *DB) CreateToken(ctx context.Context, by keel.Employee, employeeID int64, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "personal token"
	}
	if len(name) > 100 {
		return "", keel.Invalid("name", "at most %d characters", 100)
	}
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return "", err
	}
	defer c.tx.Rollback(ctx)
	if c.by.ID != employeeID || employeeID == 0 {
		if err := c.by.Can(keel.ActEmployeeAdmin); err != nil {
			return "", err
		}
	} else if c.by.Status != keel.EmployeeActive {
		return "", keel.Errorf(keel.EUNAUTHORIZED, "%s's account is deactivated", c.by.Email)
	}
	var status keel.EmployeeStatus
	err = c.tx.QueryRow(ctx, `SELECT status FROM employees WHERE id = $1 FOR SHARE`, employeeID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", keel.EmployeeNotFound(employeeID)
	}
	if err != nil {
		return "", fmt.Errorf("create token for employee %d: %w", employeeID, err)
	}
	if status != keel.EmployeeActive {
		return "", keel.Errorf(keel.ECONFLICT, "employee %d has departed", employeeID)
	}
	token := TokenPrefix + rand.Text()
	hash := sha256.Sum256([]byte(token))
	t := apiToken{EmployeeID: employeeID, Name: name, CreatedAt: c.now}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO api_tokens (employee_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		employeeID, name, hash[:], c.now).Scan(&t.ID)
	if err != nil {
		return "", fmt.Errorf("create token for employee %d: %w", employeeID, err)
	}
	if err := c.audit(ctx, "token.create", "api_token", t.ID, nil, t); err != nil {
		return "", err
	}
	if err := c.commit(ctx); err != nil {
		return "", fmt.Errorf("create token for employee %d: %w", employeeID, err)
	}
	return token, nil
}

var errToken = keel.Errorf(keel.EUNAUTHORIZED, "invalid or revoked API token")

// lastUsedEvery bounds how often Authenticate writes a token's last use:
// an API client calling many times a second should not write as often.
const lastUsedEvery = time.Minute

// Authenticate returns the employee a personal API token belongs to. It
// reads the employee's status on every call, so the token of a departed
// employee dies at once; it returns EUNAUTHORIZED for an unknown, revoked
// or departed employee's token.
func (db *DB) Authenticate(ctx context.Context, token string) (keel.Employee, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 200 {
		return keel.Employee{}, errToken
	}
	hash := sha256.Sum256([]byte(token))
	var id int64
	var lastUsed *time.Time
	e, err := scanEmployee(db.pool.QueryRow(ctx,
		`SELECT `+employeeColumns+`, t.id, t.last_used_at
		 FROM api_tokens t JOIN employees e ON e.id = t.employee_id
		 WHERE t.token_hash = $1 AND t.revoked_at IS NULL`, hash[:]), &id, &lastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Employee{}, errToken
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("authenticate token: %w", err)
	}
	if e.Status != keel.EmployeeActive {
		return keel.Employee{}, errToken
	}
	if now := db.now(); lastUsed == nil || now.Sub(*lastUsed) >= lastUsedEvery {
		if _, err := db.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, now); err != nil {
			return keel.Employee{}, fmt.Errorf("authenticate token: record use: %w", err)
		}
	}
	return e, nil
}
