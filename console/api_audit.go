package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// AuditStore is what the audit handlers read: the audit log.
type AuditStore interface {
	Audit(ctx context.Context, f keel.AuditFilter) ([]keel.AuditEntry, int, error)
}

// auditJSON is one change to one record; before and after are the record
// as JSON, null when it was created or deleted.
type auditJSON struct {
	ID       int64           `json:"id"`
	At       string          `json:"at"`
	ActorID  int64           `json:"actor_id"` // 0 = the keel CLI (system)
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Entity   string          `json:"entity"`
	EntityID int64           `json:"entity_id"`
	Before   json.RawMessage `json:"before"`
	After    json.RawMessage `json:"after"`
}

func toAuditJSON(a keel.AuditEntry) auditJSON {
	out := auditJSON{ID: a.ID, At: stamp(a.At), ActorID: a.ActorID, Actor: a.Actor, Action: a.Action, Entity: a.Entity,
		EntityID: a.EntityID, Before: a.Before, After: a.After}
	if len(out.Before) == 0 {
		out.Before = json.RawMessage("null")
	}
	if len(out.After) == 0 {
		out.After = json.RawMessage("null")
	}
	return out
}

// handleAudit lists the audit log, newest first. actor is an employee id
// or email; from and to are days (to inclusive) or RFC 3339 times (to
// exclusive).
func (s *server) handleAudit() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "actor", "entity", "entity_id", "from", "to", "limit", "offset")
		if err != nil {
			return err
		}
		var f keel.AuditFilter
		if a := q.Get("actor"); a != "" {
			if id, err := strconv.ParseInt(a, 10, 64); err == nil && id > 0 {
				f.ActorID = id
			} else if strings.Contains(a, "@") {
				e, err := s.employees.EmployeeByEmail(r.Context(), a)
				if keel.ErrorCode(err) == keel.ENOTFOUND {
					return keel.Invalid("actor", "there is no employee %q", a)
				}
				if err != nil {
					return err
				}
				f.ActorID = e.ID
			} else {
				return keel.Invalid("actor", "%q is not an employee id or email", a)
			}
		}
		f.Entity = q.Get("entity")
		if len(f.Entity) > 64 {
			return keel.Invalid("entity", "at most %d characters", 64)
		}
		if f.EntityID, err = queryID(q, "entity_id"); err != nil {
			return err
		}
		if f.From, f.To, err = parseSpan(s.Calendar, q); err != nil {
			return err
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.audit.Audit(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, toAuditJSON))
		return nil
	})
}
