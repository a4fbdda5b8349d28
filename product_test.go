package keel_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestProductValidate(t *testing.T) {
	valid := keel.Product{Code: "pro", Name: "Pro", Kind: keel.KindEdition, Unit: "seat", Status: keel.ProductEnabled}
	tests := []struct {
		name   string
		change func(p *keel.Product)
		field  string // "" = valid
	}{
		{"valid", func(p *keel.Product) {}, ""},
		{"code with dots and dashes", func(p *keel.Product) { p.Code = "storage-1tb.v2_eu" }, ""},
		{"code of 64", func(p *keel.Product) { p.Code = strings.Repeat("a", 64) }, ""},
		{"code of 65", func(p *keel.Product) { p.Code = strings.Repeat("a", 65) }, "code"},
		{"empty code", func(p *keel.Product) { p.Code = "" }, "code"},
		{"upper-case code", func(p *keel.Product) { p.Code = "Pro" }, "code"},
		{"code starting with a dash", func(p *keel.Product) { p.Code = "-pro" }, "code"},
		{"code with a space", func(p *keel.Product) { p.Code = "pro plan" }, "code"},
		{"blank name", func(p *keel.Product) { p.Name = " " }, "name"},
		{"name too long", func(p *keel.Product) { p.Name = strings.Repeat("n", 201) }, "name"},
		{"add-on bound to the term", func(p *keel.Product) { p.Kind = keel.KindAddonTerm }, ""},
		{"standalone add-on", func(p *keel.Product) { p.Kind = keel.KindAddonStandalone }, ""},
		{"unknown kind", func(p *keel.Product) { p.Kind = "bundle" }, "kind"},
		{"no kind", func(p *keel.Product) { p.Kind = "" }, "kind"},
		{"blank unit", func(p *keel.Product) { p.Unit = "" }, "unit"},
		{"unit too long", func(p *keel.Product) { p.Unit = strings.Repeat("u", 33) }, "unit"},
		{"disabled", func(p *keel.Product) { p.Status = keel.ProductDisabled }, ""},
		{"unknown status", func(p *keel.Product) { p.Status = "retired" }, "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid
			tt.change(&p)
			err := p.Validate()
			if tt.field == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, tt.field)
		})
	}
}

func TestPriceVersionValidate(t *testing.T) {
	valid := keel.PriceVersion{Amount: 5000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2026-01-01")}
	tests := []struct {
		name   string
		change func(v *keel.PriceVersion)
		field  string // "" = valid
	}{
		{"valid", func(v *keel.PriceVersion) {}, ""},
		{"free", func(v *keel.PriceVersion) { v.Amount = 0 }, ""},
		{"negative amount", func(v *keel.PriceVersion) { v.Amount = -1 }, "amount"},
		{"at the limit", func(v *keel.PriceVersion) { v.Amount = keel.MaxAmount }, ""},
		{"over the limit", func(v *keel.PriceVersion) { v.Amount = keel.MaxAmount + 1 }, "amount"},
		{"yen", func(v *keel.PriceVersion) { v.Currency = "JPY" }, ""},
		{"unknown currency", func(v *keel.PriceVersion) { v.Currency = "XYZ" }, "currency"},
		{"lower-case currency", func(v *keel.PriceVersion) { v.Currency = "usd" }, "currency"},
		{"no currency", func(v *keel.PriceVersion) { v.Currency = "" }, "currency"},
		{"yearly", func(v *keel.PriceVersion) { v.Period = keel.PeriodYear }, ""},
		{"once", func(v *keel.PriceVersion) { v.Period = keel.PeriodOnce }, ""},
		{"weekly", func(v *keel.PriceVersion) { v.Period = "week" }, "period"},
		{"no period", func(v *keel.PriceVersion) { v.Period = "" }, "period"},
		{"no date", func(v *keel.PriceVersion) { v.EffectiveFrom = time.Time{} }, "effective_from"},
		{"1999", func(v *keel.PriceVersion) { v.EffectiveFrom = day("1999-12-31") }, "effective_from"},
		{"2000", func(v *keel.PriceVersion) { v.EffectiveFrom = day("2000-01-01") }, ""},
		{"2100", func(v *keel.PriceVersion) { v.EffectiveFrom = day("2100-12-31") }, ""},
		{"2101", func(v *keel.PriceVersion) { v.EffectiveFrom = day("2101-01-01") }, "effective_from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := valid
			tt.change(&v)
			err := v.Validate()
			if tt.field == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, tt.field)
		})
	}
}

func TestProductAddPrice(t *testing.T) {
	pro := keel.Product{ID: 2, Code: "pro", Name: "Pro", Kind: keel.KindEdition, Unit: "seat", Status: keel.ProductEnabled}
	v1 := keel.PriceVersion{ID: 21, ProductID: 2, Amount: 5000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2025-01-01"), EffectiveTo: ptr(day("2026-01-01"))}
	v2 := keel.PriceVersion{ID: 22, ProductID: 2, Amount: 6000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2026-01-01")}
	history := []keel.PriceVersion{v2, v1} // not in date order on purpose

	t.Run("first version closes nothing", func(t *testing.T) {
		closes, err := pro.AddPrice(nil, keel.PriceVersion{Amount: 5000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2025-01-01")})
		wantOK(t, err)
		if closes != nil {
			t.Errorf("closes = %+v, want nil", *closes)
		}
	})

	t.Run("a later version closes the current one", func(t *testing.T) {
		next := keel.PriceVersion{ProductID: 2, Amount: 6500, Currency: "USD", Period: keel.PeriodMonth,
			EffectiveFrom: time.Date(2026, 7, 1, 15, 30, 0, 0, time.UTC)} // the time of day is dropped
		closes, err := pro.AddPrice(history, next)
		wantOK(t, err)
		if closes == nil {
			t.Fatal("closes = nil, want the current version")
		}
		if got, want := closes.ID, v2.ID; got != want {
			t.Errorf("closes.ID = %d, want %d", got, want)
		}
		if closes.EffectiveTo == nil || !closes.EffectiveTo.Equal(day("2026-07-01")) {
			t.Errorf("closes.EffectiveTo = %v, want 2026-07-01", closes.EffectiveTo)
		}
		if closes.Amount != 6000 || !closes.EffectiveFrom.Equal(v2.EffectiveFrom) {
			t.Errorf("closed version changed beyond EffectiveTo: %+v", *closes)
		}
		// The caller's versions are never edited in place.
		if history[0].EffectiveTo != nil {
			t.Errorf("AddPrice changed the stored current version: EffectiveTo = %v", *history[0].EffectiveTo)
		}
	})

	refusals := []struct {
		name  string
		next  keel.PriceVersion
		code  string
		field string
	}{
		{"same day as the current one", keel.PriceVersion{Amount: 7000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2026-01-01")}, keel.ECONFLICT, "effective_from"},
		{"same day, later hour", keel.PriceVersion{Amount: 7000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2026-01-01").Add(20 * time.Hour)}, keel.ECONFLICT, "effective_from"},
		{"before the current one", keel.PriceVersion{Amount: 7000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2025-06-01")}, keel.ECONFLICT, "effective_from"},
		{"before every version", keel.PriceVersion{Amount: 7000, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2024-01-01")}, keel.ECONFLICT, "effective_from"},
		{"currency change", keel.PriceVersion{Amount: 7000, Currency: "EUR", Period: keel.PeriodMonth, EffectiveFrom: day("2026-07-01")}, keel.EINVALID, "currency"},
		{"period change", keel.PriceVersion{Amount: 70000, Currency: "USD", Period: keel.PeriodYear, EffectiveFrom: day("2026-07-01")}, keel.EINVALID, "period"},
		{"invalid version", keel.PriceVersion{Amount: -5, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2026-07-01")}, keel.EINVALID, "amount"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			closes, err := pro.AddPrice(history, tt.next)
			wantError(t, err, tt.code, tt.field)
			if closes != nil {
				t.Errorf("closes = %+v, want nil on refusal", *closes)
			}
		})
	}
	t.Run("message says prices are never edited in place", func(t *testing.T) {
		_, err := pro.AddPrice(history, keel.PriceVersion{Amount: 1, Currency: "USD", Period: keel.PeriodMonth, EffectiveFrom: day("2026-01-01")})
		if msg := keel.ErrorMessage(err); !strings.Contains(msg, "2026-01-01") || !strings.Contains(msg, "never edited in place") {
			t.Errorf("message = %q, want the current version's date and 'never edited in place'", msg)
		}
	})
}

func TestPriceAt(t *testing.T) {
	pro := keel.Product{ID: 2, Code: "pro"}
	versions := []keel.PriceVersion{
		{ID: 21, EffectiveFrom: day("2025-01-01"), EffectiveTo: ptr(day("2025-07-01")), Amount: 4000},
		{ID: 22, EffectiveFrom: day("2025-07-01"), EffectiveTo: ptr(day("2026-01-01")), Amount: 5000},
		{ID: 23, EffectiveFrom: day("2026-01-01"), Amount: 6000},
	}
	tests := []struct {
		at   time.Time
		want int64 // version id; 0 = no price
	}{
		{day("2024-12-31"), 0},
		{day("2024-12-31").Add(23*time.Hour + 59*time.Minute), 0},
		{day("2025-01-01"), 21},
		{day("2025-06-30").Add(23 * time.Hour), 21},
		{day("2025-07-01"), 22},
		{day("2025-12-31"), 22},
		{day("2026-01-01"), 23},
		{time.Date(2026, 1, 1, 8, 0, 0, 0, time.FixedZone("UTC+9", 9*3600)), 22}, // 2025-12-31 in UTC
		{day("2099-01-01"), 23},
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.RFC3339), func(t *testing.T) {
			v, err := keel.PriceAt(pro, versions, tt.at)
			if tt.want == 0 {
				wantError(t, err, keel.EINVALID, "")
				if msg := keel.ErrorMessage(err); !strings.Contains(msg, "pro has no price on") {
					t.Errorf("message = %q, want it to name the product", msg)
				}
				return
			}
			wantOK(t, err)
			if v.ID != tt.want {
				t.Errorf("PriceAt(%s) = version %d, want %d", tt.at, v.ID, tt.want)
			}
		})
	}
}

func TestDate(t *testing.T) {
	got := keel.Date(time.Date(2026, 3, 1, 1, 0, 0, 0, time.FixedZone("UTC+2", 2*3600)))
	if want := day("2026-02-28"); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Date = %v, want %v in UTC", got, want)
	}
}
