package bench

import (
	"testing"
	"time"

	"github.com/keelhq/keel/demo"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/client"
)

// The scale run's direct path must store exactly the row the collector's
// parser makes of the event the client would send.
func TestEventRowIsTheCollectorsRow(t *testing.T) {
	cfg := demo.Config{Tenants: 60, Days: 8, Seed: 1, Now: time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC)}
	tenants := demo.Tenants(cfg)
	n, direct := 0, 0
	types := map[string]bool{}
	for day := 0; day < cfg.Days; day++ {
		err := demo.Day(cfg, tenants, day, func(ce client.Event) error {
			raw, err := client.Encode(ce)
			if err != nil {
				t.Fatalf("encode %s: %v", ce.ID, err)
			}
			want, err := ingest.ParseEvent(raw)
			if err != nil {
				t.Fatalf("parse %s: %v", raw, err)
			}
			got, err := eventRow(ce)
			if err != nil || got != want {
				t.Fatalf("eventRow(%s) = %+v, %v; the collector stores %+v", raw, got, err, want)
			}
			if _, ok := simpleProps(ce.Props); ok {
				direct++
			}
			types[ce.Type] = true
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 1000 || len(types) < 4 {
		t.Fatalf("only %d demo events of %d types: the check covers too little", n, len(types))
	}
	if direct != n {
		t.Errorf("%d of %d demo events took the direct path, want all (else the scale run is 4× slower)", direct, n)
	}
}

func TestSimpleProps(t *testing.T) {
	tests := []struct {
		props map[string]any
		want  string
		ok    bool
	}{
		{nil, "{}", true},
		{map[string]any{"seats": int64(12), "method": "sso", "a": 3}, `{"a":3,"method":"sso","seats":12}`, true},
		{map[string]any{"path": `say "hi"`}, "", false},
		{map[string]any{"path": "café"}, "", false},
		{map[string]any{"ratio": 1.5}, "", false},
		{map[string]any{"on": true}, "", false},
	}
	for _, tt := range tests {
		got, ok := simpleProps(tt.props)
		if got != tt.want || ok != tt.ok {
			t.Errorf("simpleProps(%v) = %q, %v; want %q, %v", tt.props, got, ok, tt.want, tt.ok)
		}
	}
}
