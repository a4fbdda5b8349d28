package console

import (
	"net/http"
	"strings"

	"github.com/keelhq/keel"
)

// localeOptions are the UI languages, each named in itself.
func localeOptions(selected string) []option {
	if selected == "" {
		selected = keel.Locales[0].Code
	}
	out := make([]option, len(keel.Locales))
	for i, l := range keel.Locales {
		out[i] = option{Value: l.Code, Label: l.Name, Selected: l.Code == selected}
	}
	return out
}

func localeName(code string) string {
	for _, l := range keel.Locales {
		if l.Code == code {
			return l.Name
		}
	}
	return keel.Locales[0].Name
}

// employeeRow is an employee as the pages show one.
type employeeRow struct {
	keel.Employee
	RoleLabels    []string
	StatusLabel   string
	Language      string
	PasswordLabel string
}

// passwordLabel says whose password an employee signs in with.
func passwordLabel(l lang, e keel.Employee) string {
	if e.OneTimePassword {
		return l.T("One-time: to be replaced at the next sign-in")
	}
	return l.T("Set: no change needed")
}

func toEmployeeRow(l lang, e keel.Employee) employeeRow {
	row := employeeRow{Employee: e, Language: localeName(e.Locale), StatusLabel: l.T("Employed"), PasswordLabel: passwordLabel(l, e)}
	if e.Status == keel.EmployeeDeparted {
		row.StatusLabel = l.T("Departed")
	}
	for _, r := range e.Roles {
		row.RoleLabels = append(row.RoleLabels, roleLabel(l, r))
	}
	return row
}

// employeeForm is the "add employee" form, typed values kept when it fails.
type employeeForm struct {
	Email, Name string
	Roles       []option
	Locales     []option
	Error       string
}

type employeesData struct {
	Employees []employeeRow
	Form      employeeForm
}

func (s *server) renderEmployees(w http.ResponseWriter, r *http.Request, status int, f employeeForm) error {
	l := s.langOf(r)
	emps, err := s.employees.Employees(r.Context())
	if err != nil {
		return err
	}
	rows := make([]employeeRow, len(emps))
	for i, e := range emps {
		rows[i] = toEmployeeRow(l, e)
	}
	s.render(w, r, status, "employees", page{Title: l.T("Employees"), Nav: "employees", Data: employeesData{Employees: rows, Form: f}})
	return nil
}

func (s *server) handleEmployeesPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		return s.renderEmployees(w, r, http.StatusOK, employeeForm{Roles: options(l, keel.Roles, roleLabel), Locales: localeOptions("")})
	})
}

// handleEmployeeAdd adds an employee and answers with their page and the
// one-time password, in this answer only: it is in no cookie, no URL, and
// the store keeps only its hash.
func (s *server) handleEmployeeAdd() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		names := r.PostForm["roles"]
		locale := r.PostFormValue("locale")
		f := employeeForm{Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name")),
			Roles: options(l, keel.Roles, roleLabel, names...), Locales: localeOptions(locale)}
		e := keel.Employee{Email: f.Email, Name: f.Name, Roles: toRoles(names), Locale: locale, Status: keel.EmployeeActive}
		e, password, err := s.employees.AddEmployee(r.Context(), employeeFrom(r.Context()), e)
		if formRefused(err) {
			f.Error = l.Refusal(err)
			return s.renderEmployees(w, r, statusOf(keel.ErrorCode(err)), f)
		}
		if err != nil {
			return err
		}
		return s.renderEmployee(w, r, http.StatusOK, e, employeeExtra{Password: password})
	})
}
