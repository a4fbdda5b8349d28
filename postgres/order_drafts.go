package postgres

import (
	"context"
	"fmt"

	"github.com/keelhq/keel"
)

// A draft is its creator's to edit or delete until it is submitted
// (keel.Order.Edit, keel.Order.Delete). Each is one change like the
// transitions (DB.transition): the order row locked, then its customer's,
// so an edit or a delete queues behind a submit of the same draft and
// sees its outcome (a submitted order is no longer a draft), and the
// trial rule counts the customer's orders as they are.
//
// A deleted draft is deleted, not marked: it granted nothing, no fact was
// ever sent about it (the warehouse never heard of it) and nothing refers
// to it but its own lines. A "deleted" status would have to be left out
// of every list, count and rule that reads orders — the trial limit, the
// home page's drafts, a customer's orders — for a record nobody needs;
// its audit trail (order.create, each order.edit, and order.delete with
// the draft as it was) is what stays. Ids are never reused.

// EditOrder replaces draft id's kind and lines by the rules of a new order,
// with an order.edit audit row holding the draft before and after. It
// returns ENOTFOUND, and the domain's refusals: EFORBIDDEN for anyone but
// the draft's creator, ECONFLICT for an order submitted, EINVALID for bad
// lines.
func (db *DB) EditOrder(ctx context.Context, by keel.Employee, id int64, kind keel.OrderKind, lines []keel.LineRequest) (keel.Order, error) {
	return db.transition(ctx, by, id, "edit", func(c *change, o *keel.Order, cu keel.Customer) error {
		before := *o
		ids := make([]int64, len(lines))
		for i, l := range lines {
			ids[i] = l.ProductID
		}
		cat, err := loadCatalogue(ctx, c.tx, ids)
		if err != nil {
			return err
		}
		req := keel.OrderRequest{Customer: cu, Kind: kind, Lines: lines, Catalogue: cat, Settings: keel.DefaultOrderSettings}
		if kind == keel.OrderTrial {
			if req.Orders, err = loadOrders(ctx, c.tx, "o.customer_id = $1 AND o.kind = 'trial'", o.CustomerID); err != nil {
				return err
			}
		}
		if err := o.Edit(c.by, req, c.moment()); err != nil {
			return err
		}
		if _, err := c.tx.Exec(ctx, `DELETE FROM order_lines WHERE order_id = $1`, id); err != nil {
			return fmt.Errorf("edit order %d: %w", id, err)
		}
		if _, err := c.tx.Exec(ctx, `UPDATE orders SET kind = $2, currency = $3 WHERE id = $1`, id, o.Kind, o.Currency); err != nil {
			return fmt.Errorf("edit order %d: %w", id, err)
		}
		if err := insertLines(ctx, c.tx, o); err != nil {
			return err
		}
		return c.audit(ctx, "order.edit", "order", id, orderRecord{Order: before}, orderRecord{Order: *o})
	})
}

// DeleteOrder deletes draft id and its lines, with an order.delete audit
// row holding the draft as it was. It returns ENOTFOUND, and the domain's
// refusals: EFORBIDDEN for anyone but the draft's creator, ECONFLICT for
// an order submitted.
func (db *DB) DeleteOrder(ctx context.Context, by keel.Employee, id int64) error {
	_, err := db.transition(ctx, by, id, "delete", func(c *change, o *keel.Order, _ keel.Customer) error {
		if err := o.Delete(c.by); err != nil {
			return err
		}
		if _, err := c.tx.Exec(ctx, `DELETE FROM order_lines WHERE order_id = $1`, id); err != nil {
			return fmt.Errorf("delete order %d: %w", id, err)
		}
		if _, err := c.tx.Exec(ctx, `DELETE FROM orders WHERE id = $1 AND status = 'draft'`, id); err != nil {
			return fmt.Errorf("delete order %d: %w", id, err)
		}
		return c.audit(ctx, "order.delete", "order", id, orderRecord{Order: *o}, nil)
	})
	return err
}
