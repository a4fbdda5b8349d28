package console_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

func TestMain(m *testing.M) { teststack.Main(m) }

func newConsole(t *testing.T, now time.Time) *httptest.Server {
	t.Helper()
	st := teststack.Get(t)
	ctx := context.Background()
	store, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	db, err := postgres.Open(ctx, st.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.UpsertTenants(ctx, []postgres.Tenant{{ID: "c-known", Name: "Known & Co"}}); err != nil {
		t.Fatal(err)
	}
	b := warehouse.Batch{Topic: "test.console"}
	for i, e := range []ingest.Event{
		{Tenant: "c-known", ID: "1", Type: "login", User: "u1", Time: now.Add(-time.Hour), Props: "{}"},
		{Tenant: "c-known", ID: "2", Type: "login", User: "u2", Time: now.Add(-2 * time.Hour), Props: "{}"},
		{Tenant: "c-stranger", ID: "1", Type: "login", User: "u1", Time: now.Add(-time.Hour), Props: "{}"},
	} {
		b.AddEvent(&e, warehouse.Position{Partition: 0, Offset: int64(i)}, now)
	}
	if err := store.Insert(ctx, &b); err != nil {
		t.Fatal(err)
	}
	h, err := console.NewServer(console.Deps{Warehouse: store, Names: db, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestEveryPageRenders(t *testing.T) {
	// Noon, so that the events an hour or two before are on the same day.
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	srv := newConsole(t, now)
	tests := []struct {
		path       string
		wantStatus int
		wantText   []string
	}{
		{"/", 200, []string{"c-known", "Known &amp; Co", "c-stranger", "unknown tenant"}},
		{"/activity?tenant=c-known", 200, []string{"c-known · Known &amp; Co", "Login trend", `data-option="`}},
		{"/activity", 400, []string{"tenant: choose a tenant"}},
		{"/activity?tenant=c-known&to=yesterday", 400, []string{"not a date"}},
		{"/no-such-page", 404, []string{"There is no page at /no-such-page"}},
		{"/healthz", 200, []string{"ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, h, body := get(t, srv.URL+tt.path)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.HasPrefix(h.Get("Content-Type"), "text/html") && !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("no Content-Security-Policy on %s", tt.path)
			}
		})
	}
}

// TestActivityChartCarriesTheNumbers checks that the chart's option, built
// in Go, holds today's active users and logins.
func TestActivityChartCarriesTheNumbers(t *testing.T) {
	// Noon, so that the events an hour or two before are on the same day.
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	srv := newConsole(t, now)
	_, _, body := get(t, srv.URL+"/activity?tenant=c-known")
	m := regexp.MustCompile(`data-option="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no chart on the page")
	}
	var opt struct {
		XAxis []struct {
			Data []string `json:"data"`
		} `json:"xAxis"`
		Series []struct {
			Name string `json:"name"`
			Data []struct {
				Value float64 `json:"value"`
			} `json:"data"`
		} `json:"series"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &opt); err != nil {
		t.Fatalf("chart option is not JSON: %v", err)
	}
	if len(opt.XAxis) == 0 || len(opt.XAxis[0].Data) != 90 {
		t.Fatalf("x axis: %+v, want 90 days", opt.XAxis)
	}
	today := warehouse.DayOf(now, time.UTC).String()
	if last := opt.XAxis[0].Data[89]; last != today {
		t.Errorf("last day %s, want %s", last, today)
	}
	want := map[string]float64{"Logins": 2, "Active users": 2}
	for _, s := range opt.Series {
		if w, ok := want[s.Name]; ok {
			if got := s.Data[len(s.Data)-1].Value; got != w {
				t.Errorf("%s today = %v, want %v", s.Name, got, w)
			}
			delete(want, s.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("chart lacks series %v", want)
	}
}

func TestStaticAssetsAreServedFromTheBinary(t *testing.T) {
	srv := newConsole(t, time.Now().UTC())
	for _, p := range []string{"/static/echarts.min.js", "/static/charts.js", "/static/style.css"} {
		status, _, body := get(t, srv.URL+p)
		if status != 200 || len(body) == 0 {
			t.Errorf("%s: %d, %d bytes", p, status, len(body))
		}
	}
}
