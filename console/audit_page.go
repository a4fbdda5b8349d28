package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// auditEntities are the records the audit log names (postgres writes
// them), in the order the filter offers them.
var auditEntities = []string{"customer", "follow_up", "order", "product", "price_version", "employee", "api_token"}

// fieldChange is one top-level field of a record that a change changed.
type fieldChange struct {
	Field    string
	Old, New string
}

// auditRow is an audit entry as the pages show one.
type auditRow struct {
	At                    time.Time
	ActorID               int64
	Actor, ActorEmail     string
	Action                string
	Entity                string
	EntityID              int64
	Link                  string // the record's page, when it has one
	Created               bool   // the change created the record
	Changes               []fieldChange
	BeforeJSON, AfterJSON string
}

func toAuditRows(l lang, entries []keel.AuditEntry, names map[int64]keel.Employee) []auditRow {
	out := make([]auditRow, len(entries))
	for i, a := range entries {
		row := auditRow{At: a.At, ActorID: a.ActorID, Actor: a.Actor, ActorEmail: a.Actor, Action: a.Action,
			Entity: entityLabel(l, a.Entity), EntityID: a.EntityID, Link: auditLink(a),
			Created: jsonNull(a.Before), Changes: auditDiff(a.Before, a.After),
			BeforeJSON: prettyJSON(a.Before), AfterJSON: prettyJSON(a.After)}
		if a.ActorID == 0 {
			row.Actor = keel.System.Name
		} else if e, ok := names[a.ActorID]; ok {
			row.Actor = e.Name
		}
		out[i] = row
	}
	return out
}

// auditLink is the page of the record an entry changed, "" when it has
// none; a follow-up is shown on its customer's page, a price on its
// product's.
func auditLink(a keel.AuditEntry) string {
	id := a.EntityID
	field := func(name string) int64 {
		for _, raw := range []json.RawMessage{a.After, a.Before} {
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) == nil {
				if n, err := strconv.ParseInt(string(m[name]), 10, 64); err == nil && n > 0 {
					return n
				}
			}
		}
		return 0
	}
	switch a.Entity {
	case "customer", "order", "product", "employee":
		if id > 0 {
			return "/" + a.Entity + "s/" + strconv.FormatInt(id, 10)
		}
	case "follow_up":
		if c := field("CustomerID"); c > 0 {
			return "/customers/" + strconv.FormatInt(c, 10)
		}
	case "price_version":
		if p := field("ProductID"); p > 0 {
			return "/products/" + strconv.FormatInt(p, 10)
		}
	}
	return ""
}

func jsonNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

func prettyJSON(raw json.RawMessage) string {
	if jsonNull(raw) {
		return "null"
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

// objectFields reads a JSON object's fields in their order; ok is false
// when raw is not an object.
func objectFields(raw json.RawMessage) (keys []string, vals map[string]json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	vals = map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, false
		}
		if _, dup := vals[k]; !dup {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, false
	}
	return keys, vals, true
}

// compact is raw without insignificant space, for comparing values.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// emptyValue reports whether a created record's field is worth leaving out.
func emptyJSONValue(raw json.RawMessage) bool {
	switch compactJSON(raw) {
	case "null", `""`, "0", "false", "[]", "{}", `"0001-01-01T00:00:00Z"`:
		return true
	}
	return false
}

// auditDiff lists the top-level fields whose values differ between a
// record before and after a change, in the record's field order; for a
// created record, its fields that have a value (but its ID, shown beside).
func auditDiff(before, after json.RawMessage) []fieldChange {
	bk, bv, bok := objectFields(before)
	ak, av, aok := objectFields(after)
	if (!bok && !jsonNull(before)) || (!aok && !jsonNull(after)) {
		// Not records: the whole value changed, or did not.
		if compactJSON(before) == compactJSON(after) {
			return nil
		}
		return []fieldChange{{Old: shortValue(before), New: shortValue(after)}}
	}
	created := jsonNull(before)
	var out []fieldChange
	seen := map[string]bool{}
	for _, k := range append(ak, bk...) {
		if seen[k] {
			continue
		}
		seen[k] = true
		o, n := bv[k], av[k]
		if compactJSON(o) == compactJSON(n) || created && (emptyJSONValue(n) || k == "ID") {
			continue
		}
		out = append(out, fieldChange{Field: k, Old: shortValue(o), New: shortValue(n)})
	}
	return out
}

// auditValueMax is how much of a changed value the audit page shows.
const auditValueMax = 80

// shortValue shows a JSON value briefly: strings without quotes, lists of
// plain values joined by commas, anything else as compact JSON, cut at 80
// characters.
func shortValue(raw json.RawMessage) string {
	if jsonNull(raw) {
		return "—"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return clip(compactJSON(raw), auditValueMax)
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return clip(x, auditValueMax)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			switch e := e.(type) {
			case string:
				parts = append(parts, e)
			case json.Number:
				parts = append(parts, e.String())
			case bool:
				parts = append(parts, strconv.FormatBool(e))
			default:
				return clip(compactJSON(raw), auditValueMax)
			}
		}
		if len(parts) == 0 {
			return "[]"
		}
		return clip(strings.Join(parts, ", "), auditValueMax)
	}
	return clip(compactJSON(raw), auditValueMax)
}

// auditFilterForm is the audit page's filter as typed.
type auditFilterForm struct {
	Actor, Entity, EntityID, From, To string
}

type auditData struct {
	Filter   auditFilterForm
	Actors   []option
	Entities []option
	Rows     []auditRow
	Pager    pager
	Error    string
}

// parseAuditFilter reads the audit page's query; from and to are days of
// cal, to included.
func parseAuditFilter(cal keel.Calendar, q url.Values) (keel.AuditFilter, error) {
	var f keel.AuditFilter
	var err error
	if f.ActorID, err = queryID(q, "actor"); err != nil {
		return f, err
	}
	if v := q.Get("entity"); v != "" {
		if err = keel.OneOf("entity", v, auditEntities); err != nil {
			return f, err
		}
		f.Entity = v
	}
	if f.EntityID, err = queryID(q, "entity_id"); err != nil {
		return f, err
	}
	f.From, f.To, err = parseSpan(cal, q)
	return f, err
}

// handleAuditPage lists the audit log, newest first, filtered by who, which
// record and when.
func (s *server) handleAuditPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		q := r.URL.Query()
		d := auditData{Filter: auditFilterForm{Actor: q.Get("actor"), Entity: q.Get("entity"), EntityID: q.Get("entity_id"),
			From: q.Get("from"), To: q.Get("to")}}
		emps, err := s.employees.Employees(r.Context())
		if err != nil {
			return err
		}
		names := make(map[int64]keel.Employee, len(emps))
		for _, e := range emps {
			names[e.ID] = e
			id := strconv.FormatInt(e.ID, 10)
			d.Actors = append(d.Actors, option{Value: id, Label: e.Name + " <" + e.Email + ">", Selected: id == d.Filter.Actor})
		}
		d.Entities = options(l, auditEntities, entityLabel, d.Filter.Entity)
		status := http.StatusOK
		f, err := parseAuditFilter(s.Calendar, q)
		if err == nil {
			f.Page, err = pageOf(r)
		}
		if keel.ErrorCode(err) == keel.EINVALID {
			d.Error, status = l.Refusal(err), http.StatusBadRequest
		} else if err != nil {
			return err
		} else {
			rows, total, err := s.audit.Audit(r.Context(), f)
			if err != nil {
				return err
			}
			d.Rows, d.Pager = toAuditRows(l, rows, names), pagerOf(r, f.Page, total)
		}
		s.render(w, r, status, "audit", page{Title: l.T("Audit"), Nav: "audit", Data: d})
		return nil
	})
}
