package console

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// Churn warnings in the JSON API: the queue (CSMs, sales, leadership,
// admin read it), and working a warning — acknowledge, resolve with a
// note, snooze until a day with a reason, assign — by its owner, or
// anyone for one with no owner; admin and leadership work and reassign
// any. The store judges each change on the warning as locked in its
// transaction, audits it and puts it on the customer's timeline.

// alertJSON is a warning as the API shows it.
type alertJSON struct {
	ID           int64         `json:"id"`
	CustomerID   int64         `json:"customer_id"`
	Customer     string        `json:"customer"`
	Rule         string        `json:"rule"`
	State        string        `json:"state"`
	OwnerID      *int64        `json:"owner_id"` // null = unassigned
	Owner        string        `json:"owner"`
	RaisedOn     string        `json:"raised_on"`
	RaisedAt     string        `json:"raised_at"`
	AgeDays      int           `json:"age_days"`
	Evidence     keel.Evidence `json:"evidence"`
	MRRAtRisk    int64         `json:"mrr_at_risk"`
	Currency     string        `json:"currency"`
	Score        *int          `json:"score"` // the customer's latest score; null when not scored
	Band         *string       `json:"band"`
	AckedBy      *int64        `json:"acked_by"`
	AckedAt      *string       `json:"acked_at"`
	ResolvedBy   *int64        `json:"resolved_by"` // null with resolved_at set: Keel resolved it
	ResolvedAt   *string       `json:"resolved_at"`
	Note         string        `json:"note"`
	SnoozedUntil *string       `json:"snoozed_until"`
	SnoozeReason string        `json:"snooze_reason"`
	Version      int64         `json:"version"`
	URL          string        `json:"url"`
	Page         string        `json:"page"` // the customer's page
}

// alertContext is what a warning's JSON or row shows beside its record:
// names, and the customers' latest scores.
type alertContext struct {
	customers map[int64]string
	employees names
	scores    map[int64]warehouse.HealthRow
	today     time.Time
}

// alertContextOf reads the names of the warnings' customers and owners,
// and their customers' scores of the latest day scored.
func (s *server) alertContextOf(ctx context.Context, as []keel.Alert) (alertContext, error) {
	out := alertContext{scores: map[int64]warehouse.HealthRow{}, today: s.day()}
	var ids []int64
	var us []uint64
	for _, a := range as {
		ids = append(ids, a.CustomerID)
		us = append(us, uint64(a.CustomerID))
	}
	var err error
	if out.customers, err = s.customers.CustomerNames(ctx, ids); err != nil {
		return out, err
	}
	emps, err := s.employees.Employees(ctx)
	if err != nil {
		return out, err
	}
	out.employees = employeeNames(emps)
	if len(us) == 0 {
		return out, nil
	}
	last, err := s.lastHealthDay(ctx)
	if err != nil || last.IsZero() {
		return out, err
	}
	err = s.Health.Health(ctx, warehouse.HealthFilter{From: last, To: last, Customers: us}, func(r warehouse.HealthRow) error {
		out.scores[r.CustomerID] = r
		return nil
	})
	return out, err
}

func (c alertContext) json(a keel.Alert) alertJSON {
	out := alertJSON{ID: a.ID, CustomerID: a.CustomerID, Customer: c.customers[a.CustomerID], Rule: string(a.Rule), State: string(a.State),
		OwnerID: a.Owner, Owner: c.employees.ofPtr(a.Owner), RaisedOn: day(a.RaisedOn), RaisedAt: stamp(a.RaisedAt),
		AgeDays: ageDays(a, c.today), Evidence: a.Evidence, MRRAtRisk: a.MRRAtRisk, Currency: a.Currency,
		AckedBy: a.AckedBy, AckedAt: stampPtr(a.AckedAt), ResolvedBy: a.ResolvedBy, ResolvedAt: stampPtr(a.ResolvedAt), Note: a.Note,
		SnoozedUntil: dayPtr(a.SnoozedUntil), SnoozeReason: a.SnoozeReason, Version: a.Version,
		URL: location("alerts", a.ID), Page: "/customers/" + i64(a.CustomerID) + "#health"}
	if out.Evidence == nil {
		out.Evidence = keel.Evidence{}
	}
	if r, ok := c.scores[a.CustomerID]; ok {
		score, band := r.Score, string(r.Band)
		out.Score, out.Band = &score, &band
	}
	return out
}

// alertQuery is a warning list's filters as a request names them.
type alertQuery struct {
	owner string // me, unassigned, team or an employee id; "" = anyone
	state string // a state, or live (open, acknowledged or snoozed); "" = any
	rule  keel.AlertRule
	band  keel.Band
	page  keel.Page
}

// alertOwners are the values of the owner parameter besides an id.
var alertOwners = []string{"me", "unassigned", "team"}

// readAlertQuery checks a list's filters, naming the parameter.
func readAlertQuery(q url.Values) (alertQuery, error) {
	var out alertQuery
	var err error
	out.owner = q.Get("owner")
	if out.owner != "" && keel.OneOf("owner", out.owner, alertOwners) != nil {
		if _, err := queryID(q, "owner"); err != nil {
			return out, keel.Invalid("owner", "%q is none of me, unassigned, team or an employee id", out.owner)
		}
	}
	out.state = q.Get("state")
	if out.state != "" && out.state != "live" {
		if err := keel.OneOf("state", keel.AlertState(out.state), keel.AlertStates); err != nil {
			return out, keel.Invalid("state", "%q is none of open, acknowledged, snoozed, resolved or live", out.state)
		}
	}
	if out.rule, err = queryEnum(q, "rule", keel.AlertRules); err != nil {
		return out, err
	}
	if out.band, err = queryEnum(q, "band", keel.Bands); err != nil {
		return out, err
	}
	return out, nil
}

// alertFilter makes the store's filter of q for me: the owner (the team
// is everyone who sells or looks after customers), the states, and for a
// band the customers whose latest score is in it.
func (s *server) alertFilter(ctx context.Context, me keel.Employee, q alertQuery) (keel.AlertFilter, error) {
	f := keel.AlertFilter{Rule: q.rule, Page: q.page}
	switch q.owner {
	case "":
	case "me":
		f.Owner = me.ID
	case "unassigned":
		f.Unassigned = true
	case "team":
		emps, err := s.employees.Employees(ctx)
		if err != nil {
			return f, err
		}
		f.Owners = teamOwners(emps)
	default:
		id, _ := queryID(url.Values{"owner": {q.owner}}, "owner")
		f.Owner = id
	}
	switch q.state {
	case "":
	case "live":
		f.States = liveStates
	default:
		f.States = []keel.AlertState{keel.AlertState(q.state)}
	}
	if q.band != "" {
		stamp, err := s.Health.HealthStamp(ctx)
		if err != nil {
			return f, err
		}
		f.Customers = []int64{}
		if last := stamp.Last; !last.IsZero() {
			briefs, err := s.healthBriefs(ctx, stamp, last)
			if err != nil {
				return f, err
			}
			for _, b := range briefs {
				if b.Band == q.band {
					f.Customers = append(f.Customers, b.CustomerID)
				}
			}
		}
	}
	return f, nil
}

// handleAlertList is GET /alerts?owner=me|ID|unassigned|team&state=&rule=
// &band=&customer_id=: the warnings, the most MRR at risk first, then the
// oldest.
func (s *server) handleAlertList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		q, err := queryParams(r, "owner", "state", "rule", "band", "customer_id", "limit", "offset")
		if err != nil {
			return err
		}
		aq, err := readAlertQuery(q)
		if err != nil {
			return err
		}
		customer, err := queryID(q, "customer_id")
		if err != nil {
			return err
		}
		if aq.page, err = queryPage(q); err != nil {
			return err
		}
		ctx := r.Context()
		f, err := s.alertFilter(ctx, employeeFrom(ctx), aq)
		if err != nil {
			return err
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
		writeJSON(w, http.StatusOK, newList(as, total, aq.page, ac.json))
		return nil
	})
}

// alertAnswer answers a worked warning with what it is now.
func (s *server) alertAnswer(w http.ResponseWriter, r *http.Request, a keel.Alert) error {
	ac, err := s.alertContextOf(r.Context(), []keel.Alert{a})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ac.json(a))
	return nil
}

// alertWork is an API route that works the warning of its path with do.
func (s *server) alertWork(body any, do func(r *http.Request, by keel.Employee, id int64) (keel.Alert, error)) http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		id, err := pathID(r, alertNotFound)
		if err != nil {
			return err
		}
		if err := decodeBody(w, r, maxBodyBytes, body == nil, bodyOr(body)); err != nil {
			return err
		}
		a, err := do(r, employeeFrom(r.Context()), id)
		if err != nil {
			return err
		}
		return s.alertAnswer(w, r, a)
	})
}

// bodyOr is where a body is decoded: v, or, for a route that takes none,
// an empty object (so that a stray field is refused).
func bodyOr(v any) any {
	if v == nil {
		return &struct{}{}
	}
	return v
}

// handleAlertAck is POST /alerts/{id}/ack (no body).
func (s *server) handleAlertAck() http.HandlerFunc {
	return s.alertWork(nil, func(r *http.Request, by keel.Employee, id int64) (keel.Alert, error) {
		return s.healthRecords.AckAlert(r.Context(), by, id)
	})
}

// handleAlertResolve is POST /alerts/{id}/resolve {note}: the note is
// required.
func (s *server) handleAlertResolve() http.HandlerFunc {
	type resolve struct {
		Note string `json:"note"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var req resolve
		s.alertWork(&req, func(r *http.Request, by keel.Employee, id int64) (keel.Alert, error) {
			return s.healthRecords.ResolveAlert(r.Context(), by, id, req.Note)
		})(w, r)
	}
}

// handleAlertSnooze is POST /alerts/{id}/snooze {until, reason}: until a
// day after today, at most 180 days ahead, with a reason.
func (s *server) handleAlertSnooze() http.HandlerFunc {
	type snooze struct {
		Until  string `json:"until"`
		Reason string `json:"reason"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var req snooze
		s.alertWork(&req, func(r *http.Request, by keel.Employee, id int64) (keel.Alert, error) {
			var until time.Time
			if req.Until != "" {
				var err error
				if until, err = parseDay("until", req.Until); err != nil {
					return keel.Alert{}, err
				}
			}
			return s.healthRecords.SnoozeAlert(r.Context(), by, id, until, req.Reason)
		})(w, r)
	}
}

// handleAlertAssign is POST /alerts/{id}/assign {employee_id}: to an
// active CSM or seller, or null to unassign.
func (s *server) handleAlertAssign() http.HandlerFunc {
	type assign struct {
		EmployeeID optional[int64] `json:"employee_id"`
	}
	return func(w http.ResponseWriter, r *http.Request) {
		var req assign
		s.alertWork(&req, func(r *http.Request, by keel.Employee, id int64) (keel.Alert, error) {
			if !req.EmployeeID.Set {
				return keel.Alert{}, keel.Invalid("employee_id", "required (an employee id, or null for no one)")
			}
			to := req.EmployeeID.V
			if !req.EmployeeID.Null && to < 1 {
				return keel.Alert{}, keel.Invalid("employee_id", "%d is not an employee id", to)
			}
			return s.healthRecords.AssignAlert(r.Context(), by, id, to)
		})(w, r)
	}
}
