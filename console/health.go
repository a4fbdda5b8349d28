package console

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// The health area reads every score from the warehouse's daily health
// snapshots (warehouse/health.go), written by the daily scoring
// (scoring/), and the churn warnings, their timeline and the health
// settings from Postgres through HealthStore, which checks who may do
// what and writes the audit log itself. Nothing here reads raw events.

// HealthReader is what the health pages and API read from ClickHouse.
type HealthReader interface {
	Health(ctx context.Context, f warehouse.HealthFilter, fn func(warehouse.HealthRow) error) error
	HealthList(ctx context.Context, f warehouse.HealthListFilter) ([]warehouse.HealthRow, int, error)
	HealthBriefs(ctx context.Context, day time.Time) ([]warehouse.HealthBrief, error)
	LastHealthDay(ctx context.Context) (time.Time, error)
	HealthStamp(ctx context.Context) (warehouse.HealthStamp, error)
}

var _ HealthReader = (*warehouse.Store)(nil)

// HealthStore is the health area's records in Postgres: the churn
// warnings, what happened to them, and the health settings.
type HealthStore interface {
	HealthSettings(ctx context.Context) (keel.HealthSettings, error)
	SetHealthSettings(ctx context.Context, by keel.Employee, s keel.HealthSettings) (keel.HealthSettings, error)
	Alerts(ctx context.Context, f keel.AlertFilter) ([]keel.Alert, int, error)
	Alert(ctx context.Context, id int64) (keel.Alert, error)
	AckAlert(ctx context.Context, by keel.Employee, id int64) (keel.Alert, error)
	ResolveAlert(ctx context.Context, by keel.Employee, id int64, note string) (keel.Alert, error)
	SnoozeAlert(ctx context.Context, by keel.Employee, id int64, until time.Time, reason string) (keel.Alert, error)
	AssignAlert(ctx context.Context, by keel.Employee, id, to int64) (keel.Alert, error)
	AlertEvents(ctx context.Context, customerID int64, limit int) ([]keel.AlertEvent, error)
}

// healthReady refuses when the console runs without the warehouse's
// health scores or without Postgres.
func (s *server) healthReady() error {
	if s.Health == nil || s.healthRecords == nil {
		return keel.Errorf(keel.EUNAVAILABLE, "health is not available: this console runs without the warehouse")
	}
	return nil
}

// alertNotFound is the refusal of a path that names no warning.
func alertNotFound(id any) *keel.Error {
	return keel.Errorf(keel.ENOTFOUND, "warning %v not found", id)
}

// liveStates are the states of a warning nobody has resolved.
var liveStates = []keel.AlertState{keel.AlertOpen, keel.AlertAcked, keel.AlertSnoozed}

// workStates are the warnings that wait for someone: open or acknowledged
// (a snoozed one waits for its day).
var workStates = []keel.AlertState{keel.AlertOpen, keel.AlertAcked}

// healthTrendDays are the days a score is compared with: a week and a
// month before.
var healthTrendDays = []int{7, 30}

// customerHealth is one customer's stored scores over a span, and what the
// latest of them is compared with.
type customerHealth struct {
	Days   []warehouse.HealthRow // from..to, by day
	Latest *warehouse.HealthRow  // the last of Days; nil when none
	Then   map[int]*warehouse.HealthRow
}

// customerHealthOf reads customer id's scores of [from, to] and, for the
// latest of them, the score of 7 and of 30 days before it (or the last one
// before that, when that day was not scored).
func (s *server) customerHealthOf(ctx context.Context, id int64, from, to time.Time) (customerHealth, error) {
	reach := to.AddDate(0, 0, -2*healthTrendDays[len(healthTrendDays)-1])
	if from.Before(reach) {
		reach = from
	}
	var all []warehouse.HealthRow
	if err := s.Health.Health(ctx, warehouse.HealthFilter{From: reach, To: to, Customers: []uint64{uint64(id)}}, func(r warehouse.HealthRow) error {
		all = append(all, r)
		return nil
	}); err != nil {
		return customerHealth{}, err
	}
	out := customerHealth{Then: map[int]*warehouse.HealthRow{}}
	for i := range all {
		if !all[i].Day.Before(from) {
			out.Days = append(out.Days, all[i])
		}
	}
	if len(out.Days) == 0 {
		return out, nil
	}
	out.Latest = &out.Days[len(out.Days)-1]
	for _, n := range healthTrendDays {
		at := out.Latest.Day.AddDate(0, 0, -n)
		for i := len(all) - 1; i >= 0; i-- {
			if !all[i].Day.After(at) {
				out.Then[n] = &all[i]
				break
			}
		}
	}
	return out, nil
}

// lastHealthDay is the latest day scored; zero when none was.
func (s *server) lastHealthDay(ctx context.Context) (time.Time, error) {
	return s.Health.LastHealthDay(ctx)
}

// noDataOf lists the components of a score that had no data.
func noDataOf(h keel.HealthScore) []string {
	out := []string{}
	for _, c := range h.Components {
		if c.NoData {
			out = append(out, string(c.Component))
		}
	}
	return out
}

// points rounds a score's points to two decimals, for showing.
func points(f float64) float64 { return math.Round(f*100) / 100 }

func componentLabel(l lang, c keel.HealthComponent) string {
	switch c {
	case keel.CompLoginTrend:
		return l.T("Login trend")
	case keel.CompLastLogin:
		return l.T("Days since the last login")
	case keel.CompSeats:
		return l.T("Seat utilisation")
	case keel.CompFeatures:
		return l.T("Breadth of features used")
	case keel.CompTickets:
		return l.T("Open and overdue tickets")
	case keel.CompRenewal:
		return l.T("Days to renewal")
	case keel.CompPayment:
		return l.T("Payment outstanding")
	}
	return string(c)
}

func bandLabel(l lang, b keel.Band) string {
	switch b {
	case keel.BandRed:
		return l.T("Red")
	case keel.BandYellow:
		return l.T("Yellow")
	case keel.BandGreen:
		return l.T("Green")
	}
	return string(b)
}

func ruleLabel(l lang, r keel.AlertRule) string {
	switch r {
	case keel.RuleNoLogin:
		return l.T("No login")
	case keel.RuleLoginDrop:
		return l.T("Logins dropped")
	case keel.RuleLowSeats:
		return l.T("Low seat use")
	case keel.RuleRenewalRisk:
		return l.T("Renewal at risk")
	case keel.RuleFellIntoRed:
		return l.T("Fell into red")
	}
	return string(r)
}

func alertStateLabel(l lang, st keel.AlertState) string {
	switch st {
	case keel.AlertOpen:
		return l.T("Open")
	case keel.AlertAcked:
		return l.T("Acknowledged")
	case keel.AlertSnoozed:
		return l.T("Snoozed")
	case keel.AlertResolved:
		return l.T("Resolved")
	}
	return string(st)
}

// alertActionLabel names what happened to a warning on its timeline.
func alertActionLabel(l lang, action string) string {
	switch action {
	case "raise":
		return l.T("Raised")
	case "ack":
		return l.T("Acknowledged")
	case "resolve":
		return l.T("Resolved")
	case "snooze":
		return l.T("Snoozed")
	case "assign":
		return l.T("Reassigned")
	case "reopen":
		return l.T("Open again after the snooze")
	case "clear":
		return l.T("Resolved by Keel: the condition has cleared")
	case "cleared":
		return l.T("Condition cleared")
	}
	return action
}

// componentValue shows a component's measured value in its unit; currency
// is the score's (for an amount owed).
func componentValue(l lang, c keel.ComponentScore, currency string) string {
	if c.NoData {
		return l.T("no data")
	}
	switch c.Component.Unit() {
	case "trend":
		switch c.Value {
		case 1:
			return l.T("up")
		case 0:
			return l.T("flat")
		case -1:
			return l.T("down")
		}
		return l.T("no logins")
	case "ratio":
		return strconv.FormatFloat(c.Value*100, 'f', 0, 64) + "%"
	case "days":
		return l.T("%d days", int(c.Value))
	case "tickets":
		return l.T("%d open", int(c.Value))
	case "minor units":
		if currency == "" {
			return strconv.FormatFloat(c.Value, 'f', 0, 64)
		}
		return keel.FormatAmount(int64(c.Value), currency) + " " + currency
	}
	return strconv.FormatFloat(c.Value, 'f', -1, 64)
}

// evidenceText says in words what tripped a warning's rule, from its
// evidence (numbers come back from JSON as float64).
func evidenceText(l lang, a keel.Alert) string {
	num := func(k string) float64 {
		switch v := a.Evidence[k].(type) {
		case float64:
			return v
		case int:
			return float64(v)
		case int64:
			return float64(v)
		}
		return 0
	}
	str := func(k string) string { s, _ := a.Evidence[k].(string); return s }
	switch a.Rule {
	case keel.RuleNoLogin:
		if str("last_login") == "" {
			return l.T("No login in the last %d days or more", int(num("threshold_days")))
		}
		return l.T("No login for %d days (the last on %s)", int(num("days_since_login")), str("last_login"))
	case keel.RuleLoginDrop:
		return l.T("%d logins last week against %.1f a week before (%+.0f%%)", int(num("logins_last_week")), num("baseline_per_week"), num("change_pct"))
	case keel.RuleLowSeats:
		return l.T("%d active users on %d seats in 30 days (%.0f%%)", int(num("active_users_30d")), int(num("seats")), num("utilisation_pct"))
	case keel.RuleRenewalRisk:
		return l.T("Renewal on %s, in %d days, at a score of %d", str("renewal_on"), int(num("days_to_renewal")), int(num("score")))
	case keel.RuleFellIntoRed:
		return l.T("Score %d", int(num("score")))
	}
	return fmt.Sprint(a.Evidence)
}

// ageDays is how many days a warning has been raised, on the reporting
// day today.
func ageDays(a keel.Alert, today time.Time) int {
	return max(0, int(math.Round(today.Sub(a.RaisedOn).Hours()/24)))
}

// teamOwners are the employees whose warnings are the team's: everyone
// who sells or looks after customers, departed ones too (their warnings
// wait to be reassigned).
func teamOwners(emps []keel.Employee) []int64 {
	out := []int64{}
	for _, e := range emps {
		if e.Has(keel.RoleCSM) || e.Has(keel.RoleSales) {
			out = append(out, e.ID)
		}
	}
	return out
}

// assignees are who a warning may be given to: active CSMs and sellers.
func assignees(emps []keel.Employee) []keel.Employee {
	var out []keel.Employee
	for _, e := range emps {
		if e.Status == keel.EmployeeActive && (e.Has(keel.RoleCSM) || e.Has(keel.RoleSales)) {
			out = append(out, e)
		}
	}
	return out
}

// managesAlerts: admin and leadership work and reassign any warning.
func managesAlerts(me keel.Employee) bool {
	return me.Can(keel.ActAlertWork) == nil && (me.Has(keel.RoleAdmin) || me.Has(keel.RoleLeadership))
}

// mayWork reports whether me may act on a: theirs, unassigned, or any for
// admin and leadership (keel.Alert's rule, for what a page offers).
func mayWork(me keel.Employee, a keel.Alert) bool {
	return me.Can(keel.ActAlertWork) == nil && (managesAlerts(me) || a.Owner == nil || *a.Owner == me.ID)
}
