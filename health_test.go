package keel_test

import (
	"math"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func hday(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }

// healthy is a customer doing well on 2026-06-30: logins up, a login
// today, seats used, features broad, renewal far, nothing owed, no tickets.
func healthy() keel.HealthInput {
	return keel.HealthInput{CustomerID: 1, Day: hday("2026-06-30"), Activity: true, Trend: keel.TrendUp, Logins: 120, LoginsBefore: 90,
		ActiveUsers30: 40, Features30: 8, AllFeatures30: 10, LastLogin: hday("2026-06-30"), Seats: 40,
		RenewalOn: hday("2027-01-01"), Orders: true, Tickets: &keel.Tickets{}}
}

func component(t *testing.T, h keel.HealthScore, c keel.HealthComponent) keel.ComponentScore {
	t.Helper()
	for _, x := range h.Components {
		if x.Component == c {
			return x
		}
	}
	t.Fatalf("no component %s", c)
	return keel.ComponentScore{}
}

func TestHealthSubScores(t *testing.T) {
	s := keel.DefaultHealthSettings
	tests := []struct {
		name   string
		change func(*keel.HealthInput)
		c      keel.HealthComponent
		sub    float64
		noData bool
	}{
		{"trend up", nil, keel.CompLoginTrend, 100, false},
		{"trend flat", func(in *keel.HealthInput) { in.Trend = keel.TrendFlat }, keel.CompLoginTrend, 70, false},
		{"trend down", func(in *keel.HealthInput) { in.Trend = keel.TrendDown }, keel.CompLoginTrend, 30, false},
		{"no logins at all", func(in *keel.HealthInput) { in.Trend, in.Logins, in.LoginsBefore = keel.TrendFlat, 0, 0 }, keel.CompLoginTrend, 0, false},
		{"no tenant: no activity data", func(in *keel.HealthInput) { in.Activity = false }, keel.CompLoginTrend, 0, true},
		{"seats 80 % used", func(in *keel.HealthInput) { in.ActiveUsers30 = 32 }, keel.CompSeats, 100, false},
		{"seats 40 % used", func(in *keel.HealthInput) { in.ActiveUsers30 = 16 }, keel.CompSeats, 50, false},
		{"no seats bought", func(in *keel.HealthInput) { in.Seats = 0 }, keel.CompSeats, 0, true},
		{"features 8 of 10", nil, keel.CompFeatures, 80, false},
		{"login 3 days ago", func(in *keel.HealthInput) { in.LastLogin = hday("2026-06-27") }, keel.CompLastLogin, 100, false},
		{"login 16.5 days ago is half", func(in *keel.HealthInput) { in.LastLogin = hday("2026-06-14") }, keel.CompLastLogin, 100 * (30 - 16) / 27.0, false},
		{"login 30 days ago", func(in *keel.HealthInput) { in.LastLogin = hday("2026-05-31") }, keel.CompLastLogin, 0, false},
		{"no login in the lookback", func(in *keel.HealthInput) { in.LastLogin = time.Time{} }, keel.CompLastLogin, 0, false},
		{"renewal 45 days off", func(in *keel.HealthInput) { in.RenewalOn = hday("2026-08-14") }, keel.CompRenewal, 70, false},
		{"renewal today", func(in *keel.HealthInput) { in.RenewalOn = in.Day }, keel.CompRenewal, 40, false},
		{"renewal past", func(in *keel.HealthInput) { in.RenewalOn = hday("2026-06-01") }, keel.CompRenewal, 40, false},
		{"no renewal: no data", func(in *keel.HealthInput) { in.RenewalOn = time.Time{} }, keel.CompRenewal, 0, true},
		{"nothing owed", nil, keel.CompPayment, 100, false},
		{"owed 15 days", func(in *keel.HealthInput) { in.Outstanding, in.OwedSince = 5000, hday("2026-06-15") }, keel.CompPayment, 50, false},
		{"owed 31 days", func(in *keel.HealthInput) { in.Outstanding, in.OwedSince = 5000, hday("2026-05-30") }, keel.CompPayment, 0, false},
		{"no orders: no data", func(in *keel.HealthInput) { in.Orders = false }, keel.CompPayment, 0, true},
		{"two open tickets, one overdue", func(in *keel.HealthInput) { in.Tickets = &keel.Tickets{Open: 2, Overdue: 1} }, keel.CompTickets, 65, false},
		{"no tickets kept: no data", func(in *keel.HealthInput) { in.Tickets = nil }, keel.CompTickets, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := healthy()
			if tt.change != nil {
				tt.change(&in)
			}
			h, ok := keel.ScoreHealth(in, s)
			if !ok {
				t.Fatal("not scored")
			}
			c := component(t, h, tt.c)
			if c.NoData != tt.noData || math.Abs(c.Sub-tt.sub) > 1e-9 {
				t.Errorf("%s: sub %v (no data %v), want %v (no data %v)", tt.c, c.Sub, c.NoData, tt.sub, tt.noData)
			}
		})
	}
}

func TestHealthScoreSpreadsMissingWeight(t *testing.T) {
	s := keel.DefaultHealthSettings
	in := healthy()
	in.Trend = keel.TrendDown // 30
	in.Tickets, in.Orders, in.RenewalOn = nil, false, time.Time{}
	h, ok := keel.ScoreHealth(in, s)
	if !ok {
		t.Fatal("not scored")
	}
	// Login trend 30 (20), last login 100 (20), seats 100 (15), features 80 (10):
	// (600 + 2000 + 1500 + 800) / 65 = 75.38 → 75, yellow.
	if h.Score != 75 || h.Band != keel.BandYellow {
		t.Errorf("score %d %s, want 75 yellow", h.Score, h.Band)
	}
	var sum float64
	for _, c := range keel.HealthComponents {
		sum += h.Contribution(c)
	}
	if math.Abs(sum-75.3846) > 0.001 {
		t.Errorf("contributions sum to %v, want the unrounded score", sum)
	}
	nothing := keel.HealthInput{CustomerID: 2, Day: in.Day}
	if _, ok := keel.ScoreHealth(nothing, s); ok {
		t.Error("a customer with no data at all was scored")
	}
	// Bands: 50 red, 51 yellow, 76 green.
	for score, want := range map[int]keel.Band{0: keel.BandRed, 50: keel.BandRed, 51: keel.BandYellow, 75: keel.BandYellow, 76: keel.BandGreen, 100: keel.BandGreen} {
		if got := s.WithDefaults().BandOf(score); got != want {
			t.Errorf("BandOf(%d) = %s, want %s", score, got, want)
		}
	}
}

func TestMovers(t *testing.T) {
	s := keel.DefaultHealthSettings
	then, _ := keel.ScoreHealth(healthy(), s)
	in := healthy()
	in.LastLogin, in.Trend = hday("2026-06-10"), keel.TrendDown
	now, _ := keel.ScoreHealth(in, s)
	m := keel.Movers(now, then)
	if len(m) != 2 || m[0].Component != keel.CompLoginTrend && m[0].Component != keel.CompLastLogin || m[0].Points >= 0 {
		t.Fatalf("movers = %+v, want login trend and last login, down", m)
	}
	var total float64
	for _, x := range m {
		total += x.Points
	}
	if got := float64(now.Score - then.Score); math.Abs(total-got) > 1 {
		t.Errorf("movers add to %v, the score moved %v", total, got)
	}
}

func TestHealthSettingsValidate(t *testing.T) {
	ok := keel.DefaultHealthSettings.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(*keel.HealthSettings)
		field string
	}{
		{"negative weight", func(s *keel.HealthSettings) { s.Weights[keel.CompSeats] = -1 }, "weights.seat_utilisation"},
		{"all weights zero", func(s *keel.HealthSettings) {
			for c := range s.Weights {
				s.Weights[c] = 0
			}
		}, "weights"},
		{"unknown component", func(s *keel.HealthSettings) { s.Weights["mood"] = 5 }, "weights"},
		{"bands that do not rise", func(s *keel.HealthSettings) { s.RedMax = 80 }, "yellow_max"},
		{"score hour", func(s *keel.HealthSettings) { s.ScoreHour = 24 }, "score_hour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := keel.DefaultHealthSettings.WithDefaults()
			s.Weights = map[keel.HealthComponent]int{}
			for c, w := range keel.DefaultHealthWeights {
				s.Weights[c] = w
			}
			tt.edit(&s)
			if err := s.Validate(); keel.ErrorCode(err) != keel.EINVALID || keel.ErrorField(err) != tt.field {
				t.Errorf("Validate() = %v, want EINVALID naming %s", err, tt.field)
			}
		})
	}
}

func TestEvaluateRules(t *testing.T) {
	s := keel.DefaultHealthSettings
	rules := func(in keel.HealthInput, yesterday keel.Band) map[keel.AlertRule]keel.Evidence {
		h, ok := keel.ScoreHealth(in, s)
		return keel.EvaluateRules(keel.RuleInput{Input: in, Score: h, Scored: ok, Yesterday: yesterday}, s)
	}
	if got := rules(healthy(), keel.BandGreen); len(got) != 0 {
		t.Errorf("a healthy customer trips %v", got)
	}
	in := healthy()
	in.LastLogin = hday("2026-06-15") // 15 days
	if e, ok := rules(in, keel.BandGreen)[keel.RuleNoLogin]; !ok || e["days_since_login"] != 15 {
		t.Errorf("15 days without a login: %v", e)
	}
	in = healthy()
	in.LoginsWeek, in.LoginsWeeks = 19, 160 // baseline 40 a week, down 52.5 %
	if e, ok := rules(in, keel.BandGreen)[keel.RuleLoginDrop]; !ok || e["baseline_per_week"] != 40.0 {
		t.Errorf("logins down 52.5 %%: %v", e)
	}
	in.LoginsWeek = 21 // down 47.5 %
	if _, ok := rules(in, keel.BandGreen)[keel.RuleLoginDrop]; ok {
		t.Error("logins down 47.5 % tripped the 50 % rule")
	}
	in = healthy()
	in.ActiveUsers30 = 11 // 27.5 % of 40
	if _, ok := rules(in, keel.BandGreen)[keel.RuleLowSeats]; !ok {
		t.Error("27.5 % seat use did not trip the 30 % rule")
	}
	// Red, renewal in 30 days: both the renewal and the red rules.
	in = healthy()
	in.Trend, in.Logins, in.LoginsBefore, in.LastLogin, in.ActiveUsers30, in.Features30 = keel.TrendFlat, 0, 0, time.Time{}, 0, 0
	in.RenewalOn = hday("2026-07-30")
	got := rules(in, keel.BandYellow)
	for _, r := range []keel.AlertRule{keel.RuleRenewalRisk, keel.RuleFellIntoRed, keel.RuleNoLogin, keel.RuleLowSeats} {
		if _, ok := got[r]; !ok {
			t.Errorf("a silent customer, red, renewing in 30 days: %s did not trip (%v)", r, got)
		}
	}
	in.Activity = false // no tenant: the activity rules have no data
	for _, r := range []keel.AlertRule{keel.RuleNoLogin, keel.RuleLowSeats, keel.RuleLoginDrop} {
		if _, ok := rules(in, keel.BandYellow)[r]; ok {
			t.Errorf("no activity data, yet %s tripped", r)
		}
	}
}

func TestAlertLifecycle(t *testing.T) {
	now := time.Date(2026, 6, 30, 10, 0, 0, 0, time.UTC)
	today := hday("2026-06-30")
	csm := keel.Employee{ID: 7, Roles: []keel.Role{keel.RoleCSM}, Status: keel.EmployeeActive}
	other := keel.Employee{ID: 8, Roles: []keel.Role{keel.RoleCSM}, Status: keel.EmployeeActive}
	lead := keel.Employee{ID: 9, Roles: []keel.Role{keel.RoleLeadership}, Status: keel.EmployeeActive}
	finance := keel.Employee{ID: 10, Roles: []keel.Role{keel.RoleFinance}, Status: keel.EmployeeActive}
	owner := csm.ID
	fresh := func() keel.Alert {
		return keel.Alert{ID: 1, CustomerID: 3, Rule: keel.RuleNoLogin, State: keel.AlertOpen, Owner: &owner}
	}

	a := fresh()
	if err := a.Ack(other, now); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("another CSM acknowledges: %v, want forbidden", err)
	}
	if err := a.Ack(finance, now); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("finance acknowledges: %v, want forbidden", err)
	}
	if err := a.Ack(csm, now); err != nil || a.State != keel.AlertAcked {
		t.Fatalf("owner acknowledges: %v, %s", err, a.State)
	}
	if err := a.Resolve(csm, "  ", now); keel.ErrorField(err) != "note" {
		t.Errorf("resolve without a note: %v, want a refusal naming note", err)
	}
	if err := a.Resolve(lead, "called them; champion left, new one onboarding", now); err != nil || a.State != keel.AlertResolved {
		t.Errorf("leadership resolves: %v, %s", err, a.State)
	}

	a = fresh()
	for _, tt := range []struct {
		until, reason, field string
	}{
		{"2026-06-30", "x", "until"}, {"2026-06-01", "x", "until"}, {"2026-12-28", "x", "until"}, {"2026-07-10", "", "reason"},
	} {
		if err := a.Snooze(csm, hday(tt.until), tt.reason, today); keel.ErrorField(err) != tt.field {
			t.Errorf("snooze until %s (%q): %v, want a refusal naming %s", tt.until, tt.reason, err, tt.field)
		}
	}
	if err := a.Snooze(csm, hday("2026-12-27"), "customer on summer shutdown", today); err != nil || a.State != keel.AlertSnoozed {
		t.Fatalf("snooze 180 days: %v", err)
	}

	if err := a.Assign(other, &other); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("a CSM takes another's warning: %v, want forbidden", err)
	}
	if err := a.Assign(lead, &finance); keel.ErrorField(err) != "employee_id" {
		t.Errorf("assigned to finance: %v, want a refusal naming employee_id", err)
	}
	if err := a.Assign(lead, &other); err != nil || *a.Owner != other.ID {
		t.Errorf("leadership reassigns: %v", err)
	}
	u := keel.Alert{ID: 2, State: keel.AlertOpen}
	if err := u.Assign(csm, &csm); err != nil || u.Owner == nil || *u.Owner != csm.ID {
		t.Errorf("a CSM takes an unassigned warning: %v", err)
	}
}

// TestNextAlert: raised once while live; a snooze ends into open if the
// condition holds; Keel resolves it when the condition clears; after a
// person resolved it, it fires again only once the condition has cleared
// and come back.
func TestNextAlert(t *testing.T) {
	today := hday("2026-06-30")
	someone := int64(7)
	until := hday("2026-06-30")
	later := hday("2026-07-15")
	tests := []struct {
		name   string
		latest *keel.Alert
		holds  bool
		want   keel.AlertChange
	}{
		{"none, holds", nil, true, keel.AlertRaise},
		{"none, clear", nil, false, keel.AlertKeep},
		{"open, holds", &keel.Alert{State: keel.AlertOpen}, true, keel.AlertKeep},
		{"acknowledged, cleared", &keel.Alert{State: keel.AlertAcked}, false, keel.AlertClear},
		{"snoozed, still holds", &keel.Alert{State: keel.AlertSnoozed, SnoozedUntil: &later}, true, keel.AlertKeep},
		{"snoozed, the snooze ended, holds", &keel.Alert{State: keel.AlertSnoozed, SnoozedUntil: &until}, true, keel.AlertReopen},
		{"snoozed, cleared", &keel.Alert{State: keel.AlertSnoozed, SnoozedUntil: &later}, false, keel.AlertClear},
		{"resolved by a person, still holds", &keel.Alert{State: keel.AlertResolved, ResolvedBy: &someone}, true, keel.AlertKeep},
		{"resolved by a person, cleared", &keel.Alert{State: keel.AlertResolved, ResolvedBy: &someone}, false, keel.AlertCleared},
		{"resolved, cleared since, holds again", &keel.Alert{State: keel.AlertResolved, ResolvedBy: &someone, Cleared: true}, true, keel.AlertRaise},
		{"resolved by Keel, holds again", &keel.Alert{State: keel.AlertResolved}, true, keel.AlertRaise},
	}
	for _, tt := range tests {
		if got := keel.NextAlert(tt.latest, tt.holds, today); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
