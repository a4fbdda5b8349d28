package console

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/keelhq/keel"
)

// priceRow is one version of a product's price.
type priceRow struct {
	Amount   int64
	Currency string
	Period   string
	From     time.Time
	To       *time.Time
	Current  bool // in effect today
}

// priceForm is the typed values of the add-price form.
type priceForm struct {
	Amount, Currency, Period, EffectiveFrom string
}

type productData struct {
	Product     keel.Product
	KindLabel   string
	StatusLabel string
	Prices      []priceRow // newest first
	Chart       string
	Periods     []option
	Form        priceForm
	Error       string
}

func (s *server) renderProduct(w http.ResponseWriter, r *http.Request, status int, id int64, form *priceForm, msg string) error {
	l := s.langOf(r)
	e, err := s.catalogue.Product(r.Context(), id)
	if err != nil {
		return err
	}
	p := e.Product
	today := s.day()
	current, _ := keel.PriceAt(p, e.Versions, today) // zero when none is in effect
	d := productData{Product: p, KindLabel: productKindLabel(l, p.Kind), StatusLabel: productStatusLabel(l, p.Status), Error: msg}
	for i := len(e.Versions) - 1; i >= 0; i-- {
		v := e.Versions[i]
		d.Prices = append(d.Prices, priceRow{Amount: v.Amount, Currency: v.Currency, Period: periodLabel(l, v.Period), From: v.EffectiveFrom, To: v.EffectiveTo,
			Current: current.ID != 0 && v.ID == current.ID})
	}
	if len(e.Versions) > 0 {
		d.Chart = priceChart(e.Versions, today)
	}
	if form == nil {
		// The next version keeps the product's currency and period, and
		// starts after the latest one: offer those.
		form = &priceForm{Currency: "USD", Period: string(keel.PeriodMonth), EffectiveFrom: day(today)}
		if n := len(e.Versions); n > 0 {
			last := e.Versions[n-1]
			form.Currency, form.Period = last.Currency, string(last.Period)
			if !today.After(last.EffectiveFrom) {
				form.EffectiveFrom = day(last.EffectiveFrom.AddDate(0, 0, 1))
			}
		}
	}
	d.Form = *form
	d.Periods = options(l, keel.Periods, periodLabel, form.Period)
	s.render(w, r, status, "product", page{Title: p.Name, Nav: "products", Data: d})
	return nil
}

// priceChart is the ECharts option of a product's price over time: one
// step line per currency on a time axis, in major units, from the first
// version to a month past today (or past the last version's start, when
// that is later), so the current price shows as a stretch, not a point.
func priceChart(versions []keel.PriceVersion, today time.Time) string {
	var currs []string
	last := versions[0].EffectiveFrom
	for _, v := range versions {
		if !slices.Contains(currs, v.Currency) {
			currs = append(currs, v.Currency)
		}
		if v.EffectiveFrom.After(last) {
			last = v.EffectiveFrom
		}
	}
	end := today
	if last.After(end) {
		end = last
	}
	end = end.AddDate(0, 1, 0)
	line := charts.NewLine()
	line.SetGlobalOptions(chartOptions(opts.Grid{Left: "60", Right: "24", Top: "40", Bottom: "40"},
		charts.WithXAxisOpts(opts.XAxis{Type: "time"}))...)
	for _, c := range currs {
		scale := math.Pow10(keel.MinorUnits(c))
		var data []opts.LineData
		var amount float64
		for _, v := range versions { // oldest first
			if v.Currency != c {
				continue
			}
			amount = float64(v.Amount) / scale
			data = append(data, opts.LineData{Value: []any{day(v.EffectiveFrom), amount}})
		}
		data = append(data, opts.LineData{Value: []any{day(end), amount}, Symbol: "none"})
		line.AddSeries(c, data, charts.WithLineChartOpts(opts.LineChart{Step: "end"}))
	}
	line.Validate()
	return string(line.JSONNotEscaped())
}

func (s *server) handleProductPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.ProductNotFound)
		if err != nil {
			return err
		}
		return s.renderProduct(w, r, http.StatusOK, id, nil, "")
	})
}

func (s *server) handleProductStatusForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.ProductNotFound)
		if err != nil {
			return err
		}
		st := keel.ProductStatus(r.PostFormValue("status"))
		_, err = s.catalogue.SetProductStatus(r.Context(), employeeFrom(r.Context()), id, st)
		if formRefused(err) {
			return s.renderProduct(w, r, statusOf(keel.ErrorCode(err)), id, nil, l.Refusal(err))
		}
		if err != nil {
			return err
		}
		msg := l.T("Product enabled: it can be ordered.")
		if st == keel.ProductDisabled {
			msg = l.T("Product disabled: new orders cannot include it.")
		}
		s.redirect(w, r, fmt.Sprintf("/products/%d", id), msg)
		return nil
	})
}

func (s *server) handlePriceForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.ProductNotFound)
		if err != nil {
			return err
		}
		f := priceForm{
			Amount: strings.TrimSpace(r.PostFormValue("amount")), Currency: strings.ToUpper(strings.TrimSpace(r.PostFormValue("currency"))),
			Period: r.PostFormValue("period"), EffectiveFrom: strings.TrimSpace(r.PostFormValue("effective_from")),
		}
		err = s.addPrice(r, id, f)
		if formRefused(err) {
			return s.renderProduct(w, r, statusOf(keel.ErrorCode(err)), id, &f, l.Refusal(err))
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, fmt.Sprintf("/products/%d", id), l.T("Price added from %s.", f.EffectiveFrom))
		return nil
	})
}

func (s *server) addPrice(r *http.Request, id int64, f priceForm) error {
	if err := keel.ValidCurrency("currency", f.Currency); err != nil {
		return err
	}
	amount, err := keel.ParseAmount("amount", f.Amount, f.Currency, s.langOf(r).Locale)
	if err != nil {
		return err
	}
	v := keel.PriceVersion{ProductID: id, Amount: amount, Currency: f.Currency, Period: keel.Period(f.Period)}
	if f.EffectiveFrom != "" { // none is the domain's to refuse
		if v.EffectiveFrom, err = parseDay("effective_from", f.EffectiveFrom); err != nil {
			return err
		}
	}
	_, err = s.catalogue.AddPrice(r.Context(), employeeFrom(r.Context()), v)
	return err
}
