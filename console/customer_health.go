package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The customer page's health panel, for those who read health: the
// latest score and band against a week and a month before, 90 days of
// scores, each component with its value, sub-score and weight (and which
// had no data), the warnings not resolved, and what happened to the
// customer's warnings — their timeline.

type custHealthComponent struct {
	Component           keel.HealthComponent
	Label, Value        string
	Sub, Weight, Points string
	NoData              bool
}

type custHealthTrend struct {
	Days, Then, Change int
	Class              string
}

type custHealthWarning struct {
	ID                        int64
	Rule                      keel.AlertRule
	RuleLabel, Evidence       string
	State                     keel.AlertState
	StateLabel, MRR, Currency string
	Age                       int
	Owner                     string
	SnoozedUntil              *time.Time
}

type custHealthEvent struct {
	At                            time.Time
	AlertID                       int64
	RuleLabel, ActionLabel, Actor string
	Detail                        string
}

// custHealthPanel is the panel; Unavailable when the warehouse could not
// be read (the page is the records', and is shown without it).
type custHealthPanel struct {
	Unavailable  bool
	Scored       bool
	Day          string
	Score        int
	Band         keel.Band
	BandLabel    string
	Trends       []custHealthTrend
	Chart        chart
	From, To     string
	Components   []custHealthComponent
	NoData       string
	Warnings     []custHealthWarning
	WarningsLink string
	Events       []custHealthEvent
}

// customerAlertEvents is how much of a customer's warning timeline the
// page shows.
const customerAlertEvents = 50

// customerHealthPanel builds customer id's health panel; nil for those
// who may not read health or a console without it.
func (s *server) customerHealthPanel(ctx context.Context, r *http.Request, id int64) *custHealthPanel {
	if s.healthReady() != nil || employeeFrom(ctx).Can(keel.ActHealthRead) != nil {
		return nil
	}
	p, err := s.buildCustomerHealth(ctx, s.langOf(r), id)
	if err != nil {
		s.Log.Error("console", "path", r.URL.Path, "err", fmt.Errorf("customer %d health: %w", id, err))
		return &custHealthPanel{Unavailable: true}
	}
	return p
}

func (s *server) buildCustomerHealth(ctx context.Context, l lang, id int64) (*custHealthPanel, error) {
	to, err := s.lastHealthDay(ctx)
	if err != nil {
		return nil, err
	}
	if to.IsZero() {
		to = s.day().AddDate(0, 0, -1)
	}
	from := to.AddDate(0, 0, -89)
	h, err := s.customerHealthOf(ctx, id, from, to)
	if err != nil {
		return nil, err
	}
	settings, err := s.healthRecords.HealthSettings(ctx)
	if err != nil {
		return nil, err
	}
	p := &custHealthPanel{From: day(from), To: day(to), WarningsLink: "/alerts?tab=team&customer=" + strconv.FormatInt(id, 10)}
	if h.Latest != nil {
		x := h.Latest
		p.Scored, p.Day, p.Score, p.Band, p.BandLabel = true, day(x.Day), x.Score, x.Band, bandLabel(l, x.Band)
		p.Chart = scoreChart(l, h.Days, settings)
		var nd []string
		for _, c := range x.Components {
			row := custHealthComponent{Component: c.Component, Label: componentLabel(l, c.Component), Value: componentValue(l, c, x.Currency),
				Weight: strconv.Itoa(c.Weight), NoData: c.NoData}
			if c.NoData {
				nd = append(nd, row.Label)
			} else {
				row.Sub = strconv.FormatFloat(c.Sub, 'f', 0, 64)
				row.Points = strconv.FormatFloat(x.Contribution(c.Component), 'f', 1, 64)
			}
			p.Components = append(p.Components, row)
		}
		p.NoData = strings.Join(nd, ", ")
		for _, n := range healthTrendDays {
			if then := h.Then[n]; then != nil {
				d := x.Score - then.Score
				p.Trends = append(p.Trends, custHealthTrend{Days: n, Then: then.Score, Change: d, Class: trendClass(int64(d), true)})
			}
		}
	}
	as, _, err := s.healthRecords.Alerts(ctx, keel.AlertFilter{CustomerID: id, States: liveStates, Page: keel.Page{Limit: keel.MaxPageSize}})
	if err != nil {
		return nil, err
	}
	emps, err := s.employees.Employees(ctx)
	if err != nil {
		return nil, err
	}
	names := employeeNames(emps)
	today := s.day()
	for _, a := range as {
		p.Warnings = append(p.Warnings, custHealthWarning{ID: a.ID, Rule: a.Rule, RuleLabel: ruleLabel(l, a.Rule), Evidence: evidenceText(l, a),
			State: a.State, StateLabel: alertStateLabel(l, a.State), MRR: keel.FormatAmount(a.MRRAtRisk, a.Currency), Currency: a.Currency,
			Age: ageDays(a, today), Owner: names.ofPtr(a.Owner), SnoozedUntil: a.SnoozedUntil})
	}
	events, err := s.healthRecords.AlertEvents(ctx, id, customerAlertEvents)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		actor := names.of(e.ActorID)
		if e.ActorID == 0 {
			actor = "Keel"
		}
		p.Events = append(p.Events, custHealthEvent{At: e.At, AlertID: e.AlertID, RuleLabel: ruleLabel(l, e.Rule),
			ActionLabel: alertActionLabel(l, e.Action), Actor: actor, Detail: e.Detail})
	}
	return p, nil
}
