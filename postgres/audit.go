package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keelhq/keel"
)

// querier is what the read helpers need: a transaction when they read what a
// change is based on, the pool for plain reads.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// actor re-reads the acting employee inside tx, so a change is judged by who
// they are now — their current roles and status — and not by a struct that
// may be hours old: a departed employee changes nothing. The row is locked
// (lock is "SHARE", or "NO KEY UPDATE" when the change is to the actor's own
// row) so a deactivation waits for the change, or the change for it.
//
// The stores lock rows they change FOR NO KEY UPDATE rather than FOR
// UPDATE: it serialises changes to the row just the same, but does not
// block the KEY SHARE locks that foreign-key checks take, so adding a
// follow-up or an audit row that points at a locked row need not wait.
//
// by.ID 0 is keel.System, the CLI's machine access; any other employee id
// that is not in the table is refused with EUNAUTHORIZED.
func actor(ctx context.Context, tx pgx.Tx, by keel.Employee, lock string) (keel.Employee, error) {
	if by.ID == 0 {
		if by.Email == keel.System.Email && by.Status == keel.EmployeeActive {
			return keel.System, nil
		}
		return keel.Employee{}, keel.Errorf(keel.EUNAUTHORIZED, "unknown employee")
	}
	e, err := scanEmployee(tx.QueryRow(ctx, `SELECT `+employeeColumns+` FROM employees e WHERE id = $1 FOR `+lock, by.ID))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Employee{}, keel.Errorf(keel.EUNAUTHORIZED, "unknown employee %d", by.ID)
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("read employee %d: %w", by.ID, err)
	}
	return e, nil
}

// change is one mutation in progress: its transaction, the employee making
// it (as re-read by actor), the time it happens and the reporting calendar
// that says which day that is.
type change struct {
	tx  pgx.Tx
	by  keel.Employee
	now time.Time
	cal keel.Calendar
}

// moment is when the change happens, for the domain's rules.
func (c *change) moment() keel.Moment { return c.cal.At(c.now) }

// today is the reporting day the change happens on.
func (c *change) today() time.Time { return c.cal.Day(c.now) }

// begin starts a change by by, re-reading by inside the transaction. The
// caller defers tx.Rollback and commits.
func (db *DB) begin(ctx context.Context, by keel.Employee, lock string) (*change, error) {
	return db.beginAfter(ctx, by, lock, "")
}

// beginAfter is begin with first, a statement run before the actor's row
// is read and locked (a lock that orders changes of one kind before they
// lock any row, so they queue instead of deadlocking); "" runs none.
func (db *DB) beginAfter(ctx context.Context, by keel.Employee, lock, first string) (*change, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if first != "" {
		if _, err := tx.Exec(ctx, first); err != nil {
			tx.Rollback(ctx)
			return nil, err
		}
	}
	a, err := actor(ctx, tx, by, lock)
	if err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	return &change{tx: tx, by: a, now: db.now(), cal: db.cal}, nil
}

// audit writes the audit row of the change, in its transaction, so the log
// holds exactly the committed changes. before and after are marshalled to
// JSON; nil is SQL NULL (a record created or deleted).
func (c *change) audit(ctx context.Context, action, entity string, id int64, before, after any) error {
	b, err := jsonOrNull(before)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	a, err := jsonOrNull(after)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	_, err = c.tx.Exec(ctx,
		`INSERT INTO audit_log (at, actor_id, actor, action, entity, entity_id, before, after)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.now, nullID(c.by.ID), c.by.Email, action, entity, id, b, a)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// fact adds an outbox fact in the change's transaction: it reaches Kafka
// if and only if the change commits. data is the kind's payload
// (keel.OrderFact, …).
func (c *change) fact(ctx context.Context, kind keel.FactKind, customerID int64, tenant string, data any) error {
	f, err := keel.NewFact(kind, customerID, tenant, c.now, data)
	if err != nil {
		return invalidFact(err)
	}
	return AddFact(ctx, c.tx, f)
}

func (c *change) commit(ctx context.Context) error {
	if err := c.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func jsonOrNull(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// nullID stores employee id 0 (keel.System) as NULL: the CLI is not a row.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// isUnique reports whether err is a unique violation of constraint.
func isUnique(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}

// conds builds a WHERE clause from optional conditions. Each condition's
// '?' are its one argument's placeholder.
type conds struct {
	where []string
	args  []any
}

func (c *conds) add(expr string, arg any) {
	c.args = append(c.args, arg)
	c.where = append(c.where, strings.ReplaceAll(expr, "?", "$"+strconv.Itoa(len(c.args))))
}

// arg adds an argument used outside the WHERE clause and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

func (c *conds) sql() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// page returns LIMIT and OFFSET clauses. It adds arguments, so build the
// whole statement before passing c.args (Go does not order the evaluation
// of c.args against a call in the same argument list).
func (c *conds) page(p keel.Page) string {
	return " LIMIT " + c.arg(p.Limit) + " OFFSET " + c.arg(p.Offset)
}

// Audit lists audit entries, newest first, and the number of entries that
// match the filter. It returns EINVALID for a bad page.
func (db *DB) Audit(ctx context.Context, f keel.AuditFilter) ([]keel.AuditEntry, int, error) {
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	var c conds
	if f.ActorID != 0 {
		c.add("actor_id = ?", f.ActorID)
	}
	if f.Entity != "" {
		c.add("entity = ?", f.Entity)
	}
	if f.EntityID != 0 {
		c.add("entity_id = ?", f.EntityID)
	}
	if !f.From.IsZero() {
		c.add("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		c.add("at < ?", f.To)
	}
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`+c.sql(), c.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count audit log: %w", err)
	}
	q := `SELECT id, at, coalesce(actor_id, 0), actor, action, entity, entity_id, before, after FROM audit_log` +
		c.sql() + ` ORDER BY id DESC` + c.page(p)
	rows, err := db.pool.Query(ctx, q, c.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	out := []keel.AuditEntry{}
	for rows.Next() {
		var e keel.AuditEntry
		var before, after []byte
		if err := rows.Scan(&e.ID, &e.At, &e.ActorID, &e.Actor, &e.Action, &e.Entity, &e.EntityID, &before, &after); err != nil {
			return nil, 0, fmt.Errorf("list audit log: %w", err)
		}
		e.At = e.At.UTC()
		e.Before, e.After = rawOrNil(before), rawOrNil(after)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list audit log: %w", err)
	}
	return out, total, nil
}

func rawOrNil(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}
