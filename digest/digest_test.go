package digest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

func TestMain(m *testing.M) { teststack.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// company is a Postgres database of its own (so its CSMs are the only
// ones, and its days digested only here) beside the shared warehouse.
type company struct {
	t     *testing.T
	ctx   context.Context
	url   string
	pg    *postgres.DB
	ch    *warehouse.Store
	admin keel.Employee
}

func newCompany(t *testing.T) *company {
	t.Helper()
	ctx := context.Background()
	url := teststack.FreshPostgres(t)
	c := &company{t: t, ctx: ctx, url: url, pg: openPG(t, url)}
	ch, err := warehouse.Open(ctx, teststack.Get(t).ClickHouse.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	c.ch = ch
	c.admin = c.employee("Admin", keel.RoleAdmin)
	return c
}

func openPG(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func (c *company) employee(name string, roles ...keel.Role) keel.Employee {
	c.t.Helper()
	e, _, err := c.pg.AddEmployee(c.ctx, keel.System, keel.Employee{Email: name + "@example.com", Name: name, Roles: roles})
	if err != nil {
		c.t.Fatal(err)
	}
	return e
}

func (c *company) customer(name string, csm, sales *keel.Employee) int64 {
	c.t.Helper()
	cu := keel.Customer{Name: name}
	if csm != nil {
		cu.CSMOwner = &csm.ID
	}
	if sales != nil {
		cu.SalesOwner = &sales.ID
	}
	v, err := c.pg.CreateCustomer(c.ctx, c.admin, cu)
	if err != nil {
		c.t.Fatal(err)
	}
	return v.ID
}

// raise evaluates day's warnings as the scoring does: each rule given
// holds for its customer, at mrr USD.
func (c *company) raise(day time.Time, mrr int64, holds map[int64][]keel.AlertRule) {
	c.t.Helper()
	var evals []postgres.AlertEvaluation
	for cu, rules := range holds {
		for _, r := range rules {
			evals = append(evals, postgres.AlertEvaluation{CustomerID: cu, Rule: r, Holds: true, Evidence: keel.Evidence{"x": 1}, MRRAtRisk: mrr, Currency: "USD"})
		}
	}
	if _, err := c.pg.ApplyAlertEvaluations(c.ctx, day, evals); err != nil {
		c.t.Fatal(err)
	}
}

// scores stores day's health scores: customer → score (banded by the
// default settings), each with mrr.
func (c *company) scores(day time.Time, mrr int64, scores map[int64]int) {
	c.t.Helper()
	var rows []warehouse.HealthRow
	for id, s := range scores {
		rows = append(rows, warehouse.HealthRow{HealthScore: keel.HealthScore{CustomerID: id, Day: day, Score: s, Band: keel.DefaultHealthSettings.BandOf(s)},
			MRR: mrr, Currency: "USD"})
	}
	if err := c.ch.WriteHealthDay(c.ctx, day, rows); err != nil {
		c.t.Fatal(err)
	}
}

func (c *company) maker() *Maker { return NewMaker(c.pg, c.ch, quiet, nil) }

func (c *company) digest(day time.Time, employee int64) keel.DigestRecord {
	c.t.Helper()
	r, err := c.pg.Digest(c.ctx, day, employee)
	if err != nil {
		c.t.Fatalf("digest of %s for %d: %v", day.Format(time.DateOnly), employee, err)
	}
	return r
}

func date(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }

// TestDigestOfADay seeds two days of warnings and scores and makes the
// second day's digests: the CSM's holds the day's new warnings, the one
// still open from the day before, the customer that fell a band, each at
// its MRR; the seller's and the ownerless warnings are in the unassigned
// one; a second make, and two at once, make nothing more.
func TestDigestOfADay(t *testing.T) {
	c := newCompany(t)
	ana, bo := c.employee("Ana", keel.RoleCSM), c.employee("Bo", keel.RoleCSM)
	seller := c.employee("Sam", keel.RoleSales)
	acme, beta := c.customer("Acme", &ana, &seller), c.customer("Beta", &ana, nil)
	gamma, delta := c.customer("Gamma", nil, &seller), c.customer("Delta", nil, nil)
	echo := c.customer("Echo", &bo, nil)
	d1, d2 := date("2029-03-14"), date("2029-03-15")

	c.raise(d1, 3000, map[int64][]keel.AlertRule{acme: {keel.RuleLoginDrop}, echo: {keel.RuleNoLogin}})
	c.scores(d1, 3000, map[int64]int{acme: 70, beta: 90, echo: 60})
	c.raise(d2, 3000, map[int64][]keel.AlertRule{acme: {keel.RuleLoginDrop, keel.RuleNoLogin}, beta: {keel.RuleLowSeats},
		gamma: {keel.RuleNoLogin}, delta: {keel.RuleNoLogin}, echo: {keel.RuleNoLogin}})
	c.scores(d2, 4500, map[int64]int{acme: 65, beta: 60, echo: 30})
	// Bo works his warning: acknowledged, it is still open.
	bos, _, err := c.pg.Alerts(c.ctx, keel.AlertFilter{CustomerID: echo})
	if err != nil || len(bos) != 1 {
		t.Fatalf("Echo's warnings %+v, %v", bos, err)
	}
	if _, err := c.pg.AckAlert(c.ctx, bo, bos[0].ID); err != nil {
		t.Fatal(err)
	}

	made, n, err := c.maker().Make(c.ctx, d2)
	if err != nil || !made || n != 3 {
		t.Fatalf("make: %v %d %v, want Ana's, Bo's and the unassigned digest", made, n, err)
	}
	a := c.digest(d2, ana.ID)
	if a.State != keel.DigestUnsent || a.Digest.Day != "2029-03-15" || a.Digest.Employee != "Ana" || a.Digest.ID == "" {
		t.Errorf("Ana's digest %+v, want unsent (no webhook), of the 15th, with an id", a)
	}
	rules := map[string]bool{}
	for _, w := range a.Digest.New {
		rules[fmt.Sprintf("%d %s", w.CustomerID, w.Rule)] = true
		if w.MRRAtRisk != 4500 || w.Currency != "USD" {
			t.Errorf("new warning %+v, want the day's MRR 4500 USD", w)
		}
	}
	if len(a.Digest.New) != 2 || !rules[fmt.Sprintf("%d %s", acme, keel.RuleNoLogin)] || !rules[fmt.Sprintf("%d %s", beta, keel.RuleLowSeats)] {
		t.Errorf("Ana's new warnings %+v, want Acme's no login and Beta's low seat use", a.Digest.New)
	}
	if len(a.Digest.Open) != 1 || a.Digest.Open[0].CustomerID != acme || a.Digest.Open[0].Rule != keel.RuleLoginDrop || a.Digest.Open[0].RaisedOn != "2029-03-14" {
		t.Errorf("Ana's still-open warnings %+v, want Acme's login drop of the 14th", a.Digest.Open)
	}
	if len(a.Digest.Fell) != 1 || a.Digest.Fell[0].Customer != "Beta" || a.Digest.Fell[0].From != keel.BandGreen || a.Digest.Fell[0].To != keel.BandYellow {
		t.Errorf("Ana's falls %+v, want Beta green → yellow (Acme stayed yellow)", a.Digest.Fell)
	}
	if len(a.Digest.AtRisk) != 1 || a.Digest.AtRisk[0].Amount != 9000 {
		t.Errorf("Ana's MRR at risk %+v, want 9000 (Acme and Beta)", a.Digest.AtRisk)
	}
	b := c.digest(d2, bo.ID).Digest
	if len(b.New) != 0 || len(b.Open) != 1 || b.Open[0].State != keel.AlertAcked || len(b.Fell) != 1 || b.Fell[0].To != keel.BandRed {
		t.Errorf("Bo's digest %+v, want his acknowledged warning still open and Echo fallen to red", b)
	}
	u := c.digest(d2, 0).Digest
	if len(u.New) != 2 || u.EmployeeID != 0 {
		t.Errorf("unassigned digest %+v, want Gamma's (a seller's) and Delta's (no owner) warnings", u)
	}

	if made, _, err := c.maker().Make(c.ctx, d2); made || err != nil {
		t.Errorf("a second make: %v %v, want nothing made", made, err)
	}
	// Two scorers at once (two consoles, each its own pool) on a new day.
	d3 := date("2029-03-16")
	c.scores(d3, 4500, map[int64]int{acme: 20})
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := NewMaker(openPG(t, c.url), c.ch, quiet, nil)
			made, _, err := m.Make(c.ctx, d3)
			if err != nil {
				t.Error(err)
			}
			if made {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("two makers at once made the day %d times, want once", wins.Load())
	}
	if days, err := c.pg.DigestDays(c.ctx, ana.ID, 10); err != nil || len(days) != 2 || !days[0].Equal(d3) {
		t.Errorf("Ana's digest days %v, %v; want the 16th and the 15th", days, err)
	}
}

// receiver is a local webhook: it checks each delivery's signature and
// answers what fail says for its attempt.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    map[string][]keel.Digest // delivery id → bodies received, in order
	calls  map[string]int
	fail   func(attempt int) int // the status to answer; 0 = 200
	delay  time.Duration
	srv    *httptest.Server
}

// seen is how many times delivery id was called and received.
func (rc *receiver) seen(id string) (calls, received int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls[id], len(rc.got[id])
}

func newReceiver(t *testing.T, secret string, fail func(int) int) *receiver {
	rc := &receiver{t: t, secret: secret, got: map[string][]keel.Digest{}, calls: map[string]int{}, fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get(DeliveryHeader)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("delivery %s: %s with Content-Type %q, want a JSON POST", id, r.Method, r.Header.Get("Content-Type"))
	}
	if !Verify(rc.secret, body, r.Header.Get(SignatureHeader)) {
		rc.t.Errorf("delivery %s: signature %q does not match the body under the secret", id, r.Header.Get(SignatureHeader))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var d keel.Digest
	if err := json.Unmarshal(body, &d); err != nil || d.ID != id {
		rc.t.Errorf("delivery %s: body %s (%v), want a digest with that id", id, body, err)
	}
	time.Sleep(rc.delay)
	rc.mu.Lock()
	rc.calls[id]++
	n := rc.calls[id]
	if fmt.Sprint(n) != r.Header.Get(AttemptHeader) {
		rc.t.Errorf("delivery %s: attempt header %q on call %d", id, r.Header.Get(AttemptHeader), n)
	}
	status := 0
	if rc.fail != nil {
		status = rc.fail(n)
	}
	if status < 300 {
		rc.got[id] = append(rc.got[id], d)
	}
	rc.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
	}
}

// pending keeps n non-empty digests of day, queued: with a webhook set,
// saving them queues them.
func (c *company) pending(day time.Time, n int) []keel.Digest {
	c.t.Helper()
	var ds []keel.Digest
	for i := range n {
		e := c.employee(fmt.Sprintf("csm-%s-%d", day.Format("0102"), i), keel.RoleCSM)
		ds = append(ds, keel.Digest{Day: day.Format(time.DateOnly), EmployeeID: e.ID, Employee: e.Name,
			New: []keel.DigestWarning{{AlertID: int64(i + 1), Customer: "Acme", Rule: keel.RuleNoLogin, MRRAtRisk: 100, Currency: "USD"}}})
	}
	if made, err := c.pg.SaveDigests(c.ctx, day, ds); err != nil || !made {
		c.t.Fatalf("save digests: %v %v", made, err)
	}
	return ds
}

func (c *company) webhook(url, secret string) {
	c.t.Helper()
	if _, err := c.pg.SetDigestWebhook(c.ctx, c.admin, url, &secret); err != nil {
		c.t.Fatal(err)
	}
}

// run runs a worker with short waits until stop, and returns it.
func (c *company) run(db *postgres.DB, reg prometheus.Registerer, backoff ...time.Duration) (*Worker, func()) {
	c.t.Helper()
	w, err := NewWorker(Config{Backoff: backoff, Poll: 10 * time.Millisecond, Timeout: 2 * time.Second, Registerer: reg}, db, quiet)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	return w, func() { cancel(); <-done }
}

// await waits until every digest of day is in a final state.
func (c *company) await(day time.Time, employees []int64) map[int64]keel.DigestRecord {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := map[int64]keel.DigestRecord{}
		final := true
		for _, e := range employees {
			r := c.digest(day, e)
			out[e] = r
			final = final && (r.State == keel.DigestDelivered || r.State == keel.DigestFailed)
		}
		if final {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("digests not delivered nor failed after 30 s: %+v", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s %v", name, labels)
	return 0
}

// TestDelivery: a digest reaches a local receiver signed, with its id;
// one that fails twice gets it on the third attempt; one that always
// fails gives it up after the last attempt, counted in the metric; the
// log holds every attempt.
func TestDelivery(t *testing.T) {
	c := newCompany(t)
	const secret = "a-webhook-secret-of-ours"
	ok := newReceiver(t, secret, nil)
	c.webhook(ok.srv.URL+"/keel", secret)
	reg := prometheus.NewRegistry()
	_, stop := c.run(c.pg, reg, 20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond)
	day := date("2029-04-01")
	sent := c.pending(day, 1)[0]
	got := c.await(day, []int64{sent.EmployeeID})[sent.EmployeeID]
	if got.State != keel.DigestDelivered || got.Attempts != 1 || got.DeliveredAt == nil {
		t.Errorf("digest %+v, want delivered on the first attempt", got)
	}
	ok.mu.Lock()
	if bodies := ok.got[got.Digest.ID]; len(bodies) != 1 || bodies[0].Employee != sent.Employee || len(bodies[0].New) != 1 || bodies[0].New[0].Customer != "Acme" {
		t.Errorf("received %+v, want the digest once", ok.got)
	}
	ok.mu.Unlock()

	// Fails twice, then answers 204.
	flaky := newReceiver(t, secret, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	c.webhook(flaky.srv.URL, secret)
	day2 := date("2029-04-02")
	f := c.pending(day2, 1)[0]
	r := c.await(day2, []int64{f.EmployeeID})[f.EmployeeID]
	if calls, received := flaky.seen(r.Digest.ID); r.State != keel.DigestDelivered || r.Attempts != 3 || calls != 3 || received != 1 {
		t.Errorf("flaky receiver: %+v after %d calls, want delivered on the third attempt", r, calls)
	}
	log, total, err := c.pg.DigestDeliveries(c.ctx, keel.DigestDeliveryFilter{DigestID: r.ID})
	if err != nil || total != 3 || len(log) != 3 {
		t.Fatalf("delivery log %+v, %d, %v; want 3 attempts", log, total, err)
	}
	if log[2].Attempt != 1 || log[2].Status != 503 || log[2].Error == "" || log[2].NextAttempt == nil || log[0].Status != 204 || log[0].Error != "" || log[0].NextAttempt != nil {
		t.Errorf("delivery log %+v, want 503s with a next attempt, then 204", log)
	}

	// Always fails: four attempts (three waits), then given up.
	if before := counter(t, reg, "keel_digest_deliveries_failed_total"); before != 0 {
		t.Errorf("failed deliveries before: %v", before)
	}
	down := newReceiver(t, secret, func(int) int { return http.StatusInternalServerError })
	c.webhook(down.srv.URL, secret)
	day3 := date("2029-04-03")
	x := c.pending(day3, 1)[0]
	r = c.await(day3, []int64{x.EmployeeID})[x.EmployeeID]
	if calls, _ := down.seen(r.Digest.ID); r.State != keel.DigestFailed || r.Attempts != 4 || r.NextAttempt != nil || calls != 4 {
		t.Errorf("failing receiver: %+v after %d calls, want failed after 4 attempts", r, calls)
	}
	if n := counter(t, reg, "keel_digest_deliveries_failed_total"); n != 1 {
		t.Errorf("keel_digest_deliveries_failed_total = %v, want 1", n)
	}
	if n := counter(t, reg, "keel_digest_delivery_attempts_total", "outcome", "failed"); n != 6 {
		t.Errorf("failed attempts = %v, want 6 (2 + 4)", n)
	}
	if log, total, _ := c.pg.DigestDeliveries(c.ctx, keel.DigestDeliveryFilter{Failed: true}); total != 6 || log[0].NextAttempt != nil {
		t.Errorf("failed attempts in the log: %d, the last %+v; want 6, the last without a next attempt", total, log[0])
	}

	// Without a webhook a queued digest's attempts fail, saying so.
	if _, err := c.pg.SetDigestWebhook(c.ctx, c.admin, "", nil); err != nil {
		t.Fatal(err)
	}
	day4 := date("2029-04-04")
	ds := []keel.Digest{{Day: "2029-04-04", New: []keel.DigestWarning{{AlertID: 1}}}}
	if made, err := c.pg.SaveDigests(c.ctx, day4, ds); err != nil || !made {
		t.Fatal(made, err)
	}
	if u := c.digest(day4, 0); u.State != keel.DigestUnsent {
		t.Errorf("a digest made without a webhook: %s, want unsent", u.State)
	}
	stop()
}

// TestTwoWorkersNeverSendOneDigestTwice: two workers, each on a pool of
// its own as two consoles would be, share 30 digests sent to a slow
// receiver; each digest arrives exactly once.
func TestTwoWorkersNeverSendOneDigestTwice(t *testing.T) {
	c := newCompany(t)
	const secret = "another-secret-1234"
	rc := newReceiver(t, secret, nil)
	rc.delay = 15 * time.Millisecond
	c.webhook(rc.srv.URL, secret)
	day := date("2029-05-01")
	ds := c.pending(day, 30)
	_, stop1 := c.run(openPG(t, c.url), nil)
	_, stop2 := c.run(openPG(t, c.url), nil)
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.EmployeeID)
	}
	got := c.await(day, ids)
	stop1()
	stop2()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, r := range got {
		if r.State != keel.DigestDelivered || rc.calls[r.Digest.ID] != 1 || r.Attempts != 1 {
			t.Errorf("digest %s: %s after %d attempts, %d deliveries; want delivered once", r.Digest.ID, r.State, r.Attempts, rc.calls[r.Digest.ID])
		}
	}
	if len(rc.calls) != 30 {
		t.Errorf("%d digests received, want 30", len(rc.calls))
	}
}

// TestWebhookSettings: the URL is checked, naming the field; the secret is
// required at first and kept when not given again; it never comes back,
// nor into the audit log; only admin sets it.
func TestWebhookSettings(t *testing.T) {
	c := newCompany(t)
	csm := c.employee("Cleo", keel.RoleCSM)
	secret := "first-secret-0123456"
	for _, bad := range []string{"ftp://x.example", "not a url", "https://u:p@x.example/"} {
		if _, err := c.pg.SetDigestWebhook(c.ctx, c.admin, bad, &secret); keel.ErrorField(err) != "url" {
			t.Errorf("URL %q: %v, want a refusal naming url", bad, err)
		}
	}
	if _, err := c.pg.SetDigestWebhook(c.ctx, c.admin, "https://hooks.example.com/k", nil); keel.ErrorField(err) != "secret" {
		t.Errorf("no secret at first: %v, want a refusal naming secret", err)
	}
	short := "short"
	if _, err := c.pg.SetDigestWebhook(c.ctx, c.admin, "https://hooks.example.com/k", &short); keel.ErrorField(err) != "secret" {
		t.Errorf("short secret: %v, want a refusal naming secret", err)
	}
	if _, err := c.pg.SetDigestWebhook(c.ctx, csm, "https://hooks.example.com/k", &secret); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("a CSM sets the webhook: %v, want forbidden", err)
	}
	h, err := c.pg.SetDigestWebhook(c.ctx, c.admin, "https://hooks.example.com/k", &secret)
	if err != nil || !h.SecretSet || h.URL != "https://hooks.example.com/k" {
		t.Fatalf("set: %+v %v", h, err)
	}
	if h, err = c.pg.SetDigestWebhook(c.ctx, c.admin, "https://hooks.example.com/other", nil); err != nil || !h.SecretSet {
		t.Fatalf("new URL keeping the secret: %+v %v", h, err)
	}
	read, err := c.pg.DigestWebhook(c.ctx)
	if err != nil || read.URL != "https://hooks.example.com/other" || !read.SecretSet || read.UpdatedBy != c.admin.ID {
		t.Errorf("read back %+v, %v", read, err)
	}
	entries, _, err := c.pg.Audit(c.ctx, keel.AuditFilter{Entity: "digest_webhook", Page: keel.Page{Limit: 10}})
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit %+v, %v; want two changes", entries, err)
	}
	for _, e := range entries {
		raw, _ := json.Marshal(e)
		if e.Action != "settings.digest" || strings.Contains(string(raw), secret) {
			t.Errorf("audit entry %s, want settings.digest without the secret", raw)
		}
	}
	if _, err := c.pg.SetDigestWebhook(c.ctx, c.admin, "", nil); err != nil {
		t.Fatal(err)
	}
	if read, _ := c.pg.DigestWebhook(c.ctx); read.URL != "" || read.SecretSet {
		t.Errorf("after turning it off: %+v", read)
	}
}
