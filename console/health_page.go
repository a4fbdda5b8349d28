package console

import (
	"cmp"
	"context"
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

// healthDropRows is how many of the week's biggest drops are shown.
const healthDropRows = 10

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
			owners []keel.CustomerOwner // every customer's, without names
			emps   []keel.Employee
			now    []warehouse.HealthBrief
			drops  []healthDrop
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) { owners, err = s.Names.CustomerOwnerIDs(gctx); return err })
		g.Go(func() (err error) { emps, err = s.employees.Employees(gctx); return err })
		if !last.IsZero() {
			// Kept until the next scoring (stampCache).
			g.Go(func() (err error) { now, err = s.healthBriefs(gctx, stamp, last); return err })
			g.Go(func() (err error) { drops, err = s.healthDrops(gctx, stamp); return err })
		}
		if err := g.Wait(); err != nil {
			return err
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
		// Both are by customer id: each brief's CSM is found walking the
		// owners alongside, with no map of 10,000 customers built per view.
		// The same walk picks the owner's customers, when the list is of
		// an owner's (below).
		var mine []warehouse.HealthBrief
		o := 0
		for _, b := range now {
			for o < len(owners) && owners[o].ID < b.CustomerID {
				o++
			}
			var csm int64
			if o < len(owners) && owners[o].ID == b.CustomerID {
				csm = owners[o].CSMOwner
				if owner != 0 && owners[o].OwnedBy(owner) && (band == "" || b.Band == band) {
					mine = append(mine, b)
				}
			}
			counts[b.Band]++
			if b.Currency != "" {
				if mrr[b.Currency] == nil {
					mrr[b.Currency] = map[keel.Band]int64{}
					currencies = append(currencies, b.Currency)
				}
				mrr[b.Currency][b.Band] += b.MRR
			}
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

		// The customers, the lowest score first, paying ones before those
		// scored without MRR (warehouse.HealthList).
		// An owner's customers (half of 10,000 for a CSM) are picked and
		// ordered from the day's briefs in memory, as HealthList orders
		// them, and only the page's are read whole: sent to ClickHouse as a
		// list of ids they cost ~0.1 s a view.
		f := warehouse.HealthListFilter{Day: last, Band: band, Limit: p.Limit, Offset: p.Offset}
		var total int
		if owner != 0 {
			unpaid := func(b warehouse.HealthBrief) int { // the query's "mrr = 0": paying first
				if b.MRR == 0 {
					return 1
				}
				return 0
			}
			slices.SortFunc(mine, func(a, b warehouse.HealthBrief) int {
				return cmp.Or(cmp.Compare(unpaid(a), unpaid(b)), cmp.Compare(a.Score, b.Score), cmp.Compare(a.CustomerID, b.CustomerID))
			})
			total = len(mine)
			f = warehouse.HealthListFilter{Day: last, Customers: []uint64{}, Limit: p.Limit}
			for _, b := range mine[min(p.Offset, total):min(p.Offset+p.Limit, total)] {
				f.Customers = append(f.Customers, uint64(b.CustomerID))
			}
		}
		rows, n, err := s.Health.HealthList(ctx, f)
		if err != nil {
			return err
		}
		if owner == 0 {
			total = n
		}
		// Names of the customers shown only.
		var shown []int64
		for _, x := range drops {
			shown = append(shown, x.ID)
		}
		for _, x := range rows {
			shown = append(shown, x.CustomerID)
		}
		named, err := s.customerOwnersOf(r, shown)
		if err != nil {
			return err
		}
		for _, x := range drops {
			var parts []string
			for _, m := range x.Movers {
				if len(parts) == 3 {
					break
				}
				parts = append(parts, fmt.Sprintf("%s %+.1f", componentLabel(l, m.Component), m.Points))
			}
			d.Drops = append(d.Drops, healthDropRow{ID: x.ID, Name: named[x.ID].Name, Now: x.Now, Then: x.Then, Change: x.Now - x.Then,
				Band: x.Band, BandLabel: bandLabel(l, x.Band), Movers: strings.Join(parts, " · ")})
		}
		d.Pager = pagerOf(r, p, total)
		for _, x := range rows {
			var nd []string
			for _, c := range x.Components {
				if c.NoData {
					nd = append(nd, componentLabel(l, c.Component))
				}
			}
			c := named[x.CustomerID]
			d.Rows = append(d.Rows, healthListRow{ID: x.CustomerID, Name: c.Name, Score: x.Score, Band: x.Band, BandLabel: bandLabel(l, x.Band),
				MRR: keel.FormatAmount(x.MRR, x.Currency), Currency: x.Currency, CSM: names.of(c.CSMOwner), NoData: strings.Join(nd, ", ")})
		}
		s.render(w, r, http.StatusOK, "health", page{Title: l.T("Health"), Nav: "health", Data: d})
		return nil
	})
}

// ratio makes a keel.Ratio of f.
func ratio(f float64) keel.Ratio { return &f }

// healthDrop is one of the week's biggest drops, before names and labels.
type healthDrop struct {
	ID        int64
	Now, Then int
	Band      keel.Band
	Movers    []keel.Mover // the components that moved the score most, first
}

// healthDrops are the customers whose score fell most from a week before
// the last day scored to it, with the components that moved it most; kept
// until the next scoring (stampCache).
func (s *server) healthDrops(ctx context.Context, stamp warehouse.HealthStamp) ([]healthDrop, error) {
	return s.drops.get(ctx, stamp, "drops", func(ctx context.Context) ([]healthDrop, error) {
		last, weekAgo := stamp.Last, stamp.Last.AddDate(0, 0, -7)
		now, err := s.healthBriefs(ctx, stamp, last)
		if err != nil {
			return nil, err
		}
		then, err := s.healthBriefs(ctx, stamp, weekAgo)
		if err != nil {
			return nil, err
		}
		before := make(map[int64]int, len(then))
		for _, b := range then {
			before[b.CustomerID] = b.Score
		}
		out := []healthDrop{}
		for _, b := range now {
			if t, ok := before[b.CustomerID]; ok && t > b.Score {
				out = append(out, healthDrop{ID: b.CustomerID, Now: b.Score, Then: t, Band: b.Band})
			}
		}
		slices.SortFunc(out, func(a, b healthDrop) int {
			if ca, cb := a.Now-a.Then, b.Now-b.Then; ca != cb {
				return ca - cb
			}
			return cmp.Compare(a.ID, b.ID)
		})
		out = out[:min(len(out), healthDropRows)]
		if len(out) == 0 {
			return out, nil
		}
		ids := make([]uint64, len(out))
		for i, x := range out {
			ids[i] = uint64(x.ID)
		}
		scores := map[int64]map[time.Time]keel.HealthScore{}
		if err := s.Health.Health(ctx, warehouse.HealthFilter{From: weekAgo, To: last, Customers: ids}, func(x warehouse.HealthRow) error {
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
			out[i].Movers = keel.Movers(scores[x.ID][last], scores[x.ID][weekAgo])
		}
		return out, nil
	})
}
