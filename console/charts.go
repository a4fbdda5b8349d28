package console

import (
	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// series is one named, coloured row of numbers of a chart.
type series struct {
	name, color string
	values      []int64
}

// chartOptions are what every chart of the console has: an axis tooltip,
// a legend on top, no animation, and the grid given (room for the axis
// labels), with more options after them.
func chartOptions(grid opts.Grid, more ...charts.GlobalOpts) []charts.GlobalOpts {
	return append([]charts.GlobalOpts{
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "0"}),
		charts.WithGridOpts(grid),
		charts.WithAnimation(false),
	}, more...)
}

// barsAndLines builds the ECharts option every activity chart uses: one
// series as bars and the others as lines over the same days, with zoom by
// wheel or touch.
func barsAndLines(days []string, bars series, lines ...series) string {
	bar := charts.NewBar()
	bar.SetGlobalOptions(chartOptions(opts.Grid{Left: "48", Right: "16", Top: "40", Bottom: "40"},
		charts.WithDataZoomOpts(opts.DataZoom{Type: "inside"}))...)
	data := make([]opts.BarData, len(bars.values))
	for i, v := range bars.values {
		data[i] = opts.BarData{Value: v}
	}
	bar.SetXAxis(days).AddSeries(bars.name, data, charts.WithItemStyleOpts(opts.ItemStyle{Color: bars.color}))
	line := charts.NewLine()
	line.SetGlobalOptions(charts.WithAnimation(false))
	line.SetXAxis(days)
	plain := charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)})
	for _, s := range lines {
		data := make([]opts.LineData, len(s.values))
		for i, v := range s.values {
			data[i] = opts.LineData{Value: v}
		}
		line.AddSeries(s.name, data, plain, charts.WithItemStyleOpts(opts.ItemStyle{Color: s.color}))
	}
	bar.Overlap(line)
	bar.Validate()
	return string(bar.JSONNotEscaped())
}

// activityChart is a customer's or tenant's activity: logins as bars,
// daily active users, WAU and MAU as lines, named in the reader's language.
func activityChart(l lang, a keel.Activity) string {
	n := len(a.Days)
	days := make([]string, n)
	logins, dau, wau, mau := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, d := range a.Days {
		days[i], logins[i], dau[i], wau[i], mau[i] = d.Day, d.Logins, d.ActiveUsers, d.WAU, d.MAU
	}
	return barsAndLines(days, series{l.T("Logins"), "#c7d7f2", logins},
		series{l.T("Daily active users"), "#1f5fbf", dau},
		series{l.T("WAU"), "#2e9e6b", wau},
		series{l.T("MAU"), "#a05bb5", mau})
}

// totalsChart is the dashboard's: logins as bars, users who logged in and
// customers with a login as lines, per day across all customers.
func totalsChart(l lang, totals []warehouse.DailyTotal) string {
	n := len(totals)
	days := make([]string, n)
	logins, users, tenants := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, d := range totals {
		days[i], logins[i], users[i], tenants[i] = d.Day, d.Logins, d.LoginUsers, d.Tenants
	}
	return barsAndLines(days, series{l.T("Logins"), "#c7d7f2", logins},
		series{l.T("Users who logged in"), "#1f5fbf", users},
		series{l.T("Customers with a login"), "#2e9e6b", tenants})
}
