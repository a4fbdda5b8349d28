package console

import (
	"net/url"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The health charts: each point leads to the customers behind it (the
// /health list of its band, of its CSM), as the tables beside them do.

// bandColors are the bands' colours, as the badges show them.
var bandColors = map[keel.Band]string{keel.BandRed: "#c0392b", keel.BandYellow: "#e8a33c", keel.BandGreen: "#2e9e6b"}

// healthLink is the /health list of a band (and an owner, when not 0).
func healthLink(band keel.Band, owner int64) string {
	q := url.Values{}
	if band != "" {
		q.Set("band", string(band))
	}
	if owner != 0 {
		q.Set("owner", strconv.FormatInt(owner, 10))
	}
	return "/health?" + q.Encode() + "#customers"
}

// bandCountChart is how many customers each band holds.
func bandCountChart(l lang, counts map[keel.Band]int) chart {
	names := make([]string, len(keel.Bands))
	data := make([]opts.BarData, len(keel.Bands))
	links := make([]string, len(keel.Bands))
	for i, b := range keel.Bands {
		names[i] = bandLabel(l, b)
		data[i] = opts.BarData{Value: counts[b], ItemStyle: &opts.ItemStyle{Color: bandColors[b]}}
		links[i] = healthLink(b, 0)
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(chartOptions(opts.Grid{Left: "48", Right: "16", Top: "40", Bottom: "32"})...)
	bar.SetXAxis(names)
	bar.AddSeries(l.T("Customers"), data)
	bar.Validate()
	return chart{Option: string(bar.JSONNotEscaped()), Links: linksJSON([][]string{links})}
}

// csmBand is one CSM's customers by band.
type csmBand struct {
	ID     int64 // 0 = no CSM
	Name   string
	Counts map[keel.Band]int
}

// csmBandChart stacks each CSM's customers by band.
func csmBandChart(l lang, rows []csmBand) chart {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(chartOptions(opts.Grid{Left: "48", Right: "16", Top: "40", Bottom: "56"})...)
	bar.SetXAxis(names)
	var links [][]string
	for _, b := range keel.Bands {
		data := make([]opts.BarData, len(rows))
		ls := make([]string, len(rows))
		for i, r := range rows {
			data[i] = opts.BarData{Value: r.Counts[b]}
			ls[i] = healthLink(b, r.ID)
		}
		bar.AddSeries(bandLabel(l, b), data, charts.WithBarChartOpts(opts.BarChart{Stack: "bands"}),
			charts.WithItemStyleOpts(opts.ItemStyle{Color: bandColors[b]}))
		links = append(links, ls)
	}
	bar.Validate()
	return chart{Option: string(bar.JSONNotEscaped()), Links: linksJSON(links)}
}

// mrrBandChart is the MRR of each band's customers in one currency.
func mrrBandChart(l lang, cur string, mrr map[keel.Band]int64) chart {
	names := make([]string, len(keel.Bands))
	data := make([]opts.BarData, len(keel.Bands))
	links := make([]string, len(keel.Bands))
	for i, b := range keel.Bands {
		names[i] = bandLabel(l, b)
		data[i] = opts.BarData{Value: major(mrr[b], cur), ItemStyle: &opts.ItemStyle{Color: bandColors[b]}}
		links[i] = healthLink(b, 0)
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(chartOptions(opts.Grid{Left: "72", Right: "16", Top: "48", Bottom: "32"},
		charts.WithYAxisOpts(opts.YAxis{Name: cur}))...)
	bar.SetXAxis(names)
	bar.AddSeries(l.T("MRR (%s)", cur), data)
	bar.Validate()
	return chart{Option: string(bar.JSONNotEscaped()), Links: linksJSON([][]string{links})}
}

// scoreChart is a customer's score day by day, the line coloured by the
// band each day falls in.
func scoreChart(l lang, days []warehouse.HealthRow, s keel.HealthSettings) chart {
	xs := make([]string, len(days))
	data := make([]opts.LineData, len(days))
	for i, d := range days {
		xs[i] = day(d.Day)
		data[i] = opts.LineData{Value: d.Score}
	}
	line := charts.NewLine()
	line.SetGlobalOptions(chartOptions(opts.Grid{Left: "40", Right: "16", Top: "40", Bottom: "56"},
		charts.WithYAxisOpts(opts.YAxis{Min: 0, Max: 100}),
		charts.WithVisualMapOpts(opts.VisualMap{Type: "piecewise", Orient: "horizontal", Left: "center", Bottom: "0", Pieces: []opts.Piece{
			{Lte: float32(s.RedMax), Color: bandColors[keel.BandRed]},
			{Gt: float32(s.RedMax), Lte: float32(s.YellowMax), Color: bandColors[keel.BandYellow]},
			{Gt: float32(s.YellowMax), Color: bandColors[keel.BandGreen]},
		}}))...)
	line.SetXAxis(xs)
	line.AddSeries(l.T("Health score"), data)
	line.Validate()
	return chart{Option: string(line.JSONNotEscaped()), Links: linksJSON([][]string{make([]string, len(days))})}
}
