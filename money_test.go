package keel

import (
	"errors"
	"strings"
	"testing"
)

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		amount   int64
		currency string
		want     string
	}{
		{0, "USD", "0.00"},
		{5, "USD", "0.05"},
		{123456, "USD", "1,234.56"},
		{-123456, "EUR", "-1,234.56"},
		{100000000, "CNY", "1,000,000.00"},
		{1500, "JPY", "1,500"},
		{999, "JPY", "999"},
	}
	for _, tt := range tests {
		if got := FormatAmount(tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}

// TestParseAmount is the rule of ParseAmount's doc comment, case by case:
// what each locale accepts, what is refused as ambiguous (and what the
// refusal proposes), currencies without decimals.
func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, currency, locale string
		want                 int64
		says                 string // "" = accepted; else a part of the refusal's text
	}{
		// en: a point for decimals, commas between groups of three.
		{"1234.56", "USD", "en", 123456, ""},
		{"1,234.5", "USD", "en", 123450, ""},
		{"1,234", "USD", "en", 123400, ""},
		{"1,234,567.89", "USD", "en", 123456789, ""},
		{" 12 ", "USD", "en", 1200, ""},
		{"0", "USD", "en", 0, ""},
		{".5", "USD", "en", 50, ""},
		{"12.", "USD", "en", 1200, ""},
		{"60.00", "USD", "en", 6000, ""},
		// The approve form's case: a decimal comma is refused, and the
		// refusal says what to write for the amount it may mean.
		{"60,00", "USD", "en", 0, `"60,00" is ambiguous: here a point marks decimals and a comma separates thousands; for 60.00 USD, write 60.00`},
		{"1,5", "EUR", "en", 0, "for 1.50 EUR, write 1.50"},
		{"1.234,56", "USD", "en", 0, "for 1,234.56 USD, write 1234.56"},
		{"1.234", "USD", "en", 0, "for 1,234.00 USD, write 1234.00"},
		{"1.234.567", "USD", "en", 0, "for 1,234,567.00 USD, write 1234567.00"},
		// Commas that group nothing the way en does are not an amount.
		{"1,2345", "USD", "en", 0, "is not an amount of USD"},
		{"12,34,567", "USD", "en", 0, "is not an amount of USD"},
		{",123", "USD", "en", 0, "is not an amount of USD"},
		{"1,234.5,6", "USD", "en", 0, "is not an amount of USD"},
		{"1 234", "USD", "en", 0, "is not an amount of USD"},
		{"1.2.3", "USD", "en", 0, "is not an amount of USD"},
		{"1.005", "USD", "en", 0, "for 1,005.00 USD, write 1005.00"},
		{"1.0055", "USD", "en", 0, "is not an amount of USD"}, // four decimals, and no thousands group either way
		// Currencies without decimals: whole units, commas between thousands.
		{"1500", "JPY", "en", 1500, ""},
		{"1,500", "JPY", "en", 1500, ""},
		{"1,500", "KRW", "zh", 1500, ""},
		{"1500.0", "JPY", "en", 0, "is not an amount of JPY (whole units"},
		{"1.500", "JPY", "en", 0, "for 1,500 JPY, write 1500"},
		{"15,00", "KRW", "en", 0, "is not an amount of KRW (whole units"},
		// zh reads the same, and also the full-width forms a Chinese
		// input method types; en does not.
		{"1,234.56", "CNY", "zh", 123456, ""},
		{"６０．００", "CNY", "zh", 6000, ""},
		{"１，２３４．５", "CNY", "zh", 123450, ""},
		{"６０，００", "CNY", "zh", 0, "for 60.00 CNY, write 60.00"},
		{"６０．００", "CNY", "en", 0, "is not an amount of CNY"},
		{"60。00", "CNY", "zh", 0, "is not an amount of CNY"},
		// Anything else.
		{"-5", "USD", "en", 0, "is not an amount of USD"},
		{"+5", "USD", "en", 0, "is not an amount of USD"},
		{"12a", "USD", "en", 0, "is not an amount of USD"},
		{"$12", "USD", "en", 0, "is not an amount of USD"},
		{"", "USD", "en", 0, "required (an amount of USD"},
		{"  ", "JPY", "zh", 0, "required (an amount of JPY in whole units"},
		{".", "USD", "en", 0, "is not an amount of USD"},
		{",", "USD", "en", 0, "is not an amount of USD"},
		{"10000000000.01", "USD", "en", 0, "more than any amount Keel accepts"},
		{"9999999999999999999", "USD", "en", 0, "more than any amount Keel accepts"},
		{"9,999,999,999,999,999,999", "USD", "en", 0, "more than any amount Keel accepts"},
	}
	for _, tt := range tests {
		got, err := ParseAmount("paid_amount", tt.in, tt.currency, tt.locale)
		switch {
		case tt.says == "" && (err != nil || got != tt.want):
			t.Errorf("ParseAmount(%q, %s, %s) = %d, %v; want %d", tt.in, tt.currency, tt.locale, got, err, tt.want)
		case tt.says != "" && err == nil:
			t.Errorf("ParseAmount(%q, %s, %s) = %d, want a refusal saying %q", tt.in, tt.currency, tt.locale, got, tt.says)
		case tt.says != "":
			var e *Error
			if !errors.As(err, &e) || e.Code != EINVALID || e.Field != "paid_amount" || !strings.Contains(e.Text(), tt.says) {
				t.Errorf("ParseAmount(%q, %s, %s): %v; want EINVALID about paid_amount saying %q", tt.in, tt.currency, tt.locale, err, tt.says)
			}
		}
	}
}

// TestParseAmountRefusesWhatTwoConventionsReadDifferently: with three
// decimals (no currency Keel knows has them, the rule is general), "1,234"
// is 1234 to one reader and 1.234 to another, and is refused.
func TestParseAmountRefusesWhatTwoConventionsReadDifferently(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    int64
		refused bool
	}{
		{"1,234", 0, true},
		{"1.234", 0, true},
		{"1234", 1234000, false},
		{"1,234.5", 1234500, false},
		{"1.2345", 0, true}, // four decimals, and not a grouping
		{"0.125", 125, false},
	} {
		got, _, v := parseAmount(tt.in, 3)
		if tt.refused != (v != amountOK) || !tt.refused && got != tt.want {
			t.Errorf("parseAmount(%q, 3) = %d, verdict %d; want %d, refused %v", tt.in, got, v, tt.want, tt.refused)
		}
	}
}
