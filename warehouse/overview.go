package warehouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The cross-tenant views of activity: the console's activity dashboard, the
// customer list's filters and the weekly review. Like Activity, they read
// only the daily rollups (migrations 0005 and 0010), never raw events or hours, and
// answer in one query each whatever the number of tenants.

// DailyTotal is one day across all tenants.
type DailyTotal struct {
	Day        string // YYYY-MM-DD in the reporting timezone
	LoginUsers int64  // sum over tenants of distinct users who logged in that day
	Logins     int64  // distinct login events
	Tenants    int64  // tenants with at least one login that day
}

// dailyTotalsQuery returns, for each day in [from, to] with any event, the
// day's totals over tenants. It reads only activity_totals_daily, one row
// per day across all tenants (migration 0005), so its cost follows the
// number of days and users, not of tenants. Users are distinct per tenant
// and day (METRICS.md): the rollup's sets hold (tenant, user) pairs, so a
// day's distinct pairs are the sum over tenants of its distinct users; logins
// are (tenant, event id) pairs, and login_tenants is the set of tenants with
// a login. (The aliases must not be the column names: an alias would shadow
// the column and the merge would read the finished count.)
func dailyTotalsQuery(from, to Day) (string, []any) {
	sql := `SELECT toString(day) AS d,
    uniqExactMerge(login_users) AS lu,
    uniqExactMerge(logins) AS l,
    uniqExactMerge(login_tenants) AS lt
FROM activity_totals_daily
WHERE day >= toDate(?) AND day <= toDate(?)
GROUP BY d
ORDER BY d`
	return sql, []any{date(from), date(to)}
}

// DailyTotals returns one row per day in [from, to] (inclusive, in the
// reporting timezone); days without activity are included with zeros. A
// range of more than 731 days, or one that ends before it starts, is an
// EINVALID error naming from and to.
func (st *Store) DailyTotals(ctx context.Context, from, to Day, s ActivitySettings) ([]DailyTotal, error) {
	s = s.withDefaults()
	if err := checkDays(from, to); err != nil {
		return nil, err
	}
	if err := st.CheckZone(ctx, s.Location); err != nil {
		return nil, fmt.Errorf("daily totals %s to %s: %w", from, to, err)
	}
	got := map[string]DailyTotal{}
	sql, args := dailyTotalsQuery(from, to)
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("daily totals %s to %s: %w", from, to, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var loginUsers, logins, tenants uint64
		if err := rows.Scan(&d, &loginUsers, &logins, &tenants); err != nil {
			return nil, fmt.Errorf("daily totals %s to %s: %w", from, to, err)
		}
		got[d] = DailyTotal{Day: d, LoginUsers: int64(loginUsers), Logins: int64(logins), Tenants: int64(tenants)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily totals %s to %s: %w", from, to, err)
	}
	out := []DailyTotal{}
	for d := from; !to.Before(d); d = d.AddDays(1) {
		day, ok := got[d.String()]
		if !ok {
			day = DailyTotal{Day: d.String()}
		}
		out = append(out, day)
	}
	return out, nil
}

// TrendLookbackDays is how far back TenantTrends looks: a tenant with no
// event in these days is not listed, and a zero LastLogin means no login in
// these days.
const TrendLookbackDays = 90

// TenantTrend is one tenant's login trend as of a day.
type TenantTrend struct {
	Tenant        string
	Last          int64      // logins in the trend window ending with ActivitySettings.TrendEnd(day) (Trend.Days() days)
	Previous      int64      // logins in the window before it
	Trend         keel.Trend // ActivitySettings.Trend.Of(Last, Previous)
	Change        float64    // (Last-Previous)/Previous; 0 when Previous is 0
	ActiveUsers30 int64      // distinct active users in the 30 days ending with the day
	LastLogin     time.Time  // start (UTC) of the hour of the last login in the lookback; zero if none
}

// tenantTrendsQuery returns, per tenant with any event in the
// TrendLookbackDays ending with `to`, its logins in the two trend windows
// (which end with TrendEnd(to)), its active users over 30 days and the hour
// of its last login, from the daily rollup. Two reads joined by tenant keep
// each column to the days it needs: the lookback reads only the small
// last-login states over 90 days (a merged max of the days' last logins is
// the last login whatever has been merged, and zero, 1970, when there is
// none), the windows read the sets of logins and users over the 30 days
// or the trend windows (reading the sets over the whole lookback took
// about twice as long).
func tenantTrendsQuery(to Day, s ActivitySettings, tenants []string, more ...keel.TrendRule) (string, []any) {
	start30 := to.AddDays(-29)
	lookback := to.AddDays(1 - TrendLookbackDays)
	// The windows of s's rule, then of each further rule: their columns
	// are last and previous, then last_1, previous_1, …
	type windows struct{ prevFirst, prevLast, lastFirst, lastLast Day }
	var ws []windows
	for _, r := range append([]keel.TrendRule{s.Trend}, more...) {
		sr := s
		sr.Trend = r
		var w windows
		w.prevFirst, w.prevLast, w.lastFirst, w.lastLast = sr.trendWindows(to)
		ws = append(ws, w)
	}
	windowsStart := start30
	for _, w := range ws {
		if w.prevFirst.Before(windowsStart) {
			windowsStart = w.prevFirst
		}
	}
	// The tenants, when listed, are a set the key's first column is looked
	// up in, so a page of customers reads only its own tenants' rows.
	only := ""
	if tenants != nil {
		only = " AND tenant_id IN (SELECT arrayJoin(?))"
	}
	var cols, counts strings.Builder
	var windowArgs []any
	for i, w := range ws {
		suffix := ""
		if i > 0 {
			suffix = "_" + strconv.Itoa(i)
		}
		cols.WriteString("last" + suffix + ", previous" + suffix + ", ")
		counts.WriteString(`
        uniqExactMergeIf(logins, day >= toDate(?) AND day <= toDate(?)) AS last` + suffix + `,
        uniqExactMergeIf(logins, day >= toDate(?) AND day <= toDate(?)) AS previous` + suffix + `,`)
		windowArgs = append(windowArgs, date(w.lastFirst), date(w.lastLast), date(w.prevFirst), date(w.prevLast))
	}
	sql := `SELECT tenant_id, ` + cols.String() + `active_users_30, last_login
FROM (
    SELECT tenant_id, toStartOfHour(maxMerge(last_login)) AS last_login
    FROM activity_daily
    WHERE day >= toDate(?) AND day <= toDate(?)` + only + `
    GROUP BY tenant_id
) AS lookback
ANY LEFT JOIN (
    SELECT tenant_id,` + counts.String() + `
        uniqExactMergeIf(` + s.usersColumn() + `, day >= toDate(?)) AS active_users_30
    FROM activity_daily
    WHERE day >= toDate(?) AND day <= toDate(?)` + only + `
    GROUP BY tenant_id
) AS windows USING tenant_id
ORDER BY tenant_id`
	args := []any{date(lookback), date(to)}
	if tenants != nil {
		args = append(args, tenants)
	}
	args = append(args, windowArgs...)
	args = append(args, date(start30), date(windowsStart), date(to))
	if tenants != nil {
		args = append(args, tenants)
	}
	return sql, args
}

// TenantTrends returns every tenant with any event in the TrendLookbackDays
// ending with the day `to` (in the reporting timezone), sorted by tenant id,
// with its login trend as of `to`: its windows end with s.TrendEnd(to), the
// last complete day. A zero `to` is an EINVALID error.
func (st *Store) TenantTrends(ctx context.Context, to Day, s ActivitySettings) ([]TenantTrend, error) {
	return st.tenantTrends(ctx, to, s, nil)
}

// TenantTrendsOf is TenantTrends for the listed tenants only (none listed,
// none returned). Its cost follows the number of tenants asked for, not the
// number there are, which suits pages that show a page of customers.
func (st *Store) TenantTrendsOf(ctx context.Context, to Day, s ActivitySettings, tenants []string) ([]TenantTrend, error) {
	if tenants == nil {
		tenants = []string{}
	}
	return st.tenantTrends(ctx, to, s, tenants)
}

// TenantTrendsOfTwo is TenantTrendsOf under s's trend rule and under
// second at once, from one read of the rollup: what the weekly review
// shows, the trend and the week's logins against the week before.
func (st *Store) TenantTrendsOfTwo(ctx context.Context, to Day, s ActivitySettings, second keel.TrendRule, tenants []string) (first, other []TenantTrend, err error) {
	if tenants == nil {
		tenants = []string{}
	}
	out, err := st.tenantTrendsUnder(ctx, to, s, tenants, second)
	if err != nil {
		return nil, nil, err
	}
	return out[0], out[1], nil
}

// tenantTrends reads the trends of the tenants, or of every tenant when
// tenants is nil.
func (st *Store) tenantTrends(ctx context.Context, to Day, s ActivitySettings, tenants []string) ([]TenantTrend, error) {
	out, err := st.tenantTrendsUnder(ctx, to, s, tenants)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// tenantTrendsUnder reads the trends under s's rule and each further
// rule, one list each, in one query.
func (st *Store) tenantTrendsUnder(ctx context.Context, to Day, s ActivitySettings, tenants []string, more ...keel.TrendRule) ([][]TenantTrend, error) {
	s = s.withDefaults()
	rules := append([]keel.TrendRule{s.Trend}, more...)
	for i, r := range rules {
		if r == (keel.TrendRule{}) { // as s's own rule: unset is the default
			rules[i] = keel.DefaultTrendRule
		}
	}
	out := make([][]TenantTrend, len(rules))
	for i := range out {
		out[i] = []TenantTrend{}
	}
	if to == (Day{}) {
		return nil, keel.Invalid("to", "required")
	}
	if tenants != nil && len(tenants) == 0 {
		return out, nil
	}
	if err := st.CheckZone(ctx, s.Location); err != nil {
		return nil, fmt.Errorf("tenant trends as of %s: %w", to, err)
	}
	sql, args := tenantTrendsQuery(to, s, tenants, rules[1:]...)
	rows, err := st.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("tenant trends as of %s: %w", to, err)
	}
	defer rows.Close()
	counts := make([]uint64, 2*len(rules))
	for rows.Next() {
		var tenant string
		var active uint64
		var lastLogin time.Time
		dest := []any{&tenant}
		for i := range counts {
			dest = append(dest, &counts[i])
		}
		dest = append(dest, &active, &lastLogin)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("tenant trends as of %s: %w", to, err)
		}
		// maxMerge over no login is the DateTime zero, 1970-01-01.
		if lastLogin.Unix() > 0 {
			lastLogin = lastLogin.UTC()
		} else {
			lastLogin = time.Time{}
		}
		for i, r := range rules {
			t := TenantTrend{Tenant: tenant, Last: int64(counts[2*i]), Previous: int64(counts[2*i+1]), ActiveUsers30: int64(active), LastLogin: lastLogin}
			t.Trend = r.Of(t.Last, t.Previous)
			if t.Previous > 0 {
				t.Change = float64(t.Last-t.Previous) / float64(t.Previous)
			}
			out[i] = append(out[i], t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tenant trends as of %s: %w", to, err)
	}
	return out, nil
}
