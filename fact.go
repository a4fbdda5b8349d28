package keel

// # Facts
//
// A fact is a change in Postgres that the warehouse must learn about: a
// customer created or updated, a tenant linked to a customer, an order
// approved or voided, a subscription changed. The change writes its fact to
// the outbox in the same transaction (postgres.AddFact), the relay publishes
// it to Kafka, and the facts loader stores it in ClickHouse
// (warehouse/facts_loader.go explains why it is counted exactly once).
//
// This file is the contract between those two sides, declared once so they
// cannot drift apart: the kinds, the message
//
//	{"id": 7, "kind": "order.approved", "customer_id": 12, "tenant": "t-1001",
//	 "at": "2026-11-23T08:00:00Z", "data": {…}}
//
// with its encoding (Fact.Encode, what the relay publishes) and its parsing
// and checks (ParseFact and Fact.Check, what the loader accepts), and the
// payload of each kind (OrderFact, SubscriptionFact, …). Facts already
// stored in ClickHouse carry these kind names and JSON field names: never
// rename one; add fields instead.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// FactsTopic is the Kafka topic facts go to unless an outbox row names
// another (the outbox.topic column's default).
const FactsTopic = "keel.facts"

// HeaderFactID is the Kafka header carrying the fact id, so a consumer can
// tell a re-sent fact without parsing the value.
const HeaderFactID = "keel-fact-id"

// MaxFactData bounds a fact's data (compact JSON), so every message stays
// far below Kafka's message size limit.
const MaxFactData = 64 << 10

// FactKind says what a fact reports, and so which payload its data holds.
type FactKind string

// The kinds of fact. ClickHouse stores these names; never rename one.
const (
	FactCustomerCreated     FactKind = "customer.created"     // data: CustomerFact
	FactCustomerUpdated     FactKind = "customer.updated"     // data: CustomerFact
	FactTenantLinked        FactKind = "tenant.linked"        // data: TenantFact; the fact's Tenant is required
	FactOrderApproved       FactKind = "order.approved"       // data: OrderFact
	FactOrderVoided         FactKind = "order.voided"         // data: OrderFact
	FactSubscriptionChanged FactKind = "subscription.changed" // data: SubscriptionFact

	// Company facts are about no one customer: their customer is 0.
	FactSettingsChanged FactKind = "settings.changed" // data: SettingsFact
	FactSpendSet        FactKind = "spend.set"        // data: SpendFact
)

// Company reports whether facts of kind k are about the company rather than
// one customer (their customer id is 0, and so their Kafka key).
func (k FactKind) Company() bool { return k == FactSettingsChanged || k == FactSpendSet }

// Fact is one fact: the message of the facts topic.
type Fact struct {
	ID         int64           // the outbox id, the fact's identity; 0 until the outbox gives it one
	Kind       FactKind        // what the fact reports
	CustomerID int64           // the customer the change is about; also the Kafka message key
	Tenant     string          // the customer's product tenant, if known; required for FactTenantLinked
	At         time.Time       // when the change happened, UTC
	Data       json.RawMessage // the kind's payload, a JSON object (compact from NewFact and ParseFact); empty means {}
}

// NewFact returns the fact of a change: kind, about customerID (and its
// product tenant, if known), made at at, with data marshalled to JSON (the
// kind's payload type; nil for none). Its ID is 0 until the outbox gives it
// one. It returns an error naming the field for a fact that Check refuses.
func NewFact(kind FactKind, customerID int64, tenant string, at time.Time, data any) (Fact, error) {
	f := Fact{Kind: kind, CustomerID: customerID, Tenant: tenant, At: at.UTC(), Data: json.RawMessage("{}")}
	if data != nil {
		b, err := marshal(data)
		if err != nil {
			return Fact{}, fmt.Errorf("data: %v", err)
		}
		f.Data = b
	}
	return f, f.Check()
}

// Check returns an error naming the field when f could not be stored: no
// kind or one over 64 bytes, no customer, a tenant.linked fact without a
// tenant, a time ClickHouse cannot store (outside the years 1970–2105),
// data that is not a JSON object or is over MaxFactData. The ID is not
// checked: a fact has none before the outbox gives it one.
func (f Fact) Check() error {
	switch {
	case f.Kind == "":
		return errors.New("kind: required")
	case len(f.Kind) > 64:
		return errors.New("kind: at most 64 bytes")
	case f.Kind.Company() && f.CustomerID != 0:
		return fmt.Errorf("customer_id: must be 0 for %s, a company fact", f.Kind)
	case !f.Kind.Company() && f.CustomerID <= 0:
		return errors.New("customer_id: required, a positive integer")
	case f.Kind == FactTenantLinked && f.Tenant == "":
		return fmt.Errorf("tenant: required for %s", FactTenantLinked)
	}
	if y := f.At.UTC().Year(); y < 1970 || y > 2105 {
		return fmt.Errorf("at: %s is outside 1970–2105", f.At.UTC().Format(time.RFC3339Nano))
	}
	switch {
	case len(f.Data) == 0:
	case f.Data[0] != '{' || !json.Valid(f.Data):
		return errors.New("data: must be a JSON object")
	case len(f.Data) > MaxFactData:
		return fmt.Errorf("data: %d bytes, at most %d", len(f.Data), MaxFactData)
	}
	return nil
}

// factMessage is a fact on the wire.
type factMessage struct {
	ID         int64           `json:"id"`
	Kind       FactKind        `json:"kind"`
	CustomerID int64           `json:"customer_id"`
	Tenant     string          `json:"tenant"`
	At         string          `json:"at"`
	Data       json.RawMessage `json:"data"`
}

// Encode returns the message the relay publishes for f, its data made
// compact. It does not check f (NewFact did, before the fact was stored):
// the loader checks every message it reads, and parks what it refuses.
func (f Fact) Encode() ([]byte, error) {
	data := f.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return marshal(factMessage{ID: f.ID, Kind: f.Kind, CustomerID: f.CustomerID, Tenant: f.Tenant,
		At: f.At.UTC().Format(time.RFC3339Nano), Data: data})
}

// marshal is json.Marshal without its escaping of <, > and & for HTML: a
// fact's data is stored in ClickHouse as it comes, and reads better as
// written.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParseFact decodes and checks a message of the facts topic, as the loader
// reads it. Its data comes back compact, {} when absent or null. Errors name
// the field.
func ParseFact(b []byte) (Fact, error) {
	var m factMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return Fact{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return Fact{}, errors.New("invalid JSON: data after the object")
	}
	switch {
	case m.ID <= 0:
		return Fact{}, errors.New("id: required, a positive integer")
	case m.At == "":
		return Fact{}, errors.New("at: required")
	}
	f := Fact{ID: m.ID, Kind: m.Kind, CustomerID: m.CustomerID, Tenant: m.Tenant}
	at, err := time.Parse(time.RFC3339Nano, m.At)
	if err != nil {
		return Fact{}, fmt.Errorf("at: not an RFC 3339 time: %q", clip(m.At, 64))
	}
	f.At = at.UTC()
	data := bytes.TrimSpace(m.Data)
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
		f.Data = json.RawMessage("{}")
	case data[0] != '{':
		return Fact{}, errors.New("data: must be a JSON object")
	default:
		var sb bytes.Buffer
		if err := json.Compact(&sb, data); err != nil {
			return Fact{}, fmt.Errorf("data: %v", err)
		}
		f.Data = sb.Bytes()
	}
	if err := f.Check(); err != nil {
		return Fact{}, err
	}
	return f, nil
}

// clip shortens s to at most n bytes for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// The payloads: what each kind's data holds. The relay encodes them and the
// warehouse decodes them with these same types; their JSON names are stored
// in ClickHouse and read there (visitParamExtract* on "order_id", "status"),
// so they never change.

// CustomerFact is the data of customer.created and customer.updated facts:
// the fields the warehouse reports by. Notes and contacts stay out: the
// warehouse has no use for them, and they would make a fact large.
type CustomerFact struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	TenantID   string    `json:"tenant_id"`
	SalesOwner *int64    `json:"sales_owner"`
	CSMOwner   *int64    `json:"csm_owner"`
	Industry   string    `json:"industry"`
	Region     string    `json:"region"`
	Website    string    `json:"website"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TenantFact is the data of a tenant.linked fact.
type TenantFact struct {
	CustomerID int64  `json:"customer_id"`
	TenantID   string `json:"tenant_id"`
	Previous   string `json:"previous_tenant_id"` // "" when the customer had none
	Name       string `json:"name"`
}

// OrderFact is the data of order.approved and order.voided facts: the
// order as the change left it.
type OrderFact struct {
	ID         int64           `json:"order_id"`
	CustomerID int64           `json:"customer_id"`
	Kind       OrderKind       `json:"kind"`
	Status     OrderStatus     `json:"status"`
	Currency   string          `json:"currency"`
	Total      int64           `json:"total"`
	Payment    *PaymentFact    `json:"payment"` // null for trials
	DecidedAt  *time.Time      `json:"decided_at"`
	VoidedAt   *time.Time      `json:"voided_at"`
	Lines      []OrderLineFact `json:"lines"`
}

// PaymentFact is the payment finance confirmed for an order.
type PaymentFact struct {
	Amount    int64     `json:"amount"`
	PaidAt    time.Time `json:"paid_at"`
	Reference string    `json:"reference"`
}

// OrderLineFact is one line of an OrderFact.
type OrderLineFact struct {
	ID             int64       `json:"line_id"`
	ProductID      int64       `json:"product_id"`
	ProductKind    ProductKind `json:"product_kind"`
	PriceVersionID int64       `json:"price_version_id"` // 0 on trial lines
	UnitAmount     int64       `json:"unit_amount"`
	Period         Period      `json:"period"`
	Quantity       int64       `json:"quantity"`
	Months         int         `json:"months"`
	Start          *string     `json:"start"` // YYYY-MM-DD; null = the approval day
	Total          int64       `json:"total"`
	MonthlyAmount  int64       `json:"monthly_amount"`
}

// SettingsFact is the data of a settings.changed fact: the company's
// settings as they were saved.
type SettingsFact struct {
	Revenue RevenueSettings `json:"revenue"`
}

// SpendFact is the data of a spend.set fact: a month's sales and marketing
// spend in one currency, as finance or admin entered it (the latest fact of
// a month and currency is its spend).
type SpendFact struct {
	Month    string `json:"month"` // YYYY-MM
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"` // minor units
}

// SubscriptionFact is the data of a subscription.changed fact: the
// subscription as the domain derives it at the change, with every grant —
// the live ones, and the voided ones apart — and what revenue needs of each
// (its line's amount and months, its price period, the day its order was
// approved, when it was voided), from which the warehouse computes MRR on
// any day without replaying history: the latest fact of a subscription is
// its state (METRICS.md "Revenue", warehouse/revenue.go).
type SubscriptionFact struct {
	ID          int64              `json:"subscription_id"`
	CustomerID  int64              `json:"customer_id"`
	ProductID   int64              `json:"product_id"`
	ProductCode string             `json:"product_code"`
	ProductKind ProductKind        `json:"product_kind"`
	ProductUnit string             `json:"product_unit"` // what quantity counts: "seat" …
	Status      SubscriptionStatus `json:"status"`
	Start       *string            `json:"start"` // YYYY-MM-DD; null when no live term
	End         *string            `json:"end"`   // exclusive
	Quantity    int64              `json:"quantity"`
	Grants      []GrantFact        `json:"grants"`
	Voided      []GrantFact        `json:"voided_grants"` // grants of voided orders
}

// GrantFact is one grant of a SubscriptionFact.
type GrantFact struct {
	ID            int64      `json:"grant_id"`
	OrderID       int64      `json:"order_id"`
	LineID        int64      `json:"line_id"`
	OrderKind     OrderKind  `json:"order_kind"`
	Kind          GrantKind  `json:"kind"`
	Trial         bool       `json:"trial"`
	Quantity      int64      `json:"quantity"`
	Start         string     `json:"start"` // YYYY-MM-DD
	End           *string    `json:"end"`   // exclusive; null for a cut
	MonthlyAmount int64      `json:"monthly_amount"`
	Currency      string     `json:"currency"`
	Amount        int64      `json:"amount"`      // the line's total, minor units
	Months        int        `json:"months"`      // the line's months
	Period        Period     `json:"period"`      // the line's price period
	ApprovedOn    *string    `json:"approved_on"` // YYYY-MM-DD, Grant.ApprovedOn
	VoidedAt      *time.Time `json:"voided_at"`   // when its order was voided (voided grants)
}

// SubscriptionFactOf is the data of s's subscription.changed fact, made at
// now; code and unit are its product's.
func SubscriptionFactOf(s Subscription, code, unit string, now time.Time) SubscriptionFact {
	f := SubscriptionFact{ID: s.ID, CustomerID: s.CustomerID, ProductID: s.ProductID, ProductCode: code, ProductKind: s.ProductKind,
		ProductUnit: unit, Status: s.Status(now), Start: dayOrNil(s.Start()), End: dayOrNil(s.End()), Quantity: s.QuantityAt(now),
		Grants: []GrantFact{}, Voided: []GrantFact{}}
	for _, g := range s.Grants {
		gf := GrantFact{ID: g.ID, OrderID: g.OrderID, LineID: g.LineID, OrderKind: g.OrderKind, Kind: g.Kind,
			Trial: g.Trial, Quantity: g.Quantity, Start: g.Start.Format(time.DateOnly), End: dayOrNil(g.End),
			MonthlyAmount: g.MonthlyAmount, Currency: g.Currency, Amount: g.Amount, Months: g.Months, Period: g.Period,
			ApprovedOn: dayOrNil(g.ApprovedOn), VoidedAt: g.VoidedAt}
		if g.Void {
			f.Voided = append(f.Voided, gf)
		} else {
			f.Grants = append(f.Grants, gf)
		}
	}
	return f
}

func dayOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(time.DateOnly)
	return &s
}

// Subscription is the subscription f describes, its grants — live and
// voided — in the order they were made, as the domain's rules read them.
// It returns an error naming the field for a date that is not YYYY-MM-DD.
func (f SubscriptionFact) Subscription() (Subscription, error) {
	s := Subscription{ID: f.ID, CustomerID: f.CustomerID, ProductID: f.ProductID, ProductKind: f.ProductKind}
	add := func(field string, gs []GrantFact, void bool) error {
		for i, g := range gs {
			kg := Grant{ID: g.ID, SubscriptionID: f.ID, ProductID: f.ProductID, OrderID: g.OrderID, LineID: g.LineID,
				OrderKind: g.OrderKind, Kind: g.Kind, Trial: g.Trial, Quantity: g.Quantity, MonthlyAmount: g.MonthlyAmount,
				Currency: g.Currency, Void: void, Amount: g.Amount, Months: g.Months, Period: g.Period, VoidedAt: g.VoidedAt}
			var err error
			if kg.Start, err = time.Parse(time.DateOnly, g.Start); err != nil {
				return fmt.Errorf("%s[%d].start: %q is not a day", field, i, g.Start)
			}
			if g.End != nil {
				if kg.End, err = time.Parse(time.DateOnly, *g.End); err != nil {
					return fmt.Errorf("%s[%d].end: %q is not a day", field, i, *g.End)
				}
			}
			if g.ApprovedOn != nil {
				if kg.ApprovedOn, err = time.Parse(time.DateOnly, *g.ApprovedOn); err != nil {
					return fmt.Errorf("%s[%d].approved_on: %q is not a day", field, i, *g.ApprovedOn)
				}
			}
			s.Grants = append(s.Grants, kg)
		}
		return nil
	}
	if err := add("grants", f.Grants, false); err != nil {
		return Subscription{}, err
	}
	if err := add("voided_grants", f.Voided, true); err != nil {
		return Subscription{}, err
	}
	sort.SliceStable(s.Grants, func(i, j int) bool { return s.Grants[i].ID < s.Grants[j].ID })
	return s, nil
}
