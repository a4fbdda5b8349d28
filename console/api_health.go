package console

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// Health in the JSON API (CSMs, sales, leadership, admin): a customer's
// daily scores, the latest score of every customer, and the health
// settings (admin changes them). Scores are 0–100; a component's value is
// in its unit, its sub_score 0–100, its points what it gave the score
// (weight × sub-score ÷ the weights with data).

// maxHealthDays bounds the span of one customer's scores in one answer.
const maxHealthDays = 731

// componentJSON is one component of a score.
type componentJSON struct {
	Component string  `json:"component"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	SubScore  float64 `json:"sub_score"`
	Weight    int     `json:"weight"`
	NoData    bool    `json:"no_data"`
	Points    float64 `json:"points"`
}

// healthDayJSON is a customer's score of one day.
type healthDayJSON struct {
	Day        string          `json:"day"`
	Score      int             `json:"score"`
	Band       string          `json:"band"`
	MRR        int64           `json:"mrr"`
	Currency   string          `json:"currency"`
	Components []componentJSON `json:"components"`
	NoData     []string        `json:"no_data"` // the components without data, left out of the score
}

func toHealthDayJSON(r warehouse.HealthRow) healthDayJSON {
	out := healthDayJSON{Day: day(r.Day), Score: r.Score, Band: string(r.Band), MRR: r.MRR, Currency: r.Currency,
		Components: make([]componentJSON, len(r.Components)), NoData: noDataOf(r.HealthScore)}
	for i, c := range r.Components {
		out.Components[i] = componentJSON{Component: string(c.Component), Value: c.Value, Unit: c.Unit, SubScore: c.Sub, Weight: c.Weight,
			NoData: c.NoData, Points: points(r.Contribution(c.Component))}
	}
	return out
}

// healthMoverJSON is a component's part in a change of score, in points.
type healthMoverJSON struct {
	Component string  `json:"component"`
	Points    float64 `json:"points"`
}

func moversJSON(now, then keel.HealthScore) []healthMoverJSON {
	out := []healthMoverJSON{}
	for _, m := range keel.Movers(now, then) {
		out = append(out, healthMoverJSON{Component: string(m.Component), Points: points(m.Points)})
	}
	return out
}

// healthTrendJSON compares the latest score with one of Days before.
type healthTrendJSON struct {
	Days   int               `json:"days"`
	Day    string            `json:"day"` // the day compared with
	Score  int               `json:"score"`
	Change int               `json:"change"` // latest − then
	Movers []healthMoverJSON `json:"movers"` // the components that moved it, the most first
}

func trendsJSON(h customerHealth) []healthTrendJSON {
	out := []healthTrendJSON{}
	if h.Latest == nil {
		return out
	}
	for _, n := range healthTrendDays {
		then := h.Then[n]
		if then == nil {
			continue
		}
		out = append(out, healthTrendJSON{Days: n, Day: day(then.Day), Score: then.Score, Change: h.Latest.Score - then.Score,
			Movers: moversJSON(h.Latest.HealthScore, then.HealthScore)})
	}
	return out
}

// healthSpan reads from and to (days, both included): to defaults to the
// last day scored (yesterday before any), from to the 90 days ending with
// to.
func (s *server) healthSpan(r *http.Request, q url.Values) (time.Time, time.Time, error) {
	var from, to time.Time
	var err error
	if v := q.Get("to"); v != "" {
		if to, err = parseDay("to", v); err != nil {
			return from, to, err
		}
	} else {
		if to, err = s.lastHealthDay(r.Context()); err != nil {
			return from, to, err
		}
		if to.IsZero() {
			to = s.day().AddDate(0, 0, -1)
		}
	}
	from = to.AddDate(0, 0, -89)
	if v := q.Get("from"); v != "" {
		if from, err = parseDay("from", v); err != nil {
			return from, to, err
		}
	}
	if from.After(to) {
		return from, to, keel.Invalid("from", "%s is after to (%s)", day(from), day(to))
	}
	if n := int(to.Sub(from).Hours()/24) + 1; n > maxHealthDays {
		return from, to, keel.Invalid("from", "%d days at once; at most %d", n, maxHealthDays)
	}
	return from, to, nil
}

// handleCustomerHealth is GET /customers/{id}/health?from=&to=: the
// customer's daily scores with every component, the latest compared with
// 7 and 30 days before it and what moved it.
func (s *server) handleCustomerHealth() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		q, err := queryParams(r, "from", "to")
		if err != nil {
			return err
		}
		c, err := pathRecord(r, keel.CustomerNotFound, s.customers.Customer)
		if err != nil {
			return err
		}
		from, to, err := s.healthSpan(r, q)
		if err != nil {
			return err
		}
		h, err := s.customerHealthOf(r.Context(), c.ID, from, to)
		if err != nil {
			return err
		}
		days := make([]healthDayJSON, len(h.Days))
		for i, d := range h.Days {
			days[i] = toHealthDayJSON(d)
		}
		out := map[string]any{"customer_id": c.ID, "name": c.Name, "from": day(from), "to": day(to), "latest": nil,
			"trend": trendsJSON(h), "movers": []healthMoverJSON{}, "days": days}
		if h.Latest != nil {
			out["latest"] = toHealthDayJSON(*h.Latest)
			if then := h.Then[healthTrendDays[0]]; then != nil {
				out["movers"] = moversJSON(h.Latest.HealthScore, then.HealthScore)
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// healthItemJSON is a customer's latest score in the list.
type healthItemJSON struct {
	CustomerID int64  `json:"customer_id"`
	Name       string `json:"name"`
	SalesOwner *int64 `json:"sales_owner"`
	CSMOwner   *int64 `json:"csm_owner"`
	healthDayJSON
	URL  string `json:"url"`
	Page string `json:"page"`
}

// ownerParam reads an owner parameter that names an employee: "me" or an
// id; 0 when absent.
func ownerParam(q url.Values, me keel.Employee) (int64, error) {
	if q.Get("owner") == "me" {
		return me.ID, nil
	}
	id, err := queryID(q, "owner")
	if err != nil {
		return 0, keel.Invalid("owner", "%q is neither me nor an employee id", q.Get("owner"))
	}
	return id, nil
}

// ownedCustomers are the ids of the customers owner sells or looks after.
func (s *server) ownedCustomers(r *http.Request, owner int64) ([]uint64, error) {
	ids, err := s.Names.CustomersOwnedBy(r.Context(), owner)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(ids))
	for i, id := range ids {
		out[i] = uint64(id)
	}
	return out, nil
}

// handleHealthList is GET /health?band=&owner=me|ID&limit=&offset=: the
// latest day's score of every customer scored, the lowest first.
func (s *server) handleHealthList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		q, err := queryParams(r, "band", "owner", "limit", "offset")
		if err != nil {
			return err
		}
		band, err := queryEnum(q, "band", keel.Bands)
		if err != nil {
			return err
		}
		owner, err := ownerParam(q, employeeFrom(r.Context()))
		if err != nil {
			return err
		}
		p, err := queryPage(q)
		if err != nil {
			return err
		}
		ctx := r.Context()
		last, err := s.lastHealthDay(ctx)
		if err != nil {
			return err
		}
		if last.IsZero() {
			writeJSON(w, http.StatusOK, map[string]any{"day": nil, "items": []healthItemJSON{}, "total": 0, "limit": p.Limit, "offset": p.Offset})
			return nil
		}
		f := warehouse.HealthListFilter{Day: last, Band: band, Limit: p.Limit, Offset: p.Offset}
		if owner != 0 {
			if f.Customers, err = s.ownedCustomers(r, owner); err != nil {
				return err
			}
		}
		rows, total, err := s.Health.HealthList(ctx, f)
		if err != nil {
			return err
		}
		ids := make([]int64, len(rows))
		for i, x := range rows {
			ids[i] = x.CustomerID
		}
		refs, err := s.customerOwnersOf(r, ids)
		if err != nil {
			return err
		}
		l := newList(rows, total, p, func(x warehouse.HealthRow) healthItemJSON {
			c := refs[x.CustomerID]
			return healthItemJSON{CustomerID: x.CustomerID, Name: c.Name, SalesOwner: optID(c.SalesOwner), CSMOwner: optID(c.CSMOwner),
				healthDayJSON: toHealthDayJSON(x), URL: location("customers", x.CustomerID) + "/health", Page: "/customers/" + i64(x.CustomerID) + "#health"}
		})
		writeJSON(w, http.StatusOK, map[string]any{"day": day(last), "items": l.Items, "total": l.Total, "limit": l.Limit, "offset": l.Offset})
		return nil
	})
}

// customerOwnersOf are the names and owners of customers ids.
func (s *server) customerOwnersOf(r *http.Request, ids []int64) (map[int64]keel.CustomerOwner, error) {
	out := map[int64]keel.CustomerOwner{}
	if len(ids) == 0 {
		return out, nil
	}
	cs, err := s.Names.CustomerOwners(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		out[c.ID] = c
	}
	return out, nil
}

// optID is an employee id as the API shows it: null for none.
func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// healthSettingFields are the settings' integer fields by their names,
// for reading a request or a form onto settings.
func healthSettingFields(s *keel.HealthSettings) []struct {
	name string
	to   *int
} {
	return []struct {
		name string
		to   *int
	}{
		{"red_max", &s.RedMax}, {"yellow_max", &s.YellowMax}, {"trend_up", &s.TrendUp}, {"trend_flat", &s.TrendFlat},
		{"trend_down", &s.TrendDown}, {"seats_full_pct", &s.SeatsFullPct}, {"login_fresh_days", &s.LoginFreshDays},
		{"login_stale_days", &s.LoginStaleDays}, {"renewal_safe_days", &s.RenewalSafeDays}, {"renewal_floor", &s.RenewalFloor},
		{"payment_overdue_days", &s.PaymentOverdueDays}, {"ticket_overdue_days", &s.TicketOverdueDays},
		{"ticket_open_penalty", &s.TicketOpenPenalty}, {"ticket_overdue_penalty", &s.TicketOverduePenalty},
		{"no_login_days", &s.NoLoginDays}, {"login_drop_pct", &s.LoginDropPct}, {"baseline_weeks", &s.BaselineWeeks},
		{"low_seats_pct", &s.LowSeatsPct}, {"renewal_risk_days", &s.RenewalRiskDays}, {"scored_ended_days", &s.ScoredEndedDays},
		{"score_hour", &s.ScoreHour}, {"digest_max_warnings", &s.DigestMaxWarnings},
	}
}

// healthSettingsOut is the settings as the API shows them: the domain's
// own JSON (keel.HealthSettings names each field as METRICS.md does), with
// every component's weight listed, 0 for one left out.
func healthSettingsOut(st keel.HealthSettings) keel.HealthSettings {
	w := make(map[keel.HealthComponent]int, len(keel.HealthComponents))
	for _, c := range keel.HealthComponents {
		w[c] = st.Weights[c]
	}
	st.Weights = w
	return st
}

// handleHealthSettingsGet is GET /settings/health.
func (s *server) handleHealthSettingsGet() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		if _, err := queryParams(r); err != nil {
			return err
		}
		st, err := s.healthRecords.HealthSettings(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, healthSettingsOut(st))
		return nil
	})
}

// decodeHealthSettings reads the body of PUT /settings/health onto cur: a
// field left out (or sent as null) keeps its value, and so does a
// component left out of weights. The weights are read first as sent, so
// that a component the settings do not have, or a weight sent as null, is
// refused naming it rather than stored as 0.
func decodeHealthSettings(w http.ResponseWriter, r *http.Request, cur keel.HealthSettings) (keel.HealthSettings, error) {
	var raw json.RawMessage
	if err := decodeBody(w, r, maxBodyBytes, false, &raw); err != nil {
		return cur, err
	}
	var sent struct {
		Weights map[string]*int `json:"weights"`
	}
	if err := json.Unmarshal(raw, &sent); err != nil {
		return cur, jsonError("", err, maxBodyBytes)
	}
	for c, w := range sent.Weights {
		if err := keel.OneOf("weights", keel.HealthComponent(c), keel.HealthComponents); err != nil {
			return cur, err
		}
		if w == nil {
			return cur, keel.Invalid("weights."+c, "want an integer")
		}
	}
	next := cur
	next.Weights = maps.Clone(cur.Weights) // decoding merges into the map: not into cur's
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&next); err != nil {
		return cur, jsonError("", err, maxBodyBytes)
	}
	return next, nil
}

// handleHealthSettingsPut changes the health settings (admin); the store
// validates them, naming the field (a negative weight, all weights zero,
// bands that do not rise …), and audits the change. The next scoring uses
// them.
func (s *server) handleHealthSettingsPut() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.healthReady(); err != nil {
			return err
		}
		cur, err := s.healthRecords.HealthSettings(r.Context())
		if err != nil {
			return err
		}
		next, err := decodeHealthSettings(w, r, cur)
		if err != nil {
			return err
		}
		saved, err := s.healthRecords.SetHealthSettings(r.Context(), employeeFrom(r.Context()), next)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, healthSettingsOut(saved))
		return nil
	})
}
