package postgres

import (
	"testing"

	"github.com/keelhq/keel"
)

// TestCustomerOwnersAreGuarded: a seller cannot take another's customer,
// nor a CSM another's CSM ownership; the current owner hands theirs over,
// admin and leadership reassign (leadership nothing else), each change
// audited; a refusal changes nothing and writes nothing. The rule is
// judged against the customer as locked in the transaction.
func TestCustomerOwnersAreGuarded(t *testing.T) {
	e := newStoreEnv(t)
	csm2, _, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: "csm2-" + e.id + "@example.com", Name: "CSM 2", Roles: []keel.Role{keel.RoleCSM}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Owned " + e.id, SalesOwner: &e.sales.ID, CSMOwner: &e.csm.ID})
	if err != nil {
		t.Fatal(err)
	}
	id := v.ID
	with := func(f func(c *keel.Customer)) keel.Customer {
		t.Helper()
		cur, err := e.db.Customer(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c := cur.Customer
		f(&c)
		return c
	}
	refused := func(what string, by keel.Employee, c keel.Customer, field string) {
		t.Helper()
		before, counts := with(func(*keel.Customer) {}), e.counts(t)
		_, err := e.db.UpdateCustomer(e.ctx, by, c)
		wantCode(t, what, err, keel.EFORBIDDEN)
		if keel.ErrorField(err) != field {
			t.Errorf("%s: field %q, want %q", what, keel.ErrorField(err), field)
		}
		if after := with(func(*keel.Customer) {}); after.Version != before.Version {
			t.Errorf("%s: the customer changed", what)
		}
		e.unchanged(t, counts)
	}
	allowed := func(what string, by keel.Employee, c keel.Customer) keel.CustomerView {
		t.Helper()
		audits := len(e.auditActions(t, "customer", id))
		v, err := e.db.UpdateCustomer(e.ctx, by, c)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := len(e.auditActions(t, "customer", id)); n != audits+1 {
			t.Errorf("%s: %d audit rows written, want 1", what, n-audits)
		}
		return v
	}

	refused("another seller takes the customer", e.sales2, with(func(c *keel.Customer) { c.SalesOwner = &e.sales2.ID }), "sales_owner")
	refused("another CSM takes the CSM ownership", csm2, with(func(c *keel.Customer) { c.CSMOwner = &csm2.ID }), "csm_owner")
	refused("the CSM changes the sales owner", e.csm, with(func(c *keel.Customer) { c.SalesOwner = &e.sales2.ID }), "sales_owner")
	refused("leadership renames", e.leader, with(func(c *keel.Customer) { c.Name += " renamed" }), "")
	refused("finance reassigns", e.finance, with(func(c *keel.Customer) { c.SalesOwner = &e.sales2.ID }), "")
	// Another seller still keeps the record itself.
	allowed("another seller edits the notes", e.sales2, with(func(c *keel.Customer) { c.Notes = "met at the fair" }))

	// The CSM hands their CSM ownership over; the seller theirs.
	if v := allowed("the CSM hands over", e.csm, with(func(c *keel.Customer) { c.CSMOwner = &csm2.ID })); v.CSMOwner == nil || *v.CSMOwner != csm2.ID {
		t.Errorf("after the CSM's handover: CSM owner %v, want %d", v.CSMOwner, csm2.ID)
	}
	refused("the former CSM takes it back", e.csm, with(func(c *keel.Customer) { c.CSMOwner = &e.csm.ID }), "csm_owner")
	if v := allowed("the seller hands over", e.sales, with(func(c *keel.Customer) { c.SalesOwner = &e.sales2.ID })); v.SalesOwner == nil || *v.SalesOwner != e.sales2.ID {
		t.Errorf("after the seller's handover: sales owner %v, want %d", v.SalesOwner, e.sales2.ID)
	}
	// Leadership and admin reassign.
	allowed("leadership reassigns", e.leader, with(func(c *keel.Customer) { c.SalesOwner, c.CSMOwner = &e.sales.ID, &e.csm.ID }))
	allowed("admin reassigns", e.admin, with(func(c *keel.Customer) { c.SalesOwner = nil }))
	refused("a seller claims the customer no one sells", e.sales, with(func(c *keel.Customer) { c.SalesOwner = &e.sales.ID }), "sales_owner")

	// The rule reads the owner as stored when the change commits, not as
	// the caller read it: a handover based on an old read of the record
	// (Version 0: replace) is judged by who owns it now.
	stale := with(func(c *keel.Customer) {})
	allowed("admin gives it to sales2", e.admin, with(func(c *keel.Customer) { c.SalesOwner = &e.sales2.ID }))
	stale.SalesOwner, stale.Version = &e.sales.ID, 0
	refused("sales, no longer the owner, sets themselves", e.sales, stale, "sales_owner")

	// The audit row of a handover holds the owners before and after.
	var before, after struct{ SalesOwner, CSMOwner *int64 }
	if err := e.db.pool.QueryRow(e.ctx, `SELECT before->'SalesOwner', after->'SalesOwner' FROM audit_log
		WHERE entity = 'customer' AND entity_id = $1 ORDER BY id DESC LIMIT 1`, id).Scan(&before.SalesOwner, &after.SalesOwner); err != nil {
		t.Fatal(err)
	}
	if before.SalesOwner != nil || after.SalesOwner == nil || *after.SalesOwner != e.sales2.ID {
		t.Errorf("audit of the last reassignment: sales owner %v → %v, want none → %d", before.SalesOwner, after.SalesOwner, e.sales2.ID)
	}
}
