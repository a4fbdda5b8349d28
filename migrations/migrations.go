// Package migrations holds Keel's schema for Postgres and ClickHouse as
// embedded SQL files, and the small migrator that applies them.
//
// Why not goose: goose records versions with a parameterised INSERT … VALUES
// through database/sql, which hangs against ClickHouse 18.16 over the native
// protocol. The migrator here is the part of goose Keel needs: numbered files
// applied in order, a version table per database, and a check the services
// run at start so they refuse a schema that is behind.
//
// Files are named NNNN_name.sql. A Postgres file runs in one transaction. A
// ClickHouse file is split into statements on lines that end with ';' and
// run one by one; ClickHouse has no DDL transactions, so every statement
// must be idempotent (IF NOT EXISTS) — a migration interrupted half-way is
// simply run again.
//
// A ClickHouse file that says {timezone} is cut in the reporting timezone
// (zone.go): its days are fixed when its materialized views are made, so
// the migrator makes them for the zone it is given and makes them again,
// from events, when the zone changes.
//
// ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so an ALTER TABLE …
// ADD COLUMN is written without it and the migrator takes "the column
// already exists" for done (columnAdded).
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed postgres/*.sql clickhouse/*.sql
var files embed.FS

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Statements splits the file into statements: a statement ends on a line
// whose last non-space character is ';'. Comment-only lines are dropped.
// A zoned file's statements still say {timezone}; StatementsIn fills it in.
func (m Migration) Statements() []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(m.SQL, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Postgres returns the Postgres migrations in order.
func Postgres() []Migration { return load("postgres") }

// ClickHouse returns the ClickHouse migrations in order.
func ClickHouse() []Migration { return load("clickhouse") }

func load(dir string) []Migration {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		panic(fmt.Sprintf("migrations: embedded dir %s: %v", dir, err)) // a build defect, not a runtime condition
	}
	var ms []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			panic(fmt.Sprintf("migrations: %s/%s is not named NNNN_name.sql", dir, e.Name()))
		}
		b, err := fs.ReadFile(files, path.Join(dir, e.Name()))
		if err != nil {
			panic(fmt.Sprintf("migrations: read %s: %v", e.Name(), err))
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := range ms {
		if ms[i].Version != i+1 {
			panic(fmt.Sprintf("migrations: %s versions must be 1, 2, 3, … without gaps; found %d at position %d", dir, ms[i].Version, i+1))
		}
	}
	return ms
}

// latest is the version the binary expects.
func latest(ms []Migration) int { return len(ms) }

// ErrBehind is returned by the Check functions when a database's schema is
// older than the binary's; run `keel migrate`.
var ErrBehind = errors.New("schema is behind")

func versionError(db string, have, want int) error {
	if have < want {
		return fmt.Errorf("%s %w: at version %d, keel needs %d; run `keel migrate`", db, ErrBehind, have, want)
	}
	return fmt.Errorf("%s schema is at version %d, newer than this keel binary knows (%d); upgrade keel", db, have, want)
}

// pgLockKey serialises concurrent `keel migrate` runs on one Postgres.
const pgLockKey = 0x6b65656c // "keel"

// ApplyPostgres brings the Postgres schema up to date and returns the
// migrations it applied. Each file runs in its own transaction together with
// the row that records it, so a failed file leaves no trace.
func ApplyPostgres(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", pgLockKey); err != nil {
		return nil, fmt.Errorf("migrate postgres: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", pgLockKey)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate postgres: version table: %w", err)
	}
	have, err := postgresVersion(ctx, conn.Conn())
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range Postgres() {
		if m.Version <= have {
			continue
		}
		if err := applyPostgres(ctx, conn.Conn(), m); err != nil {
			return applied, err
		}
		applied = append(applied, m)
	}
	return applied, nil
}

func applyPostgres(ctx context.Context, conn *pgx.Conn, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate postgres %04d_%s: %w", m.Version, m.Name, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrate postgres %04d_%s: %w", m.Version, m.Name, err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
		return fmt.Errorf("migrate postgres %04d_%s: record version: %w", m.Version, m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate postgres %04d_%s: commit: %w", m.Version, m.Name, err)
	}
	return nil
}

func postgresVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read postgres schema version: %w", err)
	}
	return v, nil
}

// CheckPostgres returns nil when the Postgres schema is exactly the version
// this binary was built for, and an error wrapping ErrBehind when it is older.
func CheckPostgres(ctx context.Context, pool *pgxpool.Pool) error {
	have, err := postgresVersion(ctx, pool)
	if err != nil {
		var exists bool
		if qerr := pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); qerr == nil && !exists {
			return versionError("postgres", 0, latest(Postgres()))
		}
		return err
	}
	if want := latest(Postgres()); have != want {
		return versionError("postgres", have, want)
	}
	return nil
}

const chVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    UInt32,
	name       String,
	applied_at DateTime('UTC')
) ENGINE = MergeTree() ORDER BY version`

// ApplyClickHouse brings the ClickHouse schema up to date, with the zoned
// rollups cut in zone (the reporting timezone, e.g. "UTC"), and returns the
// migrations it applied. A file's version is recorded after all of its
// statements succeeded; since they are idempotent, re-running a file that
// failed half-way is safe. When the rollups are in another zone than zone,
// every zoned migration already applied is made again in zone, from events
// (zone.go); a pending zoned migration is always made from scratch, so the
// leftovers of a run cut off in another zone cannot stay.
func ApplyClickHouse(ctx context.Context, conn driver.Conn, zone string) ([]Migration, error) {
	return applyClickHouse(ctx, conn, zone, nil)
}

// execFunc runs one statement of a migration.
type execFunc func(ctx context.Context, conn driver.Conn, stmt string) error

func plainExec(ctx context.Context, conn driver.Conn, stmt string) error { return conn.Exec(ctx, stmt) }

// applyClickHouse is ApplyClickHouse with each statement of a migration
// run by exec (nil: as written): a replicated cluster's tables get their
// Replicated engines so (replicas.go).
func applyClickHouse(ctx context.Context, conn driver.Conn, zone string, exec execFunc) ([]Migration, error) {
	if exec == nil {
		exec = plainExec
	}
	if err := CheckZone(zone); err != nil {
		return nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	for _, ddl := range []string{chVersionTable, chZoneTable} {
		if err := conn.Exec(ctx, ddl); err != nil {
			return nil, fmt.Errorf("migrate clickhouse: bookkeeping tables: %w", err)
		}
	}
	have, err := clickhouseVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	recorded, err := ClickHouseZone(ctx, conn)
	if err != nil {
		return nil, err
	}
	// Until every zoned file is in the new zone no zone is recorded, so the
	// services refuse to read days cut in a zone they were not asked for.
	unrecorded := recorded == ""
	unrecord := func() error {
		if unrecorded {
			return nil
		}
		unrecorded = true
		return recordZone(ctx, conn, "")
	}
	var applied []Migration
	for _, m := range ClickHouse() {
		zoned := m.Zoned()
		switch {
		case m.Version > have && zoned:
			if err := unrecord(); err != nil {
				return applied, err
			}
			if err := remake(ctx, conn, m, zone, exec); err != nil {
				return applied, err
			}
		case m.Version > have:
			for i, stmt := range m.Statements() {
				if err := exec(ctx, conn, stmt); err != nil && !columnAdded(stmt, err) {
					return applied, fmt.Errorf("migrate clickhouse %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
				}
			}
		case zoned && recorded != zone:
			if err := unrecord(); err != nil {
				return applied, err
			}
			if err := remake(ctx, conn, m, zone, exec); err != nil {
				return applied, err
			}
			continue // applied before: its version is recorded
		default:
			continue
		}
		if err := recordVersion(ctx, conn, m); err != nil {
			return applied, err
		}
		applied = append(applied, m)
	}
	if unrecorded || recorded != zone {
		if err := recordZone(ctx, conn, zone); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// recordVersion records that m is applied. Never INSERT … VALUES through
// Exec on ClickHouse 18.16 (it hangs): a one-row batch is the native
// protocol's way.
func recordVersion(ctx context.Context, conn driver.Conn, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err == nil {
		if err = b.Append(uint32(m.Version), m.Name, time.Now().UTC()); err == nil {
			err = b.Send()
		} else {
			b.Abort()
		}
	}
	if err != nil {
		return fmt.Errorf("migrate clickhouse %04d_%s: record version: %w", m.Version, m.Name, err)
	}
	return nil
}

// columnAdded reports whether err is ClickHouse refusing stmt, an ALTER
// TABLE … ADD COLUMN, because the column is there already: what running
// it again after an interrupted migration meets. 18.16 says so with code
// 44 (ILLEGAL_COLUMN), current releases with 15 (DUPLICATE_COLUMN); both
// say "already exists". Any other failure of the statement stays one.
func columnAdded(stmt string, err error) bool {
	s := strings.ToUpper(strings.Join(strings.Fields(stmt), " "))
	if !strings.HasPrefix(s, "ALTER TABLE ") || !strings.Contains(s, " ADD COLUMN ") {
		return false
	}
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && (ex.Code == 15 || ex.Code == 44) && strings.Contains(ex.Message, "already exists")
}

const (
	chVersionQuery = "SELECT max(version) FROM schema_migrations"
	chTableQuery   = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'"
)

// ClickHouseBookkeeping returns the statements the migrator itself runs on
// ClickHouse, so they can be checked on other ClickHouse releases too.
func ClickHouseBookkeeping() []string {
	return []string{chVersionTable, chVersionQuery, chTableQuery, chZoneTable, chZoneQuery}
}

func clickhouseVersion(ctx context.Context, conn driver.Conn) (int, error) {
	var v uint32
	if err := conn.QueryRow(ctx, chVersionQuery).Scan(&v); err != nil {
		return 0, fmt.Errorf("read clickhouse schema version: %w", err)
	}
	return int(v), nil
}

// CheckClickHouse returns nil when the ClickHouse schema is exactly the
// version this binary was built for, and an error wrapping ErrBehind when it
// is older.
func CheckClickHouse(ctx context.Context, conn driver.Conn) error {
	var exists uint64
	if err := conn.QueryRow(ctx, chTableQuery).Scan(&exists); err != nil {
		return fmt.Errorf("read clickhouse schema version: %w", err)
	}
	want := latest(ClickHouse())
	if exists == 0 {
		return versionError("clickhouse", 0, want)
	}
	have, err := clickhouseVersion(ctx, conn)
	if err != nil {
		return err
	}
	if have != want {
		return versionError("clickhouse", have, want)
	}
	return nil
}
