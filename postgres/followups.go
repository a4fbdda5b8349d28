package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// AddFollowUp records contact with customer f.CustomerID, written by the
// acting employee, with its attachments. It needs keel.ActFollowUpAdd; it
// returns ENOTFOUND for an unknown customer, and EINVALID or ETOOLARGE for a
// bad follow-up. The answer lists the attachments without their data.
func (db *DB) AddFollowUp(ctx context.Context, by keel.Employee, f keel.FollowUp) (keel.FollowUp, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.FollowUp{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActFollowUpAdd); err != nil {
		return keel.FollowUp{}, err
	}
	f.ID, f.AuthorID, f.CreatedAt = 0, c.by.ID, c.now
	f.At = f.At.UTC().Truncate(time.Microsecond)
	if err := f.Validate(c.now); err != nil {
		return keel.FollowUp{}, err
	}
	for i, a := range f.Attachments {
		if len(a.ContentType) > 255 {
			return keel.FollowUp{}, keel.Invalid(fmt.Sprintf("attachments[%d].content_type", i), "at most %d characters", 255)
		}
	}
	var exists bool
	if err := c.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)`, f.CustomerID).Scan(&exists); err != nil {
		return keel.FollowUp{}, fmt.Errorf("add follow-up: %w", err)
	}
	if !exists {
		return keel.FollowUp{}, keel.CustomerNotFound(f.CustomerID)
	}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO follow_ups (customer_id, at, author_id, kind, text, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		f.CustomerID, f.At, nullID(f.AuthorID), f.Kind, f.Text, f.CreatedAt).Scan(&f.ID)
	if err != nil {
		return keel.FollowUp{}, fmt.Errorf("add follow-up to customer %d: %w", f.CustomerID, err)
	}
	listed := make([]keel.Attachment, len(f.Attachments))
	for i, a := range f.Attachments {
		a.Size = int64(len(a.Data))
		if strings.TrimSpace(a.ContentType) == "" {
			a.ContentType = "application/octet-stream"
		}
		err := c.tx.QueryRow(ctx,
			`INSERT INTO attachments (follow_up_id, name, content_type, size, data) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			f.ID, a.Name, a.ContentType, a.Size, a.Data).Scan(&a.ID)
		if err != nil {
			return keel.FollowUp{}, fmt.Errorf("add follow-up attachment %s: %w", a.Name, err)
		}
		a.Data = nil
		listed[i] = a
	}
	f.Attachments = listed
	if err := c.audit(ctx, "followup.add", "follow_up", f.ID, nil, f); err != nil {
		return keel.FollowUp{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.FollowUp{}, fmt.Errorf("add follow-up to customer %d: %w", f.CustomerID, err)
	}
	return f, nil
}

// FollowUps lists customer customerID's follow-ups newest first, their
// attachments without data, and how many there are. It returns ENOTFOUND
// for an unknown customer and EINVALID for a bad page.
func (db *DB) FollowUps(ctx context.Context, customerID int64, p keel.Page) ([]keel.FollowUp, int, error) {
	p, err := p.Normalize()
	if err != nil {
		return nil, 0, err
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, 0, fmt.Errorf("list follow-ups: %w", err)
	}
	defer tx.Rollback(ctx)
	var exists bool
	var total int
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1), (SELECT count(*) FROM follow_ups WHERE customer_id = $1)`,
		customerID).Scan(&exists, &total)
	if err != nil {
		return nil, 0, fmt.Errorf("list follow-ups: %w", err)
	}
	if !exists {
		return nil, 0, keel.CustomerNotFound(customerID)
	}
	rows, err := tx.Query(ctx,
		`SELECT id, customer_id, at, coalesce(author_id, 0), kind, text, created_at FROM follow_ups
		 WHERE customer_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3`, customerID, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list follow-ups: %w", err)
	}
	defer rows.Close()
	out := []keel.FollowUp{}
	at := map[int64]int{}
	var ids []int64
	for rows.Next() {
		var f keel.FollowUp
		if err := rows.Scan(&f.ID, &f.CustomerID, &f.At, &f.AuthorID, &f.Kind, &f.Text, &f.CreatedAt); err != nil {
			return nil, 0, fmt.Errorf("list follow-ups: %w", err)
		}
		f.At, f.CreatedAt, f.Attachments = f.At.UTC(), f.CreatedAt.UTC(), []keel.Attachment{}
		at[f.ID] = len(out)
		ids = append(ids, f.ID)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list follow-ups: %w", err)
	}
	rows.Close()
	rows, err = tx.Query(ctx,
		`SELECT follow_up_id, id, name, content_type, size FROM attachments WHERE follow_up_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("list attachments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var fid int64
		var a keel.Attachment
		if err := rows.Scan(&fid, &a.ID, &a.Name, &a.ContentType, &a.Size); err != nil {
			return nil, 0, fmt.Errorf("list attachments: %w", err)
		}
		i := at[fid]
		out[i].Attachments = append(out[i].Attachments, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list attachments: %w", err)
	}
	return out, total, nil
}

// MaxFollowUpsBetween bounds the follow-ups FollowUpsBetween returns: a
// page of a review, not an export.
const MaxFollowUpsBetween = 5000

// FollowUpsBetween lists the follow-ups with At in [from, to) of every
// customer (customerIDs nil) or of those listed (empty non-nil: none), by
// customer id, then At, their attachments without data. It returns
// EINVALID naming to when to is not after from, and naming from when the
// range holds more than MaxFollowUpsBetween follow-ups.
func (db *DB) FollowUpsBetween(ctx context.Context, from, to time.Time, customerIDs []int64) ([]keel.FollowUp, error) {
	if !to.After(from) {
		return nil, keel.Invalid("to", "must be after from")
	}
	out := []keel.FollowUp{}
	if customerIDs != nil && len(customerIDs) == 0 {
		return out, nil
	}
	var c conds
	c.add("at >= ?", from)
	c.add("at < ?", to)
	if customerIDs != nil {
		c.add("customer_id = ANY(?)", customerIDs)
	}
	// One more than the bound, to tell "exactly the bound" from "over it".
	q := `SELECT id, customer_id, at, coalesce(author_id, 0), kind, text, created_at FROM follow_ups` + c.sql() +
		` ORDER BY customer_id, at, id LIMIT ` + c.arg(MaxFollowUpsBetween+1)
	// One snapshot for the follow-ups and their attachments.
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("list follow-ups between: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, q, c.args...)
	if err != nil {
		return nil, fmt.Errorf("list follow-ups between: %w", err)
	}
	defer rows.Close()
	at := map[int64]int{}
	var ids []int64
	for rows.Next() {
		var f keel.FollowUp
		if err := rows.Scan(&f.ID, &f.CustomerID, &f.At, &f.AuthorID, &f.Kind, &f.Text, &f.CreatedAt); err != nil {
			return nil, fmt.Errorf("list follow-ups between: %w", err)
		}
		f.At, f.CreatedAt, f.Attachments = f.At.UTC(), f.CreatedAt.UTC(), []keel.Attachment{}
		at[f.ID] = len(out)
		ids = append(ids, f.ID)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list follow-ups between: %w", err)
	}
	rows.Close()
	if len(out) > MaxFollowUpsBetween {
		return nil, keel.Invalid("from", "the range holds more than %d follow-ups", MaxFollowUpsBetween)
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err = tx.Query(ctx,
		`SELECT follow_up_id, id, name, content_type, size FROM attachments WHERE follow_up_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var fid int64
		var a keel.Attachment
		if err := rows.Scan(&fid, &a.ID, &a.Name, &a.ContentType, &a.Size); err != nil {
			return nil, fmt.Errorf("list attachments: %w", err)
		}
		i := at[fid]
		out[i].Attachments = append(out[i].Attachments, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	return out, nil
}

// Attachment returns attachment id with its data, or ENOTFOUND.
func (db *DB) Attachment(ctx context.Context, id int64) (keel.Attachment, error) {
	var a keel.Attachment
	err := db.pool.QueryRow(ctx, `SELECT id, name, content_type, size, data FROM attachments WHERE id = $1`, id).
		Scan(&a.ID, &a.Name, &a.ContentType, &a.Size, &a.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Attachment{}, keel.AttachmentNotFound(id)
	}
	if err != nil {
		return keel.Attachment{}, fmt.Errorf("read attachment %d: %w", id, err)
	}
	return a, nil
}
