package keel

import (
	"math"
	"sort"
	"time"
)

// Health follows METRICS.md ("Health and churn warnings"): a customer's
// score of a day is the weighted mean of component sub-scores (each 0–100)
// over the components that have data, from what was known by the end of
// that day. Every score keeps each component's value, sub-score and
// weight, so it can always say why.

// HealthComponent names a component of the health score.
type HealthComponent string

// The components of METRICS.md.
const (
	CompLoginTrend HealthComponent = "login_trend"         // up 100, flat 70, down 30, none 0
	CompSeats      HealthComponent = "seat_utilisation"    // active users (30 d) ÷ seats bought
	CompFeatures   HealthComponent = "feature_breadth"     // features used (30 d) ÷ features seen across all customers (30 d)
	CompLastLogin  HealthComponent = "days_since_login"    // 0–3 → 100, linear to 0 at 30
	CompTickets    HealthComponent = "tickets"             // open and overdue support tickets
	CompRenewal    HealthComponent = "days_to_renewal"     // > 90 → 100, linear to 40 at 0
	CompPayment    HealthComponent = "payment_outstanding" // none → 100, overdue > 30 d → 0
)

// HealthComponents lists the components in the order they are shown.
var HealthComponents = []HealthComponent{CompLoginTrend, CompLastLogin, CompSeats, CompFeatures, CompTickets, CompRenewal, CompPayment}

// Unit is the unit of the component's measured value (ComponentScore.Unit):
// stored scores keep the values, and their unit follows from the
// component.
func (c HealthComponent) Unit() string {
	switch c {
	case CompLoginTrend:
		return "trend"
	case CompSeats, CompFeatures:
		return "ratio"
	case CompLastLogin, CompRenewal:
		return "days"
	case CompTickets:
		return "tickets"
	case CompPayment:
		return "minor units"
	}
	return ""
}

// Band is where a score falls: red 0–50, yellow 51–75, green 76–100.
type Band string

// The bands.
const (
	BandRed    Band = "red"
	BandYellow Band = "yellow"
	BandGreen  Band = "green"
)

// Bands lists the bands, worst first.
var Bands = []Band{BandRed, BandYellow, BandGreen}

// HealthSettings are the settings METRICS.md names for health and churn
// warnings: the weights, the bands, each component's thresholds and each
// rule's. Admin edits them in the console.
type HealthSettings struct {
	// Weights of the components: 0 leaves one out; at least one must be
	// above 0.
	Weights map[HealthComponent]int `json:"weights"`
	// RedMax and YellowMax are the bands' upper edges: a score up to
	// RedMax is red, up to YellowMax yellow, above it green.
	RedMax    int `json:"red_max"`
	YellowMax int `json:"yellow_max"`

	TrendUp   int `json:"trend_up"`   // sub-score of an up trend (100)
	TrendFlat int `json:"trend_flat"` // of a flat one (70)
	TrendDown int `json:"trend_down"` // of a down one (30); no logins in either window scores 0
	// SeatsFullPct: seat utilisation at or above it scores 100 (80 %).
	SeatsFullPct int `json:"seats_full_pct"`
	// LoginFreshDays: a last login up to this many days ago scores 100
	// (3); LoginStaleDays: this many or more scores 0 (30).
	LoginFreshDays int `json:"login_fresh_days"`
	LoginStaleDays int `json:"login_stale_days"`
	// RenewalSafeDays: a renewal further off scores 100 (90); RenewalFloor
	// is the score of a renewal due today or past (40).
	RenewalSafeDays int `json:"renewal_safe_days"`
	RenewalFloor    int `json:"renewal_floor"`
	// PaymentOverdueDays: a balance outstanding this long scores 0 (30).
	PaymentOverdueDays int `json:"payment_overdue_days"`
	// TicketOverdueDays: a ticket open longer is overdue (7). Each open
	// ticket takes TicketOpenPenalty (10) off 100, each overdue one
	// TicketOverduePenalty (25).
	TicketOverdueDays    int `json:"ticket_overdue_days"`
	TicketOpenPenalty    int `json:"ticket_open_penalty"`
	TicketOverduePenalty int `json:"ticket_overdue_penalty"`

	// The churn-warning rules' settings.
	NoLoginDays       int `json:"no_login_days"`       // no login for this many days (15)
	LoginDropPct      int `json:"login_drop_pct"`      // logins down more than this vs the baseline (50)
	BaselineWeeks     int `json:"baseline_weeks"`      // the baseline: this many weeks before the last one (4)
	LowSeatsPct       int `json:"low_seats_pct"`       // seat utilisation below this (30)
	RenewalRiskDays   int `json:"renewal_risk_days"`   // renewal due within this many days while red or yellow (60)
	ScoredEndedDays   int `json:"scored_ended_days"`   // customers whose service ended up to this many days ago are still scored (90)
	ScoreHour         int `json:"score_hour"`          // the hour of the reporting day the daily scoring runs (6)
	DigestMaxWarnings int `json:"digest_max_warnings"` // at most this many warnings listed per CSM in a digest (50)
}

// DefaultHealthWeights weigh activity most — it is what customers do —
// and what the company knows of them (renewal, payment, tickets) less.
// METRICS.md names the components, not their weights; these are Keel's.
var DefaultHealthWeights = map[HealthComponent]int{
	CompLoginTrend: 20, CompLastLogin: 20, CompSeats: 15, CompFeatures: 10,
	CompTickets: 10, CompRenewal: 15, CompPayment: 10,
}

// DefaultHealthSettings are METRICS.md's defaults.
var DefaultHealthSettings = HealthSettings{
	RedMax: 50, YellowMax: 75, TrendUp: 100, TrendFlat: 70, TrendDown: 30, SeatsFullPct: 80,
	LoginFreshDays: 3, LoginStaleDays: 30, RenewalSafeDays: 90, RenewalFloor: 40, PaymentOverdueDays: 30,
	TicketOverdueDays: 7, TicketOpenPenalty: 10, TicketOverduePenalty: 25,
	NoLoginDays: 15, LoginDropPct: 50, BaselineWeeks: 4, LowSeatsPct: 30, RenewalRiskDays: 60,
	ScoredEndedDays: 90, ScoreHour: 6, DigestMaxWarnings: 50,
}

// WithDefaults fills what is unset (0, or no weights at all) with the
// defaults. A weight explicitly 0 stays 0: it leaves its component out.
func (s HealthSettings) WithDefaults() HealthSettings {
	d := DefaultHealthSettings
	if s.Weights == nil {
		s.Weights = map[HealthComponent]int{}
		for c, w := range DefaultHealthWeights {
			s.Weights[c] = w
		}
	}
	for _, f := range []struct {
		v *int
		d int
	}{
		{&s.RedMax, d.RedMax}, {&s.YellowMax, d.YellowMax}, {&s.TrendUp, d.TrendUp}, {&s.TrendFlat, d.TrendFlat},
		{&s.TrendDown, d.TrendDown}, {&s.SeatsFullPct, d.SeatsFullPct}, {&s.LoginFreshDays, d.LoginFreshDays},
		{&s.LoginStaleDays, d.LoginStaleDays}, {&s.RenewalSafeDays, d.RenewalSafeDays}, {&s.RenewalFloor, d.RenewalFloor},
		{&s.PaymentOverdueDays, d.PaymentOverdueDays}, {&s.TicketOverdueDays, d.TicketOverdueDays},
		{&s.TicketOpenPenalty, d.TicketOpenPenalty}, {&s.TicketOverduePenalty, d.TicketOverduePenalty},
		{&s.NoLoginDays, d.NoLoginDays}, {&s.LoginDropPct, d.LoginDropPct}, {&s.BaselineWeeks, d.BaselineWeeks},
		{&s.LowSeatsPct, d.LowSeatsPct}, {&s.RenewalRiskDays, d.RenewalRiskDays}, {&s.ScoredEndedDays, d.ScoredEndedDays},
		{&s.DigestMaxWarnings, d.DigestMaxWarnings},
	} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	if s.ScoreHour == 0 {
		s.ScoreHour = d.ScoreHour
	}
	return s
}

// Validate checks settings as an admin enters them, naming the field:
// weights must not be negative nor all zero, bands must rise, thresholds
// stay in range.
func (s HealthSettings) Validate() error {
	total := 0
	for c, w := range s.Weights {
		if err := OneOf("weights", c, HealthComponents); err != nil {
			return err
		}
		if w < 0 || w > 1000 {
			return Invalid("weights."+string(c), "must be %d to %d", 0, 1000)
		}
		total += w
	}
	if total == 0 {
		return Invalid("weights", "at least one weight must be above 0")
	}
	if s.RedMax < 0 || s.RedMax >= s.YellowMax || s.YellowMax >= 100 {
		return Invalid("yellow_max", "the bands must rise: 0 ≤ red_max < yellow_max < 100")
	}
	for _, f := range []struct {
		name    string
		v, a, b int
	}{
		{"trend_up", s.TrendUp, 0, 100}, {"trend_flat", s.TrendFlat, 0, 100}, {"trend_down", s.TrendDown, 0, 100},
		{"seats_full_pct", s.SeatsFullPct, 1, 100}, {"login_fresh_days", s.LoginFreshDays, 0, 365},
		{"login_stale_days", s.LoginStaleDays, s.LoginFreshDays + 1, 366}, {"renewal_safe_days", s.RenewalSafeDays, 1, 730},
		{"renewal_floor", s.RenewalFloor, 0, 100}, {"payment_overdue_days", s.PaymentOverdueDays, 1, 365},
		{"ticket_overdue_days", s.TicketOverdueDays, 1, 365}, {"ticket_open_penalty", s.TicketOpenPenalty, 0, 100},
		{"ticket_overdue_penalty", s.TicketOverduePenalty, 0, 100}, {"no_login_days", s.NoLoginDays, 1, 365},
		{"login_drop_pct", s.LoginDropPct, 1, 100}, {"baseline_weeks", s.BaselineWeeks, 1, 12},
		{"low_seats_pct", s.LowSeatsPct, 1, 100}, {"renewal_risk_days", s.RenewalRiskDays, 1, 365},
		{"scored_ended_days", s.ScoredEndedDays, 0, 365}, {"score_hour", s.ScoreHour, 0, 23},
		{"digest_max_warnings", s.DigestMaxWarnings, 1, 1000},
	} {
		if f.v < f.a || f.v > f.b {
			return Invalid(f.name, "must be %d to %d", f.a, f.b)
		}
	}
	return nil
}

// BandOf is the band of score.
func (s HealthSettings) BandOf(score int) Band {
	switch {
	case score <= s.RedMax:
		return BandRed
	case score <= s.YellowMax:
		return BandYellow
	}
	return BandGreen
}

// HealthInput is what was known of a customer by the end of Day (METRICS.md,
// "No look-ahead"): its activity by event time up to the day, its orders
// approved by then.
type HealthInput struct {
	CustomerID int64
	Day        time.Time // the reporting day scored (midnight UTC of its date)

	// Activity is whether the customer has a product tenant that has sent
	// events at all; without one the activity components have no data.
	Activity      bool
	Trend         Trend     // the login trend over complete days
	Logins        int64     // logins in the trend's last window
	LoginsBefore  int64     // logins in the window before
	ActiveUsers30 int64     // distinct active users in the 30 days ending with Day
	Features30    int64     // distinct features used in those 30 days
	AllFeatures30 int64     // distinct features any customer used in them
	LastLogin     time.Time // the last login's day; zero when none in the lookback
	LoginsWeek    int64     // logins in the last 7 complete days (for the drop rule)
	LoginsWeeks   int64     // logins in the BaselineWeeks weeks before those 7 days
	Seats         int64     // seats bought on paid subscriptions in service on Day; 0 = none bought
	RenewalOn     time.Time // when the paid edition term in service ends (the renewal); zero = none
	Orders        bool      // the customer has approved paid orders (payment has data)
	Outstanding   int64     // what approved orders still owe, minor units
	OwedSince     time.Time // the approval day of the oldest order still owing; zero when nothing is owed
	Tickets       *Tickets  // nil: no tickets are kept for the customer
	MRR           Exact     // MRR on Day (for the warnings' MRR at risk); informative
	Currency      string    // of MRR
}

// Tickets counts a customer's open support tickets on a day.
type Tickets struct {
	Open    int64 // open tickets, the overdue ones among them
	Overdue int64 // open longer than TicketOverdueDays
}

// ComponentScore is one component of a score: its measured value (a
// ratio, a count of days, an amount, …, as Unit says), its sub-score and
// weight, or NoData when the customer has nothing to measure.
type ComponentScore struct {
	Component HealthComponent `json:"component"`
	Value     float64         `json:"value"`
	Unit      string          `json:"unit"` // "trend" (up 1, flat 0, down -1, none -2), "ratio", "days", "tickets", "minor units"
	Sub       float64         `json:"sub"`  // 0–100
	Weight    int             `json:"weight"`
	NoData    bool            `json:"no_data"`
}

// HealthScore is a customer's health on one day.
type HealthScore struct {
	CustomerID int64
	Day        time.Time
	Score      int // 0–100, rounded half up from the weighted mean
	Band       Band
	Components []ComponentScore // every component, in HealthComponents order
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// days is the number of calendar days from a to b (b − a).
func days(a, b time.Time) float64 { return math.Round(b.Sub(a).Hours() / 24) }

// ScoreHealth scores in (METRICS.md). It returns false when no component
// with weight above 0 has data: such a customer has no score that day.
func ScoreHealth(in HealthInput, s HealthSettings) (HealthScore, bool) {
	s = s.WithDefaults()
	out := HealthScore{CustomerID: in.CustomerID, Day: in.Day}
	comp := func(c HealthComponent, value float64, unit string, sub float64, ok bool) {
		if !ok {
			value, sub = 0, 0
		}
		out.Components = append(out.Components, ComponentScore{Component: c, Value: value, Unit: unit,
			Sub: clamp(sub, 0, 100), Weight: s.Weights[c], NoData: !ok})
	}
	for _, c := range HealthComponents {
		switch c {
		case CompLoginTrend:
			v, sub := 0.0, 0.0
			switch {
			case in.Logins == 0 && in.LoginsBefore == 0:
				v, sub = -2, 0
			case in.Trend == TrendUp:
				v, sub = 1, float64(s.TrendUp)
			case in.Trend == TrendDown:
				v, sub = -1, float64(s.TrendDown)
			default:
				v, sub = 0, float64(s.TrendFlat)
			}
			comp(c, v, "trend", sub, in.Activity)
		case CompLastLogin:
			d := float64(s.LoginStaleDays)
			if !in.LastLogin.IsZero() {
				d = math.Max(0, days(in.LastLogin, in.Day))
			}
			fresh, stale := float64(s.LoginFreshDays), float64(s.LoginStaleDays)
			comp(c, d, "days", 100*(stale-d)/(stale-fresh), in.Activity)
		case CompSeats:
			ratio := 0.0
			if in.Seats > 0 {
				ratio = float64(in.ActiveUsers30) / float64(in.Seats)
			}
			comp(c, ratio, "ratio", 100*ratio/(float64(s.SeatsFullPct)/100), in.Activity && in.Seats > 0)
		case CompFeatures:
			ratio := 0.0
			if in.AllFeatures30 > 0 {
				ratio = float64(in.Features30) / float64(in.AllFeatures30)
			}
			comp(c, ratio, "ratio", 100*ratio, in.Activity && in.AllFeatures30 > 0)
		case CompTickets:
			if in.Tickets == nil {
				comp(c, 0, "tickets", 0, false)
				continue
			}
			t := *in.Tickets
			comp(c, float64(t.Open), "tickets", 100-float64(t.Open-t.Overdue)*float64(s.TicketOpenPenalty)-float64(t.Overdue)*float64(s.TicketOverduePenalty), true)
		case CompRenewal:
			if in.RenewalOn.IsZero() {
				comp(c, 0, "days", 0, false)
				continue
			}
			d := days(in.Day, in.RenewalOn)
			safe, floor := float64(s.RenewalSafeDays), float64(s.RenewalFloor)
			comp(c, d, "days", floor+(100-floor)*clamp(d, 0, safe)/safe, true)
		case CompPayment:
			if !in.Orders {
				comp(c, 0, "minor units", 0, false)
				continue
			}
			sub := 100.0
			if in.Outstanding > 0 && !in.OwedSince.IsZero() {
				late := math.Max(0, days(in.OwedSince, in.Day))
				sub = 100 * (1 - late/float64(s.PaymentOverdueDays))
			}
			comp(c, float64(in.Outstanding), "minor units", sub, true)
		}
	}
	var num, den float64
	for _, c := range out.Components {
		if !c.NoData && c.Weight > 0 {
			num += float64(c.Weight) * c.Sub
			den += float64(c.Weight)
		}
	}
	if den == 0 {
		return out, false
	}
	out.Score = int(math.Floor(num/den + 0.5))
	out.Band = s.BandOf(out.Score)
	return out, true
}

// Contribution is how many points of the score a component gave: its
// weight × sub-score ÷ the sum of the weights with data (the missing
// components' weight spread over the rest).
func (h HealthScore) Contribution(c HealthComponent) float64 {
	var den, mine float64
	for _, x := range h.Components {
		if x.NoData || x.Weight <= 0 {
			continue
		}
		den += float64(x.Weight)
		if x.Component == c {
			mine = float64(x.Weight) * x.Sub
		}
	}
	if den == 0 {
		return 0
	}
	return mine / den
}

// Mover is a component's part in a change of score.
type Mover struct {
	Component HealthComponent
	Points    float64 // the change of its contribution, in score points
}

// Movers lists the components that moved the score from then to now, the
// biggest change first (either way), leaving out those that moved less
// than half a point.
func Movers(now, then HealthScore) []Mover {
	var out []Mover
	for _, c := range HealthComponents {
		if d := now.Contribution(c) - then.Contribution(c); math.Abs(d) >= 0.5 {
			out = append(out, Mover{Component: c, Points: d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return math.Abs(out[i].Points) > math.Abs(out[j].Points) })
	return out
}
