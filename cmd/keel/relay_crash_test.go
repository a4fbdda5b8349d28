package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// TestRelayCrashEveryFactOnce is DESIGN.md's second guarantee under attack:
// concurrent transactions add facts to the outbox (a tenth of them roll
// back) while the working `keel relay` process is SIGKILLed at random
// moments — between reading and publishing, between Kafka's acknowledgement
// and the mark, while it waits — and a standby relay takes over each time.
// Afterwards ClickHouse holds exactly the outbox's fact ids, each in one row,
// and the counts by kind agree with Postgres.
//
// Unlike TestCrashNothingLostNothingDoubled it runs on either broker: the
// processes killed here only produce, and the loader (the one consumer)
// is left alone.
func TestRelayCrashEveryFactOnce(t *testing.T) {
	const (
		writers = 8
		kills   = 6
		sendFor = 20 * time.Second
	)
	st := teststack.Get(t)
	ctx := context.Background()
	run := fmt.Sprintf("relaycrash%d", time.Now().UnixNano()%1e9)
	brokers := st.Kafka.Brokers()
	for _, topic := range []string{"test." + run, postgres.FactsTopic} {
		if err := ingest.EnsureTopic(ctx, brokers, topic, 8); err != nil {
			t.Fatal(err)
		}
	}
	db, err := postgres.Open(ctx, st.Postgres.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The outbox of the shared keel database: this test's facts are those
	// after the highest id so far.
	var baseline int64
	if err := db.Pool().QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM outbox").Scan(&baseline); err != nil {
		t.Fatal(err)
	}
	published := topicSize(t, brokers, postgres.FactsTopic)

	env := []string{
		"KEEL_PG_URL=" + st.Postgres.URL(),
		"KEEL_CLICKHOUSE_URL=" + st.ClickHouse.URL(),
		"KEEL_KAFKA_BROKERS=" + strings.Join(brokers, ","),
		"KEEL_EVENTS_TOPIC=test." + run,
		"KEEL_LOAD_GROUP=" + run,
		"KEEL_FACTS_GROUP=" + run + "-facts",
		"KEEL_LOG_LEVEL=info",
	}
	loadPort := freePort(t)
	startProc(t, "loader", append(env, "KEEL_LOAD_ADDR=127.0.0.1:"+loadPort), "load")
	relayPorts := []string{freePort(t), freePort(t)}
	relays := make([]*proc, len(relayPorts))
	for i, port := range relayPorts {
		relays[i] = startProc(t, fmt.Sprintf("relay-%d", i), append(env, "KEEL_RELAY_ADDR=127.0.0.1:"+port), "relay")
		waitHTTP(t, "http://127.0.0.1:"+port+"/readyz", time.Minute)
	}

	// Chaos: every so often, SIGKILL the relay that holds the lock, and
	// start it again a moment later (it then stands by).
	chaosCtx, stopChaos := context.WithCancel(ctx)
	defer stopChaos()
	var chaos sync.WaitGroup
	var killed atomic.Int32
	chaos.Add(1)
	go func() {
		defer chaos.Done()
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
		step := sendFor / (kills + 1)
		for i := 0; i < kills; i++ {
			select {
			case <-chaosCtx.Done():
				return
			case <-time.After(step/2 + time.Duration(rng.Int64N(int64(step)))):
			}
			victim := rng.IntN(len(relays))
			for j, port := range relayPorts {
				if relayActive("http://127.0.0.1:" + port + "/metrics") {
					victim = j
				}
			}
			relays[victim].kill()
			killed.Add(1)
			time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
			relays[victim].start()
		}
	}()

	kinds := []string{postgres.FactCustomerCreated, postgres.FactCustomerUpdated, postgres.FactTenantLinked,
		postgres.FactOrderApproved, postgres.FactOrderVoided, postgres.FactSubscriptionChanged}
	var wg sync.WaitGroup
	var committedTx, rolledBackTx atomic.Int64
	errs := make(chan error, writers)
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := 0; time.Since(start) < sendFor; i++ {
				commit := rng.IntN(10) != 0
				if err := addFacts(ctx, db, commit, rng, kinds, run); err != nil {
					errs <- err
					return
				}
				if commit {
					committedTx.Add(1)
				} else {
					rolledBackTx.Add(1)
				}
				time.Sleep(time.Duration(rng.IntN(4)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	chaos.Wait()
	if n := killed.Load(); n < 5 {
		t.Fatalf("relay killed %d times, want at least 5", n)
	}

	// Every committed fact is sent …
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var unsent int64
		if err := db.Pool().QueryRow(ctx, "SELECT count(*) FROM outbox WHERE id > $1 AND sent_at IS NULL", baseline).Scan(&unsent); err != nil {
			t.Fatal(err)
		}
		if unsent == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d facts still unsent 2 minutes after the last kill", unsent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var outboxIDs []uint64
	wantKinds := map[string]uint64{}
	rows, err := db.Pool().Query(ctx, "SELECT id, kind FROM outbox WHERE id > $1 ORDER BY id", baseline)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var kind string
		if err := rows.Scan(&id, &kind); err != nil {
			t.Fatal(err)
		}
		outboxIDs = append(outboxIDs, uint64(id))
		wantKinds[kind]++
	}
	rows.Close()
	if len(outboxIDs) == 0 || rolledBackTx.Load() == 0 {
		t.Fatalf("%d facts committed, %d transactions rolled back; want some of each", len(outboxIDs), rolledBackTx.Load())
	}
	from, to := uint64(baseline)+1, outboxIDs[len(outboxIDs)-1]

	// … and stored in ClickHouse exactly once.
	store, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline = time.Now().Add(3 * time.Minute)
	for {
		ids, _, err := store.StoredFactIDs(ctx, from, to)
		if err != nil {
			t.Logf("read stored facts: %v", err)
		}
		if len(ids) >= len(outboxIDs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse has %d of %d facts 3 minutes after the last one was sent", len(ids), len(outboxIDs))
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Give a duplicate a chance to land before judging.
	time.Sleep(2 * time.Second)
	ids, copies, err := store.StoredFactIDs(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, outboxIDs) {
		t.Errorf("ClickHouse has %d distinct fact ids, the outbox %d; they must be the same ids", len(ids), len(outboxIDs))
	}
	if copies != 0 {
		t.Errorf("%d facts stored in more than one row", copies)
	}
	byKind, total, err := store.FactCountsBetween(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if total != uint64(len(outboxIDs)) || !reflect.DeepEqual(byKind, wantKinds) {
		t.Errorf("ClickHouse counts %v (total %d), the outbox %v (total %d)", byKind, total, wantKinds, len(outboxIDs))
	}
	published = topicSize(t, brokers, postgres.FactsTopic) - published
	t.Logf("%d facts from %d committed transactions (%d rolled back) in %s; the working relay was killed %d times; %d messages published (%d re-sent); loader: %s",
		len(outboxIDs), committedTx.Load(), rolledBackTx.Load(), sendFor, killed.Load(), published, published-int64(len(outboxIDs)),
		scrapePrefix("http://127.0.0.1:"+loadPort+"/metrics", "keel_facts_loader_messages_total{"))
}

// addFacts adds one to three facts in one transaction, committed or rolled
// back.
func addFacts(ctx context.Context, db *postgres.DB, commit bool, rng *rand.Rand, kinds []string, run string) error {
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	n := 1 + rng.IntN(3)
	for range n {
		customer := int64(1 + rng.IntN(500))
		f := postgres.Fact{
			Kind:       kinds[rng.IntN(len(kinds))],
			CustomerID: customer,
			Tenant:     fmt.Sprintf("%s-%d", run, customer),
			Data:       map[string]any{"n": rng.IntN(1000)},
		}
		if err := postgres.AddFact(ctx, tx, f); err != nil {
			return err
		}
	}
	if !commit {
		return tx.Rollback(ctx)
	}
	return tx.Commit(ctx)
}

// relayActive reports whether the relay serving url holds the outbox lock.
func relayActive(url string) bool {
	return strings.Contains(scrapePrefix(url, "keel_relay_active "), "keel_relay_active 1")
}

// scrapePrefix returns the metric lines of url that start with prefix.
func scrapePrefix(url, prefix string) string {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(prefix)) {
			out = append(out, string(line))
		}
	}
	return strings.Join(out, "; ")
}

// topicSize returns how many messages topic holds.
func topicSize(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("offsets of %s: %v", topic, err)
	}
	var n int64
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("offsets of %s partition %d: %v", topic, p.Partition, p.Error)
		}
		n += p.LastOffset - p.FirstOffset
	}
	return n
}
