package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keelhq/keel"
)

// ActivitySettings are the settings of the activity definitions in
// METRICS.md.
type ActivitySettings struct {
	// Location is the reporting timezone in which days are cut; default UTC.
	// Rollups are hourly, so whole-hour offsets are exact; a zone with a
	// half-hour offset attributes each boundary hour to the day it starts in.
	Location *time.Location
	// LoginsOnly counts a user as active only on days they logged in,
	// instead of on days with any event.
	LoginsOnly bool
	// Trend is the login-trend rule.
	Trend keel.TrendRule
}

func (s ActivitySettings) withDefaults() ActivitySettings {
	if s.Location == nil {
		s.Location = time.UTC
	}
	if s.Trend == (keel.TrendRule{}) {
		s.Trend = keel.DefaultTrendRule
	}
	return s
}

// Day is a calendar date in the reporting timezone.
type Day struct {
	Year  int
	Month time.Month
	Day   int
}

// DayOf returns the day t falls on in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return Day{y, m, d}
}

// ParseDay parses YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Day{}, keel.Errorf(keel.EINVALID, "%q is not a date like 2026-11-23", s)
	}
	return DayOf(t, time.UTC), nil
}

func (d Day) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Start returns the first instant of the day in loc.
func (d Day) Start(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// AddDays returns the day n days later (earlier for negative n).
func (d Day) AddDays(n int) Day {
	return DayOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC), time.UTC)
}

// Before reports whether d is earlier than o.
func (d Day) Before(o Day) bool { return d.String() < o.String() }

// maxActivityDays bounds one activity request, so that no request reads
// years of rollups.
const maxActivityDays = 731

// checkDays refuses a range of days that ends before it starts or is
// longer than maxActivityDays (both ends included), naming the field at
// fault (from, for a range that is wrong as a whole).
func checkDays(from, to Day) error {
	switch {
	case from == Day{}:
		return keel.Invalid("from", "required")
	case to == Day{}:
		return keel.Invalid("to", "required")
	case to.Before(from):
		return keel.Invalid("from", "%s is after to: %s", from, to)
	case from.AddDays(maxActivityDays - 1).Before(to):
		return keel.Invalid("from", "the range is at most %d days (%s to %s is more)", maxActivityDays, from, to)
	}
	return nil
}

// usersColumn is the rollup column that counts active users.
func (s ActivitySettings) usersColumn() string {
	if s.LoginsOnly {
		return "login_users"
	}
	return "users"
}

// activityDaysQuery returns, for each day in [from, to] with any activity in
// the 30 days before it, the active users, logins, WAU and MAU. WAU and MAU
// are distinct users over the window (METRICS.md), so each day's set is
// merged into the 30 days that follow it rather than summing daily counts.
func activityDaysQuery(tenant string, from, to Day, s ActivitySettings) (string, []any) {
	tz := s.Location.String()
	sql := `SELECT toString(day + k) AS d,
    uniqExactMergeIf(u, k = 0) AS active_users,
    uniqExactMergeIf(l, k = 0) AS logins,
    uniqExactMergeIf(u, k < 7) AS wau,
    uniqExactMerge(u) AS mau
FROM (
    SELECT toDate(hour, ?) AS day, uniqExactMergeState(` + s.usersColumn() + `) AS u, uniqExactMergeState(logins) AS l
    FROM activity_hourly
    WHERE tenant_id = ? AND hour >= ? AND hour < ?
    GROUP BY day
)
ARRAY JOIN range(30) AS k
WHERE day + k BETWEEN toDate(?) AND toDate(?)
GROUP BY d
ORDER BY d`
	return sql, []any{tz, tenant, from.AddDays(-29).Start(s.Location), to.AddDays(1).Start(s.Location), from.String(), to.String()}
}

// loginWindowsQuery counts a tenant's logins in the trend window ending with
// the day `to` and in the window before it.
func loginWindowsQuery(tenant string, to Day, s ActivitySettings) (string, []any) {
	n := s.Trend.Days()
	end := to.AddDays(1).Start(s.Location)
	mid := to.AddDays(1 - n).Start(s.Location)
	start := to.AddDays(1 - 2*n).Start(s.Location)
	sql := `SELECT uniqExactMergeIf(logins, hour >= ?) AS last, uniqExactMergeIf(logins, hour < ?) AS previous
FROM activity_hourly
WHERE tenant_id = ? AND hour >= ? AND hour < ?`
	return sql, []any{mid, mid, tenant, start, end}
}

// Activity returns a tenant's daily activity for the days from..to
// (inclusive) and its login trend as of `to`. Days without activity are
// included with zeros.
func (st *Store) Activity(ctx context.Context, tenant string, from, to Day, s ActivitySettings) (keel.Activity, error) {
	s = s.withDefaults()
	if tenant == "" {
		return keel.Activity{}, keel.Invalid("tenant", "required")
	}
	if err := checkDays(from, to); err != nil {
		return keel.Activity{}, err
	}
	got := map[string]keel.ActivityDay{}
	sql, args := activityDaysQuery(tenant, from, to, s)
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return keel.Activity{}, fmt.Errorf("activity of %s: %w", tenant, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var active, logins, wau, mau uint64
		if err := rows.Scan(&d, &active, &logins, &wau, &mau); err != nil {
			return keel.Activity{}, fmt.Errorf("activity of %s: %w", tenant, err)
		}
		got[d] = keel.ActivityDay{Day: d, ActiveUsers: int64(active), Logins: int64(logins), WAU: int64(wau), MAU: int64(mau)}
	}
	if err := rows.Err(); err != nil {
		return keel.Activity{}, fmt.Errorf("activity of %s: %w", tenant, err)
	}
	out := keel.Activity{Tenant: tenant, Days: []keel.ActivityDay{}}
	for d := from; !to.Before(d); d = d.AddDays(1) {
		day, ok := got[d.String()]
		if !ok {
			day = keel.ActivityDay{Day: d.String()}
		}
		out.Days = append(out.Days, day)
	}

	sql, args = loginWindowsQuery(tenant, to, s)
	var last, previous uint64
	if err := st.conn.QueryRow(ctx, sql, args...).Scan(&last, &previous); err != nil {
		return keel.Activity{}, fmt.Errorf("login trend of %s: %w", tenant, err)
	}
	out.Trend = s.Trend.Of(int64(last), int64(previous))
	return out, nil
}

// TenantSummary is one tenant seen in events.
type TenantSummary struct {
	Tenant    string
	FirstSeen time.Time
	LastSeen  time.Time
	Logins30d int64
	Users30d  int64
}

// tenantsQuery lists every tenant with events, with its last 30 days'
// logins and active users, from the rollup.
func tenantsQuery(now time.Time) (string, []any) {
	since := now.Add(-30 * 24 * time.Hour).Truncate(time.Hour)
	return `SELECT tenant_id, min(hour) AS first_seen, max(hour) AS last_seen,
    uniqExactMergeIf(logins, hour >= ?) AS logins_30d,
    uniqExactMergeIf(users, hour >= ?) AS users_30d
FROM activity_hourly
GROUP BY tenant_id
ORDER BY tenant_id`, []any{since, since}
}

// Tenants lists the tenants that sent events.
func (st *Store) Tenants(ctx context.Context, now time.Time) ([]TenantSummary, error) {
	sql, args := tenantsQuery(now)
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []TenantSummary
	for rows.Next() {
		var t TenantSummary
		var logins, users uint64
		if err := rows.Scan(&t.Tenant, &t.FirstSeen, &t.LastSeen, &logins, &users); err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		t.Logins30d, t.Users30d = int64(logins), int64(users)
		out = append(out, t)
	}
	return out, rows.Err()
}
