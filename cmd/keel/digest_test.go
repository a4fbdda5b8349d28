package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestConsoleScoresDigestsAndServesMetrics starts keel console on a
// migrated, empty company with --metrics-addr: it scores yesterday at
// start, makes the day's digests after it, and serves the scoring's and
// the digest's metrics on the metrics address (and not on the console's).
func TestConsoleScoresDigestsAndServesMetrics(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	addr, metrics := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"keel", "console", "--addr", addr, "--metrics-addr", metrics, "--secure-cookies=false"},
			func(k string) string { return env[k] }, nil, io.Discard, &stderr)
	}()
	conn, err := pgx.Connect(ctx, env[envPG])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The digest is made after the scoring's metrics are counted: wait for
	// both, the metrics and yesterday's digest day.
	want := []string{"keel_scoring_duration_seconds_count 1", "keel_scoring_customers_scored 0", `keel_alerts_open{rule="no_login"} 0`,
		"keel_digest_deliveries_failed_total 0", `keel_digest_delivery_attempts_total{outcome="failed"} 0`}
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	var body string
	var days int
	var day time.Time
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get("http://" + metrics + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(max(day), '1970-01-01') FROM digest_days`).Scan(&days, &day); err != nil {
			t.Fatal(err)
		}
		if missing == "" && days > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("keel console stopped: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: metrics lack %q (digest days %d):\n%s", missing, days, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if days != 1 || day.Format(time.DateOnly) != yesterday {
		t.Errorf("digest days: %d, the last %s; want yesterday's (%s)", days, day.Format(time.DateOnly), yesterday)
	}
	if resp, err := http.Get("http://" + addr + "/metrics"); err != nil || resp.StatusCode == http.StatusOK {
		t.Errorf("the console's own listener serves /metrics: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("keel console stopping: %v", err)
	}
}
