package console

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// activityPages registers the activity pages.
func (s *server) activityPages(r chi.Router) {
	r.Get("/activity", s.handleActivity())
}

func (s *server) handleActivity() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant := r.URL.Query().Get("tenant")
		if tenant == "" {
			s.renderError(w, r, keel.Errorf(keel.EINVALID, "tenant: choose a tenant on the tenants page"))
			return
		}
		loc := s.Settings.Location
		if loc == nil {
			loc = time.UTC
		}
		to := warehouse.DayOf(s.Now(), loc)
		if v := r.URL.Query().Get("to"); v != "" {
			d, err := warehouse.ParseDay(v)
			if err != nil {
				s.renderError(w, r, err)
				return
			}
			to = d
		}
		from := to.AddDays(-89)
		a, err := s.Warehouse.Activity(r.Context(), tenant, from, to, s.Settings)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		names, err := s.Names.TenantNames(r.Context())
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		var last keel.ActivityDay
		if n := len(a.Days); n > 0 {
			last = a.Days[n-1]
		}
		s.render(w, r, http.StatusOK, "activity", page{Title: "Activity of " + tenant, Nav: "activity", Data: map[string]any{
			"Activity": a, "Name": names[tenant], "Last": last, "Chart": activityChart(a),
		}})
	}
}

// activityChart builds the ECharts option of a tenant's activity: daily
// active users and logins as bars and lines, WAU and MAU as lines.
func activityChart(a keel.Activity) string {
	days := make([]string, len(a.Days))
	dau := make([]opts.LineData, len(a.Days))
	wau := make([]opts.LineData, len(a.Days))
	mau := make([]opts.LineData, len(a.Days))
	logins := make([]opts.BarData, len(a.Days))
	for i, d := range a.Days {
		days[i] = d.Day
		dau[i] = opts.LineData{Value: d.ActiveUsers}
		wau[i] = opts.LineData{Value: d.WAU}
		mau[i] = opts.LineData{Value: d.MAU}
		logins[i] = opts.BarData{Value: d.Logins}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(opts.Grid{Left: "40", Right: "16", Top: "40", Bottom: "40"}),
		charts.WithDataZoomOpts(opts.DataZoom{Type: "inside"}),
		charts.WithAnimation(false),
	)
	bar.SetXAxis(days).AddSeries("Logins", logins, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#c7d7f2"}))
	line := charts.NewLine()
	line.SetGlobalOptions(charts.WithAnimation(false))
	plain := charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)})
	line.SetXAxis(days).
		AddSeries("Active users", dau, plain, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#1f5fbf"})).
		AddSeries("WAU", wau, plain, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#2e9e6b"})).
		AddSeries("MAU", mau, plain, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#a05bb5"}))
	bar.Overlap(line)
	bar.Validate()
	return string(bar.JSONNotEscaped())
}
