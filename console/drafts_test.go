package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keelhq/keel"
)

// TestDraftsInTheAPI: a draft's creator replaces its kind and lines
// (PUT) and deletes it (DELETE, 204); another seller, a CSM and finance
// are refused, as is any change to a submitted order, and nothing changes.
func TestDraftsInTheAPI(t *testing.T) {
	e := newAPI(t)
	_, tok := e.employee("sales2", keel.RoleSales)
	e.tokens["sales2"] = tok
	p, addon := e.product(keel.KindEdition, 1000, "USD"), e.product(keel.KindAddonTerm, 200, "USD")
	cid := e.customer()
	o := e.order(cid, keel.OrderNew, p, 100, 12)
	path := fmt.Sprintf("/api/v1/orders/%d", o)
	edit := map[string]any{"kind": "new", "lines": []any{
		map[string]any{"product_id": p, "quantity": 10, "months": 12}, map[string]any{"product_id": addon, "quantity": 10, "months": 12}}}

	refused := func(caller, method string, body any, status int) {
		t.Helper()
		before, audits := string(e.call("admin", "GET", path, nil).body), e.auditCount()
		r := e.call(caller, method, path, body)
		if r.status != status {
			t.Errorf("%s %s as %s: status %d, want %d: %s", method, path, caller, r.status, status, r.body)
		}
		if after := string(e.call("admin", "GET", path, nil).body); after != before {
			t.Errorf("%s as %s: refused but the order changed", method, caller)
		}
		if e.auditCount() != audits {
			t.Errorf("%s as %s: refused but audited", method, caller)
		}
	}
	for _, caller := range []string{"sales2", "csm", "finance", "admin", "leadership"} {
		refused(caller, "PUT", edit, http.StatusForbidden)
		refused(caller, "DELETE", nil, http.StatusForbidden)
	}
	refused("sales", "PUT", map[string]any{"customer_id": cid, "kind": "new", "lines": edit["lines"]}, http.StatusBadRequest)
	refused("sales", "PUT", map[string]any{"kind": "new", "lines": []any{map[string]any{"product_id": p, "quantity": 0, "months": 12}}}, http.StatusBadRequest)

	got := e.must(200, "sales", "PUT", path, edit)
	if got["total"] != float64((1000*10+200*10)*12) || got["status"] != "draft" || len(got["lines"].([]any)) != 2 || got["customer_id"] != float64(cid) {
		t.Errorf("edited draft %v", got)
	}
	if r := e.must(200, "admin", "GET", path, nil); r["total"] != got["total"] {
		t.Errorf("read back %v", r)
	}

	// Submitted, it stays as it is.
	sub := e.order(cid, keel.OrderNew, p, 1, 12)
	e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", sub), nil)
	for _, m := range []string{"PUT", "DELETE"} {
		if r := e.call("sales", m, fmt.Sprintf("/api/v1/orders/%d", sub), edit); r.status != http.StatusConflict {
			t.Errorf("%s a submitted order: %d, want 409: %s", m, r.status, r.body)
		}
	}

	// Deleted: gone, its trail kept.
	if r := e.call("sales", "DELETE", path, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %q, want 204 and no body", r.status, r.body)
	}
	if r := e.call("sales", "GET", path, nil); r.status != http.StatusNotFound {
		t.Errorf("the deleted draft: %d, want 404", r.status)
	}
	if r := e.call("sales", "DELETE", path, nil); r.status != http.StatusNotFound {
		t.Errorf("delete again: %d, want 404", r.status)
	}
	a := e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/audit?entity=order&entity_id=%d", o), nil)
	var actions []string
	for _, it := range a["items"].([]any) {
		actions = append(actions, it.(map[string]any)["action"].(string))
	}
	if strings.Join(actions, ",") != "order.delete,order.edit,order.create" {
		t.Errorf("the deleted draft's audit trail: %v", actions)
	}
}

// TestDraftsOnThePages: the order page offers its creator Edit and Delete
// on a draft and no one else; the edit form is the new-order form
// prefilled; delete asks for a confirmation; another seller's forms are
// refused with 403 and change nothing.
func TestDraftsOnThePages(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	sales2, _ := e.employee("sales2", keel.RoleSales)
	p := e.product(keel.KindEdition, 1000, "USD")
	cust, _ := e.db.Customer(ctx, e.customer())
	o := e.order(cust.ID, keel.OrderNew, p, 100, 12)
	path := fmt.Sprintf("/orders/%d", o)

	b := e.signIn("sales")
	wantPage(t, "draft as its creator", b.get(path), 200, `href="`+path+`/edit"`, `id="delete-order"`, `name="confirm"`)
	for _, who := range []*browser{e.signInAs(sales2), e.signIn("csm"), e.signIn("finance")} {
		r := who.get(path)
		if strings.Contains(r.body, `id="delete-order"`) || strings.Contains(r.body, path+"/edit") {
			t.Errorf("someone other than the creator is offered edit or delete")
		}
	}
	r := b.get(path + "/edit")
	wantPage(t, "edit form", r, 200, fmt.Sprintf("Edit order %d", o), `action="`+path+`"`, `name="lines[0].quantity" value="100"`,
		`name="lines[0].months" value="12"`, fmt.Sprintf(`<option value="%d" selected>`, p), cust.Name, "Save draft")

	// Another seller: refused, nothing changed.
	other := e.signInAs(sales2)
	other.get("/orders")
	wantPage(t, "edit form as another seller", other.get(path+"/edit"), http.StatusForbidden, "only the employee who created order")
	// A fresh form each time: post adds the sender's CSRF token to it.
	form := func() url.Values {
		return url.Values{"kind": {"new"}, "lines[0].product_id": {fmt.Sprint(p)}, "lines[0].quantity": {"10"}, "lines[0].months": {"12"}}
	}
	wantPage(t, "save as another seller", other.post(path, form()), http.StatusForbidden)
	wantPage(t, "delete as another seller", other.post(path+"/delete", url.Values{"confirm": {"yes"}}), http.StatusForbidden)
	if got, _ := e.db.Order(ctx, o); got.Lines[0].Quantity != 100 || e.auditBy(sales2.ID) != 0 {
		t.Fatalf("after another seller's refused forms: quantity %d, %d audit entries", got.Lines[0].Quantity, e.auditBy(sales2.ID))
	}

	// The creator: a bad row comes back beside its row; a good one saves.
	bad := url.Values{"kind": {"new"}, "lines[0].product_id": {fmt.Sprint(p)}, "lines[0].quantity": {"0"}, "lines[0].months": {"12"}}
	wantPage(t, "bad edit", b.post(path, bad), http.StatusBadRequest, "lines[0].quantity: must be 1 to", `id="line-error-0"`, `action="`+path+`"`)
	wantRedirect(t, "save", b.post(path, form()), path)
	if got, _ := e.db.Order(ctx, o); got.Lines[0].Quantity != 10 || got.Status != keel.OrderDraft || got.CustomerID != cust.ID {
		t.Errorf("saved draft %+v", got)
	}
	wantPage(t, "after save", b.get(path), 200, "Draft saved.")

	// Delete: confirm first.
	wantPage(t, "delete unconfirmed", b.post(path+"/delete", nil), http.StatusBadRequest, "confirm: tick the box", `id="delete-order"`)
	wantRedirect(t, "delete", b.post(path+"/delete", url.Values{"confirm": {"yes"}}), "/orders")
	if _, err := e.db.Order(ctx, o); keel.ErrorCode(err) != keel.ENOTFOUND {
		t.Errorf("the deleted draft: %v, want not found", err)
	}
	wantPage(t, "after delete", b.get("/orders"), 200, fmt.Sprintf("Draft order %d deleted.", o))

	// Submitted orders are neither edited nor deleted.
	s := e.order(cust.ID, keel.OrderNew, p, 1, 12)
	e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", s), nil)
	sp := fmt.Sprintf("/orders/%d", s)
	if r := b.get(sp); strings.Contains(r.body, `id="delete-order"`) || strings.Contains(r.body, sp+"/edit") {
		t.Errorf("a submitted order offers edit or delete")
	}
	wantPage(t, "edit a submitted order", b.get(sp+"/edit"), http.StatusConflict, "only a draft can be edited")
	wantPage(t, "save a submitted order", b.post(sp, form()), http.StatusConflict)
	wantPage(t, "delete a submitted order", b.post(sp+"/delete", url.Values{"confirm": {"yes"}}), http.StatusConflict)
}
