package warehouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/migrations"
)

type namedSQL struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// literal renders a bound argument the way clickhouse-go does client-side.
func literal(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	case time.Time:
		return fmt.Sprintf("toDateTime('%s', '%s')", v.Format("2006-01-02 15:04:05"), v.Location())
	case uint32, uint64, int, int64:
		return fmt.Sprint(v)
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = literal(t, s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	t.Fatalf("no literal for %T", v)
	return ""
}

// bind replaces each ? of sql with its argument.
func bind(t *testing.T, sql string, args []any) string {
	t.Helper()
	if n := strings.Count(sql, "?"); n != len(args) {
		t.Fatalf("%d placeholders but %d arguments in %s", n, len(args), sql)
	}
	var sb strings.Builder
	for _, part := range strings.Split(sql, "?") {
		sb.WriteString(part)
		if len(args) > 0 {
			sb.WriteString(literal(t, args[0]))
			args = args[1:]
		}
	}
	return sb.String()
}

// everyStatement is every ClickHouse statement keel issues, with sample
// arguments: migrations, the migrator's bookkeeping, inserts and queries.
func everyStatement(t *testing.T) []namedSQL {
	t.Helper()
	var out []namedSQL
	for _, m := range migrations.ClickHouse() {
		// A zoned migration in a half-hour zone, to be sure the zone is
		// taken as given.
		for i, s := range m.StatementsIn("Asia/Kolkata") {
			out = append(out, namedSQL{fmt.Sprintf("migration %04d_%s #%d", m.Version, m.Name, i+1), s})
		}
	}
	for i, s := range migrations.ClickHouseBookkeeping() {
		out = append(out, namedSQL{fmt.Sprintf("migrator #%d", i+1), s})
	}
	out = append(out,
		namedSQL{"insert events", insertEvents + " VALUES ('t-1', 'e-1', 'login', 'u-1', toDateTime('2026-11-20 08:00:00', 'UTC'), '{\"feature\":\"export\"}', toDateTime('2026-11-20 08:00:01', 'UTC'), 'keel.events', 3, 42, 7)"},
		namedSQL{"insert rejected", insertRejected + " VALUES (toDateTime('2026-11-20 08:00:01', 'UTC'), 'keel.events', 3, 43, 't-1', 'id: required', '{}')"},
	)
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	from, to := Day{2026, 10, 1}, Day{2026, 11, 20}
	ranges := map[int][2]int64{0: {10, math.MaxInt64}, 3: {0, 99}}
	queries := []struct {
		name string
		sql  string
		args []any
	}{}
	add := func(name string, sql string, args []any) {
		queries = append(queries, struct {
			name string
			sql  string
			args []any
		}{name, sql, args})
	}
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	wednesday := func() time.Time { return time.Date(2026, 11, 18, 10, 0, 0, 0, sh) }
	q, a := activityDaysQuery("t-1", from, to, ActivitySettings{}.withDefaults())
	add("activity days", q, a)
	q, a = activityDaysQuery("t-1", from, to, ActivitySettings{Location: sh, LoginsOnly: true}.withDefaults())
	add("activity days (Shanghai, logins only)", q, a)
	q, a = loginWindowsQuery("t-1", to, ActivitySettings{}.withDefaults())
	add("login trend", q, a)
	q, a = loginWindowsQuery("t-1", to, ActivitySettings{Location: sh, Now: wednesday}.withDefaults())
	add("login trend of a day not over", q, a)
	q, a = tenantsQuery(Day{2026, 10, 22})
	add("tenants", q, a)
	q, a = dailyTotalsQuery(from, to)
	add("daily totals", q, a)
	q, a = tenantTrendsQuery(to, ActivitySettings{}.withDefaults(), nil)
	add("tenant trends", q, a)
	q, a = tenantTrendsQuery(to, ActivitySettings{Location: sh, LoginsOnly: true, Trend: keel.TrendRule{Window: 60 * 24 * time.Hour}, Now: wednesday}.withDefaults(), []string{"t-1", "t-'2"})
	add("tenant trends of two tenants (Shanghai, logins only, 60-day windows, a day not over)", q, a)
	q, a = tenantTrendsQuery(to, ActivitySettings{}.withDefaults(), []string{"t-1"}, keel.TrendRule{Window: 7 * 24 * time.Hour})
	add("tenant trends of a tenant under two rules", q, a)
	q, a = scoreInputsQuery(to, ActivitySettings{}.withDefaults(), keel.HealthSettings{})
	add("score inputs of a day", q, a)
	q, a = scoreInputsQuery(Day{2026, 11, 18}, ActivitySettings{Location: kolkata, LoginsOnly: true, Trend: keel.TrendRule{Window: 60 * 24 * time.Hour}, Now: wednesday}.withDefaults(), keel.HealthSettings{BaselineWeeks: 12})
	add("score inputs of today (Kolkata, logins only, 60-day windows, 12 weeks' baseline)", q, a)
	june := time.Date(2026, 6, 29, 0, 0, 0, 0, time.UTC)
	q, a = healthQuery(HealthFilter{From: june.AddDate(0, 0, -30), To: june, Customers: []uint64{1, 2}, Band: keel.BandRed})
	add("health of two customers", q, a)
	q, a = healthQuery(HealthFilter{From: june, To: june})
	add("health of a day", q, a)
	q, a = healthListQuery(HealthListFilter{Day: june, Band: keel.BandYellow, Customers: []uint64{3, 1}, Limit: 50, Offset: 100})
	add("health list", q, a)
	q, a = healthCountQuery(HealthListFilter{Day: june, Customers: []uint64{}})
	add("health count of no customer", q, a)
	q, a = healthBriefsQuery(june)
	add("health briefs", q, a)
	add("last health day", lastHealthDayQuery(), nil)
	q, a = storedQuery("keel.events", ranges)
	add("stored positions", q, a)
	q, a = recentQuery("keel.events", map[int]int64{0: 10, 3: 0})
	add("recent events", q, a)
	q, a = rawDaysQuery("t-", "Asia/Kolkata")
	add("recount raw", q, a)
	q, a = dailyDaysQuery("t-")
	add("recount daily rollup", q, a)
	for _, q := range queries {
		out = append(out, namedSQL{q.name, bind(t, q.sql, q.args)})
	}
	out = append(out, factStatements(t)...)
	out = append(out, revenueStatements(t)...)
	out = append(out, clusterStatements()...)
	return out
}

// clusterStatements are what `keel migrate --clickhouse-cluster` runs
// beside the migrations, on a cluster keel_check (testdata/chdb_check.py
// declares one) over the tables of the check's database keel, copied
// first into the local database of keel_c. On 18.16 the cluster test runs
// them on two real shards.
func clusterStatements() []namedSQL {
	out := []namedSQL{{"cluster setup: local database", "CREATE DATABASE IF NOT EXISTS " + migrations.LocalDatabase("keel_c")}}
	for _, table := range migrations.Tables() {
		out = append(out, namedSQL{"cluster setup: local " + table, "CREATE TABLE IF NOT EXISTS " + migrations.LocalDatabase("keel_c") + "." + table + " AS keel." + table})
	}
	for i, s := range migrations.ClusterStatements("keel_check", "keel_c") {
		out = append(out, namedSQL{fmt.Sprintf("cluster #%d", i+1), s})
	}
	return out
}

// python returns the interpreter that has chDB: KEEL_PYTHON, the project's
// virtualenv that `make test` creates, or python3.
func python() string {
	if p := os.Getenv("KEEL_PYTHON"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../.keel/venv/bin/python"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "python3"
}

// TestStatementsRunOnCurrentClickHouse runs every statement on a current
// ClickHouse through chDB; the integration tests run the same statements on
// the 18.16 server.
func TestStatementsRunOnCurrentClickHouse(t *testing.T) {
	stmts := everyStatement(t)
	body, err := json.Marshal(stmts)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python(), "testdata/chdb_check.py")
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	t.Log(strings.TrimSpace(stderr.String()))
	if err != nil {
		t.Fatalf("statements failed on current ClickHouse (%v):\n%s%s", err, stdout.String(), stderr.String())
	}
}

// TestStatementsRunOn1816 runs the same bound statements on the test
// server (ClickHouse 18.16), so both ends of the supported range see
// exactly the same SQL.
func TestStatementsRunOn1816(t *testing.T) {
	_, s := testStack(t)
	for _, st := range everyStatement(t) {
		if strings.HasPrefix(st.Name, "migration") || strings.HasPrefix(st.Name, "insert") || strings.HasPrefix(st.Name, "cluster") {
			continue // applied by testStack; inserts go through the native batch path; the cluster test runs the cluster's
		}
		if !strings.HasPrefix(st.SQL, "SELECT") {
			if err := s.Conn().Exec(t.Context(), st.SQL); err != nil {
				t.Errorf("%s: %v", st.Name, err)
			}
			continue
		}
		rows, err := s.Conn().Query(t.Context(), st.SQL)
		if err != nil {
			t.Errorf("%s: %v", st.Name, err)
			continue
		}
		rows.Close()
	}
}

// factStatements are the facts loader's inserts and queries, with sample
// arguments.
func factStatements(t *testing.T) []namedSQL {
	t.Helper()
	out := []namedSQL{
		{"insert facts", insertFacts + " VALUES (7, 'tenant.linked', 12, 't-1', toDateTime('2026-11-20 08:00:00', 'UTC'), '{}', toDateTime('2026-11-20 08:00:01', 'UTC'), 'keel.facts', 1, 42)"},
		{"insert tenant links", insertLinks + " VALUES ('t-1', 12, toDateTime('2026-11-20 08:00:00', 'UTC'), 7)"},
		{"insert rejected fact", insertRejected + " VALUES (toDateTime('2026-11-20 08:00:01', 'UTC'), 'keel.facts', 1, 43, '12', 'id: required', '{}')"},
	}
	add := func(name, sql string, args []any) { out = append(out, namedSQL{name, bind(t, sql, args)}) }
	sql, args := storedFactsQuery([]FactKey{{CustomerID: 12, ID: 7}, {CustomerID: 3, ID: 8}})
	add("stored facts", sql, args)
	sql, args = factCountsQuery(0, math.MaxUint64)
	add("fact counts", sql, args)
	sql, args = storedFactIDsQuery(1, 1000)
	add("stored fact ids", sql, args)
	sql, args = tenantCustomersQuery()
	add("tenant customers", sql, args)
	sql, args = customerEventsQuery(12, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	add("customer events", sql, args)
	sql, args = storedQuery("keel.facts", map[int][2]int64{1: {43, 43}})
	add("stored rejected facts", sql, args)
	sql, args = customerFactKindsQuery(1, 1000, []uint64{12, 13})
	add("fact kinds of customers", sql, args)
	sql, args = lastOrderFactsQuery(1, 1000, []uint64{12, 13})
	add("last order facts", sql, args)
	return out
}

// revenueStatements are revenue's inserts and queries, with sample
// arguments.
func revenueStatements(t *testing.T) []namedSQL {
	t.Helper()
	out := []namedSQL{
		{"insert revenue", insertRevenue + " VALUES ('USD', toDate('2026-01-01'), 12, 'month', 0, toDate('1970-01-01'), 1764000000000000000, 12, 1200, 0, 'new', 1200, toDate('2026-01-01'), 0, [7, 9], [], toDateTime('2026-11-20 08:00:00', 'UTC'))"},
		{"insert spend", insertSpend + " VALUES ('USD', toDate('2026-01-01'), 500000, 42)"},
	}
	add := func(name, sql string, args []any) { out = append(out, namedSQL{name, bind(t, sql, args)}) }
	from, to := keel.MonthAt(2025, 1), keel.MonthAt(2026, 12)
	sql, args := revenueSettingsQuery()
	add("revenue settings", sql, args)
	sql, args = subscriptionFactsQuery([]uint64{12, 3})
	add("subscription facts", sql, args)
	add("revenue customers", revenueCustomersQuery(), nil)
	sql, args = monthTableQuery("USD", from, to)
	add("revenue month table", sql, args)
	for name, f := range map[string]RevenueFilter{
		"revenue customers of a movement":  {Currency: "USD", Month: to, Movement: keel.MoveChurn},
		"revenue paying customers, top 10": {Currency: "USD", Month: to, Limit: 10},
		"revenue of a cohort":              {Currency: "USD", Month: to, Cohort: from},
		"revenue of a customer":            {Customer: 12},
	} {
		sql, args = customerMonthsQuery(f)
		add(name, sql, args)
	}
	sql, args = cohortsQuery("USD", from, to)
	add("revenue cohorts", sql, args)
	sql, args = renewalsQuery("USD", from, to, 0)
	add("revenue renewals", sql, args)
	sql, args = renewalsQuery("USD", from, to, 12)
	add("revenue renewals of a customer", sql, args)
	sql, args = currenciesQuery(to)
	add("revenue currencies", sql, args)
	sql, args = spendQuery("USD", from, to)
	add("revenue spend", sql, args)
	add("revenue check", checkRevenueQuery(), nil)
	add("revenue stamp", revenueStampQuery(), nil)
	return out
}
