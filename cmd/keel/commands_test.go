package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/migrations"
	"github.com/keelhq/keel/warehouse"
)

// runKeel runs the program in-process with the given environment.
func runKeel(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	return runKeelInput(t, env, "", args...)
}

// runKeelInput is runKeel with stdin holding input.
func runKeelInput(t *testing.T, env map[string]string, input string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, append([]string{"keel"}, args...), func(k string) string { return env[k] }, strings.NewReader(input), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// freshDatabases creates an empty Postgres and ClickHouse database and
// returns the environment pointing keel at them.
func freshDatabases(t *testing.T) map[string]string {
	t.Helper()
	st := teststack.Get(t)
	ctx := context.Background()
	name := fmt.Sprintf("fresh_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, st.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	store, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Conn().Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		envPG:         strings.Replace(st.Postgres.URL(), "/keel?", "/"+name+"?", 1),
		envClickHouse: "clickhouse://" + st.ClickHouse.Addr() + "/" + name,
		envBrokers:    strings.Join(st.Kafka.Brokers(), ","),
		envTopic:      "test." + name,
		envCollect:    "127.0.0.1:" + freePort(t),
		envLoadAddr:   "127.0.0.1:" + freePort(t),
	}
}

func TestServicesRefuseASchemaThatIsBehind(t *testing.T) {
	env := freshDatabases(t)
	for _, cmd := range []string{"collect", "load", "console", "activity"} {
		args := []string{cmd}
		if cmd == "activity" {
			args = append(args, "--tenant", "t-1")
		}
		if cmd == "console" {
			args = append(args, "--addr", "127.0.0.1:"+freePort(t))
		}
		_, _, err := runKeel(t, env, args...)
		if !errors.Is(err, migrations.ErrBehind) || !strings.Contains(err.Error(), "keel migrate") {
			t.Errorf("keel %s on an empty database: %v, want a schema-behind error that says to run keel migrate", cmd, err)
		}
	}

	out, _, err := runKeel(t, env, "migrate")
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out, "postgres: applied 0001_") || !strings.Contains(out, "clickhouse: applied 0001_") {
		t.Errorf("first migrate printed %q, want the applied migrations", out)
	}
	out, _, err = runKeel(t, env, "migrate")
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if strings.Contains(out, "applied") || !strings.Contains(out, "schema up to date") {
		t.Errorf("second migrate printed %q, want nothing applied", out)
	}
	// With the schema current, the topic is there too, and the loader starts
	// (and stops when told).
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"keel", "load"}, func(k string) string { return env[k] }, nil, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	time.Sleep(2 * time.Second)
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("keel load on a current schema: %v", err)
	}
}

// TestHalfAppliedClickHouseMigrationIsRerun: ClickHouse has no DDL
// transactions, so a migration cut off half-way must simply run again.
func TestHalfAppliedClickHouseMigrationIsRerun(t *testing.T) {
	env := freshDatabases(t)
	ctx := context.Background()
	store, err := warehouse.Open(ctx, env[envClickHouse])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	first := migrations.ClickHouse()[0].Statements()
	if err := store.Conn().Exec(ctx, first[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.ApplyClickHouse(ctx, store.Conn(), "UTC"); err != nil {
		t.Fatalf("apply after a half-applied migration: %v", err)
	}
	if err := migrations.CheckClickHouse(ctx, store.Conn()); err != nil {
		t.Errorf("check: %v", err)
	}
}

// TestEveryClickHouseMigrationRunsAgain: every ClickHouse migration cut
// off after its last statement (before its version was recorded) runs
// again — ADD COLUMN too, which 18.16 cannot say IF NOT EXISTS of.
func TestEveryClickHouseMigrationRunsAgain(t *testing.T) {
	env := freshDatabases(t)
	ctx := context.Background()
	store, err := warehouse.Open(ctx, env[envClickHouse])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, m := range migrations.ClickHouse() {
		for i, stmt := range m.StatementsIn("UTC") {
			if err := store.Conn().Exec(ctx, stmt); err != nil {
				t.Fatalf("%04d_%s statement %d: %v", m.Version, m.Name, i+1, err)
			}
		}
	}
	if _, err := migrations.ApplyClickHouse(ctx, store.Conn(), "UTC"); err != nil {
		t.Fatalf("apply after every migration ran once unrecorded: %v", err)
	}
	if err := migrations.CheckClickHouse(ctx, store.Conn()); err != nil {
		t.Errorf("check: %v", err)
	}
	var n uint64
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'key_id'").Scan(&n); err != nil || n != 1 {
		t.Errorf("events.key_id: %d columns, %v", n, err)
	}
}

func TestTokenIngestAndActivityJSON(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runKeel(t, env, "token", "ingest", "billing-app", "--max-age", "2400h")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "keel_ingest_") || strings.Contains(key, "\n") {
		t.Fatalf("token ingest printed %q, want one key", out)
	}
	if _, _, err := runKeel(t, env, "token", "ingest"); err == nil {
		t.Error("token ingest without a name succeeded")
	}

	ctx := context.Background()
	store, err := warehouse.Open(ctx, env[envClickHouse])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b := warehouse.Batch{Topic: "test.direct"}
	day := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for i, e := range []ingest.Event{
		{Tenant: "t-9", ID: "a", Type: "login", User: "u1", Time: day, Props: "{}"},
		{Tenant: "t-9", ID: "b", Type: "login", User: "u2", Time: day.Add(time.Hour), Props: "{}"},
		{Tenant: "t-9", ID: "c", Type: "page_view", User: "u2", Time: day.Add(2 * time.Hour), Props: "{}"},
	} {
		b.AddEvent(&e, warehouse.Position{Partition: 0, Offset: int64(i)}, day)
	}
	if err := store.Insert(ctx, &b); err != nil {
		t.Fatal(err)
	}
	out, _, err = runKeel(t, env, "activity", "--tenant", "t-9", "--from", "2026-11-21", "--to", "2026-11-22", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q is not one JSON object: %v", out, err)
	}
	want := `{"days":[{"active_users":0,"day":"2026-11-21","logins":0,"mau":0,"wau":0},{"active_users":2,"day":"2026-11-22","logins":2,"mau":2,"wau":2}],"tenant":"t-9","trend":"up"}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("activity --json\n got %s\nwant %s", b, want)
	}
	_, _, err = runKeel(t, env, "activity", "--tenant", "t-9", "--from", "2026-11-23", "--to", "2026-11-22")
	if err == nil || !strings.Contains(err.Error(), "from") {
		t.Errorf("from after to: %v, want an error naming from", err)
	}
}

// TestMigrateTimezone: keel migrate --tz cuts the daily rollups in that
// zone, and the commands that read days refuse another --tz, naming the
// rollups' zone and how to change it.
func TestMigrateTimezone(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := warehouse.Open(ctx, env[envClickHouse])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// 23:30 UTC on the 21st is the 22nd in Shanghai.
	day := time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC)
	b := warehouse.Batch{Topic: "test.direct"}
	e := ingest.Event{Tenant: "t-8", ID: "a", Type: "login", User: "u1", Time: day, Props: "{}"}
	b.AddEvent(&e, warehouse.Position{Partition: 0, Offset: 0}, day)
	if err := store.Insert(ctx, &b); err != nil {
		t.Fatal(err)
	}
	activity := func(tz string) (string, error) {
		out, _, err := runKeel(t, env, "activity", "--tenant", "t-8", "--from", "2026-11-21", "--to", "2026-11-22", "--tz", tz, "--json")
		return out, err
	}
	if _, err := activity("Asia/Shanghai"); err == nil || !strings.Contains(err.Error(), "--tz") || !strings.Contains(err.Error(), "UTC") ||
		!strings.Contains(err.Error(), "keel migrate --tz Asia/Shanghai") {
		t.Errorf("activity --tz Asia/Shanghai on rollups cut in UTC: %v, want a refusal naming both zones and keel migrate --tz", err)
	}
	if _, _, err := runKeel(t, env, "migrate", "--tz", "Mars/Olympus"); err == nil || !strings.Contains(err.Error(), "Mars/Olympus") {
		t.Errorf("migrate --tz Mars/Olympus: %v, want an error naming the zone", err)
	}
	if _, _, err := runKeel(t, env, "migrate", "--tz", "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	out, err := activity("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `{"day":"2026-11-21","active_users":0,"logins":0`) || !strings.Contains(out, `{"day":"2026-11-22","active_users":1,"logins":1`) {
		t.Errorf("activity in Shanghai: %s, want the login on the 22nd", out)
	}
	if _, err := activity("UTC"); err == nil || !strings.Contains(err.Error(), "Asia/Shanghai") {
		t.Errorf("activity --tz UTC on rollups cut in Shanghai: %v, want a refusal", err)
	}
	_, _, err = runKeel(t, env, "console", "--addr", "127.0.0.1:"+freePort(t), "--tz", "UTC")
	if err == nil || !strings.Contains(err.Error(), "--tz") || !strings.Contains(err.Error(), "Asia/Shanghai") {
		t.Errorf("console --tz UTC on rollups cut in Shanghai: %v, want a refusal", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, err := runKeel(t, nil, "frobnicate")
	if err == nil || !strings.Contains(err.Error(), "frobnicate") || !strings.Contains(stderr, "Commands:") {
		t.Errorf("unknown command: err %v, stderr %q", err, stderr)
	}
	out, _, err := runKeel(t, nil, "help")
	if err != nil || !strings.Contains(out, "activity") {
		t.Errorf("help: %v %q", err, out)
	}
}
