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

// orderFact is the data of order.approved and order.voided facts.
type orderFact struct {
	ID         int64            `json:"order_id"`
	CustomerID int64            `json:"customer_id"`
	Kind       keel.OrderKind   `json:"kind"`
	Status     keel.OrderStatus `json:"status"`
	Currency   string           `json:"currency"`
	Total      int64            `json:"total"`
	Payment    *paymentFact     `json:"payment"` // null for trials
	DecidedAt  *time.Time       `json:"decided_at"`
	VoidedAt   *time.Time       `json:"voided_at"`
	Lines      []lineFact       `json:"lines"`
}

type paymentFact struct {
	Amount    int64     `json:"amount"`
	PaidAt    time.Time `json:"paid_at"`
	Reference string    `json:"reference"`
}

type lineFact struct {
	ID             int64            `json:"line_id"`
	ProductID      int64            `json:"product_id"`
	ProductKind    keel.ProductKind `json:"product_kind"`
	PriceVersionID int64            `json:"price_version_id"` // 0 on trial lines
	UnitAmount     int64            `json:"unit_amount"`
	Period         keel.Period      `json:"period"`
	Quantity       int64            `json:"quantity"`
	Months         int              `json:"months"`
	Start          *string          `json:"start"` // null = the approval day
	Total          int64            `json:"total"`
	MonthlyAmount  int64            `json:"monthly_amount"`
}

func factOfOrder(o keel.Order) orderFact {
	f := orderFact{ID: o.ID, CustomerID: o.CustomerID, Kind: o.Kind, Status: o.Status, Currency: o.Currency, Total: o.Total(),
		DecidedAt: o.DecidedAt, VoidedAt: o.VoidedAt, Lines: []lineFact{}}
	if o.Payment != nil {
		f.Payment = &paymentFact{Amount: o.Payment.Amount, PaidAt: o.Payment.PaidAt, Reference: o.Payment.Reference}
	}
	for _, l := range o.Lines {
		lf := lineFact{ID: l.ID, ProductID: l.ProductID, ProductKind: l.ProductKind, PriceVersionID: l.PriceVersionID,
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
	o, err := keel.NewOrder(c.by, req, c.now)
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
	for i := range o.Lines {
		l := &o.Lines[i]
		var version *int64
		if l.PriceVersionID != 0 {
			version = &l.PriceVersionID
		}
		err := c.tx.QueryRow(ctx,
			`INSERT INTO order_lines (order_id, position, product_id, price_version_id, unit_amount, period, quantity, months, start_on)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			o.ID, i, l.ProductID, version, l.UnitAmount, l.Period, l.Quantity, l.Months, l.Start).Scan(&l.ID)
		if err != nil {
			return keel.Order{}, fmt.Errorf("create order %d line %d: %w", o.ID, i, err)
		}
	}
	if err := c.audit(ctx, "order.create", "order", o.ID, nil, orderRecord{Order: o}); err != nil {
		return keel.Order{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Order{}, fmt.Errorf("create order: %w", err)
	}
	return o, nil
}

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

// orderFacts writes the order's fact (order.approved or order.voided) and
// a subscription.changed fact for each subscription in subs.
func (c *change) orderFacts(ctx context.Context, kind string, o keel.Order, cu keel.Customer, subs []int64) error {
	if err := c.fact(ctx, kind, cu.ID, cu.TenantID, factOfOrder(o)); err != nil {
		return err
	}
	return c.subscriptionsChanged(ctx, cu, subs)
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
	return c.orderFacts(ctx, FactOrderApproved, o, cu, subs)
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
		grants, err := o.Submit(c.by, cs, c.now)
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
		grants, repeat, err := o.Approve(c.by, p, subs, c.now)
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
		return c.orderFacts(ctx, FactOrderVoided, *o, cu, subs)
	})
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
