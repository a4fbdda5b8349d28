package keel

import (
	"math"
	"sort"
)

// MonthTotal is a month of the company's revenue in one currency: the
// exact sums of its customers' rows (METRICS.md rounds only for display).
type MonthTotal struct {
	Month    Month
	Currency string
	MRR      Exact
	// The five movements of the month, each a positive amount.
	New, Expansion, Contraction, Churn, Reactivation Exact
	Customers                                        int64 // paying customers on the sample day
	// Customers by movement: new, churned and reactivated this month.
	NewCustomers, ChurnedCustomers, ReactivatedCustomers int64
}

// MonthRow is a month of the month table as people and tools read it:
// minor units rounded once, half up. Its JSON is the contract of
// GET /api/v1/metrics/mrr and `keel revenue --json` (DESIGN.md); net_new
// is an addition.
type MonthRow struct {
	Month        string `json:"month"`
	MRR          int64  `json:"mrr"`
	ARR          int64  `json:"arr"`
	New          int64  `json:"new"`
	Expansion    int64  `json:"expansion"`
	Contraction  int64  `json:"contraction"`
	Churn        int64  `json:"churn"`
	Reactivation int64  `json:"reactivation"`
	NetNew       int64  `json:"net_new"`
	Customers    int64  `json:"customers"` // paying at month end (on the MRR day)
}

// Row rounds t for showing.
func (t MonthTotal) Row() MonthRow {
	return MonthRow{Month: t.Month.String(), MRR: t.MRR.Round(), ARR: t.ARR().Round(), New: t.New.Round(), Expansion: t.Expansion.Round(),
		Contraction: t.Contraction.Round(), Churn: t.Churn.Round(), Reactivation: t.Reactivation.Round(), NetNew: t.NetNew().Round(), Customers: t.Customers}
}

// Of is the month's amount of movement m.
func (t MonthTotal) Of(m Movement) Exact {
	switch m {
	case MoveNew:
		return t.New
	case MoveExpansion:
		return t.Expansion
	case MoveContraction:
		return t.Contraction
	case MoveChurn:
		return t.Churn
	case MoveReactivation:
		return t.Reactivation
	}
	return Exact{}
}

// NetNew is new + expansion + reactivation − contraction − churn.
func (t MonthTotal) NetNew() Exact {
	var s ExactSum
	s.Add(t.New)
	s.Add(t.Expansion)
	s.Add(t.Reactivation)
	s.Sub(t.Contraction)
	s.Sub(t.Churn)
	r, _ := s.Exact()
	return r
}

// ARR is MRR × 12, exact.
func (t MonthTotal) ARR() Exact {
	var s ExactSum
	for range 12 {
		s.Add(t.MRR)
	}
	r, _ := s.Exact()
	return r
}

// MonthTotals sums customer rows into one total per currency and month,
// for every month from..to (months without rows are zero), in currency
// then month order. The warehouse sums the same rows in SQL; this is the
// reference the tests and `keel revenue check` compare it with.
func MonthTotals(rows []CustomerMonth, from, to Month) []MonthTotal {
	type key struct {
		cur string
		m   Month
	}
	type acc struct {
		mrr, new, exp, con, churn, react ExactSum
		t                                MonthTotal
	}
	sums := map[key]*acc{}
	currencies := map[string]bool{}
	for _, r := range rows {
		currencies[r.Currency] = true
		if r.Month < from || r.Month > to {
			continue
		}
		k := key{r.Currency, r.Month}
		a := sums[k]
		if a == nil {
			a = &acc{}
			sums[k] = a
		}
		a.mrr.Add(r.MRR)
		if r.MRR.Sign() > 0 {
			a.t.Customers++
		}
		switch r.Movement {
		case MoveNew:
			a.new.Add(r.Change)
			a.t.NewCustomers++
		case MoveExpansion:
			a.exp.Add(r.Change)
		case MoveContraction:
			a.con.Add(r.Change)
		case MoveChurn:
			a.churn.Add(r.Change)
			a.t.ChurnedCustomers++
		case MoveReactivation:
			a.react.Add(r.Change)
			a.t.ReactivatedCustomers++
		}
	}
	names := make([]string, 0, len(currencies))
	for c := range currencies {
		names = append(names, c)
	}
	sort.Strings(names)
	var out []MonthTotal
	for _, c := range names {
		for m := from; m <= to; m++ {
			t := MonthTotal{Month: m, Currency: c}
			if a := sums[key{c, m}]; a != nil {
				t = a.t
				t.Month, t.Currency = m, c
				t.MRR, _ = a.mrr.Exact()
				t.New, _ = a.new.Exact()
				t.Expansion, _ = a.exp.Exact()
				t.Contraction, _ = a.con.Exact()
				t.Churn, _ = a.churn.Exact()
				t.Reactivation, _ = a.react.Exact()
			}
			out = append(out, t)
		}
	}
	return out
}

// Ratio is a metric that may be undefined: nil is "n/a" (a division by
// zero), never infinity.
type Ratio = *float64

func ratio(num, den float64) Ratio {
	if den == 0 || math.IsNaN(num) || math.IsNaN(den) {
		return nil
	}
	r := num / den
	return &r
}

// SaaS are the month's SaaS metrics (METRICS.md), all in the month's
// currency. Amounts are exact; ratios are fractions (0.05 is 5 %), nil
// when undefined.
type SaaS struct {
	Month     Month
	Currency  string
	MRR       Exact
	ARR       Exact
	NetNew    Exact
	Customers int64
	ARPA      Ratio // MRR ÷ paying customers, minor units
	// CustomerChurn: customers who churned ÷ paying customers at the start.
	CustomerChurn Ratio
	GrossMRRChurn Ratio // (churn + contraction) ÷ start MRR
	NetMRRChurn   Ratio // (churn + contraction − expansion − reactivation) ÷ start MRR
	NRR           Ratio // (start + expansion − contraction − churn) ÷ start
	GRR           Ratio // (start − contraction − churn) ÷ start, never above 1
	QuickRatio    Ratio // (new + expansion + reactivation) ÷ (churn + contraction)
	// LTV: ARPA ÷ the average monthly customer churn rate of the six
	// months before this one; nil when that churn is 0.
	LTV Ratio
	// Spend and the new customers CAC divides it by (over CACMonths).
	Spend        int64
	NewCustomers int64
	CAC          Ratio // spend ÷ new customers
	CACPayback   Ratio // months: CAC ÷ (new MRR per new customer × gross margin)
	LTVToCAC     Ratio
}

// SaaSMetrics computes the SaaS metrics of the last month of totals, which
// must be consecutive months of one currency ending with it and reaching
// back at least seven months for LTV (fewer give LTV over what there is).
// spend is the sales-and-marketing spend per month (minor units).
func SaaSMetrics(totals []MonthTotal, spend map[Month]int64, s RevenueSettings) SaaS {
	s = s.WithDefaults()
	if len(totals) == 0 {
		return SaaS{}
	}
	cur := totals[len(totals)-1]
	var start MonthTotal
	if len(totals) >= 2 {
		start = totals[len(totals)-2]
	}
	out := SaaS{Month: cur.Month, Currency: cur.Currency, MRR: cur.MRR, ARR: cur.ARR(), NetNew: cur.NetNew(), Customers: cur.Customers}
	out.ARPA = ratio(cur.MRR.Float(), float64(cur.Customers))
	out.CustomerChurn = ratio(float64(cur.ChurnedCustomers), float64(start.Customers))
	startMRR := start.MRR.Float()
	churnAll := cur.Churn.Float() + cur.Contraction.Float()
	out.GrossMRRChurn = ratio(churnAll, startMRR)
	out.NetMRRChurn = ratio(churnAll-cur.Expansion.Float()-cur.Reactivation.Float(), startMRR)
	nrr := startMRR + cur.Expansion.Float() - cur.Contraction.Float() - cur.Churn.Float()
	if s.NRRWithReactivation {
		nrr += cur.Reactivation.Float()
	}
	out.NRR = ratio(nrr, startMRR)
	out.GRR = ratio(startMRR-cur.Contraction.Float()-cur.Churn.Float(), startMRR)
	out.QuickRatio = ratio(cur.New.Float()+cur.Expansion.Float()+cur.Reactivation.Float(), churnAll)

	// LTV: the six months before this one, each month's customer churn
	// rate; months with no paying customers at their start have no rate.
	var rates []float64
	for i := len(totals) - 2; i >= 1 && len(rates) < 6 && i >= len(totals)-7; i-- {
		if r := ratio(float64(totals[i].ChurnedCustomers), float64(totals[i-1].Customers)); r != nil {
			rates = append(rates, *r)
		}
	}
	if len(rates) > 0 && out.ARPA != nil {
		var sum float64
		for _, r := range rates {
			sum += r
		}
		out.LTV = ratio(*out.ARPA, sum/float64(len(rates)))
	}

	// CAC over the window: the month's (or the trailing three months')
	// spend and new customers, and their new MRR for payback.
	var newMRR float64
	for i := len(totals) - 1; i >= 0 && i >= len(totals)-s.CACMonths; i-- {
		out.Spend += spend[totals[i].Month]
		out.NewCustomers += totals[i].NewCustomers
		newMRR += totals[i].New.Float()
	}
	out.CAC = ratio(float64(out.Spend), float64(out.NewCustomers))
	if out.CAC != nil {
		if perCustomer := ratio(newMRR, float64(out.NewCustomers)); perCustomer != nil {
			out.CACPayback = ratio(*out.CAC, *perCustomer*float64(s.GrossMarginPct)/100)
		}
		if out.LTV != nil {
			out.LTVToCAC = ratio(*out.LTV, *out.CAC)
		}
	}
	return out
}

// CohortCell is one cohort in one month: customers whose first paid MRR
// was in Cohort, k = Month − Cohort months later.
type CohortCell struct {
	Cohort    Month
	Month     Month
	MRR       Exact // the cohort's MRR this month
	Customers int64 // of them, paying this month
}

// Cohort is one row of the cohort grid: the cohort's starting MRR and
// customers, and each month's retention.
type Cohort struct {
	Cohort         Month
	StartMRR       Exact
	StartCustomers int64
	Cells          []CohortCell // from the cohort's month on
}

// MRRRetention is cell k's MRR as a share of the cohort's starting MRR.
func (c Cohort) MRRRetention(k int) Ratio {
	if k < 0 || k >= len(c.Cells) {
		return nil
	}
	return ratio(c.Cells[k].MRR.Float(), c.StartMRR.Float())
}

// CustomerRetention is the share of the cohort's customers still paying
// in cell k.
func (c Cohort) CustomerRetention(k int) Ratio {
	if k < 0 || k >= len(c.Cells) {
		return nil
	}
	return ratio(float64(c.Cells[k].Customers), float64(c.StartCustomers))
}

// RenewalSummary is a month's renewals: due against renewed, by count (the
// business's view) and by MRR (finance's).
type RenewalSummary struct {
	Month        Month
	Currency     string
	Due, Renewed int64
	DueMRR       Exact
	RenewedMRR   Exact
	CountRate    Ratio // renewed ÷ due
	AmountRate   Ratio // renewed MRR ÷ due MRR; above 1 when renewals grew
}

// SummarizeRenewals sums renewals due in month m and currency cur.
func SummarizeRenewals(rs []Renewal, m Month, cur string) RenewalSummary {
	out := RenewalSummary{Month: m, Currency: cur}
	var due, renewed ExactSum
	for _, r := range rs {
		if r.Due != m || r.Currency != cur {
			continue
		}
		out.Due++
		due.Add(r.DueMRR)
		if r.Renewed {
			out.Renewed++
			renewed.Add(r.RenewedMRR)
		}
	}
	out.DueMRR, _ = due.Exact()
	out.RenewedMRR, _ = renewed.Exact()
	out.CountRate = ratio(float64(out.Renewed), float64(out.Due))
	out.AmountRate = ratio(renewed.Float(), due.Float())
	return out
}

// CohortsOf groups customer rows of one currency by cohort (the month of
// first paid MRR) and sums each cohort's MRR and paying customers month by
// month through the month through. It is the reference the warehouse's
// cohort query is tested against.
func CohortsOf(rows []CustomerMonth, currency string, through Month) []Cohort {
	type key struct{ cohort, m Month }
	mrr := map[key]*ExactSum{}
	paying := map[key]int64{}
	cohorts := map[Month]bool{}
	for _, r := range rows {
		if r.Currency != currency || r.Month > through || r.Cohort == 0 {
			continue
		}
		k := key{r.Cohort, r.Month}
		if mrr[k] == nil {
			mrr[k] = &ExactSum{}
		}
		mrr[k].Add(r.MRR)
		if r.MRR.Sign() > 0 {
			paying[k]++
		}
		cohorts[r.Cohort] = true
	}
	var months []Month
	for c := range cohorts {
		months = append(months, c)
	}
	sort.Slice(months, func(i, j int) bool { return months[i] < months[j] })
	var out []Cohort
	for _, c := range months {
		co := Cohort{Cohort: c}
		for m := c; m <= through; m++ {
			cell := CohortCell{Cohort: c, Month: m, Customers: paying[key{c, m}]}
			if s := mrr[key{c, m}]; s != nil {
				cell.MRR, _ = s.Exact()
			}
			co.Cells = append(co.Cells, cell)
		}
		co.StartMRR, co.StartCustomers = co.Cells[0].MRR, co.Cells[0].Customers
		out = append(out, co)
	}
	return out
}
