package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// auditEntities are the records the audit log names (postgres writes
// them), in the order the filter offers them.
var auditEntities = []string{"customer", "follow_up", "order", "product", "price_version", "employee", "api_token", "ingest_key"}

// auditRow is an audit entry as the pages show one.
type auditRow struct {
	At                time.Time
	ActorID           int64
	Actor, ActorEmail string
	Action            string
	Entity            string
	EntityID          int64
	Link              string // the record's page, when it has one
	Created           bool   // the change created the record
	Changes           []fieldChange
	Before, After     []auditField // the whole record; nil when there was none
}

// auditRows shows entries with the names of who made them and the
// records before and after, read by v.
func auditRows(v auditView, entries []keel.AuditEntry) []auditRow {
	out := make([]auditRow, len(entries))
	for i, a := range entries {
		before, link := v.record(a.Entity, a.Before)
		after, afterLink := v.record(a.Entity, a.After)
		if afterLink != "" {
			link = afterLink
		}
		switch a.Entity {
		case "customer", "order", "product", "employee":
			// A record deleted (a draft order) has no page to link to.
			if a.EntityID > 0 && !(before != nil && after == nil) {
				link = "/" + a.Entity + "s/" + strconv.FormatInt(a.EntityID, 10)
			}
		}
		row := auditRow{At: a.At, ActorID: a.ActorID, Actor: v.employee0(a.ActorID), ActorEmail: a.Actor, Action: a.Action,
			Entity: entityLabel(v.l, a.Entity), EntityID: a.EntityID, Link: link,
			Created: before == nil, Changes: changes(before, after), Before: before, After: after}
		if _, known := v.employees[a.ActorID]; !known && a.ActorID != 0 {
			row.Actor = a.Actor // departed and no longer listed: the email the entry kept
		}
		out[i] = row
	}
	return out
}

// auditRowsOf reads what entries refer to and shows them; emps are the
// employees when the page has read them (nil = read them).
func (s *server) auditRowsOf(ctx context.Context, l lang, entries []keel.AuditEntry, emps []keel.Employee) ([]auditRow, error) {
	v, err := s.auditViewOf(ctx, l, entries, emps)
	if err != nil {
		return nil, err
	}
	return auditRows(v, entries), nil
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
		for _, e := range emps {
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
			if d.Rows, err = s.auditRowsOf(r.Context(), l, rows, emps); err != nil {
				return err
			}
			d.Pager = pagerOf(r, f.Page, total)
		}
		s.render(w, r, status, "audit", page{Title: l.T("Audit"), Nav: "audit", Data: d})
		return nil
	})
}
