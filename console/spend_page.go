package console

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/keelhq/keel"
)

// The spend page (finance, admin): sales and marketing spend per month
// and currency, which CAC divides by the month's new customers. Amounts
// are typed and shown in currency units (keel.ParseAmount,
// keel.FormatAmount) and kept in minor units; the store audits each entry
// and sends it to the warehouse.

// spendCell is a month's spend in one currency, linking to the form
// filled with it.
type spendCell struct {
	Text, Link string
	Set        bool
}

type spendRow struct {
	Month string
	Cells []spendCell // one per currency of the page
}

// spendForm is the form to enter or change a month's spend.
type spendForm struct {
	Month, Currency, Amount string
	Currencies              []option
	Error                   string
}

type spendData struct {
	From, To   string
	Currencies []string
	Rows       []spendRow
	Form       spendForm
}

// handleSpendPage is GET /spend?from=&to=[&month=&currency=]: the months
// (the twelve up to this month by default), and the form, filled with
// the month and currency asked for.
func (s *server) handleSpendPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		f := spendForm{Month: q.Get("month"), Currency: q.Get("currency")}
		return s.renderSpend(w, r, http.StatusOK, f, true)
	})
}

// renderSpend shows the spend page with form f; fill puts the amount
// entered for f's month and currency into the form.
func (s *server) renderSpend(w http.ResponseWriter, r *http.Request, status int, f spendForm, fill bool) error {
	if err := s.revenueReady(); err != nil {
		return err
	}
	ctx := r.Context()
	l := s.langOf(r)
	// The range shown: the query's, or the form's hidden fields when a
	// posted form is shown again.
	from, to, err := monthRangeQuery(url.Values{"from": {r.FormValue("from")}, "to": {r.FormValue("to")}}, s.thisMonth())
	if err != nil {
		return err
	}
	settings, err := s.revenueRecords.RevenueSettings(ctx)
	if err != nil {
		return err
	}
	entries, err := s.revenueRecords.Spend(ctx, from, to)
	if err != nil {
		return err
	}
	cur := f.Currency
	if cur == "" || keel.ValidCurrency("currency", cur) != nil {
		if cur, err = s.revenueCurrency(ctx, "", settings, to); err != nil {
			return err
		}
		if f.Currency == "" {
			f.Currency = cur
		}
	}
	currencies, err := s.revenueCurrencies(ctx, settings, cur)
	if err != nil {
		return err
	}
	amounts := map[string]int64{}
	for _, e := range entries {
		if !slices.Contains(currencies, e.Currency) {
			currencies = append(currencies, e.Currency)
		}
		amounts[e.Month.String()+" "+e.Currency] = e.Amount
	}
	sort.Strings(currencies[min(1, len(currencies)):]) // the main (or largest) currency first, then by code
	if f.Month == "" {
		f.Month = s.thisMonth().String()
	}
	if fill {
		if n, ok := amounts[f.Month+" "+f.Currency]; ok {
			f.Amount = keel.FormatAmount(n, f.Currency)
		} else if m, err := keel.ParseMonth("month", f.Month); err == nil && f.Amount == "" {
			// A month outside the table: read it on its own.
			if one, err := s.revenueRecords.Spend(ctx, m, m); err == nil {
				for _, e := range one {
					if e.Currency == f.Currency {
						f.Amount = keel.FormatAmount(e.Amount, e.Currency)
					}
				}
			}
		}
	}
	d := spendData{From: from.String(), To: to.String(), Currencies: currencies}
	for m := to; m >= from; m-- {
		row := spendRow{Month: m.String()}
		for _, c := range currencies {
			link := "/spend?" + url.Values{"from": {from.String()}, "to": {to.String()}, "month": {m.String()}, "currency": {c}}.Encode() + "#spend-form"
			cell := spendCell{Text: "—", Link: link}
			if n, ok := amounts[m.String()+" "+c]; ok {
				cell.Text, cell.Set = keel.FormatAmount(n, c), true
			}
			row.Cells = append(row.Cells, cell)
		}
		d.Rows = append(d.Rows, row)
	}
	for _, c := range allCurrencies(currencies) {
		f.Currencies = append(f.Currencies, option{Value: c, Label: c, Selected: c == f.Currency})
	}
	d.Form = f
	s.render(w, r, status, "spend", page{Title: l.T("Sales and marketing spend"), Nav: "spend", Data: d})
	return nil
}

// allCurrencies are the currencies a form offers: first, and then every
// other currency Keel knows.
func allCurrencies(first []string) []string {
	out := append([]string(nil), first...)
	for _, c := range keelCurrencies {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// keelCurrencies are the currencies keel.ValidCurrency accepts, for the
// forms' choices (the domain keeps its list unexported, so a test checks
// every one of these is valid).
var keelCurrencies = []string{"USD", "EUR", "GBP", "CNY", "JPY", "HKD", "SGD", "AUD", "CAD", "CHF", "SEK", "NOK", "DKK", "INR",
	"KRW", "BRL", "MXN", "NZD", "TWD", "ZAR"}

// handleSpendForm is POST /spend: month (YYYY-MM), currency and amount in
// currency units. A refusal shows the form again with what was typed.
func (s *server) handleSpendForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.revenueReady(); err != nil {
			return err
		}
		l := s.langOf(r)
		f := spendForm{Month: strings.TrimSpace(r.PostFormValue("month")), Currency: r.PostFormValue("currency"), Amount: r.PostFormValue("amount")}
		saved, err := s.saveSpend(r, f)
		if formRefused(err) {
			f.Error = l.Refusal(err)
			return s.renderSpend(w, r, statusOf(keel.ErrorCode(err)), f, false)
		}
		if err != nil {
			return err
		}
		back := url.Values{"month": {saved.Month.String()}, "currency": {saved.Currency}}
		for _, k := range []string{"from", "to"} { // the range the page showed
			if v := r.PostFormValue(k); v != "" {
				back.Set(k, v)
			}
		}
		s.redirect(w, r, "/spend?"+back.Encode(), l.T("Spend saved: %s %s in %s.", keel.FormatAmount(saved.Amount, saved.Currency), saved.Currency, saved.Month.String()))
		return nil
	})
}

func (s *server) saveSpend(r *http.Request, f spendForm) (keel.Spend, error) {
	m, err := keel.ParseMonth("month", f.Month)
	if err != nil {
		return keel.Spend{}, err
	}
	if err := keel.ValidCurrency("currency", f.Currency); err != nil {
		return keel.Spend{}, err
	}
	amount, err := keel.ParseAmount("amount", f.Amount, f.Currency, s.langOf(r).Locale)
	if err != nil {
		return keel.Spend{}, err
	}
	return s.revenueRecords.SetSpend(r.Context(), employeeFrom(r.Context()), keel.Spend{Month: m, Currency: f.Currency, Amount: amount})
}
