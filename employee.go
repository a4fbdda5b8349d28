package keel

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Role is what an employee does at the company. An employee has one or more.
type Role string

// The roles.
const (
	RoleAdmin      Role = "admin"      // keeps the catalogue and the employees
	RoleSales      Role = "sales"      // keeps customers, creates orders
	RoleCSM        Role = "csm"        // customer success: customers, follow-ups, orders
	RoleFinance    Role = "finance"    // confirms payment, approves, rejects and voids orders
	RoleLeadership Role = "leadership" // reads the dashboards and revenue metrics
)

// Roles lists every role, in the order they are shown.
var Roles = []Role{RoleAdmin, RoleSales, RoleCSM, RoleFinance, RoleLeadership}

// EmployeeNotFound is the ENOTFOUND refusal of employee id.
func EmployeeNotFound(id any) *Error { return Errorf(ENOTFOUND, "employee %v not found", id) }

// ParseRole returns the role named s, or an EINVALID error naming field.
func ParseRole(field, s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", Invalid(field, "unknown role %q (want one of %s)", s, roleList())
}

// EmployeeStatus says whether an employee may still sign in.
type EmployeeStatus string

// The employee statuses.
const (
	EmployeeActive   EmployeeStatus = "active"
	EmployeeDeparted EmployeeStatus = "departed"
)

// Employee is a person who works at the company and uses Keel.
type Employee struct {
	ID        int64
	Email     string
	Name      string
	Roles     []Role
	Status    EmployeeStatus
	Locale    string // UI language: "en" or "zh"
	CreatedAt time.Time
	// OneTimePassword says the employee's password is one Keel made (when
	// they were added, or an admin reset it): a sign-in with it can only
	// set a password of their own. API tokens are not affected.
	OneTimePassword bool
}

// Has reports whether e has role r.
func (e Employee) Has(r Role) bool {
	for _, x := range e.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Validate checks a new or changed employee record.
func (e Employee) Validate() error {
	if err := validTexts("email", e.Email, "name", e.Name); err != nil {
		return err
	}
	if !validEmail(e.Email) {
		return Invalid("email", "%q is not an email address", e.Email)
	}
	if strings.TrimSpace(e.Name) == "" || len(e.Name) > 200 {
		return Invalid("name", "must be 1 to %d characters", 200)
	}
	if len(e.Roles) == 0 {
		return Invalid("roles", "an employee needs at least one role (%s)", roleList())
	}
	seen := map[Role]bool{}
	for i, r := range e.Roles {
		if _, err := ParseRole(fmt.Sprintf("roles[%d]", i), string(r)); err != nil {
			return err
		}
		if seen[r] {
			return Invalid("roles", "%s is listed twice", r)
		}
		seen[r] = true
	}
	if e.Locale != "" {
		return ValidLocale(e.Locale)
	}
	return nil
}

func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Locale is a UI language an employee may choose.
type Locale struct {
	Code string // "en"
	Name string // in the language itself: "English", "中文"
}

// Locales are the UI languages, the first being the default.
var Locales = []Locale{{"en", "English"}, {"zh", "中文"}}

// ValidLocale returns an EINVALID error naming locale unless code is one
// of Locales.
func ValidLocale(code string) error {
	codes := make([]string, len(Locales))
	for i, l := range Locales {
		if l.Code == code {
			return nil
		}
		codes[i] = l.Code
	}
	return Invalid("locale", "%q is not one of %s", code, strings.Join(codes, ", "))
}

// validEmail reports whether s is a bare email address ("ann@acme.example"),
// not one of the other forms net/mail parses: "Ann <ann@acme.example>",
// an address with a comment or surrounding spaces.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}

// Action is something an employee may or may not do.
type Action string

// The actions that are checked. Reading records is open to every active
// employee; everything that changes one is listed here.
const (
	ActCustomerWrite  Action = "customer.write"  // create or update a customer, its contacts
	ActCustomerOwners Action = "customer.owners" // change any customer's sales or CSM owner (see Customer.CheckChange)
	ActFollowUpAdd    Action = "followup.add"    // add a follow-up record
	ActCatalogueWrite Action = "catalogue.write" // products, their status and prices
	ActOrderCreate    Action = "order.create"    // create an order (and submit one's own)
	ActOrderDecide    Action = "order.decide"    // approve, reject or void an order
	ActRevenueRead    Action = "revenue.read"    // MRR and the other revenue metrics
	ActSpendWrite     Action = "spend.write"     // enter sales and marketing spend (for CAC)
	ActSettingsWrite  Action = "settings.write"  // change the company's settings (revenue, health)
	ActAlertWork      Action = "alert.work"      // acknowledge, resolve, snooze churn warnings (one's own; admin and leadership any)
	ActHealthRead     Action = "health.read"     // read health scores and churn warnings (every role, as DESIGN.md's API table says)
	ActEmployeeAdmin  Action = "employee.admin"  // add, change and deactivate employees; tokens of others
	ActAuditRead      Action = "audit.read"      // read the audit log
	ActTokenAdmin     Action = "token.admin"     // list and revoke every employee's API tokens (one's own need no role)
	ActIngestKeyAdmin Action = "ingestkey.admin" // create, list and revoke the product apps' ingest keys
)

// permissions is DESIGN.md's table of who may do what.
var permissions = map[Action][]Role{
	ActCustomerWrite:  {RoleSales, RoleCSM, RoleAdmin},
	ActCustomerOwners: {RoleAdmin, RoleLeadership},
	ActFollowUpAdd:    {RoleSales, RoleCSM, RoleAdmin},
	ActCatalogueWrite: {RoleAdmin},
	ActOrderCreate:    {RoleSales, RoleCSM},
	ActOrderDecide:    {RoleFinance},
	ActRevenueRead:    {RoleLeadership, RoleFinance, RoleAdmin},
	ActSpendWrite:     {RoleFinance, RoleAdmin},
	ActSettingsWrite:  {RoleAdmin},
	ActAlertWork:      {RoleCSM, RoleSales, RoleAdmin, RoleLeadership},
	ActHealthRead:     {RoleCSM, RoleSales, RoleLeadership, RoleAdmin, RoleFinance},
	ActEmployeeAdmin:  {RoleAdmin},
	ActAuditRead:      {RoleAdmin},
	ActTokenAdmin:     {RoleAdmin},
	ActIngestKeyAdmin: {RoleAdmin},
}

// Can returns nil when e may do a, an EUNAUTHORIZED error when e has
// departed, and an EFORBIDDEN error naming the roles that may otherwise.
func (e Employee) Can(a Action) error {
	if e.Status != EmployeeActive {
		return Errorf(EUNAUTHORIZED, "%s's account is deactivated", e.Email)
	}
	roles, ok := permissions[a]
	if !ok {
		return Errorf(EFORBIDDEN, "no one may %s", a)
	}
	for _, r := range roles {
		if e.Has(r) {
			return nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return Errorf(EFORBIDDEN, "%s needs the role %s", a, strings.Join(names, " or "))
}

// System is the actor of changes made with machine access (the keel CLI:
// bootstrap users, tokens). The audit log records it as "system".
var System = Employee{ID: 0, Email: "system", Name: "keel CLI", Roles: Roles, Status: EmployeeActive}
