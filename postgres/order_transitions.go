package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

// An order's transitions — submit, approve, reject, void — each one
// change (DB.transition): the order and its customer locked, the domain's
// rule applied, the order, its grants, audit row and facts written in one
// transaction. A draft's edit and delete are changes of the same kind
// (order_drafts.go).

// saveOrder writes the transition fields of o.
func saveOrder(ctx context.Context, tx pgx.Tx, o keel.Order) error {
	var paid *int64
	var paidAt *time.Time
	var ref *string
	if o.Payment != nil {
		paid, paidAt, ref = &o.Payment.Amount, &o.Payment.PaidAt, &o.Payment.Reference
	}
	decidedBy, voidedBy := (*int64)(nil), (*int64)(nil)
	if o.DecidedBy != nil {
		decidedBy = nullID(*o.DecidedBy)
	}
	if o.VoidedBy != nil {
		voidedBy = nullID(*o.VoidedBy)
	}
	_, err := tx.Exec(ctx,
		`UPDATE orders SET status = $2, submitted_at = $3, decided_by = $4, decided_at = $5, paid_amount = $6, paid_at = $7,
		        payment_ref = $8, reject_reason = $9, voided_by = $10, voided_at = $11
		 WHERE id = $1`,
		o.ID, o.Status, o.SubmittedAt, decidedBy, o.DecidedAt, paid, paidAt, ref, o.RejectReason, voidedBy, o.VoidedAt)
	if err != nil {
		return fmt.Errorf("save order %d: %w", o.ID, err)
	}
	return nil
}

// storeGrants writes the grants of an approval, creating the subscriptions
// the domain asked for (SubscriptionID 0), and returns them with their ids
// and the ids of the subscriptions they touch.
func storeGrants(ctx context.Context, c *change, customerID int64, grants []keel.Grant) ([]keel.Grant, []int64, error) {
	var subs []int64
	seen := map[int64]bool{}
	for i := range grants {
		g := &grants[i]
		if g.SubscriptionID == 0 {
			// One row per customer and product: a second line of the same
			// product finds the row the first one made.
			if _, err := c.tx.Exec(ctx,
				`INSERT INTO subscriptions (customer_id, product_id, created_at) VALUES ($1, $2, $3)
				 ON CONFLICT (customer_id, product_id) DO NOTHING`, customerID, g.ProductID, c.now); err != nil {
				return nil, nil, fmt.Errorf("create subscription: %w", err)
			}
			if err := c.tx.QueryRow(ctx, `SELECT id FROM subscriptions WHERE customer_id = $1 AND product_id = $2`,
				customerID, g.ProductID).Scan(&g.SubscriptionID); err != nil {
				return nil, nil, fmt.Errorf("read subscription: %w", err)
			}
		}
		var end *time.Time
		if !g.End.IsZero() {
			end = &g.End
		}
		if err := c.tx.QueryRow(ctx,
			`INSERT INTO grants (subscription_id, order_id, line_id, kind, trial, quantity, starts_on, ends_on, monthly_amount, currency)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			g.SubscriptionID, g.OrderID, g.LineID, g.Kind, g.Trial, g.Quantity, g.Start, end, g.MonthlyAmount, g.Currency).Scan(&g.ID); err != nil {
			return nil, nil, fmt.Errorf("store grant of order %d: %w", g.OrderID, err)
		}
		if !seen[g.SubscriptionID] {
			seen[g.SubscriptionID] = true
			subs = append(subs, g.SubscriptionID)
		}
	}
	return grants, subs, nil
}

// transition runs one order transition as a change: it locks the order and
// its customer (see lockOrder), lets step apply the domain's rule to the
// order and write what follows from it, and commits. what names the
// transition in errors ("approve").
func (db *DB) transition(ctx context.Context, by keel.Employee, id int64, what string,
	step func(c *change, o *keel.Order, cu keel.Customer) error) (keel.Order, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.Order{}, err
	}
	defer c.tx.Rollback(ctx)
	o, cu, err := lockOrder(ctx, c.tx, id)
	if err != nil {
		return keel.Order{}, err
	}
	if err := step(c, &o, cu); err != nil {
		return keel.Order{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Order{}, fmt.Errorf("%s order %d: %w", what, id, err)
	}
	return o, nil
}

// record saves the transition fields of after.Order and writes the audit
// row of the transition.
func (c *change) record(ctx context.Context, action string, before, after orderRecord) error {
	if err := saveOrder(ctx, c.tx, after.Order); err != nil {
		return err
	}
	return c.audit(ctx, action, "order", after.ID, before, after)
}

// grant finishes an approval (finance's, or a trial's own): it stores the
// grants, then writes the order, the audit row and the order.approved and
// subscription.changed facts.
func (c *change) grant(ctx context.Context, action string, before, o keel.Order, cu keel.Customer, grants []keel.Grant) error {
	grants, subs, err := storeGrants(ctx, c, cu.ID, grants)
	if err != nil {
		return err
	}
	if err := c.record(ctx, action, orderRecord{Order: before}, orderRecord{Order: o, Grants: grants}); err != nil {
		return err
	}
	return c.orderFacts(ctx, keel.FactOrderApproved, o, cu, subs)
}

// SubmitOrder sends a draft for approval (only its creator may). A trial
// order approves itself: its grants are stored and its facts written in the
// same transaction. It returns ENOTFOUND and the domain's refusals.
func (db *DB) SubmitOrder(ctx context.Context, by keel.Employee, id int64) (keel.Order, error) {
	return db.transition(ctx, by, id, "submit", func(c *change, o *keel.Order, cu keel.Customer) error {
		before := *o
		var cs keel.CustomerState
		if o.Kind == keel.OrderTrial {
			var err error
			if cs.Orders, err = loadOrders(ctx, c.tx, "o.customer_id = $1 AND o.kind = 'trial'", o.CustomerID); err != nil {
				return err
			}
			if cs.Subscriptions, err = loadSubscriptions(ctx, c.tx, "s.customer_id = $1", o.CustomerID); err != nil {
				return err
			}
			if cs.Catalogue, err = loadCatalogue(ctx, c.tx, lineProducts(o.Lines)); err != nil {
				return err
			}
			cs.Settings = keel.DefaultOrderSettings
		}
		grants, err := o.Submit(c.by, cs, c.moment())
		if err != nil {
			return err
		}
		if o.Status == keel.OrderApproved {
			return c.grant(ctx, "order.submit", before, *o, cu, grants)
		}
		return c.record(ctx, "order.submit", orderRecord{Order: before}, orderRecord{Order: *o})
	})
}

// ApproveOrder records finance's approval with the payment and grants what
// the order sells. Approving again with the same payment (a retried
// request) returns the order unchanged and writes nothing; any other
// second approval is ECONFLICT. It returns ENOTFOUND and the domain's
// refusals.
func (db *DB) ApproveOrder(ctx context.Context, by keel.Employee, id int64, p keel.Payment) (keel.Order, error) {
	// timestamptz keeps microseconds: compare the payment as it is stored.
	p.PaidAt = p.PaidAt.UTC().Truncate(time.Microsecond)
	return db.transition(ctx, by, id, "approve", func(c *change, o *keel.Order, cu keel.Customer) error {
		before := *o
		subs, err := loadSubscriptions(ctx, c.tx, "s.customer_id = $1", o.CustomerID)
		if err != nil {
			return err
		}
		grants, repeat, err := o.Approve(c.by, p, subs, c.moment())
		if err != nil || repeat {
			return err // a repeat leaves the order as it was
		}
		return c.grant(ctx, "order.approve", before, *o, cu, grants)
	})
}

// RejectOrder turns an order pending approval down with a reason. It
// returns ENOTFOUND and the domain's refusals.
func (db *DB) RejectOrder(ctx context.Context, by keel.Employee, id int64, reason string) (keel.Order, error) {
	return db.transition(ctx, by, id, "reject", func(c *change, o *keel.Order, _ keel.Customer) error {
		before := *o
		if err := o.Reject(c.by, reason, c.now); err != nil {
			return err
		}
		return c.record(ctx, "order.reject", orderRecord{Order: before}, orderRecord{Order: *o})
	})
}

// VoidOrder takes an approved order back: its grants are marked void, which
// takes back exactly what it granted, and the order.voided and
// subscription.changed facts are written. It returns ENOTFOUND and the
// domain's refusals.
func (db *DB) VoidOrder(ctx context.Context, by keel.Employee, id int64) (keel.Order, error) {
	return db.transition(ctx, by, id, "void", func(c *change, o *keel.Order, cu keel.Customer) error {
		before := *o
		if err := o.Void(c.by, c.now); err != nil {
			return err
		}
		grants, err := loadGrants(ctx, c.tx, "g.order_id = $1", id)
		if err != nil {
			return err
		}
		if _, err := c.tx.Exec(ctx, `UPDATE grants SET void = true WHERE order_id = $1`, id); err != nil {
			return fmt.Errorf("void grants of order %d: %w", id, err)
		}
		voided := make([]keel.Grant, len(grants))
		var subs []int64
		seen := map[int64]bool{}
		for i, g := range grants {
			g.Void = true
			voided[i] = g
			if !seen[g.SubscriptionID] {
				seen[g.SubscriptionID] = true
				subs = append(subs, g.SubscriptionID)
			}
		}
		if err := c.record(ctx, "order.void", orderRecord{Order: before, Grants: grants}, orderRecord{Order: *o, Grants: voided}); err != nil {
			return err
		}
		return c.orderFacts(ctx, keel.FactOrderVoided, *o, cu, subs)
	})
}
