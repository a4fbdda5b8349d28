package bench

import (
	"strings"
	"testing"
	"time"
)

func TestBenchConsoleSummary(t *testing.T) {
	r := consoleReport{TargetMS: 300, MetTarget: true, Pages: []consoleResult{
		{Pattern: "POST /login", Role: "admin", P95: 900},
		{Pattern: "/", Role: "admin", P95: 20},
		{Pattern: "/customers/{id}", Role: "sales1", P95: 310, Bad: true},
	}}
	r.summarize(300 * time.Millisecond)
	if r.MetTarget || r.SlowestP95 != 310 || r.Slowest != "/customers/{id} as sales1" || r.BadStatus != 1 {
		t.Errorf("summary: met %v, slowest %v (%s), bad %d; want false, 310 (/customers/{id} as sales1), 1", r.MetTarget, r.SlowestP95, r.Slowest, r.BadStatus)
	}
	if r.Pages[0].Slow {
		t.Errorf("the sign-in POST counted against the page target")
	}
	if got, want := countSummary(map[string]int{"500": 2, "200": 38}), "200×38 500×2"; got != want {
		t.Errorf("countSummary = %q, want %q", got, want)
	}
}

func TestBenchConsoleConfigValidate(t *testing.T) {
	good := ConsoleConfig{URL: "http://127.0.0.1:8080/", Roles: []string{"admin", " sales1 "}, PerPattern: 5, MaxPages: 1000,
		Requests: 40, Concurrency: 1, Target: 300 * time.Millisecond}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate of a good config: %v", err)
	}
	tests := []struct {
		name   string
		change func(*ConsoleConfig)
		want   string
	}{
		{"no requests", func(c *ConsoleConfig) { c.Requests = 0 }, "--requests"},
		{"negative concurrency", func(c *ConsoleConfig) { c.Concurrency = -1 }, "--concurrency"},
		{"no target", func(c *ConsoleConfig) { c.Target = 0 }, "--target"},
		{"not http", func(c *ConsoleConfig) { c.URL = "ftp://127.0.0.1" }, `--console "ftp://127.0.0.1"`},
		{"no host", func(c *ConsoleConfig) { c.URL = "http://" }, "--console"},
		{"unknown role", func(c *ConsoleConfig) { c.Roles = []string{"admin", "nobody"} }, `--roles: "nobody" is not a demo employee`},
		{"no role", func(c *ConsoleConfig) { c.Roles = []string{"", " "} }, "--roles names no one"},
	}
	for _, tt := range tests {
		c := good
		tt.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestBenchIngestConfigValidate(t *testing.T) {
	good := IngestConfig{Keel: "/usr/local/bin/keel", PG: "postgres://x", ClickHouse: "clickhouse://x", Brokers: []string{"127.0.0.1:9092"},
		Events: 1000, Batch: 1000, Concurrency: 4, Rate: 10000, Duration: 20 * time.Second, ClickHouseClient: "clickhouse-client"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate of a good config: %v", err)
	}
	skip := good
	skip.Rate, skip.Duration = 0, 0
	if err := skip.Validate(); err != nil {
		t.Errorf("--rate 0 (no freshness run) with no duration: %v", err)
	}
	tests := []struct {
		name   string
		change func(*IngestConfig)
		want   string
	}{
		{"no events", func(c *IngestConfig) { c.Events = 0 }, "--events"},
		{"batch over the collector's limit", func(c *IngestConfig) { c.Batch = 1001 }, "--batch (≤ 1000)"},
		{"no concurrency", func(c *IngestConfig) { c.Concurrency = 0 }, "--concurrency"},
		{"negative rate", func(c *IngestConfig) { c.Rate = -1 }, "--rate"},
		{"rate without duration", func(c *IngestConfig) { c.Duration = 0 }, "--duration"},
		{"no binary", func(c *IngestConfig) { c.Keel = "" }, "Keel"},
		{"no brokers", func(c *IngestConfig) { c.Brokers = nil }, "--brokers"},
		{"no clickhouse-client", func(c *IngestConfig) { c.ClickHouseClient = "" }, "--clickhouse-client"},
	}
	for _, tt := range tests {
		c := good
		tt.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}
