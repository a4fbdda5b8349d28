package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The activity area: who uses the product and who is slipping. Every number
// comes from the warehouse's rollups (warehouse.DailyTotals, TenantTrends,
// Activity), one query each across all tenants, never from raw events; the
// customers beside them come from one Postgres query (Names.CustomerRefs).

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
			refs   []keel.CustomerRef
			names  map[string]string
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			totals, err = s.Warehouse.DailyTotals(gctx, today.AddDays(1-actDays), today, s.Settings)
			return err
		})
		g.Go(func() (err error) {
			trends, err = s.Warehouse.TenantTrends(gctx, today, s.Settings)
			return err
		})
		g.Go(func() (err error) {
			refs, err = s.Names.CustomerRefs(gctx)
			return err
		})
		g.Go(func() (err error) {
			names, err = s.Names.TenantNames(gctx)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}
		byTenant := map[string]keel.CustomerRef{}
		for _, c := range refs {
			if c.TenantID != "" {
				byTenant[c.TenantID] = c
			}
		}

		d := actDashboard{
			Chart: totalsChart(l, totals), TrendDays: s.trendDays(), SilentDays: actSilentDays,
			DeclineBase: actDeclineBase, Lookback: warehouse.TrendLookbackDays, Mine: mine,
		}
		if n := len(totals); n > 0 {
			d.Today = totals[n-1]
		}
		if n := len(totals); n > 1 {
			d.Yesterday = totals[n-2]
		}
		var up, down, declines, silent []actRow
		for _, t := range trends {
			c, known := byTenant[t.Tenant]
			if mine && !c.OwnedBy(me.ID) {
				continue
			}
			row := actRow{
				Tenant: t.Tenant, Known: known, Trend: t.Trend, Last: t.Last, Previous: t.Previous,
				Change: t.Change, ActiveUsers30: t.ActiveUsers30, DaysSince: -1,
			}
			if known {
				row.Name, row.Link = c.Name, "/customers/"+strconv.FormatInt(c.ID, 10)
			} else {
				row.Name, row.Link = names[t.Tenant], actTenantPath+url.PathEscape(t.Tenant)
			}
			if !t.LastLogin.IsZero() {
				last := warehouse.DayOf(t.LastLogin, s.location())
				row.DaysSince, row.LastLogin = actDaysBetween(last, today), last.String()
			}
			switch t.Trend {
			case keel.TrendUp:
				up = append(up, row)
			case keel.TrendDown:
				down = append(down, row)
			}
			if t.Previous >= actDeclineBase && t.Last < t.Previous {
				declines = append(declines, row)
			}
			if row.DaysSince < 0 || row.DaysSince >= actSilentDays {
				silent = append(silent, row)
			}
		}
		// A paying customer whose tenant sent nothing at all in the lookback
		// has no trend row, yet is the quietest of all.
		seen := make(map[string]bool, len(trends))
		for _, t := range trends {
			seen[t.Tenant] = true
		}
		for _, c := range refs {
			if c.TenantID == "" || seen[c.TenantID] || (mine && !c.OwnedBy(me.ID)) {
				continue
			}
			switch c.Status {
			case keel.CustomerTrial, keel.CustomerActive, keel.CustomerRenewed:
				silent = append(silent, actRow{Tenant: c.TenantID, Known: true, Trend: keel.TrendFlat, DaysSince: -1,
					Name: c.Name, Link: "/customers/" + strconv.FormatInt(c.ID, 10)})
			}
		}
		// Up and down by how many logins moved, so a handful of logins
		// does not lead the list; declines by the relative fall among
		// customers big enough to count; the silent longest first.
		slices.SortStableFunc(up, func(a, b actRow) int { return cmp.Compare(b.Last-b.Previous, a.Last-a.Previous) })
		slices.SortStableFunc(down, func(a, b actRow) int { return cmp.Compare(a.Last-a.Previous, b.Last-b.Previous) })
		slices.SortStableFunc(declines, func(a, b actRow) int { return cmp.Compare(a.Change, b.Change) })
		slices.SortStableFunc(silent, func(a, b actRow) int { return cmp.Compare(actSilence(b), actSilence(a)) })
		table := func(rows []actRow, n int) actTable {
			return actTable{Rows: actFirst(rows, n), Total: len(rows), Days: d.TrendDays}
		}
		d.Up, d.Down, d.Declines, d.Silent = table(up, actTrendRows), table(down, actTrendRows), table(declines, actDeclineRows), table(silent, actSilentRows)
		s.render(w, r, http.StatusOK, "activity", page{Title: l.T("Activity"), Nav: "activity", Data: d})
		return nil
	})
}

// actSilence orders the silent: no login in the whole lookback is the longest.
func actSilence(r actRow) int {
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

// actTenantPage is the data of a tenant's activity page.
type actTenantPage struct {
	Activity  keel.Activity
	Name      string // the tenant's display name, if known
	Customer  *keel.CustomerRef
	Last      keel.ActivityDay
	To        string
	TrendDays int
	Chart     string
}

// handleTenantActivity is one tenant's last 90 days (to ?to=YYYY-MM-DD,
// default today): the chart, trend, WAU and MAU. It is the page of a tenant
// no customer claims yet; when one does, the page links to the customer.
func (s *server) handleTenantActivity() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		tenant := chi.URLParam(r, "tenant")
		to := s.today()
		if v := r.URL.Query().Get("to"); v != "" {
			d, err := queryDay("to", v)
			if err != nil {
				return err
			}
			to = d
		}
		var (
			a     keel.Activity
			owner []keel.CustomerView
			names map[string]string
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			a, err = s.Warehouse.Activity(gctx, tenant, to.AddDays(1-actDays), to, s.Settings)
			return err
		})
		g.Go(func() (err error) {
			owner, _, err = s.Store.Customers(gctx, keel.CustomerFilter{Tenants: []string{tenant}, Page: keel.Page{Limit: 1}})
			return err
		})
		g.Go(func() (err error) {
			names, err = s.Names.TenantNames(gctx)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}
		p := actTenantPage{Activity: a, Name: names[tenant], To: to.String(), TrendDays: s.trendDays(), Chart: activityChart(l, a)}
		if len(owner) > 0 {
			c := owner[0]
			p.Customer = &keel.CustomerRef{ID: c.ID, Name: c.Name, TenantID: c.TenantID, Status: c.Status}
		}
		if n := len(a.Days); n > 0 {
			p.Last = a.Days[n-1]
		}
		s.render(w, r, http.StatusOK, "activity_tenant", page{Title: l.T("Activity of %s", tenant), Nav: "activity", Data: p})
		return nil
	})
}

// reviewRow is one customer on the weekly review.
type reviewRow struct {
	ID         int64
	Name       string
	Owners     []string
	Status     string // in the page's language
	StatusCode keel.CustomerStatus
	Tenant     string
	Seen       bool // the tenant had events in the lookback, so the trend means something
	Trend      keel.Trend
	Previous   int64
	Change     float64
	Week       int64 // logins in the week
	WeekBefore int64 // logins in the week before
	FollowUps  []reviewFollowUp
}

// reviewFollowUp is one follow-up as the review shows it.
type reviewFollowUp struct {
	At          string // in the reporting timezone
	Kind        string // in the page's language
	Author      string
	Text        string
	Attachments int
}

// reviewTextMax is how much of a follow-up's text the review shows; the
// whole text is on the customer's page.
const reviewTextMax = 600

// review is the data of the weekly review.
type review struct {
	Monday, Sunday   string
	Week             string // the week's Monday, for links
	Prev, Next, This string
	Owners           []option
	Owner            int64
	OnlyFollowUps    bool
	Rows             []reviewRow
	Pager            pager
	FollowUps        int // follow-ups on this page's customers
	TrendDays        int
}

// reviewWeekOf returns the Monday of the week (Monday to Sunday) that day is in.
func reviewWeekOf(d warehouse.Day) warehouse.Day {
	wd := d.Start(time.UTC).Weekday()
	return d.AddDays(-((int(wd) + 6) % 7))
}

// handleReview is the weekly review for the team meeting: for the week of
// ?week=YYYY-MM-DD (any day of it; default this week, Monday to Sunday in
// the reporting timezone), every customer — or, with ?followups=1, only
// those with a follow-up that week; with ?owner=ID, only that employee's —
// 50 a page, its login trend as of the week's last day, its logins that
// week against the week before, and that week's follow-ups beside them.
func (s *server) handleReview() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		q := r.URL.Query()
		loc := s.location()
		day := s.today()
		if v := strings.TrimSpace(q.Get("week")); v != "" {
			d, err := queryDay("week", v)
			if err != nil {
				return err
			}
			day = d
		}
		owner, err := formInt("owner", q.Get("owner"))
		if err != nil {
			return err
		}
		p, err := pageOf(r)
		if err != nil {
			return err
		}
		only := q.Get("followups") == "1"
		monday := reviewWeekOf(day)
		sunday := monday.AddDays(6)
		from, to := monday.Start(loc), monday.AddDays(7).Start(loc)

		// The trend as the settings define it, and the same query with
		// one-week windows for the week's logins against the week before.
		weekly := s.Settings
		weekly.Trend = keel.TrendRule{Window: 7 * 24 * time.Hour, Up: s.Settings.Trend.Up, Down: s.Settings.Trend.Down}
		if s.Settings.Trend == (keel.TrendRule{}) {
			weekly.Trend.Up, weekly.Trend.Down = keel.DefaultTrendRule.Up, keel.DefaultTrendRule.Down
		}
		var (
			refs          []keel.CustomerRef
			emps          []keel.Employee
			trends, weeks []warehouse.TenantTrend
			weekFollowUps []keel.FollowUp
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			refs, err = s.Names.CustomerRefs(gctx)
			return err
		})
		g.Go(func() (err error) {
			emps, err = s.Store.Employees(gctx)
			return err
		})
		if only {
			// Which customers had follow-ups that week is the list itself.
			g.Go(func() (err error) {
				weekFollowUps, err = s.Store.FollowUpsBetween(gctx, from, to, nil)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}

		var list []keel.CustomerRef
		had := map[int64]bool{}
		for _, f := range weekFollowUps {
			had[f.CustomerID] = true
		}
		for _, c := range refs {
			if (owner == 0 || c.OwnedBy(owner)) && (!only || had[c.ID]) {
				list = append(list, c)
			}
		}
		total := len(list)
		list = list[min(p.Offset, total):min(p.Offset+p.Limit, total)]
		ids := make([]int64, len(list))
		for i, c := range list {
			ids[i] = c.ID
		}
		// Then, for this page's customers only: their follow-ups of the
		// week and their tenants' trends.
		tenants := []string{}
		for _, c := range list {
			if c.TenantID != "" {
				tenants = append(tenants, c.TenantID)
			}
		}
		followUps := weekFollowUps
		g, gctx = errgroup.WithContext(ctx)
		if !only {
			g.Go(func() (err error) {
				followUps, err = s.Store.FollowUpsBetween(gctx, from, to, ids)
				return err
			})
		}
		g.Go(func() (err error) {
			trends, err = s.Warehouse.TenantTrendsOf(gctx, sunday, s.Settings, tenants)
			return err
		})
		g.Go(func() (err error) {
			weeks, err = s.Warehouse.TenantTrendsOf(gctx, sunday, weekly, tenants)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}

		rv := review{
			Monday: monday.String(), Sunday: sunday.String(), Week: monday.String(),
			Owner: owner, OnlyFollowUps: only, Pager: pagerOf(r, p, total), TrendDays: s.trendDays(),
		}
		names := employeeNames(emps)
		rv.Owners = ownerOptions(emps, owner)
		trendOf := map[string]warehouse.TenantTrend{}
		for _, t := range trends {
			trendOf[t.Tenant] = t
		}
		inWeek := map[string]warehouse.TenantTrend{}
		for _, t := range weeks {
			inWeek[t.Tenant] = t
		}
		byCustomer := map[int64][]reviewFollowUp{}
		for _, f := range followUps {
			author := names[f.AuthorID]
			if author == "" {
				author = l.T("someone no longer listed")
			}
			byCustomer[f.CustomerID] = append(byCustomer[f.CustomerID], reviewFollowUp{
				At: f.At.In(loc).Format("2006-01-02 15:04"), Kind: followUpKindLabel(l, f.Kind), Author: author,
				Text: clip(f.Text, reviewTextMax), Attachments: len(f.Attachments),
			})
		}
		for _, c := range list {
			row := reviewRow{ID: c.ID, Name: c.Name, Status: customerStatusLabel(l, c.Status), StatusCode: c.Status, Tenant: c.TenantID, FollowUps: byCustomer[c.ID]}
			rv.FollowUps += len(row.FollowUps)
			for _, id := range []int64{c.SalesOwner, c.CSMOwner} {
				if n := names[id]; id != 0 && n != "" && !slices.Contains(row.Owners, n) {
					row.Owners = append(row.Owners, n)
				}
			}
			if t, ok := trendOf[c.TenantID]; ok && c.TenantID != "" {
				row.Seen, row.Trend, row.Previous, row.Change = true, t.Trend, t.Previous, t.Change
			}
			if t, ok := inWeek[c.TenantID]; ok && c.TenantID != "" {
				row.Week, row.WeekBefore = t.Last, t.Previous
			}
			rv.Rows = append(rv.Rows, row)
		}
		link := func(d warehouse.Day) string {
			v := url.Values{"week": {d.String()}}
			if owner != 0 {
				v.Set("owner", strconv.FormatInt(owner, 10))
			}
			if only {
				v.Set("followups", "1")
			}
			return "/review?" + v.Encode()
		}
		rv.Prev, rv.Next, rv.This = link(monday.AddDays(-7)), link(monday.AddDays(7)), link(reviewWeekOf(s.today()))
		s.render(w, r, http.StatusOK, "review", page{Title: l.T("Weekly review %s to %s", rv.Monday, rv.Sunday), Nav: "review", Data: rv})
		return nil
	})
}
