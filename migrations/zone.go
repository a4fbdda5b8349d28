package migrations

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The reporting timezone of the daily rollups.
//
// A materialized view cannot read a setting, so a day-level rollup's
// timezone is fixed when its view is made. A ClickHouse migration that cuts
// days writes the zone as {timezone} (ZonePlaceholder); the migrator fills
// in the zone `keel migrate --tz` names and records it in schema_timezone.
// Such a zoned migration only holds what can be rebuilt from events — its
// tables, the views that fill them and an INSERT … SELECT from events — so
// when the zone changes the migrator drops what the file made and runs it
// again in the new zone. Nothing outside zoned migrations may depend on
// their tables. While that runs no zone is recorded, so services that
// read the rollups refuse to answer in a zone the rollups are not in
// (ClickHouseZone), rather than show days cut in another.

// ZonePlaceholder is what a zoned migration writes where the zone goes,
// inside quotes: toDate(event_time, '{timezone}').
const ZonePlaceholder = "{timezone}"

// schema_timezone holds one row per zone recorded, the latest (highest
// seq, the nanosecond it was written) in force; an empty zone clears it.
// Rows are only added, so the statements need nothing 18.16 lacks.
const (
	chZoneTable = `CREATE TABLE IF NOT EXISTS schema_timezone (
	zone   String,
	set_at DateTime('UTC'),
	seq    UInt64
) ENGINE = MergeTree() ORDER BY seq`
	chZoneQuery = "SELECT argMax(zone, seq) FROM schema_timezone"
)

// zoneName is what a zone name may hold: IANA names and UTC; nothing that
// could close the quotes it is put between.
var zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+/-]*$`)

// CheckZone returns an error unless zone is a timezone name the rollups can
// be cut in: an IANA name such as Asia/Shanghai, or UTC. "Local" is
// refused: it means a different zone on every machine.
func CheckZone(zone string) error {
	if !zoneName.MatchString(zone) || zone == "Local" {
		return fmt.Errorf("timezone %q: want an IANA name such as UTC or Asia/Shanghai", zone)
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return fmt.Errorf("timezone %q: %w", zone, err)
	}
	return nil
}

// Zoned reports whether the migration cuts days in the reporting timezone.
func (m Migration) Zoned() bool {
	return slices.ContainsFunc(m.Statements(), func(s string) bool { return strings.Contains(s, ZonePlaceholder) })
}

// StatementsIn returns the statements with the zone filled in.
func (m Migration) StatementsIn(zone string) []string {
	out := m.Statements()
	for i, s := range out {
		out[i] = strings.ReplaceAll(s, ZonePlaceholder, zone)
	}
	return out
}

var createdObject = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:MATERIALIZED\s+VIEW|VIEW|TABLE)\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)`)

// objects returns the tables and views the migration creates, in order.
func (m Migration) objects() []string {
	var out []string
	for _, s := range m.Statements() {
		if g := createdObject.FindStringSubmatch(s); g != nil {
			out = append(out, g[1])
		}
	}
	return out
}

// remake runs a zoned migration from scratch in zone: what an earlier run
// made (in another zone, or cut off half-way) is dropped first, views
// before the tables they fill, so no event insert meets a view whose table
// is gone. An event inserted while this runs is in events before the
// file's backfill reads them, or rolled up by its view, or both; the
// rollups hold sets and maxima, so both is harmless.
func remake(ctx context.Context, conn driver.Conn, m Migration, zone string, exec execFunc) error {
	objs := m.objects()
	for i := len(objs) - 1; i >= 0; i-- {
		if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+objs[i]); err != nil {
			return fmt.Errorf("migrate clickhouse %04d_%s in %s: drop %s: %w", m.Version, m.Name, zone, objs[i], err)
		}
	}
	for i, stmt := range m.StatementsIn(zone) {
		if err := exec(ctx, conn, stmt); err != nil {
			return fmt.Errorf("migrate clickhouse %04d_%s in %s statement %d: %w", m.Version, m.Name, zone, i+1, err)
		}
	}
	return nil
}

// ClickHouseZone returns the timezone the zoned rollups are cut in, as the
// last `keel migrate` recorded it: "" when none is recorded (a schema from
// before zoned rollups, or a change of zone under way or cut off).
func ClickHouseZone(ctx context.Context, conn driver.Conn) (string, error) {
	var zone string
	if err := conn.QueryRow(ctx, chZoneQuery).Scan(&zone); err != nil {
		return "", fmt.Errorf("read the rollups' timezone: %w", err)
	}
	return zone, nil
}

// recordZone records zone as the rollups' timezone; "" clears it.
func recordZone(ctx context.Context, conn driver.Conn, zone string) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_timezone (zone, set_at, seq)")
	if err != nil {
		return fmt.Errorf("migrate clickhouse: record timezone %s: %w", zone, err)
	}
	now := time.Now().UTC()
	if err := b.Append(zone, now, uint64(now.UnixNano())); err != nil {
		return fmt.Errorf("migrate clickhouse: record timezone %s: %w", zone, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("migrate clickhouse: record timezone %s: %w", zone, err)
	}
	return nil
}
