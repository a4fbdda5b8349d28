package keel

import "testing"

func TestValidText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		says string // "" = text
	}{
		{"", ""},
		{"Acme 株式会社 ✓", ""},
		{"tab\tand\nnewline", ""},
		{"\uFFFD is a character like any other", ""},
		{"a\x00b", "name: is not text: it holds a NUL byte (at byte 1)"},
		{"ab\xff", "name: is not text: it holds bytes that are not UTF-8 (at byte 2)"},
		{"é\xc3", "name: is not text: it holds bytes that are not UTF-8 (at byte 2)"},
		{"\xed\xa0\x80", "name: is not text: it holds bytes that are not UTF-8 (at byte 0)"}, // a surrogate
	} {
		err := ValidText("name", tt.in)
		if got := ErrorMessage(err); tt.says == "" && err != nil || tt.says != "" && (got != tt.says || ErrorCode(err) != EINVALID) {
			t.Errorf("ValidText(%q) = %v, want %q", tt.in, err, tt.says)
		}
	}
}
