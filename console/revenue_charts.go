package console

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/keelhq/keel"
)

// The revenue charts. Each comes with its links: for every series, the
// page behind each of its points (charts.js follows a click on a point to
// it), so that a bar of the MRR bridge, a point of the trend and a cell of
// a cohort heatmap lead to the customers behind them as the numbers in the
// tables do. Money is drawn in whole currency units (a chart's axis, not a
// figure to add up); the tables beside the charts show it exactly.

// chart is a chart's ECharts option and its links (JSON, [series][point]).
type chart struct {
	Option string
	Links  string
}

func linksJSON(links [][]string) string {
	b, _ := json.Marshal(links)
	return string(b)
}

// major is an amount of minor units in whole units of cur, for a chart.
func major(n int64, cur string) float64 {
	return float64(n) / math.Pow10(keel.MinorUnits(cur))
}

// movementColors are the bridge's colours: growth green, loss red.
var movementColors = map[keel.Movement]string{
	keel.MoveNew: "#2e9e6b", keel.MoveExpansion: "#7cc49f", keel.MoveReactivation: "#1f8a99",
	keel.MoveContraction: "#e8a33c", keel.MoveChurn: "#c0392b",
}

// bridgeChart is the MRR bridge: each month's five movements stacked,
// contraction and churn below zero, and net new MRR as a line.
func bridgeChart(l lang, cur string, totals []keel.MonthTotal) chart {
	months := make([]string, len(totals))
	for i, t := range totals {
		months[i] = t.Month.String()
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(chartOptions(opts.Grid{Left: "64", Right: "16", Top: "48", Bottom: "40"},
		charts.WithYAxisOpts(opts.YAxis{Name: cur}))...)
	bar.SetXAxis(months)
	var links [][]string
	for _, mv := range keel.Movements {
		data := make([]opts.BarData, len(totals))
		ls := make([]string, len(totals))
		for i, t := range totals {
			v := major(t.Of(mv).Round(), cur)
			if mv == keel.MoveContraction || mv == keel.MoveChurn {
				v = -v
			}
			data[i] = opts.BarData{Value: v}
			ls[i] = revenueLink("/revenue/customers", cur, t.Month, "kind", string(mv))
		}
		bar.AddSeries(movementLabel(l, mv), data, charts.WithBarChartOpts(opts.BarChart{Stack: "movements"}),
			charts.WithItemStyleOpts(opts.ItemStyle{Color: movementColors[mv]}))
		links = append(links, ls)
	}
	line := charts.NewLine()
	line.SetGlobalOptions(charts.WithAnimation(false))
	line.SetXAxis(months)
	net := make([]opts.LineData, len(totals))
	ls := make([]string, len(totals))
	for i, t := range totals {
		net[i] = opts.LineData{Value: major(t.NetNew().Round(), cur)}
		ls[i] = revenueLink("/revenue/customers", cur, t.Month, "kind", kindMoved)
	}
	line.AddSeries(l.T("Net new MRR"), net, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#1c2430"}))
	links = append(links, ls)
	bar.Overlap(line)
	bar.Validate()
	return chart{Option: string(bar.JSONNotEscaped()), Links: linksJSON(links)}
}

// trendChart is MRR month by month, each point leading to the month's
// paying customers.
func trendChart(l lang, cur string, totals []keel.MonthTotal) chart {
	months := make([]string, len(totals))
	data := make([]opts.LineData, len(totals))
	ls := make([]string, len(totals))
	for i, t := range totals {
		months[i] = t.Month.String()
		data[i] = opts.LineData{Value: major(t.MRR.Round(), cur)}
		ls[i] = revenueLink("/revenue/customers", cur, t.Month, "kind", kindPaying)
	}
	line := charts.NewLine()
	line.SetGlobalOptions(chartOptions(opts.Grid{Left: "72", Right: "16", Top: "48", Bottom: "40"},
		charts.WithYAxisOpts(opts.YAxis{Name: cur}))...)
	line.SetXAxis(months)
	line.AddSeries(l.T("MRR"), data, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#1f5fbf"}),
		charts.WithAreaStyleOpts(opts.AreaStyle{Opacity: opts.Float(0.15)}))
	line.Validate()
	return chart{Option: string(line.JSONNotEscaped()), Links: linksJSON([][]string{ls})}
}

// cohortChart is a cohort heatmap: a row per cohort (the month of first
// payment), a column per month since, each cell the share still there —
// of the cohort's MRR (byMRR) or of its customers — in percent.
func cohortChart(l lang, cur string, cohorts []keel.Cohort, width int, byMRR bool) chart {
	xs := make([]string, width)
	for k := range xs {
		xs[k] = l.T("M%d", k)
	}
	ys := make([]string, len(cohorts))
	var data []opts.HeatMapData
	var ls []string
	for i, c := range cohorts {
		ys[i] = c.Cohort.String()
		for k := 0; k < width && k < len(c.Cells); k++ {
			r := c.CustomerRetention(k)
			if byMRR {
				r = c.MRRRetention(k)
			}
			if r == nil {
				continue
			}
			data = append(data, opts.HeatMapData{Value: [3]any{k, i, math.Round(*r*1000) / 10}})
			ls = append(ls, revenueLink("/revenue/customers", cur, c.Cells[k].Month, "kind", kindPaying, "cohort", c.Cohort.String()))
		}
	}
	name := l.T("Customers still paying (%)")
	if byMRR {
		name = l.T("MRR retained (%)")
	}
	hm := charts.NewHeatMap()
	hm.SetGlobalOptions(
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true)}),
		charts.WithGridOpts(opts.Grid{Left: "72", Right: "16", Top: "16", Bottom: "72"}),
		charts.WithAnimation(false),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Data: xs}),
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: ys, Inverse: opts.Bool(true)}),
		charts.WithVisualMapOpts(opts.VisualMap{Min: 0, Max: 100, Calculable: opts.Bool(false), Orient: "horizontal", Left: "center", Bottom: "0",
			InRange: &opts.VisualMapInRange{Color: []string{"#fbe9e7", "#7cc49f", "#1d6b47"}}}),
	)
	hm.SetXAxis(xs)
	hm.AddSeries(name, data, charts.WithLabelOpts(opts.Label{Show: opts.Bool(true), Formatter: "{@[2]}"}))
	hm.Validate()
	return chart{Option: string(hm.JSONNotEscaped()), Links: linksJSON([][]string{ls})}
}

// customerMRRChart is one customer's MRR month by month in one currency,
// each bar leading to what changed it that month (the customer page's
// movements table).
func customerMRRChart(l lang, cur string, rows []keel.CustomerMonth) chart {
	months := make([]string, len(rows))
	data := make([]opts.BarData, len(rows))
	ls := make([]string, len(rows))
	for i, r := range rows {
		months[i] = r.Month.String()
		data[i] = opts.BarData{Value: major(r.MRR.Round(), cur)}
		ls[i] = "#revenue-" + cur + "-" + r.Month.String()
		if r.Movement == keel.MoveNone {
			ls[i] = ""
		}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(chartOptions(opts.Grid{Left: "72", Right: "16", Top: "48", Bottom: "40"},
		charts.WithYAxisOpts(opts.YAxis{Name: cur}))...)
	bar.SetXAxis(months)
	bar.AddSeries(l.T("MRR (%s)", cur), data, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#1f5fbf"}))
	bar.Validate()
	return chart{Option: string(bar.JSONNotEscaped()), Links: linksJSON([][]string{ls})}
}

// pctOf writes a ratio as a percentage with one decimal, "n/a" for nil.
func pctOf(l lang, r keel.Ratio) string {
	if r == nil {
		return l.T("n/a")
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
}

// timesOf writes a ratio as a multiple ("3.2×"), "n/a" for nil.
func timesOf(l lang, r keel.Ratio) string {
	if r == nil {
		return l.T("n/a")
	}
	return fmt.Sprintf("%.1f×", *r)
}
