package warehouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// dayCounts is what the rollups hold of a tenant's day.
type dayCounts struct {
	users, logins, loginUsers, features uint64
	seats                               uint64
	lastLogin                           int64 // unix seconds
}

func (c dayCounts) String() string {
	return fmt.Sprintf("%d users, %d logins, %d login users, %d features, %d seats, last login %d",
		c.users, c.logins, c.loginUsers, c.features, c.seats, c.lastLogin)
}

// rawDaysQuery recounts, per tenant and day of zone, from raw events, what
// the daily rollup holds; dailyDaysQuery reads the same from the rollup.
func rawDaysQuery(prefix, zone string) (string, []any) {
	return `SELECT tenant_id, toString(toDate(event_time, ?)) AS d,
    uniqExactIf(user_id, user_id != '') AS users,
    uniqExactIf(event_id, event_type = 'login') AS logins,
    uniqExactIf(user_id, event_type = 'login' AND user_id != '') AS login_users,
    uniqExactIf(visitParamExtractString(props, 'feature'), event_type = 'feature_used' AND visitParamExtractString(props, 'feature') != '') AS features,
    argMaxIf(visitParamExtractUInt(props, 'seats'), tuple(event_time, event_id), event_type = 'seat_snapshot') AS seats,
    toInt64(toUnixTimestamp(maxIf(event_time, event_type = 'login'))) AS last_login
FROM events WHERE startsWith(tenant_id, ?) GROUP BY tenant_id, d`, []any{zone, prefix}
}

func dailyDaysQuery(prefix string) (string, []any) {
	return `SELECT tenant_id, toString(day) AS d,
    uniqExactMerge(users) AS u, uniqExactMerge(logins) AS l, uniqExactMerge(login_users) AS lu, uniqExactMerge(features) AS f,
    argMaxMerge(seats) AS s, toInt64(toUnixTimestamp(maxMerge(last_login))) AS ll
FROM activity_daily WHERE startsWith(tenant_id, ?) GROUP BY tenant_id, d`, []any{prefix}
}

// RollupsMatchRaw recounts every tenant-day of the tenants whose id starts
// with prefix ("" for all) from raw events and returns an error listing the
// days where the daily rollup disagrees, on days of the timezone it is cut
// in. It reads every raw event twice:
// an operator's and a test's check, not something for a page.
func RollupsMatchRaw(ctx context.Context, s *Store, prefix string) error {
	read := func(sql string, args []any) (map[string]dayCounts, error) {
		rows, err := s.conn.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]dayCounts{}
		for rows.Next() {
			var tenant, day string
			var c dayCounts
			if err := rows.Scan(&tenant, &day, &c.users, &c.logins, &c.loginUsers, &c.features, &c.seats, &c.lastLogin); err != nil {
				return nil, err
			}
			out[tenant+" "+day] = c
		}
		return out, rows.Err()
	}
	zone, err := s.RollupZone(ctx)
	if err != nil {
		return err
	}
	raw, err := read(rawDaysQuery(prefix, zone))
	if err != nil {
		return fmt.Errorf("recount raw events: %w", err)
	}
	rolled, err := read(dailyDaysQuery(prefix))
	if err != nil {
		return fmt.Errorf("read the daily rollup: %w", err)
	}
	var diffs []string
	name := "daily (" + zone + ")"
	for k, r := range raw {
		if got := rolled[k]; got != r {
			diffs = append(diffs, fmt.Sprintf("%s %s: raw %s; rollup %s", name, k, r, got))
		}
	}
	for k, got := range rolled {
		if _, ok := raw[k]; !ok && got != (dayCounts{}) {
			diffs = append(diffs, fmt.Sprintf("%s %s: no raw events; rollup %s", name, k, got))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("… and %d more", len(diffs)-20))
		}
		return fmt.Errorf("rollups disagree with raw events on %d tenant-days:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	return nil
}
