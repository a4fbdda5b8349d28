package postgres

import (
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func (e *storeEnv) alertOf(t *testing.T, cid int64, rule keel.AlertRule) []keel.Alert {
	t.Helper()
	as, _, err := e.db.Alerts(e.ctx, keel.AlertFilter{CustomerID: cid, Rule: rule, Page: keel.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func eval(cid int64, rule keel.AlertRule, holds bool) AlertEvaluation {
	return AlertEvaluation{CustomerID: cid, Rule: rule, Holds: holds, Evidence: keel.Evidence{"days_since_login": 16}, MRRAtRisk: 45000, Currency: "USD"}
}

// TestAlertsFromEvaluations: a rule that holds raises one warning, owned
// by the customer's CSM (else its seller), even with two scorers at once;
// it stays one while it holds; Keel resolves it, saying so, when the
// condition clears; after a person resolves one, the rule fires again only
// once the condition has cleared and come back.
func TestAlertsFromEvaluations(t *testing.T) {
	e := newStoreEnv(t)
	cid := e.customer(t) // sales owner: e.sales, no CSM
	day := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)

	var wg sync.WaitGroup
	results := make([]AlertChanges, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if results[i], err = e.db.ApplyAlertEvaluations(e.ctx, day, []AlertEvaluation{eval(cid, keel.RuleNoLogin, true)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	raised := 0
	for _, r := range results {
		raised += r.Raised
	}
	as := e.alertOf(t, cid, keel.RuleNoLogin)
	if raised != 1 || len(as) != 1 || as[0].State != keel.AlertOpen || as[0].Owner == nil || *as[0].Owner != e.sales.ID {
		t.Fatalf("four scorers at once raised %d, stored %+v; want one open warning owned by the seller", raised, as)
	}
	if as[0].MRRAtRisk != 45000 || as[0].Evidence["days_since_login"] != 16.0 {
		t.Errorf("warning %+v, want its MRR at risk and evidence", as[0])
	}
	again, _ := e.db.ApplyAlertEvaluations(e.ctx, day.AddDate(0, 0, 1), []AlertEvaluation{eval(cid, keel.RuleNoLogin, true)})
	if again.Raised != 0 {
		t.Error("raised again while open")
	}
	cleared, err := e.db.ApplyAlertEvaluations(e.ctx, day.AddDate(0, 0, 2), []AlertEvaluation{eval(cid, keel.RuleNoLogin, false)})
	if err != nil || cleared.Cleared != 1 {
		t.Fatalf("cleared %+v, %v", cleared, err)
	}
	as = e.alertOf(t, cid, keel.RuleNoLogin)
	if as[0].State != keel.AlertResolved || as[0].ResolvedBy != nil || as[0].Note == "" {
		t.Errorf("after the condition cleared: %+v, want resolved by Keel with a note", as[0])
	}

	// Raised again; a person resolves it while the condition still holds.
	if r, _ := e.db.ApplyAlertEvaluations(e.ctx, day.AddDate(0, 0, 3), []AlertEvaluation{eval(cid, keel.RuleNoLogin, true)}); r.Raised != 1 {
		t.Fatalf("after Keel resolved it, the condition came back: raised %d, want 1", r.Raised)
	}
	var live keel.Alert
	for _, a := range e.alertOf(t, cid, keel.RuleNoLogin) {
		if a.Live() {
			live = a
		}
	}
	if _, err := e.db.ResolveAlert(e.ctx, e.csm, live.ID, "called"); keel.ErrorCode(err) != keel.EFORBIDDEN {
		// e.csm is not the owner (the seller is): only admin and leadership may.
		t.Errorf("another employee resolves the seller's warning: %v, want forbidden", err)
	}
	if _, err := e.db.ResolveAlert(e.ctx, e.sales, live.ID, ""); keel.ErrorField(err) != "note" {
		t.Errorf("resolve without a note: %v, want a refusal naming note", err)
	}
	if _, err := e.db.ResolveAlert(e.ctx, e.sales, live.ID, "spoke to their admin; new rollout next month"); err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		holds bool
		raise int
	}{{true, 0}, {false, 0}, {true, 1}} {
		r, err := e.db.ApplyAlertEvaluations(e.ctx, day.AddDate(0, 0, 4+i), []AlertEvaluation{eval(cid, keel.RuleNoLogin, step.holds)})
		if err != nil || r.Raised != step.raise {
			t.Errorf("after a person resolved it, day %d (holds %v): raised %d, want %d (%v)", i, step.holds, r.Raised, step.raise, err)
		}
	}
	var audits int
	e.db.pool.QueryRow(e.ctx, `SELECT count(*) FROM audit_log WHERE entity = 'alert' AND entity_id IN (SELECT id FROM alerts WHERE customer_id = $1)`, cid).Scan(&audits)
	events, err := e.db.AlertEvents(e.ctx, cid, 100)
	if err != nil || audits < 6 || len(events) != audits {
		t.Errorf("%d audit rows and %d timeline events (%v); want one of each per change", audits, len(events), err)
	}
}

func TestAlertWork(t *testing.T) {
	e := newStoreEnv(t)
	cid := e.customer(t)
	day := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	if _, err := e.db.ApplyAlertEvaluations(e.ctx, day, []AlertEvaluation{eval(cid, keel.RuleLowSeats, true)}); err != nil {
		t.Fatal(err)
	}
	a := e.alertOf(t, cid, keel.RuleLowSeats)[0]
	if _, err := e.db.AckAlert(e.ctx, e.finance, a.ID); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("finance acknowledges: %v, want forbidden", err)
	}
	a, err := e.db.AckAlert(e.ctx, e.sales, a.ID)
	if err != nil || a.State != keel.AlertAcked {
		t.Fatalf("owner acknowledges: %v", err)
	}
	if _, err := e.db.SnoozeAlert(e.ctx, e.sales, a.ID, day, "x"); keel.ErrorField(err) != "until" {
		t.Errorf("snooze until today: %v, want a refusal naming until", err)
	}
	if _, err := e.db.SnoozeAlert(e.ctx, e.sales, a.ID, day.AddDate(0, 0, 200), "x"); keel.ErrorField(err) != "until" {
		t.Errorf("snooze 200 days: %v, want a refusal naming until", err)
	}
	if a, err = e.db.SnoozeAlert(e.ctx, e.sales, a.ID, day.AddDate(0, 0, 10), "waiting for their budget"); err != nil || a.State != keel.AlertSnoozed {
		t.Fatalf("snooze: %v", err)
	}
	// The snooze ends with the condition still there: open again.
	r, err := e.db.ApplyAlertEvaluations(e.ctx, day.AddDate(0, 0, 10), []AlertEvaluation{eval(cid, keel.RuleLowSeats, true)})
	if err != nil || r.Reopened != 1 {
		t.Errorf("snooze ended: %+v, %v; want it reopened", r, err)
	}
	if _, err := e.db.AssignAlert(e.ctx, e.sales, a.ID, e.csm.ID); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("the seller reassigns: %v, want forbidden", err)
	}
	if a, err = e.db.AssignAlert(e.ctx, e.leader, a.ID, e.csm.ID); err != nil || a.Owner == nil || *a.Owner != e.csm.ID {
		t.Errorf("leadership reassigns to the CSM: %+v, %v", a, err)
	}
	mine, n, err := e.db.Alerts(e.ctx, keel.AlertFilter{Owner: e.csm.ID, States: []keel.AlertState{keel.AlertOpen}, Customers: []int64{cid}})
	if err != nil || n != 1 || mine[0].ID != a.ID {
		t.Errorf("the CSM's open warnings: %d (%v), want this one", n, err)
	}
	if _, err := e.db.Alert(e.ctx, 1<<40); keel.ErrorCode(err) != keel.ENOTFOUND {
		t.Errorf("unknown warning: %v", err)
	}
}
