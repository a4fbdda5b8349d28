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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// TestRelayCrashEveryFactOnce is DESIGN.md's second guarantee under attack:
// "a Postgres change that should reach ClickHouse (an approved order, a
// voided one) always does, exactly once in effect".
//
// Eight writers do a sales team's work through the real stores: 200
// customers, then 5,000 orders — each customer's first a new edition, then
// renewals and seat add-ons — each submitted and approved by finance with
// a payment, and every third order that is not a customer's first voided.
// A tenth of the approvals first go out with a deadline of a few
// milliseconds and are retried with the same payment, as a client whose
// request timed out would: the first attempt may roll back after writing
// its facts (a gap in the outbox ids), or commit anyway and make the retry
// a harmless repeat.
//
// All the while the working `keel relay` process is SIGKILLed: five times
// at random moments, and five times right after Kafka acknowledged a batch
// and before the batch was marked sent, so that facts are certainly sent
// twice. A standby relay takes over each time.
//
// Afterwards ClickHouse holds exactly the outbox's fact ids, the loader
// inserted each of them once, and ClickHouse agrees with the Postgres
// records, counted from customers, orders and grants rather than from the
// outbox: a customer.created and a tenant.linked fact per customer, an
// order.approved fact per order ever approved, an order.voided fact per
// void order, a subscription.changed fact per subscription each approval
// and void touched, and for every order the latest fact about it tells
// the status Postgres has.
//
// Unlike TestCrashNothingLostNothingDoubled it runs on either broker: the
// processes killed here only produce, and the loader (the one consumer)
// is left alone.
func TestRelayCrashEveryFactOnce(t *testing.T) {
	const (
		customers = 200
		orders    = 5000
		writers   = 8
		kills     = 10
	)
	st := teststack.Get(t)
	ctx := context.Background()
	run := fmt.Sprintf("relaycrash%d", time.Now().UnixNano()%1e9)
	brokers := st.Kafka.Brokers()
	for _, topic := range []string{"test." + run, keel.FactsTopic} {
		if err := collector.EnsureTopic(ctx, brokers, topic, 8); err != nil {
			t.Fatal(err)
		}
	}
	// A connection for each writer and a few to spare: the default pool
	// (four on two cores) would make the writers queue for connections
	// rather than for each other's locks.
	db, err := postgres.Open(ctx, st.Postgres.URL()+fmt.Sprintf("&pool_max_conns=%d", writers+4))
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
	published := topicSize(t, brokers, keel.FactsTopic)

	env := []string{
		"KEEL_PG_URL=" + st.Postgres.URL(),
		"KEEL_CLICKHOUSE_URL=" + st.ClickHouse.URL(),
		"KEEL_KAFKA_BROKERS=" + strings.Join(brokers, ","),
		"KEEL_EVENTS_TOPIC=test." + run,
		"KEEL_LOAD_GROUP=" + run,
		"KEEL_FACTS_GROUP=" + run + "-facts",
		"KEEL_LOG_LEVEL=info",
	}
	store, err := warehouse.Open(ctx, st.ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The loader reads the facts topic from its start; facts of earlier
	// tests that ClickHouse lacks it stores too, and they must not count
	// as copies of this test's facts.
	_, earlier, err := store.FactCountsBetween(ctx, 1, uint64(baseline))
	if err != nil {
		t.Fatal(err)
	}
	loadPort := freePort(t)
	startProc(t, "loader", append(env, "KEEL_LOAD_ADDR=127.0.0.1:"+loadPort), "load")
	relayPorts := []string{freePort(t), freePort(t)}
	relays := make([]*proc, len(relayPorts))
	for i, port := range relayPorts {
		relays[i] = startProc(t, fmt.Sprintf("relay-%d", i), append(env, "KEEL_RELAY_ADDR=127.0.0.1:"+port), "relay")
		waitHTTP(t, "http://127.0.0.1:"+port+"/readyz", time.Minute)
	}

	b := newBusiness(ctx, t, db, run)

	// Chaos: SIGKILL the relay that holds the lock at random points of the
	// business day, and start it again a moment later (it then stands by).
	// The points are counted in business changes, not seconds, so that the
	// kills fall among the changes however fast this machine makes them.
	// Every other kill is not left to chance: it strikes the relay after
	// Kafka acknowledged a batch and before the batch is marked sent (see
	// killBetweenPublishAndMark), so facts are certainly sent twice.
	var changes atomic.Int64
	workDone := make(chan struct{})
	var chaos sync.WaitGroup
	var randomKills, aimedKills, aimedHits atomic.Int32
	chaos.Add(1)
	go func() {
		defer chaos.Done()
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
		// At least this many changes are made: a customer each, three
		// per order (create, submit, approve), voids on top.
		least := float64(customers + 3*orders)
		for i := 0; i < kills; i++ {
			at := int64(least * (0.03 + 0.85*(float64(i)+rng.Float64())/kills))
			for changes.Load() < at {
				select {
				case <-workDone:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			victim := rng.IntN(len(relays))
			for j, port := range relayPorts {
				if relayActive("http://127.0.0.1:" + port + "/metrics") {
					victim = j
				}
			}
			if i%2 == 1 {
				hit, err := killBetweenPublishAndMark(ctx, db, relays[victim], relays[1-victim], rng)
				if err != nil {
					t.Errorf("kill relay-%d between publishing and marking: %v", victim, err)
					return
				}
				aimedKills.Add(1)
				if hit {
					aimedHits.Add(1)
				}
			} else {
				relays[victim].kill()
				select {
				case <-workDone:
				default:
					randomKills.Add(1)
				}
			}
			time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
			relays[victim].start()
		}
	}()

	var wg sync.WaitGroup
	tallies := make([]tally, writers)
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := customers*(w+1)/writers - customers*w/writers
			n := orders*(w+1)/writers - orders*w/writers
			if err := b.work(w, mine, n, &changes, &tallies[w]); err != nil {
				errs <- fmt.Errorf("writer %d: %w", w, err)
			}
		}()
	}
	wg.Wait()
	worked := time.Since(start)
	close(workDone)
	chaos.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var sum tally
	for _, x := range tallies {
		sum.customers += x.customers
		sum.approved += x.approved
		sum.voided += x.voided
		sum.cutOff += x.cutOff
	}
	if n := randomKills.Load(); n < 5 {
		t.Fatalf("relay killed at random %d times while the orders were made, want at least 5", n)
	}
	if hits := aimedHits.Load(); hits < aimedKills.Load() {
		t.Errorf("%d of %d kills aimed between publishing and marking hit that window", hits, aimedKills.Load())
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
			t.Fatalf("%d facts still unsent 2 minutes after the last change", unsent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var outboxIDs []uint64
	wantKinds := map[keel.FactKind]uint64{}
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
		wantKinds[keel.FactKind(kind)]++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(outboxIDs) == 0 {
		t.Fatal("no facts in the outbox")
	}
	from, to := uint64(baseline)+1, outboxIDs[len(outboxIDs)-1]

	// What Postgres says happened, from the records themselves.
	truth := b.truth(t)
	if truth.customers != sum.customers || truth.approved+truth.void != sum.approved || truth.void != sum.voided || truth.other != 0 {
		t.Fatalf("Postgres has %d customers and %d approved, %d void, %d other orders; the writers made %d customers, approved %d orders and voided %d",
			truth.customers, truth.approved, truth.void, truth.other, sum.customers, sum.approved, sum.voided)
	}

	// … and stored in ClickHouse exactly once.
	// The loader has drained when ClickHouse has as many facts as the
	// outbox, or has gained none for 30 s (then the checks below say which
	// are missing rather than only how many).
	deadline = time.Now().Add(3 * time.Minute)
	stored, lastGain := 0, time.Now()
	for {
		ids, _, err := store.StoredFactIDs(ctx, from, to)
		if err != nil {
			t.Logf("read stored facts: %v", err)
		}
		if len(ids) >= len(outboxIDs) {
			break
		}
		if len(ids) > stored {
			stored, lastGain = len(ids), time.Now()
		}
		if time.Since(lastGain) > 30*time.Second {
			t.Errorf("ClickHouse has %d of %d facts, and gained none in the last 30 s", len(ids), len(outboxIDs))
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
		missing, extra := diffIDs(outboxIDs, ids)
		t.Errorf("ClickHouse has %d distinct fact ids, the outbox %d; they must be the same ids (missing %v, extra %v)",
			len(ids), len(outboxIDs), missing, extra)
	}
	if copies != 0 {
		t.Errorf("%d facts stored in more than one row", copies)
	}
	// Merges fold copies away, so a row count alone may miss them; the
	// loader's own count of the rows it inserted does not forget.
	_, earlierNow, err := store.FactCountsBetween(ctx, 1, uint64(baseline))
	if err != nil {
		t.Fatal(err)
	}
	loaderMetrics := "http://127.0.0.1:" + loadPort + "/metrics"
	inserted, err := scrapeValue(loaderMetrics, `keel_facts_loader_messages_total{outcome="stored"}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(len(outboxIDs)) + earlierNow - earlier; uint64(inserted) != want {
		t.Errorf("the loader inserted %d fact rows for %d facts; it must insert each fact once", uint64(inserted), want)
	}
	byKind, total, err := store.FactCountsBetween(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if total != uint64(len(outboxIDs)) || !reflect.DeepEqual(byKind, wantKinds) {
		t.Errorf("ClickHouse counts %v (total %d), the outbox %v (total %d)", byKind, total, wantKinds, len(outboxIDs))
	}

	// ClickHouse against the records.
	got, err := store.FactsOfCustomers(ctx, from, to, truth.customerIDs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[keel.FactKind]uint64{
		keel.FactCustomerCreated:     truth.customers,
		keel.FactTenantLinked:        truth.customers,
		keel.FactOrderApproved:       truth.approved + truth.void,
		keel.FactOrderVoided:         truth.void,
		keel.FactSubscriptionChanged: truth.subscriptionChanges,
	}
	if !reflect.DeepEqual(got.Kinds, want) {
		t.Errorf("facts of the test's customers in ClickHouse by kind:\n got %v\nwant %v (from the Postgres records)", got.Kinds, want)
	}
	var wrong []string
	for id, status := range truth.orders {
		f, ok := got.Orders[id]
		wantKind := keel.FactOrderApproved
		if status == keel.OrderVoid {
			wantKind = keel.FactOrderVoided
		}
		if !ok || f.Kind != wantKind || f.Status != status {
			wrong = append(wrong, fmt.Sprintf("order %d is %s in Postgres; its last fact in ClickHouse: %+v", id, status, f))
		}
	}
	for id, f := range got.Orders {
		if _, ok := truth.orders[id]; !ok {
			wrong = append(wrong, fmt.Sprintf("order %d is not an approved or void order of the test's customers, yet ClickHouse has %+v", id, f))
		}
	}
	if len(wrong) > 0 {
		slices.Sort(wrong)
		t.Errorf("%d of %d orders disagree, e.g.:\n%s", len(wrong), len(truth.orders), strings.Join(wrong[:min(len(wrong), 10)], "\n"))
	}

	// Each kill between publishing and marking made the next relay send
	// that batch again: the checks above had copies to catch.
	published = topicSize(t, brokers, keel.FactsTopic) - published
	if resent := published - int64(len(outboxIDs)); resent < int64(aimedHits.Load()) {
		t.Errorf("%d messages published for %d facts: at least %d should have been sent again", published, len(outboxIDs), aimedHits.Load())
	}
	t.Logf("%d customers, %d orders approved (%d of the approvals cut off first and retried), %d voided in %s by %d writers; "+
		"%d facts (%v), %d outbox ids taken by transactions that rolled back; the working relay was killed %d times at random and %d times between publishing and marking; "+
		"%d messages published (%d re-sent); loader: %s",
		truth.customers, truth.approved+truth.void, sum.cutOff, truth.void, worked.Round(time.Millisecond), writers,
		len(outboxIDs), wantKinds, to-from+1-uint64(len(outboxIDs)), randomKills.Load(), aimedHits.Load(),
		published, published-int64(len(outboxIDs)),
		scrapePrefix(loaderMetrics, "keel_facts_loader_messages_total{"))
}

// killBetweenPublishAndMark freezes both relays (SIGSTOP) while a backlog
// builds, locks the backlog's outbox rows, and lets the working relay go on:
// it reads the rows, publishes them (Kafka acknowledges) and then waits for
// the locks to mark them sent. There it is SIGKILLed, and its Postgres
// session ended — what the server does on its own once it notices the
// dead client; a session waiting for a lock does not notice. The standby
// wakes half a second later, takes the lock and sends the batch again, so
// the copies reach the loader in a later batch than the first ones, and
// only the loader's question to ClickHouse can drop them. It reports
// whether the relay was caught waiting to mark; if not (it was not the
// working relay after all), it was killed all the same.
func killBetweenPublishAndMark(ctx context.Context, db *postgres.DB, working, standby *proc, rng *rand.Rand) (bool, error) {
	working.cmd.Process.Signal(syscall.SIGSTOP)
	standby.cmd.Process.Signal(syscall.SIGSTOP)
	defer standby.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(200*time.Millisecond + time.Duration(rng.Int64N(int64(300*time.Millisecond))))
	tx, err := db.Pool().Begin(ctx)
	if err != nil {
		working.kill()
		return false, err
	}
	defer tx.Rollback(ctx)
	var locked int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM outbox WHERE sent_at IS NULL FOR UPDATE) x`).Scan(&locked); err != nil {
		working.kill()
		return false, fmt.Errorf("lock the backlog: %w", err)
	}
	working.cmd.Process.Signal(syscall.SIGCONT)
	pid := int32(0)
	for deadline := time.Now().Add(5 * time.Second); locked > 0 && pid == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		err := db.Pool().QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE outbox SET sent_at%'`).Scan(&pid)
		if err != nil {
			working.kill()
			return false, fmt.Errorf("find the relay waiting to mark: %w", err)
		}
	}
	working.kill()
	if pid != 0 {
		if _, err := db.Pool().Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			return false, fmt.Errorf("end the dead relay's session: %w", err)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		return false, err
	}
	time.Sleep(500 * time.Millisecond)
	return pid != 0, nil
}

// business is the staff and catalogue the crash test trades with.
type business struct {
	ctx            context.Context
	db             *postgres.DB
	run            string
	sales, finance keel.Employee
	edition, seats keel.Product
	customerSeq    atomic.Int64
}

// newBusiness adds an admin, a salesperson and a finance clerk, and the
// admin adds an edition and a seat add-on bound to its term, both priced
// per month.
func newBusiness(ctx context.Context, t *testing.T, db *postgres.DB, run string) *business {
	t.Helper()
	b := &business{ctx: ctx, db: db, run: run}
	var admin keel.Employee
	for _, x := range []struct {
		e    *keel.Employee
		role keel.Role
	}{{&admin, keel.RoleAdmin}, {&b.sales, keel.RoleSales}, {&b.finance, keel.RoleFinance}} {
		e, _, err := db.AddEmployee(ctx, keel.System, keel.Employee{
			Email: fmt.Sprintf("%s-%s@example.com", x.role, run), Name: "Crash " + string(x.role), Roles: []keel.Role{x.role}})
		if err != nil {
			t.Fatal(err)
		}
		*x.e = e
	}
	for _, x := range []struct {
		p      *keel.Product
		code   string
		kind   keel.ProductKind
		amount int64
	}{{&b.edition, "pro", keel.KindEdition, 5000}, {&b.seats, "seats", keel.KindAddonTerm, 1000}} {
		p, err := db.CreateProduct(ctx, admin, keel.Product{Code: run + "-" + x.code, Name: x.code, Kind: x.kind, Unit: "seat"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddPrice(ctx, admin, keel.PriceVersion{ProductID: p.ID, Amount: x.amount, Currency: "USD",
			Period: keel.PeriodMonth, EffectiveFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		*x.p = p
	}
	return b
}

// tally is what one writer did.
type tally struct {
	customers, approved, voided, cutOff uint64
}

// work is one writer: it creates its customers, then makes n orders for
// them in turn. A customer's first order is a new edition, the later ones
// alternate renewals of it and seat add-ons; every third order that is not
// a customer's first is voided, some at once and some a few orders later,
// so that an order's approval and void are apart in the outbox. The
// customer's first order is never voided: the renewals and add-ons need
// its edition in service. Each committed change counts in changes.
func (b *business) work(w, customers, n int, changes *atomic.Int64, tl *tally) error {
	rng := rand.New(rand.NewPCG(uint64(w), 5))
	type account struct {
		id     int64
		toVoid []int64
	}
	accounts := make([]account, customers)
	for i := range accounts {
		seq := b.customerSeq.Add(1)
		c, err := b.db.CreateCustomer(b.ctx, b.sales, keel.Customer{Name: fmt.Sprintf("Crash %s %d", b.run, seq),
			TenantID: fmt.Sprintf("%s-%d", b.run, seq), SalesOwner: &b.sales.ID})
		if err != nil {
			return fmt.Errorf("create customer: %w", err)
		}
		accounts[i].id = c.ID
		changes.Add(1)
		tl.customers++
	}
	void := func(a *account) error {
		id := a.toVoid[0]
		a.toVoid = a.toVoid[1:]
		if _, err := b.db.VoidOrder(b.ctx, b.finance, id); err != nil {
			return fmt.Errorf("void order %d: %w", id, err)
		}
		changes.Add(1)
		tl.voided++
		return nil
	}
	later := 0
	for k := range n {
		a := &accounts[k%len(accounts)]
		kind, line := keel.OrderNew, keel.LineRequest{ProductID: b.edition.ID, Quantity: int64(1 + rng.IntN(20)), Months: 12}
		switch round := k / len(accounts); {
		case round == 0:
		case round%2 == 1:
			kind, line = keel.OrderRenewal, keel.LineRequest{ProductID: b.edition.ID, Quantity: line.Quantity, Months: 1 + rng.IntN(3)}
		default:
			kind, line = keel.OrderAddon, keel.LineRequest{ProductID: b.seats.ID, Quantity: int64(1 + rng.IntN(5)), Months: 1}
		}
		o, err := b.db.CreateOrder(b.ctx, b.sales, a.id, kind, []keel.LineRequest{line})
		if err != nil {
			return fmt.Errorf("create %s order for customer %d: %w", kind, a.id, err)
		}
		changes.Add(1)
		id := o.ID
		if o, err = b.db.SubmitOrder(b.ctx, b.sales, id); err != nil {
			return fmt.Errorf("submit order %d: %w", id, err)
		}
		changes.Add(1)
		p := keel.Payment{Amount: o.Total(), PaidAt: time.Now().Add(-time.Minute), Reference: fmt.Sprintf("INV-%s-%d", b.run, o.ID)}
		if rng.IntN(10) == 0 {
			// A request cut off mid-way: its transaction rolls back,
			// perhaps after writing its facts, or commits all the same.
			// The client retries with the same payment, which is a
			// harmless repeat when the first attempt went through.
			cctx, cancel := context.WithTimeout(b.ctx, time.Duration(rng.Int64N(int64(20*time.Millisecond))))
			_, err := b.db.ApproveOrder(cctx, b.finance, o.ID, p)
			cancel()
			if err != nil {
				tl.cutOff++
			}
		}
		if _, err := b.db.ApproveOrder(b.ctx, b.finance, o.ID, p); err != nil {
			return fmt.Errorf("approve %s order %d: %w", kind, o.ID, err)
		}
		changes.Add(1)
		tl.approved++
		if kind != keel.OrderNew {
			if later++; later%3 == 0 {
				a.toVoid = append(a.toVoid, o.ID)
			}
		}
		if len(a.toVoid) > 0 && rng.IntN(2) == 0 {
			if err := void(a); err != nil {
				return err
			}
		}
	}
	for i := range accounts {
		for len(accounts[i].toVoid) > 0 {
			if err := void(&accounts[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// records is what the Postgres records of the test's customers say, read
// from customers, orders and grants — not from the outbox.
type records struct {
	customerIDs         []uint64
	customers           uint64
	orders              map[uint64]keel.OrderStatus // approved and void orders
	approved, void      uint64                      // orders approved now, and void
	other               uint64                      // orders in any other status
	subscriptionChanges uint64                      // subscriptions each approval and each void touched
}

func (b *business) truth(t *testing.T) records {
	t.Helper()
	r := records{orders: map[uint64]keel.OrderStatus{}}
	pool := b.db.Pool()
	rows, err := pool.Query(b.ctx, `SELECT id FROM customers WHERE tenant_id LIKE $1 ORDER BY id`, b.run+"-%")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		r.customerIDs = append(r.customerIDs, uint64(id))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	r.customers = uint64(len(r.customerIDs))
	ids := make([]int64, len(r.customerIDs))
	for i, id := range r.customerIDs {
		ids[i] = int64(id)
	}
	rows, err = pool.Query(b.ctx, `SELECT id, status FROM orders WHERE customer_id = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var status keel.OrderStatus
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		switch status {
		case keel.OrderApproved:
			r.approved++
		case keel.OrderVoid:
			r.void++
		default:
			r.other++
			continue
		}
		r.orders[uint64(id)] = status
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// An approval writes a subscription.changed fact for each subscription
	// its grants touch, and a void one for each of the same again.
	if err := pool.QueryRow(b.ctx,
		`SELECT count(*) + count(*) FILTER (WHERE o.status = 'void')
		 FROM (SELECT DISTINCT order_id, subscription_id FROM grants) g JOIN orders o ON o.id = g.order_id
		 WHERE o.customer_id = ANY($1)`, ids).Scan(&r.subscriptionChanges); err != nil {
		t.Fatal(err)
	}
	return r
}

// diffIDs returns up to ten ids of want missing from got, and of got not in
// want; both are sorted.
func diffIDs(want, got []uint64) (missing, extra []uint64) {
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || i < len(want) && want[i] < got[j]:
			if len(missing) < 10 {
				missing = append(missing, want[i])
			}
			i++
		case i == len(want) || got[j] < want[i]:
			if len(extra) < 10 {
				extra = append(extra, got[j])
			}
			j++
		default:
			i, j = i+1, j+1
		}
	}
	return missing, extra
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

// scrapeValue returns the value of one series of the metrics at url, 0 when
// the series has no sample yet.
func scrapeValue(url, series string) (float64, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, nil
}

// topicSize returns how many messages topic holds. A topic created a
// moment ago may answer "not leader" for a while; it asks again for up to
// 30 s.
func topicSize(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := countMessages(brokers, topic)
		if err == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func countMessages(brokers []string, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		return 0, fmt.Errorf("metadata of %s: %v", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	var n int64
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("offsets of %s partition %d: %w", topic, p.Partition, p.Error)
		}
		n += p.LastOffset - p.FirstOffset
	}
	return n, nil
}
