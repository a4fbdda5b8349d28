package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDevScoresTheDemo: on a first start keel dev scores every day of the
// demo's events once they are stored, oldest first, with the warnings
// evaluated from the first day on — the daily scoring waits, so it cannot
// score yesterday alone first and leave the history without warnings.
func TestDevScoresTheDemo(t *testing.T) {
	const days = 40
	dir := t.TempDir()
	ports := []string{freePort(t), freePort(t), freePort(t)}
	var stdout syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"keel", "dev", "--dir", dir, "--demo-tenants", "12", "--demo-days", "40", "--log-level", "warn",
			"--addr", "127.0.0.1:" + ports[0], "--collect-addr", "127.0.0.1:" + ports[1], "--load-addr", "127.0.0.1:" + ports[2]},
			func(string) string { return "" }, nil, &stdout, io.Discard)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("keel dev did not stop within a minute")
		}
	}()
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(stdout.String(), "Ready.") {
		select {
		case err := <-done:
			t.Fatalf("keel dev stopped before it was ready: %v\n%s", err, stdout.String())
		case <-deadline:
			t.Fatalf("keel dev not ready after 5 minutes:\n%s", stdout.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !strings.Contains(stdout.String(), "days scored") {
		t.Errorf("keel dev printed\n%s\nwant a line on the demo's days scored", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, demoScoredMarker)); err != nil {
		t.Errorf("no %s marker after the demo was scored: %v", demoScoredMarker, err)
	}
	conn, err := pgx.Connect(ctx, devSetting(t, dir, "KEEL_PG_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, evaluated, scored int
	var first, last time.Time
	err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE alerts_evaluated), coalesce(sum(customers), 0), min(day), max(day) FROM scoring_days`).
		Scan(&n, &evaluated, &scored, &first, &last)
	if err != nil {
		t.Fatal(err)
	}
	if n != days || evaluated != days {
		t.Errorf("%d days scored, %d with warnings evaluated; want %d and %d", n, evaluated, days, days)
	}
	if scored == 0 {
		t.Error("no customer scored on any demo day")
	}
	if got := int(last.Sub(first).Hours()/24) + 1; got != days {
		t.Errorf("days scored run from %s to %s (%d days), want %d consecutive days", first.Format(time.DateOnly), last.Format(time.DateOnly), got, days)
	}
}

// devSetting reads one setting from the dev.env keel dev wrote in dir.
func devSetting(t *testing.T, dir, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "dev.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), name+"="); ok {
			return v
		}
	}
	t.Fatalf("dev.env has no %s", name)
	return ""
}
