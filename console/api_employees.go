package console

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// employeeJSON is an employee as the API shows it.
type employeeJSON struct {
	ID        int64    `json:"id"`
	Email     string   `json:"email"`
	Name      string   `json:"name"`
	Roles     []string `json:"roles"`
	Status    string   `json:"status"`
	Locale    string   `json:"locale"`
	CreatedAt string   `json:"created_at"`
}

func toEmployeeJSON(e keel.Employee) employeeJSON {
	out := employeeJSON{ID: e.ID, Email: e.Email, Name: e.Name, Roles: make([]string, len(e.Roles)), Status: string(e.Status),
		Locale: e.Locale, CreatedAt: stamp(e.CreatedAt)}
	for i, r := range e.Roles {
		out.Roles[i] = string(r)
	}
	return out
}

// employeeCreatedJSON is a new employee with the one-time password to
// sign in with; it is shown this once.
type employeeCreatedJSON struct {
	employeeJSON
	Password string `json:"password"`
}

func (s *server) handleMe() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := queryParams(r); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toEmployeeJSON(employeeFrom(r.Context())))
		return nil
	})
}

func (s *server) handleEmployeeList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := queryParams(r); err != nil {
			return err
		}
		rows, err := s.Store.Employees(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, len(rows), keel.Page{Limit: len(rows)}, toEmployeeJSON))
		return nil
	})
}

// toRoles turns role names into roles, for the domain to check
// (keel.Employee.Validate names the one that is wrong).
func toRoles(names []string) []keel.Role {
	roles := make([]keel.Role, len(names))
	for i, n := range names {
		roles[i] = keel.Role(n)
	}
	return roles
}

// employeeRequest is the body of POST /employees.
type employeeRequest struct {
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Locale string   `json:"locale"`
}

func (s *server) handleEmployeeCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req employeeRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		e := keel.Employee{Email: strings.TrimSpace(req.Email), Name: req.Name, Roles: toRoles(req.Roles), Locale: req.Locale, Status: keel.EmployeeActive}
		e, password, err := s.Store.AddEmployee(r.Context(), employeeFrom(r.Context()), e)
		if err != nil {
			return err
		}
		writeCreated(w, location("employees", e.ID), employeeCreatedJSON{employeeJSON: toEmployeeJSON(e), Password: password})
		return nil
	})
}

type rolesRequest struct {
	Roles []string `json:"roles"`
}

func (s *server) handleEmployeeRoles() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.EmployeeNotFound)
		if err != nil {
			return err
		}
		var req rolesRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		e, err := s.Store.SetEmployeeRoles(r.Context(), employeeFrom(r.Context()), id, toRoles(req.Roles))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toEmployeeJSON(e))
		return nil
	})
}

// handleEmployeeDeactivate marks an employee departed. The store ends their
// sessions and tokens in the same transaction, so their next request fails.
func (s *server) handleEmployeeDeactivate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.EmployeeNotFound)
		if err != nil {
			return err
		}
		var none struct{}
		if err := decodeBody(w, r, maxBodyBytes, true, &none); err != nil {
			return err
		}
		e, err := s.Store.DeactivateEmployee(r.Context(), employeeFrom(r.Context()), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toEmployeeJSON(e))
		return nil
	})
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
				e, err := s.Store.EmployeeByEmail(r.Context(), a)
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
		if v := q.Get("from"); v != "" {
			if f.From, err = parseTime("from", v); err != nil {
				return err
			}
		}
		if v := q.Get("to"); v != "" {
			if f.To, err = parseTime("to", v); err != nil {
				return err
			}
			if len(v) == len(time.DateOnly) {
				f.To = f.To.AddDate(0, 0, 1) // the whole of that day
			}
		}
		if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
			return keel.Invalid("from", "%s is not before to: %s", q.Get("from"), q.Get("to"))
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.Store.Audit(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, toAuditJSON))
		return nil
	})
}
