package warehouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

type dayCounts struct{ users, logins uint64 }

// rawDaysQuery recounts active users and logins per tenant and UTC day from
// raw events; rollupDaysQuery reads the same from the hourly rollup.
func rawDaysQuery(prefix string) (string, []any) {
	return `SELECT tenant_id, toString(toDate(event_time)) AS d,
    uniqExactIf(user_id, user_id != '') AS users, uniqExactIf(event_id, event_type = 'login') AS logins
FROM events WHERE startsWith(tenant_id, ?) GROUP BY tenant_id, d`, []any{prefix}
}

func rollupDaysQuery(prefix string) (string, []any) {
	return `SELECT tenant_id, toString(toDate(hour)) AS d, uniqExactMerge(users) AS users, uniqExactMerge(logins) AS logins
FROM activity_hourly WHERE startsWith(tenant_id, ?) GROUP BY tenant_id, d`, []any{prefix}
}

// RollupsMatchRaw recounts every tenant-day of the tenants whose id starts
// with prefix ("" for all) from raw events and returns an error listing the
// days where the rollup disagrees. It reads every raw event: an operator's
// and a test's check, not something for a page.
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
			if err := rows.Scan(&tenant, &day, &c.users, &c.logins); err != nil {
				return nil, err
			}
			out[tenant+" "+day] = c
		}
		return out, rows.Err()
	}
	raw, err := read(rawDaysQuery(prefix))
	if err != nil {
		return fmt.Errorf("recount raw events: %w", err)
	}
	rolled, err := read(rollupDaysQuery(prefix))
	if err != nil {
		return fmt.Errorf("read rollup: %w", err)
	}
	var diffs []string
	for k, r := range raw {
		if got := rolled[k]; got != r {
			diffs = append(diffs, fmt.Sprintf("%s: raw %d users / %d logins, rollup %d / %d", k, r.users, r.logins, got.users, got.logins))
		}
	}
	for k, got := range rolled {
		if _, ok := raw[k]; !ok && got != (dayCounts{}) {
			diffs = append(diffs, fmt.Sprintf("%s: no raw events, rollup %d users / %d logins", k, got.users, got.logins))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("… and %d more", len(diffs)-20))
		}
		return fmt.Errorf("rollup disagrees with raw events on %d tenant-days:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	return nil
}
