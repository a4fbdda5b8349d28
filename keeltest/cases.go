package keeltest

import (
	_ "embed"
	"encoding/json"
	"time"

	"github.com/keelhq/keel"
)

// revenueCasesJSON is ../shared/revenue-cases.json of the project's
// specification: twelve small books with the month table an independent
// calculator expects (METRICS.md, "Worked cases").
//
//go:embed revenue-cases.json
var revenueCasesJSON []byte

// RevenueCases are the worked books.
type RevenueCases struct {
	About    string `json:"about"`
	Products []struct {
		Code   string           `json:"code"`
		Kind   keel.ProductKind `json:"kind"`
		Unit   string           `json:"unit"`
		Prices []struct {
			Amount        int64       `json:"amount"`
			Period        keel.Period `json:"period"`
			EffectiveFrom string      `json:"effective_from"`
			Currency      string      `json:"currency"`
		} `json:"prices"`
	} `json:"products"`
	Cases []RevenueCase `json:"cases"`
}

// RevenueCase is one worked book.
type RevenueCase struct {
	Name      string `json:"name"`
	Note      string `json:"note"`
	Customers []struct {
		Key      string `json:"key"`
		Name     string `json:"name"`
		TenantID string `json:"tenant_id"`
	} `json:"customers"`
	Orders []struct {
		Customer string         `json:"customer"`
		Kind     keel.OrderKind `json:"kind"`
		Lines    []struct {
			Product  string `json:"product"`
			Quantity int64  `json:"quantity"`
			Months   int    `json:"months"`
			Start    string `json:"start"`
		} `json:"lines"`
		ApproveOn string `json:"approve_on"`
		Void      bool   `json:"void"`
	} `json:"orders"`
	From     string      `json:"from"`
	To       string      `json:"to"`
	Expected []MonthWant `json:"expected"`
}

// MonthWant is one month of an expected month table, as the API answers it.
type MonthWant struct {
	Month        string `json:"month"`
	MRR          int64  `json:"mrr"`
	New          int64  `json:"new"`
	Expansion    int64  `json:"expansion"`
	Contraction  int64  `json:"contraction"`
	Churn        int64  `json:"churn"`
	Reactivation int64  `json:"reactivation"`
	Customers    int64  `json:"customers"`
}

// LoadRevenueCases parses the worked books.
func LoadRevenueCases(t TB) RevenueCases {
	t.Helper()
	var rc RevenueCases
	if err := json.Unmarshal(revenueCasesJSON, &rc); err != nil {
		t.Fatal(err)
	}
	if len(rc.Cases) == 0 {
		t.Fatal("no revenue cases")
	}
	return rc
}

// Replay makes c's catalogue and orders in a new book, as the domain's
// rules would: orders approved on their approve_on day, those marked void
// voided an hour later.
func (rc RevenueCases) Replay(t TB, c RevenueCase) *Book {
	t.Helper()
	b := NewBook(t)
	for _, p := range rc.Products {
		var prices []keel.PriceVersion
		for _, v := range p.Prices {
			prices = append(prices, keel.PriceVersion{Amount: v.Amount, Currency: v.Currency, Period: v.Period, EffectiveFrom: Day(t, v.EffectiveFrom)})
		}
		b.Product(p.Code, p.Kind, prices...)
	}
	for _, o := range c.Orders {
		var lines []Line
		for _, l := range o.Lines {
			lines = append(lines, Line{l.Product, l.Quantity, l.Months, l.Start})
		}
		ord := b.Order(o.Customer, o.Kind, o.ApproveOn, lines...)
		if o.Void {
			b.Void(o.Customer, ord.ID, Day(t, o.ApproveOn).Add(10*time.Hour))
		}
	}
	return b
}

// Row is a month of totals as the API shows it: rounded once.
func Row(t keel.MonthTotal) MonthWant {
	return MonthWant{Month: t.Month.String(), MRR: t.MRR.Round(), New: t.New.Round(), Expansion: t.Expansion.Round(),
		Contraction: t.Contraction.Round(), Churn: t.Churn.Round(), Reactivation: t.Reactivation.Round(), Customers: t.Customers}
}
