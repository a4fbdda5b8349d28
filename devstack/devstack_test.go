package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
)

// testLogger sends devstack's messages to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort() = %d", p)
	}
	if err := checkPortsFree(p); err != nil {
		t.Fatalf("port from FreePort is not free: %v", err)
	}
}

func TestPostgres(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		// t.TempDir's parent is mode 0700: unreachable for user postgres.
		{"tempdir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "pg") }},
		// A directory every user can traverse: the data stays inside Dir.
		{"reachable", func(t *testing.T) string {
			d, err := os.MkdirTemp("", "keel-devstack-test-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(d) })
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "pg")
		}},
		// Under the home directory (/root when we are root).
		{"home", func(t *testing.T) string {
			d, err := os.MkdirTemp(home, "keel-devstack-test-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(d) })
			return filepath.Join(d, "pg")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testPostgres(t, tc.dir(t))
		})
	}
}

// TestPostgresRelocatedCleanup checks that a relocated data directory whose
// Dir was deleted is removed by the next relocating start.
func TestPostgresRelocatedCleanup(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	dir1 := filepath.Join(t.TempDir(), "a")
	pg1, err := StartPostgres(ctx, PostgresConfig{Dir: dir1})
	if err != nil {
		t.Fatal(err)
	}
	if err := pg1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	data1 := pg1.DataDir()
	relocated := !strings.HasPrefix(data1, dir1+"/")
	if err := os.RemoveAll(dir1); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && !relocated {
		t.Fatalf("as root, a Dir under t.TempDir() (parent mode 0700) should be relocated; data dir %s", data1)
	}

	dir2 := filepath.Join(t.TempDir(), "b")
	pg2, err := StartPostgres(ctx, PostgresConfig{Dir: dir2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		pg2.Stop(ctx)
		if !strings.HasPrefix(pg2.DataDir(), dir2+"/") {
			os.RemoveAll(filepath.Dir(pg2.DataDir()))
		}
	}()
	if relocated {
		if _, err := os.Stat(filepath.Dir(data1)); !os.IsNotExist(err) {
			t.Fatalf("orphaned relocated data dir %s still there (stat err %v)", filepath.Dir(data1), err)
		}
	}
}

func testPostgres(t *testing.T, dir string) {
	ctx := testCtx(t, 3*time.Minute)
	pg, err := StartPostgres(ctx, PostgresConfig{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if !strings.HasPrefix(pg.DataDir(), dir+"/") {
			os.RemoveAll(filepath.Dir(pg.DataDir()))
		}
	})
	wantURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/keel?sslmode=disable", pg.Port())
	if pg.URL() != wantURL {
		t.Errorf("URL() = %q, want %q", pg.URL(), wantURL)
	}
	inDir := strings.HasPrefix(pg.DataDir(), dir+"/")
	_, recErr := os.Stat(filepath.Join(dir, pgDataDirFile))
	if inDir == (recErr == nil) {
		t.Errorf("data dir %s: in Dir=%v but relocation record present=%v", pg.DataDir(), inDir, recErr == nil)
	}
	t.Logf("data dir: %s", pg.DataDir())

	exec := func(sql string, args ...any) {
		t.Helper()
		conn, err := pgx.Connect(ctx, pg.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		t.Helper()
		conn, err := pgx.Connect(ctx, pg.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec("CREATE TABLE events (id int PRIMARY KEY, name text)")
	exec("INSERT INTO events VALUES (1, 'signup'), (2, 'login')")

	// A second server on the same Dir must fail, say why, and leave the
	// first one alone.
	_, err = StartPostgres(ctx, PostgresConfig{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "already using") {
		t.Fatalf("second server on the same Dir: err = %v", err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after failed second start: %d rows, want 2", n)
	}

	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := pgx.Connect(ctx, pg.URL()); err == nil {
		t.Fatal("connect succeeded after Stop")
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after Stop/Start: %d rows, want 2", n)
	}

	if err := pg.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after Kill/Start: %d rows, want 2", n)
	}
	exec("INSERT INTO events VALUES (3, 'logout')")
}

func TestClickHouse(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	dir := t.TempDir()
	ch, err := StartClickHouse(ctx, ClickHouseConfig{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ch.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if !strings.HasPrefix(ch.URL(), "clickhouse://127.0.0.1:") || !strings.HasSuffix(ch.URL(), "/default") {
		t.Errorf("URL() = %q", ch.URL())
	}
	if !strings.HasPrefix(ch.HTTPURL(), "http://127.0.0.1:") {
		t.Errorf("HTTPURL() = %q", ch.HTTPURL())
	}

	query := func(sql string) uint64 {
		t.Helper()
		opts, err := clickhouse.ParseDSN(ch.URL())
		if err != nil {
			t.Fatal(err)
		}
		conn, err := clickhouse.Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var n uint64
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	execSQL := func(sql string) {
		t.Helper()
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := conn.Exec(ectx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if n := query("SELECT toUInt64(1)"); n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
	execSQL("CREATE TABLE events (ts DateTime, name String) ENGINE = MergeTree() ORDER BY ts")
	// INSERT ... SELECT runs entirely on the server: clickhouse-go's
	// client-side INSERT (VALUES/batches) needs a newer server than 18.16.
	execSQL("INSERT INTO events SELECT now(), toString(number) FROM system.numbers LIMIT 2")

	// A second server on the same data must fail, and say why.
	_, err = StartClickHouse(ctx, ClickHouseConfig{Dir: dir})
	if err == nil {
		t.Fatal("second server on the same Dir started")
	}
	t.Logf("second server on the same Dir: %v", err)
	if !strings.Contains(err.Error(), "already using") {
		t.Errorf("second server error does not explain the lock: %v", err)
	}
	// The failed attempt must have left the running server's config alone.
	if b, err := os.ReadFile(ch.configPath); err != nil || string(b) != string(ch.config()) {
		t.Fatalf("config.xml changed by the failed second start (read err %v)", err)
	}

	if err := ch.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ch.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := ch.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := query("SELECT count() FROM events"); n != 2 {
		t.Fatalf("after Stop/Start: %d rows, want 2", n)
	}
	if err := ch.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := ch.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	if err := ch.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n := query("SELECT count() FROM events"); n != 2 {
		t.Fatalf("after Kill/Start: %d rows, want 2", n)
	}
}

func TestKfake(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	k, err := StartKfake(ctx, KfakeConfig{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if k.Name() != "kfake" {
		t.Errorf("Name() = %q", k.Name())
	}
	exerciseBroker(t, ctx, k)
}

func TestKfakeDirInUse(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	dir := t.TempDir()
	k, err := StartKfake(ctx, KfakeConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop(ctx)
	if k2, err := StartKfake(ctx, KfakeConfig{Dir: dir}); err == nil {
		k2.Stop(ctx)
		t.Fatal("second kfake on the same Dir started")
	}
}

func TestApacheKafka(t *testing.T) {
	ctx := testCtx(t, 8*time.Minute)
	dir := t.TempDir()
	k, err := StartApacheKafka(ctx, ApacheKafkaConfig{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if k.Name() != "apache-kafka" {
		t.Errorf("Name() = %q", k.Name())
	}
	// A second broker on the same Dir must fail and say why.
	if _, err := StartApacheKafka(ctx, ApacheKafkaConfig{Dir: dir}); err == nil || !strings.Contains(err.Error(), "already using") {
		t.Fatalf("second broker on the same Dir: err = %v", err)
	}
	exerciseBroker(t, ctx, k)
}

func TestStack(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	s, err := StartStack(ctx, StackConfig{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pgData := s.Postgres.DataDir()
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		os.RemoveAll(filepath.Dir(pgData))
	})
	if s.Kafka.Name() != "kfake" {
		t.Errorf("default Kafka = %q", s.Kafka.Name())
	}
	conn, err := pgx.Connect(ctx, s.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	// Left open during Stop on purpose: Stop must not hang on idle clients.
	chConn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.ClickHouse.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer chConn.Close()
	if err := chConn.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(s.Kafka.Brokers()...)}
	if _, err := client.Metadata(ctx, &kafka.MetadataRequest{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop took %s with idle clients connected", d)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestStackUnknownKafka(t *testing.T) {
	_, err := StartStack(context.Background(), StackConfig{Dir: t.TempDir(), Kafka: "redpanda"})
	if err == nil || !strings.Contains(err.Error(), "redpanda") {
		t.Fatalf("err = %v", err)
	}
}

// exerciseBroker produces and consumes through b and checks that messages
// and a consumer group's committed offset survive Stop/Start and
// Kill/Start.
func exerciseBroker(t *testing.T, ctx context.Context, b Broker) {
	const topic, group = "events", "keel-test"
	brokers := b.Brokers()
	if len(brokers) != 1 || !strings.HasPrefix(brokers[0], "127.0.0.1:") {
		t.Fatalf("Brokers() = %v", brokers)
	}

	first := produce(t, ctx, brokers, topic, "first")
	got := consumeGroup(t, ctx, brokers, topic, group)
	if string(got.Value) != "first" {
		t.Fatalf("group consumed %q, want first", got.Value)
	}

	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !equal(b.Brokers(), brokers) {
		t.Fatalf("Brokers() changed across restart: %v -> %v", brokers, b.Brokers())
	}
	checkCommitted(t, ctx, brokers, topic, group, got.Partition, got.Offset+1)
	if v := readAt(t, ctx, brokers, topic, first.Partition, first.Offset); v != "first" {
		t.Fatalf("after Stop/Start read %q, want first", v)
	}

	// The group resumes after its committed offset: it must see only the
	// new message.
	second := produce(t, ctx, brokers, topic, "second")
	got = consumeGroup(t, ctx, brokers, topic, group)
	if string(got.Value) != "second" {
		t.Fatalf("group consumed %q after restart, want second", got.Value)
	}

	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := b.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, ctx, brokers, topic, group, got.Partition, got.Offset+1)
	if v := readAt(t, ctx, brokers, topic, second.Partition, second.Offset); v != "second" {
		t.Fatalf("after Kill/Start read %q, want second", v)
	}
	if v := readAt(t, ctx, brokers, topic, first.Partition, first.Offset); v != "first" {
		t.Fatalf("after Kill/Start read %q, want first", v)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// produce writes one message, retrying while the topic is being
// auto-created, and returns where it landed.
func produce(t *testing.T, ctx context.Context, brokers []string, topic, value string) kafka.Message {
	t.Helper()
	w := &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Topic:                  topic,
		AllowAutoTopicCreation: true,
		BatchTimeout:           10 * time.Millisecond,
		RequiredAcks:           kafka.RequireAll,
	}
	defer w.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := w.WriteMessages(ctx, kafka.Message{Key: []byte(value), Value: []byte(value)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("produce %q: %v", value, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Find it: the writer does not report the offset.
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range md.Topics {
		for _, p := range tp.Partitions {
			conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			last, err := conn.ReadLastOffset()
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			if last > 0 && readAt(t, ctx, brokers, topic, p.ID, last-1) == value {
				return kafka.Message{Topic: topic, Partition: p.ID, Offset: last - 1, Value: []byte(value)}
			}
		}
	}
	t.Fatalf("produced %q but cannot find it", value)
	return kafka.Message{}
}

// consumeGroup reads the next message as a member of group and commits it.
func consumeGroup(t *testing.T, ctx context.Context, brokers []string, topic, group string) kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        brokers,
		GroupID:        group,
		Topic:          topic,
		StartOffset:    kafka.FirstOffset,
		MaxWait:        100 * time.Millisecond,
		CommitInterval: 0, // synchronous commits
	})
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	m, err := r.FetchMessage(rctx)
	if err != nil {
		t.Fatalf("group fetch: %v", err)
	}
	if err := r.CommitMessages(rctx, m); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return m
}

// checkCommitted asserts group's committed offset for one partition,
// retrying while the group coordinator is still loading after a restart.
func checkCommitted(t *testing.T, ctx context.Context, brokers []string, topic, group string, partition int, want int64) {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {partition}}})
		if err == nil && resp.Error == nil {
			for _, p := range resp.Topics[topic] {
				if p.Partition == partition {
					if p.Error != nil {
						err = p.Error
					} else if p.CommittedOffset == want {
						return
					} else {
						err = fmt.Errorf("committed offset %d, want %d", p.CommittedOffset, want)
					}
				}
			}
		} else if err == nil {
			err = resp.Error
		}
		if err == nil {
			err = errors.New("partition missing from offset fetch")
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offset of %s/%s/%d: %v", group, topic, partition, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readAt reads the message at one offset.
func readAt(t *testing.T, ctx context.Context, brokers []string, topic string, partition int, offset int64) string {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := r.ReadMessage(rctx)
	if err != nil {
		t.Fatalf("read %s/%d@%d: %v", topic, partition, offset, err)
	}
	return string(m.Value)
}

// TestStackFailureStopsOthers makes ClickHouse fail once Postgres is up and
// checks that StartStack stopped Postgres and kfake again.
func TestStackFailureStopsOthers(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	dir := t.TempDir()
	pgDir := filepath.Join(dir, "postgres")
	cfg := StackConfig{Dir: dir, Logger: testLogger(t)}
	cfg.beforeStart = func(ctx context.Context, server string) error {
		if server != "clickhouse" {
			return nil
		}
		// Fail only after the postmaster accepts connections, so the
		// others are really running when the failure comes.
		for ctx.Err() == nil {
			b, _ := os.ReadFile(filepath.Join(pgDir, "postgres.log"))
			if strings.Contains(string(b), "ready to accept connections") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return errors.New("start clickhouse: injected failure")
	}
	_, err := StartStack(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	t.Logf("StartStack: %v", err)

	data := filepath.Join(pgDir, "pgdata")
	if b, err := os.ReadFile(filepath.Join(pgDir, pgDataDirFile)); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		data = lines[len(lines)-1]
		t.Cleanup(func() { os.RemoveAll(filepath.Dir(data)) })
	}
	resolved, err := filepath.EvalSymlinks(data)
	if err != nil {
		t.Fatal(err)
	}
	if pids := processesWithCwd(resolved); len(pids) > 0 {
		t.Fatalf("postgres processes still running in %s: %v", data, pids)
	}
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		t.Errorf("postmaster.pid left behind: postgres was not shut down")
	}
	lock, err := lockDir(filepath.Join(dir, "kafka"), ".devstack-kfake.lock")
	if err != nil {
		t.Fatalf("kfake still holds its directory: %v", err)
	}
	lock.Close()
}

// TestClickHouseCluster starts two servers as the shards of one cluster
// and checks that each lists both in system.clusters and that a
// Distributed table spreads rows over them.
func TestClickHouseCluster(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	c, err := StartClickHouseCluster(ctx, ClickHouseClusterConfig{Dir: t.TempDir(), Name: "pair", Shards: 2, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	conns := make([]clickhouse.Conn, len(c.Nodes))
	for i, n := range c.Nodes {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{n.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns[i] = conn
	}
	for i, conn := range conns {
		rows, err := conn.Query(ctx, "SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = 'pair' ORDER BY shard_num")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var shard uint32
			var host string
			var port uint16
			if err := rows.Scan(&shard, &host, &port); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d %s:%d", shard, host, port))
		}
		rows.Close()
		want := []string{"1 " + c.Nodes[0].Addr(), "2 " + c.Nodes[1].Addr()}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("node %d: system.clusters = %v, want %v", i+1, got, want)
		}
		for _, sql := range []string{
			"CREATE TABLE n (x UInt64) ENGINE = MergeTree() ORDER BY x",
			"CREATE TABLE d AS n ENGINE = Distributed(pair, default, n, x)",
		} {
			if err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("node %d: %s: %v", i+1, sql, err)
			}
		}
	}
	// Synchronous: the insert returns once both shards have their rows.
	syncCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	if err := conns[0].Exec(syncCtx, "INSERT INTO d SELECT number FROM system.numbers LIMIT 10"); err != nil {
		t.Fatal(err)
	}
	for i, conn := range conns {
		var local, all uint64
		if err := conn.QueryRow(ctx, "SELECT (SELECT count() FROM n), (SELECT count() FROM d)").Scan(&local, &all); err != nil {
			t.Fatal(err)
		}
		if local != 5 || all != 10 {
			t.Errorf("node %d holds %d rows and reads %d through the Distributed table; want 5 and 10", i+1, local, all)
		}
	}
}
