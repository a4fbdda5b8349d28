package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/keelhq/keel"
)

// EmployeeStore is what the employee handlers read and change.
type EmployeeStore interface {
	AddEmployee(ctx context.Context, by keel.Employee, e keel.Employee) (keel.Employee, string, error)
	Employee(ctx context.Context, id int64) (keel.Employee, error)
	EmployeeByEmail(ctx context.Context, email string) (keel.Employee, error)
	Employees(ctx context.Context) ([]keel.Employee, error)
	SetEmployeeRoles(ctx context.Context, by keel.Employee, id int64, roles []keel.Role) (keel.Employee, error)
	DeactivateEmployee(ctx context.Context, by keel.Employee, id int64) (keel.Employee, error)
	SetEmployeeLocale(ctx context.Context, by keel.Employee, id int64, locale string) (keel.Employee, error)
	ResetPassword(ctx context.Context, by keel.Employee, id int64) (string, error)
}

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
		rows, err := s.employees.Employees(r.Context())
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
		e, password, err := s.employees.AddEmployee(r.Context(), employeeFrom(r.Context()), e)
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
		e, err := s.employees.SetEmployeeRoles(r.Context(), employeeFrom(r.Context()), id, toRoles(req.Roles))
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
		e, err := s.employees.DeactivateEmployee(r.Context(), employeeFrom(r.Context()), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toEmployeeJSON(e))
		return nil
	})
}

// handleEmployeePassword resets an employee's password: a new one-time
// password, in this answer only, and their sessions end (their API tokens
// stay).
func (s *server) handleEmployeePassword() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.EmployeeNotFound)
		if err != nil {
			return err
		}
		var none struct{}
		if err := decodeBody(w, r, maxBodyBytes, true, &none); err != nil {
			return err
		}
		password, err := s.employees.ResetPassword(r.Context(), employeeFrom(r.Context()), id)
		if err != nil {
			return err
		}
		e, err := s.employees.Employee(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, employeeCreatedJSON{employeeJSON: toEmployeeJSON(e), Password: password})
		return nil
	})
}
