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

// ParseAmount reads an amount of currency typed by a person into minor
// units, by the rule of the reader's locale, and refuses what it cannot
// read as exactly one amount. It returns an EINVALID error naming field.
//
// The rule, for both of Keel's locales — en and zh (Simplified Chinese,
// zh-CN), which write numbers alike:
//
//   - Digits, with a point before the decimals ("1234.56", ".5", "12.")
//     and, optionally, commas between the thousands of the whole part: a
//     first group of 1 to 3 digits not starting with 0, then groups of
//     exactly 3 ("1,234.56", "1,234,567"). Spaces around it are ignored;
//     nothing else is allowed — no sign, no currency symbol or code, no
//     spaces or other separators inside.
//   - At most as many decimals as the currency has: 2 for most (USD, EUR,
//     CNY …), none for JPY and KRW, which are whole units ("1500",
//     "1,500"; any point is refused).
//   - zh also reads the full-width forms a Chinese input method types —
//     the digits ０–９, the comma "，" and the point "．" — as their ASCII
//     twins ("６０．００" is 60.00). en does not; neither reads "。".
//   - Much of the world writes the other way round (a comma before the
//     decimals, points between thousands: "60,00", "1.234,56"). Text that
//     is an amount only that way — "60,00", "1,5", "1.234" for USD,
//     "1.500" for JPY — is refused as ambiguous, and the refusal says
//     which amount it would be and how to write it ("for 60.00 USD, write
//     60.00"): it is never read as something else, as "60,00" once was
//     read as 6,000.00. Text that is a different amount each way is
//     refused too; with the currencies Keel knows that cannot happen (a
//     point before three digits is too many decimals for any of them, so
//     "1,234" is only 1234), but it would for a currency with three.
//   - More than MaxAmount is refused.
//
// A locale Keel does not know reads as en.
func ParseAmount(field, s, currency, locale string) (int64, error) {
	digits := MinorUnits(currency)
	t := strings.TrimSpace(s)
	if strings.HasPrefix(locale, "zh") {
		t = fullWidth.Replace(t)
	}
	if t == "" {
		if digits == 0 {
			return 0, Invalid(field, "required (an amount of %s in whole units, like 1500)", currency)
		}
		return 0, Invalid(field, "required (an amount of %s, like 1234.56)", currency)
	}
	n, other, v := parseAmount(t, digits)
	switch v {
	case amountOK:
		return n, nil
	case amountOtherWay:
		return 0, Invalid(field, "%q is ambiguous: here a point marks decimals and a comma separates thousands; for %s %s, write %s",
			s, FormatAmount(other, currency), currency, plainAmount(other, currency))
	case amountTwoWays:
		return 0, Invalid(field, "%q could mean %s or %s %s; write it without thousands separators: %s or %s",
			s, FormatAmount(n, currency), FormatAmount(other, currency), currency, plainAmount(n, currency), plainAmount(other, currency))
	case amountTooLarge:
		return 0, Invalid(field, "%q is more than any amount Keel accepts", s)
	}
	if digits == 0 {
		return 0, Invalid(field, "%q is not an amount of %s (whole units, like 1500)", s, currency)
	}
	return 0, Invalid(field, "%q is not an amount of %s (like 1234.56)", s, currency)
}

// fullWidth maps the full-width digits and separators of Chinese input
// methods to ASCII.
var fullWidth = strings.NewReplacer(
	"０", "0", "１", "1", "２", "2", "３", "3", "４", "4", "５", "5", "６", "6", "７", "7", "８", "8", "９", "9",
	"，", ",", "．", ".")

// amountVerdict is what parseAmount made of a text.
type amountVerdict int

const (
	amountOK       amountVerdict = iota // one amount: n
	amountNot                           // no amount either way
	amountTooLarge                      // over MaxAmount
	amountOtherWay                      // only with a decimal comma: other
	amountTwoWays                       // n with a decimal point, other with a decimal comma
)

// parseAmount reads t (trimmed, ASCII separators) with a decimal point,
// and with the separators swapped (a decimal comma), for a currency of
// digits decimals; ParseAmount's rule says what each outcome means.
func parseAmount(t string, digits int) (n, other int64, v amountVerdict) {
	swapped := strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return ','
		case ',':
			return '.'
		}
		return r
	}, t)
	a, va := readAmount(t, digits)
	b, vb := readAmount(swapped, digits)
	switch {
	case va == amountOK && vb == amountOK && a != b:
		return a, b, amountTwoWays
	case va == amountOK:
		return a, 0, amountOK
	case vb == amountOK:
		return 0, b, amountOtherWay
	case va == amountTooLarge || vb == amountTooLarge:
		return 0, 0, amountTooLarge
	}
	return 0, 0, amountNot
}

// readAmount reads t written with a decimal point and commas between
// thousands into minor units of a currency of digits decimals.
func readAmount(t string, digits int) (int64, amountVerdict) {
	whole, frac, hasDot := strings.Cut(t, ".")
	if strings.ContainsAny(frac, ".,") || whole == "" && frac == "" || len(frac) > digits || hasDot && digits == 0 {
		return 0, amountNot
	}
	if strings.Contains(whole, ",") {
		groups := strings.Split(whole, ",")
		if g := groups[0]; len(g) < 1 || len(g) > 3 || g[0] == '0' {
			return 0, amountNot
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return 0, amountNot
			}
		}
		whole = strings.Join(groups, "")
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, amountNot
			}
		}
	}
	if len(whole) > 15 {
		return 0, amountTooLarge
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, amountNot
	}
	if n > MaxAmount {
		return 0, amountTooLarge
	}
	return n, amountOK
}

// plainAmount writes an amount without thousands separators ("1234.00"):
// what to type for it, whichever way the reader writes numbers.
func plainAmount(amount int64, currency string) string {
	return strings.ReplaceAll(FormatAmount(amount, currency), ",", "")
}
