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
	// It must be the zone the daily rollups were made in (`keel migrate
	// --tz`, Store.CheckZone): a query in another zone is refused.
	Location *time.Location
	// LoginsOnly counts a user as active only on days they logged in,
	// instead of on days with any event.
	LoginsOnly bool
	// Trend is the login-trend rule.
	Trend keel.TrendRule
	// Now is the clock that says which days are over (TrendEnd); default
	// time.Now.
	Now func() time.Time
}

func (s ActivitySettings) withDefaults() ActivitySettings {
	if s.Location == nil {
		s.Location = time.UTC
	}
	if s.Trend == (keel.TrendRule{}) {
		s.Trend = keel.DefaultTrendRule
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

// TrendEnd is the last day a login trend as of asOf counts: asOf once it
// is over, otherwise the last complete day of the reporting timezone
// (keel.Moment.TrendEnd, the rule's one statement). Every trend and window
// the warehouse computes ends here.
func (s ActivitySettings) TrendEnd(asOf Day) Day {
	s = s.withDefaults()
	now := keel.NewCalendar(s.Location).At(s.Now())
	return DayOf(now.TrendEnd(asOf.Start(time.UTC)), time.UTC)
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

// date binds a day as the SQL argument of toDate(?).
func date(d Day) any { return d.String() }

// activityDaysQuery returns, for each day in [from, to] with any activity in
// the 30 days before it, the active users, logins, WAU and MAU, from the
// daily rollup. WAU and MAU are distinct users over the window (METRICS.md),
// so each day's set is merged into the 30 days that follow it rather than
// summing daily counts.
func activityDaysQuery(tenant string, from, to Day, s ActivitySettings) (string, []any) {
	sql := `SELECT toString(day + k) AS d,
    uniqExactMergeIf(u, k = 0) AS active_users,
    uniqExactMergeIf(l, k = 0) AS logins,
    uniqExactMergeIf(u, k < 7) AS wau,
    uniqExactMerge(u) AS mau
FROM (
    SELECT day, uniqExactMergeState(` + s.usersColumn() + `) AS u, uniqExactMergeState(logins) AS l
    FROM activity_daily
    WHERE tenant_id = ? AND day >= toDate(?) AND day <= toDate(?)
    GROUP BY day
)
ARRAY JOIN range(30) AS k
WHERE day + k BETWEEN toDate(?) AND toDate(?)
GROUP BY d
ORDER BY d`
	return sql, []any{tenant, date(from.AddDays(-29)), date(to), date(from), date(to)}
}

// trendWindows returns the first and last day of the two login-trend
// windows as of asOf: the last Trend.Days() days ending with TrendEnd(asOf),
// and as many before them.
func (s ActivitySettings) trendWindows(asOf Day) (prevFirst, prevLast, lastFirst, lastLast Day) {
	n := s.Trend.Days()
	end := s.TrendEnd(asOf)
	return end.AddDays(1 - 2*n), end.AddDays(-n), end.AddDays(1 - n), end
}

// loginWindowsQuery counts a tenant's logins in the trend window as of the
// day `to` and in the window before it.
func loginWindowsQuery(tenant string, to Day, s ActivitySettings) (string, []any) {
	prevFirst, prevLast, lastFirst, lastLast := s.trendWindows(to)
	sql := `SELECT uniqExactMergeIf(logins, day >= toDate(?)) AS last, uniqExactMergeIf(logins, day <= toDate(?)) AS previous
FROM activity_daily
WHERE tenant_id = ? AND day >= toDate(?) AND day <= toDate(?)`
	return sql, []any{date(lastFirst), date(prevLast), tenant, date(prevFirst), date(lastLast)}
}

// Activity returns a tenant's daily activity for the days from..to
// (inclusive) and its login trend as of `to` (ending with
// s.TrendEnd(to)). Days without activity are included with zeros.
func (st *Store) Activity(ctx context.Context, tenant string, from, to Day, s ActivitySettings) (keel.Activity, error) {
	s = s.withDefaults()
	if tenant == "" {
		return keel.Activity{}, keel.Invalid("tenant", "required")
	}
	if err := checkDays(from, to); err != nil {
		return keel.Activity{}, err
	}
	if err := st.CheckZone(ctx, s.Location); err != nil {
		return keel.Activity{}, fmt.Errorf("activity of %s: %w", tenant, err)
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
	FirstSeen time.Time // start of the first day with an event, in the rollups' timezone
	LastSeen  time.Time // start of the last day with an event
	Logins30d int64     // logins in the 30 days ending today
	Users30d  int64     // active users in the 30 days ending today
}

// tenantsQuery lists every tenant with events, with its first and last
// day, and its logins and active users in the 30 days from since, from the
// daily rollup. First and last days read only the key columns of every
// row; the sets are read for the 30 days only, and joined by tenant.
func tenantsQuery(since Day) (string, []any) {
	return `SELECT tenant_id, toString(first_day), toString(last_day), logins_30d, users_30d
FROM (
    SELECT tenant_id, min(day) AS first_day, max(day) AS last_day
    FROM activity_daily
    GROUP BY tenant_id
) AS seen
ANY LEFT JOIN (
    SELECT tenant_id, uniqExactMerge(logins) AS logins_30d, uniqExactMerge(users) AS users_30d
    FROM activity_daily
    WHERE day >= toDate(?)
    GROUP BY tenant_id
) AS recent USING tenant_id
ORDER BY tenant_id`, []any{date(since)}
}

// Tenants lists the tenants that sent events, with days of the timezone
// the daily rollups are in.
func (st *Store) Tenants(ctx context.Context, now time.Time) ([]TenantSummary, error) {
	zone, err := st.RollupZone(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("list tenants: the rollups' timezone %q: %w", zone, err)
	}
	sql, args := tenantsQuery(DayOf(now, loc).AddDays(-29))
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []TenantSummary
	for rows.Next() {
		var t TenantSummary
		var first, last string
		var logins, users uint64
		if err := rows.Scan(&t.Tenant, &first, &last, &logins, &users); err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		f, ferr := ParseDay(first)
		l, lerr := ParseDay(last)
		if ferr != nil || lerr != nil {
			return nil, fmt.Errorf("list tenants: %s: days %q to %q", t.Tenant, first, last)
		}
		t.FirstSeen, t.LastSeen = f.Start(loc), l.Start(loc)
		t.Logins30d, t.Users30d = int64(logins), int64(users)
		out = append(out, t)
	}
	return out, rows.Err()
}
