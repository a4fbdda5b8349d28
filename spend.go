package keel

import "time"

// Spend is a month's sales and marketing spend in one currency, which CAC
// divides by the month's new customers (METRICS.md). Finance or admin
// enter it; the latest entry of a month and currency is its spend.
type Spend struct {
	Month     Month
	Currency  string
	Amount    int64 // minor units
	UpdatedBy int64 // 0 = keel.System
	UpdatedAt time.Time
}

// Validate checks a spend entry, naming the field.
func (s Spend) Validate() error {
	if y := s.Month.Year(); y < 2000 || y > 2100 {
		return Invalid("month", "%s is out of range (2000 to 2100)", s.Month.String())
	}
	if err := ValidCurrency("currency", s.Currency); err != nil {
		return err
	}
	if s.Amount < 0 {
		return Invalid("amount", "must not be negative")
	}
	if s.Amount > MaxAmount {
		return Invalid("amount", "is over the limit of %s %s", FormatAmount(MaxAmount, s.Currency), s.Currency)
	}
	return nil
}
