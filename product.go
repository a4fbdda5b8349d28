package keel

import (
	"regexp"
	"strings"
	"time"
)

// ProductKind says how a product is sold.
type ProductKind string

// The product kinds.
const (
	// An edition is the product itself (Basic, Pro, Enterprise); a customer
	// has at most one edition in service at a time.
	KindEdition ProductKind = "edition"
	// An add-on bound to the edition's term: it ends when the edition does.
	KindAddonTerm ProductKind = "addon_term"
	// A standalone add-on with a term of its own.
	KindAddonStandalone ProductKind = "addon_standalone"
)

// ProductKinds lists the product kinds, in the order they are shown.
var ProductKinds = []ProductKind{KindEdition, KindAddonTerm, KindAddonStandalone}

// ProductStatus says whether a product may be ordered.
type ProductStatus string

// The product statuses.
const (
	ProductEnabled  ProductStatus = "enabled"
	ProductDisabled ProductStatus = "disabled"
)

// ProductStatuses lists the product statuses.
var ProductStatuses = []ProductStatus{ProductEnabled, ProductDisabled}

// ProductNotFound is the ENOTFOUND refusal of product id.
func ProductNotFound(id any) *Error { return Errorf(ENOTFOUND, "product %v not found", id) }

// Product is something the company sells.
type Product struct {
	ID        int64
	Code      string // short stable code, e.g. "pro"
	Name      string
	Kind      ProductKind
	Unit      string // what quantity counts: "seat", "GB", "instance" …
	Status    ProductStatus
	CreatedAt time.Time
}

var codePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Validate checks a new product.
func (p Product) Validate() error {
	if !codePattern.MatchString(p.Code) {
		return Invalid("code", "%q must be 1 to 64 lower-case letters, digits, '.', '_' or '-'", p.Code)
	}
	if err := validTexts("name", p.Name, "unit", p.Unit); err != nil {
		return err
	}
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 200 {
		return Invalid("name", "must be 1 to %d characters", 200)
	}
	if err := OneOf("kind", p.Kind, ProductKinds); err != nil {
		return err
	}
	if strings.TrimSpace(p.Unit) == "" || len(p.Unit) > 32 {
		return Invalid("unit", "must be 1 to %d characters", 32)
	}
	return OneOf("status", p.Status, ProductStatuses)
}

// Period is how often a price is charged.
type Period string

// The price periods.
const (
	PeriodMonth Period = "month"
	PeriodYear  Period = "year"
	PeriodOnce  Period = "once" // not recurring: setup fees, one-off packs
)

// Periods lists the price periods, in the order they are shown.
var Periods = []Period{PeriodMonth, PeriodYear, PeriodOnce}

// currencies are the ISO 4217 codes Keel accepts, with their minor units.
var currencies = map[string]int{
	"USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "JPY": 0, "HKD": 2, "SGD": 2,
	"AUD": 2, "CAD": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "INR": 2,
	"KRW": 0, "BRL": 2, "MXN": 2, "NZD": 2, "TWD": 2, "ZAR": 2,
}

// ValidCurrency returns an EINVALID error naming field unless code is a
// currency Keel accepts.
func ValidCurrency(field, code string) error {
	if _, ok := currencies[code]; !ok {
		return Invalid(field, "%q is not a supported ISO 4217 currency code", code)
	}
	return nil
}

// MaxAmount bounds every amount of money (minor units): far above any real
// price, far below where sums could overflow int64.
const MaxAmount = 1_000_000_000_000

// PriceVersion is one price of a product from a date on. Versions are
// immutable: a new version closes the one before it, and an order line keeps
// the version it was sold at.
type PriceVersion struct {
	ID            int64
	ProductID     int64
	Amount        int64 // minor units per unit per period
	Currency      string
	Period        Period
	EffectiveFrom time.Time  // UTC midnight
	EffectiveTo   *time.Time // set when a later version starts; nil = current
	CreatedAt     time.Time
}

// Validate checks a new price version.
func (v PriceVersion) Validate() error {
	if v.Amount < 0 {
		return Invalid("amount", "must not be negative")
	}
	if v.Amount > MaxAmount {
		return Invalid("amount", "%s %s is over the limit of %s %s", FormatAmount(v.Amount, v.Currency), v.Currency, FormatAmount(MaxAmount, v.Currency), v.Currency)
	}
	if err := ValidCurrency("currency", v.Currency); err != nil {
		return err
	}
	if err := OneOf("period", v.Period, Periods); err != nil {
		return err
	}
	if v.EffectiveFrom.IsZero() {
		return Invalid("effective_from", "required")
	}
	if err := InYears("effective_from", v.EffectiveFrom); err != nil {
		return err
	}
	return nil
}

// AddPrice checks next against the product and its existing versions and
// returns the version it closes (nil when it is the first). A new version
// must start after every existing one and keep the product's currency and
// period, so a product's price history is one unbroken line.
func (p Product) AddPrice(versions []PriceVersion, next PriceVersion) (closes *PriceVersion, err error) {
	next.EffectiveFrom = Date(next.EffectiveFrom)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	var latest *PriceVersion
	for i := range versions {
		if latest == nil || versions[i].EffectiveFrom.After(latest.EffectiveFrom) {
			latest = &versions[i]
		}
	}
	if latest == nil {
		return nil, nil
	}
	if !next.EffectiveFrom.After(latest.EffectiveFrom) {
		return nil, FieldErrorf(ECONFLICT, "effective_from", "must be after %s, when the current price took effect (prices are never edited in place)",
			latest.EffectiveFrom.Format(time.DateOnly))
	}
	if next.Currency != latest.Currency {
		return nil, Invalid("currency", "%s is priced in %s", p.Code, latest.Currency)
	}
	if next.Period != latest.Period {
		return nil, Invalid("period", "%s is priced per %s", p.Code, latest.Period)
	}
	closed := *latest
	to := next.EffectiveFrom
	closed.EffectiveTo = &to
	return &closed, nil
}

// PriceAt returns the version in effect on day t, or an EINVALID error when
// the product has no price on that day.
func PriceAt(p Product, versions []PriceVersion, t time.Time) (PriceVersion, error) {
	day := Date(t)
	for _, v := range versions {
		if !day.Before(v.EffectiveFrom) && (v.EffectiveTo == nil || day.Before(*v.EffectiveTo)) {
			return v, nil
		}
	}
	return PriceVersion{}, Errorf(EINVALID, "%s has no price on %s", p.Code, day.Format(time.DateOnly))
}
