package keel_test

import (
	"testing"

	"github.com/keelhq/keel"
)

// TestCustomerChangeOwners is who may change a customer's owners: admin
// and leadership, or the current owner handing theirs over; no one takes
// a customer by their own hand. Leadership changes owners only.
func TestCustomerChangeOwners(t *testing.T) {
	csm2 := employee(7, "cy@keel.test", keel.RoleCSM)
	both := employee(8, "bo@keel.test", keel.RoleSales, keel.RoleCSM)
	id := func(e keel.Employee) *int64 { v := e.ID; return &v }
	owned := keel.Customer{ID: 1, Name: "Acme", SalesOwner: id(seller), CSMOwner: id(csm), Region: "EU",
		Contacts: []keel.Contact{{Name: "Ann"}}}
	with := func(f func(c *keel.Customer)) keel.Customer {
		c := owned
		c.Contacts = append([]keel.Contact(nil), owned.Contacts...)
		f(&c)
		return c
	}
	salesTo := func(e *keel.Employee) keel.Customer {
		return with(func(c *keel.Customer) {
			c.SalesOwner = nil
			if e != nil {
				c.SalesOwner = id(*e)
			}
		})
	}
	csmTo := func(e keel.Employee) keel.Customer { return with(func(c *keel.Customer) { c.CSMOwner = id(e) }) }
	renamed := with(func(c *keel.Customer) { c.Name = "Acme Inc" })
	tests := []struct {
		name   string
		by     keel.Employee
		before keel.Customer
		after  keel.Customer
		code   string // "" = allowed
		field  string
	}{
		{"the seller edits the record", seller, owned, renamed, "", ""},
		{"another seller edits the record", seller2, owned, renamed, "", ""},
		{"a seller hands their customer over", seller, owned, salesTo(&seller2), "", ""},
		{"a seller lets their customer go", seller, owned, salesTo(nil), "", ""},
		{"another seller takes the customer", seller2, owned, salesTo(&seller2), keel.EFORBIDDEN, "sales_owner"},
		{"another seller gives it to a third", seller2, owned, salesTo(&both), keel.EFORBIDDEN, "sales_owner"},
		{"a seller claims a customer no one sells", seller2, with(func(c *keel.Customer) { c.SalesOwner = nil }), salesTo(&seller2), keel.EFORBIDDEN, "sales_owner"},
		{"the CSM hands their CSM ownership over", csm, owned, csmTo(csm2), "", ""},
		{"another CSM takes it", csm2, owned, csmTo(csm2), keel.EFORBIDDEN, "csm_owner"},
		{"the CSM changes the sales owner", csm, owned, salesTo(&seller2), keel.EFORBIDDEN, "sales_owner"},
		{"the seller changes the CSM owner", seller, owned, csmTo(csm2), keel.EFORBIDDEN, "csm_owner"},
		{"the seller hands over and takes the CSM ownership", seller, owned, with(func(c *keel.Customer) { c.SalesOwner = id(seller2); c.CSMOwner = id(both) }), keel.EFORBIDDEN, "csm_owner"},
		{"admin reassigns both", admin, owned, with(func(c *keel.Customer) { c.SalesOwner = id(seller2); c.CSMOwner = id(csm2) }), "", ""},
		{"leadership reassigns both", leader, owned, with(func(c *keel.Customer) { c.SalesOwner = id(seller2); c.CSMOwner = id(csm2) }), "", ""},
		{"leadership saves with no change", leader, owned, with(func(*keel.Customer) {}), "", ""},
		{"leadership edits the record", leader, owned, renamed, keel.EFORBIDDEN, ""},
		{"leadership edits a contact", leader, owned, with(func(c *keel.Customer) { c.Contacts[0].Email = "ann@acme.example" }), keel.EFORBIDDEN, ""},
		{"leadership reassigns and renames", leader, owned, with(func(c *keel.Customer) { c.Name = "X"; c.SalesOwner = id(seller2) }), keel.EFORBIDDEN, ""},
		{"finance changes an owner", finance, owned, salesTo(&seller2), keel.EFORBIDDEN, ""},
		{"finance edits the record", finance, owned, renamed, keel.EFORBIDDEN, ""},
		{"a departed owner hands over", keel.Employee{ID: seller.ID, Email: "sam@keel.test", Roles: seller.Roles, Status: keel.EmployeeDeparted}, owned, salesTo(&seller2), keel.EUNAUTHORIZED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.before.CheckChange(tt.by, tt.after)
			if tt.code == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, tt.code, tt.field)
			if keel.ErrorField(err) != tt.field {
				t.Errorf("field %q, want %q", keel.ErrorField(err), tt.field)
			}
		})
	}
	// The owner fields a form offers: what each may change.
	for _, tt := range []struct {
		by         keel.Employee
		sales, csm bool
	}{{seller, true, false}, {seller2, false, false}, {csm, false, true}, {both, false, false}, {admin, true, true}, {leader, true, true}, {finance, false, false}} {
		if s, c := owned.MayChangeOwner(tt.by, keel.RoleSales), owned.MayChangeOwner(tt.by, keel.RoleCSM); s != tt.sales || c != tt.csm {
			t.Errorf("%s may change sales %v, CSM %v; want %v, %v", tt.by.Email, s, c, tt.sales, tt.csm)
		}
	}
}

// TestDefaultSalesOwner: a customer a seller creates is theirs unless they
// choose otherwise; anyone else's starts with no owner.
func TestDefaultSalesOwner(t *testing.T) {
	if o := keel.DefaultSalesOwner(seller); o == nil || *o != seller.ID {
		t.Errorf("seller: %v, want %d", o, seller.ID)
	}
	for _, e := range []keel.Employee{admin, csm, leader} {
		if o := keel.DefaultSalesOwner(e); o != nil {
			t.Errorf("%s: %d, want none", e.Email, *o)
		}
	}
}
