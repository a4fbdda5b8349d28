package keel

import "time"

// Trend is the direction of a customer's logins (METRICS.md, "Login trend").
type Trend string

// The three trends.
const (
	TrendUp   Trend = "up"
	TrendFlat Trend = "flat"
	TrendDown Trend = "down"
)

// Trends lists the trends, in the order they are shown.
var Trends = []Trend{TrendUp, TrendDown, TrendFlat}

// TrendRule holds the settings of the login-trend definition: the length of
// the two windows compared and the relative changes that count as up or down.
type TrendRule struct {
	Window time.Duration // each window's length; default 14 days
	Up     float64       // change above which the trend is up; default +0.10
	Down   float64       // change below which the trend is down; default -0.10
}

// DefaultTrendRule is METRICS.md's default: the last 14 days against the 14
// before, ±10 %.
var DefaultTrendRule = TrendRule{Window: 14 * 24 * time.Hour, Up: 0.10, Down: -0.10}

// Days is the rule's window length in whole days.
func (r TrendRule) Days() int {
	d := int(r.Window / (24 * time.Hour))
	if d < 1 {
		return 1
	}
	return d
}

// Of classifies the change from previous to last. A customer who had no logins
// in the earlier window and some in the later one trends up; none in both is
// flat — there is no change to speak of, and dividing by zero is not a trend.
func (r TrendRule) Of(last, previous int64) Trend {
	if previous == 0 {
		if last > 0 {
			return TrendUp
		}
		return TrendFlat
	}
	change := float64(last-previous) / float64(previous)
	switch {
	case change > r.Up:
		return TrendUp
	case change < r.Down:
		return TrendDown
	default:
		return TrendFlat
	}
}

// TrendEnd is the last day a login trend as of day asOf counts, at moment
// m (METRICS.md, "Login trend"). Trends compare complete days only: asOf
// itself once it is over, otherwise the last complete day, the day before
// m's today. So a trend asked about today, or about a week not over yet,
// never counts a day under way or days to come, and every page that asks
// about a day not over gets the same trend as every other. Days are dates
// at midnight UTC, as Calendar.Day gives them. It is the one statement of
// the rule: every trend and every window that must end with a complete
// day (health's weeks of logins) ends here.
func (m Moment) TrendEnd(asOf time.Time) time.Time {
	if last := m.Today().AddDate(0, 0, -1); last.Before(asOf) {
		return last
	}
	return Date(asOf)
}

// ActivityDay is one calendar day of a tenant's activity in the reporting
// timezone (METRICS.md, "Activity").
type ActivityDay struct {
	Day         string `json:"day"`          // YYYY-MM-DD
	ActiveUsers int64  `json:"active_users"` // distinct users with any event that day
	Logins      int64  `json:"logins"`       // distinct login events that day
	WAU         int64  `json:"wau"`          // distinct users in the 7 days ending that day
	MAU         int64  `json:"mau"`          // distinct users in the 30 days ending that day
}

// Activity is a tenant's daily activity over a range of days and its login
// trend as of the range's last day. Its JSON shape is a contract: `keel
// activity --json` and GET /api/v1/metrics/activity print it.
type Activity struct {
	Tenant string        `json:"tenant"`
	Trend  Trend         `json:"trend"`
	Days   []ActivityDay `json:"days"`
}
