package console

import (
	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/keelhq/keel"
)

// activityChart builds the ECharts option of a customer's or tenant's
// activity: logins as bars, daily active users, WAU and MAU as lines, with
// the series named in the reader's language.
func activityChart(l lang, a keel.Activity) string {
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
	bar.SetXAxis(days).AddSeries(l.T("Logins"), logins, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#c7d7f2"}))
	line := charts.NewLine()
	line.SetGlobalOptions(charts.WithAnimation(false))
	plain := charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)})
	line.SetXAxis(days).
		AddSeries(l.T("Daily active users"), dau, plain, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#1f5fbf"})).
		AddSeries(l.T("WAU"), wau, plain, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#2e9e6b"})).
		AddSeries(l.T("MAU"), mau, plain, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#a05bb5"}))
	bar.Overlap(line)
	bar.Validate()
	return string(bar.JSONNotEscaped())
}
