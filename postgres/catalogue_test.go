package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func ymd(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestProductsAndPrices(t *testing.T) {
	e := newStoreEnv(t)
	code := "cat-" + e.id
	before := e.counts(t)
	_, err := e.db.CreateProduct(e.ctx, e.sales, keel.Product{Code: code, Name: "Pro", Kind: keel.KindEdition, Unit: "seat"})
	wantCode(t, "sales creates a product", err, keel.EFORBIDDEN)
	_, err = e.db.CreateProduct(e.ctx, e.admin, keel.Product{Code: "Bad Code", Name: "Pro", Kind: keel.KindEdition, Unit: "seat"})
	wantCode(t, "a bad code", err, keel.EINVALID)
	e.unchanged(t, before)

	p, err := e.db.CreateProduct(e.ctx, e.admin, keel.Product{Code: code, Name: "Pro", Kind: keel.KindEdition, Unit: "seat"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == 0 || p.Status != keel.ProductEnabled {
		t.Errorf("new product: got id %d status %s, want an id and enabled", p.ID, p.Status)
	}
	before = e.counts(t)
	_, err = e.db.CreateProduct(e.ctx, e.admin, keel.Product{Code: code, Name: "Again", Kind: keel.KindEdition, Unit: "seat"})
	wantCode(t, "a taken code", err, keel.ECONFLICT)
	if !strings.Contains(keel.ErrorMessage(err), code) || !strings.HasPrefix(keel.ErrorMessage(err), "code:") {
		t.Errorf("conflict message %q should name the field and the code %s", keel.ErrorMessage(err), code)
	}
	e.unchanged(t, before)

	v1, err := e.db.AddPrice(e.ctx, e.admin, keel.PriceVersion{ProductID: p.ID, Amount: 10000, Currency: "USD", Period: keel.PeriodMonth,
		EffectiveFrom: time.Date(2025, 1, 1, 15, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if !v1.EffectiveFrom.Equal(ymd(2025, 1, 1)) || v1.EffectiveTo != nil {
		t.Errorf("first version: from %s to %v, want 2025-01-01 and open", v1.EffectiveFrom, v1.EffectiveTo)
	}
	refusals := []struct {
		name string
		by   keel.Employee
		v    keel.PriceVersion
		code string
	}{
		{"before the current one", e.admin, keel.PriceVersion{ProductID: p.ID, Amount: 9000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: ymd(2024, 12, 1)}, keel.ECONFLICT},
		{"on the current one's day", e.admin, keel.PriceVersion{ProductID: p.ID, Amount: 9000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: ymd(2025, 1, 1)}, keel.ECONFLICT},
		{"another currency", e.admin, keel.PriceVersion{ProductID: p.ID, Amount: 9000, Currency: "EUR", Period: keel.PeriodMonth, EffectiveFrom: ymd(2026, 1, 1)}, keel.EINVALID},
		{"another period", e.admin, keel.PriceVersion{ProductID: p.ID, Amount: 9000, Currency: "USD", Period: keel.PeriodYear, EffectiveFrom: ymd(2026, 1, 1)}, keel.EINVALID},
		{"negative", e.admin, keel.PriceVersion{ProductID: p.ID, Amount: -1, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: ymd(2026, 1, 1)}, keel.EINVALID},
		{"no product", e.admin, keel.PriceVersion{ProductID: 1 << 40, Amount: 1, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: ymd(2026, 1, 1)}, keel.ENOTFOUND},
		{"by finance", e.finance, keel.PriceVersion{ProductID: p.ID, Amount: 1, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: ymd(2026, 1, 1)}, keel.EFORBIDDEN},
	}
	for _, r := range refusals {
		before := e.counts(t)
		_, err := e.db.AddPrice(e.ctx, r.by, r.v)
		wantCode(t, r.name, err, r.code)
		e.unchanged(t, before)
	}

	v2, err := e.db.AddPrice(e.ctx, e.admin, keel.PriceVersion{ProductID: p.ID, Amount: 12000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: ymd(2026, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	entry, err := e.db.Product(e.ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(entry.Versions) != 2 {
		t.Fatalf("versions: got %d, want 2", len(entry.Versions))
	}
	old, cur := entry.Versions[0], entry.Versions[1]
	if old.ID != v1.ID || old.EffectiveTo == nil || !old.EffectiveTo.Equal(ymd(2026, 1, 1)) || old.Amount != 10000 {
		t.Errorf("the old version: got %+v, want %d closed on 2026-01-01 at 10000", old, v1.ID)
	}
	if cur.ID != v2.ID || cur.EffectiveTo != nil || cur.Amount != 12000 {
		t.Errorf("the current version: got %+v, want %d open at 12000", cur, v2.ID)
	}
	if got := e.auditActions(t, "price_version", v1.ID); strings.Join(got, ",") != "price.add,price.close" {
		t.Errorf("audit of the old version: got %v, want price.add, price.close", got)
	}

	// Immutable for every writer, not only the store.
	for _, sql := range []string{
		`UPDATE price_versions SET amount = 1 WHERE id = $1`,
		`UPDATE price_versions SET effective_to = '2027-01-01' WHERE id = $1`, // closed once already
		`DELETE FROM price_versions WHERE id = $1`,
	} {
		if _, err := e.db.pool.Exec(e.ctx, sql, v1.ID); err == nil || !strings.Contains(err.Error(), "price version") {
			t.Errorf("%s: error %v, want the trigger's refusal", sql, err)
		}
	}
	if _, err := e.db.pool.Exec(e.ctx, `UPDATE price_versions SET currency = 'EUR', effective_to = '2027-01-01' WHERE id = $1`, v2.ID); err == nil {
		t.Error("changing the currency while closing a version: no error, want the trigger's refusal")
	}

	disabled, err := e.db.SetProductStatus(e.ctx, e.admin, p.ID, keel.ProductDisabled)
	if err != nil || disabled.Status != keel.ProductDisabled {
		t.Fatalf("disable: %+v, %v", disabled, err)
	}
	_, err = e.db.SetProductStatus(e.ctx, e.admin, p.ID, "retired")
	wantCode(t, "an unknown status", err, keel.EINVALID)
	_, err = e.db.SetProductStatus(e.ctx, e.admin, 1<<40, keel.ProductEnabled)
	wantCode(t, "an unknown product", err, keel.ENOTFOUND)

	all, err := e.db.Products(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i, x := range all {
		if i > 0 && all[i-1].Product.Code >= x.Product.Code {
			t.Errorf("products out of code order: %s before %s", all[i-1].Product.Code, x.Product.Code)
		}
		if x.Product.ID == p.ID {
			found = true
			if x.Product.Status != keel.ProductDisabled || len(x.Versions) != 2 {
				t.Errorf("product in the list: %+v", x)
			}
		}
	}
	if !found {
		t.Errorf("product %d not in the list", p.ID)
	}
	_, err = e.db.Product(e.ctx, 1<<40)
	wantCode(t, "an unknown product", err, keel.ENOTFOUND)
}
