package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keelhq/keel"
)

// What a health score reads from activity (METRICS.md, "Health and churn
// warnings"): for every tenant and day, the activity components' inputs
// and the churn rules' weeks of logins, from the daily rollups only and
// with no look-ahead.

// ScoreLookbackDays is how far back ScoreInputs looks for a tenant's
// latest seat snapshot and last login, and for any event at all: a tenant
// with no event in these days (or in the login windows, when they reach
// further) is not listed that day.
const ScoreLookbackDays = 90

// ScoreInput is one tenant's activity as of the end of one day: only
// events of that day and before count (METRICS.md, "No look-ahead").
// Windows of logins end with TrendEnd, the last complete day.
type ScoreInput struct {
	Day           Day
	Tenant        string
	ActiveUsers30 int64      // distinct active users in the 30 days ending with Day
	TrendEnd      Day        // the last day the login windows count: ActivitySettings.TrendEnd(Day)
	Logins        int64      // logins in the trend window (Trend.Days() days) ending with TrendEnd
	LoginsBefore  int64      // logins in the window before it
	Trend         keel.Trend // ActivitySettings.Trend.Of(Logins, LoginsBefore)
	LoginsWeek    int64      // logins in the 7 days ending with TrendEnd
	LoginsWeeks   int64      // logins in the BaselineWeeks weeks before those 7 days
	BaselineWeeks int        // how many weeks LoginsWeeks counts
	Features30    int64      // distinct features the tenant used in the 30 days ending with Day
	AllFeatures30 int64      // distinct features any tenant used in those 30 days
	Seats         int64      // seats of the latest seat snapshot in the lookback; see SeatsAt
	SeatsAt       time.Time  // when that snapshot was taken; zero when there is none
	LastLogin     time.Time  // the last login in the lookback; zero when there is none
	LastLoginDay  Day        // its day in the reporting timezone; zero when there is none
}

// FillHealth sets the activity inputs of a health score from x: in is the
// input of the customer whose tenant x is, for the same day. Seats stay as
// they are: a score's seats are those bought, not a snapshot's.
func (x ScoreInput) FillHealth(in *keel.HealthInput) {
	in.Activity = true
	in.Trend, in.Logins, in.LoginsBefore = x.Trend, x.Logins, x.LoginsBefore
	in.ActiveUsers30, in.Features30, in.AllFeatures30 = x.ActiveUsers30, x.Features30, x.AllFeatures30
	in.LoginsWeek, in.LoginsWeeks = x.LoginsWeek, x.LoginsWeeks
	in.LastLogin = time.Time{}
	if x.LastLoginDay != (Day{}) {
		in.LastLogin = x.LastLoginDay.Start(time.UTC)
	}
}

// scoreDays are the days a day's inputs read: the login windows, which
// end with the day's TrendEnd e (the day itself, or the day before when it
// is today) — the trend window (e-n, e] and the one before, the week
// (e-7, e] and the baseline's weeks before it — and the 30 days of users
// and features ending with the day. The sets are read from the first day
// any of them needs; the latest seats and last login, and whether the
// tenant is listed at all, from the lookback's first day, or the sets'
// when that is earlier.
type scoreDays struct {
	end                          Day
	lastFirst, prevFirst         Day // the trend window and the one before (which ends the day before lastFirst)
	weekFirst, baselineFirst     Day // the week and the baseline (which ends the day before weekFirst)
	first30, setsFirst, seenFrom Day
}

func (s ActivitySettings) scoreDays(day Day, h keel.HealthSettings) scoreDays {
	n, weeks := s.Trend.Days(), h.WithDefaults().BaselineWeeks
	e := s.TrendEnd(day)
	d := scoreDays{end: e, lastFirst: e.AddDays(1 - n), prevFirst: e.AddDays(1 - 2*n),
		weekFirst: e.AddDays(-6), baselineFirst: e.AddDays(-6 - 7*weeks), first30: day.AddDays(-29)}
	d.setsFirst = earliest(d.prevFirst, d.baselineFirst, d.first30)
	d.seenFrom = earliest(d.setsFirst, day.AddDays(1-ScoreLookbackDays))
	return d
}

// earliest returns the earliest of the days.
func earliest(first Day, more ...Day) Day {
	for _, d := range more {
		if d.Before(first) {
			first = d
		}
	}
	return first
}

// scoreInputsQuery returns the inputs of every tenant for one day, from the
// daily rollups alone, in one pass over the tenants. Two reads of
// activity_daily, joined by tenant, keep each column to the days it needs:
// the lookback reads only the small seats and last-login states (90
// days), the windows read the sets (36 days by default) and merge each
// window's days with -If. Features across all tenants are one number of
// the cross-tenant rollup. (One query a day is what a range costs too: a
// query over a week of days, with every row counted towards each day it
// falls in, took longer than seven of these, since merging, not reading,
// is the work.)
func scoreInputsQuery(day Day, s ActivitySettings, h keel.HealthSettings) (string, []any) {
	d := s.scoreDays(day, h)
	sql := `SELECT tenant_id, active_users_30, last, previous, week, weeks, features_30,
    (SELECT uniqExactMerge(features) FROM activity_totals_daily WHERE day >= toDate(?) AND day <= toDate(?)) AS all_features_30,
    seats_now, seats_at_now, last_login_now
FROM (
    SELECT tenant_id, argMaxMerge(seats) AS seats_now, maxMerge(seats_at) AS seats_at_now, maxMerge(last_login) AS last_login_now
    FROM activity_daily
    WHERE day >= toDate(?) AND day <= toDate(?)
    GROUP BY tenant_id
) AS lookback
ANY LEFT JOIN (
    SELECT tenant_id,
        uniqExactMergeIf(` + s.usersColumn() + `, day >= toDate(?)) AS active_users_30,
        uniqExactMergeIf(logins, day >= toDate(?) AND day <= toDate(?)) AS last,
        uniqExactMergeIf(logins, day >= toDate(?) AND day < toDate(?)) AS previous,
        uniqExactMergeIf(logins, day >= toDate(?) AND day <= toDate(?)) AS week,
        uniqExactMergeIf(logins, day >= toDate(?) AND day < toDate(?)) AS weeks,
        uniqExactMergeIf(features, day >= toDate(?)) AS features_30
    FROM activity_daily
    WHERE day >= toDate(?) AND day <= toDate(?)
    GROUP BY tenant_id
) AS windows USING tenant_id
ORDER BY tenant_id`
	return sql, []any{
		date(d.first30), date(day),
		date(d.seenFrom), date(day),
		date(d.first30),
		date(d.lastFirst), date(d.end),
		date(d.prevFirst), date(d.lastFirst),
		date(d.weekFirst), date(d.end),
		date(d.baselineFirst), date(d.weekFirst),
		date(d.first30),
		date(d.setsFirst), date(day),
	}
}

// ScoreInputs calls fn with the inputs of every tenant with any event in
// the lookback of each day of [from, to] (both in the reporting timezone),
// day by day and within a day by tenant id; h gives the churn rule's
// baseline weeks (HealthSettings.BaselineWeeks, default 4). It reads only
// the daily rollups, one query a day across all tenants, so a backfill of
// 90 days is 90 queries whatever the number of tenants. The range is
// refused (EINVALID, naming from or to) when it ends before it starts, is
// longer than 731 days, or ends after today: a day not yet begun has no
// inputs. An error from fn stops the reading and is returned.
func (st *Store) ScoreInputs(ctx context.Context, from, to Day, s ActivitySettings, h keel.HealthSettings, fn func(ScoreInput) error) error {
	s = s.withDefaults()
	if err := checkDays(from, to); err != nil {
		return err
	}
	if today := DayOf(s.Now(), s.Location); today.Before(to) {
		return keel.Invalid("to", "%s is after today (%s)", to, today)
	}
	if err := st.CheckZone(ctx, s.Location); err != nil {
		return fmt.Errorf("score inputs %s to %s: %w", from, to, err)
	}
	for day := from; !to.Before(day); day = day.AddDays(1) {
		if err := st.scoreInputs(ctx, day, s, h, fn); err != nil {
			return err
		}
	}
	return nil
}

func (st *Store) scoreInputs(ctx context.Context, day Day, s ActivitySettings, h keel.HealthSettings, fn func(ScoreInput) error) error {
	sql, args := scoreInputsQuery(day, s, h)
	weeks, end := h.WithDefaults().BaselineWeeks, s.TrendEnd(day)
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("score inputs of %s: %w", day, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			active, last, previous, week, baseline, features, all, n uint64
			seatsAt, lastLogin                                       time.Time
		)
		in := ScoreInput{Day: day, TrendEnd: end, BaselineWeeks: weeks}
		if err := rows.Scan(&in.Tenant, &active, &last, &previous, &week, &baseline, &features, &all, &n, &seatsAt, &lastLogin); err != nil {
			return fmt.Errorf("score inputs of %s: %w", day, err)
		}
		in.ActiveUsers30, in.Logins, in.LoginsBefore = int64(active), int64(last), int64(previous)
		in.LoginsWeek, in.LoginsWeeks = int64(week), int64(baseline)
		in.Features30, in.AllFeatures30 = int64(features), int64(all)
		in.Trend = s.Trend.Of(in.Logins, in.LoginsBefore)
		// A merged max over no snapshot or no login is the DateTime zero,
		// 1970-01-01.
		if seatsAt.Unix() > 0 {
			in.Seats, in.SeatsAt = int64(n), seatsAt.UTC()
		}
		if lastLogin.Unix() > 0 {
			in.LastLogin = lastLogin.UTC()
			in.LastLoginDay = DayOf(lastLogin, s.Location)
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("score inputs of %s: %w", day, err)
	}
	return nil
}
