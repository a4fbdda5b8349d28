package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The warning queue (/alerts): a CSM's own warnings, the team's and the
// unassigned ones, filtered by rule, band, owner and state, the most MRR
// at risk first, then the oldest; each worked in place — acknowledged,
// resolved with a note, snoozed until a day with a reason, reassigned or
// taken — by forms that come back to the queue as it was.

// alertTabs are the queue's tabs.
var alertTabs = []string{"mine", "team", "unassigned"}

type alertTab struct {
	Label, Link string
	Current     bool
}

// alertRow is one warning of the queue, with what the reader may do.
type alertRow struct {
	ID                           int64
	CustomerID                   int64
	Customer                     string
	Rule                         keel.AlertRule
	RuleLabel, Evidence          string
	State                        keel.AlertState
	StateLabel                   string
	Scored                       bool
	Score                        int
	Band                         keel.Band
	BandLabel                    string
	MRR, Currency                string
	Age                          int
	RaisedOn                     time.Time
	Owner                        string
	OwnerValue                   string // the owner's id as the assign form's value; "" for none
	SnoozedUntil                 *time.Time
	SnoozeReason, Note           string
	CanAck, CanWork              bool
	CanAssign, CanTake           bool
	Error, Action                string // a refused form of this warning
	TypedNote, TypedUntil, Typed string // what it held
}

type alertsData struct {
	Tab                          string
	Tabs                         []alertTab
	Rules, Bands, States, Owners []option
	ShowOwner                    bool
	Customer                     int64
	CustomerName                 string
	Rows                         []alertRow
	Pager                        pager
	Next                         string // this page, for the forms to come back to
	Assignees                    []option
	Me                           int64
	SnoozeMin, SnoozeMax         string
	Error                        string
	Filtered                     bool
}

// alertFormError is a refused form of the queue, shown on its warning.
type alertFormError struct {
	ID                  int64
	Action, Message     string
	Note, Until, Reason string
}

// handleAlertsPage is GET /alerts?tab=mine|team|unassigned&rule=&band=
// &owner=&state=&customer=&page=.
func (s *server) handleAlertsPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		return s.alertsPage(w, r, r.URL.Query(), http.StatusOK, nil)
	})
}

// defaultAlertTab: who owns warnings opens on theirs, who manages them
// on the team's.
func defaultAlertTab(me keel.Employee) string {
	if me.Has(keel.RoleCSM) || me.Has(keel.RoleSales) {
		return "mine"
	}
	return "team"
}

// alertsPage renders the queue of query q; fe is a refused form to show.
func (s *server) alertsPage(w http.ResponseWriter, r *http.Request, q url.Values, status int, fe *alertFormError) error {
	if err := s.healthReady(); err != nil {
		return err
	}
	ctx := r.Context()
	l := s.langOf(r)
	me := employeeFrom(ctx)
	tab := q.Get("tab")
	if tab == "" {
		tab = defaultAlertTab(me)
	}
	if err := keel.OneOf("tab", tab, alertTabs); err != nil {
		return err
	}
	var aq alertQuery
	var err error
	if aq.rule, err = queryEnum(q, "rule", keel.AlertRules); err != nil {
		return err
	}
	if aq.band, err = queryEnum(q, "band", keel.Bands); err != nil {
		return err
	}
	state, err := queryEnum(q, "state", keel.AlertStates)
	if err != nil {
		return err
	}
	owner, err := queryID(q, "owner")
	if err != nil {
		return err
	}
	customer, err := queryID(q, "customer")
	if err != nil {
		return err
	}
	if aq.page, err = pageIn(q); err != nil {
		return err
	}
	switch {
	case tab == "mine":
		aq.owner, owner = "me", 0
	case tab == "unassigned":
		aq.owner, owner = "unassigned", 0
	case owner != 0:
		aq.owner = strconv.FormatInt(owner, 10)
	case customer != 0:
		aq.owner = "" // a customer's warnings, whoever owns them (or no one)
	default:
		aq.owner = "team"
	}
	f, err := s.alertFilter(ctx, me, aq)
	if err != nil {
		return err
	}
	f.States = workStates
	if state != "" {
		f.States = []keel.AlertState{state}
	}
	f.CustomerID = customer
	as, total, err := s.healthRecords.Alerts(ctx, f)
	if err != nil {
		return err
	}
	ac, err := s.alertContextOf(ctx, as)
	if err != nil {
		return err
	}
	emps, err := s.employees.Employees(ctx)
	if err != nil {
		return err
	}

	keep := url.Values{}
	for _, k := range []string{"rule", "band", "state", "customer"} {
		if v := q.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	here := url.Values{}
	for k, v := range keep {
		here[k] = v
	}
	here.Set("tab", tab)
	if owner != 0 {
		here.Set("owner", strconv.FormatInt(owner, 10))
	}
	if aq.page.Offset > 0 {
		here.Set("page", strconv.Itoa(aq.page.Offset/pageSize+1))
	}
	today := s.day()
	d := alertsData{Tab: tab, ShowOwner: tab == "team", Customer: customer, Next: "/alerts?" + here.Encode(), Me: me.ID,
		SnoozeMin: day(today.AddDate(0, 0, 1)), SnoozeMax: day(today.AddDate(0, 0, keel.MaxSnoozeDays)),
		Pager:    pagerAt("/alerts", here, aq.page, total),
		Filtered: aq.rule != "" || aq.band != "" || state != "" || owner != 0 || customer != 0}
	for _, t := range alertTabs {
		tq := url.Values{}
		for k, v := range keep {
			tq[k] = v
		}
		tq.Set("tab", t)
		d.Tabs = append(d.Tabs, alertTab{Label: alertTabLabel(l, t), Link: "/alerts?" + tq.Encode(), Current: t == tab})
	}
	d.Rules = append([]option{{Value: "", Label: l.T("Any rule")}}, options(l, keel.AlertRules, ruleLabel, string(aq.rule))...)
	d.Bands = append([]option{{Value: "", Label: l.T("Any band")}}, options(l, keel.Bands, bandLabel, string(aq.band))...)
	d.States = append([]option{{Value: "", Label: l.T("Open or acknowledged")}}, options(l, keel.AlertStates, alertStateLabel, string(state))...)
	d.Owners = append([]option{{Value: "", Label: l.T("Anyone on the team")}}, ownerOptions(emps, owner)...)
	d.Assignees = []option{{Value: "", Label: l.T("No one")}}
	for _, e := range assignees(emps) {
		d.Assignees = append(d.Assignees, option{Value: strconv.FormatInt(e.ID, 10), Label: e.Name})
	}
	if customer != 0 {
		names, err := s.customers.CustomerNames(ctx, []int64{customer})
		if err != nil {
			return err
		}
		d.CustomerName = names[customer]
	}
	if fe != nil {
		d.Error = l.T("Warning %d: %s", fe.ID, fe.Message)
	}
	manager := managesAlerts(me)
	for _, a := range as {
		j := ac.json(a)
		row := alertRow{ID: a.ID, CustomerID: a.CustomerID, Customer: j.Customer, Rule: a.Rule, RuleLabel: ruleLabel(l, a.Rule),
			Evidence: evidenceText(l, a), State: a.State, StateLabel: alertStateLabel(l, a.State), MRR: keel.FormatAmount(a.MRRAtRisk, a.Currency),
			Currency: a.Currency, Age: j.AgeDays, RaisedOn: a.RaisedOn, Owner: j.Owner, SnoozedUntil: a.SnoozedUntil,
			SnoozeReason: a.SnoozeReason, Note: a.Note}
		if a.Owner != nil {
			row.OwnerValue = strconv.FormatInt(*a.Owner, 10)
		}
		if j.Score != nil {
			row.Scored, row.Score, row.Band, row.BandLabel = true, *j.Score, keel.Band(*j.Band), bandLabel(l, keel.Band(*j.Band))
		}
		if a.Live() {
			row.CanWork = mayWork(me, a)
			row.CanAck = row.CanWork && a.State == keel.AlertOpen
			row.CanAssign = manager
			row.CanTake = !manager && a.Owner == nil && (me.Has(keel.RoleCSM) || me.Has(keel.RoleSales)) && me.Can(keel.ActAlertWork) == nil
		}
		if fe != nil && fe.ID == a.ID {
			row.Error, row.Action, row.TypedNote, row.TypedUntil, row.Typed = fe.Message, fe.Action, fe.Note, fe.Until, fe.Reason
		}
		d.Rows = append(d.Rows, row)
	}
	s.render(w, r, status, "alerts", page{Title: l.T("Churn warnings"), Nav: "alerts", Data: d})
	return nil
}

func alertTabLabel(l lang, tab string) string {
	switch tab {
	case "mine":
		return l.T("Mine")
	case "team":
		return l.T("Team")
	case "unassigned":
		return l.T("Unassigned")
	}
	return tab
}

// handleAlertForm is POST /alerts/{id}/{action}: ack, resolve (note),
// snooze (until, reason) or assign (employee_id; empty for no one). It
// goes back to the queue it came from (next); a refusal the employee can
// fix shows that queue again with the message on the warning, and a
// warning that is not theirs is the error page's 403.
func (s *server) handleAlertForm(action string) http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		ctx := r.Context()
		l := s.langOf(r)
		id, err := pathID(r, alertNotFound)
		if err != nil {
			return err
		}
		me := employeeFrom(ctx)
		fe := alertFormError{ID: id, Action: action, Note: r.PostFormValue("note"), Until: r.PostFormValue("until"), Reason: r.PostFormValue("reason")}
		var msg string
		switch action {
		case "ack":
			_, err = s.healthRecords.AckAlert(ctx, me, id)
			msg = l.T("Warning %d acknowledged.", id)
		case "resolve":
			_, err = s.healthRecords.ResolveAlert(ctx, me, id, fe.Note)
			msg = l.T("Warning %d resolved.", id)
		case "snooze":
			var until time.Time
			if v := strings.TrimSpace(fe.Until); v != "" {
				until, err = parseDay("until", v)
			}
			if err == nil {
				_, err = s.healthRecords.SnoozeAlert(ctx, me, id, until, fe.Reason)
			}
			msg = l.T("Warning %d snoozed until %s.", id, strings.TrimSpace(fe.Until))
		case "assign":
			var to int64
			if to, err = formInt("employee_id", r.PostFormValue("employee_id")); err == nil {
				_, err = s.healthRecords.AssignAlert(ctx, me, id, to)
			}
			msg = l.T("Warning %d reassigned.", id)
		}
		next := localPath(r.PostFormValue("next"))
		if r.PostFormValue("next") == "" {
			next = "/alerts"
		}
		if formRefused(err) {
			fe.Message = l.Refusal(err)
			q := url.Values{}
			if u, perr := url.Parse(next); perr == nil && u.Path == "/alerts" {
				q = u.Query()
			}
			return s.alertsPage(w, r, q, statusOf(keel.ErrorCode(err)), &fe)
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, next, msg)
		return nil
	})
}
