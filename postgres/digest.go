package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// The morning digest's records (migration 0009_digest.sql): the webhook,
// each day's digests as made (the JSON body sent, exactly), their
// delivery state, and every delivery attempt. The delivery worker
// (digest.Worker) takes one due digest at a time with FOR UPDATE SKIP
// LOCKED and keeps its row locked while it sends, so two consoles never
// send one digest at once, and state moves only with the commit.

// DigestRecords reads what day's digests are made from: the active CSMs,
// the warnings raised on day, the ones open or acknowledged raised before
// it, and the names and owners of their customers and of customers (the
// scored customers whose band fell), in one snapshot.
func (db *DB) DigestRecords(ctx context.Context, day time.Time, customers []int64) (keel.DigestInput, error) {
	in := keel.DigestInput{Day: day, Customers: map[int64]keel.DigestCustomer{}}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return in, fmt.Errorf("read digest records: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT `+employeeColumns+` FROM employees e WHERE e.status = 'active' AND 'csm' = ANY(e.roles) ORDER BY e.name, e.id`)
	if err != nil {
		return in, fmt.Errorf("read CSMs: %w", err)
	}
	for rows.Next() {
		e, err := scanEmployee(rows)
		if err != nil {
			rows.Close()
			return in, fmt.Errorf("read CSMs: %w", err)
		}
		in.CSMs = append(in.CSMs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return in, fmt.Errorf("read CSMs: %w", err)
	}
	for _, q := range []struct {
		to    *[]keel.Alert
		where string
	}{
		{&in.Raised, "a.raised_on = $1"},
		{&in.Open, "a.raised_on < $1 AND a.state IN ('open', 'acknowledged')"},
	} {
		rows, err := tx.Query(ctx, `SELECT `+alertColumns+` FROM alerts a WHERE `+q.where+` ORDER BY a.id`, day)
		if err != nil {
			return in, fmt.Errorf("read warnings: %w", err)
		}
		if *q.to, err = scanAlerts(rows); err != nil {
			return in, fmt.Errorf("read warnings: %w", err)
		}
	}
	ids := append([]int64(nil), customers...)
	for _, l := range [][]keel.Alert{in.Raised, in.Open} {
		for _, a := range l {
			ids = append(ids, a.CustomerID)
		}
	}
	crows, err := tx.Query(ctx, `SELECT id, name, coalesce(csm_owner, sales_owner) FROM customers WHERE id = ANY($1)`, ids)
	if err != nil {
		return in, fmt.Errorf("read customers: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var id int64
		var c keel.DigestCustomer
		if err := crows.Scan(&id, &c.Name, &c.Owner); err != nil {
			return in, fmt.Errorf("read customers: %w", err)
		}
		in.Customers[id] = c
	}
	return in, crows.Err()
}

// DigestsMade reports whether day's digests were made.
func (db *DB) DigestsMade(ctx context.Context, day time.Time) (bool, error) {
	var made bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM digest_days WHERE day = $1)`, day).Scan(&made); err != nil {
		return false, fmt.Errorf("read digest days: %w", err)
	}
	return made, nil
}

// SaveDigests keeps day's digests, each with a new delivery id, and
// queues for delivery, at once, those with something to say — when a
// webhook is set; without one they are kept unsent. It reports false,
// keeping nothing, when the day's digests were made already: the day's
// row in digest_days is inserted in the same transaction, so of two
// scorers making the same day's digests one keeps them.
func (db *DB) SaveDigests(ctx context.Context, day time.Time, ds []keel.Digest) (bool, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	now := db.now()
	tag, err := tx.Exec(ctx, `INSERT INTO digest_days (day, made_at, digests) VALUES ($1, $2, $3) ON CONFLICT (day) DO NOTHING`, day, now, len(ds))
	if err != nil {
		return false, fmt.Errorf("save digests of %s: %w", day.Format(time.DateOnly), err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	var hook bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM digest_webhook)`).Scan(&hook); err != nil {
		return false, fmt.Errorf("read digest webhook: %w", err)
	}
	for _, d := range ds {
		if d.ID, err = deliveryID(); err != nil {
			return false, err
		}
		body, err := json.Marshal(d)
		if err != nil {
			return false, err
		}
		state, next := keel.DigestUnsent, (*time.Time)(nil)
		switch {
		case d.Empty():
			state = keel.DigestEmpty
		case hook:
			state, next = keel.DigestPending, &now
		}
		if _, err := tx.Exec(ctx, `INSERT INTO digests (day, employee_id, delivery_id, body, state, next_attempt_at, made_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, day, nullID(d.EmployeeID), d.ID, string(body), state, next, now); err != nil {
			return false, fmt.Errorf("save digest of %s for %d: %w", d.Day, d.EmployeeID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("save digests of %s: %w", day.Format(time.DateOnly), err)
	}
	return true, nil
}

// deliveryID is a new digest's id for receivers: 128 random bits.
func deliveryID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "dg_" + hex.EncodeToString(b), nil
}

const digestColumns = `d.id, d.day, d.body, d.state, d.attempts, d.next_attempt_at, d.delivered_at, d.made_at`

func scanDigest(row pgx.Row) (keel.DigestRecord, error) {
	var r keel.DigestRecord
	var body []byte
	if err := row.Scan(&r.ID, &r.Day, &body, &r.State, &r.Attempts, &r.NextAttempt, &r.DeliveredAt, &r.MadeAt); err != nil {
		return keel.DigestRecord{}, err
	}
	if err := json.Unmarshal(body, &r.Digest); err != nil {
		return keel.DigestRecord{}, fmt.Errorf("digest %d body: %w", r.ID, err)
	}
	r.Day, r.MadeAt = keel.Date(r.Day), r.MadeAt.UTC()
	for _, t := range []*time.Time{r.NextAttempt, r.DeliveredAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return r, nil
}

// Digest reads employee's digest of day (employee 0: the unassigned
// one); ENOTFOUND when there is none.
func (db *DB) Digest(ctx context.Context, day time.Time, employee int64) (keel.DigestRecord, error) {
	r, err := scanDigest(db.pool.QueryRow(ctx, `SELECT `+digestColumns+` FROM digests d WHERE d.day = $1 AND coalesce(d.employee_id, 0) = $2`, day, employee))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.DigestRecord{}, keel.Errorf(keel.ENOTFOUND, "there is no digest of %s for this employee", day.Format(time.DateOnly))
	}
	if err != nil {
		return keel.DigestRecord{}, fmt.Errorf("read digest: %w", err)
	}
	return r, nil
}

// DigestDays lists the days employee has a digest of (0: the unassigned
// one), newest first, at most limit.
func (db *DB) DigestDays(ctx context.Context, employee int64, limit int) ([]time.Time, error) {
	rows, err := db.pool.Query(ctx, `SELECT day FROM digests WHERE coalesce(employee_id, 0) = $1 ORDER BY day DESC LIMIT $2`, employee, limit)
	if err != nil {
		return nil, fmt.Errorf("read digest days: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("read digest days: %w", err)
		}
		out = append(out, keel.Date(d))
	}
	return out, rows.Err()
}

// LastDigestDay is the latest day whose digests were made; zero when none
// was.
func (db *DB) LastDigestDay(ctx context.Context) (time.Time, error) {
	var d *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT max(day) FROM digest_days`).Scan(&d); err != nil {
		return time.Time{}, fmt.Errorf("read digest days: %w", err)
	}
	if d == nil {
		return time.Time{}, nil
	}
	return keel.Date(*d), nil
}

// DigestDeliveries lists delivery attempts, newest first, and how many
// match; the console shows it to admin.
func (db *DB) DigestDeliveries(ctx context.Context, f keel.DigestDeliveryFilter) ([]keel.DigestDelivery, int, error) {
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	var w conds
	if f.DigestID != 0 {
		w.add("l.digest_id = ?", f.DigestID)
	}
	if f.Failed {
		w.where = append(w.where, "l.error <> ''")
	}
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM digest_deliveries l`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count digest deliveries: %w", err)
	}
	q := `SELECT l.id, l.digest_id, d.delivery_id, d.day, coalesce(d.employee_id, 0), l.attempt, l.at, l.url, coalesce(l.status_code, 0), l.error,
		l.took_ms, l.next_attempt_at FROM digest_deliveries l JOIN digests d ON d.id = l.digest_id` + w.sql() + ` ORDER BY l.id DESC` + w.page(p)
	rows, err := db.pool.Query(ctx, q, w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list digest deliveries: %w", err)
	}
	defer rows.Close()
	var out []keel.DigestDelivery
	for rows.Next() {
		var x keel.DigestDelivery
		var ms int
		if err := rows.Scan(&x.ID, &x.DigestID, &x.DeliveryID, &x.Day, &x.EmployeeID, &x.Attempt, &x.At, &x.URL, &x.Status, &x.Error, &ms, &x.NextAttempt); err != nil {
			return nil, 0, fmt.Errorf("list digest deliveries: %w", err)
		}
		x.Day, x.At, x.Took = keel.Date(x.Day), x.At.UTC(), time.Duration(ms)*time.Millisecond
		if x.NextAttempt != nil {
			t := x.NextAttempt.UTC()
			x.NextAttempt = &t
		}
		out = append(out, x)
	}
	return out, total, rows.Err()
}

// DigestWebhook reads the webhook as shown: never its secret.
func (db *DB) DigestWebhook(ctx context.Context) (keel.DigestWebhook, error) {
	var h keel.DigestWebhook
	var by *int64
	err := db.pool.QueryRow(ctx, `SELECT url, updated_by, updated_at FROM digest_webhook`).Scan(&h.URL, &by, &h.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.DigestWebhook{}, nil
	}
	if err != nil {
		return keel.DigestWebhook{}, fmt.Errorf("read digest webhook: %w", err)
	}
	h.SecretSet, h.UpdatedAt = true, h.UpdatedAt.UTC()
	if by != nil {
		h.UpdatedBy = *by
	}
	return h, nil
}

// SetDigestWebhook sets the webhook's URL and, when secret is not nil,
// its secret (keel.ActSettingsWrite), audited as settings.digest without
// the secret. A URL needs a secret: the one set before, or a new one. An
// empty URL turns delivery off and forgets the secret. It returns
// EINVALID naming url or secret.
func (db *DB) SetDigestWebhook(ctx context.Context, by keel.Employee, url string, secret *string) (keel.DigestWebhook, error) {
	if url != "" {
		if err := keel.ValidWebhookURL("url", url); err != nil {
			return keel.DigestWebhook{}, err
		}
	}
	if secret != nil {
		if err := keel.ValidWebhookSecret("secret", *secret); err != nil {
			return keel.DigestWebhook{}, err
		}
	}
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.DigestWebhook{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActSettingsWrite); err != nil {
		return keel.DigestWebhook{}, err
	}
	var beforeURL, beforeSecret string
	switch err := c.tx.QueryRow(ctx, `SELECT url, secret FROM digest_webhook FOR UPDATE`).Scan(&beforeURL, &beforeSecret); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return keel.DigestWebhook{}, fmt.Errorf("read digest webhook: %w", err)
	}
	before := map[string]any{"url": beforeURL, "secret_set": beforeSecret != ""}
	after := map[string]any{"url": url, "secret_set": url != ""}
	if url == "" {
		if _, err := c.tx.Exec(ctx, `DELETE FROM digest_webhook`); err != nil {
			return keel.DigestWebhook{}, fmt.Errorf("save digest webhook: %w", err)
		}
	} else {
		newSecret := beforeSecret
		if secret != nil {
			newSecret = *secret
		}
		if newSecret == "" {
			return keel.DigestWebhook{}, keel.Invalid("secret", "required: no secret is set yet (at least %d characters)", keel.MinWebhookSecret)
		}
		after["secret_changed"] = newSecret != beforeSecret
		if _, err := c.tx.Exec(ctx, `INSERT INTO digest_webhook (id, url, secret, updated_by, updated_at) VALUES (1, $1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			url, newSecret, nullID(c.by.ID), c.now); err != nil {
			return keel.DigestWebhook{}, fmt.Errorf("save digest webhook: %w", err)
		}
	}
	if err := c.audit(ctx, "settings.digest", "digest_webhook", 1, before, after); err != nil {
		return keel.DigestWebhook{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.DigestWebhook{}, fmt.Errorf("save digest webhook: %w", err)
	}
	if url == "" {
		return keel.DigestWebhook{}, nil
	}
	return keel.DigestWebhook{URL: url, SecretSet: true, UpdatedBy: c.by.ID, UpdatedAt: c.now}, nil
}

// DigestSend is one attempt to deliver a digest, as the worker sends it.
type DigestSend struct {
	DigestID   int64
	DeliveryID string
	Body       []byte // exactly as made: what is signed and sent
	Attempt    int    // 1 for the first
	URL        string // "" when no webhook is set
	Secret     string
}

// DigestAttempt is what an attempt did, as the worker judged it.
type DigestAttempt struct {
	Status    int // the HTTP status; 0 when none came
	Error     string
	Took      time.Duration
	Delivered bool
	// Next is when to try again after a failure; nil gives the delivery
	// up (failed).
	Next *time.Time
}

// DeliverDigest takes the pending digest due soonest (its next attempt at
// or before now) that no other worker holds, calls send with it while its
// row stays locked, and records the attempt and the digest's new state in
// the same transaction. It reports false when none was due. Should the
// process die after sending and before the commit, the digest is sent
// again later, with the same delivery id, for the receiver to drop.
func (db *DB) DeliverDigest(ctx context.Context, now time.Time, send func(context.Context, DigestSend) DigestAttempt) (bool, DigestAttempt, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, DigestAttempt{}, err
	}
	defer tx.Rollback(ctx)
	var s DigestSend
	var body string
	err = tx.QueryRow(ctx, `SELECT id, delivery_id, body::text, attempts + 1 FROM digests
		WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, now).
		Scan(&s.DigestID, &s.DeliveryID, &body, &s.Attempt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, DigestAttempt{}, nil
	}
	if err != nil {
		return false, DigestAttempt{}, fmt.Errorf("take a due digest: %w", err)
	}
	s.Body = []byte(body)
	switch err := tx.QueryRow(ctx, `SELECT url, secret FROM digest_webhook`).Scan(&s.URL, &s.Secret); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, DigestAttempt{}, fmt.Errorf("read digest webhook: %w", err)
	}
	a := send(ctx, s)
	a.Error = storableText(a.Error)
	var status *int
	if a.Status != 0 {
		status = &a.Status
	}
	at := db.now()
	if _, err := tx.Exec(ctx, `INSERT INTO digest_deliveries (digest_id, attempt, at, url, status_code, error, took_ms, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.DigestID, s.Attempt, at, s.URL, status, a.Error, a.Took.Milliseconds(), a.Next); err != nil {
		return false, a, fmt.Errorf("record delivery of digest %d: %w", s.DigestID, err)
	}
	state, next, delivered := keel.DigestPending, a.Next, (*time.Time)(nil)
	switch {
	case a.Delivered:
		state, next, delivered = keel.DigestDelivered, nil, &at
	case a.Next == nil:
		state = keel.DigestFailed
	}
	if _, err := tx.Exec(ctx, `UPDATE digests SET state = $2, attempts = $3, next_attempt_at = $4, delivered_at = $5 WHERE id = $1`,
		s.DigestID, state, s.Attempt, next, delivered); err != nil {
		return false, a, fmt.Errorf("record delivery of digest %d: %w", s.DigestID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, a, fmt.Errorf("record delivery of digest %d: %w", s.DigestID, err)
	}
	return true, a, nil
}

// storableText is s as Postgres stores text (an error message can quote
// bytes a server sent), at most 1,000 bytes.
func storableText(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "") + "…"
	}
	return s
}
