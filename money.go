package keel

import (
	"strconv"
	"strings"
)

// MinorUnits returns how many digits a currency has after the decimal
// point (2 for USD, 0 for JPY); 2 for a currency Keel does not know.
func MinorUnits(currency string) int {
	if n, ok := currencies[currency]; ok {
		return n
	}
	return 2
}

// FormatAmount writes an amount of minor units the way people read it:
// 123456 USD is "1,234.56", 1500 JPY is "1,500".
func FormatAmount(amount int64, currency string) string {
	neg := amount < 0
	if neg {
		amount = -amount
	}
	digits := MinorUnits(currency)
	s := strconv.FormatInt(amount, 10)
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	whole, frac := s[:len(s)-digits], s[len(s)-digits:]
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if digits > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// ParseAmount reads an amount typed by a person ("1,234.5", "1234.56",
// "1500") into minor units of the currency. It returns an EINVALID error
// naming field for anything else: nothing, a sign, more decimals than the
// currency has, letters, or more than MaxAmount.
func ParseAmount(field, s, currency string) (int64, error) {
	digits := MinorUnits(currency)
	t := strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	whole, frac, hasDot := strings.Cut(t, ".")
	bad := func() (int64, error) {
		if digits == 0 {
			return 0, Invalid(field, "%q is not an amount of %s (whole units, like 1500)", s, currency)
		}
		return 0, Invalid(field, "%q is not an amount of %s (like 1234.56)", s, currency)
	}
	if t == "" {
		if digits == 0 {
			return 0, Invalid(field, "required (an amount of %s in whole units, like 1500)", currency)
		}
		return 0, Invalid(field, "required (an amount of %s, like 1234.56)", currency)
	}
	if whole == "" && frac == "" || len(frac) > digits {
		return bad()
	}
	if hasDot && digits == 0 {
		return bad()
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return bad()
			}
		}
	}
	if len(whole) > 15 {
		return 0, Invalid(field, "%q is more than any amount Keel accepts", s)
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return bad()
	}
	if n > MaxAmount {
		return 0, Invalid(field, "%q is more than any amount Keel accepts", s)
	}
	return n, nil
}
