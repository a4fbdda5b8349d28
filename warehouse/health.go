package warehouse

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// Health scores are stored a day at a time (ClickHouse migration 0006_health.sql):
// a day's rows, then its run marker; queries read each day's latest run.

const (
	insertHealth    = "INSERT INTO health_scores (day, customer_id, version, score, band, components, comp_values, comp_subs, weights, no_data, mrr, currency, computed_at)"
	insertHealthRun = "INSERT INTO health_runs (day, version, customers, computed_at)"
)

// healthLatest keeps only the rows of each day's latest run. GLOBAL: on a
// cluster the runs are read once, across the shards, on the node asked
// (migrations/cluster.go); on one server it is a plain IN.
const healthLatest = `(day, version) GLOBAL IN (SELECT day, max(version) FROM health_runs GROUP BY day)`

// HealthRow is one stored score with what the customer's MRR was that day.
type HealthRow struct {
	keel.HealthScore
	MRR      int64 // minor units, rounded
	Currency string
}

// WriteHealthDay stores day's scores as a new run of that day, replacing
// any earlier run of it for every query. The rows go in one insert (one
// block: all or nothing), the marker after them.
func (s *Store) WriteHealthDay(ctx context.Context, day time.Time, rows []HealthRow) error {
	version := uint64(time.Now().UnixNano())
	now := time.Now().UTC()
	n := len(rows)
	var (
		days, at          = make([]time.Time, n), make([]time.Time, n)
		ids, versions     = make([]uint64, n), make([]uint64, n)
		scores            = make([]uint8, n)
		bands, currencies = make([]string, n), make([]string, n)
		comps             = make([][]string, n)
		values, subs      = make([][]float64, n), make([][]float64, n)
		weights           = make([][]uint32, n)
		noData            = make([][]uint8, n)
		mrr               = make([]int64, n)
	)
	for i, r := range rows {
		days[i], at[i], ids[i], versions[i] = day, now, uint64(r.CustomerID), version
		scores[i], bands[i], mrr[i], currencies[i] = uint8(r.Score), string(r.Band), r.MRR, r.Currency
		for _, c := range r.Components {
			comps[i] = append(comps[i], string(c.Component))
			values[i] = append(values[i], c.Value)
			subs[i] = append(subs[i], c.Sub)
			weights[i] = append(weights[i], uint32(max(c.Weight, 0)))
			nd := uint8(0)
			if c.NoData {
				nd = 1
			}
			noData[i] = append(noData[i], nd)
		}
	}
	if n > 0 {
		if err := s.send(ctx, insertHealth, days, ids, versions, scores, bands, comps, values, subs, weights, noData, mrr, currencies, at); err != nil {
			return fmt.Errorf("store health of %s: %w", day.Format(time.DateOnly), err)
		}
	}
	if err := s.send(ctx, insertHealthRun, []time.Time{day}, []uint64{version}, []uint32{uint32(n)}, []time.Time{now}); err != nil {
		return fmt.Errorf("store health run of %s: %w", day.Format(time.DateOnly), err)
	}
	return nil
}

// HealthFilter selects stored scores.
type HealthFilter struct {
	From, To  time.Time // days, both included
	Customers []uint64  // nil: every customer
	Band      keel.Band // "": any
}

// healthQuery reads scores of a range of days. Some customers over
// several days are read from health_by_customer, ordered by customer
// (0009): in health_scores, ordered by day first, one customer's 90 days
// are one row in each of 90 granules, which cost every row of the range
// and every column of those granules (~100 ms at 10,000 customers a day;
// ~12 ms by customer). That table is filled by a view and backfilled, so a
// row may be there twice until a merge: LIMIT 1 BY takes it once. Some
// customers on one day are cheaper where the day's rows are together
// (a day of 10,000 customers is two granules; fifty customers by customer
// are fifty): there their ids are a PREWHERE, so the wide columns are read
// only where one matched.
func healthQuery(f HealthFilter) (string, []any) {
	where := "day >= toDate(?) AND day <= toDate(?)"
	args := []any{f.From.Format(time.DateOnly), f.To.Format(time.DateOnly)}
	if f.Band != "" {
		where += " AND band = ?"
		args = append(args, string(f.Band))
	}
	where += " AND " + healthLatest
	if f.Customers == nil {
		return "SELECT " + healthColumns + "\nFROM health_scores\nWHERE " + where + "\nORDER BY customer_id, day", args
	}
	ids := "0"
	if len(f.Customers) > 0 {
		ids = "customer_id IN (" + uintList(append([]uint64(nil), f.Customers...)) + ")"
	}
	if f.From.Before(f.To) {
		return "SELECT " + healthColumns + "\nFROM health_by_customer\nWHERE " + ids + " AND " + where +
			"\nORDER BY customer_id, day\nLIMIT 1 BY customer_id, day", args
	}
	return "SELECT " + healthColumns + "\nFROM health_scores\nPREWHERE " + ids + "\nWHERE " + where + "\nORDER BY customer_id, day", args
}

// Health reads stored scores, by customer then day, and calls fn for each.
func (s *Store) Health(ctx context.Context, f HealthFilter, fn func(HealthRow) error) error {
	q, args := healthQuery(f)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read health: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanHealth(rows)
		if err != nil {
			return fmt.Errorf("read health: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// healthColumns are what scanHealth reads, in its order.
const healthColumns = "day, customer_id, score, band, components, comp_values, comp_subs, weights, no_data, mrr, currency"

func scanHealth(rows interface{ Scan(dest ...any) error }) (HealthRow, error) {
	var r HealthRow
	var id uint64
	var score uint8
	var band string
	var comps []string
	var values, subs []float64
	var weights []uint32
	var noData []uint8
	if err := rows.Scan(&r.Day, &id, &score, &band, &comps, &values, &subs, &weights, &noData, &r.MRR, &r.Currency); err != nil {
		return HealthRow{}, err
	}
	r.CustomerID, r.Score, r.Band, r.Day = int64(id), int(score), keel.Band(band), keel.Date(r.Day)
	for i, c := range comps {
		r.Components = append(r.Components, keel.ComponentScore{Component: keel.HealthComponent(c), Value: values[i],
			Unit: keel.HealthComponent(c).Unit(), Sub: subs[i], Weight: int(weights[i]), NoData: noData[i] == 1})
	}
	return r, nil
}

// HealthListFilter selects one page of a day's scores.
type HealthListFilter struct {
	Day       time.Time
	Band      keel.Band // "": any
	Customers []uint64  // nil: every customer; empty: none
	Limit     int       // rows of the page (> 0)
	Offset    int
}

// healthDayWhere is the condition of one day's latest run, of a band and
// of some customers.
func healthDayWhere(day time.Time, band keel.Band, customers []uint64) (string, []any) {
	where := "day = toDate(?)"
	args := []any{day.Format(time.DateOnly)}
	if customers != nil {
		if len(customers) == 0 {
			where += " AND 0"
		} else {
			where += " AND customer_id IN (" + uintList(append([]uint64(nil), customers...)) + ")"
		}
	}
	if band != "" {
		where += " AND band = ?"
		args = append(args, string(band))
	}
	return where + " AND " + healthLatest, args
}

// healthListQuery is a page of a day's scores, the worst first: the list
// is for finding who needs attention, so customers paying that day come
// before those scored without MRR (in the 90 days after their service
// ended, or on a trial), whose low scores would otherwise fill the top of
// the list with customers already lost. Paged here, so a page reads only
// its own rows.
func healthListQuery(f HealthListFilter) (string, []any) {
	where, args := healthDayWhere(f.Day, f.Band, f.Customers)
	return "SELECT " + healthColumns + "\nFROM health_scores\nWHERE " + where +
		"\nORDER BY mrr = 0, score, customer_id\nLIMIT " + strconv.Itoa(max(f.Limit, 1)) + " OFFSET " + strconv.Itoa(max(f.Offset, 0)), args
}

func healthCountQuery(f HealthListFilter) (string, []any) {
	where, args := healthDayWhere(f.Day, f.Band, f.Customers)
	return "SELECT count() FROM health_scores WHERE " + where, args
}

// HealthList reads one page of day's scores, the paying customers first,
// each part the lowest score first (then by customer), and how many there
// are in all.
func (s *Store) HealthList(ctx context.Context, f HealthListFilter) ([]HealthRow, int, error) {
	q, args := healthCountQuery(f)
	var n uint64
	if err := s.conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("count health: %w", err)
	}
	q, args = healthListQuery(f)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list health: %w", err)
	}
	defer rows.Close()
	var out []HealthRow
	for rows.Next() {
		r, err := scanHealth(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list health: %w", err)
		}
		out = append(out, r)
	}
	return out, int(n), rows.Err()
}

// HealthBrief is a stored score without its components: what the pages
// that count customers by band, by owner or by MRR need of each.
type HealthBrief struct {
	CustomerID int64
	Score      int
	Band       keel.Band
	MRR        int64
	Currency   string
}

func healthBriefsQuery(day time.Time) (string, []any) {
	where, args := healthDayWhere(day, "", nil)
	return "SELECT customer_id, score, band, mrr, currency FROM health_scores WHERE " + where + " ORDER BY customer_id", args
}

// HealthBriefs reads every score of day, without components, by customer.
func (s *Store) HealthBriefs(ctx context.Context, day time.Time) ([]HealthBrief, error) {
	q, args := healthBriefsQuery(day)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read health briefs: %w", err)
	}
	defer rows.Close()
	var out []HealthBrief
	for rows.Next() {
		var b HealthBrief
		var id uint64
		var score uint8
		var band string
		if err := rows.Scan(&id, &score, &band, &b.MRR, &b.Currency); err != nil {
			return nil, fmt.Errorf("read health briefs: %w", err)
		}
		b.CustomerID, b.Score, b.Band = int64(id), int(score), keel.Band(band)
		out = append(out, b)
	}
	return out, rows.Err()
}

func lastHealthDayQuery() string {
	return `SELECT max(day), count(), max(version) FROM health_runs`
}

// HealthStamp says which runs of scoring are stored: the latest day
// scored, how many runs there are and the newest run's version. A day's
// latest run never changes once its marker is written (scoring a day again
// is a new run), so what is read of the scores is the same as long as the
// stamp is.
type HealthStamp struct {
	Last    time.Time // zero when no day was scored
	Runs    uint64
	Version uint64
}

// HealthStamp reads the stamp of the stored scores.
func (s *Store) HealthStamp(ctx context.Context) (HealthStamp, error) {
	var d time.Time
	var st HealthStamp
	if err := s.conn.QueryRow(ctx, lastHealthDayQuery()).Scan(&d, &st.Runs, &st.Version); err != nil {
		return HealthStamp{}, fmt.Errorf("read health runs: %w", err)
	}
	if st.Runs > 0 {
		st.Last = keel.Date(d)
	}
	return st, nil
}

// LastHealthDay is the latest day scored; zero when none was.
func (s *Store) LastHealthDay(ctx context.Context) (time.Time, error) {
	st, err := s.HealthStamp(ctx)
	return st.Last, err
}
