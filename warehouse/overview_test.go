package warehouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
)

// DailyTotals and TenantTrends read every tenant, so each of their tests
// owns a year that no other test of this package writes events in: 2017
// for the random fixture, 2018 for the trends, 2019 for the daily totals.
// Inserting a fixture again (go test -count=2) changes nothing: the rollup
// holds sets.

func ovwEvent(tenant, id, typ, user string, when time.Time) ingest.Event {
	props := "{}"
	if typ == ingest.TypeFeatureUsed {
		props = `{"feature":"export"}`
	}
	return ingest.Event{Tenant: tenant, ID: id, Type: typ, User: user, Time: when, Props: props}
}

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// refDailyTotals counts DailyTotals from the events themselves, as
// METRICS.md defines them: an event's day is the date of its own time in the
// reporting timezone, and users and logins are distinct per tenant and day.
func refDailyTotals(evs []ingest.Event, from, to Day, s ActivitySettings) []DailyTotal {
	s = s.withDefaults()
	type key struct{ tenant, day string }
	loginUsers, logins := map[key]map[string]bool{}, map[key]map[string]bool{}
	add := func(m map[key]map[string]bool, k key, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	for _, e := range evs {
		d := DayOf(e.Time, s.Location)
		if d.Before(from) || to.Before(d) {
			continue
		}
		k := key{e.Tenant, d.String()}
		login := e.Type == ingest.TypeLogin
		if login {
			add(logins, k, e.ID)
		}
		if login && e.User != "" {
			add(loginUsers, k, e.User)
		}
	}
	byDay := map[string]*DailyTotal{}
	var out []*DailyTotal
	for d := from; !to.Before(d); d = d.AddDays(1) {
		byDay[d.String()] = &DailyTotal{Day: d.String()}
		out = append(out, byDay[d.String()])
	}
	for k, set := range loginUsers {
		byDay[k.day].LoginUsers += int64(len(set))
	}
	for k, set := range logins {
		byDay[k.day].Logins += int64(len(set))
		byDay[k.day].Tenants++
	}
	res := make([]DailyTotal, len(out))
	for i, d := range out {
		res[i] = *d
	}
	return res
}

// refTenantTrends counts TenantTrends from the events themselves: windows
// are whole days of the reporting timezone, compared on each event's own
// day, and the trend windows end with the last complete day.
func refTenantTrends(evs []ingest.Event, to Day, s ActivitySettings) []TenantTrend {
	s = s.withDefaults()
	n := s.Trend.Days()
	end := s.TrendEnd(to)
	in := func(d, first, last Day) bool { return !d.Before(first) && !last.Before(d) }
	type acc struct {
		listed               bool
		last, previous, seen map[string]bool
		lastLogin            time.Time
	}
	byTenant := map[string]*acc{}
	for _, e := range evs {
		a := byTenant[e.Tenant]
		if a == nil {
			a = &acc{last: map[string]bool{}, previous: map[string]bool{}, seen: map[string]bool{}}
			byTenant[e.Tenant] = a
		}
		d := DayOf(e.Time, s.Location)
		login := e.Type == ingest.TypeLogin
		inLookback := in(d, to.AddDays(1-TrendLookbackDays), to)
		a.listed = a.listed || inLookback
		if login && in(d, end.AddDays(1-n), end) {
			a.last[e.ID] = true
		}
		if login && in(d, end.AddDays(1-2*n), end.AddDays(-n)) {
			a.previous[e.ID] = true
		}
		if e.User != "" && (login || !s.LoginsOnly) && in(d, to.AddDays(-29), to) {
			a.seen[e.User] = true
		}
		if h := e.Time.UTC().Truncate(time.Hour); login && inLookback && h.After(a.lastLogin) {
			a.lastLogin = h
		}
	}
	out := []TenantTrend{}
	for tenant, a := range byTenant {
		if !a.listed {
			continue
		}
		t := TenantTrend{Tenant: tenant, Last: int64(len(a.last)), Previous: int64(len(a.previous)),
			ActiveUsers30: int64(len(a.seen)), LastLogin: a.lastLogin}
		t.Trend = s.Trend.Of(t.Last, t.Previous)
		if t.Previous > 0 {
			t.Change = float64(t.Last-t.Previous) / float64(t.Previous)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tenant < out[j].Tenant })
	return out
}

func formatTrend(t TenantTrend) string {
	last := "never"
	if !t.LastLogin.IsZero() {
		last = t.LastLogin.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s: last %d, previous %d, %s (%+.4f), %d active in 30 d, last login %s",
		t.Tenant, t.Last, t.Previous, t.Trend, t.Change, t.ActiveUsers30, last)
}

// diffTrends returns the differences between two lists, one line each; ""
// when they agree.
func diffTrends(got, want []TenantTrend) string {
	var sb strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			fmt.Fprintf(&sb, "missing: %s\n", formatTrend(want[i]))
		case i >= len(want):
			fmt.Fprintf(&sb, "extra:   %s\n", formatTrend(got[i]))
		case formatTrend(got[i]) != formatTrend(want[i]) || got[i].Change != want[i].Change ||
			got[i].LastLogin.IsZero() != want[i].LastLogin.IsZero():
			fmt.Fprintf(&sb, "got:  %s\nwant: %s\n", formatTrend(got[i]), formatTrend(want[i]))
		}
	}
	return sb.String()
}

func diffTotals(got, want []DailyTotal) string {
	var sb strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			fmt.Fprintf(&sb, "missing: %+v\n", want[i])
		case i >= len(want):
			fmt.Fprintf(&sb, "extra:   %+v\n", got[i])
		case got[i] != want[i]:
			fmt.Fprintf(&sb, "got:  %+v\nwant: %+v\n", got[i], want[i])
		}
	}
	return sb.String()
}

// dailyTotalsFixture is three tenants around the start of daylight saving
// time in New York (2019-03-10, when a day has 23 hours), in two inserts:
// the second brings a late login and two logins again.
func dailyTotalsFixture() [][]ingest.Event {
	a, b, c := "ovw-d-a", "ovw-d-b", "ovw-d-c"
	utc := func(s string) time.Time { return at(s[:10], s[11:]) }
	first := []ingest.Event{
		ovwEvent(a, "la1", ingest.TypeLogin, "u1", utc("2019-03-09 15:00:00")),
		ovwEvent(a, "pa1", ingest.TypePageView, "u3", utc("2019-03-09 17:00:00")),
		// 23:30 in New York (EST) on the 9th, already the 10th in UTC.
		ovwEvent(a, "la3", ingest.TypeLogin, "u1", utc("2019-03-10 04:30:00")),
		// 23:30 in New York (EDT, one hour less) on the 10th.
		ovwEvent(a, "la4", ingest.TypeLogin, "u1", utc("2019-03-11 03:30:00")),
		// 00:30 on the 11th in New York: a fixed UTC-5 would say the 10th.
		ovwEvent(a, "la5", ingest.TypeLogin, "u4", utc("2019-03-11 04:30:00")),
		// After the range.
		ovwEvent(a, "la6", ingest.TypeLogin, "u7", utc("2019-03-14 12:00:00")),
		// 23:30 on the 7th in New York: before the range there, inside it in UTC.
		ovwEvent(b, "pb2", ingest.TypePageView, "u9", utc("2019-03-08 04:30:00")),
		ovwEvent(b, "lb2", ingest.TypeLogin, "u5", utc("2019-03-08 05:30:00")),
		ovwEvent(b, "lb1", ingest.TypeLogin, "u1", utc("2019-03-09 12:00:00")),
		ovwEvent(b, "fb1", ingest.TypeFeatureUsed, "u2", utc("2019-03-10 12:00:00")),
		ovwEvent(b, "pb1", ingest.TypePageView, "u1", utc("2019-03-11 12:00:00")),
		// c has events but never a login.
		ovwEvent(c, "pc1", ingest.TypePageView, "u1", utc("2019-03-09 10:00:00")),
		ovwEvent(c, "pc2", ingest.TypeAPICall, "", utc("2019-03-09 11:00:00")),
		ovwEvent(c, "pc3", ingest.TypePageView, "u2", utc("2019-03-12 20:00:00")),
	}
	late := []ingest.Event{
		ovwEvent(a, "la2", ingest.TypeLogin, "u2", utc("2019-03-09 16:00:00")),
		ovwEvent(a, "la1", ingest.TypeLogin, "u1", utc("2019-03-09 15:00:00")),
		ovwEvent(b, "lb1", ingest.TypeLogin, "u1", utc("2019-03-09 12:00:00")),
	}
	return [][]ingest.Event{first, late}
}

func TestDailyTotalsOnKnownData(t *testing.T) {
	batches := dailyTotalsFixture()
	var all []ingest.Event
	for _, b := range batches {
		all = append(all, b...)
	}
	ny := mustLocation(t, "America/New_York")
	from, to := mustDay(t, "2019-03-08"), mustDay(t, "2019-03-13")
	tests := []struct {
		name string
		s    ActivitySettings
		want []DailyTotal
	}{
		{"New York", ActivitySettings{Location: ny}, []DailyTotal{
			{Day: "2019-03-08", LoginUsers: 1, Logins: 1, Tenants: 1},
			// a: u1 and u2 log in (u1 twice, once at 23:30), u3 views a
			// page; b: u1 logs in; c: u1 views a page.
			{Day: "2019-03-09", LoginUsers: 3, Logins: 4, Tenants: 2},
			{Day: "2019-03-10", LoginUsers: 1, Logins: 1, Tenants: 1},
			{Day: "2019-03-11", LoginUsers: 1, Logins: 1, Tenants: 1},
			{Day: "2019-03-12", LoginUsers: 0, Logins: 0, Tenants: 0},
			{Day: "2019-03-13"},
		}},
		{"UTC", ActivitySettings{}, []DailyTotal{
			{Day: "2019-03-08", LoginUsers: 1, Logins: 1, Tenants: 1},
			{Day: "2019-03-09", LoginUsers: 3, Logins: 3, Tenants: 2},
			{Day: "2019-03-10", LoginUsers: 1, Logins: 1, Tenants: 1},
			{Day: "2019-03-11", LoginUsers: 2, Logins: 2, Tenants: 1},
			{Day: "2019-03-12", LoginUsers: 0, Logins: 0, Tenants: 0},
			{Day: "2019-03-13"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The recount from events must agree with the hand count, or
			// the random test below would check against a wrong model.
			if d := diffTotals(refDailyTotals(all, from, to, tt.s), tt.want); d != "" {
				t.Errorf("recount from the fixture disagrees with the hand count:\n%s", d)
			}
			s := storeIn(t, tt.s.Location)
			for _, b := range batches {
				storeEvents(t, s, b)
			}
			got, err := s.DailyTotals(context.Background(), from, to, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTotals(got, tt.want); d != "" {
				t.Errorf("DailyTotals %s to %s:\n%s", from, to, d)
			}
		})
	}
}

func TestDailyTotalsRefusesBadRanges(t *testing.T) {
	_, s := testStack(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		from, to Day
		fields   []string // the fields the message must name
	}{
		{"from after to", Day{2019, 3, 2}, Day{2019, 3, 1}, []string{"from", "to"}},
		{"732 days", Day{2017, 1, 1}, Day{2017, 1, 1}.AddDays(731), []string{"from", "to", "731"}},
		{"no from", Day{}, Day{2019, 3, 1}, []string{"from"}},
		{"no to", Day{2019, 3, 1}, Day{}, []string{"to"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.DailyTotals(ctx, tt.from, tt.to, ActivitySettings{})
			if keel.ErrorCode(err) != keel.EINVALID {
				t.Fatalf("err = %v, want an invalid-input error", err)
			}
			for _, f := range tt.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("err = %q, want it to name %q", err, f)
				}
			}
		})
	}
	// 731 days is the longest range allowed, and every day is in it.
	from := Day{2017, 1, 1}
	got, err := s.DailyTotals(ctx, from, from.AddDays(730), ActivitySettings{})
	if err != nil {
		t.Fatalf("731 days: %v", err)
	}
	if len(got) != 731 || got[0].Day != "2017-01-01" || got[730].Day != "2019-01-01" {
		t.Errorf("731 days: got %d days, %s to %s", len(got), got[0].Day, got[len(got)-1].Day)
	}
}

// tenantTrendsFixture is seven tenants as of 2018-06-30, in three inserts:
// the later two bring late events (one of them a login in an hour that so
// far held only a page view) and logins sent again.
func tenantTrendsFixture() [][]ingest.Event {
	utc := func(s string) time.Time { return at(s[:10], s[11:]) }
	var first []ingest.Event
	add := func(evs ...ingest.Event) { first = append(first, evs...) }
	// down: 10 logins in the previous window (06-03..06-16), 4 in the last.
	for i := 0; i < 5; i++ {
		add(ovwEvent("ovw-t-down", fmt.Sprintf("d-p%d", i), ingest.TypeLogin, "u1", utc("2018-06-05 09:00:00").Add(time.Duration(i)*time.Minute)),
			ovwEvent("ovw-t-down", fmt.Sprintf("d-p%d", i+5), ingest.TypeLogin, "u2", utc("2018-06-10 09:00:00").Add(time.Duration(i)*time.Minute)))
	}
	add(ovwEvent("ovw-t-down", "d-l1", ingest.TypeLogin, "u1", utc("2018-06-20 09:00:00")),
		ovwEvent("ovw-t-down", "d-l2", ingest.TypeLogin, "u1", utc("2018-06-20 10:00:00")),
		ovwEvent("ovw-t-down", "d-l3", ingest.TypeLogin, "u3", utc("2018-06-25 08:00:00")),
		ovwEvent("ovw-t-down", "d-l4", ingest.TypeLogin, "u3", utc("2018-06-28 14:10:00")),
		// Outside the 30 days (06-01..06-30), inside the lookback.
		ovwEvent("ovw-t-down", "d-v1", ingest.TypePageView, "u4", utc("2018-05-31 12:00:00")))
	// up: 4 logins in the previous window, 9 in the last (the 9th late).
	for i, d := range []string{"04", "06", "08", "12"} {
		add(ovwEvent("ovw-t-up", fmt.Sprintf("u-p%d", i+1), ingest.TypeLogin, "u1", utc("2018-06-"+d+" 10:00:00")))
	}
	for i, l := range []struct{ user, when string }{
		{"u1", "2018-06-18 10:00:00"}, {"u2", "2018-06-19 11:00:00"}, {"u3", "2018-06-21 12:00:00"},
		{"u1", "2018-06-23 09:00:00"}, {"u2", "2018-06-25 09:30:00"}, {"u3", "2018-06-27 16:00:00"},
		{"u1", "2018-06-29 08:00:00"}, {"u2", "2018-06-30 13:00:00"},
	} {
		add(ovwEvent("ovw-t-up", fmt.Sprintf("u-l%d", i+1), ingest.TypeLogin, l.user, utc(l.when)))
	}
	add(ovwEvent("ovw-t-up", "u-v1", ingest.TypePageView, "u4", utc("2018-06-30 22:15:00")),
		// After the last login: the tenant's last hour, but not a login's.
		ovwEvent("ovw-t-up", "u-v2", ingest.TypePageView, "u4", utc("2018-06-30 23:05:00")))
	// quiet: events in the lookback, never a login.
	add(ovwEvent("ovw-t-quiet", "q-v1", ingest.TypePageView, "u1", utc("2018-06-15 09:00:00")),
		ovwEvent("ovw-t-quiet", "q-f1", ingest.TypeFeatureUsed, "u1", utc("2018-06-20 09:00:00")),
		ovwEvent("ovw-t-quiet", "q-v2", ingest.TypePageView, "u2", utc("2018-05-01 09:00:00")),
		ovwEvent("ovw-t-quiet", "q-a1", ingest.TypeAPICall, "", utc("2018-06-29 09:00:00")))
	// lapsed: last login 04-10 (in the lookback, 04-02..06-30), one before
	// the lookback, a page view since.
	add(ovwEvent("ovw-t-lapsed", "la-l0", ingest.TypeLogin, "u1", utc("2018-03-20 09:00:00")),
		ovwEvent("ovw-t-lapsed", "la-l1", ingest.TypeLogin, "u1", utc("2018-04-10 09:20:00")),
		ovwEvent("ovw-t-lapsed", "la-v1", ingest.TypePageView, "u2", utc("2018-06-20 09:00:00")))
	// gone: nothing in the lookback in UTC; the page view is 04-02 07:30 in
	// Shanghai.
	add(ovwEvent("ovw-t-gone", "g-l1", ingest.TypeLogin, "u1", utc("2018-03-30 09:00:00")),
		ovwEvent("ovw-t-gone", "g-v1", ingest.TypePageView, "u1", utc("2018-04-01 23:30:00")))
	// future: only after the day.
	add(ovwEvent("ovw-t-future", "f-l1", ingest.TypeLogin, "u1", utc("2018-07-02 09:00:00")))
	// new: logins in the last window only.
	add(ovwEvent("ovw-t-new", "n-l1", ingest.TypeLogin, "u1", utc("2018-06-25 09:00:00")),
		ovwEvent("ovw-t-new", "n-l2", ingest.TypeLogin, "u2", utc("2018-06-26 09:00:00")))

	second := []ingest.Event{
		ovwEvent("ovw-t-down", "d-v2", ingest.TypePageView, "u5", utc("2018-06-29 15:00:00")),
		ovwEvent("ovw-t-down", "d-l4", ingest.TypeLogin, "u3", utc("2018-06-28 14:10:00")),
		ovwEvent("ovw-t-down", "d-a1", ingest.TypeLogin, "u1", utc("2018-07-01 01:00:00")),
	}
	third := []ingest.Event{
		// The hour 22:00 so far has only u-v1's page view.
		ovwEvent("ovw-t-up", "u-l9", ingest.TypeLogin, "u1", utc("2018-06-30 22:40:00")),
		ovwEvent("ovw-t-up", "u-l1", ingest.TypeLogin, "u1", utc("2018-06-18 10:00:00")),
		ovwEvent("ovw-t-up", "u-l2", ingest.TypeLogin, "u2", utc("2018-06-19 11:00:00")),
		ovwEvent("ovw-t-up", "u-l3", ingest.TypeLogin, "u3", utc("2018-06-21 12:00:00")),
	}
	return [][]ingest.Event{first, second, third}
}

func TestTenantTrendsOnKnownData(t *testing.T) {
	_, s := testStack(t)
	batches := tenantTrendsFixture()
	var all []ingest.Event
	for _, b := range batches {
		all = append(all, b...)
	}
	hour := func(s string) time.Time { return at(s[:10], s[11:]) }
	to := mustDay(t, "2018-06-30")
	tests := []struct {
		name string
		s    ActivitySettings
		want []TenantTrend
	}{
		{"UTC", ActivitySettings{}, []TenantTrend{
			// u5's page view on 06-29 is active; u4's on 05-31 is not.
			{Tenant: "ovw-t-down", Last: 4, Previous: 10, Trend: keel.TrendDown, Change: -0.6, ActiveUsers30: 4, LastLogin: hour("2018-06-28 14:00:00")},
			{Tenant: "ovw-t-lapsed", Trend: keel.TrendFlat, ActiveUsers30: 1, LastLogin: hour("2018-04-10 09:00:00")},
			{Tenant: "ovw-t-new", Last: 2, Trend: keel.TrendUp, ActiveUsers30: 2, LastLogin: hour("2018-06-26 09:00:00")},
			{Tenant: "ovw-t-quiet", Trend: keel.TrendFlat, ActiveUsers30: 1},
			{Tenant: "ovw-t-up", Last: 9, Previous: 4, Trend: keel.TrendUp, Change: 1.25, ActiveUsers30: 4, LastLogin: hour("2018-06-30 22:00:00")},
		}},
		{"UTC, logins only", ActivitySettings{LoginsOnly: true}, []TenantTrend{
			{Tenant: "ovw-t-down", Last: 4, Previous: 10, Trend: keel.TrendDown, Change: -0.6, ActiveUsers30: 3, LastLogin: hour("2018-06-28 14:00:00")},
			{Tenant: "ovw-t-lapsed", Trend: keel.TrendFlat, LastLogin: hour("2018-04-10 09:00:00")},
			{Tenant: "ovw-t-new", Last: 2, Trend: keel.TrendUp, ActiveUsers30: 2, LastLogin: hour("2018-06-26 09:00:00")},
			{Tenant: "ovw-t-quiet", Trend: keel.TrendFlat},
			{Tenant: "ovw-t-up", Last: 9, Previous: 4, Trend: keel.TrendUp, Change: 1.25, ActiveUsers30: 3, LastLogin: hour("2018-06-30 22:00:00")},
		}},
		// The day ends at 16:00 UTC: up's late login and page views are
		// on 07-01, gone's page view is inside the lookback.
		{"Shanghai", ActivitySettings{Location: mustLocation(t, "Asia/Shanghai")}, []TenantTrend{
			{Tenant: "ovw-t-down", Last: 4, Previous: 10, Trend: keel.TrendDown, Change: -0.6, ActiveUsers30: 4, LastLogin: hour("2018-06-28 14:00:00")},
			{Tenant: "ovw-t-gone", Trend: keel.TrendFlat},
			{Tenant: "ovw-t-lapsed", Trend: keel.TrendFlat, ActiveUsers30: 1, LastLogin: hour("2018-04-10 09:00:00")},
			{Tenant: "ovw-t-new", Last: 2, Trend: keel.TrendUp, ActiveUsers30: 2, LastLogin: hour("2018-06-26 09:00:00")},
			{Tenant: "ovw-t-quiet", Trend: keel.TrendFlat, ActiveUsers30: 1},
			{Tenant: "ovw-t-up", Last: 8, Previous: 4, Trend: keel.TrendUp, Change: 1, ActiveUsers30: 3, LastLogin: hour("2018-06-30 13:00:00")},
		}},
		// 60-day windows reach back before the lookback (05-02..06-30 vs
		// 03-03..05-01): lapsed's two logins count as previous, but gone,
		// with a login in that window and no event in the lookback, is
		// still not listed.
		{"60-day windows", ActivitySettings{Trend: keel.TrendRule{Window: 60 * 24 * time.Hour, Up: 0.1, Down: -0.1}}, []TenantTrend{
			{Tenant: "ovw-t-down", Last: 14, Trend: keel.TrendUp, ActiveUsers30: 4, LastLogin: hour("2018-06-28 14:00:00")},
			{Tenant: "ovw-t-lapsed", Previous: 2, Trend: keel.TrendDown, Change: -1, ActiveUsers30: 1, LastLogin: hour("2018-04-10 09:00:00")},
			{Tenant: "ovw-t-new", Last: 2, Trend: keel.TrendUp, ActiveUsers30: 2, LastLogin: hour("2018-06-26 09:00:00")},
			{Tenant: "ovw-t-quiet", Trend: keel.TrendFlat, ActiveUsers30: 1},
			{Tenant: "ovw-t-up", Last: 13, Trend: keel.TrendUp, ActiveUsers30: 4, LastLogin: hour("2018-06-30 22:00:00")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := diffTrends(refTenantTrends(all, to, tt.s), tt.want); d != "" {
				t.Errorf("recount from the fixture disagrees with the hand count:\n%s", d)
			}
			s := storeIn(t, tt.s.Location)
			for _, b := range batches {
				storeEvents(t, s, b)
			}
			got, err := s.TenantTrends(context.Background(), to, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTrends(got, tt.want); d != "" {
				t.Errorf("TenantTrends as of %s:\n%s", to, d)
			}
			// Asked for some tenants (one without events), the same rows
			// of those only.
			of, err := s.TenantTrendsOf(context.Background(), to, tt.s, []string{"ovw-t-up", "ovw-t-quiet", "ovw-t-none", "ovw-t-o'neil"})
			if err != nil {
				t.Fatal(err)
			}
			var want []TenantTrend
			for _, w := range tt.want {
				if w.Tenant == "ovw-t-up" || w.Tenant == "ovw-t-quiet" {
					want = append(want, w)
				}
			}
			if d := diffTrends(of, want); d != "" {
				t.Errorf("TenantTrendsOf as of %s:\n%s", to, d)
			}
			// Under two rules at once (one-week windows beside the
			// settings'), each list as if asked alone.
			weekly := keel.TrendRule{Window: 7 * 24 * time.Hour, Up: 0.2, Down: -0.2}
			asked := []string{"ovw-t-up", "ovw-t-quiet", "ovw-t-none", "ovw-t-o'neil"}
			first, second, err := s.TenantTrendsOfTwo(context.Background(), to, tt.s, weekly, asked)
			if err != nil {
				t.Fatal(err)
			}
			sw := tt.s
			sw.Trend = weekly
			alone, err := s.TenantTrendsOf(context.Background(), to, sw, asked)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTrends(first, want); d != "" {
				t.Errorf("TenantTrendsOfTwo, the settings' rule, as of %s:\n%s", to, d)
			}
			if d := diffTrends(second, alone); d != "" || len(alone) == 0 {
				t.Errorf("TenantTrendsOfTwo, one-week windows, as of %s:\n%s", to, d)
			}
			// An unset second rule is the default rule, as an unset rule
			// of the settings is.
			_, unset, err := s.TenantTrendsOfTwo(context.Background(), to, tt.s, keel.TrendRule{}, asked)
			if err != nil {
				t.Fatal(err)
			}
			sd := tt.s
			sd.Trend = keel.DefaultTrendRule
			byDefault, err := s.TenantTrendsOf(context.Background(), to, sd, asked)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTrends(unset, byDefault); d != "" || len(byDefault) == 0 {
				t.Errorf("TenantTrendsOfTwo, an unset second rule, as of %s:\n%s", to, d)
			}
		})
	}
	if got, err := s.TenantTrendsOf(context.Background(), to, ActivitySettings{}, nil); err != nil || len(got) != 0 {
		t.Errorf("TenantTrendsOf no tenants = %v, %v; want none", got, err)
	}

	if _, err := s.TenantTrends(context.Background(), Day{}, ActivitySettings{}); keel.ErrorCode(err) != keel.EINVALID {
		t.Errorf("no day: err = %v, want an invalid-input error", err)
	}
}

// overviewRandomEvents makes events of 24 tenants over 150 days from
// 2017-02-01: each tenant active in a stretch of its own (so some start and
// some stop), a tenant without logins, users without ids, and events that
// cross midnight in every timezone checked.
func overviewRandomEvents() []ingest.Event {
	r := rand.New(rand.NewPCG(2017, 11))
	start := time.Date(2017, 2, 1, 0, 0, 0, 0, time.UTC)
	types := []string{ingest.TypeLogin, ingest.TypeLogin, ingest.TypePageView, ingest.TypeFeatureUsed, ingest.TypeAPICall}
	var evs []ingest.Event
	for tn := 0; tn < 24; tn++ {
		tenant := fmt.Sprintf("ovw-r-%02d", tn)
		users := 1 + r.IntN(8)
		first := r.IntN(140)
		days := 1 + r.IntN(150-first)
		for i := range 20 + r.IntN(200) {
			when := start.Add(time.Duration(first)*24*time.Hour + time.Duration(r.Int64N(int64(days)*24*3600))*time.Second)
			typ := types[r.IntN(len(types))]
			if tn == 0 && typ == ingest.TypeLogin {
				typ = ingest.TypePageView
			}
			user := fmt.Sprintf("u%d", r.IntN(users))
			if r.IntN(12) == 0 {
				user = ""
			}
			evs = append(evs, ovwEvent(tenant, fmt.Sprintf("r%d", i), typ, user, when))
		}
	}
	return evs
}

// randomInserts is overviewRandomEvents as the tests insert them: shuffled
// into four inserts, then a fifth of them again.
func randomInserts() (evs []ingest.Event, inserts [][]ingest.Event) {
	evs = overviewRandomEvents()
	r := rand.New(rand.NewPCG(7, 7))
	shuffled := slices.Clone(evs)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 0; i < len(shuffled); i += len(shuffled)/4 + 1 {
		inserts = append(inserts, slices.Clone(shuffled[i:min(i+len(shuffled)/4+1, len(shuffled))]))
	}
	var again []ingest.Event
	for _, e := range evs {
		if r.IntN(5) == 0 {
			again = append(again, e)
		}
	}
	return evs, append(inserts, again)
}

// storeRandomOnce stores randomInserts in s, once per Store and test.
func storeRandomOnce(t *testing.T, s *Store, loaded map[*Store]bool) {
	t.Helper()
	if loaded[s] {
		return
	}
	_, inserts := randomInserts()
	for _, b := range inserts {
		storeEvents(t, s, b)
	}
	loaded[s] = true
}

// TestOverviewMatchesRecountOnRandomEvents stores random events in several
// inserts, some of them twice, and checks both queries against the recount
// from the events on many days and settings, each in a warehouse whose
// daily rollups are cut in the settings' zone — a half-hour one among
// them — and with a clock that makes one of the days not over yet.
func TestOverviewMatchesRecountOnRandomEvents(t *testing.T) {
	evs, _ := randomInserts()
	ny, tokyo, kolkata := mustLocation(t, "America/New_York"), mustLocation(t, "Asia/Tokyo"), mustLocation(t, "Asia/Kolkata")
	settings := []ActivitySettings{
		{},
		{Location: ny, LoginsOnly: true},
		{Location: tokyo, Trend: keel.TrendRule{Window: 7 * 24 * time.Hour, Up: 0.5, Down: -0.5}},
		{Location: ny, Trend: keel.TrendRule{Window: 50 * 24 * time.Hour, Up: 0.1, Down: -0.1}},
		{Location: kolkata},
		// 15:00 on 2017-04-20 in Kolkata: trends as of that day, or any
		// later one, end on the 19th.
		{Location: kolkata, LoginsOnly: true, Now: func() time.Time { return time.Date(2017, 4, 20, 15, 0, 0, 0, kolkata) }},
	}
	ctx := context.Background()
	loaded := map[*Store]bool{}
	var logins int64
	for _, set := range settings {
		name := fmt.Sprintf("%v logins-only=%v window=%v clock=%v", set.withDefaults().Location, set.LoginsOnly, set.withDefaults().Trend.Days(), set.Now != nil)
		s := storeIn(t, set.Location)
		storeRandomOnce(t, s, loaded)
		from, to := Day{2017, 1, 25}, Day{2017, 7, 5}
		got, err := s.DailyTotals(ctx, from, to, set)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diffTotals(got, refDailyTotals(evs, from, to, set)); d != "" {
			t.Errorf("%s: DailyTotals %s to %s:\n%s", name, from, to, d)
		}
		for _, d := range got {
			logins += d.Logins
		}
		for _, day := range []Day{{2017, 2, 10}, {2017, 3, 12}, {2017, 4, 20}, {2017, 6, 30}, {2017, 8, 15}, {2017, 10, 20}} {
			got, err := s.TenantTrends(ctx, day, set)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d := diffTrends(got, refTenantTrends(evs, day, set)); d != "" {
				t.Errorf("%s: TenantTrends as of %s:\n%s", name, day, d)
			}
		}
	}
	if logins == 0 {
		t.Fatal("the random fixture has no logins: the test checks nothing")
	}
}

// TestTenantTrendsQueryReadsEveryWindow checks which days the query reads:
// the lookback for the last login, and for the sets the 30 days or further
// back when the trend windows are longer; and that the windows end with
// the last complete day.
func TestTenantTrendsQueryReadsEveryWindow(t *testing.T) {
	sh := mustLocation(t, "Asia/Shanghai")
	to := Day{2018, 6, 30}
	tests := []struct {
		name  string
		rule  keel.TrendRule
		now   time.Time
		end   Day // the last day the windows count
		first Day // the first day the sets are read
	}{
		{"14-day windows", keel.DefaultTrendRule, time.Now(), to, Day{2018, 6, 1}},
		{"45-day windows fill the lookback", keel.TrendRule{Window: 45 * 24 * time.Hour}, time.Now(), to, Day{2018, 4, 2}},
		{"60-day windows", keel.TrendRule{Window: 60 * 24 * time.Hour}, time.Now(), to, Day{2018, 3, 3}},
		// 07:59 on 07-01 in Shanghai is still 06-30 in UTC: the 30th is over.
		{"the day after", keel.DefaultTrendRule, time.Date(2018, 6, 30, 23, 59, 0, 0, time.UTC), to, Day{2018, 6, 1}},
		{"the day itself", keel.DefaultTrendRule, time.Date(2018, 6, 30, 15, 59, 0, 0, time.UTC), Day{2018, 6, 29}, Day{2018, 6, 1}},
		{"60-day windows, the day itself", keel.TrendRule{Window: 60 * 24 * time.Hour}, time.Date(2018, 6, 30, 9, 0, 0, 0, sh), Day{2018, 6, 29}, Day{2018, 3, 2}},
		{"a day to come", keel.DefaultTrendRule, time.Date(2018, 6, 27, 9, 0, 0, 0, sh), Day{2018, 6, 26}, Day{2018, 5, 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.rule.Days()
			now := tt.now
			s := ActivitySettings{Location: sh, Trend: tt.rule, Now: func() time.Time { return now }}
			if got := s.TrendEnd(to); got != tt.end {
				t.Errorf("TrendEnd(%s) = %s, want %s", to, got, tt.end)
			}
			_, args := tenantTrendsQuery(to, s, nil)
			want := []any{
				"2018-04-02", to.String(), // the lookback: listed, last login
				tt.end.AddDays(1 - n).String(), tt.end.String(), // last
				tt.end.AddDays(1 - 2*n).String(), tt.end.AddDays(-n).String(), // previous
				"2018-06-01",                   // 30 days
				tt.first.String(), to.String(), // the sets read
			}
			if fmt.Sprint(args) != fmt.Sprint(want) {
				t.Errorf("arguments:\n got %v\nwant %v", args, want)
			}
		})
	}
}

// TestTrendsOfAWeekNotOverEndYesterday: on a Wednesday, the trend of the
// week (as of its Sunday, four days ahead) is the trend as of today, which
// is the trend as of yesterday: every window ends with the last complete
// day, never with days still to come. The weekly review asks the first,
// the dashboard the second.
func TestTrendsOfAWeekNotOverEndYesterday(t *testing.T) {
	_, s := testStack(t)
	for _, b := range tenantTrendsFixture() {
		storeEvents(t, s, b)
	}
	wednesday := time.Date(2018, 6, 27, 10, 0, 0, 0, time.UTC)
	today, sunday := DayOf(wednesday, time.UTC), Day{2018, 7, 1}
	tenants := []string{"ovw-t-down", "ovw-t-up", "ovw-t-quiet", "ovw-t-lapsed", "ovw-t-new", "ovw-t-future"}
	trendOnly := func(ts []TenantTrend) string {
		var sb strings.Builder
		for _, t := range ts {
			fmt.Fprintf(&sb, "%s: %d vs %d %s %+.4f\n", t.Tenant, t.Last, t.Previous, t.Trend, t.Change)
		}
		return sb.String()
	}
	for _, rule := range []keel.TrendRule{keel.DefaultTrendRule, {Window: 7 * 24 * time.Hour, Up: 0.1, Down: -0.1}} {
		set := ActivitySettings{Trend: rule, Now: func() time.Time { return wednesday }}
		if got := set.TrendEnd(sunday); got != today.AddDays(-1) {
			t.Errorf("TrendEnd(%s) on %s = %s, want the day before", sunday, today, got)
		}
		week, err := s.TenantTrendsOf(context.Background(), sunday, set, tenants)
		if err != nil {
			t.Fatal(err)
		}
		now, err := s.TenantTrendsOf(context.Background(), today, set, tenants)
		if err != nil {
			t.Fatal(err)
		}
		yesterday, err := s.TenantTrendsOf(context.Background(), today.AddDays(-1), set, tenants)
		if err != nil {
			t.Fatal(err)
		}
		if w, n, y := trendOnly(week), trendOnly(now), trendOnly(yesterday); w != n || n != y {
			t.Errorf("%d-day windows: as of Sunday\n%sas of today\n%sas of yesterday\n%s", rule.Days(), w, n, y)
		}
		// The up tenant's 06-18..06-26 logins: counted; its later ones, not.
		for _, tr := range week {
			if tr.Tenant == "ovw-t-up" && rule.Days() == 14 && (tr.Last != 5 || tr.Previous != 4) {
				t.Errorf("the up tenant as of Sunday: %d vs %d, want 5 (06-13..06-26) vs 4", tr.Last, tr.Previous)
			}
		}
	}
}
