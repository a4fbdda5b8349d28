package demo

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/keelhq/keel"
)

// A tenant's life: its story (Profile) decides the orders the sales plan
// writes and, from the service those orders grant, the days the product
// sees the tenant at all, its seats, and how much its people use it. Sales
// and Day both read it, so a customer that churns stopped using the
// product first, a customer that buys seats has more users, and nobody
// logs in before their first trial or after their service ended.

// HistoryMonths is how far back the sales history reaches: the first
// customers bought this many months before today.
const HistoryMonths = 38

// WindowDays is the events' window the stories are placed for: churns
// that the health backtest can see happen in it, with the decline before
// them. Config.Days defaults to it.
const WindowDays = 365

// life is what happens to one tenant over the demo's history.
type life struct {
	orders []OrderPlan
	terms  []term      // service granted by orders that stay approved
	curves []curve     // usage changes: declines, dips, adoption
	churns []time.Time // days paid service ended without renewal
	// use is the share of seats that have a real user (some customers buy
	// more than they use).
	use float64
}

// term is service one order line grants, as the product sees it.
type term struct {
	from, to time.Time
	product  string
	seats    int64 // seats it adds: an edition's or the seat add-on's quantity
	edition  bool  // the tenant is in service while an edition term runs
	trial    bool
}

// curve is a piecewise-linear factor on a tenant's usage: 1 before its
// first point, its last point's value after the last.
type curve []point

type point struct {
	at time.Time
	v  float64
}

func (c curve) at(d time.Time) float64 {
	if len(c) == 0 || d.Before(c[0].at) {
		return 1
	}
	for i := 1; i < len(c); i++ {
		if d.Before(c[i].at) {
			a, b := c[i-1], c[i]
			f := d.Sub(a.at).Hours() / b.at.Sub(a.at).Hours()
			return a.v + (b.v-a.v)*f
		}
	}
	return c[len(c)-1].v
}

// inService reports whether an edition term (trial or paid) covers day d,
// and whether it is a trial.
func (l *life) inService(d time.Time) (in, trial bool) {
	for _, t := range l.terms {
		if t.edition && !d.Before(t.from) && d.Before(t.to) {
			if !t.trial {
				return true, false
			}
			in, trial = true, true
		}
	}
	return in, trial
}

// seatsOn is the seats in service on day d: paid ones, else a trial's.
func (l *life) seatsOn(d time.Time) int64 {
	var paid, trial int64
	for _, t := range l.terms {
		if d.Before(t.from) || !d.Before(t.to) {
			continue
		}
		if t.trial {
			trial += t.seats
		} else {
			paid += t.seats
		}
	}
	if paid > 0 {
		return paid
	}
	return trial
}

// level is the share of the tenant's usual use on day d.
func (l *life) level(d time.Time) float64 {
	v := 1.0
	for _, c := range l.curves {
		v *= c.at(d)
	}
	return v
}

// planner writes one tenant's orders in the order they happened, keeping
// what the domain's rules need to accept each: the edition in service and
// its term's end, the add-ons that run with it.
type planner struct {
	rng     *rand.Rand
	today   time.Time
	l       *life
	edition string
	seats   int64 // the edition's
	months  int   // the edition's term: 1 (monthly plan), 12 or 24
	start   time.Time
	end     time.Time        // the current term's end (exclusive)
	addons  map[string]int64 // term add-ons running with the edition, by code: quantity
	support bool             // premium support runs with the edition's terms
	edTerm  int              // the edition's current entry in l.terms, which an upgrade cuts short

	// The customer's leanings.
	downOK  bool    // may move to a lower edition once, at a renewal
	upgrade float64 // chance of an upgrade in a term
	addonP  float64 // chance of each add-on in a term
	growth  float64 // seats added at a renewal, as a share
	shrinkP float64 // chance of fewer seats at a renewal
}

var lower = map[string]string{"pro": "basic", "enterprise": "pro"}
var higher = map[string]string{"basic": "pro", "pro": "enterprise"}

// startDay moves t to a day of the month that every month has, so that
// terms of whole months end on the same day of the month and a renewal
// starts exactly where the term before ended.
func startDay(t time.Time) time.Time {
	t = keel.Date(t)
	if t.Day() > 28 {
		t = t.AddDate(0, 0, 28-t.Day())
	}
	return t
}

func (p *planner) add(o OrderPlan) { p.l.orders = append(p.l.orders, o) }

func (p *planner) addTerm(t term) int {
	p.l.terms = append(p.l.terms, t)
	return len(p.l.terms) - 1
}

// paidOn is the day an order due on d was paid: a few days before it, or
// a few after (still inside the renewal grace), never after today.
func (p *planner) paidOn(d time.Time, early, late int) time.Time {
	at := d.AddDate(0, 0, -p.rng.IntN(early+1))
	if late > 0 && p.rng.Float64() < 0.2 {
		at = d.AddDate(0, 0, 1+p.rng.IntN(late))
	}
	if at.After(p.today) {
		at = p.today
	}
	return at
}

// trial plans a one-month trial ending on the day the first purchase
// starts.
func (p *planner) trial(edition string, startsOn time.Time, seats int64) {
	from := keel.AddMonths(startsOn, -1)
	p.add(OrderPlan{Kind: keel.OrderTrial, Outcome: OutcomeApprove, Lines: []LinePlan{{edition, min(seats, 10), 1, from}}})
	p.addTerm(term{from: from, to: startsOn, product: edition, seats: min(seats, 10), edition: true, trial: true})
}

// buy plans a first purchase (or a return after a lapse) on day s.
func (p *planner) buy(s time.Time, first bool) {
	p.start, p.end = s, keel.AddMonths(s, p.months)
	lines := []LinePlan{{p.edition, p.seats, p.months, s}}
	if first && p.months > 1 && p.rng.Float64() < 0.25 {
		lines = append(lines, LinePlan{"onboarding", 1, 1, s})
	}
	p.add(OrderPlan{Kind: keel.OrderNew, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: p.paidOn(s, 3, 0), Lines: lines})
	p.edTerm = p.addTerm(term{from: s, to: p.end, product: p.edition, seats: p.seats, edition: true})
	p.addons = map[string]int64{}
	p.support = false
	// New users find their way in over the first weeks.
	p.l.curves = append(p.l.curves, curve{{s, 0.55}, {s.AddDate(0, 0, 45), 1}})
}

// midTerm plans what may happen inside an annual term before its end:
// an upgrade, then add-ons for the rest of the term.
func (p *planner) midTerm(leaveAt time.Time) {
	if p.months < 12 {
		return
	}
	// An upgrade switches editions for a new term; term add-ons would end
	// with the old one, so it happens while there are none.
	if next := higher[p.edition]; next != "" && len(p.addons) == 0 && p.rng.Float64() < p.upgrade {
		at := keel.AddMonths(p.end, -(3 + p.rng.IntN(6)))
		newEnd := keel.AddMonths(at, 12)
		if at.After(p.start) && !at.After(p.today) && (leaveAt.IsZero() || !newEnd.After(leaveAt)) {
			p.edition, p.months = next, 12
			p.add(OrderPlan{Kind: keel.OrderUpgrade, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: p.paidOn(at, 2, 0),
				Lines: []LinePlan{{p.edition, p.seats, 12, at}}})
			p.l.terms[p.edTerm].to = at
			p.edTerm = p.addTerm(term{from: at, to: newEnd, product: p.edition, seats: p.seats, edition: true})
			p.start, p.end = at, newEnd
			p.upgrade = 0 // once is enough
		}
	}
	for _, code := range []string{"seats", "storage", "sso"} {
		if _, on := p.addons[code]; on {
			continue
		}
		chance := p.addonP
		switch code {
		case "seats":
			chance *= 2
		case "sso":
			if p.edition == "basic" {
				continue
			}
		}
		if p.rng.Float64() >= chance {
			continue
		}
		k := 2 + p.rng.IntN(max(1, p.months-3))
		at := keel.AddMonths(p.end, -k)
		if !at.After(p.start) || at.After(p.today) {
			continue
		}
		qty := int64(1)
		switch code {
		case "seats":
			qty = max(1, p.seats/int64(4+p.rng.IntN(6)))
		case "storage":
			qty = 1 + int64(p.rng.IntN(4))
		}
		p.addons[code] = qty
		p.add(OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: p.paidOn(at, 2, 0),
			Lines: []LinePlan{{code, qty, k, at}}})
		if code == "seats" {
			p.addTerm(term{from: at, to: p.end, product: code, seats: qty})
		}
	}
	if p.rng.Float64() < p.addonP/3 {
		at := keel.AddMonths(p.end, -(1 + p.rng.IntN(p.months-1)))
		if at.After(p.start) && !at.After(p.today) {
			p.add(OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: p.paidOn(at, 0, 0),
				Lines: []LinePlan{{"training", 1 + int64(p.rng.IntN(3)), 1, at}}})
		}
	}
}

// renew plans what happens at the end of the current term, when the
// customer stays: a renewal (more or fewer seats, add-ons kept or
// dropped), or a move to a lower edition for a new term. It reports false
// when the end is too far ahead to have happened.
func (p *planner) renew(atRisk bool) bool {
	e := p.end
	if e.After(p.today) && (atRisk || keel.MonthOf(e) != keel.MonthOf(p.today)) {
		// Due next month: sales sent the renewal, finance has not
		// approved it (or, for a customer at risk, nobody has asked).
		// One due this month is paid already, as most are.
		if !atRisk && e.Sub(p.today) <= 30*24*time.Hour {
			p.add(OrderPlan{Kind: keel.OrderRenewal, Outcome: OutcomePending, SoldBy: 1,
				Lines: []LinePlan{{p.edition, p.seats, p.months, e}}})
		}
		return false
	}
	// Seats change at a renewal: an annual customer's count is set for a
	// year, a monthly one's moves less each month.
	seats := p.seats
	grow, shrink, bump := 0.8, p.shrinkP, 0.08
	if p.months == 1 {
		grow, shrink, bump = 0.2, p.shrinkP/12, 0.02
	}
	switch r := p.rng.Float64(); {
	case p.growth > 0 && r < grow:
		seats += max(1, int64(float64(seats)*p.growth*(0.5+p.rng.Float64())))
	case p.growth == 0 && r < shrink:
		seats = max(1, seats-max(1, int64(float64(seats)*(0.1+0.25*p.rng.Float64()))))
	case p.growth == 0 && r < shrink+bump:
		seats += max(1, seats/10)
	}
	if p.downOK && lower[p.edition] != "" && p.months >= 12 && p.rng.Float64() < 0.6 {
		// A cheaper edition from the day the old term ends: a new order,
		// as the old edition is simply not renewed.
		p.downOK = false
		p.edition, p.seats, p.months = lower[p.edition], seats, 12
		p.start, p.end = e, keel.AddMonths(e, 12)
		p.add(OrderPlan{Kind: keel.OrderNew, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: p.paidOn(e, 10, 0),
			Lines: []LinePlan{{p.edition, p.seats, 12, e}}})
		p.edTerm = p.addTerm(term{from: e, to: p.end, product: p.edition, seats: p.seats, edition: true})
		p.addons = map[string]int64{}
		p.support = false
		return true
	}
	p.seats = seats
	lines := []LinePlan{{p.edition, seats, p.months, e}}
	for _, code := range []string{"seats", "storage", "sso"} {
		qty, on := p.addons[code]
		if !on {
			continue
		}
		if code == "seats" || p.rng.Float64() < 0.15 {
			// Extra seats are folded into the edition's count at renewal;
			// an add-on nobody used is dropped.
			if code == "seats" {
				lines[0].Quantity += qty
				p.seats += qty
			}
			delete(p.addons, code)
			continue
		}
		lines = append(lines, LinePlan{code, qty, p.months, e})
	}
	if p.support {
		lines = append(lines, LinePlan{"support-plus", 1, p.months, e})
	}
	o := OrderPlan{Kind: keel.OrderRenewal, Outcome: OutcomeApprove, PaidPart: 1, SoldBy: 1, Lines: lines}
	if p.months == 1 {
		o.PaidAt = p.paidOn(e, 1, 0)
	} else {
		o.PaidAt = p.paidOn(e, 14, 20)
	}
	p.add(o)
	p.start, p.end = e, keel.AddMonths(e, p.months)
	p.edTerm = p.addTerm(term{from: e, to: p.end, product: p.edition, seats: p.seats, edition: true})
	if !p.support && p.edition == "enterprise" && p.rng.Float64() < 0.3 {
		// Premium support bought with the renewal, for the same term.
		p.support = true
		p.add(OrderPlan{Kind: keel.OrderAddon, Outcome: OutcomeApprove, PaidPart: 1, PaidAt: o.PaidAt,
			Lines: []LinePlan{{"support-plus", 1, p.months, e}}})
	}
	return true
}

// segment plans paid service from s: the purchase, then each term until
// the customer leaves at leaveAt (the end of a term; zero = it stays) or
// the term runs past today.
func (p *planner) segment(s time.Time, first bool, leaveAt time.Time, atRisk bool) {
	p.buy(s, first)
	for {
		p.midTerm(leaveAt)
		if !leaveAt.IsZero() && !p.end.Before(leaveAt) {
			if !p.end.After(p.today) {
				p.l.churns = append(p.l.churns, p.end)
			}
			return
		}
		if !p.renew(atRisk) {
			return
		}
	}
}

// termsBack is a first purchase a whole number of the planner's terms
// before end, no earlier than the start of the history; a two-year term
// that would start before it becomes a one-year one.
func (p *planner) termsBack(end time.Time) time.Time {
	earliest := keel.AddMonths(p.today, -HistoryMonths)
	if p.months > 12 && keel.AddMonths(end, -p.months).Before(earliest) {
		p.months = 12
	}
	if p.months == 1 {
		n := 3 + p.rng.IntN(18)
		for n > 1 && keel.AddMonths(end, -n).Before(earliest) {
			n--
		}
		return keel.AddMonths(end, -n)
	}
	n := 1
	for k := 2; k <= 4; k++ {
		if keel.AddMonths(end, -p.months*k).Before(earliest) {
			break
		}
		if p.rng.Float64() < 0.55 {
			n = k
		}
	}
	return keel.AddMonths(end, -p.months*n)
}

// joined is a first purchase drawn from the company's growth: few
// customers early on, more every month.
func (p *planner) joined(latest time.Time) time.Time {
	earliest := keel.AddMonths(p.today, -HistoryMonths)
	span := latest.Sub(earliest).Hours() / 24
	return startDay(earliest.AddDate(0, 0, int(span*math.Pow(p.rng.Float64(), 0.65))))
}

// planLife writes tenant t's life, a story of its profile.
func planLife(rng *rand.Rand, t *Tenant, today time.Time) *life {
	l := &life{use: 0.7 + 0.3*rng.Float64()}
	if t.Seats < 12 {
		l.use = 0.9 + 0.1*rng.Float64() // and has no seat to spare
	}
	p := &planner{rng: rng, today: today, l: l, seats: int64(t.Seats), months: 12,
		upgrade: 0.08, addonP: 0.08, shrinkP: 0.07}
	seats := int64(t.Seats)
	switch {
	case seats < 8:
		p.edition = pick(rng, []string{"basic", "basic", "basic", "pro"})
	case seats < 60:
		p.edition = pick(rng, []string{"basic", "pro", "pro", "pro", "enterprise"})
	default:
		p.edition = pick(rng, []string{"pro", "enterprise", "enterprise"})
	}
	if p.edition == "enterprise" && rng.Float64() < 0.3 {
		p.months = 24
	}
	monthly := func(share float64) {
		if p.edition != "enterprise" && seats < 20 && rng.Float64() < share {
			p.months = 1
		}
	}
	trialFirst := func(s time.Time) {
		if rng.Float64() < 0.7 && keel.AddMonths(s, -1).After(keel.AddMonths(today, -HistoryMonths-1)) {
			p.trial(p.edition, s, p.seats)
		}
	}

	switch t.Profile {
	case Trialing:
		from := today.AddDate(0, 0, -2-rng.IntN(24))
		p.add(OrderPlan{Kind: keel.OrderTrial, Outcome: OutcomeApprove, Lines: []LinePlan{{p.edition, min(seats, 10), 1, from}}})
		p.addTerm(term{from: from, to: keel.AddMonths(from, 1), product: p.edition, seats: min(seats, 10), edition: true, trial: true})
		l.curves = append(l.curves, curve{{from, 0.5}, {from.AddDate(0, 0, 10), 0.9}})
	case TrialOnly:
		from := startDay(today.AddDate(0, 0, -45-rng.IntN(600)))
		p.add(OrderPlan{Kind: keel.OrderTrial, Outcome: OutcomeApprove, Lines: []LinePlan{{p.edition, min(seats, 10), 1, from}}})
		p.addTerm(term{from: from, to: keel.AddMonths(from, 1), product: p.edition, seats: min(seats, 10), edition: true, trial: true})
		// Tried it, did not take to it.
		l.curves = append(l.curves, curve{{from, 0.6}, {keel.AddMonths(from, 1), 0.15}})

	case Steady, Growing, Dip:
		if t.Profile == Growing {
			p.seats = max(2, seats/2)
			p.growth, p.upgrade, p.addonP, p.shrinkP = 0.25, 0.6, 0.3, 0
		} else {
			monthly(0.25)
			p.downOK = rng.Float64() < 0.2
		}
		if t.Profile == Dip {
			p.shrinkP, p.downOK = 0.35, rng.Float64() < 0.6
		}
		s := p.joined(today.AddDate(0, 0, -5))
		trialFirst(s)
		p.segment(s, true, time.Time{}, false)
		if t.Profile == Dip {
			l.curves = append(l.curves, dipCurve(rng, today, s))
		}

	case Churned, Silent, Lapsed:
		var leave time.Time
		if t.Profile == Lapsed {
			earliest := keel.AddMonths(today, -HistoryMonths+13)
			latest := today.AddDate(0, 0, -WindowDays-20)
			leave = earliest.AddDate(0, 0, rng.IntN(int(latest.Sub(earliest).Hours()/24)))
		} else {
			leave = today.AddDate(0, 0, -3-rng.IntN(WindowDays-65))
		}
		leave = startDay(leave)
		// Month-to-month customers leave more easily.
		monthly(map[Profile]float64{Churned: 0.1, Silent: 0.3, Lapsed: 0.35}[t.Profile])
		if t.Profile == Lapsed {
			p.months = min(p.months, 12)
		}
		s := p.termsBack(leave)
		switch {
		case t.Profile == Silent:
			// A budget cut: nothing in the usage says it is coming.
		case p.months == 1:
			// A month-to-month customer leaves soon after it stops caring.
			l.curves = append(l.curves, declineCurve(rng, leave, "late"))
		default:
			l.curves = append(l.curves, declineCurve(rng, leave, ""))
		}
		trialFirst(s)
		p.segment(s, true, leave, true)

	case Returned:
		earliest := keel.AddMonths(today, -HistoryMonths+13)
		latest := today.AddDate(0, 0, -300)
		leave := startDay(earliest.AddDate(0, 0, rng.IntN(int(latest.Sub(earliest).Hours()/24))))
		monthly(0.3)
		s := p.termsBack(leave)
		trialFirst(s)
		l.curves = append(l.curves, declineCurve(rng, leave, ""))
		p.segment(s, true, leave, true)
		// It comes back after its service ended: at leave, or later when
		// an upgrade mid-term moved the term's end past it (a new order
		// before then would overlap the service still running, which the
		// product refuses).
		left := leave
		if p.end.After(left) {
			left = p.end
		}
		back := startDay(keel.AddMonths(left, 2+rng.IntN(6)).AddDate(0, 0, rng.IntN(20)))
		if back.After(today.AddDate(0, 0, -20)) {
			back = startDay(today.AddDate(0, 0, -20))
		}
		p.seats = max(1, seats*3/4)
		if back.After(left) {
			p.segment(back, false, time.Time{}, false)
		}

	case Seasonal:
		// A school: month to month, paused over each summer.
		p.months, p.edition = 1, "basic"
		if seats > 25 {
			p.seats = 25
		}
		s := time.Date(today.Year()-2, time.September, 1+rng.IntN(20), 0, 0, 0, 0, time.UTC)
		for y := 0; ; y++ {
			leave := keel.AddMonths(s, 9+rng.IntN(2)) // June or July
			if leave.After(today) {
				leave = time.Time{}
			} else {
				// The school year winds down before the pause.
				l.curves = append(l.curves, curve{{leave.AddDate(0, 0, -28), 1}, {leave.AddDate(0, 0, -3), 0.25}, {leave, 0.25}, {leave.AddDate(0, 0, 1), 1}})
			}
			p.segment(s, y == 0, leave, !leave.IsZero())
			if leave.IsZero() {
				break
			}
			s = time.Date(leave.Year(), time.September, 1+rng.IntN(20), 0, 0, 0, 0, time.UTC)
			if s.After(today) {
				break
			}
		}

	case Declining, Stopped:
		// Paying still, with the next renewal a few months off, and the
		// people gone or going: the warnings a CSM works today.
		p.months = 12
		renewal := startDay(today.AddDate(0, 0, 25+rng.IntN(120)))
		s := p.termsBack(renewal)
		trialFirst(s)
		if t.Profile == Stopped {
			stop := today.AddDate(0, 0, -t.StoppedDaysAgo)
			l.curves = append(l.curves, curve{{stop.AddDate(0, 0, -30), 1}, {stop, 0.3}, {stop.AddDate(0, 0, 1), 0}})
		} else {
			onset := today.AddDate(0, 0, -40-rng.IntN(90))
			l.curves = append(l.curves, curve{{onset, 1}, {onset.AddDate(0, 0, 30+rng.IntN(30)), 0.1 + 0.15*rng.Float64()}})
		}
		p.segment(s, true, renewal, true)
	}
	return l
}

// declineCurve is the usage of a customer that leaves on day leave. Most
// stop using the product months before the end of a term they cannot
// cancel: from 130 to 240 days before it, usage falls over weeks (or at
// once, when the champion leaves) to a few people, who stay to the end or
// stop too; one in nine (and every month-to-month customer) falls only in
// the last 35 to 90 days.
func declineCurve(rng *rand.Rand, leave time.Time, kind string) curve {
	d := func(n int) time.Time { return leave.AddDate(0, 0, -n) }
	floor := 0.05 + 0.15*rng.Float64()
	if kind == "" {
		kind = pick(rng, []string{"fade", "fade", "fade", "fade", "step", "step", "stop", "stop", "late"})
	}
	var c curve
	switch kind {
	case "fade":
		onset := 170 + rng.IntN(70)
		c = curve{{d(onset), 1}, {d(onset - 25 - rng.IntN(25)), floor}, {leave, floor * 0.7}}
	case "step":
		onset := 130 + rng.IntN(50)
		c = curve{{d(onset), 1}, {d(onset - 5), 0.3}, {d(100), floor}, {leave, floor}}
	case "stop":
		onset := 140 + rng.IntN(40)
		stop := 30 + rng.IntN(70)
		c = curve{{d(onset), 1}, {d(onset - 40), floor}, {d(stop), floor}, {d(stop - 1), 0}, {leave, 0}}
	default: // late
		onset := 35 + rng.IntN(56)
		c = curve{{d(onset), 1}, {d(onset / 3), floor}, {leave, floor}}
	}
	// A customer that comes back later starts afresh.
	return append(c, point{leave.AddDate(0, 0, 1), 1})
}

// dipCurve is a decline that recovers before today, somewhere in the
// events' window after the customer settled in: a busy season elsewhere,
// a reorganisation. It is nil when there is no room for one.
func dipCurve(rng *rand.Rand, today, started time.Time) curve {
	from := today.AddDate(0, 0, -WindowDays+30)
	if s := started.AddDate(0, 0, 60); s.After(from) {
		from = s
	}
	fall, hold, rise := 7+rng.IntN(21), 14+rng.IntN(35), 10+rng.IntN(25)
	depth := 0.3 + 0.35*rng.Float64()
	room := int(today.Sub(from).Hours()/24) - fall - hold - rise - 14
	if room < 1 {
		return nil
	}
	at := from.AddDate(0, 0, rng.IntN(room))
	bottom := at.AddDate(0, 0, fall)
	up := bottom.AddDate(0, 0, hold)
	return curve{{at, 1}, {bottom, depth}, {up, depth}, {up.AddDate(0, 0, rise), 1}}
}

// Churns are the days tenant t's paid service ended without a renewal,
// oldest first.
func (t Tenant) Churns() []time.Time {
	if t.life == nil {
		return nil
	}
	return slices.Clone(t.life.churns)
}

// editionOn is the paid edition in service on day d; "" when none.
func (l *life) editionOn(d time.Time) string {
	for _, t := range l.terms {
		if t.edition && !t.trial && !d.Before(t.from) && d.Before(t.to) {
			return t.product
		}
	}
	return ""
}

// editionEnd is the end of the last term of edition product, which is
// where an add-on bound to its term ends (Subscription.End).
func (l *life) editionEnd(product string) time.Time {
	var end time.Time
	for _, t := range l.terms {
		if t.edition && !t.trial && t.product == product && t.to.After(end) {
			end = t.to
		}
	}
	return end
}
