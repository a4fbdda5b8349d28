package console

import (
	"fmt"
	"net/http"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The revenue dashboard: leadership's home page (finance and admin reach
// it from the navigation). Everything on it is one currency, never mixed;
// every number links to the customers behind it, and they to their
// orders. Its reads run side by side: the month table (which also gives
// the SaaS metrics of this month and the last), spend, cohorts, renewals,
// the top customers.

// Dashboard rules: the ranges the MRR bridge offers, the default one, the
// cohorts shown and how many top customers.
var dashRanges = []int{6, 12, 24, 36}

const (
	dashDefaultRange = 12
	dashMaxRange     = 36
	dashCohorts      = 12
	dashTopCustomers = 10
	dashRenewals     = 4 // this month and the next three
)

// Kinds of customer lists besides the five movements: every customer
// paying in the month, and everyone who moved in it.
const (
	kindPaying = "paying"
	kindMoved  = "moved"
)

// dashTile is one tile: a number, its change against last month, and the
// customers behind it.
type dashTile struct {
	ID, Label, Value, Unit string
	Change                 string // "" when there is nothing to compare
	Class                  string // trend-up, trend-down or trend-flat: good, bad or neither
	Link                   string
	Hint                   string // the definition, as a tooltip
}

// dashCell is a number of a table that links to the customers behind it.
type dashCell struct {
	Text, Link string
}

// dashMonthRow is one month of the month-by-month table.
type dashMonthRow struct {
	Month                                                         string
	MRR, New, Expansion, Reactivation, Contraction, Churn, NetNew dashCell
	Customers                                                     dashCell
}

// dashRenewalRow is one month of renewals: due against renewed.
type dashRenewalRow struct {
	Month                 string
	Due, Renewed          dashCell
	DueMRR, RenewedMRR    dashCell
	CountRate, AmountRate string
}

// dashTopRow is one of the customers with the most MRR.
type dashTopRow struct {
	ID           int64
	Name         string
	MRR, Share   string
	Cohort, Link string
}

// dashCohortRow is one cohort of the cohort table: MRR and customers
// retained in each month since its first.
type dashCohortRow struct {
	Cohort string
	Start  dashCell
	Cells  []dashCohortCell
}

type dashCohortCell struct {
	MRR, Customers string
	Link           string
}

type dashData struct {
	Currency, Month, Prev string
	Currencies, Ranges    []option
	Range                 int
	Tiles                 []dashTile
	Bridge, Trend         chart
	CohortMRR, CohortPaid chart
	Rows                  []dashMonthRow
	Cohorts               []dashCohortRow
	CohortWidth           []int
	Renewals              []dashRenewalRow
	Top                   []dashTopRow
	TopLink               string
	Settings              keel.RevenueSettings
	MRRDayLabel           string
}

// handleDashboard is GET /dashboard.
func (s *server) handleDashboard() http.HandlerFunc { return s.page(s.dashboard) }

// dashboard renders the dashboard: ?currency= (default: the main
// currency, else the one with the most MRR), ?month= the month the tiles
// show (default this month), ?months= the range of the MRR bridge and
// trend ending with it (up to 36).
func (s *server) dashboard(w http.ResponseWriter, r *http.Request) error {
	if err := s.revenueReady(); err != nil {
		return err
	}
	ctx := r.Context()
	l := s.langOf(r)
	q := r.URL.Query()
	m, err := monthQuery(q, s.thisMonth())
	if err != nil {
		return err
	}
	span := dashDefaultRange
	if v := q.Get("months"); v != "" {
		n, err := formInt("months", v)
		if err != nil {
			return err
		}
		if n < 2 || n > dashMaxRange {
			return keel.Invalid("months", "must be %d to %d", 2, dashMaxRange)
		}
		span = int(n)
	}
	if c := q.Get("currency"); c != "" {
		if err := keel.ValidCurrency("currency", c); err != nil {
			return err
		}
	}
	settings, err := s.revenueRecords.RevenueSettings(ctx)
	if err != nil {
		return err
	}
	cur, err := s.revenueCurrency(ctx, q.Get("currency"), settings, m)
	if err != nil {
		return err
	}

	from := m - keel.Month(span-1)
	tableFrom := min(from, m-8) // the SaaS metrics of last month reach back seven months before it
	var (
		totals     []keel.MonthTotal
		spend      map[keel.Month]int64
		cohorts    []keel.Cohort
		renewals   []keel.Renewal
		top        []keel.CustomerMonth
		currencies []string
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		totals, err = s.Revenue.MonthTable(gctx, cur, tableFrom, m)
		return err
	})
	g.Go(func() (err error) {
		spend, err = s.Revenue.Spend(gctx, cur, m-4, m)
		return err
	})
	g.Go(func() (err error) {
		cohorts, err = s.Revenue.Cohorts(gctx, cur, m-dashCohorts+1, m)
		return err
	})
	g.Go(func() (err error) {
		renewals, err = s.Revenue.Renewals(gctx, cur, m, m+dashRenewals-1, 0)
		return err
	})
	g.Go(func() (err error) {
		top, err = s.Revenue.CustomerMonths(gctx, warehouse.RevenueFilter{Currency: cur, Month: m, Limit: dashTopCustomers})
		return err
	})
	g.Go(func() (err error) {
		currencies, err = s.revenueCurrencies(gctx, settings, cur)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	names, err := s.customers.CustomerNames(ctx, customerIDs(top))
	if err != nil {
		return err
	}

	byMonth := map[keel.Month]keel.MonthTotal{}
	for _, t := range totals {
		byMonth[t.Month] = t
	}
	shown := totals[len(totals)-span:]
	now, prev := saasOf(totals, spend, cur, m, settings), saasOf(totals, spend, cur, m-1, settings)
	d := dashData{Currency: cur, Month: m.String(), Prev: (m - 1).String(), Range: span, Settings: settings,
		MRRDayLabel: mrrDayLabel(l, settings.MRRDay), TopLink: revenueLink("/revenue/customers", cur, m, "kind", kindPaying)}
	for _, c := range currencies {
		d.Currencies = append(d.Currencies, option{Value: c, Label: c, Selected: c == cur})
	}
	for _, n := range dashRanges {
		d.Ranges = append(d.Ranges, option{Value: itoa(n), Label: l.T("%d months", n), Selected: n == span})
	}
	if !slices.Contains(dashRanges, span) {
		d.Ranges = append(d.Ranges, option{Value: itoa(span), Label: l.T("%d months", span), Selected: true})
	}
	d.Tiles = dashTiles(l, cur, m, now, prev, byMonth[m], byMonth[m-1])
	d.Bridge, d.Trend = bridgeChart(l, cur, shown), trendChart(l, cur, shown)
	for i := len(shown) - 1; i >= 0; i-- {
		d.Rows = append(d.Rows, dashMonthRowOf(cur, shown[i]))
	}

	width := 0
	for _, c := range cohorts {
		width = max(width, len(c.Cells))
	}
	d.CohortMRR, d.CohortPaid = cohortChart(l, cur, cohorts, width, true), cohortChart(l, cur, cohorts, width, false)
	for k := range width {
		d.CohortWidth = append(d.CohortWidth, k)
	}
	for _, c := range cohorts {
		row := dashCohortRow{Cohort: c.Cohort.String(), Start: dashCell{
			Text: l.T("%s from %d customers", keel.FormatAmount(c.StartMRR.Round(), cur), c.StartCustomers),
			Link: revenueLink("/revenue/customers", cur, c.Cohort, "kind", kindPaying, "cohort", c.Cohort.String())}}
		for k, cell := range c.Cells {
			row.Cells = append(row.Cells, dashCohortCell{MRR: pctOf(l, c.MRRRetention(k)), Customers: pctOf(l, c.CustomerRetention(k)),
				Link: revenueLink("/revenue/customers", cur, cell.Month, "kind", kindPaying, "cohort", c.Cohort.String())})
		}
		d.Cohorts = append(d.Cohorts, row)
	}

	for k := range dashRenewals {
		rm := m + keel.Month(k)
		sum := keel.SummarizeRenewals(renewals, rm, cur)
		link := revenueLink("/revenue/renewals", cur, rm)
		d.Renewals = append(d.Renewals, dashRenewalRow{Month: rm.String(),
			Due:        dashCell{itoa(int(sum.Due)), link},
			Renewed:    dashCell{itoa(int(sum.Renewed)), link + "&renewed=yes"},
			DueMRR:     dashCell{keel.FormatAmount(sum.DueMRR.Round(), cur), link},
			RenewedMRR: dashCell{keel.FormatAmount(sum.RenewedMRR.Round(), cur), link + "&renewed=yes"},
			CountRate:  pctOf(l, sum.CountRate), AmountRate: pctOf(l, sum.AmountRate)})
	}

	total := byMonth[m].MRR.Float()
	for _, c := range top {
		share := keel.Ratio(nil)
		if total > 0 {
			f := c.MRR.Float() / total
			share = &f
		}
		d.Top = append(d.Top, dashTopRow{ID: c.CustomerID, Name: names[c.CustomerID], MRR: keel.FormatAmount(c.MRR.Round(), cur),
			Share: pctOf(l, share), Cohort: c.Cohort.String(), Link: "/customers/" + i64(c.CustomerID) + "#revenue"})
	}
	s.render(w, r, http.StatusOK, "dashboard", page{Title: l.T("Revenue dashboard"), Nav: "dashboard", Data: d})
	return nil
}

// dashTiles are the dashboard's tiles for month m against the month
// before.
func dashTiles(l lang, cur string, m keel.Month, now, prev keel.SaaS, t, before keel.MonthTotal) []dashTile {
	paying := revenueLink("/revenue/customers", cur, m, "kind", kindPaying)
	moved := revenueLink("/revenue/customers", cur, m, "kind", kindMoved)
	money := func(n int64) string { return keel.FormatAmount(n, cur) }
	change := func(d int64, goodUp bool) (string, string) {
		return l.T("%s vs last month", signed(money(d), d)), trendClass(d, goodUp)
	}
	tile := func(id, label, value, unit, link, hint string, ch, class string) dashTile {
		return dashTile{ID: id, Label: label, Value: value, Unit: unit, Link: link, Hint: hint, Change: ch, Class: class}
	}
	var tiles []dashTile
	ch, cl := change(exactDiff(now.MRR, prev.MRR).Round(), true)
	tiles = append(tiles, tile("tile-mrr", l.T("MRR"), money(now.MRR.Round()), cur, paying, l.T("Recurring revenue of the month's paying customers, per month."), ch, cl))
	ch, cl = change(exactDiff(now.ARR, prev.ARR).Round(), true)
	tiles = append(tiles, tile("tile-arr", l.T("ARR"), money(now.ARR.Round()), cur, paying, l.T("MRR × 12."), ch, cl))
	ch, cl = change(exactDiff(now.NetNew, prev.NetNew).Round(), true)
	tiles = append(tiles, tile("tile-net-new", l.T("Net new MRR"), signed(money(now.NetNew.Round()), now.NetNew.Sign()), cur, moved,
		l.T("New + expansion + reactivation − contraction − churn."), ch, cl))
	dc := t.Customers - before.Customers
	tiles = append(tiles, tile("tile-customers", l.T("Paying customers"), i64(t.Customers), "", paying, l.T("Customers with MRR at the month's end."),
		l.T("%s vs last month", signed(i64(dc), dc)), trendClass(dc, true)))
	arpa := dashTile{ID: "tile-arpa", Label: l.T("ARPA"), Value: l.T("n/a"), Unit: cur, Link: paying, Hint: l.T("MRR ÷ paying customers.")}
	if a := minorUnits(now.ARPA); a != nil {
		arpa.Value = money(*a)
		if p := minorUnits(prev.ARPA); p != nil {
			arpa.Change, arpa.Class = change(*a-*p, true)
		}
	}
	tiles = append(tiles, arpa)
	tiles = append(tiles, ratioTile(l, "tile-churn", l.T("Customer churn"), now.CustomerChurn, prev.CustomerChurn, false,
		revenueLink("/revenue/customers", cur, m, "kind", string(keel.MoveChurn)), l.T("Customers who churned ÷ paying customers at the month's start.")))
	tiles = append(tiles, ratioTile(l, "tile-nrr", l.T("NRR"), now.NRR, prev.NRR, true, moved,
		l.T("(Start MRR + expansion − contraction − churn) ÷ start MRR.")))
	ltv := dashTile{ID: "tile-ltv-cac", Label: l.T("LTV / CAC"), Value: timesOf(l, now.LTVToCAC), Link: revenueLink("/revenue/customers", cur, m, "kind", string(keel.MoveNew)),
		Hint: l.T("Lifetime value ÷ the cost of winning a customer; 3 or more is healthy.")}
	if now.LTVToCAC != nil && prev.LTVToCAC != nil {
		d := *now.LTVToCAC - *prev.LTVToCAC
		ltv.Change, ltv.Class = l.T("%s vs last month", fmt.Sprintf("%+.1f×", d)), trendClassF(d, true)
	}
	tiles = append(tiles, ltv)
	return tiles
}

// ratioTile is a tile of a percentage, its change in percentage points.
func ratioTile(l lang, id, label string, now, prev keel.Ratio, goodUp bool, link, hint string) dashTile {
	t := dashTile{ID: id, Label: label, Value: pctOf(l, now), Link: link, Hint: hint}
	if now != nil && prev != nil {
		d := (*now - *prev) * 100
		t.Change, t.Class = l.T("%s vs last month", l.T("%+.1f pp", d)), trendClassF(d, goodUp)
	}
	return t
}

// signed writes a formatted number with its sign, + for a gain.
func signed[T int | int64](s string, sign T) string {
	if sign > 0 {
		return "+" + s
	}
	return s
}

// trendClass says whether a change is good (trend-up), bad (trend-down)
// or none.
func trendClass(d int64, goodUp bool) string { return trendClassF(float64(d), goodUp) }

func trendClassF(d float64, goodUp bool) string {
	switch {
	case d == 0 || d > -1e-9 && d < 1e-9:
		return "trend-flat"
	case (d > 0) == goodUp:
		return "trend-up"
	}
	return "trend-down"
}

func dashMonthRowOf(cur string, t keel.MonthTotal) dashMonthRow {
	cell := func(n int64, kind string) dashCell {
		return dashCell{keel.FormatAmount(n, cur), revenueLink("/revenue/customers", cur, t.Month, "kind", kind)}
	}
	return dashMonthRow{Month: t.Month.String(),
		MRR: cell(t.MRR.Round(), kindPaying), New: cell(t.New.Round(), string(keel.MoveNew)), Expansion: cell(t.Expansion.Round(), string(keel.MoveExpansion)),
		Reactivation: cell(t.Reactivation.Round(), string(keel.MoveReactivation)), Contraction: cell(t.Contraction.Round(), string(keel.MoveContraction)),
		Churn: cell(t.Churn.Round(), string(keel.MoveChurn)), NetNew: cell(t.NetNew().Round(), kindMoved),
		Customers: dashCell{i64(t.Customers), revenueLink("/revenue/customers", cur, t.Month, "kind", kindPaying)}}
}

// movementLabel names a movement, or one of the other kinds of customer
// lists.
func movementLabel(l lang, m keel.Movement) string {
	switch m {
	case keel.MoveNew:
		return l.T("New")
	case keel.MoveExpansion:
		return l.T("Expansion")
	case keel.MoveContraction:
		return l.T("Contraction")
	case keel.MoveChurn:
		return l.T("Churn")
	case keel.MoveReactivation:
		return l.T("Reactivation")
	case kindPaying:
		return l.T("Paying customers")
	case kindMoved:
		return l.T("Every movement")
	}
	return string(m)
}

func mrrDayLabel(l lang, d keel.MRRDay) string {
	if d == keel.MRRFirstDay {
		return l.T("first day of the month")
	}
	return l.T("last day of the month")
}

func churnTimingLabel(l lang, c keel.ChurnTiming) string {
	if c == keel.ChurnOnVoidDay {
		return l.T("on the day the order is voided")
	}
	return l.T("at the end of the last paid service period")
}
