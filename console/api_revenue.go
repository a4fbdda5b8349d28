package console

import (
	"encoding/csv"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// The revenue metrics of the JSON API (leadership, finance, admin). Money
// is integer minor units of the answer's currency, each amount rounded
// half up once from the exact sum; ratios are fractions (0.05 is 5 %) and
// null when undefined ("n/a"). Every route also answers CSV, with a header
// row and the same names and units, to a request that accepts text/csv.

// wantsCSV reports whether the request asks for CSV (Accept: text/csv).
func wantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true
		}
	}
	return false
}

// writeCSV answers a header row and rows, as a file named name.
func writeCSV(w http.ResponseWriter, name string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".csv"}))
	w.WriteHeader(http.StatusOK)
	c := csv.NewWriter(w)
	c.Write(header)
	c.WriteAll(rows)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// optInt and optFloat write a nullable number as a CSV cell: empty for null.
func optInt(n *int64) string {
	if n == nil {
		return ""
	}
	return i64(*n)
}

func optFloat(r keel.Ratio) string {
	if r == nil {
		return ""
	}
	return strconv.FormatFloat(*r, 'f', -1, 64)
}

func idList(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = i64(id)
	}
	return strings.Join(s, " ")
}

// monthQuery reads the optional month parameter; def when absent.
func monthQuery(q url.Values, def keel.Month) (keel.Month, error) {
	if v := q.Get("month"); v != "" {
		return keel.ParseMonth("month", v)
	}
	return def, nil
}

// monthRangeQuery reads from and to (YYYY-MM, both included): to defaults
// to this month and from to the twelve months ending with to; a from after
// to or more than keel.MaxMonthRange months is refused naming the
// parameter.
func monthRangeQuery(q url.Values, thisMonth keel.Month) (keel.Month, keel.Month, error) {
	from, to := q.Get("from"), q.Get("to")
	if to == "" {
		to = thisMonth.String()
		if from != "" {
			if f, err := keel.ParseMonth("from", from); err == nil && f > thisMonth {
				to = from
			}
		}
	}
	if from == "" {
		t, err := keel.ParseMonth("to", to)
		if err != nil {
			return 0, 0, err
		}
		from = max(t-11, keel.MonthAt(2000, 1)).String()
	}
	return keel.ParseMonthRange(from, to)
}

// revenueRequest is what every metrics route reads first: its parameters
// (of names, which must include currency), the settings and the currency.
type revenueRequest struct {
	q        url.Values
	settings keel.RevenueSettings
	currency string
}

// readRevenueRange is readRevenueRequest for the routes of a month range
// (from, to, currency); the currency is resolved for to.
func (s *server) readRevenueRange(r *http.Request) (req revenueRequest, from, to keel.Month, err error) {
	req, err = s.readRevenueRequest(r, []string{"from", "to", "currency"}, func(q url.Values) (keel.Month, error) {
		var err error
		from, to, err = monthRangeQuery(q, s.thisMonth())
		return to, err
	})
	return req, from, to, err
}

// readRevenueRequest parses the query (refusing other parameters) and
// resolves the currency for month m (m from parse, which reads the route's
// own parameters first).
func (s *server) readRevenueRequest(r *http.Request, names []string, parse func(url.Values) (keel.Month, error)) (revenueRequest, error) {
	if err := s.revenueReady(); err != nil {
		return revenueRequest{}, err
	}
	q, err := queryParams(r, names...)
	if err != nil {
		return revenueRequest{}, err
	}
	if c := q.Get("currency"); c != "" {
		if err := keel.ValidCurrency("currency", c); err != nil {
			return revenueRequest{}, err
		}
	}
	m, err := parse(q)
	if err != nil {
		return revenueRequest{}, err
	}
	settings, err := s.revenueRecords.RevenueSettings(r.Context())
	if err != nil {
		return revenueRequest{}, err
	}
	cur, err := s.revenueCurrency(r.Context(), q.Get("currency"), settings, m)
	if err != nil {
		return revenueRequest{}, err
	}
	return revenueRequest{q: q, settings: settings, currency: cur}, nil
}

// handleMRRMetrics is GET /metrics/mrr: the month table.
func (s *server) handleMRRMetrics() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		req, from, to, err := s.readRevenueRange(r)
		if err != nil {
			return err
		}
		totals, err := s.Revenue.MonthTable(r.Context(), req.currency, from, to)
		if err != nil {
			return err
		}
		months := make([]keel.MonthRow, len(totals))
		for i, t := range totals {
			months[i] = t.Row()
		}
		if wantsCSV(r) {
			rows := make([][]string, len(months))
			for i, m := range months {
				rows[i] = []string{m.Month, req.currency, i64(m.MRR), i64(m.ARR), i64(m.New), i64(m.Expansion), i64(m.Contraction),
					i64(m.Churn), i64(m.Reactivation), i64(m.NetNew), i64(m.Customers)}
			}
			writeCSV(w, fmt.Sprintf("mrr-%s-%s-%s", req.currency, from, to),
				[]string{"month", "currency", "mrr", "arr", "new", "expansion", "contraction", "churn", "reactivation", "net_new", "customers"}, rows)
			return nil
		}
		writeJSON(w, http.StatusOK, map[string]any{"currency": req.currency, "from": from.String(), "to": to.String(), "months": months})
		return nil
	})
}

// moverJSON is one customer behind a movement.
type moverJSON struct {
	CustomerID int64  `json:"customer_id"`
	Name       string `json:"name"`
	Movement   string `json:"movement"`
	MRRBefore  int64  `json:"mrr_before"` // the month before's MRR
	MRRAfter   int64  `json:"mrr_after"`  // this month's
	// Change is mrr_after − mrr_before as shown, so a row adds up; Amount
	// is the movement's own amount (positive, rounded from the exact
	// change), what the month table sums.
	Change int64      `json:"change"`
	Amount int64      `json:"amount"`
	Orders []orderRef `json:"orders"` // whose lines started or stopped counting
	URL    string     `json:"url"`
	Page   string     `json:"page"`
}

// handleMovementMetrics is GET /metrics/movements: the customers who moved
// in a month (of one kind, or every kind), with their MRR before and after
// and the orders that caused it.
func (s *server) handleMovementMetrics() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var m keel.Month
		var kind keel.Movement
		req, err := s.readRevenueRequest(r, []string{"month", "kind", "currency"}, func(q url.Values) (keel.Month, error) {
			var err error
			if m, err = monthQuery(q, s.thisMonth()); err != nil {
				return m, err
			}
			kind, err = queryEnum(q, "kind", keel.Movements)
			return m, err
		})
		if err != nil {
			return err
		}
		ctx := r.Context()
		rows, err := s.customersBehind(ctx, req.currency, m, kind, 0)
		if err != nil {
			return err
		}
		names, err := s.customers.CustomerNames(ctx, customerIDs(rows))
		if err != nil {
			return err
		}
		var total keel.ExactSum
		out := make([]moverJSON, len(rows))
		for i, c := range rows {
			before, after := c.Previous.Round(), c.MRR.Round()
			total.Add(c.Change)
			out[i] = moverJSON{CustomerID: c.CustomerID, Name: names[c.CustomerID], Movement: string(c.Movement), MRRBefore: before, MRRAfter: after,
				Change: after - before, Amount: c.Change.Round(), Orders: orderRefsOf(c.Orders),
				URL: location("customers", c.CustomerID), Page: "/customers/" + i64(c.CustomerID)}
		}
		if wantsCSV(r) {
			csvRows := make([][]string, len(out))
			for i, c := range out {
				ids := make([]int64, len(c.Orders))
				for j, o := range c.Orders {
					ids[j] = o.ID
				}
				csvRows[i] = []string{m.String(), req.currency, i64(c.CustomerID), c.Name, c.Movement, i64(c.MRRBefore), i64(c.MRRAfter), i64(c.Change), i64(c.Amount), idList(ids)}
			}
			writeCSV(w, fmt.Sprintf("movements-%s-%s", req.currency, m),
				[]string{"month", "currency", "customer_id", "name", "movement", "mrr_before", "mrr_after", "change", "amount", "orders"}, csvRows)
			return nil
		}
		writeJSON(w, http.StatusOK, map[string]any{"currency": req.currency, "month": m.String(), "kind": string(kind), "amount": total.Round(), "customers": out})
		return nil
	})
}

// saasJSON is GET /metrics/saas. Money is minor units (ARPA, LTV and CAC
// rounded half up), ratios are fractions, CAC payback is in months.
type saasJSON struct {
	Currency          string   `json:"currency"`
	Month             string   `json:"month"`
	MRR               int64    `json:"mrr"`
	ARR               int64    `json:"arr"`
	NetNew            int64    `json:"net_new"`
	Customers         int64    `json:"customers"`
	NewCustomers      int64    `json:"new_customers"` // over the CAC window
	Spend             int64    `json:"spend"`         // over the CAC window
	ARPA              *int64   `json:"arpa"`
	LTV               *int64   `json:"ltv"`
	CAC               *int64   `json:"cac"`
	CustomerChurnRate *float64 `json:"customer_churn_rate"`
	GrossMRRChurn     *float64 `json:"gross_mrr_churn"`
	NetMRRChurn       *float64 `json:"net_mrr_churn"`
	NRR               *float64 `json:"nrr"`
	GRR               *float64 `json:"grr"`
	QuickRatio        *float64 `json:"quick_ratio"`
	CACPaybackMonths  *float64 `json:"cac_payback_months"`
	LTVToCAC          *float64 `json:"ltv_to_cac"`
}

func toSaaSJSON(x keel.SaaS) saasJSON {
	return saasJSON{Currency: x.Currency, Month: x.Month.String(), MRR: x.MRR.Round(), ARR: x.ARR.Round(), NetNew: x.NetNew.Round(),
		Customers: x.Customers, NewCustomers: x.NewCustomers, Spend: x.Spend,
		ARPA: minorUnits(x.ARPA), LTV: minorUnits(x.LTV), CAC: minorUnits(x.CAC),
		CustomerChurnRate: x.CustomerChurn, GrossMRRChurn: x.GrossMRRChurn, NetMRRChurn: x.NetMRRChurn, NRR: x.NRR, GRR: x.GRR,
		QuickRatio: x.QuickRatio, CACPaybackMonths: x.CACPayback, LTVToCAC: x.LTVToCAC}
}

// handleSaaSMetrics is GET /metrics/saas: a month's SaaS metrics.
func (s *server) handleSaaSMetrics() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var m keel.Month
		req, err := s.readRevenueRequest(r, []string{"month", "currency"}, func(q url.Values) (keel.Month, error) {
			var err error
			m, err = monthQuery(q, s.thisMonth())
			return m, err
		})
		if err != nil {
			return err
		}
		x, err := s.saasAt(r.Context(), req.currency, m, req.settings)
		if err != nil {
			return err
		}
		out := toSaaSJSON(x)
		if wantsCSV(r) {
			writeCSV(w, fmt.Sprintf("saas-%s-%s", req.currency, m),
				[]string{"month", "currency", "mrr", "arr", "net_new", "customers", "new_customers", "spend", "arpa", "ltv", "cac",
					"customer_churn_rate", "gross_mrr_churn", "net_mrr_churn", "nrr", "grr", "quick_ratio", "cac_payback_months", "ltv_to_cac"},
				[][]string{{out.Month, out.Currency, i64(out.MRR), i64(out.ARR), i64(out.NetNew), i64(out.Customers), i64(out.NewCustomers), i64(out.Spend),
					optInt(out.ARPA), optInt(out.LTV), optInt(out.CAC), optFloat(out.CustomerChurnRate), optFloat(out.GrossMRRChurn),
					optFloat(out.NetMRRChurn), optFloat(out.NRR), optFloat(out.GRR), optFloat(out.QuickRatio), optFloat(out.CACPaybackMonths),
					optFloat(out.LTVToCAC)}})
			return nil
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// cohortJSON is one row of the cohort grid: customers whose first paid
// MRR was in cohort, and each month from then on.
type cohortJSON struct {
	Cohort         string           `json:"cohort"`
	StartMRR       int64            `json:"start_mrr"`
	StartCustomers int64            `json:"start_customers"`
	Months         []cohortCellJSON `json:"months"`
}

type cohortCellJSON struct {
	Month             string   `json:"month"`
	Index             int      `json:"index"` // months since the cohort's first
	MRR               int64    `json:"mrr"`
	Customers         int64    `json:"customers"` // still paying
	MRRRetention      *float64 `json:"mrr_retention"`
	CustomerRetention *float64 `json:"customer_retention"`
}

// handleCohortMetrics is GET /metrics/cohorts: the cohorts of from..to,
// each followed through to.
func (s *server) handleCohortMetrics() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		req, from, to, err := s.readRevenueRange(r)
		if err != nil {
			return err
		}
		cohorts, err := s.Revenue.Cohorts(r.Context(), req.currency, from, to)
		if err != nil {
			return err
		}
		out := make([]cohortJSON, 0, len(cohorts))
		for _, c := range cohorts {
			cj := cohortJSON{Cohort: c.Cohort.String(), StartMRR: c.StartMRR.Round(), StartCustomers: c.StartCustomers, Months: make([]cohortCellJSON, len(c.Cells))}
			for k, cell := range c.Cells {
				cj.Months[k] = cohortCellJSON{Month: cell.Month.String(), Index: k, MRR: cell.MRR.Round(), Customers: cell.Customers,
					MRRRetention: c.MRRRetention(k), CustomerRetention: c.CustomerRetention(k)}
			}
			out = append(out, cj)
		}
		if wantsCSV(r) {
			var rows [][]string
			for _, c := range out {
				for _, cell := range c.Months {
					rows = append(rows, []string{c.Cohort, cell.Month, strconv.Itoa(cell.Index), req.currency, i64(c.StartMRR), i64(c.StartCustomers),
						i64(cell.MRR), i64(cell.Customers), optFloat(cell.MRRRetention), optFloat(cell.CustomerRetention)})
				}
			}
			writeCSV(w, fmt.Sprintf("cohorts-%s-%s-%s", req.currency, from, to),
				[]string{"cohort", "month", "index", "currency", "start_mrr", "start_customers", "mrr", "customers", "mrr_retention", "customer_retention"}, rows)
			return nil
		}
		writeJSON(w, http.StatusOK, map[string]any{"currency": req.currency, "from": from.String(), "to": to.String(), "cohorts": out})
		return nil
	})
}

// renewalJSON is one subscription term due to end in the month.
type renewalJSON struct {
	CustomerID     int64      `json:"customer_id"`
	Name           string     `json:"name"`
	SubscriptionID int64      `json:"subscription_id"`
	ProductID      int64      `json:"product_id"`
	Product        string     `json:"product"`
	EndsOn         string     `json:"ends_on"` // the first day out of service
	DueMRR         int64      `json:"due_mrr"`
	Renewed        bool       `json:"renewed"`
	RenewedMRR     int64      `json:"renewed_mrr"`
	Orders         []orderRef `json:"orders"`         // whose terms end
	RenewalOrders  []orderRef `json:"renewal_orders"` // that renewed them
	Page           string     `json:"page"`           // the customer's page
}

// renewalSummaryJSON is a month's renewals: due against renewed, by count
// and by MRR.
type renewalSummaryJSON struct {
	Currency   string        `json:"currency"`
	Month      string        `json:"month"`
	Due        int64         `json:"due"`
	Renewed    int64         `json:"renewed"`
	DueMRR     int64         `json:"due_mrr"`
	RenewedMRR int64         `json:"renewed_mrr"`
	CountRate  *float64      `json:"count_rate"`
	AmountRate *float64      `json:"amount_rate"`
	Renewals   []renewalJSON `json:"renewals"`
}

// handleRenewalMetrics is GET /metrics/renewals: what is due in a month
// and what was renewed, and the list.
func (s *server) handleRenewalMetrics() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var m keel.Month
		req, err := s.readRevenueRequest(r, []string{"month", "currency"}, func(q url.Values) (keel.Month, error) {
			var err error
			m, err = monthQuery(q, s.thisMonth())
			return m, err
		})
		if err != nil {
			return err
		}
		ctx := r.Context()
		mr, err := s.readMonthRenewals(ctx, req.currency, m)
		if err != nil {
			return err
		}
		rs, prods, names := mr.renewals, mr.products, mr.names
		sum := keel.SummarizeRenewals(rs, m, req.currency)
		out := renewalSummaryJSON{Currency: req.currency, Month: m.String(), Due: sum.Due, Renewed: sum.Renewed, DueMRR: sum.DueMRR.Round(),
			RenewedMRR: sum.RenewedMRR.Round(), CountRate: sum.CountRate, AmountRate: sum.AmountRate, Renewals: make([]renewalJSON, len(rs))}
		for i, x := range rs {
			out.Renewals[i] = renewalJSON{CustomerID: x.CustomerID, Name: names[x.CustomerID], SubscriptionID: x.SubscriptionID, ProductID: x.ProductID,
				Product: prods.name(x.ProductID), EndsOn: day(x.EndsOn), DueMRR: x.DueMRR.Round(), Renewed: x.Renewed, RenewedMRR: x.RenewedMRR.Round(),
				Orders: orderRefsOf(x.Orders), RenewalOrders: orderRefsOf(x.RenewalOrders), Page: "/customers/" + i64(x.CustomerID)}
		}
		if wantsCSV(r) {
			rows := make([][]string, len(rs))
			for i, x := range rs {
				j := out.Renewals[i]
				rows[i] = []string{out.Month, out.Currency, i64(j.CustomerID), j.Name, i64(j.SubscriptionID), i64(j.ProductID), j.Product, j.EndsOn,
					i64(j.DueMRR), strconv.FormatBool(j.Renewed), i64(j.RenewedMRR), idList(x.Orders), idList(x.RenewalOrders)}
			}
			writeCSV(w, fmt.Sprintf("renewals-%s-%s", req.currency, m),
				[]string{"month", "currency", "customer_id", "name", "subscription_id", "product_id", "product", "ends_on", "due_mrr", "renewed", "renewed_mrr", "orders", "renewal_orders"}, rows)
			return nil
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}
