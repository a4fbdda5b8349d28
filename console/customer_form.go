package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// customerForm is the create and edit form, as typed.
type customerForm struct {
	ID, Version                          int64
	Name, TenantID, SalesOwner, CSMOwner string
	Industry, Region, Website, Notes     string
	Contacts                             []keel.Contact
	Error                                string
	Conflict                             bool
	Unsaved                              []custUnsavedField // on a conflict: what the employee typed that differs
	SalesOwners, CSMOwners               []option
	// What the employee may not change of the customer as stored, shown
	// disabled (and so not sent): the record for leadership, an owner
	// for whoever does not hold it (keel.Customer.MayChangeOwner).
	RecordLocked, SalesLocked, CSMLocked bool
}

// custUnsavedField is a value typed into a form that a conflict kept from
// being saved.
type custUnsavedField struct{ Label, Value string }

// custExtraContactRows is how many empty contact rows a form offers.
const custExtraContactRows = 2

func formOfCustomer(c keel.Customer) customerForm {
	f := customerForm{ID: c.ID, Version: c.Version, Name: c.Name, TenantID: c.TenantID, Industry: c.Industry,
		Region: c.Region, Website: c.Website, Notes: c.Notes, Contacts: append([]keel.Contact(nil), c.Contacts...)}
	if c.SalesOwner != nil {
		f.SalesOwner = strconv.FormatInt(*c.SalesOwner, 10)
	}
	if c.CSMOwner != nil {
		f.CSMOwner = strconv.FormatInt(*c.CSMOwner, 10)
	}
	return f
}

// lockFor marks what by may not change of customer c as stored.
func (f *customerForm) lockFor(by keel.Employee, c keel.Customer) {
	f.RecordLocked = by.Can(keel.ActCustomerWrite) != nil
	f.SalesLocked, f.CSMLocked = !c.MayChangeOwner(by, keel.RoleSales), !c.MayChangeOwner(by, keel.RoleCSM)
}

// customerFormOf reads the posted form. Contact rows left blank are
// dropped; the rest are validated by the customer's own rules. An input
// the form did not send — one shown disabled, as what the employee may
// not change — keeps its value in cur, the customer as stored (nil for a
// new one: empty).
func customerFormOf(r *http.Request, cur *keel.Customer) customerForm {
	var was customerForm
	if cur != nil {
		was = formOfCustomer(*cur)
	}
	v := func(name string, old string) string {
		if _, sent := r.PostForm[name]; !sent {
			return old
		}
		return strings.TrimSpace(r.PostFormValue(name))
	}
	f := customerForm{Name: v("name", was.Name), TenantID: v("tenant_id", was.TenantID), SalesOwner: v("sales_owner", was.SalesOwner),
		CSMOwner: v("csm_owner", was.CSMOwner), Industry: v("industry", was.Industry), Region: v("region", was.Region),
		Website: v("website", was.Website), Notes: v("notes", was.Notes)}
	f.Version, _ = strconv.ParseInt(v("version", ""), 10, 64)
	col := func(name string, i int) string {
		vs := r.PostForm[name]
		if i < len(vs) {
			return strings.TrimSpace(vs[i])
		}
		return ""
	}
	n := max(len(r.PostForm["contact_name"]), len(r.PostForm["contact_email"]), len(r.PostForm["contact_phone"]), len(r.PostForm["contact_title"]))
	if n == 0 {
		f.Contacts = was.Contacts
	}
	for i := 0; i < n && i <= keel.MaxContacts; i++ {
		c := keel.Contact{Name: col("contact_name", i), Email: col("contact_email", i), Phone: col("contact_phone", i), Title: col("contact_title", i)}
		if c != (keel.Contact{}) {
			f.Contacts = append(f.Contacts, c)
		}
	}
	return f
}

// customer turns the form into a customer, naming the field that is not
// an owner id.
func (f customerForm) customer() (keel.Customer, error) {
	c := keel.Customer{ID: f.ID, Version: f.Version, Name: f.Name, TenantID: f.TenantID, Industry: f.Industry,
		Region: f.Region, Website: f.Website, Notes: f.Notes, Contacts: f.Contacts}
	for _, o := range []struct {
		field, v string
		to       **int64
	}{{"sales_owner", f.SalesOwner, &c.SalesOwner}, {"csm_owner", f.CSMOwner, &c.CSMOwner}} {
		if o.v == "" {
			continue
		}
		id, err := strconv.ParseInt(o.v, 10, 64)
		if err != nil || id < 1 {
			return c, keel.Invalid(o.field, "%q is not an employee", o.v)
		}
		*o.to = &id
	}
	return c, nil
}

// withOwners fills the owner selects: active employees of the role, and
// the current owner even when no longer one of them.
func (f *customerForm) withOwners(l lang, emps []keel.Employee) {
	sel := func(role keel.Role, current string) []option {
		out := []option{{Value: "", Label: l.T("No owner")}}
		for _, e := range emps {
			id := strconv.FormatInt(e.ID, 10)
			if e.Status == keel.EmployeeActive && e.Has(role) || id == current {
				out = append(out, option{Value: id, Label: e.Name, Selected: id == current})
			}
		}
		return out
	}
	f.SalesOwners = sel(keel.RoleSales, f.SalesOwner)
	f.CSMOwners = sel(keel.RoleCSM, f.CSMOwner)
	for i := 0; i < custExtraContactRows; i++ {
		f.Contacts = append(f.Contacts, keel.Contact{})
	}
}

func (s *server) renderCustomerForm(w http.ResponseWriter, r *http.Request, status int, f customerForm) error {
	l := s.langOf(r)
	emps, err := s.employees.Employees(r.Context())
	if err != nil {
		return err
	}
	f.withOwners(l, emps)
	title := l.T("New customer")
	if f.ID != 0 {
		title = l.T("Edit %s", f.Name)
	}
	s.render(w, r, status, "customer_form", page{Title: title, Nav: "customers", Data: f})
	return nil
}

// needCustomerChange lets a page request through only when the signed-in
// employee may change something of a customer (mayChangeCustomers).
func (s *server) needCustomerChange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mayChangeCustomers(employeeFrom(r.Context())) != nil {
			s.renderError(w, r, keel.Errorf(keel.EFORBIDDEN, "Your role does not allow this."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newCustomerForm is the empty form of a new customer: its sales owner
// is its creator when they sell (keel.DefaultSalesOwner).
func newCustomerForm(by keel.Employee) customerForm {
	var f customerForm
	if id := keel.DefaultSalesOwner(by); id != nil {
		f.SalesOwner = strconv.FormatInt(*id, 10)
	}
	return f
}

func (s *server) handleCustomerNewPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		return s.renderCustomerForm(w, r, http.StatusOK, newCustomerForm(employeeFrom(r.Context())))
	})
}

func (s *server) handleCustomerCreatePage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := customerFormOf(r, nil)
		f.ID, f.Version = 0, 0
		if _, sent := r.PostForm["sales_owner"]; !sent {
			f.SalesOwner = newCustomerForm(employeeFrom(r.Context())).SalesOwner
		}
		c, err := f.customer()
		var v keel.CustomerView
		if err == nil {
			v, err = s.customers.CreateCustomer(r.Context(), employeeFrom(r.Context()), c)
		}
		if formRefused(err) {
			f.Error = l.Refusal(err)
			return s.renderCustomerForm(w, r, statusOf(keel.ErrorCode(err)), f)
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/customers/"+strconv.FormatInt(v.ID, 10), l.T("Customer saved."))
		return nil
	})
}

func (s *server) handleCustomerEditPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		v, err := pathRecord(r, keel.CustomerNotFound, s.customers.Customer)
		if err != nil {
			return err
		}
		f := formOfCustomer(v.Customer)
		f.lockFor(employeeFrom(r.Context()), v.Customer)
		return s.renderCustomerForm(w, r, http.StatusOK, f)
	})
}

// handleCustomerSavePage stores an edit made on the customer as it was
// when the form was opened (its Version): when someone else saved in
// between, nothing is overwritten; the form comes back with the current
// values and what this employee typed, to do again.
func (s *server) handleCustomerSavePage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		me := employeeFrom(r.Context())
		cur, err := pathRecord(r, keel.CustomerNotFound, s.customers.Customer)
		if err != nil {
			return err
		}
		id := cur.ID
		f := customerFormOf(r, &cur.Customer)
		f.ID = id
		f.lockFor(me, cur.Customer)
		if f.Version < 1 {
			f.Error = l.T("version: missing; reload the edit page and make the change again.")
			return s.renderCustomerForm(w, r, http.StatusBadRequest, f)
		}
		c, err := f.customer()
		if err == nil {
			_, err = s.customers.UpdateCustomer(r.Context(), me, c)
		}
		if errors.Is(err, keel.ErrChanged) {
			cur, err := s.customers.Customer(r.Context(), id)
			if err != nil {
				return err
			}
			emps, err := s.employees.Employees(r.Context())
			if err != nil {
				return err
			}
			nf := formOfCustomer(cur.Customer)
			nf.lockFor(me, cur.Customer)
			nf.Conflict = true
			nf.Error = l.T("Someone else saved this customer after you opened the form. It now shows their values; your changes, listed below, were not saved.")
			nf.Unsaved = custUnsavedChanges(l, f, nf, employeeNames(emps))
			return s.renderCustomerForm(w, r, http.StatusConflict, nf)
		}
		if formRefused(err) {
			f.Error = l.Refusal(err)
			return s.renderCustomerForm(w, r, statusOf(keel.ErrorCode(err)), f)
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/customers/"+strconv.FormatInt(id, 10), l.T("Customer saved."))
		return nil
	})
}

// custUnsavedChanges lists the fields typed differently from the current
// record.
func custUnsavedChanges(l lang, typed, cur customerForm, names names) []custUnsavedField {
	owner := func(v string) string {
		if v == "" {
			return l.T("No owner")
		}
		id, _ := strconv.ParseInt(v, 10, 64)
		return names.of(id)
	}
	var out []custUnsavedField
	add := func(label, a, b string) {
		if a != b {
			out = append(out, custUnsavedField{Label: label, Value: a})
		}
	}
	add(l.T("Name"), typed.Name, cur.Name)
	add(l.T("Tenant id"), typed.TenantID, cur.TenantID)
	add(l.T("Sales owner"), owner(typed.SalesOwner), owner(cur.SalesOwner))
	add(l.T("CSM owner"), owner(typed.CSMOwner), owner(cur.CSMOwner))
	add(l.T("Industry"), typed.Industry, cur.Industry)
	add(l.T("Region"), typed.Region, cur.Region)
	add(l.T("Website"), typed.Website, cur.Website)
	add(l.T("Notes"), typed.Notes, cur.Notes)
	contacts := func(cs []keel.Contact) string {
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = strings.TrimSpace(strings.Join([]string{c.Name, c.Email, c.Phone, c.Title}, " "))
		}
		return strings.Join(parts, "; ")
	}
	add(l.T("Contacts"), contacts(typed.Contacts), contacts(cur.Contacts))
	return out
}
