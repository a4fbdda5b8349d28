package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The health overview (/health): the latest day's scores — customers by
// band, this week's biggest drops and what drove them, bands by CSM, MRR
// by band — and the customers themselves, the lowest score first, by
// band and owner. Scores come from the warehouse's daily snapshots, names
// and owners from Postgres (as stored: the page derives no status, which
// at 10,000 customers was most of its time).

// healthDrops is how many of the week's biggest drops are shown.
const healthDrops = 10

type healthBandCard struct {
	Band         keel.Band
	Label, Share string
	Count        int
	Link         string
}

type healthCSMRow struct {
	Name, Link         string
	Red, Yellow, Green int
	Total              int
}

type healthMRRRow struct {
	Currency           string
	Red, Yellow, Green string
}

type healthDropRow struct {
	ID                int64
	Name              string
	Now, Then, Change int
	Band              keel.Band
	BandLabel, Movers string
}

type healthListRow struct {
	ID                 int64
	Name               string
	Score              int
	Band               keel.Band
	BandLabel          string
	MRR, Currency, CSM string
	NoData             string
}

type healthPageData struct {
	Day, WeekAgo                 string
	ScoreHour, RedMax, YellowMax int
	Total                        int
	Bands                        []healthBandCard
	BandChart                    chart
	CSMs                         []healthCSMRow
	CSMChart                     chart
	MRRCurrency                  string
	MRRChart                     chart
	MRR                          []healthMRRRow
	Drops                        []healthDropRow
	Rows                         []healthListRow
	BandOptions                  []option
	Owners                       []option
	Pager                        pager
	Filtered                     bool
}

// handleHealthPage is GET /health?band=&owner=&page=.
func (s *server) handleHealthPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		ctx := r.Context()
		l := s.langOf(r)
		q := r.URL.Query()
		band, err := queryEnum(q, "band", keel.Bands)
		if err != nil {
			return err
		}
		owner, err := queryID(q, "owner")
		if err != nil {
			return err
		}
		p, err := pageOf(r)
		if err != nil {
			return err
		}
		settings, err := s.healthRecords.HealthSettings(ctx)
		if err != nil {
			return err
		}
		stamp, err := s.Health.HealthStamp(ctx)
		if err != nil {
			return err
		}
		last := stamp.Last
		var (
			refs      []keel.CustomerOwner
			emps      []keel.Employee
			now, then []warehouse.HealthBrief
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) { refs, err = s.Names.CustomerOwners(gctx, nil); return err })
		g.Go(func() (err error) { emps, err = s.employees.Employees(gctx); return err })
		if !last.IsZero() {
			// Kept until the next scoring (briefCache).
			g.Go(func() (err error) { now, err = s.briefs.get(gctx, s.Health, stamp, last); return err })
			g.Go(func() (err error) {
				then, err = s.briefs.get(gctx, s.Health, stamp, last.AddDate(0, 0, -7))
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		byID := map[int64]keel.CustomerOwner{}
		for _, c := range refs {
			byID[c.ID] = c
		}
		names := employeeNames(emps)
		d := healthPageData{ScoreHour: settings.ScoreHour, RedMax: settings.RedMax, YellowMax: settings.YellowMax, Filtered: band != "" || owner != 0}
		d.BandOptions = append([]option{{Value: "", Label: l.T("Any band")}}, options(l, keel.Bands, bandLabel, string(band))...)
		d.Owners = append([]option{{Value: "", Label: l.T("Any owner")}}, ownerOptions(emps, owner)...)
		if last.IsZero() {
			s.render(w, r, http.StatusOK, "health", page{Title: l.T("Health"), Nav: "health", Data: d})
			return nil
		}
		d.Day, d.WeekAgo, d.Total = day(last), day(last.AddDate(0, 0, -7)), len(now)

		// Customers by band, by CSM, and their MRR by band.
		counts := map[keel.Band]int{}
		mrr := map[string]map[keel.Band]int64{}
		var currencies []string
		csms := map[int64]*csmBand{}
		for _, b := range now {
			counts[b.Band]++
			if b.Currency != "" {
				if mrr[b.Currency] == nil {
					mrr[b.Currency] = map[keel.Band]int64{}
					currencies = append(currencies, b.Currency)
				}
				mrr[b.Currency][b.Band] += b.MRR
			}
			csm := byID[b.CustomerID].CSMOwner
			if csms[csm] == nil {
				name := names.of(csm)
				if csm == 0 {
					name = l.T("No CSM")
				}
				csms[csm] = &csmBand{ID: csm, Name: name, Counts: map[keel.Band]int{}}
			}
			csms[csm].Counts[b.Band]++
		}
		for _, b := range keel.Bands {
			share := "0%"
			if len(now) > 0 {
				share = pctOf(l, ratio(float64(counts[b])/float64(len(now))))
			}
			d.Bands = append(d.Bands, healthBandCard{Band: b, Label: bandLabel(l, b), Count: counts[b], Share: share, Link: healthLink(b, 0)})
		}
		d.BandChart = bandCountChart(l, counts)
		var byCSM []csmBand
		for _, c := range csms {
			byCSM = append(byCSM, *c)
		}
		// The CSMs with the most red first, then by name; no CSM last.
		slices.SortFunc(byCSM, func(a, b csmBand) int {
			switch {
			case (a.ID == 0) != (b.ID == 0):
				if a.ID == 0 {
					return 1
				}
				return -1
			case a.Counts[keel.BandRed] != b.Counts[keel.BandRed]:
				return b.Counts[keel.BandRed] - a.Counts[keel.BandRed]
			}
			return strings.Compare(a.Name, b.Name)
		})
		for _, c := range byCSM {
			d.CSMs = append(d.CSMs, healthCSMRow{Name: c.Name, Link: healthLink("", c.ID), Red: c.Counts[keel.BandRed], Yellow: c.Counts[keel.BandYellow],
				Green: c.Counts[keel.BandGreen], Total: c.Counts[keel.BandRed] + c.Counts[keel.BandYellow] + c.Counts[keel.BandGreen]})
		}
		d.CSMChart = csmBandChart(l, byCSM)
		// The currency with the most MRR is charted; every one is in the table.
		slices.SortFunc(currencies, func(a, b string) int {
			ta, tb := mrr[a][keel.BandRed]+mrr[a][keel.BandYellow]+mrr[a][keel.BandGreen], mrr[b][keel.BandRed]+mrr[b][keel.BandYellow]+mrr[b][keel.BandGreen]
			if ta != tb {
				if ta > tb {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		for _, cur := range currencies {
			m := mrr[cur]
			d.MRR = append(d.MRR, healthMRRRow{Currency: cur, Red: keel.FormatAmount(m[keel.BandRed], cur),
				Yellow: keel.FormatAmount(m[keel.BandYellow], cur), Green: keel.FormatAmount(m[keel.BandGreen], cur)})
		}
		if len(currencies) > 0 {
			d.MRRCurrency = currencies[0]
			d.MRRChart = mrrBandChart(l, currencies[0], mrr[currencies[0]])
		}

		if d.Drops, err = s.healthDrops(r, l, last, now, then, byID); err != nil {
			return err
		}

		// The customers, the lowest score first, paying ones before those
		// scored without MRR (warehouse.HealthList).
		f := warehouse.HealthListFilter{Day: last, Band: band, Limit: p.Limit, Offset: p.Offset}
		if owner != 0 {
			f.Customers = []uint64{}
			for _, c := range refs {
				if c.OwnedBy(owner) {
					f.Customers = append(f.Customers, uint64(c.ID))
				}
			}
		}
		rows, total, err := s.Health.HealthList(ctx, f)
		if err != nil {
			return err
		}
		d.Pager = pagerOf(r, p, total)
		for _, x := range rows {
			var nd []string
			for _, c := range x.Components {
				if c.NoData {
					nd = append(nd, componentLabel(l, c.Component))
				}
			}
			c := byID[x.CustomerID]
			d.Rows = append(d.Rows, healthListRow{ID: x.CustomerID, Name: c.Name, Score: x.Score, Band: x.Band, BandLabel: bandLabel(l, x.Band),
				MRR: keel.FormatAmount(x.MRR, x.Currency), Currency: x.Currency, CSM: names.of(c.CSMOwner), NoData: strings.Join(nd, ", ")})
		}
		s.render(w, r, http.StatusOK, "health", page{Title: l.T("Health"), Nav: "health", Data: d})
		return nil
	})
}

// ratio makes a keel.Ratio of f.
func ratio(f float64) keel.Ratio { return &f }

// healthDrops are the customers whose score fell most from a week before
// last to last, with the components that moved it most.
func (s *server) healthDrops(r *http.Request, l lang, last time.Time, now, then []warehouse.HealthBrief, refs map[int64]keel.CustomerOwner) ([]healthDropRow, error) {
	before := map[int64]int{}
	for _, b := range then {
		before[b.CustomerID] = b.Score
	}
	var out []healthDropRow
	for _, b := range now {
		if t, ok := before[b.CustomerID]; ok && t > b.Score {
			out = append(out, healthDropRow{ID: b.CustomerID, Name: refs[b.CustomerID].Name, Now: b.Score, Then: t, Change: b.Score - t,
				Band: b.Band, BandLabel: bandLabel(l, b.Band)})
		}
	}
	slices.SortFunc(out, func(a, b healthDropRow) int {
		if a.Change != b.Change {
			return a.Change - b.Change
		}
		return int(a.ID - b.ID)
	})
	out = out[:min(len(out), healthDrops)]
	if len(out) == 0 {
		return nil, nil
	}
	ids := make([]uint64, len(out))
	for i, x := range out {
		ids[i] = uint64(x.ID)
	}
	weekAgo := last.AddDate(0, 0, -7)
	scores := map[int64]map[time.Time]keel.HealthScore{}
	if err := s.Health.Health(r.Context(), warehouse.HealthFilter{From: weekAgo, To: last, Customers: ids}, func(x warehouse.HealthRow) error {
		if x.Day.Equal(last) || x.Day.Equal(weekAgo) {
			if scores[x.CustomerID] == nil {
				scores[x.CustomerID] = map[time.Time]keel.HealthScore{}
			}
			scores[x.CustomerID][x.Day] = x.HealthScore
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for i, x := range out {
		var parts []string
		for _, m := range keel.Movers(scores[x.ID][last], scores[x.ID][weekAgo]) {
			if len(parts) == 3 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s %+.1f", componentLabel(l, m.Component), m.Points))
		}
		out[i].Movers = strings.Join(parts, " · ")
	}
	return out, nil
}
