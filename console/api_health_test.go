package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/scoring"
	"github.com/keelhq/keel/warehouse"
)

var (
	_ console.HealthStore  = (*postgres.DB)(nil)
	_ console.HealthReader = (*warehouse.Store)(nil)
)

// healthCompany is a small company scored by the real daily scorer over
// the last 50 days, on databases of its own (scores and warnings cover
// every customer): its customers buy seats of one edition and their
// tenants' users log in every day, until they stop.
//   - busy: 12 seats, 12 users every day (green, no warning), the CSM's;
//   - quiet: 12 seats, silent for the last 40 days (red: no login, low
//     seat use, fell into red), the CSM's;
//   - fading: 20 seats, silent for the last 10 days (its score drops this
//     week; logins down on the baseline), another CSM's (csm2);
//   - unowned: 12 seats, 2 users every day (low seat use), no owner.
type healthCompany struct {
	*revenueEnv
	yesterday                    time.Time
	busy, quiet, fading, unowned int64
	names                        map[int64]string
}

func newHealthCompany(t *testing.T) *healthCompany {
	t.Helper()
	e := newRevenueEnv(t, false)
	ctx := context.Background()
	csm2, tok := e.employee("csm2", keel.RoleCSM)
	e.emps["csm2"], e.tokens["csm2"] = csm2, tok
	today := keel.Date(time.Now().UTC())
	c := &healthCompany{revenueEnv: e, yesterday: today.AddDate(0, 0, -1), names: map[int64]string{}}
	edition := e.product(keel.KindEdition, 1_000, "USD")
	start := today.AddDate(0, 0, -90)
	b := warehouse.Batch{Topic: "test.health." + uniq()}
	off := int64(0)
	customer := func(name string, owner *int64, seats, users, silentDays int) int64 {
		name += " " + uniq()
		tenant := "h-" + uniq()
		body := map[string]any{"name": name, "tenant_id": tenant}
		if owner != nil {
			body["csm_owner"] = *owner
		}
		id := id(t, e.must(201, "admin", "POST", "/api/v1/customers", body))
		c.names[id] = name
		e.approve(e.orderLines(id, keel.OrderNew, line(edition, seats, 12, start)), start)
		for d := start; d.Before(today.AddDate(0, 0, -silentDays)); d = d.AddDate(0, 0, 1) {
			for u := range users {
				for k, typ := range []string{ingest.TypeLogin, ingest.TypeFeatureUsed} {
					ev := ingest.Event{Tenant: tenant, ID: fmt.Sprintf("%s-%s-%d-%d", tenant, d.Format("0102"), u, k), Type: typ,
						User: fmt.Sprintf("u%d", u), Time: d.Add(9*time.Hour + time.Duration(u)*time.Minute), Props: `{"feature":"export"}`}
					b.AddEvent(&ev, warehouse.Position{Partition: 0, Offset: off}, time.Now())
					off++
				}
			}
		}
		return id
	}
	csm := e.emps["csm"].ID
	c.busy = customer("Busy", &csm, 12, 12, 0)
	c.quiet = customer("Quiet", &csm, 12, 12, 40)
	c.fading = customer("Fading", &csm2.ID, 20, 20, 10)
	c.unowned = customer("Unowned", nil, 12, 2, 0)
	if err := e.wh.Insert(ctx, &b); err != nil {
		t.Fatal(err)
	}
	s, err := scoring.New(scoring.Config{Calendar: keel.UTC}, e.db, e.wh, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Score(ctx, today.AddDate(0, 0, -50), c.yesterday); err != nil {
		t.Fatal(err)
	}
	return c
}

// stored is the warehouse's score of a customer on a day, as the scorer
// wrote it.
func (c *healthCompany) stored(customer int64, day time.Time) warehouse.HealthRow {
	c.t.Helper()
	var out warehouse.HealthRow
	found := false
	if err := c.wh.Health(context.Background(), warehouse.HealthFilter{From: day, To: day, Customers: []uint64{uint64(customer)}}, func(r warehouse.HealthRow) error {
		out, found = r, true
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
	if !found {
		c.t.Fatalf("customer %d has no score of %s", customer, day.Format(time.DateOnly))
	}
	return out
}

// alerts lists the warnings in Postgres of a customer.
func (c *healthCompany) alerts(customer int64) map[keel.AlertRule]keel.Alert {
	c.t.Helper()
	as, _, err := c.db.Alerts(context.Background(), keel.AlertFilter{CustomerID: customer})
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[keel.AlertRule]keel.Alert{}
	for _, a := range as {
		out[a.Rule] = a
	}
	return out
}

// decodeInto decodes an API answer into v.
func decodeAnswer(t *testing.T, r resp, v any) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}

type componentAnswer struct {
	Component string  `json:"component"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	SubScore  float64 `json:"sub_score"`
	Weight    int     `json:"weight"`
	NoData    bool    `json:"no_data"`
	Points    float64 `json:"points"`
}

type healthDayAnswer struct {
	Day        string            `json:"day"`
	Score      int               `json:"score"`
	Band       string            `json:"band"`
	MRR        int64             `json:"mrr"`
	Currency   string            `json:"currency"`
	Components []componentAnswer `json:"components"`
	NoData     []string          `json:"no_data"`
}

type moverAnswer struct {
	Component string  `json:"component"`
	Points    float64 `json:"points"`
}

type customerHealthAnswer struct {
	CustomerID int64            `json:"customer_id"`
	Name       string           `json:"name"`
	From       string           `json:"from"`
	To         string           `json:"to"`
	Latest     *healthDayAnswer `json:"latest"`
	Trend      []struct {
		Days   int           `json:"days"`
		Day    string        `json:"day"`
		Score  int           `json:"score"`
		Change int           `json:"change"`
		Movers []moverAnswer `json:"movers"`
	} `json:"trend"`
	Movers []moverAnswer     `json:"movers"`
	Days   []healthDayAnswer `json:"days"`
}

type healthListAnswer struct {
	Day   *string `json:"day"`
	Items []struct {
		CustomerID int64  `json:"customer_id"`
		Name       string `json:"name"`
		CSMOwner   *int64 `json:"csm_owner"`
		healthDayAnswer
		Page string `json:"page"`
	} `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// TestCustomerHealthAPI: a customer's daily scores as the scorer stored
// them, with every component's value, sub-score, weight and points, the
// components without data named, and the latest compared with 7 and 30
// days before, with what moved it.
func TestCustomerHealthAPI(t *testing.T) {
	c := newHealthCompany(t)
	var h customerHealthAnswer
	decodeAnswer(t, c.call("csm", "GET", fmt.Sprintf("/api/v1/customers/%d/health", c.quiet), nil), &h)
	if h.CustomerID != c.quiet || h.Name != c.names[c.quiet] || h.To != c.yesterday.Format(time.DateOnly) ||
		h.From != c.yesterday.AddDate(0, 0, -89).Format(time.DateOnly) {
		t.Errorf("customer %d %q %s..%s", h.CustomerID, h.Name, h.From, h.To)
	}
	if len(h.Days) != 50 || h.Latest == nil {
		t.Fatalf("%d days (latest %v), want the 50 scored", len(h.Days), h.Latest)
	}
	for i, d := range h.Days {
		want := c.stored(c.quiet, c.yesterday.AddDate(0, 0, i-49))
		if d.Day != want.Day.Format(time.DateOnly) || d.Score != want.Score || d.Band != string(want.Band) || d.MRR != want.MRR {
			t.Fatalf("day %d: %+v, want the stored %+v", i, d, want)
		}
	}
	last := *h.Latest
	if last.Band != "red" || last.Currency != "USD" || last.MRR != 12_000 {
		t.Errorf("latest %+v, want red with 12,000 of MRR", last)
	}
	if len(last.Components) != len(keel.HealthComponents) {
		t.Fatalf("components %+v", last.Components)
	}
	var sum float64
	stored := c.stored(c.quiet, c.yesterday)
	for i, comp := range last.Components {
		want := stored.Components[i]
		if comp.Component != string(want.Component) || comp.Value != want.Value || comp.SubScore != want.Sub || comp.Weight != keel.DefaultHealthWeights[want.Component] ||
			comp.NoData != want.NoData || comp.Unit != want.Component.Unit() {
			t.Errorf("component %+v, want %+v", comp, want)
		}
		sum += comp.Points
	}
	if math.Abs(sum-float64(last.Score)) > 0.6 {
		t.Errorf("points add up to %.2f, want about the score %d", sum, last.Score)
	}
	if strings.Join(last.NoData, ",") != string(keel.CompTickets) {
		t.Errorf("no data %v, want the tickets (none are kept)", last.NoData)
	}
	if len(h.Trend) != 2 {
		t.Fatalf("trend %+v, want against 7 and 30 days before", h.Trend)
	}
	for i, n := range []int{7, 30} {
		tr := h.Trend[i]
		then := c.stored(c.quiet, c.yesterday.AddDate(0, 0, -n))
		if tr.Days != n || tr.Day != then.Day.Format(time.DateOnly) || tr.Score != then.Score || tr.Change != last.Score-then.Score {
			t.Errorf("trend vs %d days: %+v, want the score %d of %s", n, tr, then.Score, then.Day.Format(time.DateOnly))
		}
		var moved float64
		for _, m := range tr.Movers {
			moved += m.Points
		}
		if tr.Change != 0 && (len(tr.Movers) == 0 || math.Abs(moved-float64(tr.Change)) > 1.5) {
			t.Errorf("vs %d days the score moved %d but the movers %+v add up to %.2f", n, tr.Change, tr.Movers, moved)
		}
	}
	if h.Trend[1].Change >= 0 {
		t.Errorf("a customer silent for 40 days went from %d to %d in 30 days, want down", h.Trend[1].Score, last.Score)
	}

	// A span of days, and the busy customer: green, every component with
	// data but the tickets.
	var b customerHealthAnswer
	from, to := c.yesterday.AddDate(0, 0, -9), c.yesterday.AddDate(0, 0, -5)
	decodeAnswer(t, c.call("leadership", "GET", fmt.Sprintf("/api/v1/customers/%d/health?from=%s&to=%s", c.busy, from.Format(time.DateOnly), to.Format(time.DateOnly)), nil), &b)
	if len(b.Days) != 5 || b.Days[0].Day != from.Format(time.DateOnly) || b.Latest.Day != to.Format(time.DateOnly) || b.Latest.Band != "green" {
		t.Errorf("busy %s..%s: %d days, latest %+v", from, to, len(b.Days), b.Latest)
	}
	// A customer never scored.
	other := c.customer()
	var none customerHealthAnswer
	decodeAnswer(t, c.call("sales", "GET", fmt.Sprintf("/api/v1/customers/%d/health", other), nil), &none)
	if none.Latest != nil || len(none.Days) != 0 || none.Trend == nil || none.Movers == nil {
		t.Errorf("a customer never scored: %+v", none)
	}
}

// TestHealthListAPI: the latest day's score of every customer, the
// lowest first, by band and owner, paged.
func TestHealthListAPI(t *testing.T) {
	c := newHealthCompany(t)
	var all healthListAnswer
	decodeAnswer(t, c.call("csm", "GET", "/api/v1/health", nil), &all)
	if all.Day == nil || *all.Day != c.yesterday.Format(time.DateOnly) || all.Total != 4 || len(all.Items) != 4 || all.Limit != 50 {
		t.Fatalf("list %+v", all)
	}
	scores := map[int64]int{}
	for i, it := range all.Items {
		want := c.stored(it.CustomerID, c.yesterday)
		if it.Score != want.Score || it.Band != string(want.Band) || it.Name != c.names[it.CustomerID] || len(it.Components) != 7 ||
			it.Page != fmt.Sprintf("/customers/%d#health", it.CustomerID) {
			t.Errorf("item %+v, want the stored %+v", it, want)
		}
		if i > 0 && it.Score < all.Items[i-1].Score {
			t.Errorf("item %d scores %d after %d: want the lowest first", i, it.Score, all.Items[i-1].Score)
		}
		scores[it.CustomerID] = it.Score
	}
	if all.Items[0].CustomerID != c.quiet || all.Items[3].CustomerID != c.busy {
		t.Errorf("order %v, want quiet first and busy last", scores)
	}
	var red healthListAnswer
	decodeAnswer(t, c.call("sales", "GET", "/api/v1/health?band=red", nil), &red)
	for _, it := range red.Items {
		if it.Band != "red" {
			t.Errorf("band=red lists %+v", it)
		}
	}
	if red.Total == 0 || red.Total == 4 {
		t.Errorf("band=red: %d of 4", red.Total)
	}
	var mine healthListAnswer
	decodeAnswer(t, c.call("csm2", "GET", "/api/v1/health?owner=me", nil), &mine)
	if mine.Total != 1 || mine.Items[0].CustomerID != c.fading || *mine.Items[0].CSMOwner != c.emps["csm2"].ID {
		t.Errorf("csm2's: %+v", mine)
	}
	var csms healthListAnswer
	decodeAnswer(t, c.call("admin", "GET", fmt.Sprintf("/api/v1/health?owner=%d", c.emps["csm"].ID), nil), &csms)
	if csms.Total != 2 {
		t.Errorf("the CSM's: %+v, want busy and quiet", csms)
	}
	var page healthListAnswer
	decodeAnswer(t, c.call("admin", "GET", "/api/v1/health?limit=2&offset=2", nil), &page)
	if page.Total != 4 || len(page.Items) != 2 || page.Items[0].CustomerID != all.Items[2].CustomerID || page.Offset != 2 {
		t.Errorf("second page %+v", page)
	}
}

type alertAnswer struct {
	ID           int64          `json:"id"`
	CustomerID   int64          `json:"customer_id"`
	Customer     string         `json:"customer"`
	Rule         string         `json:"rule"`
	State        string         `json:"state"`
	OwnerID      *int64         `json:"owner_id"`
	Owner        string         `json:"owner"`
	RaisedOn     string         `json:"raised_on"`
	RaisedAt     string         `json:"raised_at"`
	AgeDays      int            `json:"age_days"`
	Evidence     map[string]any `json:"evidence"`
	MRRAtRisk    int64          `json:"mrr_at_risk"`
	Currency     string         `json:"currency"`
	Score        *int           `json:"score"`
	Band         *string        `json:"band"`
	Note         string         `json:"note"`
	SnoozedUntil *string        `json:"snoozed_until"`
	SnoozeReason string         `json:"snooze_reason"`
}

type alertListAnswer struct {
	Items []alertAnswer `json:"items"`
	Total int           `json:"total"`
}

func (c *healthCompany) alertList(caller, query string) alertListAnswer {
	c.t.Helper()
	var out alertListAnswer
	decodeAnswer(c.t, c.call(caller, "GET", "/api/v1/alerts?"+query, nil), &out)
	return out
}

// TestAlertQueueAPI: the warnings the scorer raised, by owner (me, an
// id, unassigned, the team), state, rule and band, the most MRR at risk
// first, then the oldest.
func TestAlertQueueAPI(t *testing.T) {
	c := newHealthCompany(t)
	all := c.alertList("admin", "state=live&limit=500")
	if all.Total == 0 || all.Total != len(all.Items) {
		t.Fatalf("live warnings %+v", all)
	}
	sorted := func(what string, items []alertAnswer) {
		t.Helper()
		if !sort.SliceIsSorted(items, func(i, j int) bool {
			a, b := items[i], items[j]
			return a.MRRAtRisk > b.MRRAtRisk || a.MRRAtRisk == b.MRRAtRisk && a.RaisedAt < b.RaisedAt
		}) {
			t.Errorf("%s: not the most MRR at risk first, then the oldest: %+v", what, items)
		}
	}
	sorted("every live warning", all.Items)
	if all.Items[0].CustomerID != c.fading || all.Items[0].MRRAtRisk != 20_000 {
		t.Errorf("first %+v, want the fading customer's 20,000 at risk", all.Items[0])
	}
	byCustomer := map[int64][]alertAnswer{}
	for _, a := range all.Items {
		byCustomer[a.CustomerID] = append(byCustomer[a.CustomerID], a)
		stored := c.alerts(a.CustomerID)[keel.AlertRule(a.Rule)]
		if a.ID != stored.ID || a.State != string(stored.State) || a.Customer != c.names[a.CustomerID] || a.Currency != "USD" ||
			a.RaisedOn != stored.RaisedOn.Format(time.DateOnly) || a.Score == nil || *a.Score != c.stored(a.CustomerID, c.yesterday).Score {
			t.Errorf("warning %+v, want as stored %+v with the latest score", a, stored)
		}
		if want := int(keel.Date(time.Now().UTC()).Sub(stored.RaisedOn).Hours() / 24); a.AgeDays != want {
			t.Errorf("warning %d raised on %s is %d days old, want %d", a.ID, a.RaisedOn, a.AgeDays, want)
		}
	}
	if len(byCustomer[c.busy]) != 0 {
		t.Errorf("the busy customer has warnings: %+v", byCustomer[c.busy])
	}
	rules := func(as []alertAnswer) map[string]bool {
		m := map[string]bool{}
		for _, a := range as {
			m[a.Rule] = true
		}
		return m
	}
	if r := rules(byCustomer[c.quiet]); !r["no_login"] || !r["low_seat_use"] || !r["fell_into_red"] {
		t.Errorf("quiet's warnings %v", r)
	}
	if r := rules(byCustomer[c.unowned]); !r["low_seat_use"] || r["no_login"] {
		t.Errorf("unowned's warnings %v, want low seat use only", r)
	}
	if r := rules(byCustomer[c.fading]); !r["login_drop"] {
		t.Errorf("fading's warnings %v, want logins dropped", r)
	}

	for _, tc := range []struct {
		caller, query string
		want          func(a alertAnswer) bool
	}{
		{"csm", "owner=me&state=live", func(a alertAnswer) bool { return a.CustomerID == c.quiet }},
		{"csm2", "owner=me&state=live", func(a alertAnswer) bool { return a.CustomerID == c.fading }},
		{"admin", fmt.Sprintf("owner=%d&state=live", c.emps["csm2"].ID), func(a alertAnswer) bool { return a.CustomerID == c.fading }},
		{"sales", "owner=unassigned&state=live", func(a alertAnswer) bool { return a.CustomerID == c.unowned }},
		{"leadership", "owner=team&state=live", func(a alertAnswer) bool { return a.CustomerID == c.quiet || a.CustomerID == c.fading }},
		{"csm", "rule=low_seat_use&state=live", func(a alertAnswer) bool { return a.Rule == "low_seat_use" }},
		{"csm", "band=red&state=live", func(a alertAnswer) bool { return *a.Band == "red" }},
		{"csm", "state=open&owner=team&rule=no_login", func(a alertAnswer) bool { return a.State == "open" && a.Rule == "no_login" && a.OwnerID != nil }},
		{"csm", fmt.Sprintf("customer_id=%d&state=live", c.quiet), func(a alertAnswer) bool { return a.CustomerID == c.quiet }},
	} {
		got := c.alertList(tc.caller, tc.query)
		n := 0
		for _, a := range all.Items {
			if tc.want(a) {
				n++
			}
		}
		if got.Total != n || len(got.Items) != n || n == 0 {
			t.Errorf("%s as %s: %d warnings, want %d", tc.query, tc.caller, got.Total, n)
		}
		for _, a := range got.Items {
			if !tc.want(a) {
				t.Errorf("%s as %s lists %+v", tc.query, tc.caller, a)
			}
		}
		sorted(tc.query, got.Items)
	}
	for _, a := range c.alertList("csm", "state=resolved&limit=500").Items {
		if a.State != "resolved" || a.Note == "" {
			t.Errorf("state=resolved lists %+v", a)
		}
	}
}

// TestAlertWorkAPI: a warning acknowledged, snoozed and resolved through
// the API, each change audited and on the customer's timeline; the
// refusals named — a resolve without a note, a snooze in the past or too
// far ahead, a CSM acting on another's warning — change nothing; admin
// and leadership reassign.
func TestAlertWorkAPI(t *testing.T) {
	c := newHealthCompany(t)
	quiet := c.alerts(c.quiet)
	noLogin, lowSeats, red := quiet[keel.RuleNoLogin].ID, quiet[keel.RuleLowSeats].ID, quiet[keel.RuleFellIntoRed].ID
	fading := c.alerts(c.fading)[keel.RuleLoginDrop].ID
	today := keel.Date(time.Now().UTC())
	path := func(id int64, action string) string { return fmt.Sprintf("/api/v1/alerts/%d/%s", id, action) }
	refused := func(what string, r resp, status int, field string) {
		t.Helper()
		if r.status != status {
			t.Errorf("%s: status %d, want %d: %s", what, r.status, status, r.body)
			return
		}
		e := r.apiError(t)
		if status == 401 {
			return
		}
		if field == "" && e.Field != nil || field != "" && (e.Field == nil || *e.Field != field) {
			t.Errorf("%s: %s, want a refusal naming %q", what, r.body, field)
		}
	}
	unchanged := func(what string, id int64, fn func()) {
		t.Helper()
		snap := func() string { b, _ := json.Marshal(c.alertOf(id)); return string(b) }
		before, audits := snap(), c.auditCount()
		fn()
		if after := snap(); after != before {
			t.Errorf("%s changed the warning:\n%s\n%s", what, before, after)
		}
		if n := c.auditCount(); n != audits {
			t.Errorf("%s wrote %d audit entries", what, n-audits)
		}
	}

	// Acknowledge, once.
	var a alertAnswer
	decodeAnswer(t, c.call("csm", "POST", path(noLogin, "ack"), nil), &a)
	if a.State != "acknowledged" || a.ID != noLogin {
		t.Errorf("acknowledged: %+v", a)
	}
	unchanged("a second ack", noLogin, func() { refused("a second ack", c.call("csm", "POST", path(noLogin, "ack"), nil), 409, "") })
	unchanged("an ack with a body", red, func() {
		refused("an ack with a body", c.call("csm", "POST", path(red, "ack"), map[string]any{"note": "x"}), 400, "note")
	})

	// Resolve needs a note.
	for _, body := range []any{nil, map[string]any{}, map[string]any{"note": "  "}} {
		unchanged("resolve without a note", noLogin, func() {
			refused(fmt.Sprintf("resolve with %v", body), c.call("csm", "POST", path(noLogin, "resolve"), body), 400, map[bool]string{true: "body", false: "note"}[body == nil])
		})
	}
	decodeAnswer(t, c.call("csm", "POST", path(noLogin, "resolve"), map[string]any{"note": "Called them: the admin was on leave."}), &a)
	if a.State != "resolved" || a.Note != "Called them: the admin was on leave." {
		t.Errorf("resolved: %+v", a)
	}

	// Snooze: after today, at most 180 days ahead, with a reason.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"until": today.Format(time.DateOnly), "reason": "x"}, "until"},
		{map[string]any{"until": today.AddDate(0, 0, -3).Format(time.DateOnly), "reason": "x"}, "until"},
		{map[string]any{"until": today.AddDate(0, 0, 181).Format(time.DateOnly), "reason": "x"}, "until"},
		{map[string]any{"until": "next week", "reason": "x"}, "until"},
		{map[string]any{"reason": "x"}, "until"},
		{map[string]any{"until": today.AddDate(0, 0, 30).Format(time.DateOnly)}, "reason"},
		{map[string]any{"until": today.AddDate(0, 0, 30).Format(time.DateOnly), "reason": "x", "why": "y"}, "why"},
	} {
		unchanged(fmt.Sprint("snooze ", tc.body), lowSeats, func() {
			refused(fmt.Sprint("snooze ", tc.body), c.call("csm", "POST", path(lowSeats, "snooze"), tc.body), 400, tc.field)
		})
	}
	until := today.AddDate(0, 0, 180).Format(time.DateOnly)
	decodeAnswer(t, c.call("csm", "POST", path(lowSeats, "snooze"), map[string]any{"until": until, "reason": "Seats for a new team in spring."}), &a)
	if a.State != "snoozed" || a.SnoozedUntil == nil || *a.SnoozedUntil != until || a.SnoozeReason != "Seats for a new team in spring." {
		t.Errorf("snoozed: %+v", a)
	}

	// Another CSM's warning is refused; so is reassigning one's own.
	for _, action := range []struct {
		name string
		body any
	}{{"ack", nil}, {"resolve", map[string]any{"note": "done"}}, {"snooze", map[string]any{"until": until, "reason": "later"}},
		{"assign", map[string]any{"employee_id": c.emps["csm"].ID}}} {
		unchanged("csm on csm2's warning: "+action.name, fading, func() {
			refused("csm "+action.name+" on csm2's warning", c.call("csm", "POST", path(fading, action.name), action.body), 403, "")
		})
	}
	unchanged("csm2 reassigning", fading, func() {
		refused("csm2 reassigning their own", c.call("csm2", "POST", path(fading, "assign"), map[string]any{"employee_id": c.emps["csm"].ID}), 403, "")
	})
	unchanged("finance", fading, func() { refused("finance acks", c.call("finance", "POST", path(fading, "ack"), nil), 403, "") })
	unchanged("departed", fading, func() { refused("departed acks", c.call("departed", "POST", path(fading, "ack"), nil), 401, "") })
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "employee_id"},
		{map[string]any{"employee_id": "csm"}, "employee_id"},
		{map[string]any{"employee_id": c.emps["finance"].ID}, "employee_id"},
		{map[string]any{"employee_id": 999999999}, "employee_id"},
	} {
		unchanged(fmt.Sprint("assign ", tc.body), fading, func() {
			refused(fmt.Sprint("assign ", tc.body), c.call("leadership", "POST", path(fading, "assign"), tc.body), 400, tc.field)
		})
	}
	decodeAnswer(t, c.call("leadership", "POST", path(fading, "assign"), map[string]any{"employee_id": c.emps["csm"].ID}), &a)
	if a.OwnerID == nil || *a.OwnerID != c.emps["csm"].ID || a.Owner != c.emps["csm"].Name {
		t.Errorf("reassigned: %+v", a)
	}
	decodeAnswer(t, c.call("csm", "POST", path(fading, "ack"), nil), &a)
	if a.State != "acknowledged" {
		t.Errorf("the new owner's ack: %+v", a)
	}
	unchanged("csm2 on what is no longer theirs", fading, func() {
		refused("csm2 acting on a warning given away", c.call("csm2", "POST", path(fading, "resolve"), map[string]any{"note": "x"}), 403, "")
	})
	// Unassigned: admin assigns to no one, anyone may take it.
	decodeAnswer(t, c.call("admin", "POST", path(fading, "assign"), map[string]any{"employee_id": nil}), &a)
	if a.OwnerID != nil {
		t.Errorf("unassigned: %+v", a)
	}
	decodeAnswer(t, c.call("csm2", "POST", path(fading, "assign"), map[string]any{"employee_id": c.emps["csm2"].ID}), &a)
	if a.OwnerID == nil || *a.OwnerID != c.emps["csm2"].ID {
		t.Errorf("taken: %+v", a)
	}
	refused("an unknown warning", c.call("admin", "POST", path(999999999, "ack"), nil), 404, "")
	refused("a path that names no warning", c.call("admin", "POST", "/api/v1/alerts/x/ack", nil), 404, "")

	// The customer's timeline holds each change, and the audit log too.
	events, err := c.db.AlertEvents(context.Background(), c.quiet, 50)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range events {
		if e.AlertID == noLogin || e.AlertID == lowSeats {
			seen = append(seen, e.Action+":"+e.Detail)
		}
	}
	want := []string{"snooze:" + until + ": Seats for a new team in spring.", "resolve:Called them: the admin was on leave.", "ack:", "raise:", "raise:"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("timeline %q, want %q", seen, want)
	}
	_, n, err := c.db.Audit(context.Background(), keel.AuditFilter{Entity: "alert", EntityID: fading, Page: keel.Page{Limit: 50}})
	if err != nil || n != 5 { // raise, assign, ack, unassign, take
		t.Errorf("fading's warning has %d audit entries (%v), want the raise and 5 changes", n, err)
	}
}

// alertOf reads a warning from Postgres.
func (c *healthCompany) alertOf(id int64) keel.Alert {
	c.t.Helper()
	a, err := c.db.Alert(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return a
}

type healthSettingsAnswer struct {
	Weights     map[string]int `json:"weights"`
	RedMax      int            `json:"red_max"`
	YellowMax   int            `json:"yellow_max"`
	NoLoginDays int            `json:"no_login_days"`
	ScoreHour   int            `json:"score_hour"`
}

// TestHealthSettingsAPI: the settings as the scorer uses them; admin
// changes them, audited; negative or all-zero weights and bands that do
// not rise are refused naming the field, changing nothing.
func TestHealthSettingsAPI(t *testing.T) {
	e := newRevenueEnv(t, false)
	var s healthSettingsAnswer
	decodeAnswer(t, e.call("csm", "GET", "/api/v1/settings/health", nil), &s)
	if s.Weights["login_trend"] != keel.DefaultHealthWeights[keel.CompLoginTrend] || len(s.Weights) != 7 || s.RedMax != 50 || s.YellowMax != 75 || s.NoLoginDays != 15 {
		t.Errorf("defaults %+v", s)
	}
	for _, caller := range []string{"csm", "sales", "leadership", "finance"} {
		if r := e.call(caller, "PUT", "/api/v1/settings/health", map[string]any{"no_login_days": 20}); r.status != 403 {
			t.Errorf("PUT as %s: %d, want 403", caller, r.status)
		}
	}
	zero := map[string]any{}
	for _, c := range keel.HealthComponents {
		zero[string(c)] = 0
	}
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"weights": map[string]any{"login_trend": -1}}, "weights.login_trend"},
		{map[string]any{"weights": zero}, "weights"},
		{map[string]any{"weights": map[string]any{"happiness": 10}}, "weights"},
		{map[string]any{"weights": map[string]any{"tickets": nil}}, "weights.tickets"},
		{map[string]any{"weights": map[string]any{"a\x00b": 1}}, "weights"},
		{map[string]any{"red_max": 80}, "yellow_max"},
		{map[string]any{"no_login_days": 0}, "no_login_days"},
		{map[string]any{"score_hour": 24}, "score_hour"},
		{map[string]any{"no_login_days": "15"}, "no_login_days"},
		{map[string]any{"colour": "red"}, "colour"},
	} {
		audits := e.auditCount()
		r := e.call("admin", "PUT", "/api/v1/settings/health", tc.body)
		if r.status != 400 {
			t.Errorf("PUT %v: %d, want 400: %s", tc.body, r.status, r.body)
			continue
		}
		if f := r.apiError(t).Field; f == nil || *f != tc.field {
			t.Errorf("PUT %v: %s, want a refusal naming %s", tc.body, r.body, tc.field)
		}
		if e.auditCount() != audits {
			t.Errorf("PUT %v: refused but audited", tc.body)
		}
	}
	audits := e.auditCount()
	decodeAnswer(t, e.call("admin", "PUT", "/api/v1/settings/health", map[string]any{"weights": map[string]any{"tickets": 0, "login_trend": 30}, "no_login_days": 20}), &s)
	if s.Weights["tickets"] != 0 || s.Weights["login_trend"] != 30 || s.Weights["seat_utilisation"] != 15 || s.NoLoginDays != 20 || s.RedMax != 50 {
		t.Errorf("saved %+v", s)
	}
	if e.auditCount() != audits+1 {
		t.Errorf("the change wrote %d audit entries, want 1", e.auditCount()-audits)
	}
	got, err := e.db.HealthSettings(context.Background())
	if err != nil || got.NoLoginDays != 20 || got.Weights[keel.CompLoginTrend] != 30 {
		t.Errorf("stored %+v, %v", got, err)
	}
}

// TestHealthAPIRoles: health and warnings are read by every role (DESIGN.md's
// API table: any); the departed and strangers are not let in.
func TestHealthAPIRoles(t *testing.T) {
	e := newRevenueEnv(t, false)
	c := e.customer()
	for _, path := range []string{"/api/v1/health", "/api/v1/alerts", fmt.Sprintf("/api/v1/customers/%d/health", c), "/api/v1/settings/health"} {
		for _, caller := range callers {
			want := 200
			switch caller {
			case "departed", "none", "bad":
				want = 401
			}
			if r := e.call(caller, "GET", path, nil); r.status != want {
				t.Errorf("GET %s as %s: %d, want %d: %s", path, caller, r.status, want, r.body)
			}
		}
	}
	// Before any scoring: no day, nothing listed.
	var l healthListAnswer
	decodeAnswer(t, e.call("csm", "GET", "/api/v1/health", nil), &l)
	if l.Day != nil || l.Total != 0 || l.Items == nil {
		t.Errorf("before scoring: %+v", l)
	}
}

// TestHealthAPIBadParameters: every parameter out of place is refused
// naming it.
func TestHealthAPIBadParameters(t *testing.T) {
	e := newRevenueEnv(t, false)
	c := e.customer()
	health := fmt.Sprintf("/api/v1/customers/%d/health", c)
	for _, tc := range []struct{ path, field string }{
		{health + "?from=2026-05-02&to=2026-05-01", "from"},
		{health + "?from=2020-01-01&to=2026-05-01", "from"},
		{health + "?to=May", "to"},
		{health + "?band=red", "band"},
		{"/api/v1/health?band=purple", "band"},
		{"/api/v1/health?owner=someone", "owner"},
		{"/api/v1/health?limit=0", "limit"},
		{"/api/v1/health?offset=-1", "offset"},
		{"/api/v1/alerts?owner=everyone", "owner"},
		{"/api/v1/alerts?state=closed", "state"},
		{"/api/v1/alerts?rule=" + url.QueryEscape("no login"), "rule"},
		{"/api/v1/alerts?band=blue", "band"},
		{"/api/v1/alerts?customer_id=x", "customer_id"},
		{"/api/v1/alerts?limit=501", "limit"},
		{"/api/v1/settings/health?x=1", "x"},
	} {
		r := e.call("csm", "GET", tc.path, nil)
		if r.status != 400 {
			t.Errorf("GET %s: %d, want 400: %s", tc.path, r.status, r.body)
			continue
		}
		if f := r.apiError(t).Field; f == nil || *f != tc.field {
			t.Errorf("GET %s: %s, want a refusal naming %s", tc.path, r.body, tc.field)
		}
	}
	if r := e.call("csm", "GET", "/api/v1/customers/999999999/health", nil); r.status != 404 {
		t.Errorf("an unknown customer's health: %d, want 404", r.status)
	}
}
