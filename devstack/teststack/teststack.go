// Package teststack gives integration tests one set of real servers per test
// binary: Postgres, ClickHouse and a Kafka broker from devstack, with Keel's
// migrations applied. The servers start on first use, so a package's unit
// tests alone start nothing, and stop when the tests end.
//
// KEEL_TEST_KAFKA picks the broker: kfake (the default) or apache, a real
// Apache Kafka broker. A server that cannot start fails the test; it is
// never skipped.
package teststack

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/migrations"
)

var (
	once  sync.Once
	stack *devstack.Stack
	dir   string
	err   error
)

// Main runs the tests and then stops the servers. Call it from TestMain:
//
//	func TestMain(m *testing.M) { teststack.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if stack != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		stack.Stop(ctx)
		cancel()
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// Get returns the running servers, starting them on first use.
func Get(t testing.TB) *devstack.Stack {
	t.Helper()
	once.Do(start)
	if err != nil {
		t.Fatalf("start test servers: %v", err)
	}
	return stack
}

// freshSeq numbers the databases FreshPostgres creates.
var freshSeq atomic.Int64

// FreshPostgres returns the URL of a new, empty database on the test
// Postgres with Keel's migrations applied, for a test that needs a company
// of its own: one whose every employee it knows (how many admins there
// are, say), which the shared database, where other tests add theirs,
// cannot give.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	s := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("fresh_%d_%d", os.Getpid(), freshSeq.Add(1))
	pool, err := pgxpool.New(ctx, s.Postgres.URL())
	if err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	u, err := url.Parse(s.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	fresh, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	defer fresh.Close()
	if _, err := migrations.ApplyPostgres(ctx, fresh); err != nil {
		t.Fatalf("fresh database: migrate: %v", err)
	}
	return u.String()
}

func start() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if dir, err = os.MkdirTemp("", "keel-test-"); err != nil {
		return
	}
	stack, err = devstack.StartStack(ctx, devstack.StackConfig{Dir: dir, Kafka: os.Getenv("KEEL_TEST_KAFKA")})
	if err != nil {
		return
	}
	err = migrate(ctx, stack)
}

func migrate(ctx context.Context, s *devstack.Stack) error {
	pool, err := pgxpool.New(ctx, s.Postgres.URL())
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pool.Close()
	if _, err := migrations.ApplyPostgres(ctx, pool); err != nil {
		return err
	}
	opts, err := clickhouse.ParseDSN(s.ClickHouse.URL())
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	defer conn.Close()
	_, err = migrations.ApplyClickHouse(ctx, conn, "UTC")
	return err
}

var (
	zoneMu   sync.Mutex
	zoneURLs = map[string]string{}
)

// ClickHouseIn returns the URL of a ClickHouse database on the shared
// server whose daily rollups are cut in zone, migrated as `keel migrate
// --tz zone` would: the shared database for UTC, otherwise one of its own
// per zone, made on first use. A test whose reporting timezone is not UTC
// reads days from it, since a warehouse refuses days of another zone.
func ClickHouseIn(t testing.TB, zone string) string {
	t.Helper()
	s := Get(t)
	if zone == "" || zone == "UTC" {
		return s.ClickHouse.URL()
	}
	zoneMu.Lock()
	defer zoneMu.Unlock()
	if u, ok := zoneURLs[zone]; ok {
		return u
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := "zone_" + strings.NewReplacer("/", "_", "-", "_", "+", "_").Replace(strings.ToLower(zone))
	opts, err := clickhouse.ParseDSN(s.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	u := "clickhouse://" + s.ClickHouse.Addr() + "/" + db
	if opts, err = clickhouse.ParseDSN(u); err != nil {
		t.Fatal(err)
	}
	zconn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("clickhouse %s: %v", db, err)
	}
	defer zconn.Close()
	if _, err := migrations.ApplyClickHouse(ctx, zconn, zone); err != nil {
		t.Fatalf("migrate %s in %s: %v", db, zone, err)
	}
	zoneURLs[zone] = u
	return u
}
