package warehouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
)

// ScoreInputs reads every tenant of its days, so its fixture owns 2016:
// no other test of this package writes events in it.

// scoreRandomEvents makes events of 30 tenants over 150 days from
// 2016-01-01: logins, page views, API calls without a user, features
// from a catalogue each tenant uses part of, and seat snapshots, some of
// them at the same second (the later id wins).
func scoreRandomEvents() []ingest.Event {
	r := rand.New(rand.NewPCG(2016, 3))
	start := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	types := []string{ingest.TypeLogin, ingest.TypeLogin, ingest.TypePageView, ingest.TypeFeatureUsed, ingest.TypeFeatureUsed, ingest.TypeAPICall, ingest.TypeSeatSnapshot}
	var evs []ingest.Event
	for tn := 0; tn < 30; tn++ {
		tenant := fmt.Sprintf("score-r-%02d", tn)
		users := 1 + r.IntN(10)
		features := 1 + r.IntN(12)
		first := r.IntN(140)
		days := 1 + r.IntN(150-first)
		for i := range 20 + r.IntN(300) {
			when := start.Add(time.Duration(first)*24*time.Hour + time.Duration(r.Int64N(int64(days)*24*3600))*time.Second)
			e := ingest.Event{Tenant: tenant, ID: fmt.Sprintf("s%03d", i), Type: types[r.IntN(len(types))], User: fmt.Sprintf("u%d", r.IntN(users)), Time: when, Props: "{}"}
			switch e.Type {
			case ingest.TypeFeatureUsed:
				e.Props = fmt.Sprintf(`{"feature":"f%02d"}`, r.IntN(features)+tn%4)
			case ingest.TypeSeatSnapshot:
				e.User = ""
				e.Props = fmt.Sprintf(`{"seats":%d}`, r.IntN(200))
				if r.IntN(3) == 0 {
					tie := e
					tie.ID, tie.Props = e.ID+"b", fmt.Sprintf(`{"seats":%d}`, r.IntN(200))
					evs = append(evs, tie)
				}
			case ingest.TypeAPICall:
				e.User = ""
			}
			evs = append(evs, e)
		}
	}
	// One tenant seen once, on 2016-01-05: listed up to 89 days after
	// (04-03), the lookback's last day, and not on the 90th.
	at := time.Date(2016, 1, 5, 8, 0, 0, 0, time.UTC)
	return append(evs,
		ingest.Event{Tenant: "score-once", ID: "o1", Type: ingest.TypeLogin, User: "u1", Time: at, Props: "{}"},
		ingest.Event{Tenant: "score-once", ID: "o2", Type: ingest.TypeSeatSnapshot, Time: at, Props: `{"seats":7}`})
}

// refScoreInputs counts ScoreInputs from the events themselves, on each
// event's own day of the reporting timezone, with no event after the day.
func refScoreInputs(evs []ingest.Event, from, to Day, s ActivitySettings, weeks int) []ScoreInput {
	s = s.withDefaults()
	n := s.Trend.Days()
	in := func(d, first, last Day) bool { return !d.Before(first) && !last.Before(d) }
	var out []ScoreInput
	for day := from; !to.Before(day); day = day.AddDays(1) {
		end := s.TrendEnd(day)
		// Listed: any event in the 90 days, or in the login windows when
		// they reach further back.
		first := day.AddDays(-89)
		for _, f := range []Day{end.AddDays(1 - 2*n), end.AddDays(-6 - 7*weeks)} {
			if f.Before(first) {
				first = f
			}
		}
		type acc struct {
			users, last, before, week, weeks, features map[string]bool
			seatsAt                                    time.Time
			seatsID                                    string
			seats                                      int64
			lastLogin                                  time.Time
		}
		byTenant := map[string]*acc{}
		all := map[string]bool{}
		for _, e := range evs {
			d := DayOf(e.Time, s.Location)
			feature := ""
			if e.Type == ingest.TypeFeatureUsed {
				feature = strings.TrimSuffix(strings.TrimPrefix(e.Props, `{"feature":"`), `"}`)
			}
			if feature != "" && in(d, day.AddDays(-29), day) {
				all[feature] = true
			}
			if !in(d, first, day) {
				continue
			}
			a := byTenant[e.Tenant]
			if a == nil {
				a = &acc{users: map[string]bool{}, last: map[string]bool{}, before: map[string]bool{},
					week: map[string]bool{}, weeks: map[string]bool{}, features: map[string]bool{}}
				byTenant[e.Tenant] = a
			}
			login := e.Type == ingest.TypeLogin
			if e.User != "" && (login || !s.LoginsOnly) && in(d, day.AddDays(-29), day) {
				a.users[e.User] = true
			}
			if login && in(d, end.AddDays(1-n), end) {
				a.last[e.ID] = true
			}
			if login && in(d, end.AddDays(1-2*n), end.AddDays(-n)) {
				a.before[e.ID] = true
			}
			if login && in(d, end.AddDays(-6), end) {
				a.week[e.ID] = true
			}
			if login && in(d, end.AddDays(-7*(weeks+1)+1), end.AddDays(-7)) {
				a.weeks[e.ID] = true
			}
			if feature != "" && in(d, day.AddDays(-29), day) {
				a.features[feature] = true
			}
			if e.Type == ingest.TypeSeatSnapshot && (e.Time.After(a.seatsAt) || e.Time.Equal(a.seatsAt) && e.ID > a.seatsID) {
				fmt.Sscanf(e.Props, `{"seats":%d}`, &a.seats)
				a.seatsAt, a.seatsID = e.Time, e.ID
			}
			if login && e.Time.After(a.lastLogin) {
				a.lastLogin = e.Time
			}
		}
		var day1 []ScoreInput
		for tenant, a := range byTenant {
			x := ScoreInput{Day: day, Tenant: tenant, ActiveUsers30: int64(len(a.users)), TrendEnd: end,
				Logins: int64(len(a.last)), LoginsBefore: int64(len(a.before)),
				LoginsWeek: int64(len(a.week)), LoginsWeeks: int64(len(a.weeks)), BaselineWeeks: weeks,
				Features30: int64(len(a.features)), AllFeatures30: int64(len(all)),
				Seats: a.seats, SeatsAt: a.seatsAt, LastLogin: a.lastLogin}
			x.Trend = s.Trend.Of(x.Logins, x.LoginsBefore)
			if !a.lastLogin.IsZero() {
				x.LastLoginDay = DayOf(a.lastLogin, s.Location)
			}
			day1 = append(day1, x)
		}
		sort.Slice(day1, func(i, j int) bool { return day1[i].Tenant < day1[j].Tenant })
		out = append(out, day1...)
	}
	return out
}

func formatScoreInput(x ScoreInput) string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s %s: %d active, logins %d/%d to %s (%s), week %d vs %d in %d weeks, features %d of %d, seats %d at %s, last login %s (%s)",
		x.Day, x.Tenant, x.ActiveUsers30, x.Logins, x.LoginsBefore, x.TrendEnd, x.Trend, x.LoginsWeek, x.LoginsWeeks, x.BaselineWeeks, x.Features30, x.AllFeatures30,
		x.Seats, at(x.SeatsAt), at(x.LastLogin), x.LastLoginDay)
}

func diffScoreInputs(got, want []ScoreInput) string {
	var sb strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			fmt.Fprintf(&sb, "missing: %s\n", formatScoreInput(want[i]))
		case i >= len(want):
			fmt.Fprintf(&sb, "extra:   %s\n", formatScoreInput(got[i]))
		case formatScoreInput(got[i]) != formatScoreInput(want[i]):
			fmt.Fprintf(&sb, "got:  %s\nwant: %s\n", formatScoreInput(got[i]), formatScoreInput(want[i]))
		}
	}
	return sb.String()
}

// TestScoreInputsMatchRecount stores the random events (some of them twice)
// in warehouses cut in UTC and in Asia/Kolkata and checks ScoreInputs
// against the recount, over ranges longer than one query's week, with a
// clock that makes the last day not over yet, and with trend windows
// longer than the lookback.
func TestScoreInputsMatchRecount(t *testing.T) {
	evs := scoreRandomEvents()
	again := evs[:len(evs)/5]
	kolkata := mustLocation(t, "Asia/Kolkata")
	march5 := func() time.Time { return time.Date(2016, 3, 5, 10, 0, 0, 0, kolkata) }
	tests := []struct {
		name     string
		s        ActivitySettings
		weeks    int // baseline weeks; 0 is the default, 4
		from, to Day
	}{
		{"UTC, three weeks", ActivitySettings{}, 0, Day{2016, 1, 10}, Day{2016, 1, 30}},
		{"UTC, after the last event", ActivitySettings{}, 0, Day{2016, 5, 28}, Day{2016, 6, 2}},
		{"UTC, 60-day windows, a 1-week baseline", ActivitySettings{Trend: keel.TrendRule{Window: 60 * 24 * time.Hour, Up: 0.1, Down: -0.1}}, 1, Day{2016, 4, 20}, Day{2016, 4, 22}},
		{"UTC, a 12-week baseline", ActivitySettings{}, 12, Day{2016, 4, 28}, Day{2016, 5, 2}},
		{"UTC, the lookback's last day", ActivitySettings{}, 0, Day{2016, 4, 2}, Day{2016, 4, 5}},
		{"Kolkata", ActivitySettings{Location: kolkata}, 0, Day{2016, 2, 25}, Day{2016, 3, 9}},
		{"Kolkata, logins only, 7-day windows, today is 03-05", ActivitySettings{Location: kolkata, LoginsOnly: true,
			Trend: keel.TrendRule{Window: 7 * 24 * time.Hour, Up: 0.5, Down: -0.5}, Now: march5}, 2, Day{2016, 3, 1}, Day{2016, 3, 5}},
		{"Shanghai, today is 03-05", ActivitySettings{Location: mustLocation(t, "Asia/Shanghai"), Now: march5}, 0, Day{2016, 2, 28}, Day{2016, 3, 5}},
		{"before any event", ActivitySettings{}, 0, Day{2015, 6, 1}, Day{2015, 6, 3}},
	}
	ctx := context.Background()
	var seen ScoreInput
	edge := map[Day]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storeIn(t, tt.s.Location)
			storeEvents(t, s, evs)
			storeEvents(t, s, again)
			var got []ScoreInput
			h := keel.HealthSettings{BaselineWeeks: tt.weeks}
			if err := s.ScoreInputs(ctx, tt.from, tt.to, tt.s, h, func(x ScoreInput) error {
				got = append(got, x)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := refScoreInputs(evs, tt.from, tt.to, tt.s, h.WithDefaults().BaselineWeeks)
			if d := diffScoreInputs(got, want); d != "" {
				t.Errorf("ScoreInputs %s to %s:\n%s", tt.from, tt.to, d)
			}
			for _, x := range got {
				if x.Tenant == "score-once" && x.Seats == 7 && !x.LastLogin.IsZero() && tt.s.Location == nil {
					edge[x.Day] = true
				}
				if x.Seats > 0 && x.Features30 > 0 && x.Logins > 0 && x.LoginsBefore > 0 && x.LoginsWeek > 0 && x.LoginsWeeks > x.LoginsWeek && x.TrendEnd != x.Day {
					seen = x
				}
			}
		})
	}
	if !edge[Day{2016, 4, 3}] || edge[Day{2016, 4, 4}] {
		t.Errorf("the tenant seen on 2016-01-05 is listed on %v, want 04-03 and not 04-04", edge)
	}
	if seen.Tenant == "" {
		t.Error("no input with seats, features, logins in both windows and both weeks and a trend ending before its day: the fixture checks too little")
	}

	// A day not begun has no inputs; an error from fn stops the reading.
	s := storeIn(t, kolkata)
	err := s.ScoreInputs(ctx, Day{2016, 3, 1}, Day{2016, 3, 6}, ActivitySettings{Location: kolkata, Now: march5}, keel.HealthSettings{}, func(ScoreInput) error { return nil })
	if keel.ErrorCode(err) != keel.EINVALID || !strings.Contains(err.Error(), "to:") {
		t.Errorf("a range ending tomorrow: err = %v, want an invalid-input error naming to", err)
	}
	stop := fmt.Errorf("enough")
	calls := 0
	err = s.ScoreInputs(ctx, Day{2016, 2, 1}, Day{2016, 2, 20}, ActivitySettings{Location: kolkata}, keel.HealthSettings{}, func(ScoreInput) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn's error: got %v after %d calls, want it after 1", err, calls)
	}
	if err := s.ScoreInputs(ctx, Day{2016, 2, 1}, Day{2016, 2, 1}, ActivitySettings{}, keel.HealthSettings{}, func(ScoreInput) error { return nil }); err == nil {
		t.Errorf("UTC inputs from a rollup cut in Kolkata: no error")
	}
}
