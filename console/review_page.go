package console

import (
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
	// TrendTo is the last day the trends and the week's logins count:
	// Sunday, or the last complete day of a week not over (Ongoing).
	TrendTo string
	Ongoing bool
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
// A week not over yet counts up to its last complete day (TrendEnd), as
// the dashboard does, never a day under way or to come: its trend is the
// dashboard's, and its logins are those of the seven days to then.
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
			emps          []keel.Employee
			trends, weeks []warehouse.TenantTrend
			weekFollowUps []keel.FollowUp
		)
		// The page of customers, by name, paged in Postgres, their status
		// derived for the page only: of every customer, read beside the
		// employees; of those with follow-ups that week, once these are
		// known (they are the list itself).
		var (
			list  []keel.CustomerRef
			total int
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			emps, err = s.employees.Employees(gctx)
			return err
		})
		g.Go(func() (err error) {
			var had []int64 // nil: every customer; a customer listed twice counts once
			if only {
				if weekFollowUps, err = s.followUps.FollowUpsBetween(gctx, from, to, nil); err != nil {
					return err
				}
				had = []int64{}
				for _, f := range weekFollowUps {
					had = append(had, f.CustomerID)
				}
			}
			list, total, err = s.Names.ReviewCustomers(gctx, owner, had, p)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}
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
				followUps, err = s.followUps.FollowUpsBetween(gctx, from, to, ids)
				return err
			})
		}
		g.Go(func() (err error) {
			// Both from one read of the rollup.
			trends, weeks, err = s.Warehouse.TenantTrendsOfTwo(gctx, sunday, s.Settings, weekly.Trend, tenants)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}

		rv := review{
			Monday: monday.String(), Sunday: sunday.String(), Week: monday.String(),
			Owner: owner, OnlyFollowUps: only, Pager: pagerOf(r, p, total), TrendDays: s.trendDays(),
			TrendTo: s.Settings.TrendEnd(sunday).String(),
		}
		rv.Ongoing = rv.TrendTo != rv.Sunday
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
