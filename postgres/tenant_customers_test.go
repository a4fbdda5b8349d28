package postgres

import (
	"fmt"
	"strings"
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

	// CustomerStatuses derives the same statuses for the customers asked
	// only: a churned one too, and an id of no customer left out.
	churned := add(keel.Customer{Name: prefix + " d churned", TenantID: "refs-" + e.id + "-d"})
	e.approved(t, churned, keel.OrderNew, lineFrom(s.pro, 1, 1, keel.Date(e.now()).AddDate(0, -3, 0)))
	statuses, err := e.db.CustomerStatuses(e.ctx, []int64{paying, churned, unlinked, -1})
	if err != nil {
		t.Fatal(err)
	}
	wantSt := map[int64]keel.CustomerStatus{paying: keel.CustomerActive, unlinked: keel.CustomerProspect}
	if v, err := e.db.Customer(e.ctx, churned); err != nil {
		t.Fatal(err)
	} else if wantSt[churned] = v.Status; v.Status != keel.CustomerChurned {
		t.Fatalf("a term that ended two months ago: the customer is %s, want churned", v.Status)
	}
	if fmt.Sprint(statuses) != fmt.Sprint(wantSt) {
		t.Errorf("statuses of some: %v, want %v", statuses, wantSt)
	}
	refs, err = e.db.CustomerRefs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range refs {
		ids = append(ids, r.ID)
	}
	every, err := e.db.CustomerStatuses(e.ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if every[r.ID] != r.Status {
			t.Errorf("customer %d: status %q, its ref says %q", r.ID, every[r.ID], r.Status)
		}
	}
	if none, err := e.db.CustomerStatuses(e.ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("statuses of none: %v %v", none, err)
	}
}

func TestCustomerOwners(t *testing.T) {
	e := newStoreEnv(t)
	prefix := "Owners " + e.id
	add := func(c keel.Customer) int64 {
		t.Helper()
		v, err := e.db.CreateCustomer(e.ctx, e.sales, c)
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	both := add(keel.Customer{Name: prefix + " both", SalesOwner: &e.sales.ID, CSMOwner: &e.csm.ID})
	csmOnly := add(keel.Customer{Name: prefix + " csm", CSMOwner: &e.csm.ID})
	none := add(keel.Customer{Name: prefix + " none"})

	want := []keel.CustomerOwner{
		{ID: both, Name: prefix + " both", SalesOwner: e.sales.ID, CSMOwner: e.csm.ID},
		{ID: csmOnly, Name: prefix + " csm", CSMOwner: e.csm.ID},
		{ID: none, Name: prefix + " none"},
	}
	// Some customers, by id whatever the order asked; an unknown id is left out.
	got, err := e.db.CustomerOwners(e.ctx, []int64{none, both, -1, csmOnly})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("owners of some\n got %+v\nwant %+v", got, want)
	}
	// Every customer, these among them, agreeing with CustomerRefs.
	all, err := e.db.CustomerOwners(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := e.db.CustomerRefs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(refs) {
		t.Errorf("every customer: %d owners, %d refs", len(all), len(refs))
	}
	byID := map[int64]keel.CustomerRef{}
	for _, r := range refs {
		byID[r.ID] = r
	}
	for _, c := range all {
		r := byID[c.ID]
		if r.Name != c.Name || r.TenantID != c.TenantID || r.SalesOwner != c.SalesOwner || r.CSMOwner != c.CSMOwner {
			t.Errorf("customer %d: owners %+v, ref %+v", c.ID, c, r)
		}
	}
	// The same without names, by id.
	ids, err := e.db.CustomerOwnerIDs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i, c := range ids {
		if i > 0 && ids[i-1].ID >= c.ID {
			t.Fatalf("owner ids out of order: %d then %d", ids[i-1].ID, c.ID)
		}
		for _, w := range want {
			if c.ID == w.ID {
				found++
				if named := (keel.CustomerOwner{ID: c.ID, Name: w.Name, SalesOwner: c.SalesOwner, CSMOwner: c.CSMOwner}); c.Name != "" || named != w {
					t.Errorf("owner ids %+v, want %+v without its name", c, w)
				}
			}
		}
	}
	if found != len(want) {
		t.Errorf("owner ids hold %d of the %d customers", found, len(want))
	}
	if got, err := e.db.CustomerOwners(e.ctx, []int64{}); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v, %v; want none", got, err)
	}
	if !want[0].OwnedBy(e.sales.ID) || !want[1].OwnedBy(e.csm.ID) || want[1].OwnedBy(e.sales.ID) || want[2].OwnedBy(0) {
		t.Errorf("OwnedBy disagrees with the owners")
	}

	// The customers an employee owns, as sales or CSM owner.
	owned := func(id int64) map[int64]bool {
		t.Helper()
		ids, err := e.db.CustomersOwnedBy(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		m := map[int64]bool{}
		for _, x := range ids {
			m[x] = true
		}
		return m
	}
	if m := owned(e.sales.ID); !m[both] || m[csmOnly] || m[none] {
		t.Errorf("sales owns %v; want %d and not %d or %d", m, both, csmOnly, none)
	}
	if m := owned(e.csm.ID); !m[both] || !m[csmOnly] || m[none] {
		t.Errorf("csm owns %v; want %d and %d, not %d", m, both, csmOnly, none)
	}
	if m := owned(0); len(m) != 0 {
		t.Errorf("employee 0 owns %v; want none", m)
	}
}

// TestReviewCustomers: the review's page of customers is by name, of an
// owner (sales or CSM) or of some ids, paged with the total of all that
// match (a page past the end too), each with the status CustomerRefs
// derives for it.
func TestReviewCustomers(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	prefix := "Review " + e.id
	add := func(c keel.Customer) int64 {
		t.Helper()
		v, err := e.db.CreateCustomer(e.ctx, e.sales, c)
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	// A CSM of this test's own, so that the owner's list is these only.
	csm, _, err := e.db.AddEmployee(e.ctx, keel.System, keel.Employee{Email: "review-csm-" + e.id + "@example.com", Name: "Review CSM", Roles: []keel.Role{keel.RoleCSM}})
	if err != nil {
		t.Fatal(err)
	}
	c := add(keel.Customer{Name: prefix + " c", CSMOwner: &csm.ID})
	a := add(keel.Customer{Name: prefix + " A paying", TenantID: "review-" + e.id + "-a", CSMOwner: &csm.ID})
	e.approved(t, a, keel.OrderNew, line(s.pro, 1, 12))
	b := add(keel.Customer{Name: prefix + " b", SalesOwner: &e.sales.ID})

	page := func(owner int64, ids []int64, limit, offset int) ([]int64, int) {
		t.Helper()
		rows, total, err := e.db.ReviewCustomers(e.ctx, owner, ids, keel.Page{Limit: limit, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		refs, err := e.db.CustomerRefs(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[int64]keel.CustomerRef{}
		for _, r := range refs {
			byID[r.ID] = r
		}
		var got []int64
		for _, r := range rows {
			if want := byID[r.ID]; r != want {
				t.Errorf("review customer %+v, ref %+v", r, want)
			}
			got = append(got, r.ID)
		}
		return got, total
	}
	if got, total := page(csm.ID, nil, 10, 0); fmt.Sprint(got) != fmt.Sprint([]int64{a, c}) || total != 2 {
		t.Errorf("the CSM's: %v of %d, want [%d %d] of 2 (A before c, any case)", got, total, a, c)
	}
	if got, total := page(csm.ID, nil, 1, 1); fmt.Sprint(got) != fmt.Sprint([]int64{c}) || total != 2 {
		t.Errorf("the CSM's second page of one: %v of %d, want [%d] of 2", got, total, c)
	}
	if got, total := page(csm.ID, nil, 10, 10); len(got) != 0 || total != 2 {
		t.Errorf("past the end: %v of %d, want none of 2", got, total)
	}
	if got, total := page(0, []int64{b, c}, 10, 0); fmt.Sprint(got) != fmt.Sprint([]int64{b, c}) || total != 2 {
		t.Errorf("of ids: %v of %d, want [%d %d]", got, total, b, c)
	}
	if got, total := page(csm.ID, []int64{b, c}, 10, 0); fmt.Sprint(got) != fmt.Sprint([]int64{c}) || total != 1 {
		t.Errorf("the CSM's of ids: %v of %d, want [%d]", got, total, c)
	}
	if got, total := page(0, []int64{}, 10, 0); len(got) != 0 || total != 0 {
		t.Errorf("of no ids: %v of %d", got, total)
	}
	if _, _, err := e.db.ReviewCustomers(e.ctx, 0, nil, keel.Page{Limit: -1}); keel.ErrorCode(err) != keel.EINVALID {
		t.Errorf("a bad limit: %v, want EINVALID", err)
	}
}

func TestCustomerChoices(t *testing.T) {
	e := newStoreEnv(t)
	prefix := "Choices " + e.id
	add := func(name, tenant string) int64 {
		t.Helper()
		v, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: name, TenantID: tenant})
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	// Created out of name order; one name has a LIKE wildcard in it.
	c := add(prefix+" c 100%", "")
	a := add(prefix+" A", "choices-"+e.id+"-a")
	b := add(prefix+" b", "choices-"+e.id+"-b")
	choice := func(id int64) keel.CustomerChoice {
		refs, err := e.db.CustomerRefs(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range refs {
			if r.ID == id {
				return keel.CustomerChoice{ID: r.ID, Name: r.Name, TenantID: r.TenantID}
			}
		}
		t.Fatalf("customer %d is not among the refs", id)
		return keel.CustomerChoice{}
	}
	ca, cb, cc := choice(a), choice(b), choice(c)
	for _, tc := range []struct {
		query string
		limit int
		want  []keel.CustomerChoice
	}{
		{prefix, 100, []keel.CustomerChoice{ca, cb, cc}}, // by name, any case: the refs' rows and order
		{strings.ToLower(prefix), 3, []keel.CustomerChoice{ca, cb, cc}},
		{prefix, 2, []keel.CustomerChoice{ca, cb}}, // stops at the limit
		{prefix, 1, []keel.CustomerChoice{ca}},
		{"choices-" + e.id + "-B", 10, []keel.CustomerChoice{cb}}, // the tenant id
		{prefix + " c 100%", 10, []keel.CustomerChoice{cc}},       // % is a character, not a wildcard
		{prefix + " c 1000", 10, []keel.CustomerChoice{}},
		{fmt.Sprint(b), 1, []keel.CustomerChoice{cb}}, // an id comes first
	} {
		got, err := e.db.CustomerChoices(e.ctx, tc.query, tc.limit)
		if err != nil {
			t.Fatalf("%q limit %d: %v", tc.query, tc.limit, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q limit %d:\n got %+v\nwant %+v", tc.query, tc.limit, got, tc.want)
		}
	}
	all, err := e.db.CustomerChoices(e.ctx, "", MaxCustomerChoices)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 || len(all) > MaxCustomerChoices {
		t.Errorf("no query: %d customers, want 1 to %d", len(all), MaxCustomerChoices)
	}
	for _, tc := range []struct {
		query string
		limit int
		field string
	}{{prefix, 0, "limit"}, {prefix, MaxCustomerChoices + 1, "limit"}, {strings.Repeat("x", 201), 10, "q"}} {
		_, err := e.db.CustomerChoices(e.ctx, tc.query, tc.limit)
		if keel.ErrorCode(err) != keel.EINVALID || keel.ErrorField(err) != tc.field {
			t.Errorf("%.10q limit %d: %v, want EINVALID about %s", tc.query, tc.limit, err, tc.field)
		}
	}
}
