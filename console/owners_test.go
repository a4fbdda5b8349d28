package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keelhq/keel"
)

// ownedCustomer is a customer sold by sales and looked after by csm.
func (e *apiEnv) ownedCustomer() keel.CustomerView {
	e.t.Helper()
	sales, csm := e.emps["sales"].ID, e.emps["csm"].ID
	return e.newCustomer(keel.Customer{Name: "Owned " + uniq(), SalesOwner: &sales, CSMOwner: &csm})
}

// owners reads a customer's owners, 0 for none.
func (e *apiEnv) owners(id int64) (sales, csm int64) {
	e.t.Helper()
	v, err := e.db.Customer(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	if v.SalesOwner != nil {
		sales = *v.SalesOwner
	}
	if v.CSMOwner != nil {
		csm = *v.CSMOwner
	}
	return sales, csm
}

// TestCustomerOwnersInTheAPI: a customer a seller creates is theirs unless
// they choose otherwise; a seller cannot take another's customer, nor a
// CSM another's CSM ownership (403, nothing changed, nothing audited); the
// owner hands theirs over; leadership reassigns, and changes nothing else.
func TestCustomerOwnersInTheAPI(t *testing.T) {
	e := newAPI(t)
	sales, csm := e.emps["sales"], e.emps["csm"]
	sales2, tok2 := e.employee("sales2", keel.RoleSales)
	csm2, tokc2 := e.employee("csm2", keel.RoleCSM)
	e.tokens["sales2"], e.tokens["csm2"] = tok2, tokc2

	// Created: the seller's unless they say otherwise.
	for _, tt := range []struct {
		caller string
		body   map[string]any
		want   any
	}{
		{"sales", map[string]any{"name": "Mine " + uniq()}, float64(sales.ID)},
		{"sales", map[string]any{"name": "Nobody's " + uniq(), "sales_owner": nil}, nil},
		{"sales", map[string]any{"name": "Theirs " + uniq(), "sales_owner": sales2.ID}, float64(sales2.ID)},
		{"csm", map[string]any{"name": "CSM's " + uniq()}, nil},
		{"admin", map[string]any{"name": "Admin's " + uniq()}, nil},
	} {
		if got := e.must(201, tt.caller, "POST", "/api/v1/customers", tt.body)["sales_owner"]; got != tt.want {
			t.Errorf("created by %s with %v: sales owner %v, want %v", tt.caller, tt.body, got, tt.want)
		}
	}

	c := e.ownedCustomer()
	path := fmt.Sprintf("/api/v1/customers/%d", c.ID)
	refused := func(caller string, body map[string]any, field string) {
		t.Helper()
		before, audits := string(e.call("admin", "GET", path, nil).body), e.auditCount()
		r := e.call(caller, "PATCH", path, body)
		if r.status != http.StatusForbidden {
			t.Fatalf("PATCH %v as %s: status %d, want 403: %s", body, caller, r.status, r.body)
		}
		if got := r.apiError(t); got.Code != keel.EFORBIDDEN || field != "" && (got.Field == nil || *got.Field != field) {
			t.Errorf("PATCH %v as %s: %s, want forbidden about %q", body, caller, r.body, field)
		}
		if after := string(e.call("admin", "GET", path, nil).body); after != before {
			t.Errorf("PATCH %v as %s: refused but the customer changed", body, caller)
		}
		if e.auditCount() != audits {
			t.Errorf("PATCH %v as %s: refused but audited", body, caller)
		}
	}
	refused("sales2", map[string]any{"sales_owner": sales2.ID}, "sales_owner")
	refused("sales2", map[string]any{"sales_owner": nil}, "sales_owner")
	refused("csm2", map[string]any{"csm_owner": csm2.ID}, "csm_owner")
	refused("csm", map[string]any{"sales_owner": sales2.ID}, "sales_owner")
	refused("sales", map[string]any{"csm_owner": csm2.ID}, "csm_owner")
	refused("leadership", map[string]any{"notes": "leadership notes"}, "")
	refused("finance", map[string]any{"sales_owner": sales2.ID}, "")
	if r := e.call("sales2", "PUT", path, map[string]any{"name": "Taken", "sales_owner": sales2.ID, "csm_owner": csm.ID}); r.status != http.StatusForbidden {
		t.Errorf("PUT taking the customer: %d, want 403: %s", r.status, r.body)
	}
	// Another seller still edits the record; the owners stay.
	e.must(200, "sales2", "PATCH", path, map[string]any{"notes": "met at the fair"})

	// The CSM hands the CSM ownership over; the seller the sales ownership.
	audits := e.auditCount()
	e.must(200, "csm", "PATCH", path, map[string]any{"csm_owner": csm2.ID})
	e.must(200, "sales", "PATCH", path, map[string]any{"sales_owner": sales2.ID})
	if s, c2 := e.owners(c.ID); s != sales2.ID || c2 != csm2.ID {
		t.Errorf("after the handovers: owners %d, %d; want %d, %d", s, c2, sales2.ID, csm2.ID)
	}
	if n := e.auditCount() - audits; n != 2 {
		t.Errorf("handovers: %d audit entries, want 2", n)
	}
	refused("sales", map[string]any{"sales_owner": sales.ID}, "sales_owner") // no longer theirs

	// Leadership and admin reassign.
	e.must(200, "leadership", "PATCH", path, map[string]any{"sales_owner": sales.ID, "csm_owner": csm.ID})
	if s, c2 := e.owners(c.ID); s != sales.ID || c2 != csm.ID {
		t.Errorf("after leadership reassigned: owners %d, %d", s, c2)
	}
	e.must(200, "admin", "PATCH", path, map[string]any{"csm_owner": nil})
	if _, c2 := e.owners(c.ID); c2 != 0 {
		t.Errorf("after admin cleared the CSM owner: %d", c2)
	}
}

// TestCustomerOwnersOnThePages: the form offers an owner field only to
// who may change it (others see it disabled), and a form sent with it
// anyway is refused with 403 and changes nothing; the owner hands over,
// a CSM hands over their CSM ownership, leadership reassigns from a form
// whose other fields are disabled.
func TestCustomerOwnersOnThePages(t *testing.T) {
	e := newAPI(t)
	sales, csm := e.emps["sales"], e.emps["csm"]
	sales2, _ := e.employee("sales2", keel.RoleSales)
	csm2, _ := e.employee("csm2", keel.RoleCSM)
	c := e.ownedCustomer()
	path := fmt.Sprintf("/customers/%d", c.ID)
	version := func() string {
		v, err := e.db.Customer(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return strconv.FormatInt(v.Version, 10)
	}
	disabled := func(name string) string { return `<select name="` + name + `" disabled>` }
	enabled := func(name string) string { return `<select name="` + name + `">` }

	// Another seller: both owners disabled; sending one anyway is refused.
	b2 := e.signInAs(sales2)
	r := b2.get(path + "/edit")
	wantPage(t, "edit as another seller", r, 200, disabled("sales_owner"), disabled("csm_owner"), `id="owners-locked"`)
	if strings.Contains(r.body, `id="record" disabled`) {
		t.Errorf("another seller may not edit the record")
	}
	before := e.auditBy(sales2.ID)
	wantPage(t, "take the customer", b2.post(path, url.Values{"name": {c.Name}, "version": {version()}, "sales_owner": {idStr(sales2.ID)}}),
		http.StatusForbidden, "sales_owner: only admin, leadership or the customer&#39;s sales owner may change its sales owner")
	if s, _ := e.owners(c.ID); s != sales.ID || e.auditBy(sales2.ID) != before {
		t.Fatalf("refused take: sales owner %d, %d audit entries", s, e.auditBy(sales2.ID)-before)
	}
	// … and saving what they may change (the browser sends no disabled
	// field) keeps the owners.
	wantRedirect(t, "another seller edits", b2.post(path, url.Values{"name": {c.Name}, "region": {"EU"}, "version": {version()}}), path)
	if s, c2 := e.owners(c.ID); s != sales.ID || c2 != csm.ID {
		t.Errorf("after another seller's edit: owners %d, %d", s, c2)
	}

	// The CSM owner: the CSM field only; hands it over.
	bc := e.signIn("csm")
	wantPage(t, "edit as the CSM owner", bc.get(path+"/edit"), 200, disabled("sales_owner"), enabled("csm_owner"))
	wantRedirect(t, "CSM hands over", bc.post(path, url.Values{"name": {c.Name}, "version": {version()}, "csm_owner": {idStr(csm2.ID)}}), path)
	if _, c2 := e.owners(c.ID); c2 != csm2.ID {
		t.Errorf("after the CSM's handover: CSM owner %d, want %d", c2, csm2.ID)
	}
	wantPage(t, "the former CSM takes it back", bc.post(path, url.Values{"name": {c.Name}, "version": {version()}, "csm_owner": {idStr(csm.ID)}}), http.StatusForbidden, "csm_owner: ")

	// The seller: the sales field; hands it over.
	bs := e.signIn("sales")
	wantPage(t, "edit as the sales owner", bs.get(path+"/edit"), 200, enabled("sales_owner"), disabled("csm_owner"))
	wantRedirect(t, "seller hands over", bs.post(path, url.Values{"name": {c.Name}, "version": {version()}, "sales_owner": {idStr(sales2.ID)}}), path)
	if s, _ := e.owners(c.ID); s != sales2.ID {
		t.Errorf("after the seller's handover: sales owner %d", s)
	}

	// Leadership: owners only, the record disabled.
	bl := e.signIn("leadership")
	wantPage(t, "360 as leadership", bl.get(path), 200, `id="edit-customer">Change owners`)
	wantPage(t, "edit as leadership", bl.get(path+"/edit"), 200, `id="record" disabled`, `id="record-more" disabled`, enabled("sales_owner"), enabled("csm_owner"))
	wantRedirect(t, "leadership reassigns", bl.post(path, url.Values{"version": {version()}, "sales_owner": {idStr(sales.ID)}, "csm_owner": {idStr(csm.ID)}}), path)
	if s, c2 := e.owners(c.ID); s != sales.ID || c2 != csm.ID {
		t.Errorf("after leadership reassigned: owners %d, %d", s, c2)
	}
	wantPage(t, "leadership renames", bl.post(path, url.Values{"name": {"Renamed"}, "version": {version()}}), http.StatusForbidden)
	wantPage(t, "finance edits", e.signIn("finance").get(path+"/edit"), http.StatusForbidden)

	// A new customer is its seller's unless they choose another.
	wantPage(t, "new as sales", bs.get("/customers/new"), 200, fmt.Sprintf(`<option value="%d" selected>`, sales.ID))
	r = bs.post("/customers", url.Values{"name": {"Fresh " + uniq()}, "sales_owner": {idStr(sales.ID)}})
	wantRedirect(t, "create", r, "/customers/")
	id, _ := strconv.ParseInt(strings.TrimPrefix(r.location, "/customers/"), 10, 64)
	if s, _ := e.owners(id); s != sales.ID {
		t.Errorf("new customer's sales owner %d, want the seller %d", s, sales.ID)
	}
	if strings.Contains(e.signIn("admin").get("/customers/new").body, `" selected>Test`) {
		t.Errorf("admin's new customer has an owner chosen")
	}
}
