package postgres

import (
	"fmt"
	"testing"

	"github.com/keelhq/keel"
)

func TestCustomerRefs(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	prefix := "Refs " + e.id
	add := func(c keel.Customer) int64 {
		t.Helper()
		v, err := e.db.CreateCustomer(e.ctx, e.sales, c)
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	// Named so that the answer's order (by name, any case) differs from
	// the order of creation.
	paying := add(keel.Customer{Name: prefix + " b paying", TenantID: "refs-" + e.id + "-b", SalesOwner: &e.sales.ID, CSMOwner: &e.csm.ID})
	e.approved(t, paying, keel.OrderNew, line(s.pro, 1, 12))
	prospect := add(keel.Customer{Name: prefix + " A prospect", TenantID: "refs-" + e.id + "-a", CSMOwner: &e.csm.ID})
	unlinked := add(keel.Customer{Name: prefix + " c unlinked"})

	refs, err := e.db.CustomerRefs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []keel.CustomerRef
	for _, r := range refs {
		if r.ID == paying || r.ID == prospect || r.ID == unlinked {
			got = append(got, r)
		}
	}
	want := []keel.CustomerRef{
		{ID: prospect, Name: prefix + " A prospect", TenantID: "refs-" + e.id + "-a", CSMOwner: e.csm.ID, Status: keel.CustomerProspect},
		{ID: paying, Name: prefix + " b paying", TenantID: "refs-" + e.id + "-b", SalesOwner: e.sales.ID, CSMOwner: e.csm.ID, Status: keel.CustomerActive},
		{ID: unlinked, Name: prefix + " c unlinked", Status: keel.CustomerProspect},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refs\n got %+v\nwant %+v", got, want)
	}
	// The status is the one the customer's view derives.
	for _, r := range got {
		v, err := e.db.Customer(e.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != r.Status {
			t.Errorf("customer %d: ref status %s, view status %s", r.ID, r.Status, v.Status)
		}
	}
	if !want[1].OwnedBy(e.sales.ID) || !want[1].OwnedBy(e.csm.ID) || want[0].OwnedBy(e.sales.ID) || want[2].OwnedBy(0) {
		t.Errorf("OwnedBy disagrees with the owners")
	}
}
