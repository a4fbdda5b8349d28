package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The customers behind a revenue number — a movement, a month's paying
// customers, a cohort's, the renewals due — each with its MRR before and
// after and the orders that caused the change; and a customer's own MRR
// history on its page.

// revListLimit bounds the paying customers listed at once, largest first
// (the movements of a month are listed whole).
const revListLimit = 1000

// revRow is one customer of a list.
type revRow struct {
	ID                        int64
	Name                      string
	Movement, MovementLabel   string
	Before, After, Change     string
	ChangeClass, Cohort, Link string
	Orders                    []int64
}

type revCustomersData struct {
	Currency, Month, Kind, KindLabel, Cohort string
	Heading                                  string
	Kinds                                    []option
	Rows                                     []revRow
	Shown, Total                             int64  // rows listed, and the month table's count
	Amount, TableAmount                      string // the rows' sum, and the month table's figure
	Before, After                            string // the rows' MRR before and after, summed
	DashLink                                 string
}

// revListQuery reads what a list of customers is of: currency, month and
// (for the customers page) kind and cohort.
func (s *server) revListQuery(r *http.Request) (cur string, m keel.Month, settings keel.RevenueSettings, err error) {
	if err = s.revenueReady(); err != nil {
		return
	}
	q := r.URL.Query()
	if m, err = monthQuery(q, s.thisMonth()); err != nil {
		return
	}
	if c := q.Get("currency"); c != "" {
		if err = keel.ValidCurrency("currency", c); err != nil {
			return
		}
	}
	if settings, err = s.revenueRecords.RevenueSettings(r.Context()); err != nil {
		return
	}
	cur, err = s.revenueCurrency(r.Context(), q.Get("currency"), settings, m)
	return
}

// handleRevenueCustomers is GET /revenue/customers?currency=&month=&kind=
// [&cohort=]: kind is paying (the default), moved (every movement) or one
// movement; cohort keeps to the customers who first paid in that month.
func (s *server) handleRevenueCustomers() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		cur, m, _, err := s.revListQuery(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		kind := q.Get("kind")
		if kind == "" {
			kind = kindPaying
		}
		kinds := append([]string{kindPaying, kindMoved}, movementNames()...)
		if err := keel.OneOf("kind", kind, kinds); err != nil {
			return err
		}
		var cohort keel.Month
		if v := q.Get("cohort"); v != "" {
			if cohort, err = keel.ParseMonth("cohort", v); err != nil {
				return err
			}
		}

		var totals []keel.MonthTotal
		var rows []keel.CustomerMonth
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			totals, err = s.Revenue.MonthTable(gctx, cur, m, m)
			return err
		})
		g.Go(func() (err error) {
			switch kind {
			case kindPaying:
				rows, err = s.Revenue.CustomerMonths(gctx, warehouse.RevenueFilter{Currency: cur, Month: m, Cohort: cohort, Limit: revListLimit})
			case kindMoved:
				rows, err = s.customersBehind(gctx, cur, m, keel.MoveNone, cohort)
			default:
				rows, err = s.customersBehind(gctx, cur, m, keel.Movement(kind), cohort)
			}
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}
		names, err := s.customers.CustomerNames(ctx, customerIDs(rows))
		if err != nil {
			return err
		}
		t := totals[0]
		d := revCustomersData{Currency: cur, Month: m.String(), Kind: kind, KindLabel: movementLabel(l, keel.Movement(kind)),
			DashLink: "/dashboard?" + url.Values{"currency": {cur}, "month": {m.String()}}.Encode(), Shown: int64(len(rows))}
		if cohort != 0 {
			d.Cohort = cohort.String()
		}
		for _, k := range kinds {
			link := revenueLink("/revenue/customers", cur, m, "kind", k)
			if cohort != 0 {
				link += "&cohort=" + cohort.String()
			}
			d.Kinds = append(d.Kinds, option{Value: link, Label: movementLabel(l, keel.Movement(k)), Selected: k == kind})
		}
		var amount, before, after keel.ExactSum
		for _, c := range rows {
			d.Rows = append(d.Rows, revRowOf(l, cur, c, names[c.CustomerID]))
			before.Add(c.Previous)
			after.Add(c.MRR)
			switch kind {
			case kindPaying:
				amount.Add(c.MRR)
			case kindMoved:
				amount.Add(exactDiff(c.MRR, c.Previous))
			default:
				amount.Add(c.Change)
			}
		}
		d.Amount, d.Before, d.After = keel.FormatAmount(amount.Round(), cur), keel.FormatAmount(before.Round(), cur), keel.FormatAmount(after.Round(), cur)
		switch kind {
		case kindPaying:
			d.Total, d.TableAmount = t.Customers, keel.FormatAmount(t.MRR.Round(), cur)
		case kindMoved:
			d.Total, d.TableAmount = -1, keel.FormatAmount(t.NetNew().Round(), cur)
		default:
			d.Total, d.TableAmount = -1, keel.FormatAmount(t.Of(keel.Movement(kind)).Round(), cur)
		}
		d.Heading = l.T("%s, %s (%s)", d.KindLabel, d.Month, cur)
		if cohort != 0 {
			d.Heading = l.T("%s of the %s cohort, %s (%s)", d.KindLabel, d.Cohort, d.Month, cur)
		}
		s.render(w, r, http.StatusOK, "revenue_customers", page{Title: d.Heading, Nav: "dashboard", Data: d})
		return nil
	})
}

func movementNames() []string {
	out := make([]string, len(keel.Movements))
	for i, m := range keel.Movements {
		out[i] = string(m)
	}
	return out
}

func revRowOf(l lang, cur string, c keel.CustomerMonth, name string) revRow {
	before, after := c.Previous.Round(), c.MRR.Round()
	row := revRow{ID: c.CustomerID, Name: name, Movement: string(c.Movement), MovementLabel: movementLabel(l, c.Movement),
		Before: keel.FormatAmount(before, cur), After: keel.FormatAmount(after, cur), Change: signed(keel.FormatAmount(after-before, cur), after-before),
		ChangeClass: trendClass(after-before, true), Orders: c.Orders, Link: "/customers/" + i64(c.CustomerID) + "#revenue"}
	if c.Cohort != 0 {
		row.Cohort = c.Cohort.String()
	}
	if name == "" {
		row.Name = "#" + i64(c.CustomerID)
	}
	return row
}

// revRenewalRow is one term due to end.
type revRenewalRow struct {
	CustomerID            int64
	Customer, Product     string
	EndsOn                string
	DueMRR, RenewedMRR    string
	Renewed               bool
	Orders, RenewalOrders []int64
}

type revRenewalsData struct {
	Currency, Month, Filter string
	Summary                 dashRenewalRow
	Rows                    []revRenewalRow
	Filters                 []option
	DashLink                string
}

// handleRevenueRenewals is GET /revenue/renewals?currency=&month=
// [&renewed=yes|no]: the terms due to end in the month, and which were
// renewed, with the orders on both sides.
func (s *server) handleRevenueRenewals() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		cur, m, _, err := s.revListQuery(r)
		if err != nil {
			return err
		}
		filter := r.URL.Query().Get("renewed")
		if err := keel.OneOf("renewed", filter, []string{"", "yes", "no"}); err != nil {
			return err
		}
		mr, err := s.readMonthRenewals(ctx, cur, m)
		if err != nil {
			return err
		}
		rs, prods, names := mr.renewals, mr.products, mr.names
		sum := keel.SummarizeRenewals(rs, m, cur)
		link := revenueLink("/revenue/renewals", cur, m)
		d := revRenewalsData{Currency: cur, Month: m.String(), Filter: filter, DashLink: "/dashboard?" + url.Values{"currency": {cur}, "month": {m.String()}}.Encode(),
			Summary: dashRenewalRow{Month: m.String(), Due: dashCell{itoa(int(sum.Due)), link}, Renewed: dashCell{itoa(int(sum.Renewed)), link + "&renewed=yes"},
				DueMRR: dashCell{keel.FormatAmount(sum.DueMRR.Round(), cur), link}, RenewedMRR: dashCell{keel.FormatAmount(sum.RenewedMRR.Round(), cur), link + "&renewed=yes"},
				CountRate: pctOf(l, sum.CountRate), AmountRate: pctOf(l, sum.AmountRate)}}
		for _, f := range []struct{ v, label string }{{"", l.T("All due")}, {"yes", l.T("Renewed")}, {"no", l.T("Not renewed")}} {
			u := link
			if f.v != "" {
				u += "&renewed=" + f.v
			}
			d.Filters = append(d.Filters, option{Value: u, Label: f.label, Selected: f.v == filter})
		}
		for _, x := range rs {
			if filter == "yes" && !x.Renewed || filter == "no" && x.Renewed {
				continue
			}
			name := names[x.CustomerID]
			if name == "" {
				name = "#" + i64(x.CustomerID)
			}
			d.Rows = append(d.Rows, revRenewalRow{CustomerID: x.CustomerID, Customer: name, Product: prods.name(x.ProductID), EndsOn: day(x.EndsOn),
				DueMRR: keel.FormatAmount(x.DueMRR.Round(), cur), RenewedMRR: keel.FormatAmount(x.RenewedMRR.Round(), cur), Renewed: x.Renewed,
				Orders: x.Orders, RenewalOrders: x.RenewalOrders})
		}
		s.render(w, r, http.StatusOK, "revenue_renewals", page{Title: l.T("Renewals due in %s (%s)", d.Month, cur), Nav: "dashboard", Data: d})
		return nil
	})
}

// custRevenuePanel is a customer's revenue on its page: for each currency
// it paid in, its MRR month by month and what moved it.
type custRevenuePanel struct {
	Unavailable bool
	Currencies  []custRevenueCurrency
}

type custRevenueCurrency struct {
	Currency   string
	MRR        string // this month's
	Chart      chart
	Movements  []custRevenueMove
	FirstMonth string
}

type custRevenueMove struct {
	Anchor, Month, Movement, MovementLabel string
	Before, After, Change, ChangeClass     string
	Orders                                 []int64
	Link                                   string // the month's customers of that movement
}

// customerRevenue is the revenue panel of customer id's page, for those
// who may read revenue (nil for others, or when the console runs without
// the warehouse's revenue). The page is the records', so a failure of the
// warehouse shows the panel as unavailable rather than failing the page.
func (s *server) customerRevenue(ctx context.Context, r *http.Request, id int64) *custRevenuePanel {
	if s.revenueReady() != nil || employeeFrom(ctx).Can(keel.ActRevenueRead) != nil {
		return nil
	}
	l := s.langOf(r)
	rows, err := s.Revenue.CustomerMonths(ctx, warehouse.RevenueFilter{Customer: id})
	if err != nil {
		s.Log.Error("console", "path", r.URL.Path, "err", fmt.Errorf("customer %d revenue: %w", id, err))
		return &custRevenuePanel{Unavailable: true}
	}
	p := &custRevenuePanel{}
	now := s.thisMonth()
	var byCur = map[string][]keel.CustomerMonth{}
	var order []string
	for _, c := range rows {
		if _, ok := byCur[c.Currency]; !ok {
			order = append(order, c.Currency)
		}
		byCur[c.Currency] = append(byCur[c.Currency], c)
	}
	for _, cur := range order {
		cr := byCur[cur]
		rc := custRevenueCurrency{Currency: cur, MRR: keel.FormatAmount(0, cur), Chart: customerMRRChart(l, cur, cr), FirstMonth: cr[0].Month.String()}
		for _, c := range cr {
			if c.Month == now {
				rc.MRR = keel.FormatAmount(c.MRR.Round(), cur)
			}
		}
		for _, c := range slices.Backward(cr) {
			if c.Movement == keel.MoveNone {
				continue
			}
			row := revRowOf(l, cur, c, "")
			rc.Movements = append(rc.Movements, custRevenueMove{Anchor: "revenue-" + cur + "-" + c.Month.String(), Month: c.Month.String(),
				Movement: row.Movement, MovementLabel: row.MovementLabel, Before: row.Before, After: row.After, Change: row.Change,
				ChangeClass: row.ChangeClass, Orders: c.Orders, Link: revenueLink("/revenue/customers", cur, c.Month, "kind", string(c.Movement))})
		}
		p.Currencies = append(p.Currencies, rc)
	}
	return p
}
