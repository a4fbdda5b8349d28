package console

import (
	"net/http"
	"strconv"

	"github.com/keelhq/keel"
)

// employeeExtra is what one answer adds to an employee's page: the
// one-time password right after adding or resetting it, or a failed
// roles form.
type employeeExtra struct {
	Password   string
	Reset      bool     // Password is a reset's, not a new employee's
	Roles      []string // the roles typed, when the form failed
	RolesError string
}

type employeeData struct {
	Employee   employeeRow
	Self       bool
	Password   string
	Reset      bool
	Roles      []option
	RolesError string
	Locales    []option
	ByThem     []auditRow
	ToThem     []auditRow
	SignIns    string // the security page of their sign-in attempts
}

func (s *server) renderEmployee(w http.ResponseWriter, r *http.Request, status int, e keel.Employee, x employeeExtra) error {
	ctx := r.Context()
	l := s.langOf(r)
	recent := keel.Page{Limit: 20}
	by, _, err := s.audit.Audit(ctx, keel.AuditFilter{ActorID: e.ID, Page: recent})
	if err != nil {
		return err
	}
	to, _, err := s.audit.Audit(ctx, keel.AuditFilter{Entity: "employee", EntityID: e.ID, Page: recent})
	if err != nil {
		return err
	}
	rows, err := s.auditRowsOf(ctx, l, append(by, to...), nil)
	if err != nil {
		return err
	}
	checked := x.Roles
	if x.RolesError == "" {
		checked = roleStrings(e.Roles)
	}
	d := employeeData{
		Employee: toEmployeeRow(l, e), Self: e.ID == employeeFrom(ctx).ID, Password: x.Password, Reset: x.Reset,
		Roles: options(l, keel.Roles, roleLabel, checked...), RolesError: x.RolesError, Locales: localeOptions(e.Locale),
		ByThem: rows[:len(by)], ToThem: rows[len(by):], SignIns: securityLink(e.ID),
	}
	s.render(w, r, status, "employee", page{Title: e.Name, Nav: "employees", Data: d})
	return nil
}

func roleStrings(roles []keel.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

func (s *server) handleEmployeePage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		e, err := pathRecord(r, keel.EmployeeNotFound, s.employees.Employee)
		if err != nil {
			return err
		}
		return s.renderEmployee(w, r, http.StatusOK, e, employeeExtra{})
	})
}

func (s *server) handleEmployeeRolesForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.EmployeeNotFound)
		if err != nil {
			return err
		}
		names := r.PostForm["roles"]
		_, err = s.employees.SetEmployeeRoles(r.Context(), employeeFrom(r.Context()), id, toRoles(names))
		if formRefused(err) { // bad roles, or the last admin's
			e, gerr := s.employees.Employee(r.Context(), id)
			if gerr != nil {
				return gerr
			}
			return s.renderEmployee(w, r, statusOf(keel.ErrorCode(err)), e, employeeExtra{Roles: names, RolesError: l.Refusal(err)})
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/employees/"+strconv.FormatInt(id, 10), l.T("Roles saved."))
		return nil
	})
}

func (s *server) handleEmployeeLocaleForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.EmployeeNotFound)
		if err != nil {
			return err
		}
		if _, err := s.employees.SetEmployeeLocale(r.Context(), employeeFrom(r.Context()), id, r.PostFormValue("locale")); err != nil {
			return err
		}
		s.redirect(w, r, "/employees/"+strconv.FormatInt(id, 10), l.T("Language saved."))
		return nil
	})
}

// handleEmployeeDeactivateForm marks an employee departed: the store ends
// their sessions and revokes their tokens in the same transaction, so
// their open browser is sent to sign in on its next request.
func (s *server) handleEmployeeDeactivateForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.EmployeeNotFound)
		if err != nil {
			return err
		}
		e, err := s.employees.DeactivateEmployee(r.Context(), employeeFrom(r.Context()), id)
		if err != nil {
			return err
		}
		s.redirect(w, r, "/employees/"+strconv.FormatInt(id, 10), l.T("%s is deactivated: signed out everywhere, API tokens revoked.", e.Name))
		return nil
	})
}

// handleEmployeePasswordForm resets an employee's password and answers
// with their page and the new one-time password, in this answer only. The
// store ends their sessions; their next sign-in must set their own.
func (s *server) handleEmployeePasswordForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.EmployeeNotFound)
		if err != nil {
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
		w.Header().Set("Cache-Control", "no-store")
		return s.renderEmployee(w, r, http.StatusOK, e, employeeExtra{Password: password, Reset: true})
	})
}
