package keel

import (
	"strings"
	"time"
)

// Churn warnings (METRICS.md): rules over a customer's day, each raised
// once per customer while its warning is open or snoozed, owned by the
// customer's CSM, and worked by people — acknowledged, resolved with a
// note, snoozed until a date with a reason — or resolved by Keel itself
// when the condition clears.

// AlertRule names a churn-warning rule.
type AlertRule string

// The rules of METRICS.md.
const (
	RuleNoLogin     AlertRule = "no_login"        // no login for NoLoginDays days
	RuleLoginDrop   AlertRule = "login_drop"      // last week's logins down more than LoginDropPct vs the baseline weeks
	RuleLowSeats    AlertRule = "low_seat_use"    // seat utilisation below LowSeatsPct
	RuleRenewalRisk AlertRule = "renewal_at_risk" // renewal due within RenewalRiskDays while red or yellow
	RuleFellIntoRed AlertRule = "fell_into_red"   // the score is red (raised when it falls into red)
)

// AlertRules lists the rules.
var AlertRules = []AlertRule{RuleNoLogin, RuleLoginDrop, RuleLowSeats, RuleRenewalRisk, RuleFellIntoRed}

// Evidence is what tripped a rule: the numbers, by name, as the warning
// shows them.
type Evidence map[string]any

// RuleInput is a customer's day as the rules see it.
type RuleInput struct {
	Input     HealthInput
	Score     HealthScore
	Scored    bool // Score is set (a customer with no component with data has none)
	Yesterday Band // the band of the day before; "" when not scored then
}

// EvaluateRules returns the rules whose condition holds for the day, each
// with its evidence. A rule without the data it needs does not hold.
func EvaluateRules(in RuleInput, s HealthSettings) map[AlertRule]Evidence {
	s = s.WithDefaults()
	out := map[AlertRule]Evidence{}
	h := in.Input
	if h.Activity {
		since := -1.0
		if !h.LastLogin.IsZero() {
			since = days(h.LastLogin, h.Day)
		}
		if since < 0 || since >= float64(s.NoLoginDays) {
			e := Evidence{"threshold_days": s.NoLoginDays}
			if since >= 0 {
				e["days_since_login"], e["last_login"] = int(since), h.LastLogin.Format(time.DateOnly)
			}
			out[RuleNoLogin] = e
		}
		if h.LoginsWeeks > 0 {
			baseline := float64(h.LoginsWeeks) / float64(s.BaselineWeeks)
			if change := (float64(h.LoginsWeek) - baseline) / baseline; change < -float64(s.LoginDropPct)/100 {
				out[RuleLoginDrop] = Evidence{"logins_last_week": h.LoginsWeek, "baseline_per_week": baseline,
					"baseline_weeks": s.BaselineWeeks, "change_pct": change * 100, "threshold_pct": -s.LoginDropPct}
			}
		}
		if h.Seats > 0 {
			if ratio := float64(h.ActiveUsers30) / float64(h.Seats); ratio < float64(s.LowSeatsPct)/100 {
				out[RuleLowSeats] = Evidence{"active_users_30d": h.ActiveUsers30, "seats": h.Seats, "utilisation_pct": ratio * 100,
					"threshold_pct": s.LowSeatsPct}
			}
		}
	}
	if in.Scored && !h.RenewalOn.IsZero() && (in.Score.Band == BandRed || in.Score.Band == BandYellow) {
		if d := days(h.Day, h.RenewalOn); d >= 0 && d <= float64(s.RenewalRiskDays) {
			out[RuleRenewalRisk] = Evidence{"renewal_on": h.RenewalOn.Format(time.DateOnly), "days_to_renewal": int(d),
				"score": in.Score.Score, "band": in.Score.Band, "threshold_days": s.RenewalRiskDays}
		}
	}
	if in.Scored && in.Score.Band == BandRed {
		out[RuleFellIntoRed] = Evidence{"score": in.Score.Score, "band": in.Score.Band, "yesterday": in.Yesterday}
	}
	return out
}

// AlertState is where a warning is in its life: open → acknowledged →
// resolved, or snoozed until a day (and open again after it, if the
// condition still holds).
type AlertState string

// The warning states.
const (
	AlertOpen     AlertState = "open"
	AlertAcked    AlertState = "acknowledged"
	AlertSnoozed  AlertState = "snoozed"
	AlertResolved AlertState = "resolved"
)

// AlertStates lists the states.
var AlertStates = []AlertState{AlertOpen, AlertAcked, AlertSnoozed, AlertResolved}

// Alert is a churn warning.
type Alert struct {
	ID         int64
	CustomerID int64
	Rule       AlertRule
	State      AlertState
	Owner      *int64    // the CSM (the sales owner when there is none); nil = unassigned
	RaisedOn   time.Time // the day scored that raised it
	RaisedAt   time.Time
	Evidence   Evidence
	MRRAtRisk  int64 // the customer's MRR when raised, minor units
	Currency   string
	// Who did what last.
	AckedBy      *int64
	AckedAt      *time.Time
	ResolvedBy   *int64 // nil with ResolvedAt set: Keel resolved it (the condition cleared)
	ResolvedAt   *time.Time
	ClosedOn     *time.Time // the reporting day it was resolved
	Note         string     // the resolution's note
	SnoozedUntil *time.Time // a day
	SnoozeReason string
	// Cleared: after a person resolved it, the condition has been seen not
	// holding; only then may the rule fire again for the customer.
	Cleared bool
	Version int64
}

// Live reports whether the warning counts as raised: open, acknowledged or
// snoozed.
func (a Alert) Live() bool { return a.State != AlertResolved }

// MaxSnoozeDays bounds a snooze.
const MaxSnoozeDays = 180

// canWork is the rule of who may act on a warning: its owner; anyone who
// may work warnings when it has none; admin and leadership always. A CSM
// acting on another CSM's warning is refused.
func (a Alert) canWork(by Employee) error {
	if err := by.Can(ActAlertWork); err != nil {
		return err
	}
	if by.Has(RoleAdmin) || by.Has(RoleLeadership) || a.Owner == nil || *a.Owner == by.ID {
		return nil
	}
	return Errorf(EFORBIDDEN, "warning %d belongs to another employee; ask them, an admin or leadership to reassign it", a.ID)
}

// Ack acknowledges an open warning.
func (a *Alert) Ack(by Employee, now time.Time) error {
	if err := a.canWork(by); err != nil {
		return err
	}
	if a.State != AlertOpen {
		return Errorf(ECONFLICT, "warning %d is %s; only an open warning can be acknowledged", a.ID, a.State)
	}
	t, id := now.UTC(), by.ID
	a.State, a.AckedBy, a.AckedAt = AlertAcked, &id, &t
	return nil
}

// Resolve closes a live warning with a note saying what was done.
func (a *Alert) Resolve(by Employee, note string, now time.Time) error {
	if err := a.canWork(by); err != nil {
		return err
	}
	note = strings.TrimSpace(note)
	if note == "" {
		return Invalid("note", "required (say what was done)")
	}
	if len(note) > 2000 {
		return Invalid("note", "at most %d characters", 2000)
	}
	if !a.Live() {
		return Errorf(ECONFLICT, "warning %d is resolved already", a.ID)
	}
	t, id := now.UTC(), by.ID
	a.State, a.ResolvedBy, a.ResolvedAt, a.Note, a.Cleared = AlertResolved, &id, &t, note, false
	return nil
}

// Snooze puts a live warning aside until a day (after today, at most
// MaxSnoozeDays ahead) with a reason; today is the reporting day.
func (a *Alert) Snooze(by Employee, until time.Time, reason string, today time.Time) error {
	if err := a.canWork(by); err != nil {
		return err
	}
	until = Date(until)
	switch {
	case until.IsZero():
		return Invalid("until", "required (YYYY-MM-DD)")
	case !until.After(today):
		return Invalid("until", "%s is not after today (%s)", until.Format(time.DateOnly), today.Format(time.DateOnly))
	case until.After(today.AddDate(0, 0, MaxSnoozeDays)):
		return Invalid("until", "%s is more than %d days ahead", until.Format(time.DateOnly), MaxSnoozeDays)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid("reason", "required (say why it can wait)")
	}
	if len(reason) > 2000 {
		return Invalid("reason", "at most %d characters", 2000)
	}
	if !a.Live() {
		return Errorf(ECONFLICT, "warning %d is resolved; it cannot be snoozed", a.ID)
	}
	a.State, a.SnoozedUntil, a.SnoozeReason = AlertSnoozed, &until, reason
	return nil
}

// Assign gives the warning to employee to (nil: unassigned). Admin and
// leadership may reassign any warning; anyone who may work warnings may
// take an unassigned one for themselves. to must be allowed to work
// warnings.
func (a *Alert) Assign(by Employee, to *Employee) error {
	if err := by.Can(ActAlertWork); err != nil {
		return err
	}
	manager := by.Has(RoleAdmin) || by.Has(RoleLeadership)
	if !manager && !(a.Owner == nil && to != nil && to.ID == by.ID) {
		return Errorf(EFORBIDDEN, "only admin and leadership reassign warnings (a warning with no owner may be taken)")
	}
	if to == nil {
		a.Owner = nil
		return nil
	}
	if to.Status != EmployeeActive || to.Can(ActAlertWork) != nil || !(to.Has(RoleCSM) || to.Has(RoleSales)) {
		return Invalid("employee_id", "employee %d is not an active CSM or seller", to.ID)
	}
	id := to.ID
	a.Owner = &id
	return nil
}

// AlertChange is what a day's evaluation does to a customer's warning of
// one rule.
type AlertChange string

// The changes.
const (
	AlertKeep    AlertChange = ""        // nothing
	AlertRaise   AlertChange = "raise"   // raise a new warning
	AlertReopen  AlertChange = "reopen"  // a snooze ended and the condition still holds
	AlertClear   AlertChange = "clear"   // Keel resolves it: the condition cleared
	AlertCleared AlertChange = "cleared" // a resolved warning's condition was seen cleared: the rule may fire again
)

// NextAlert decides what the day's evaluation does: latest is the rule's
// latest warning of the customer (nil for none), holds whether its
// condition holds on today (the reporting day scored). A rule fires once
// while its warning is live; after a person resolved it, only once the
// condition has cleared and come back.
func NextAlert(latest *Alert, holds bool, today time.Time) AlertChange {
	switch {
	case latest == nil:
		if holds {
			return AlertRaise
		}
	case latest.State == AlertResolved:
		switch {
		case holds && (latest.Cleared || latest.ResolvedBy == nil):
			return AlertRaise
		case !holds && !latest.Cleared && latest.ResolvedBy != nil:
			return AlertCleared
		}
	case !holds:
		return AlertClear
	case latest.State == AlertSnoozed && latest.SnoozedUntil != nil && !today.Before(*latest.SnoozedUntil):
		return AlertReopen
	}
	return AlertKeep
}

// Apply makes change c on the warning (AlertClear, AlertReopen,
// AlertCleared; a raise makes a new warning instead) at now.
func (a *Alert) Apply(c AlertChange, now time.Time) {
	t := now.UTC()
	switch c {
	case AlertClear:
		a.State, a.ResolvedBy, a.ResolvedAt, a.Note = AlertResolved, nil, &t, "Resolved by Keel: the condition has cleared."
	case AlertReopen:
		a.State, a.SnoozedUntil, a.SnoozeReason = AlertOpen, nil, ""
	case AlertCleared:
		a.Cleared = true
	}
}

// AlertFilter selects warnings. Empty fields do not filter; Owners and
// Customers nil do not filter, empty non-nil match nothing.
type AlertFilter struct {
	Owner      int64        // owned by this employee
	Unassigned bool         // owned by no one (Owner is then ignored)
	Owners     []int64      // owned by one of these (a team)
	States     []AlertState // in one of these states
	Rule       AlertRule
	CustomerID int64
	Customers  []int64
	Page
}

// AlertEvent is one thing that happened to a warning, for the customer's
// timeline.
type AlertEvent struct {
	ID      int64
	AlertID int64
	Rule    AlertRule
	At      time.Time
	ActorID int64  // 0 = Keel
	Action  string // raise, ack, resolve, snooze, assign, reopen, clear, cleared
	Detail  string // the note, the snooze, the new owner
}
