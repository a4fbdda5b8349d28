package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

const orderColumns = `o.id, o.customer_id, o.kind, o.status, o.currency, o.created_by, o.created_at, o.submitted_at,
	o.decided_by, o.decided_at, o.paid_amount, o.paid_at, o.payment_ref, o.reject_reason, o.voided_by, o.voided_at`

func scanOrder(row pgx.Row) (keel.Order, error) {
	var o keel.Order
	var createdBy, decidedBy, voidedBy, paidAmount *int64
	var paidAt *time.Time
	var ref *string
	if err := row.Scan(&o.ID, &o.CustomerID, &o.Kind, &o.Status, &o.Currency, &createdBy, &o.CreatedAt, &o.SubmittedAt,
		&decidedBy, &o.DecidedAt, &paidAmount, &paidAt, &ref, &o.RejectReason, &voidedBy, &o.VoidedAt); err != nil {
		return keel.Order{}, err
	}
	if createdBy != nil {
		o.CreatedBy = *createdBy
	}
	o.CreatedAt = o.CreatedAt.UTC()
	o.SubmittedAt, o.DecidedAt, o.VoidedAt = utc(o.SubmittedAt), utc(o.DecidedAt), utc(o.VoidedAt)
	// NULL is keel.System (id 0) where someone must have acted: a decision
	// on anything but a trial (trials approve themselves), and a void.
	switch {
	case decidedBy != nil:
		o.DecidedBy = decidedBy
	case o.DecidedAt != nil && o.Kind != keel.OrderTrial:
		o.DecidedBy = new(int64)
	}
	switch {
	case voidedBy != nil:
		o.VoidedBy = voidedBy
	case o.VoidedAt != nil:
		o.VoidedBy = new(int64)
	}
	if paidAmount != nil {
		o.Payment = &keel.Payment{Amount: *paidAmount, PaidAt: paidAt.UTC(), Reference: *ref}
	}
	return o, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// loadOrders reads the orders that match where (over orders o), newest
// first, each with its lines.
func loadOrders(ctx context.Context, q querier, where string, args ...any) ([]keel.Order, error) {
	return queryOrders(ctx, q, `SELECT `+orderColumns+` FROM orders o WHERE `+where+` ORDER BY o.id DESC`, args...)
}

// queryOrders runs sql, which selects orderColumns, and reads the orders
// with their lines.
func queryOrders(ctx context.Context, q querier, sql string, args ...any) ([]keel.Order, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	defer rows.Close()
	var orders []keel.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("read orders: %w", err)
		}
		orders = append(orders, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	rows.Close()
	if err := loadLines(ctx, q, orders); err != nil {
		return nil, err
	}
	return orders, nil
}

// loadLines fills in the lines of orders, in their order on the order.
func loadLines(ctx context.Context, q querier, orders []keel.Order) error {
	if len(orders) == 0 {
		return nil
	}
	ids := make([]int64, len(orders))
	at := map[int64]int{}
	for i, o := range orders {
		ids[i], at[o.ID] = o.ID, i
	}
	rows, err := q.Query(ctx,
		`SELECT l.order_id, l.id, l.product_id, p.kind, coalesce(l.price_version_id, 0), l.unit_amount, l.period, l.quantity,
		        l.months, l.start_on
		 FROM order_lines l JOIN products p ON p.id = l.product_id
		 WHERE l.order_id = ANY($1) ORDER BY l.order_id, l.position`, ids)
	if err != nil {
		return fmt.Errorf("read order lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var orderID int64
		var l keel.OrderLine
		if err := rows.Scan(&orderID, &l.ID, &l.ProductID, &l.ProductKind, &l.PriceVersionID, &l.UnitAmount, &l.Period,
			&l.Quantity, &l.Months, &l.Start); err != nil {
			return fmt.Errorf("read order lines: %w", err)
		}
		if l.Start != nil {
			d := keel.Date(*l.Start)
			l.Start = &d
		}
		i := at[orderID]
		orders[i].Lines = append(orders[i].Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read order lines: %w", err)
	}
	return nil
}

// lockOrder reads order id with its lines, and locks the order row and then
// its customer's row for the rest of the change. Every order transition
// takes both, in that order: the order lock makes parallel transitions of
// one order queue, so each sees the last one's outcome; the customer lock
// makes changes to one customer's subscriptions queue, so grants are always
// computed against the subscriptions as they are.
func lockOrder(ctx context.Context, tx pgx.Tx, id int64) (keel.Order, keel.Customer, error) {
	o, err := scanOrder(tx.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders o WHERE o.id = $1 FOR NO KEY UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Order{}, keel.Customer{}, keel.OrderNotFound(id)
	}
	if err != nil {
		return keel.Order{}, keel.Customer{}, fmt.Errorf("read order %d: %w", id, err)
	}
	orders := []keel.Order{o}
	if err := loadLines(ctx, tx, orders); err != nil {
		return keel.Order{}, keel.Customer{}, err
	}
	cu, err := readCustomer(ctx, tx, o.CustomerID, "FOR NO KEY UPDATE")
	if err != nil {
		return keel.Order{}, keel.Customer{}, err
	}
	return orders[0], cu, nil
}

// orderRecord is an order as the audit log keeps it: with the grants it
// made, when it made some.
type orderRecord struct {
	keel.Order
	Grants []keel.Grant `json:",omitempty"`
}

// factOfOrder is the data of the order's order.approved or order.voided
// fact.
func factOfOrder(o keel.Order) keel.OrderFact {
	f := keel.OrderFact{ID: o.ID, CustomerID: o.CustomerID, Kind: o.Kind, Status: o.Status, Currency: o.Currency, Total: o.Total(),
		DecidedAt: o.DecidedAt, VoidedAt: o.VoidedAt, Lines: []keel.OrderLineFact{}}
	if o.Payment != nil {
		f.Payment = &keel.PaymentFact{Amount: o.Payment.Amount, PaidAt: o.Payment.PaidAt, Reference: o.Payment.Reference}
	}
	for _, l := range o.Lines {
		lf := keel.OrderLineFact{ID: l.ID, ProductID: l.ProductID, ProductKind: l.ProductKind, PriceVersionID: l.PriceVersionID,
			UnitAmount: l.UnitAmount, Period: l.Period, Quantity: l.Quantity, Months: l.Months, Total: l.Total(),
			MonthlyAmount: l.MonthlyAmount()}
		if l.Start != nil {
			lf.Start = day(*l.Start)
		}
		f.Lines = append(f.Lines, lf)
	}
	return f
}

func lineProducts(lines []keel.OrderLine) []int64 {
	ids := make([]int64, len(lines))
	for i, l := range lines {
		ids[i] = l.ProductID
	}
	return ids
}

// CreateOrder makes a draft order for customer customerID with keel.NewOrder,
// the customer's row locked so two trials cannot pass the trial limit side
// by side. It returns EINVALID naming customer_id for an unknown customer,
// and the domain's refusals unchanged.
func (db *DB) CreateOrder(ctx context.Context, by keel.Employee, customerID int64, kind keel.OrderKind, lines []keel.LineRequest) (keel.Order, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.Order{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActOrderCreate); err != nil {
		return keel.Order{}, err
	}
	// No customer id is the domain's to refuse (keel.NewOrder); an id of
	// no customer is bad input, not a missing page.
	var cu keel.Customer
	if customerID > 0 {
		cu, err = readCustomer(ctx, c.tx, customerID, "FOR NO KEY UPDATE")
		if keel.ErrorCode(err) == keel.ENOTFOUND {
			return keel.Order{}, keel.Invalid("customer_id", "there is no customer %d", customerID)
		}
		if err != nil {
			return keel.Order{}, err
		}
	}
	ids := make([]int64, len(lines))
	for i, l := range lines {
		ids[i] = l.ProductID
	}
	cat, err := loadCatalogue(ctx, c.tx, ids)
	if err != nil {
		return keel.Order{}, err
	}
	req := keel.OrderRequest{Customer: cu, Kind: kind, Lines: lines, Catalogue: cat, Settings: keel.DefaultOrderSettings}
	if kind == keel.OrderTrial {
		// Only the trial rule looks at the customer's other orders.
		if req.Orders, err = loadOrders(ctx, c.tx, "o.customer_id = $1 AND o.kind = 'trial'", customerID); err != nil {
			return keel.Order{}, err
		}
	}
	o, err := keel.NewOrder(c.by, req, c.moment())
	if err != nil {
		return keel.Order{}, err
	}
	o.CreatedAt = o.CreatedAt.Truncate(time.Microsecond)
	err = c.tx.QueryRow(ctx,
		`INSERT INTO orders (customer_id, kind, status, currency, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		o.CustomerID, o.Kind, o.Status, o.Currency, nullID(o.CreatedBy), o.CreatedAt).Scan(&o.ID)
	if err != nil {
		return keel.Order{}, fmt.Errorf("create order: %w", err)
	}
	if err := insertLines(ctx, c.tx, &o); err != nil {
		return keel.Order{}, err
	}
	if err := c.audit(ctx, "order.create", "order", o.ID, nil, orderRecord{Order: o}); err != nil {
		return keel.Order{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Order{}, fmt.Errorf("create order: %w", err)
	}
	return o, nil
}

// insertLines writes o's lines, in their order, and sets their ids.
func insertLines(ctx context.Context, tx pgx.Tx, o *keel.Order) error {
	for i := range o.Lines {
		l := &o.Lines[i]
		var version *int64
		if l.PriceVersionID != 0 {
			version = &l.PriceVersionID
		}
		err := tx.QueryRow(ctx,
			`INSERT INTO order_lines (order_id, position, product_id, price_version_id, unit_amount, period, quantity, months, start_on)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			o.ID, i, l.ProductID, version, l.UnitAmount, l.Period, l.Quantity, l.Months, l.Start).Scan(&l.ID)
		if err != nil {
			return fmt.Errorf("write order %d line %d: %w", o.ID, i, err)
		}
	}
	return nil
}

// orderFacts writes the order's fact (order.approved or order.voided) and
// a subscription.changed fact for each subscription in subs.
func (c *change) orderFacts(ctx context.Context, kind keel.FactKind, o keel.Order, cu keel.Customer, subs []int64) error {
	if err := c.fact(ctx, kind, cu.ID, cu.TenantID, factOfOrder(o)); err != nil {
		return err
	}
	return c.subscriptionsChanged(ctx, cu, subs)
}

// Order returns order id with its lines, or ENOTFOUND.
func (db *DB) Order(ctx context.Context, id int64) (keel.Order, error) {
	orders, err := loadOrders(ctx, db.pool, "o.id = $1", id)
	if err != nil {
		return keel.Order{}, err
	}
	if len(orders) == 0 {
		return keel.Order{}, keel.OrderNotFound(id)
	}
	return orders[0], nil
}

// Orders lists orders newest first with their lines, and the number that
// match the filter. It returns EINVALID for a bad page, status or kind.
func (db *DB) Orders(ctx context.Context, f keel.OrderFilter) ([]keel.Order, int, error) {
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	var c conds
	if f.CustomerID != 0 {
		c.add("o.customer_id = ?", f.CustomerID)
	}
	if f.Status != "" {
		if err := keel.OneOf("status", f.Status, keel.OrderStatuses); err != nil {
			return nil, 0, err
		}
		c.add("o.status = ?", string(f.Status))
	}
	if f.Kind != "" {
		if err := keel.OneOf("kind", f.Kind, keel.OrderKinds); err != nil {
			return nil, 0, err
		}
		c.add("o.kind = ?", string(f.Kind))
	}
	if f.CreatedBy != 0 {
		c.add("o.created_by = ?", f.CreatedBy)
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, 0, fmt.Errorf("list orders: %w", err)
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM orders o`+c.sql(), c.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count orders: %w", err)
	}
	order := ` ORDER BY o.id DESC`
	if f.OldestFirst {
		order = ` ORDER BY o.submitted_at NULLS LAST, o.id`
	}
	sql := `SELECT ` + orderColumns + ` FROM orders o` + c.sql() + order + c.page(p)
	orders, err := queryOrders(ctx, tx, sql, c.args...)
	if err != nil {
		return nil, 0, err
	}
	if orders == nil {
		orders = []keel.Order{}
	}
	return orders, total, nil
}

// OrderGrants returns what order id granted, void grants too, oldest
// first; ENOTFOUND for an unknown order.
func (db *DB) OrderGrants(ctx context.Context, orderID int64) ([]keel.Grant, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1)`, orderID).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read order %d: %w", orderID, err)
	}
	if !exists {
		return nil, keel.OrderNotFound(orderID)
	}
	return loadGrants(ctx, db.pool, "g.order_id = $1", orderID)
}
