package console

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The activity area: who uses the product and who is slipping. Every number
// comes from the warehouse's rollups (warehouse.DailyTotals, TenantTrends,
// Activity), one query each across all tenants, never from raw events —
// every tenant's trend (the customer list's reading) and the company's
// daily totals are readings shared by every request, read again at most
// once a minute (sharedReading); the customers beside them come from one
// plain Postgres read (Names.CustomerOwners), their statuses only for the
// few that need one.

// Dashboard rules. They are the page's, not METRICS.md's: how long a
// silence must be to be listed, how many logins a customer must have had
// before a fall counts as one of the biggest declines (so that 2 → 0 does
// not outrank 400 → 150), and how many rows each table shows.
const (
	actSilentDays  = 15 // METRICS.md's churn warning "no login for 15 days"
	actDeclineBase = 20 // logins in the earlier trend window, at least
	actDeclineRows = 10
	actTrendRows   = 20
	actSilentRows  = 50
	actDays        = 90
	actTenantPath  = "/activity/tenants/"
)

// actRow is one tenant in a table of the dashboard.
type actRow struct {
	Tenant         string
	Name           string // the customer's name; for a tenant of no customer, its display name if known
	Link           string // the customer's page, or the tenant's activity page
	Known          bool   // the tenant belongs to a customer
	Trend          keel.Trend
	Last, Previous int64   // logins in the last trend window and the one before
	Change         float64 // (Last-Previous)/Previous; shown only when Previous > 0
	DaysSince      int     // days since the last login; -1 = none in the lookback
	LastLogin      string  // its day in the reporting timezone; "" = none
	ActiveUsers30  int64

	customer int64         // the customer's id, when Known
	last     warehouse.Day // the day of the last login, when DaysSince >= 0
}

// actTable is one table of the dashboard: its first rows, how many there
// are in all, and the trend window's length for its headings.
type actTable struct {
	Rows  []actRow
	Total int
	Days  int
}

// actDashboard is the data of the activity dashboard.
type actDashboard struct {
	Today, Yesterday   warehouse.DailyTotal
	Chart              string
	TrendDays          int
	TrendTo            string // the last day the trends count: yesterday, the last complete day
	SilentDays         int
	DeclineBase        int
	Lookback           int
	Mine               bool
	Up, Down, Declines actTable
	Silent             actTable
}

// handleActivity is the dashboard across all customers: cards, the daily
// chart and the tables of who trends up, down, fell most and went quiet.
// ?mine=1 keeps to the customers the employee owns (the cards and chart of
// the whole company stay as they are). The old ?tenant= address of the
// per-tenant page is sent on to its new one.
func (s *server) handleActivity() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		q := r.URL.Query()
		if t := q.Get("tenant"); t != "" {
			http.Redirect(w, r, actTenantPath+url.PathEscape(t), http.StatusMovedPermanently)
			return nil
		}
		me := employeeFrom(ctx)
		mine := q.Get("mine") == "1"
		today := s.today()

		var (
			totals []warehouse.DailyTotal
			trends []warehouse.TenantTrend
			refs   []keel.CustomerOwner
			names  map[string]string
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			// The company's days merge every tenant's sets (a second at
			// 10,000 tenants): one reading shared a minute (sharedReading).
			from := today.AddDays(1 - actDays)
			totals, err = s.totals.get(gctx, from.String()+"/"+today.String(), func(ctx context.Context) ([]warehouse.DailyTotal, error) {
				return s.Warehouse.DailyTotals(ctx, from, today, s.Settings)
			})
			return err
		})
		g.Go(func() error {
			// The customer list's reading, kept a minute (trendCache).
			all, err := s.trends.get(gctx, s.Warehouse, today, s.Settings)
			trends = all.list
			return err
		})
		g.Go(func() (err error) {
			refs, err = s.Names.CustomerOwners(gctx, nil)
			return err
		})
		g.Go(func() (err error) {
			names, err = s.Names.TenantNames(gctx)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}
		byTenant := make(map[string]keel.CustomerOwner, len(refs))
		for _, c := range refs {
			if c.TenantID != "" {
				byTenant[c.TenantID] = c
			}
		}

		d := actDashboard{
			Chart: totalsChart(l, totals), TrendDays: s.trendDays(), TrendTo: s.Settings.TrendEnd(today).String(), SilentDays: actSilentDays,
			DeclineBase: actDeclineBase, Lookback: warehouse.TrendLookbackDays, Mine: mine,
		}
		if n := len(totals); n > 0 {
			d.Today = totals[n-1]
		}
		if n := len(totals); n > 1 {
			d.Yesterday = totals[n-2]
		}
		// The rows are made once and the tables hold pointers to them: at
		// 10,000 tenants the sorting moves pointers, and only the rows shown
		// get their links and days written out (table below).
		rows := make([]actRow, 0, len(trends))
		seen := make(map[string]bool, len(trends))
		for _, t := range trends {
			seen[t.Tenant] = true
			c, known := byTenant[t.Tenant]
			if mine && !c.OwnedBy(me.ID) {
				continue
			}
			row := actRow{
				Tenant: t.Tenant, Known: known, Trend: t.Trend, Last: t.Last, Previous: t.Previous,
				Change: t.Change, ActiveUsers30: t.ActiveUsers30, DaysSince: -1, customer: c.ID,
			}
			if known {
				row.Name = c.Name
			} else {
				row.Name = names[t.Tenant]
			}
			if !t.LastLogin.IsZero() {
				row.last = warehouse.DayOf(t.LastLogin, s.location())
				row.DaysSince = actDaysBetween(row.last, today)
			}
			rows = append(rows, row)
		}
		var up, down, declines, silent []*actRow
		for i := range rows {
			row := &rows[i]
			switch row.Trend {
			case keel.TrendUp:
				up = append(up, row)
			case keel.TrendDown:
				down = append(down, row)
			}
			if row.Previous >= actDeclineBase && row.Last < row.Previous {
				declines = append(declines, row)
			}
			if row.DaysSince < 0 || row.DaysSince >= actSilentDays {
				silent = append(silent, row)
			}
		}
		// A paying customer whose tenant sent nothing at all in the lookback
		// has no trend row, yet is the quietest of all.
		// Their status is derived for them alone (for every customer it is
		// a fifth of a second of Postgres at 10,000).
		var quiet []keel.CustomerOwner
		var ids []int64
		for _, c := range refs {
			if c.TenantID != "" && !seen[c.TenantID] && (!mine || c.OwnedBy(me.ID)) {
				quiet, ids = append(quiet, c), append(ids, c.ID)
			}
		}
		statuses, err := s.Names.CustomerStatuses(ctx, ids)
		if err != nil {
			return err
		}
		type named struct {
			key string // the name in lower case, as the list reads
			c   keel.CustomerOwner
		}
		var paying []named
		for _, c := range quiet {
			switch statuses[c.ID] {
			case keel.CustomerTrial, keel.CustomerActive, keel.CustomerRenewed:
				paying = append(paying, named{strings.ToLower(c.Name), c})
			}
		}
		slices.SortFunc(paying, func(a, b named) int { return cmp.Or(strings.Compare(a.key, b.key), cmp.Compare(a.c.ID, b.c.ID)) })
		for _, p := range paying {
			silent = append(silent, &actRow{Tenant: p.c.TenantID, Known: true, Trend: keel.TrendFlat, DaysSince: -1,
				Name: p.c.Name, customer: p.c.ID})
		}
		// Up and down by how many logins moved, so a handful of logins
		// does not lead the list; declines by the relative fall among
		// customers big enough to count; the silent longest first.
		slices.SortStableFunc(up, func(a, b *actRow) int { return cmp.Compare(b.Last-b.Previous, a.Last-a.Previous) })
		slices.SortStableFunc(down, func(a, b *actRow) int { return cmp.Compare(a.Last-a.Previous, b.Last-b.Previous) })
		slices.SortStableFunc(declines, func(a, b *actRow) int { return cmp.Compare(a.Change, b.Change) })
		slices.SortStableFunc(silent, func(a, b *actRow) int { return cmp.Compare(actSilence(b), actSilence(a)) })
		table := func(rows []*actRow, n int) actTable {
			shown := make([]actRow, 0, min(n, len(rows)))
			for _, r := range actFirst(rows, n) {
				row := *r
				if row.Known {
					row.Link = "/customers/" + strconv.FormatInt(row.customer, 10)
				} else {
					row.Link = actTenantPath + url.PathEscape(row.Tenant)
				}
				if row.DaysSince >= 0 {
					row.LastLogin = row.last.String()
				}
				shown = append(shown, row)
			}
			return actTable{Rows: shown, Total: len(rows), Days: d.TrendDays}
		}
		d.Up, d.Down, d.Declines, d.Silent = table(up, actTrendRows), table(down, actTrendRows), table(declines, actDeclineRows), table(silent, actSilentRows)
		s.render(w, r, http.StatusOK, "activity", page{Title: l.T("Activity"), Nav: "activity", Data: d})
		return nil
	})
}

// actSilence orders the silent: no login in the whole lookback is the longest.
func actSilence(r *actRow) int {
	if r.DaysSince < 0 {
		return warehouse.TrendLookbackDays + 1
	}
	return r.DaysSince
}

func actFirst[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// actDaysBetween is the number of calendar days from a to b.
func actDaysBetween(a, b warehouse.Day) int {
	return int(b.Start(time.UTC).Sub(a.Start(time.UTC)).Hours() / 24)
}
