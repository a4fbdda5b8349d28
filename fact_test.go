package keel

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewFact(t *testing.T) {
	at := time.Date(2026, 11, 20, 8, 0, 0, 500, time.FixedZone("CET", 3600))
	tests := []struct {
		name     string
		kind     FactKind
		customer int64
		tenant   string
		at       time.Time
		data     any
		wantData string // the fact's data, or "" when an error is expected
		wantErr  string
	}{
		{"full", FactOrderApproved, 12, "t-1001", at, map[string]any{"order_id": 5, "paid": 12000}, `{"order_id":5,"paid":12000}`, ""},
		{"no data", FactCustomerCreated, 3, "", at, nil, `{}`, ""},
		{"struct data", FactOrderVoided, 3, "", at, struct {
			OrderID int64 `json:"order_id"`
		}{9}, `{"order_id":9}`, ""},
		{"no kind", "", 3, "", at, nil, "", "kind: required"},
		{"kind too long", FactKind(strings.Repeat("k", 65)), 3, "", at, nil, "", "kind: at most 64 bytes"},
		{"no customer", FactCustomerCreated, 0, "", at, nil, "", "customer_id: required"},
		{"negative customer", FactCustomerCreated, -1, "", at, nil, "", "customer_id: required"},
		{"link without tenant", FactTenantLinked, 3, "", at, nil, "", "tenant: required for tenant.linked"},
		{"company fact", FactSpendSet, 0, "", at, SpendFact{Month: "2026-10", Currency: "USD", Amount: 5}, `{"month":"2026-10","currency":"USD","amount":5}`, ""},
		{"company fact with a customer", FactSettingsChanged, 4, "", at, nil, "", "customer_id: must be 0 for settings.changed, a company fact"},
		{"data not an object", FactCustomerUpdated, 3, "", at, []int{1}, "", "data: must be a JSON object"},
		{"data null", FactCustomerUpdated, 3, "", at, (*CustomerFact)(nil), "", "data: must be a JSON object"},
		{"data not marshallable", FactCustomerUpdated, 3, "", at, map[string]any{"f": func() {}}, "", "data: json: unsupported type"},
		{"data too large", FactCustomerUpdated, 3, "", at, map[string]string{"x": strings.Repeat("a", 70000)}, "", "data: 70008 bytes, at most 65536"},
		{"no time", FactCustomerUpdated, 3, "", time.Time{}, nil, "", "at: 0001-01-01T00:00:00Z is outside 1970–2105"},
		{"time before 1970", FactCustomerUpdated, 3, "", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), nil, "", "at: 1969-12-31T00:00:00Z is outside 1970–2105"},
		{"time after 2105", FactCustomerUpdated, 3, "", time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC), nil, "", "at: 2106-01-01T00:00:00Z is outside 1970–2105"},
		{"last day of 2105", FactCustomerUpdated, 3, "", time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC), nil, `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFact(tt.kind, tt.customer, tt.tenant, tt.at, tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Fact{Kind: tt.kind, CustomerID: tt.customer, Tenant: tt.tenant, At: tt.at.UTC(), Data: json.RawMessage(tt.wantData)}
			if !reflect.DeepEqual(f, want) || f.At.Location() != time.UTC {
				t.Errorf("got %+v (data %s), want %+v (data %s)", f, f.Data, want, want.Data)
			}
		})
	}
}

func TestParseFact(t *testing.T) {
	at := "2026-11-20T08:00:00Z"
	day := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		value   string
		want    Fact
		wantErr string
	}{
		{"full", `{"id":7,"kind":"order.approved","customer_id":12,"tenant":"t-1","at":"2026-11-20T09:00:00.5+01:00","data":{"order_id": 5, "paid": 100}}`,
			Fact{ID: 7, Kind: FactOrderApproved, CustomerID: 12, Tenant: "t-1", At: day.Add(500 * time.Millisecond), Data: json.RawMessage(`{"order_id":5,"paid":100}`)}, ""},
		{"no data", `{"id":7,"kind":"customer.created","customer_id":12,"at":"` + at + `"}`,
			Fact{ID: 7, Kind: FactCustomerCreated, CustomerID: 12, At: day, Data: json.RawMessage("{}")}, ""},
		{"null data", `{"id":7,"kind":"customer.created","customer_id":12,"at":"` + at + `","data":null}`,
			Fact{ID: 7, Kind: FactCustomerCreated, CustomerID: 12, At: day, Data: json.RawMessage("{}")}, ""},
		{"a kind of a later version", `{"id":7,"kind":"invoice.sent","customer_id":12,"at":"` + at + `"}`,
			Fact{ID: 7, Kind: "invoice.sent", CustomerID: 12, At: day, Data: json.RawMessage("{}")}, ""},
		{"not JSON", `{"id":7`, Fact{}, "invalid JSON"},
		{"empty", ``, Fact{}, "invalid JSON"},
		{"trailing data", `{"id":7} {}`, Fact{}, "invalid JSON: data after the object"},
		{"no id", `{"kind":"k","customer_id":1,"at":"` + at + `"}`, Fact{}, "id: required"},
		{"zero id", `{"id":0,"kind":"k","customer_id":1,"at":"` + at + `"}`, Fact{}, "id: required"},
		{"negative id", `{"id":-1,"kind":"k","customer_id":1,"at":"` + at + `"}`, Fact{}, "id: required, a positive integer"},
		{"fractional id", `{"id":1.5,"kind":"k","customer_id":1,"at":"` + at + `"}`, Fact{}, "invalid JSON"},
		{"no kind", `{"id":1,"customer_id":1,"at":"` + at + `"}`, Fact{}, "kind: required"},
		{"kind too long", `{"id":1,"kind":"` + strings.Repeat("k", 65) + `","customer_id":1,"at":"` + at + `"}`, Fact{}, "kind: at most 64 bytes"},
		{"no customer", `{"id":1,"kind":"k","at":"` + at + `"}`, Fact{}, "customer_id: required"},
		{"negative customer", `{"id":1,"kind":"k","customer_id":-4,"at":"` + at + `"}`, Fact{}, "customer_id: required"},
		{"no time", `{"id":1,"kind":"k","customer_id":1}`, Fact{}, "at: required"},
		{"bad time", `{"id":1,"kind":"k","customer_id":1,"at":"yesterday"}`, Fact{}, `at: not an RFC 3339 time: "yesterday"`},
		{"time out of range", `{"id":1,"kind":"k","customer_id":1,"at":"1969-01-01T00:00:00Z"}`, Fact{}, "at: 1969-01-01T00:00:00Z is outside 1970–2105"},
		{"data not an object", `{"id":1,"kind":"k","customer_id":1,"at":"` + at + `","data":[1]}`, Fact{}, "data: must be a JSON object"},
		{"data a string", `{"id":1,"kind":"k","customer_id":1,"at":"` + at + `","data":"x"}`, Fact{}, "data: must be a JSON object"},
		{"data too large", `{"id":1,"kind":"k","customer_id":1,"at":"` + at + `","data":{"x":"` + strings.Repeat("a", 70000) + `"}}`, Fact{}, "data: 70008 bytes, at most 65536"},
		{"link without tenant", `{"id":1,"kind":"tenant.linked","customer_id":1,"at":"` + at + `"}`, Fact{}, "tenant: required for tenant.linked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFact([]byte(tt.value))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v (data %s), want %+v (data %s)", got, got.Data, tt.want, tt.want.Data)
			}
		})
	}
}

// TestFactRoundTrip: for every kind, with its payload type, what the relay
// side makes (NewFact, then Encode once the outbox gave the fact its id)
// the loader side parses back equal, payload and all.
func TestFactRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 20, 8, 0, 0, 123456789, time.UTC)
	paid := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	str := func(s string) *string { return &s }
	owner := int64(4)
	customer := CustomerFact{ID: 12, Name: "Acme <GmbH> & Co", TenantID: "t-1001", SalesOwner: &owner, Industry: "retail",
		Region: "EU", Website: "https://acme.example", CreatedAt: paid, UpdatedAt: at}
	order := OrderFact{ID: 5, CustomerID: 12, Kind: OrderRenewal, Status: OrderApproved, Currency: "EUR", Total: 120000,
		Payment: &PaymentFact{Amount: 120000, PaidAt: paid, Reference: "INV-7"}, DecidedAt: &at,
		Lines: []OrderLineFact{{ID: 9, ProductID: 2, ProductKind: KindEdition, PriceVersionID: 3, UnitAmount: 10000,
			Period: PeriodMonth, Quantity: 1, Months: 12, Start: str("2026-12-01"), Total: 120000, MonthlyAmount: 10000}}}
	voided := order
	voided.Status, voided.VoidedAt = OrderVoid, &at
	subscription := SubscriptionFact{ID: 8, CustomerID: 12, ProductID: 2, ProductCode: "pro", ProductKind: KindEdition,
		Status: SubActive, Start: str("2026-01-01"), End: str("2027-12-01"), Quantity: 1,
		Grants: []GrantFact{{ID: 30, OrderID: 5, LineID: 9, OrderKind: OrderRenewal, Kind: GrantTerm, Quantity: 1,
			Start: "2026-12-01", End: str("2027-12-01"), MonthlyAmount: 10000, Currency: "EUR"}}}
	tests := []struct {
		kind FactKind
		data any // a pointer to the kind's payload
	}{
		{FactCustomerCreated, &customer},
		{FactCustomerUpdated, &customer},
		{FactTenantLinked, &TenantFact{CustomerID: 12, TenantID: "t-1001", Previous: "t-0999", Name: "Acme"}},
		{FactOrderApproved, &order},
		{FactOrderVoided, &voided},
		{FactSubscriptionChanged, &subscription},
	}
	for i, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			f, err := NewFact(tt.kind, 12, "t-1001", at, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			f.ID = int64(1000 + i)
			msg, err := f.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseFact(msg)
			if err != nil {
				t.Fatalf("ParseFact(%s): %v", msg, err)
			}
			if !reflect.DeepEqual(got, f) {
				t.Errorf("parsed\n %+v (data %s)\nwant\n %+v (data %s)", got, got.Data, f, f.Data)
			}
			payload := reflect.New(reflect.TypeOf(tt.data).Elem())
			if err := json.Unmarshal(got.Data, payload.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(payload.Interface(), tt.data) {
				t.Errorf("payload decoded as %+v, want %+v", payload.Elem(), reflect.ValueOf(tt.data).Elem())
			}
		})
	}
}

// TestFactMessage holds the message to the contract's field names, and
// Encode to writing {} for a fact without data and the data as it is.
func TestFactMessage(t *testing.T) {
	f := Fact{ID: 7, Kind: FactTenantLinked, CustomerID: 12, Tenant: "t-1", At: time.Date(2026, 11, 20, 9, 0, 0, 0, time.FixedZone("CET", 3600))}
	msg, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":7,"kind":"tenant.linked","customer_id":12,"tenant":"t-1","at":"2026-11-20T08:00:00Z","data":{}}`
	if string(msg) != want {
		t.Errorf("message\n got %s\nwant %s", msg, want)
	}
	// Data goes out as it came, made compact but not escaped for HTML.
	f.Data = json.RawMessage(`{"name": "A&B <GmbH>"}`)
	if msg, err = f.Encode(); err != nil || !strings.HasSuffix(string(msg), `"data":{"name":"A&B <GmbH>"}}`) {
		t.Errorf("message %s (%v), want its data compact and unescaped", msg, err)
	}
}

// TestFactPayloadNames pins the JSON names of every payload: facts stored
// in ClickHouse carry them, and the warehouse reads some of them in SQL.
func TestFactPayloadNames(t *testing.T) {
	tests := []struct {
		payload any
		want    string
	}{
		{CustomerFact{}, `{"id":0,"name":"","tenant_id":"","sales_owner":null,"csm_owner":null,"industry":"","region":"","website":"","created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`},
		{TenantFact{}, `{"customer_id":0,"tenant_id":"","previous_tenant_id":"","name":""}`},
		{OrderFact{}, `{"order_id":0,"customer_id":0,"kind":"","status":"","currency":"","total":0,"payment":null,"decided_at":null,"voided_at":null,"lines":null}`},
		{PaymentFact{}, `{"amount":0,"paid_at":"0001-01-01T00:00:00Z","reference":""}`},
		{OrderLineFact{}, `{"line_id":0,"product_id":0,"product_kind":"","price_version_id":0,"unit_amount":0,"period":"","quantity":0,"months":0,"start":null,"total":0,"monthly_amount":0}`},
		{SubscriptionFact{}, `{"subscription_id":0,"customer_id":0,"product_id":0,"product_code":"","product_kind":"","product_unit":"","status":"","start":null,"end":null,"quantity":0,"grants":null,"voided_grants":null}`},
		{GrantFact{}, `{"grant_id":0,"order_id":0,"line_id":0,"order_kind":"","kind":"","trial":false,"quantity":0,"start":"","end":null,"monthly_amount":0,"currency":"","amount":0,"months":0,"period":"","approved_on":null,"voided_at":null}`},
		{SettingsFact{}, `{"revenue":{"mrr_day":"","churn_timing":"","nrr_with_reactivation":false,"renewal_grace_days":0,"cac_months":0,"gross_margin_pct":0,"main_currency":""}}`},
		{SpendFact{}, `{"month":"","currency":"","amount":0}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.payload)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%T\n got %s\nwant %s", tt.payload, b, tt.want)
		}
	}
}

// TestSubscriptionFactRoundTrip: what the relay encodes of a subscription
// — live and voided grants, cuts, what revenue needs of each — the
// warehouse reads back as the same subscription.
func TestSubscriptionFactRoundTrip(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	voided := time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)
	sub := Subscription{ID: 9, CustomerID: 4, ProductID: 2, ProductKind: KindEdition, Grants: []Grant{
		{ID: 1, SubscriptionID: 9, ProductID: 2, OrderID: 10, LineID: 100, OrderKind: OrderNew, Kind: GrantTerm, Quantity: 5,
			Start: day("2026-01-31"), End: day("2027-01-31"), MonthlyAmount: 3333, Currency: "CNY", Amount: 40000, Months: 12, Period: PeriodYear, ApprovedOn: day("2026-01-30")},
		{ID: 2, SubscriptionID: 9, ProductID: 2, OrderID: 11, LineID: 101, OrderKind: OrderAddon, Kind: GrantTerm, Quantity: 2,
			Start: day("2026-02-01"), End: day("2027-01-31"), MonthlyAmount: 100, Currency: "CNY", Amount: 1200, Months: 12, Period: PeriodMonth,
			ApprovedOn: day("2026-02-01"), Void: true, VoidedAt: &voided},
		{ID: 3, SubscriptionID: 9, ProductID: 2, OrderID: 12, LineID: 102, OrderKind: OrderUpgrade, Kind: GrantCut, Start: day("2026-06-01"),
			Currency: "CNY", ApprovedOn: day("2026-05-20")},
	}}
	f := SubscriptionFactOf(sub, "pro", "seat", day("2026-03-01"))
	if len(f.Grants) != 2 || len(f.Voided) != 1 || f.ProductUnit != "seat" {
		t.Fatalf("fact = %+v, want two live grants, one voided, unit seat", f)
	}
	fact, err := NewFact(FactSubscriptionChanged, 4, "t-4", day("2026-03-01"), f)
	if err != nil {
		t.Fatal(err)
	}
	fact.ID = 77
	msg, err := fact.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseFact(msg)
	if err != nil {
		t.Fatal(err)
	}
	var data SubscriptionFact
	if err := json.Unmarshal(back.Data, &data); err != nil {
		t.Fatal(err)
	}
	got, err := data.Subscription()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sub) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, sub)
	}
	bad := f
	bad.Grants = append([]GrantFact(nil), f.Grants...)
	bad.Grants[0].Start = "31/01/2026"
	if _, err := bad.Subscription(); err == nil || !strings.Contains(err.Error(), "grants[0].start") {
		t.Errorf("a bad day: %v, want an error naming grants[0].start", err)
	}
}
