package keel

import "testing"

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

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, currency string
		want         int64
		wantErr      bool
	}{
		{"1234.56", "USD", 123456, false},
		{"1,234.5", "USD", 123450, false},
		{" 12 ", "USD", 1200, false},
		{"0", "USD", 0, false},
		{".5", "USD", 50, false},
		{"1500", "JPY", 1500, false},
		{"1500.0", "JPY", 0, true},
		{"1.234", "USD", 0, true},
		{"-5", "USD", 0, true},
		{"12a", "USD", 0, true},
		{"", "USD", 0, true},
		{".", "USD", 0, true},
		{"10000000000.01", "USD", 0, true},
		{"9999999999999999999", "USD", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseAmount("paid_amount", tt.in, tt.currency)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d, error %v", tt.in, tt.currency, got, err, tt.want, tt.wantErr)
		}
		if err != nil && ErrorCode(err) != EINVALID {
			t.Errorf("ParseAmount(%q): code %s, want %s", tt.in, ErrorCode(err), EINVALID)
		}
	}
}
