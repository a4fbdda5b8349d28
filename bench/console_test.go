package bench

import (
	"regexp"
	"slices"
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

func TestBenchConsoleParseScales(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  string
	}{
		{"200,10000", []int{200, 10000}, ""},
		{" 10_000 , 200,", []int{10000, 200}, ""},
		{"200", []int{200}, ""},
		{"", nil, "names no number"},
		{" , ", nil, "names no number"},
		{"200,lots", nil, `"lots" is not a number of customers`},
		{"0", nil, `"0" is not a number of customers`},
		{"-5", nil, `"-5" is not`},
		{"100001", nil, "from 1 to 100000"},
		{"200,200", nil, "200 is given twice"},
	}
	for _, tt := range tests {
		got, err := ParseScales(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "--scale") {
				t.Errorf("ParseScales(%q) = %v, %v; want an error naming --scale with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseScales(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestBenchConsoleScaleConfigValidate(t *testing.T) {
	good := ScaleConfig{Scales: []int{200, 10000}, Days: 30, PG: "postgres://x", ClickHouse: "clickhouse://x",
		Brokers: []string{"127.0.0.1:9092"}, Keel: "/usr/local/bin/keel"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate of a good config: %v", err)
	}
	reuse := good
	reuse.Reuse = "console_1796319272790"
	if err := reuse.Validate(); err != nil {
		t.Errorf("--reuse of a run name --keep printed: %v", err)
	}
	tests := []struct {
		name   string
		change func(*ScaleConfig)
		want   string
	}{
		{"no scale", func(c *ScaleConfig) { c.Scales = nil }, "--scale"},
		{"a zero scale", func(c *ScaleConfig) { c.Scales = []int{200, 0} }, "--scale: 0"},
		{"no days", func(c *ScaleConfig) { c.Days = 0 }, "--days 0"},
		{"too many days", func(c *ScaleConfig) { c.Days = 1000 }, "--days 1000"},
		{"no postgres", func(c *ScaleConfig) { c.PG = "" }, "--pg"},
		{"no brokers", func(c *ScaleConfig) { c.Brokers = nil }, "--brokers"},
		{"no binary", func(c *ScaleConfig) { c.Keel = "" }, "keel binary"},
		{"reuse names no run", func(c *ScaleConfig) { c.Reuse = "x; DROP DATABASE keel" }, "--reuse"},
	}
	for _, tt := range tests {
		c := good
		tt.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestBenchConsolePrintScales(t *testing.T) {
	target := 300 * time.Millisecond
	small := consoleReport{Requests: 40, Concurrency: 4, TargetMS: 300, MetTarget: true, Pages: []consoleResult{
		{Pattern: "/", Role: "admin", P95: 12.4, Want: 200},
		{Pattern: "/activity", Role: "admin", P95: 120, Want: 200},
		{Pattern: "/customers", Role: "admin", P95: 90, Want: 200},
	}}
	big := consoleReport{Requests: 40, Concurrency: 4, TargetMS: 300, MetTarget: true, Pages: []consoleResult{
		{Pattern: "/", Role: "admin", P95: 14, Want: 200},
		{Pattern: "/activity", Role: "admin", P95: 1250, Want: 200},
		{Pattern: "/customers", Role: "admin", P95: 301, Want: 200, Bad: true},
		{Pattern: "/orders", Role: "finance", P95: 40, Want: 200}, // reached only at this scale
	}}
	small.summarize(target)
	big.summarize(target)
	var out strings.Builder
	printScales(&out, []scaleReport{
		{Customers: 200, Data: scaleData{Orders: 895, Events: 386975, Days: 30}, Report: small},
		{Customers: 10000, Data: scaleData{Orders: 34366, Events: 35400000, Days: 30}, Report: big},
	}, target)
	got := out.String()
	row := func(cells ...string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^` + strings.Join(cells, `\s+`) + `\s*$`)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`--scale 200,10000 .*40 requests per pattern, 4 in flight, target p95 < 300 ms`),
		row("PATTERN", "ROLE", "200", "10000"),
		row("/", "admin", "12 ms", "14 ms"),
		row("/activity", "admin", "120 ms", "1250 ms SLOW"),
		row("/customers", "admin", "90 ms", `301 ms ! not 200`),
		row("/orders", "finance", "—", "40 ms"),
		regexp.MustCompile(`(?m)^200 customers: every page met the target p95 < 300 ms$`),
		regexp.MustCompile(`(?m)^10000 customers: 2 of 4 pages over the target p95 < 300 ms: /activity 1250 ms, /customers 301 ms$`),
		regexp.MustCompile(`10000 customers: 34366 orders, 0 facts, 35400000 events over 30 days \(kept from an earlier run\)`),
	} {
		if !want.MatchString(got) {
			t.Errorf("the table has no match for %s:\n%s", want, got)
		}
	}
	if strings.Index(got, "/activity") > strings.Index(got, "/customers") {
		t.Errorf("rows are not in the measured order:\n%s", got)
	}
}
