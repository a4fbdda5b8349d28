package keel

import (
	"fmt"
	"strings"
	"time"
)

// OrderKind says what an order does for the customer.
type OrderKind string

// The order kinds.
const (
	OrderTrial   OrderKind = "trial"   // 0-priced, time-limited, approves itself
	OrderNew     OrderKind = "new"     // a first purchase of a product
	OrderRenewal OrderKind = "renewal" // extends a product's service
	OrderUpgrade OrderKind = "upgrade" // switches to another edition
	OrderAddon   OrderKind = "addon"   // adds an add-on or quota
)

// OrderKinds lists the order kinds, in the order they are shown.
var OrderKinds = []OrderKind{OrderTrial, OrderNew, OrderRenewal, OrderUpgrade, OrderAddon}

// OrderStatus is where an order is in its life.
type OrderStatus string

// The order statuses: draft → pending_approval → approved / rejected;
// approved → void.
const (
	OrderDraft    OrderStatus = "draft"
	OrderPending  OrderStatus = "pending_approval"
	OrderApproved OrderStatus = "approved"
	OrderRejected OrderStatus = "rejected"
	OrderVoid     OrderStatus = "void"
)

// OrderStatuses lists the order statuses, in the order of an order's life.
var OrderStatuses = []OrderStatus{OrderDraft, OrderPending, OrderApproved, OrderRejected, OrderVoid}

// OrderNotFound is the ENOTFOUND refusal of order id.
func OrderNotFound(id any) *Error { return Errorf(ENOTFOUND, "order %v not found", id) }

// Payment is finance's confirmation that an order was paid.
type Payment struct {
	Amount    int64 // minor units, in the order's currency
	PaidAt    time.Time
	Reference string // bank reference, invoice number …
}

// OrderLine is one product on an order, at the price version it was sold at.
type OrderLine struct {
	ID             int64
	ProductID      int64
	ProductKind    ProductKind
	PriceVersionID int64 // 0 on trial lines: trials are free
	UnitAmount     int64 // minor units per unit per period, from the price version
	Period         Period
	Quantity       int64
	Months         int
	Start          *time.Time // service start for back-dated history; nil = the approval day
}

// Total is the line's price: unit amount × quantity for every month (or
// year) of the term, once for one-off prices.
func (l OrderLine) Total() int64 {
	switch l.Period {
	case PeriodMonth:
		return l.UnitAmount * l.Quantity * int64(l.Months)
	case PeriodYear:
		return l.UnitAmount * l.Quantity * int64(l.Months) / 12
	default:
		return l.UnitAmount * l.Quantity
	}
}

// overLimit reports whether the line's total is over MaxAmount. It divides
// instead of multiplying: amount × quantity × months can overflow int64
// (and wrap to a negative total) long before a sum of lines could.
func (l OrderLine) overLimit() bool {
	units := l.UnitAmount * l.Quantity // ≤ MaxAmount × 1,000,000: fits
	switch l.Period {
	case PeriodMonth:
		return units > MaxAmount/int64(max(l.Months, 1))
	case PeriodYear:
		return units > MaxAmount/int64(max(l.Months/12, 1))
	default:
		return units > MaxAmount
	}
}

// MRR is the line's recurring revenue per month, exact: its total ÷ its
// months (a 12-month line priced 100.00 a year is 10000/12 cents a month).
// It is 0 for one-off prices and trials (METRICS.md: they are not MRR).
func (l OrderLine) MRR() Exact {
	if l.Period == PeriodOnce || l.Months <= 0 {
		return Exact{}
	}
	return ExactRatio(l.Total(), int64(l.Months))
}

// MonthlyAmount is MRR rounded half up to minor units, for display.
func (l OrderLine) MonthlyAmount() int64 { return l.MRR().Round() }

// Order is a request to sell products to a customer. Finance's approval is
// what grants service.
type Order struct {
	ID           int64
	CustomerID   int64
	Kind         OrderKind
	Status       OrderStatus
	Currency     string
	Lines        []OrderLine
	CreatedBy    int64
	CreatedAt    time.Time
	SubmittedAt  *time.Time
	DecidedBy    *int64 // who approved or rejected
	DecidedAt    *time.Time
	Payment      *Payment
	RejectReason string
	VoidedBy     *int64
	VoidedAt     *time.Time
}

// Total is the sum of the lines.
func (o Order) Total() int64 {
	var t int64
	for _, l := range o.Lines {
		t += l.Total()
	}
	return t
}

// OrderSettings are the business's knobs for orders.
type OrderSettings struct {
	TrialMaxDays     int // a trial lasts at most this long; default 31, so a one-month trial fits every month
	TrialsPerEdition int // trial orders a customer may have per edition; default 1
}

// DefaultOrderSettings are the defaults.
var DefaultOrderSettings = OrderSettings{TrialMaxDays: 31, TrialsPerEdition: 1}

// LineRequest is one line as asked for by sales.
type LineRequest struct {
	ProductID int64
	Quantity  int64
	Months    int
	Start     *time.Time
}

// CatalogueEntry is a product with its price versions.
type CatalogueEntry struct {
	Product  Product
	Versions []PriceVersion
}

// OrderRequest is everything NewOrder needs.
type OrderRequest struct {
	Customer  Customer
	Kind      OrderKind
	Lines     []LineRequest
	Catalogue map[int64]CatalogueEntry // the products of the lines
	Orders    []Order                  // the customer's existing orders, for the trial rule
	Settings  OrderSettings
}

// MaxLines bounds the lines of one order.
const MaxLines = 50

// NewOrder checks a request and returns the draft order it makes. The
// lines take the price version in effect on their service start (or
// today, the reporting day of now). Errors about a line name it as
// lines[i], i counting the request's lines from 0.
func NewOrder(by Employee, req OrderRequest, now Moment) (Order, error) {
	if err := by.Can(ActOrderCreate); err != nil {
		return Order{}, err
	}
	if req.Customer.ID == 0 {
		return Order{}, Invalid("customer_id", "required (choose a customer)")
	}
	if err := OneOf("kind", req.Kind, OrderKinds); err != nil {
		return Order{}, err
	}
	if len(req.Lines) == 0 {
		return Order{}, Invalid("lines", "an order needs at least one line")
	}
	if len(req.Lines) > MaxLines {
		return Order{}, Invalid("lines", "at most %d lines", MaxLines)
	}
	s := req.Settings.withDefaults()
	o := Order{CustomerID: req.Customer.ID, Kind: req.Kind, Status: OrderDraft, CreatedBy: by.ID, CreatedAt: now.At.UTC()}
	today := now.Today()
	editions := 0
	for i, lr := range req.Lines {
		field := fmt.Sprintf("lines[%d]", i)
		if lr.ProductID < 1 {
			return Order{}, Invalid(field+".product_id", "required (choose a product)")
		}
		entry, ok := req.Catalogue[lr.ProductID]
		if !ok {
			return Order{}, Invalid(field+".product_id", "there is no product %d", lr.ProductID)
		}
		p := entry.Product
		if p.Status != ProductEnabled {
			return Order{}, Invalid(field+".product_id", "%s is disabled and cannot be ordered", p.Code)
		}
		if lr.Quantity < 1 || lr.Quantity > 1_000_000 {
			return Order{}, Invalid(field+".quantity", "must be 1 to %d", 1_000_000)
		}
		if lr.Months < 1 || lr.Months > 120 {
			return Order{}, Invalid(field+".months", "must be 1 to %d", 120)
		}
		start := today
		if lr.Start != nil {
			start = Date(*lr.Start)
			if start.Year() < 2000 || start.After(today.AddDate(1, 0, 0)) {
				return Order{}, Invalid(field+".start", "%s is out of range (2000 to a year from today)", start.Format(time.DateOnly))
			}
			lr.Start = &start
		}
		line := OrderLine{ProductID: p.ID, ProductKind: p.Kind, Quantity: lr.Quantity, Months: lr.Months, Start: lr.Start}
		if err := kindAllows(req.Kind, p, field); err != nil {
			return Order{}, err
		}
		if p.Kind == KindEdition {
			editions++
		}
		if req.Kind == OrderTrial {
			if days := AddMonths(start, lr.Months).Sub(start).Hours() / 24; int(days) > s.TrialMaxDays {
				return Order{}, Invalid(field+".months", "a trial lasts at most %d days", s.TrialMaxDays)
			}
			line.Period = PeriodMonth // free: UnitAmount stays 0
		} else {
			v, err := PriceAt(p, entry.Versions, start)
			if err != nil {
				return Order{}, Invalid(field+".product_id", "%s has no price on %s", p.Code, start.Format(time.DateOnly))
			}
			if v.Period == PeriodYear && lr.Months%12 != 0 {
				return Order{}, Invalid(field+".months", "%s is priced per year, so months must be a multiple of 12", p.Code)
			}
			if o.Currency != "" && v.Currency != o.Currency {
				return Order{}, Invalid(field+".product_id", "%s is priced in %s but the order is in %s; one order has one currency", p.Code, v.Currency, o.Currency)
			}
			o.Currency = v.Currency
			line.PriceVersionID, line.UnitAmount, line.Period = v.ID, v.Amount, v.Period
			if line.overLimit() {
				return Order{}, Invalid(field, "the line total is over the limit of %s %s", FormatAmount(MaxAmount, v.Currency), v.Currency)
			}
		}
		o.Lines = append(o.Lines, line)
	}
	if editions > 1 {
		return Order{}, Invalid("lines", "at most one edition per order")
	}
	if o.Currency == "" {
		o.Currency = "USD" // trials cost nothing in any currency
	}
	if o.Total() > MaxAmount {
		return Order{}, Invalid("lines", "the order total is over the limit")
	}
	if req.Kind == OrderTrial {
		if err := trialAllowed(o, req.Orders, req.Catalogue, s, true, "lines"); err != nil {
			return Order{}, err
		}
	}
	return o, nil
}

func (s OrderSettings) withDefaults() OrderSettings {
	if s.TrialMaxDays <= 0 {
		s.TrialMaxDays = DefaultOrderSettings.TrialMaxDays
	}
	if s.TrialsPerEdition <= 0 {
		s.TrialsPerEdition = DefaultOrderSettings.TrialsPerEdition
	}
	return s
}

func kindAllows(k OrderKind, p Product, field string) error {
	switch {
	case k == OrderTrial && p.Kind != KindEdition:
		return Invalid(field+".product_id", "a trial order is for an edition, and %s is a %s", p.Code, p.Kind)
	case k == OrderUpgrade && p.Kind != KindEdition:
		return Invalid(field+".product_id", "an upgrade order is for an edition, and %s is a %s", p.Code, p.Kind)
	case k == OrderAddon && p.Kind == KindEdition:
		return Invalid(field+".product_id", "%s is an edition; an addon order is for add-ons", p.Code)
	}
	return nil
}

// trialAllowed enforces "at most TrialsPerEdition trials per customer per
// edition", counting the customer's trials that are not rejected or void.
// Drafts count when a trial is created, not when one is submitted: two
// drafts made side by side would otherwise refuse each other for ever
// (a draft can be neither submitted nor withdrawn then); the first one
// submitted wins.
func trialAllowed(o Order, orders []Order, cat map[int64]CatalogueEntry, s OrderSettings, countDrafts bool, field string) error {
	for _, l := range o.Lines {
		n := 0
		for _, other := range orders {
			if other.Kind != OrderTrial || other.ID == o.ID || other.Status == OrderRejected || other.Status == OrderVoid {
				continue
			}
			if other.Status == OrderDraft && !countDrafts {
				continue
			}
			for _, ol := range other.Lines {
				if ol.ProductID == l.ProductID {
					n++
					break
				}
			}
		}
		if n >= s.TrialsPerEdition {
			return FieldErrorf(ECONFLICT, field, "the customer already had %d trial(s) of %s; the limit is %d", n, cat[l.ProductID].Product.Code, s.TrialsPerEdition)
		}
	}
	return nil
}

// CustomerState is what the rules need to know of a customer's past: its
// orders and its subscriptions.
type CustomerState struct {
	Orders        []Order
	Subscriptions []Subscription
	Catalogue     map[int64]CatalogueEntry // at least the products of the order's lines
	Settings      OrderSettings
}

// Submit sends a draft for approval. Only the employee who created it may
// submit it. A trial order approves itself: Submit then returns its grants,
// computed against the customer's subscriptions, after checking the trial
// limit again (two drafts may have been created side by side).
func (o *Order) Submit(by Employee, cs CustomerState, now Moment) ([]Grant, error) {
	if err := by.Can(ActOrderCreate); err != nil {
		return nil, err
	}
	if by.ID != o.CreatedBy {
		return nil, Errorf(EFORBIDDEN, "only the employee who created order %d may submit it", o.ID)
	}
	if o.Status != OrderDraft {
		return nil, Errorf(ECONFLICT, "order %d is %s; only a draft can be submitted", o.ID, o.Status)
	}
	t := now.At.UTC()
	if o.Kind != OrderTrial {
		o.Status, o.SubmittedAt = OrderPending, &t
		return nil, nil
	}
	if err := trialAllowed(*o, cs.Orders, cs.Catalogue, cs.Settings.withDefaults(), false, "lines"); err != nil {
		return nil, err
	}
	grants, err := o.grants(cs.Subscriptions, now, now.Today())
	if err != nil {
		return nil, err
	}
	o.Status, o.SubmittedAt, o.DecidedAt = OrderApproved, &t, &t
	return grants, nil
}

// Approve records finance's approval with the payment and returns the
// grants it makes. Approving an approved order again with the same payment
// is a harmless repeat (a retried request): it returns repeat = true and no
// grants, and the caller changes nothing. Any other second approval is a
// conflict. The payment must be made by today, the reporting day of now.
func (o *Order) Approve(by Employee, p Payment, subs []Subscription, now Moment) (grants []Grant, repeat bool, err error) {
	if err := by.Can(ActOrderDecide); err != nil {
		return nil, false, err
	}
	p.PaidAt = p.PaidAt.UTC()
	if o.Status == OrderApproved && o.Payment != nil && o.Payment.same(p) {
		return nil, true, nil
	}
	if o.Status != OrderPending {
		return nil, false, Errorf(ECONFLICT, "order %d is %s; only an order pending approval can be approved", o.ID, o.Status)
	}
	if err := p.validate(o, now); err != nil {
		return nil, false, err
	}
	grants, err = o.grants(subs, now, now.Calendar.Day(p.PaidAt))
	if err != nil {
		return nil, false, err
	}
	t, id := now.At.UTC(), by.ID
	o.Status, o.Payment, o.DecidedBy, o.DecidedAt = OrderApproved, &p, &id, &t
	return grants, false, nil
}

// same reports whether q records the same payment as p. Times compare as
// instants: == on time.Time also compares locations, and an order read back
// from storage rarely carries the *time.Location it was approved with.
func (p Payment) same(q Payment) bool {
	return p.Amount == q.Amount && p.PaidAt.Equal(q.PaidAt) && p.Reference == q.Reference
}

// validate checks a payment of o on the calendar of now: it was made
// between 2000 and today, a payment's day being the reporting day its
// instant falls on.
func (p Payment) validate(o *Order, now Moment) error {
	if err := ValidText("payment_ref", p.Reference); err != nil {
		return err
	}
	switch day := now.Calendar.Day(p.PaidAt); {
	case p.Amount < 0:
		return Invalid("paid_amount", "must not be negative")
	case p.Amount > o.Total():
		return Invalid("paid_amount", "%s %s is more than the order total %s %s",
			FormatAmount(p.Amount, o.Currency), o.Currency, FormatAmount(o.Total(), o.Currency), o.Currency)
	case p.PaidAt.IsZero():
		return Invalid("paid_at", "required")
	case day.Year() < 2000 || day.After(now.Today()):
		return Invalid("paid_at", "%s is out of range (2000 to today)", day.Format(time.DateOnly))
	case strings.TrimSpace(p.Reference) == "":
		return Invalid("payment_ref", "required (bank reference or invoice number)")
	case len(p.Reference) > 200:
		return Invalid("payment_ref", "at most %d characters", 200)
	}
	return nil
}

// Reject turns an order pending approval down, with a reason, which it
// needs: sales read it to fix the order.
func (o *Order) Reject(by Employee, reason string, now time.Time) error {
	if err := by.Can(ActOrderDecide); err != nil {
		return err
	}
	if o.Status != OrderPending {
		return Errorf(ECONFLICT, "order %d is %s; only an order pending approval can be rejected", o.ID, o.Status)
	}
	if err := ValidText("reason", reason); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return Invalid("reason", "required (say why, so sales can fix the order)")
	}
	if len(reason) > 2000 {
		return Invalid("reason", "at most %d characters", 2000)
	}
	t, id := now.UTC(), by.ID
	o.Status, o.RejectReason, o.DecidedBy, o.DecidedAt = OrderRejected, reason, &id, &t
	return nil
}

// Void takes an approved order back. The caller marks every grant of the
// order void, which takes back exactly what it granted.
func (o *Order) Void(by Employee, now time.Time) error {
	if err := by.Can(ActOrderDecide); err != nil {
		return err
	}
	if o.Status != OrderApproved {
		return Errorf(ECONFLICT, "order %d is %s; only an approved order can be voided", o.ID, o.Status)
	}
	t, id := now.UTC(), by.ID
	o.Status, o.VoidedBy, o.VoidedAt = OrderVoid, &id, &t
	return nil
}

// OrderFilter selects orders. Empty fields do not filter.
type OrderFilter struct {
	CustomerID int64
	Status     OrderStatus
	Kind       OrderKind
	CreatedBy  int64
	// OldestFirst lists by submission, oldest first (a queue), instead of
	// newest first; drafts, never submitted, come last.
	OldestFirst bool
	Page
}
