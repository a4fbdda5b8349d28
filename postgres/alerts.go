package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

const alertColumns = `a.id, a.customer_id, a.rule, a.state, a.owner_id, a.raised_on, a.raised_at, a.evidence, a.mrr_at_risk,
	a.currency, a.acked_by, a.acked_at, a.resolved_by, a.resolved_at, a.closed_on, a.note, a.snoozed_until, a.snooze_reason, a.cleared, a.version`

func scanAlert(row pgx.Row) (keel.Alert, error) {
	var a keel.Alert
	var evidence []byte
	if err := row.Scan(&a.ID, &a.CustomerID, &a.Rule, &a.State, &a.Owner, &a.RaisedOn, &a.RaisedAt, &evidence, &a.MRRAtRisk,
		&a.Currency, &a.AckedBy, &a.AckedAt, &a.ResolvedBy, &a.ResolvedAt, &a.ClosedOn, &a.Note, &a.SnoozedUntil, &a.SnoozeReason, &a.Cleared, &a.Version); err != nil {
		return keel.Alert{}, err
	}
	if err := json.Unmarshal(evidence, &a.Evidence); err != nil {
		return keel.Alert{}, fmt.Errorf("alert %d evidence: %w", a.ID, err)
	}
	a.RaisedOn, a.RaisedAt = keel.Date(a.RaisedOn), a.RaisedAt.UTC()
	for _, d := range []**time.Time{&a.SnoozedUntil, &a.ClosedOn} {
		if *d != nil {
			day := keel.Date(**d)
			*d = &day
		}
	}
	return a, nil
}

func scanAlerts(rows pgx.Rows) ([]keel.Alert, error) {
	defer rows.Close()
	var out []keel.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AlertEvaluation is a day's verdict on one rule for one customer: whether
// its condition holds, with the evidence, and the customer's MRR at risk.
type AlertEvaluation struct {
	CustomerID int64
	Rule       keel.AlertRule
	Holds      bool
	Evidence   keel.Evidence
	MRRAtRisk  int64
	Currency   string
}

// AlertChanges counts what ApplyAlertEvaluations did.
type AlertChanges struct {
	Raised, Reopened, Cleared int
	RaisedIDs                 []int64
}

// alertBatch is how many customers' evaluations one transaction applies.
const alertBatch = 500

// ApplyAlertEvaluations applies a day's evaluations (keel.NextAlert): it
// raises the warnings whose rule newly holds — owned by the customer's CSM,
// else its sales owner, else unassigned — reopens the snoozed ones whose
// snooze ended while the condition holds, and resolves, saying so, the live
// ones whose condition cleared. Every change is audited (as keel.System)
// and recorded on the warning's timeline. Two scorers applying the same day
// at once raise each warning once: a live warning is unique per customer
// and rule (alerts_live), and the latest warnings are locked before they
// are judged.
func (db *DB) ApplyAlertEvaluations(ctx context.Context, day time.Time, evals []AlertEvaluation) (AlertChanges, error) {
	var out AlertChanges
	byCustomer := map[int64][]AlertEvaluation{}
	var order []int64
	for _, e := range evals {
		if _, ok := byCustomer[e.CustomerID]; !ok {
			order = append(order, e.CustomerID)
		}
		byCustomer[e.CustomerID] = append(byCustomer[e.CustomerID], e)
	}
	for len(order) > 0 {
		n := min(len(order), alertBatch)
		if err := db.applyAlertBatch(ctx, day, order[:n], byCustomer, &out); err != nil {
			return out, err
		}
		order = order[n:]
	}
	return out, nil
}

func (db *DB) applyAlertBatch(ctx context.Context, day time.Time, customers []int64, evals map[int64][]AlertEvaluation, out *AlertChanges) error {
	c, err := db.begin(ctx, keel.System, "SHARE")
	if err != nil {
		return err
	}
	defer c.tx.Rollback(ctx)
	rows, err := c.tx.Query(ctx, `SELECT `+alertColumns+` FROM alerts a WHERE a.id IN
		(SELECT max(id) FROM alerts WHERE customer_id = ANY($1) GROUP BY customer_id, rule) ORDER BY a.id FOR UPDATE`, customers)
	if err != nil {
		return fmt.Errorf("read alerts: %w", err)
	}
	latest, err := scanAlerts(rows)
	if err != nil {
		return fmt.Errorf("read alerts: %w", err)
	}
	type key struct {
		customer int64
		rule     keel.AlertRule
	}
	byKey := map[key]*keel.Alert{}
	for i := range latest {
		byKey[key{latest[i].CustomerID, latest[i].Rule}] = &latest[i]
	}
	owners := map[int64]*int64{}
	orows, err := c.tx.Query(ctx, `SELECT id, coalesce(csm_owner, sales_owner) FROM customers WHERE id = ANY($1)`, customers)
	if err != nil {
		return fmt.Errorf("read owners: %w", err)
	}
	for orows.Next() {
		var id int64
		var owner *int64
		if err := orows.Scan(&id, &owner); err != nil {
			orows.Close()
			return fmt.Errorf("read owners: %w", err)
		}
		owners[id] = owner
	}
	orows.Close()
	if err := orows.Err(); err != nil {
		return fmt.Errorf("read owners: %w", err)
	}
	for _, cu := range customers {
		for _, e := range evals[cu] {
			a := byKey[key{cu, e.Rule}]
			switch change := keel.NextAlert(a, e.Holds, day); change {
			case keel.AlertRaise:
				id, err := c.raiseAlert(ctx, e, owners[cu], day)
				if err != nil {
					return err
				}
				if id != 0 {
					out.Raised++
					out.RaisedIDs = append(out.RaisedIDs, id)
				}
			case keel.AlertReopen, keel.AlertClear, keel.AlertCleared:
				before := *a
				a.Apply(change, c.now)
				if change == keel.AlertClear {
					a.ClosedOn = &day
				}
				if err := c.saveAlert(ctx, before, *a, "alert."+string(change), ""); err != nil {
					return err
				}
				switch change {
				case keel.AlertReopen:
					out.Reopened++
				case keel.AlertClear:
					out.Cleared++
				}
			}
		}
	}
	return c.commit(ctx)
}

// raiseAlert inserts a new live warning; 0 when another scorer raised it
// first.
func (c *change) raiseAlert(ctx context.Context, e AlertEvaluation, owner *int64, day time.Time) (int64, error) {
	evidence, err := json.Marshal(e.Evidence)
	if err != nil {
		return 0, err
	}
	cur := e.Currency
	if cur == "" {
		cur = "USD"
	}
	var id int64
	err = c.tx.QueryRow(ctx, `INSERT INTO alerts (customer_id, rule, state, owner_id, raised_on, raised_at, evidence, mrr_at_risk, currency)
		VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8)
		ON CONFLICT (customer_id, rule) WHERE state <> 'resolved' DO NOTHING RETURNING id`,
		e.CustomerID, e.Rule, owner, day, c.now, evidence, max(e.MRRAtRisk, 0), cur).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("raise alert %s for customer %d: %w", e.Rule, e.CustomerID, err)
	}
	a := keel.Alert{ID: id, CustomerID: e.CustomerID, Rule: e.Rule, State: keel.AlertOpen, Owner: owner, RaisedOn: day,
		Evidence: e.Evidence, MRRAtRisk: e.MRRAtRisk, Currency: cur}
	if err := c.audit(ctx, "alert.raise", "alert", id, nil, alertRecord(a)); err != nil {
		return 0, err
	}
	return id, c.alertEvent(ctx, id, "raise", "")
}

// saveAlert writes a changed warning (its version checked), its audit row
// and its timeline event.
func (c *change) saveAlert(ctx context.Context, before, after keel.Alert, action, detail string) error {
	evidence, err := json.Marshal(after.Evidence)
	if err != nil {
		return err
	}
	tag, err := c.tx.Exec(ctx, `UPDATE alerts SET state = $2, owner_id = $3, evidence = $4, acked_by = $5, acked_at = $6, resolved_by = $7,
		resolved_at = $8, note = $9, snoozed_until = $10, snooze_reason = $11, cleared = $12, closed_on = $14, version = version + 1
		WHERE id = $1 AND version = $13`,
		after.ID, after.State, after.Owner, evidence, after.AckedBy, after.AckedAt, after.ResolvedBy, after.ResolvedAt, after.Note,
		after.SnoozedUntil, after.SnoozeReason, after.Cleared, before.Version, after.ClosedOn)
	if err != nil {
		return fmt.Errorf("save alert %d: %w", after.ID, err)
	}
	if tag.RowsAffected() != 1 {
		return keel.ErrChanged
	}
	if err := c.audit(ctx, action, "alert", after.ID, alertRecord(before), alertRecord(after)); err != nil {
		return err
	}
	return c.alertEvent(ctx, after.ID, action[len("alert."):], detail)
}

func (c *change) alertEvent(ctx context.Context, id int64, action, detail string) error {
	if _, err := c.tx.Exec(ctx, `INSERT INTO alert_events (alert_id, at, actor_id, action, detail) VALUES ($1, $2, $3, $4, $5)`,
		id, c.now, nullID(c.by.ID), action, detail); err != nil {
		return fmt.Errorf("alert %d event: %w", id, err)
	}
	return nil
}

// alertRecord is what the audit log keeps of a warning.
func alertRecord(a keel.Alert) map[string]any {
	r := map[string]any{"customer_id": a.CustomerID, "rule": a.Rule, "state": a.State, "owner_id": a.Owner, "note": a.Note,
		"mrr_at_risk": a.MRRAtRisk, "currency": a.Currency}
	if a.SnoozedUntil != nil {
		r["snoozed_until"], r["snooze_reason"] = a.SnoozedUntil.Format(time.DateOnly), a.SnoozeReason
	}
	return r
}

// Alert reads warning id; ENOTFOUND when there is none.
func (db *DB) Alert(ctx context.Context, id int64) (keel.Alert, error) {
	a, err := scanAlert(db.pool.QueryRow(ctx, `SELECT `+alertColumns+` FROM alerts a WHERE a.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Alert{}, keel.Errorf(keel.ENOTFOUND, "there is no warning %d", id)
	}
	if err != nil {
		return keel.Alert{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	return a, nil
}

// Alerts lists warnings by the filter, the most MRR at risk first, then the
// oldest, and how many match.
func (db *DB) Alerts(ctx context.Context, f keel.AlertFilter) ([]keel.Alert, int, error) {
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	var w conds
	switch {
	case f.Unassigned:
		w.where = append(w.where, "a.owner_id IS NULL")
	case f.Owner != 0:
		w.add("a.owner_id = ?", f.Owner)
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		w.add("a.state = ANY(?)", states)
	}
	if f.Rule != "" {
		w.add("a.rule = ?", string(f.Rule))
	}
	if f.CustomerID != 0 {
		w.add("a.customer_id = ?", f.CustomerID)
	}
	if f.Owners != nil {
		w.add("a.owner_id = ANY(?)", f.Owners)
	}
	if f.Customers != nil {
		w.add("a.customer_id = ANY(?)", f.Customers)
	}
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM alerts a`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count alerts: %w", err)
	}
	limit, offset := w.arg(p.Limit), w.arg(p.Offset)
	rows, err := db.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts a`+w.sql()+
		` ORDER BY a.mrr_at_risk DESC, a.raised_at, a.id LIMIT `+limit+` OFFSET `+offset, w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list alerts: %w", err)
	}
	out, err := scanAlerts(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("list alerts: %w", err)
	}
	return out, total, nil
}

// workAlert runs a person's change of warning id in one transaction with
// its row locked: the domain's rule (who may, from which state), the save,
// the audit row and the timeline event.
func (db *DB) workAlert(ctx context.Context, by keel.Employee, id int64, action string, do func(c *change, a *keel.Alert) (string, error)) (keel.Alert, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.Alert{}, err
	}
	defer c.tx.Rollback(ctx)
	a, err := scanAlert(c.tx.QueryRow(ctx, `SELECT `+alertColumns+` FROM alerts a WHERE a.id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Alert{}, keel.Errorf(keel.ENOTFOUND, "there is no warning %d", id)
	}
	if err != nil {
		return keel.Alert{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	before := a
	detail, err := do(c, &a)
	if err != nil {
		return keel.Alert{}, err
	}
	if err := c.saveAlert(ctx, before, a, action, detail); err != nil {
		return keel.Alert{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Alert{}, fmt.Errorf("%s %d: %w", action, id, err)
	}
	a.Version++
	return a, nil
}

// AckAlert acknowledges warning id (its owner; admin and leadership).
func (db *DB) AckAlert(ctx context.Context, by keel.Employee, id int64) (keel.Alert, error) {
	return db.workAlert(ctx, by, id, "alert.ack", func(c *change, a *keel.Alert) (string, error) {
		return "", a.Ack(c.by, c.now)
	})
}

// ResolveAlert resolves warning id with a note (required).
func (db *DB) ResolveAlert(ctx context.Context, by keel.Employee, id int64, note string) (keel.Alert, error) {
	return db.workAlert(ctx, by, id, "alert.resolve", func(c *change, a *keel.Alert) (string, error) {
		if err := a.Resolve(c.by, note, c.now); err != nil {
			return "", err
		}
		today := c.today()
		a.ClosedOn = &today
		return a.Note, nil
	})
}

// SnoozeAlert snoozes warning id until a day (after today, at most 180
// days ahead) with a reason.
func (db *DB) SnoozeAlert(ctx context.Context, by keel.Employee, id int64, until time.Time, reason string) (keel.Alert, error) {
	return db.workAlert(ctx, by, id, "alert.snooze", func(c *change, a *keel.Alert) (string, error) {
		if err := a.Snooze(c.by, until, reason, c.today()); err != nil {
			return "", err
		}
		return a.SnoozedUntil.Format(time.DateOnly) + ": " + a.SnoozeReason, nil
	})
}

// AssignAlert gives warning id to employee to (0: unassigned): admin and
// leadership reassign; anyone may take an unassigned one.
func (db *DB) AssignAlert(ctx context.Context, by keel.Employee, id, to int64) (keel.Alert, error) {
	return db.workAlert(ctx, by, id, "alert.assign", func(c *change, a *keel.Alert) (string, error) {
		if to == 0 {
			return "", a.Assign(c.by, nil)
		}
		e, err := scanEmployee(c.tx.QueryRow(ctx, `SELECT `+employeeColumns+` FROM employees e WHERE id = $1 FOR SHARE`, to))
		if errors.Is(err, pgx.ErrNoRows) {
			return "", keel.Invalid("employee_id", "there is no employee %d", to)
		}
		if err != nil {
			return "", fmt.Errorf("read employee %d: %w", to, err)
		}
		if err := a.Assign(c.by, &e); err != nil {
			return "", err
		}
		return e.Name, nil
	})
}

// AlertEvents lists what happened to a customer's warnings, newest first.
func (db *DB) AlertEvents(ctx context.Context, customerID int64, limit int) ([]keel.AlertEvent, error) {
	rows, err := db.pool.Query(ctx, `SELECT e.id, e.alert_id, a.rule, e.at, coalesce(e.actor_id, 0), e.action, e.detail
		FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.customer_id = $1 ORDER BY e.id DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("read alert events: %w", err)
	}
	defer rows.Close()
	var out []keel.AlertEvent
	for rows.Next() {
		var e keel.AlertEvent
		if err := rows.Scan(&e.ID, &e.AlertID, &e.Rule, &e.At, &e.ActorID, &e.Action, &e.Detail); err != nil {
			return nil, fmt.Errorf("read alert events: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// LiveAlertCounts counts the warnings open, acknowledged or snoozed, by
// rule.
func (db *DB) LiveAlertCounts(ctx context.Context) (map[keel.AlertRule]int, error) {
	rows, err := db.pool.Query(ctx, `SELECT rule, count(*) FROM alerts WHERE state <> 'resolved' GROUP BY rule`)
	if err != nil {
		return nil, fmt.Errorf("count alerts: %w", err)
	}
	defer rows.Close()
	out := map[keel.AlertRule]int{}
	for rows.Next() {
		var r keel.AlertRule
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, fmt.Errorf("count alerts: %w", err)
		}
		out[r] = n
	}
	return out, rows.Err()
}
