package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/warehouse"
)

// TestMigrateCluster: keel migrate --clickhouse-cluster makes the schema
// on both shards of a cluster (and a second run nothing), keel load starts
// on it inserting straight to the shards, and keel activity reads it from
// the other node.
func TestMigrateCluster(t *testing.T) {
	env := freshDatabases(t)
	c, err := devstack.StartClickHouseCluster(t.Context(), devstack.ClickHouseClusterConfig{Dir: t.TempDir(), Name: "pair", Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	env[envClickHouse] = c.Nodes[0].URL()

	out, _, err := runKeel(t, env, "migrate", "--clickhouse-cluster", "pair")
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, n := range c.Nodes {
		if !strings.Contains(out, "clickhouse "+n.Addr()) || !strings.Contains(out, "applied 0001_events") {
			t.Errorf("migrate printed %q, want the migrations applied on %s", out, n.Addr())
		}
	}
	out, _, err = runKeel(t, env, "migrate", "--clickhouse-cluster", "pair")
	if err != nil || strings.Contains(out, "applied") {
		t.Errorf("second migrate printed %q (%v), want nothing applied", out, err)
	}
	// Another zone: every node's rollups are made again, and both record it.
	if _, _, err := runKeel(t, env, "migrate", "--clickhouse-cluster", "pair", "--tz", "Asia/Kolkata"); err != nil {
		t.Fatalf("migrate in another zone: %v", err)
	}
	for _, n := range c.Nodes {
		s, err := warehouse.Open(t.Context(), n.URL())
		if err != nil {
			t.Fatal(err)
		}
		zone, err := s.RollupZone(t.Context())
		s.Close()
		if err != nil || zone != "Asia/Kolkata" {
			t.Errorf("%s: rollups in %q (%v), want Asia/Kolkata", n.Addr(), zone, err)
		}
	}
	if _, _, err := runKeel(t, env, "migrate", "--clickhouse-cluster", "trio"); err == nil || !strings.Contains(err.Error(), "trio is not in system.clusters") {
		t.Errorf("migrate to an undeclared cluster: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"keel", "load", "--clickhouse-cluster", "pair", "--clickhouse-insert", "local"}, func(k string) string { return env[k] }, nil, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	time.Sleep(2 * time.Second)
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("keel load on the cluster: %v", err)
	}

	env[envClickHouse] = c.Nodes[1].URL()
	if out, _, err := runKeel(t, env, "activity", "--tenant", "t-1", "--json", "--tz", "Asia/Kolkata"); err != nil || !strings.Contains(out, `"t-1"`) {
		t.Errorf("keel activity from the second node: %q, %v", out, err)
	}
}
