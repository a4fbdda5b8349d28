package keel_test

import (
	"testing"

	"github.com/keelhq/keel"
)

func TestPageNormalize(t *testing.T) {
	tests := []struct {
		name  string
		in    keel.Page
		want  keel.Page
		field string // "" = fine
	}{
		{"defaults", keel.Page{}, keel.Page{Limit: 50}, ""},
		{"offset kept", keel.Page{Offset: 100}, keel.Page{Limit: 50, Offset: 100}, ""},
		{"one", keel.Page{Limit: 1}, keel.Page{Limit: 1}, ""},
		{"the maximum", keel.Page{Limit: keel.MaxPageSize, Offset: 7}, keel.Page{Limit: keel.MaxPageSize, Offset: 7}, ""},
		{"over the maximum", keel.Page{Limit: keel.MaxPageSize + 1}, keel.Page{}, "limit"},
		{"negative limit", keel.Page{Limit: -1}, keel.Page{}, "limit"},
		{"negative offset", keel.Page{Limit: 10, Offset: -10}, keel.Page{}, "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Normalize()
			if tt.field != "" {
				wantError(t, err, keel.EINVALID, tt.field)
				return
			}
			wantOK(t, err)
			if got != tt.want {
				t.Errorf("Normalize(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
