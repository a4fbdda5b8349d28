package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/keelhq/keel"
)

// TestApproveFormReadsMoneyUnambiguously: finance typed "60,00" for a
// 60.00 payment and the order was approved with 6,000.00. A decimal comma
// is refused, saying what to write; what is written the reader's way is
// read as typed, full-width digits too in Chinese; and the refusal of an
// over-large payment shows money in currency units.
func TestApproveFormReadsMoneyUnambiguously(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	finance := e.signIn("finance")
	pending := func() (int64, string) {
		t.Helper()
		// 10.00 USD a month for six months: 60.00.
		o := e.order(e.customer(), keel.OrderNew, e.product(keel.KindEdition, 1000, "USD"), 1, 6)
		e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", o), nil)
		return o, fmt.Sprintf("/orders/%d", o)
	}
	oid, path := pending()
	wantPage(t, "approve form", finance.get(path), 200, `name="paid_amount" value="60.00"`)
	for _, tt := range []struct{ typed, says string }{
		{"60,00", `paid_amount: &#34;60,00&#34; is ambiguous: here a point marks decimals and a comma separates thousands; for 60.00 USD, write 60.00`},
		{"6000", "paid_amount: 6,000.00 USD is more than the order total 60.00 USD"},
		{"1.234,56", "for 1,234.56 USD, write 1234.56"},
	} {
		r := finance.post(path+"/approve", url.Values{"paid_amount": {tt.typed}, "paid_at": {today()}, "payment_ref": {"INV-60"}})
		wantPage(t, "approve "+tt.typed, r, http.StatusBadRequest, tt.says, `id="approve-order"`, `value="`+tt.typed+`"`)
		if o, _ := e.db.Order(ctx, oid); o.Status != keel.OrderPending || o.Payment != nil {
			t.Fatalf("after %q: order %s with payment %+v, want still pending", tt.typed, o.Status, o.Payment)
		}
	}
	wantRedirect(t, "approve 60.00", finance.post(path+"/approve", url.Values{"paid_amount": {"60.00"}, "paid_at": {today()}, "payment_ref": {"INV-60"}}), path)
	if o, _ := e.db.Order(ctx, oid); o.Payment == nil || o.Payment.Amount != 6000 {
		t.Fatalf("approved with %+v, want 6000 cents", o.Payment)
	}

	// In Chinese, what a Chinese input method types is read as typed, and
	// the refusal is in Chinese with the amounts in currency units.
	zh, _ := e.employee("finance-zh", keel.RoleFinance)
	b := e.signInAs(zh)
	wantRedirect(t, "locale", b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}}), "/")
	oid, path = pending()
	b.get(path)
	r := b.post(path+"/approve", url.Values{"paid_amount": {"６０，００"}, "paid_at": {today()}, "payment_ref": {"INV-61"}})
	wantPage(t, "zh decimal comma", r, http.StatusBadRequest, "如果是 60.00 USD，请输入 60.00")
	r = b.post(path+"/approve", url.Values{"paid_amount": {"70"}, "paid_at": {today()}, "payment_ref": {"INV-61"}})
	wantPage(t, "zh over the total", r, http.StatusBadRequest, "70.00 USD 超过订单总额 60.00 USD")
	wantRedirect(t, "zh full-width", b.post(path+"/approve", url.Values{"paid_amount": {"６０．００"}, "paid_at": {today()}, "payment_ref": {"INV-61"}}), path)
	if o, _ := e.db.Order(ctx, oid); o.Payment == nil || o.Payment.Amount != 6000 {
		t.Fatalf("approved in Chinese with %+v, want 6000 cents", o.Payment)
	}
}

// TestPriceFormReadsMoneyUnambiguously: the admin's price form reads
// amounts by the same rule, for the currency typed beside them.
func TestPriceFormReadsMoneyUnambiguously(t *testing.T) {
	e := newAPI(t)
	admin := e.signIn("admin")
	paths := map[string]string{}
	for _, cur := range []string{"USD", "JPY"} {
		paths[cur] = fmt.Sprintf("/products/%d", e.product(keel.KindEdition, 1000, cur))
	}
	admin.get(paths["USD"])
	for _, tt := range []struct{ amount, currency, says string }{
		{"12,50", "USD", "for 12.50 USD, write 12.50"},
		{"1.500", "JPY", "for 1,500 JPY, write 1500"},
		{"15.5", "JPY", "is not an amount of JPY (whole units"},
	} {
		r := admin.post(paths[tt.currency]+"/prices", url.Values{"amount": {tt.amount}, "currency": {tt.currency}, "period": {"month"}, "effective_from": {"2026-02-01"}})
		wantPage(t, "price "+tt.amount, r, http.StatusBadRequest, "amount: ", tt.says)
	}
	path := paths["JPY"]
	wantRedirect(t, "price 1,500 JPY", admin.post(path+"/prices", url.Values{"amount": {"1,500"}, "currency": {"JPY"}, "period": {"month"}, "effective_from": {"2026-02-01"}}), path)
	var pid int64
	fmt.Sscanf(path, "/products/%d", &pid)
	v, err := e.db.Product(context.Background(), pid)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Versions[len(v.Versions)-1]; got.Amount != 1500 || got.Currency != "JPY" {
		t.Errorf("stored price %+v, want 1500 JPY", got)
	}
}
