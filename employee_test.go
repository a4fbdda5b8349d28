package keel_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// The staff every domain test works with.
var (
	admin    = employee(1, "ada@keel.test", keel.RoleAdmin)
	seller   = employee(2, "sam@keel.test", keel.RoleSales)
	csm      = employee(3, "cas@keel.test", keel.RoleCSM)
	finance  = employee(4, "fin@keel.test", keel.RoleFinance)
	leader   = employee(5, "lee@keel.test", keel.RoleLeadership)
	seller2  = employee(6, "sue@keel.test", keel.RoleSales)
	departed = keel.Employee{ID: 9, Email: "gone@keel.test", Name: "Gone", Roles: keel.Roles, Status: keel.EmployeeDeparted}
)

func employee(id int64, email string, roles ...keel.Role) keel.Employee {
	return keel.Employee{ID: id, Email: email, Name: strings.Split(email, "@")[0], Roles: roles, Status: keel.EmployeeActive}
}

// wantError fails unless err is a keel error with code whose message names
// field first ("field: …"). An empty field skips the message check.
func wantError(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := keel.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if got := keel.ErrorField(err); got != field {
		t.Errorf("error field = %q (%v), want %q", got, err, field)
	}
	if msg := keel.ErrorMessage(err); field != "" && !strings.HasPrefix(msg, field+": ") {
		t.Errorf("error message = %q, want it to name %q first", msg, field)
	}
}

// wantOK fails the test at once when err is not nil.
func wantOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func TestEmployeeValidate(t *testing.T) {
	valid := keel.Employee{Email: "ada@keel.test", Name: "Ada", Roles: []keel.Role{keel.RoleAdmin, keel.RoleFinance}, Status: keel.EmployeeActive, Locale: "zh"}
	tests := []struct {
		name   string
		change func(e *keel.Employee)
		field  string // "" = valid
	}{
		{"valid", func(e *keel.Employee) {}, ""},
		{"english locale", func(e *keel.Employee) { e.Locale = "en" }, ""},
		{"no locale", func(e *keel.Employee) { e.Locale = "" }, ""},
		{"empty email", func(e *keel.Employee) { e.Email = "" }, "email"},
		{"no at sign", func(e *keel.Employee) { e.Email = "ada.keel.test" }, "email"},
		{"display name", func(e *keel.Employee) { e.Email = "Ada <ada@keel.test>" }, "email"},
		{"space", func(e *keel.Employee) { e.Email = "ada @keel.test" }, "email"},
		{"comment after the address", func(e *keel.Employee) { e.Email = "ada@keel.test(ops)" }, "email"},
		{"email too long", func(e *keel.Employee) { e.Email = strings.Repeat("a", 250) + "@k.io" }, "email"},
		{"blank name", func(e *keel.Employee) { e.Name = "   " }, "name"},
		{"name too long", func(e *keel.Employee) { e.Name = strings.Repeat("n", 201) }, "name"},
		{"name of 200", func(e *keel.Employee) { e.Name = strings.Repeat("n", 200) }, ""},
		{"no roles", func(e *keel.Employee) { e.Roles = nil }, "roles"},
		{"unknown role", func(e *keel.Employee) { e.Roles = []keel.Role{keel.RoleSales, "janitor"} }, "roles[1]"},
		{"role twice", func(e *keel.Employee) { e.Roles = []keel.Role{keel.RoleSales, keel.RoleCSM, keel.RoleSales} }, "roles"},
		{"every role", func(e *keel.Employee) { e.Roles = keel.Roles }, ""},
		{"unsupported locale", func(e *keel.Employee) { e.Locale = "fr" }, "locale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid
			e.Roles = append([]keel.Role(nil), valid.Roles...)
			tt.change(&e)
			err := e.Validate()
			if tt.field == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, tt.field)
		})
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in   string
		want keel.Role
		ok   bool
	}{
		{"admin", keel.RoleAdmin, true},
		{"sales", keel.RoleSales, true},
		{"csm", keel.RoleCSM, true},
		{"finance", keel.RoleFinance, true},
		{"leadership", keel.RoleLeadership, true},
		{"", "", false},
		{"Admin", "", false},
		{" sales", "", false},
		{"ceo", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := keel.ParseRole("role", tt.in)
			if got != tt.want {
				t.Errorf("ParseRole(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.ok {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, "role")
			if msg := keel.ErrorMessage(err); !strings.Contains(msg, "admin, sales, csm, finance, leadership") {
				t.Errorf("message = %q, want it to list the roles", msg)
			}
		})
	}
}

func TestEmployeeCanMatrix(t *testing.T) {
	// DESIGN.md's table of who may do what: true = allowed.
	type row struct{ admin, sales, csm, finance, leadership bool }
	matrix := []struct {
		action keel.Action
		row
		needs string // the roles the refusal names
	}{
		{keel.ActCustomerWrite, row{admin: true, sales: true, csm: true}, "sales or csm or admin"},
		{keel.ActCustomerOwners, row{admin: true, leadership: true}, "admin or leadership"},
		{keel.ActFollowUpAdd, row{admin: true, sales: true, csm: true}, "sales or csm or admin"},
		{keel.ActCatalogueWrite, row{admin: true}, "admin"},
		{keel.ActOrderCreate, row{sales: true, csm: true}, "sales or csm"},
		{keel.ActOrderDecide, row{finance: true}, "finance"},
		{keel.ActRevenueRead, row{admin: true, finance: true, leadership: true}, "leadership or finance or admin"},
		{keel.ActSpendWrite, row{admin: true, finance: true}, "finance or admin"},
		{keel.ActSettingsWrite, row{admin: true}, "admin"},
		{keel.ActAlertWork, row{admin: true, sales: true, csm: true, leadership: true}, "csm or sales or admin or leadership"},
		{keel.ActHealthRead, row{admin: true, sales: true, csm: true, leadership: true, finance: true}, "csm or sales or leadership or admin or finance"},
		{keel.ActEmployeeAdmin, row{admin: true}, "admin"},
		{keel.ActAuditRead, row{admin: true}, "admin"},
		{keel.ActTokenAdmin, row{admin: true}, "admin"},
		{keel.ActIngestKeyAdmin, row{admin: true}, "admin"},
	}
	for _, m := range matrix {
		allowed := map[keel.Role]bool{
			keel.RoleAdmin: m.admin, keel.RoleSales: m.sales, keel.RoleCSM: m.csm,
			keel.RoleFinance: m.finance, keel.RoleLeadership: m.leadership,
		}
		for _, r := range keel.Roles {
			t.Run(string(m.action)+"/"+string(r), func(t *testing.T) {
				e := employee(10, "x@keel.test", r)
				err := e.Can(m.action)
				if allowed[r] {
					if err != nil {
						t.Fatalf("%s may %s: got %v, want nil", r, m.action, err)
					}
					return
				}
				wantError(t, err, keel.EFORBIDDEN, "")
				if got, want := keel.ErrorMessage(err), string(m.action)+" needs the role "+m.needs; got != want {
					t.Errorf("message = %q, want %q", got, want)
				}
			})
		}
		t.Run(string(m.action)+"/departed", func(t *testing.T) {
			// A departed employee is locked out whatever their roles.
			err := departed.Can(m.action)
			wantError(t, err, keel.EUNAUTHORIZED, "")
		})
	}
}

func TestEmployeeCanSeveralRoles(t *testing.T) {
	tests := []struct {
		name  string
		roles []keel.Role
		act   keel.Action
		want  string // error code, "" = allowed
	}{
		{"sales+finance creates", []keel.Role{keel.RoleSales, keel.RoleFinance}, keel.ActOrderCreate, ""},
		{"sales+finance decides", []keel.Role{keel.RoleSales, keel.RoleFinance}, keel.ActOrderDecide, ""},
		{"sales+finance no catalogue", []keel.Role{keel.RoleSales, keel.RoleFinance}, keel.ActCatalogueWrite, keel.EFORBIDDEN},
		{"csm+leadership reads revenue", []keel.Role{keel.RoleCSM, keel.RoleLeadership}, keel.ActRevenueRead, ""},
		{"csm+leadership adds follow-ups", []keel.Role{keel.RoleCSM, keel.RoleLeadership}, keel.ActFollowUpAdd, ""},
		{"csm+leadership no decisions", []keel.Role{keel.RoleCSM, keel.RoleLeadership}, keel.ActOrderDecide, keel.EFORBIDDEN},
		{"admin+finance audits", []keel.Role{keel.RoleAdmin, keel.RoleFinance}, keel.ActAuditRead, ""},
		{"admin+finance creates no orders", []keel.Role{keel.RoleAdmin, keel.RoleFinance}, keel.ActOrderCreate, keel.EFORBIDDEN},
		{"no roles at all", nil, keel.ActCustomerWrite, keel.EFORBIDDEN},
		{"unknown action", keel.Roles, keel.Action("payroll.run"), keel.EFORBIDDEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := employee(11, "multi@keel.test", tt.roles...)
			if got := keel.ErrorCode(e.Can(tt.act)); got != tt.want {
				t.Errorf("Can(%s) with roles %v: code %q, want %q", tt.act, tt.roles, got, tt.want)
			}
		})
	}
}

func TestEmployeeCanDeparted(t *testing.T) {
	// The status decides before the roles do, and an employee with no
	// status at all is not treated as active.
	for _, st := range []keel.EmployeeStatus{keel.EmployeeDeparted, ""} {
		e := keel.Employee{ID: 12, Email: "left@keel.test", Roles: []keel.Role{keel.RoleFinance}, Status: st}
		err := e.Can(keel.ActOrderDecide)
		wantError(t, err, keel.EUNAUTHORIZED, "")
		if got, want := keel.ErrorMessage(err), "left@keel.test's account is deactivated"; got != want {
			t.Errorf("status %q: message %q, want %q", st, got, want)
		}
	}
	if err := keel.System.Can(keel.ActEmployeeAdmin); err != nil {
		t.Errorf("System.Can(employee.admin) = %v, want nil", err)
	}
}

// day parses a date as UTC midnight.
func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }
