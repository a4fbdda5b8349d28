package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keelhq/keel"
)

// orderFormRoutes are the forms of the sales pages, for TestFormRoleMatrix.
var orderFormRoutes = []formRoute{
	{"/products", keel.ActCatalogueWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/products", url.Values{"code": {"p-" + uniq()}, "name": {"Matrix product"}, "kind": {"edition"}, "unit": {"seat"}}
	}},
	{"/products/{id}/status", keel.ActCatalogueWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return fmt.Sprintf("/products/%d/status", e.product(keel.KindEdition, 1000, "USD")), url.Values{"status": {"disabled"}}
	}},
	{"/products/{id}/prices", keel.ActCatalogueWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return fmt.Sprintf("/products/%d/prices", e.product(keel.KindEdition, 1000, "USD")),
			url.Values{"amount": {"12.50"}, "currency": {"USD"}, "period": {"month"}, "effective_from": {today()}}
	}},
	{"/orders", keel.ActOrderCreate, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/orders", url.Values{"customer_id": {fmt.Sprint(e.customer())}, "kind": {"new"},
			"lines[0].product_id": {fmt.Sprint(e.product(keel.KindEdition, 1000, "USD"))}, "lines[0].quantity": {"1"}, "lines[0].months": {"12"}}
	}},
	{"/orders/{id}", keel.ActOrderCreate, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		id := e.draftBy(as)
		o, err := e.db.Order(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		return fmt.Sprintf("/orders/%d", id), url.Values{"kind": {"new"}, "lines[0].product_id": {fmt.Sprint(o.Lines[0].ProductID)},
			"lines[0].quantity": {"3"}, "lines[0].months": {"12"}}
	}},
	{"/orders/{id}/delete", keel.ActOrderCreate, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return fmt.Sprintf("/orders/%d/delete", e.draftBy(as)), url.Values{"confirm": {"yes"}}
	}},
	{"/orders/{id}/submit", keel.ActOrderCreate, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return fmt.Sprintf("/orders/%d/submit", e.draftBy(as)), nil
	}},
	{"/orders/{id}/approve", keel.ActOrderDecide, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		o, total := e.pending()
		return fmt.Sprintf("/orders/%d/approve", o), url.Values{"paid_amount": {keel.FormatAmount(total, "USD")}, "paid_at": {today()}, "payment_ref": {"INV-M"}}
	}},
	{"/orders/{id}/reject", keel.ActOrderDecide, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		o, _ := e.pending()
		return fmt.Sprintf("/orders/%d/reject", o), url.Values{"reason": {"no payment"}}
	}},
	{"/orders/{id}/void", keel.ActOrderDecide, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return fmt.Sprintf("/orders/%d/void", e.approved()), url.Values{"confirm": {"yes"}}
	}},
}

// draftBy makes a draft order created by emp, or by sales when emp may
// not create orders.
func (e *apiEnv) draftBy(emp keel.Employee) int64 {
	e.t.Helper()
	if emp.Can(keel.ActOrderCreate) != nil {
		emp = e.emps["sales"]
	}
	o, err := e.db.CreateOrder(context.Background(), emp, e.customer(), keel.OrderNew,
		[]keel.LineRequest{{ProductID: e.product(keel.KindEdition, 1000, "USD"), Quantity: 1, Months: 12}})
	if err != nil {
		e.t.Fatal(err)
	}
	return o.ID
}

// queueEnd is the end of finance's queue: its last two pages, where the
// newest orders are (it is oldest first, and other tests leave orders in
// it).
func (e *apiEnv) queueEnd(b *browser) pageResp {
	e.t.Helper()
	_, n, err := e.db.Orders(context.Background(), keel.OrderFilter{Status: keel.OrderPending, Page: keel.Page{Limit: 1}})
	if err != nil {
		e.t.Fatal(err)
	}
	last := max(1, (n+49)/50)
	r := b.get(fmt.Sprintf("/approvals?page=%d", last))
	if last > 1 {
		prev := b.get(fmt.Sprintf("/approvals?page=%d", last-1))
		r.body = prev.body + r.body
	}
	return r
}

// wantRedirect fails unless the answer is a 303 to a path starting with to.
func wantRedirect(t *testing.T, what string, r pageResp, to string) {
	t.Helper()
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, to) {
		t.Fatalf("%s: status %d to %q, want 303 to %s: %.1500s", what, r.status, r.location, to, r.body)
	}
}

func TestSalesProductPages(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	admin := e.signIn("admin")
	sales := e.signIn("sales")

	wantPage(t, "products as admin", admin.get("/products"), 200, `id="new-product"`, `name="code"`, `value="addon_standalone"`)
	if r := sales.get("/products"); r.status != 200 || strings.Contains(r.body, `id="new-product"`) {
		t.Fatalf("products as sales: status %d, or it offers the new-product form", r.status)
	}

	// Create.
	code := "pro-" + uniq()
	r := admin.post("/products", url.Values{"code": {code}, "name": {"Pro " + code}, "kind": {"edition"}, "unit": {"seat"}})
	wantRedirect(t, "create product", r, "/products/")
	var pid int64
	fmt.Sscanf(r.location, "/products/%d", &pid)
	entry, err := e.db.Product(ctx, pid)
	if err != nil || entry.Product.Code != code || entry.Product.Kind != keel.KindEdition || entry.Product.Status != keel.ProductEnabled {
		t.Fatalf("created product: %+v, %v", entry.Product, err)
	}
	wantPage(t, "new product page", admin.get(r.location), 200, "Pro "+code, "Product created.", "No price yet", `id="add-price"`)

	// Bad input names the field and creates nothing.
	count := func() int {
		all, err := e.db.Products(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	n := count()
	for _, tt := range []struct {
		form   url.Values
		status int
		text   string
	}{
		{url.Values{"code": {"Bad Code"}, "name": {"X"}, "kind": {"edition"}, "unit": {"seat"}}, 400, "code: "},
		{url.Values{"code": {"x-" + uniq()}, "name": {"X"}, "kind": {"gadget"}, "unit": {"seat"}}, 400, "kind: "},
		{url.Values{"code": {"x-" + uniq()}, "name": {""}, "kind": {"edition"}, "unit": {"seat"}}, 400, "name: "},
		{url.Values{"code": {code}, "name": {"Again"}, "kind": {"edition"}, "unit": {"seat"}}, 409, "code: there is already a product"},
	} {
		r := admin.post("/products", tt.form)
		wantPage(t, "bad product "+tt.text, r, tt.status, tt.text, `id="new-product"`, `value="`+tt.form.Get("code")+`"`)
	}
	if got := count(); got != n {
		t.Errorf("bad products: %d products, want %d", got, n)
	}
	if r := sales.post("/products", url.Values{"code": {"s-" + uniq()}, "name": {"X"}, "kind": {"edition"}, "unit": {"seat"}}); r.status != 403 {
		t.Errorf("product as sales: %d, want 403", r.status)
	}

	// Prices: a first version, then a later one closing it.
	path := fmt.Sprintf("/products/%d", pid)
	wantRedirect(t, "first price", admin.post(path+"/prices", url.Values{"amount": {"12.50"}, "currency": {"USD"}, "period": {"month"}, "effective_from": {"2025-01-01"}}), path)
	wantRedirect(t, "second price", admin.post(path+"/prices", url.Values{"amount": {"1,500"}, "currency": {"USD"}, "period": {"month"}, "effective_from": {today()}}), path)
	entry, _ = e.db.Product(ctx, pid)
	if len(entry.Versions) != 2 || entry.Versions[0].Amount != 1250 || entry.Versions[1].Amount != 150000 ||
		entry.Versions[0].EffectiveTo == nil || entry.Versions[0].EffectiveTo.Format("2006-01-02") != today() {
		t.Fatalf("versions: %+v", entry.Versions)
	}
	wantPage(t, "price history", admin.get(path), 200, "Price added from "+today(), `id="prices"`, "12.50", "1,500.00", "2025-01-01",
		"in effect today", `id="price-chart"`, `data-option="{`, "&#34;step&#34;:&#34;end&#34;")
	wantPage(t, "price history as sales", sales.get(path), 200, "12.50", "1,500.00", `id="price-chart"`)
	if strings.Contains(sales.get(path).body, `id="add-price"`) {
		t.Errorf("sales is offered the add-price form")
	}
	wantPage(t, "catalogue shows the current price", admin.get("/products"), 200, code, "1,500.00 USD")

	for _, tt := range []struct {
		form   url.Values
		status int
		text   string
	}{
		{url.Values{"amount": {"12.345"}, "currency": {"USD"}, "period": {"month"}, "effective_from": {"2027-01-01"}}, 400, "amount: "},
		{url.Values{"amount": {""}, "currency": {"USD"}, "period": {"month"}, "effective_from": {"2027-01-01"}}, 400, "amount: required"},
		{url.Values{"amount": {"10"}, "currency": {"XYZ"}, "period": {"month"}, "effective_from": {"2027-01-01"}}, 400, "currency: "},
		{url.Values{"amount": {"10"}, "currency": {"USD"}, "period": {"week"}, "effective_from": {"2027-01-01"}}, 400, "period: "},
		{url.Values{"amount": {"10"}, "currency": {"USD"}, "period": {"month"}, "effective_from": {"01/02/2027"}}, 400, "effective_from: "},
		{url.Values{"amount": {"10"}, "currency": {"USD"}, "period": {"month"}, "effective_from": {"2025-06-01"}}, 409, "effective_from: must be after"},
		{url.Values{"amount": {"10"}, "currency": {"EUR"}, "period": {"month"}, "effective_from": {"2027-01-01"}}, 400, "currency: "},
	} {
		r := admin.post(path+"/prices", tt.form)
		wantPage(t, "bad price "+tt.text, r, tt.status, tt.text, `id="add-price"`, `value="`+tt.form.Get("amount")+`"`)
	}
	if entry, _ = e.db.Product(ctx, pid); len(entry.Versions) != 2 {
		t.Errorf("bad prices: %d versions, want 2", len(entry.Versions))
	}

	// Disable and enable.
	wantRedirect(t, "disable", admin.post(path+"/status", url.Values{"status": {"disabled"}}), path)
	if entry, _ = e.db.Product(ctx, pid); entry.Product.Status != keel.ProductDisabled {
		t.Fatalf("status %s, want disabled", entry.Product.Status)
	}
	wantPage(t, "disabled product", admin.get(path), 200, "Product disabled", "badge status-disabled", `name="status" value="enabled"`)
	wantPage(t, "bad status", admin.post(path+"/status", url.Values{"status": {"gone"}}), 400, "status: ")
	wantRedirect(t, "enable", admin.post(path+"/status", url.Values{"status": {"enabled"}}), path)
	if entry, _ = e.db.Product(ctx, pid); entry.Product.Status != keel.ProductEnabled {
		t.Fatalf("status %s, want enabled", entry.Product.Status)
	}
	wantPage(t, "no such product", admin.get("/products/99999999"), 404)
}

func TestSalesOrderCreate(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	sales := e.signIn("sales")
	cid := e.customer()
	cust, _ := e.db.Customer(ctx, cid)
	pid := e.product(keel.KindEdition, 1000, "USD")
	orders := func() int {
		_, n, err := e.db.Orders(ctx, keel.OrderFilter{CustomerID: cid, Page: keel.Page{Limit: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	wantPage(t, "new order form", sales.get(fmt.Sprintf("/orders/new?customer=%d", cid)), 200,
		cust.Name, `name="customer_fixed" value="1"`, `name="lines[0].product_id"`, `name="lines[4].start"`, fmt.Sprintf(`<option value="%d">`, pid))
	wantPage(t, "new order form, any customer", sales.get("/orders/new"), 200, fmt.Sprintf(`<option value="%d">`, cid))
	wantPage(t, "new order as finance", e.signIn("finance").get("/orders/new"), 403)
	// The picker lists matches of a search, never every customer: the
	// search works without script (its own GET form) and as JSON.
	wantPage(t, "new order form, customer searched", sales.get("/orders/new?customer_q="+url.QueryEscape(cust.Name)), 200,
		fmt.Sprintf(`<option value="%d">%s</option>`, cid, cust.Name), `form="customer-search"`, `id="customer-search"`, `/static/choices.js`)
	if r := sales.get("/orders/new?customer_q=" + url.QueryEscape(cust.Name+" no such")); strings.Contains(r.body, fmt.Sprintf(`<option value="%d">%s</option>`, cid, cust.Name)) {
		t.Errorf("a search that does not match the customer still lists it")
	}
	wantPage(t, "new order form, search too long", sales.get("/orders/new?customer_q="+strings.Repeat("x", 201)), 400, "customer_q")
	wantPage(t, "customer choices", sales.get("/orders/new/customers?q="+url.QueryEscape(cust.Name)), 200,
		fmt.Sprintf(`{"customers":[{"id":%d,"name":%q,"tenant_id":""}],"more":false}`, cid, cust.Name))
	wantPage(t, "customer choices by id", sales.get(fmt.Sprintf("/orders/new/customers?q=%d&limit=1", cid)), 200, fmt.Sprintf(`[{"id":%d,`, cid))
	e.customer() // a second one: more than one matches
	wantPage(t, "customer choices, one of many", sales.get("/orders/new/customers?limit=1"), 200, `"more":true`)
	wantPage(t, "customer choices as finance", e.signIn("finance").get("/orders/new/customers?q=x"), 403, `"code":"forbidden"`)
	for _, bad := range []struct{ query, field string }{{"limit=0", "limit"}, {"limit=51", "limit"}, {"limit=x", "limit"}, {"q=" + strings.Repeat("x", 201), "q"}} {
		wantPage(t, "customer choices, "+bad.query[:min(len(bad.query), 8)], sales.get("/orders/new/customers?"+bad.query), 400, `"field":"`+bad.field+`"`)
	}

	// Only row 1 is filled: the empty rows around it are ignored.
	form := url.Values{"customer_id": {fmt.Sprint(cid)}, "kind": {"new"},
		"lines[0].product_id": {""}, "lines[1].product_id": {fmt.Sprint(pid)}, "lines[1].quantity": {"3"}, "lines[1].months": {"12"},
		"lines[2].product_id": {""}, "lines[2].quantity": {""}}
	r := sales.post("/orders", form)
	wantRedirect(t, "create order", r, "/orders/")
	var oid int64
	fmt.Sscanf(r.location, "/orders/%d", &oid)
	o, err := e.db.Order(ctx, oid)
	if err != nil || o.CustomerID != cid || o.Status != keel.OrderDraft || len(o.Lines) != 1 || o.Lines[0].Quantity != 3 || o.Lines[0].Months != 12 || o.Total() != 36000 {
		t.Fatalf("created order: %+v, %v", o, err)
	}
	wantPage(t, "new order page", sales.get(r.location), 200, "Order created as a draft", cust.Name, "badge status-draft", "360.00", `id="submit-order"`, "Nothing granted yet")

	// Bad lines name the row as the form numbers it; nothing is created.
	n := orders()
	for _, tt := range []struct {
		name string
		form url.Values
		text string
	}{
		{"zero quantity", url.Values{"lines[0].product_id": {fmt.Sprint(pid)}, "lines[0].quantity": {"1"}, "lines[0].months": {"1"},
			"lines[2].product_id": {fmt.Sprint(pid)}, "lines[2].quantity": {"0"}, "lines[2].months": {"1"}}, "lines[2].quantity: "},
		{"words for quantity", url.Values{"lines[1].product_id": {fmt.Sprint(pid)}, "lines[1].quantity": {"abc"}, "lines[1].months": {"1"}}, `lines[1].quantity: &#34;abc&#34; is not a whole number`},
		{"no product", url.Values{"lines[3].quantity": {"2"}, "lines[3].months": {"1"}}, "lines[3].product_id: required"},
		{"bad start", url.Values{"lines[0].product_id": {fmt.Sprint(pid)}, "lines[0].quantity": {"2"}, "lines[0].months": {"1"}, "lines[0].start": {"soon"}}, "lines[0].start: "},
		{"no lines", url.Values{}, "lines: an order needs at least one line"},
		{"unknown product", url.Values{"lines[4].product_id": {"99999999"}, "lines[4].quantity": {"1"}, "lines[4].months": {"1"}}, "lines[4].product_id: there is no product"},
	} {
		tt.form.Set("customer_id", fmt.Sprint(cid))
		tt.form.Set("kind", "new")
		tt.form.Set("customer_fixed", "1")
		r := sales.post("/orders", tt.form)
		wantPage(t, tt.name, r, 400, tt.text, `id="new-order"`, cust.Name)
	}
	r = sales.post("/orders", url.Values{"customer_id": {fmt.Sprint(cid)}, "kind": {"swap"}, "lines[0].product_id": {fmt.Sprint(pid)}, "lines[0].quantity": {"7"}, "lines[0].months": {"1"}})
	wantPage(t, "bad kind keeps the typed values", r, 400, "kind: ", `name="lines[0].quantity" value="7"`)
	if got := orders(); got != n {
		t.Errorf("bad orders: %d orders, want %d", got, n)
	}

	// The list, with its filters.
	wantPage(t, "orders of the customer", sales.get(fmt.Sprintf("/orders?customer=%d", cid)), 200, fmt.Sprintf(`href="/orders/%d"`, oid), cust.Name, e.emps["sales"].Name, "badge status-draft")
	wantPage(t, "my drafts", sales.get("/orders?status=draft&mine=1"), 200, fmt.Sprintf(`href="/orders/%d"`, oid))
	if r := e.signIn("csm").get(fmt.Sprintf("/orders?customer=%d&mine=1", cid)); r.status != 200 || strings.Contains(r.body, fmt.Sprintf(`href="/orders/%d"`, oid)) {
		t.Errorf("csm's own orders: status %d, or it lists sales's order", r.status)
	}
	if r := sales.get(fmt.Sprintf("/orders?customer=%d&status=approved", cid)); r.status != 200 || strings.Contains(r.body, fmt.Sprintf(`href="/orders/%d"`, oid)) {
		t.Errorf("approved orders: status %d, or it lists a draft", r.status)
	}
	wantPage(t, "bad status filter", sales.get("/orders?status=lost"), 400, "status: ")
	wantPage(t, "bad customer filter", sales.get("/orders?customer=abc"), 400, "customer: ")
	wantPage(t, "orders as leadership", e.signIn("leadership").get("/orders"), 200, `id="order-filters"`)
}

// TestOrderFormInChinese: a bad line on the zh-CN order form is refused
// with the domain's message in Chinese, beside the row the form numbers it
// by (not its place among the filled rows), the bad input marked.
func TestOrderFormInChinese(t *testing.T) {
	e := newAPI(t)
	cid := e.customer()
	pid := e.product(keel.KindEdition, 1000, "USD")
	sales := e.signIn("sales")
	if r := sales.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/orders/new"}}); r.status != http.StatusSeeOther {
		t.Fatalf("switch to Chinese: %d", r.status)
	}
	sales.get("/orders/new")
	// Rows 0 and 3 are filled; row 3, the second line, asks for no seats.
	r := sales.post("/orders", url.Values{"customer_id": {fmt.Sprint(cid)}, "kind": {"new"},
		"lines[0].product_id": {fmt.Sprint(pid)}, "lines[0].quantity": {"2"}, "lines[0].months": {"1"},
		"lines[3].product_id": {fmt.Sprint(pid)}, "lines[3].quantity": {"0"}, "lines[3].months": {"1"}})
	wantPage(t, "bad line in Chinese", r, http.StatusBadRequest, `lang="zh-CN"`,
		`<td colspan="4" id="line-error-3" role="alert">须为 1 到 1000000</td>`,
		`name="lines[3].quantity" value="0" min="1" aria-invalid="true"`,
		"lines[3].quantity: 须为 1 到 1000000")
	for _, en := range []string{"must be 1 to", `id="line-error-1"`, `name="lines[0].quantity" value="2" min="1" aria-invalid`} {
		if strings.Contains(r.body, en) {
			t.Errorf("the refused form shows %q", en)
		}
	}
	// A refusal of the domain about the whole order, in Chinese too.
	r = sales.post("/orders", url.Values{"customer_id": {fmt.Sprint(cid)}, "kind": {"gift"}, "lines[0].product_id": {fmt.Sprint(pid)}, "lines[0].quantity": {"2"}, "lines[0].months": {"1"}})
	wantPage(t, "bad kind in Chinese", r, http.StatusBadRequest, "kind: &#34;gift&#34; 不在可选值之列：trial, new, renewal, upgrade, addon")
}

func TestSalesOrderFlow(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	sales, finance := e.signIn("sales"), e.signIn("finance")
	cid := e.customer()
	cust, _ := e.db.Customer(ctx, cid)
	pid := e.product(keel.KindEdition, 1000, "USD")
	create := func() int64 {
		t.Helper()
		r := sales.post("/orders", url.Values{"customer_id": {fmt.Sprint(cid)}, "kind": {"new"},
			"lines[0].product_id": {fmt.Sprint(pid)}, "lines[0].quantity": {"2"}, "lines[0].months": {"12"}})
		wantRedirect(t, "create", r, "/orders/")
		var id int64
		fmt.Sscanf(r.location, "/orders/%d", &id)
		return id
	}
	status := func(id int64) keel.OrderStatus {
		t.Helper()
		o, err := e.db.Order(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return o.Status
	}

	// Submit: only the creator.
	oid := create()
	path := fmt.Sprintf("/orders/%d", oid)
	csm := e.signIn("csm")
	if r := csm.get(path); r.status != 200 || strings.Contains(r.body, `id="submit-order"`) {
		t.Errorf("csm sees sales's draft with a submit button (status %d)", r.status)
	}
	wantPage(t, "submit as another", csm.post(path+"/submit", nil), 403)
	wantRedirect(t, "submit", sales.post(path+"/submit", nil), path)
	if st := status(oid); st != keel.OrderPending {
		t.Fatalf("submitted order is %s", st)
	}
	wantPage(t, "submitted order", sales.get(path), 200, "Order submitted", "badge status-pending_approval", "Submitted for approval")
	wantPage(t, "submit twice", sales.post(path+"/submit", nil), 409, "only a draft can be submitted")

	// The queue: finance sees it, oldest first; sales may not.
	second := create()
	wantRedirect(t, "submit second", sales.post(fmt.Sprintf("/orders/%d/submit", second), nil), "/orders/")
	r := e.queueEnd(finance)
	wantPage(t, "approvals", r, 200, fmt.Sprintf(`action="/orders/%d/approve"`, oid), cust.Name, `name="paid_amount" value="240.00"`, `name="paid_at" value="`+today()+`"`, e.emps["sales"].Name)
	if i, j := strings.Index(r.body, fmt.Sprintf(`href="/orders/%d"`, oid)), strings.Index(r.body, fmt.Sprintf(`href="/orders/%d"`, second)); i < 0 || j < 0 || i > j {
		t.Errorf("approvals: order %d at %d, %d at %d; want the older first", oid, i, second, j)
	}
	wantPage(t, "approvals as sales", sales.get("/approvals"), 403)
	wantPage(t, "approvals as admin", e.signIn("admin").get("/approvals"), 403)
	wantPage(t, "pending order as finance", finance.get(path), 200, `id="approve-order"`, `id="reject-order"`, `value="240.00"`)

	// Approve: bad payment names the field and changes nothing.
	for _, tt := range []struct {
		form url.Values
		text string
	}{
		{url.Values{"paid_amount": {"abc"}, "paid_at": {today()}, "payment_ref": {"B-1"}}, "paid_amount: "},
		{url.Values{"paid_amount": {"999.00"}, "paid_at": {today()}, "payment_ref": {"B-1"}}, "paid_amount: "},
		{url.Values{"paid_amount": {"240.00"}, "paid_at": {"yesterday"}, "payment_ref": {"B-1"}}, "paid_at: "},
		{url.Values{"paid_amount": {"240.00"}, "paid_at": {today()}, "payment_ref": {""}}, "payment_ref: required"},
	} {
		wantPage(t, "bad approval "+tt.text, finance.post(path+"/approve", tt.form), 400, tt.text, `id="approve-order"`)
	}
	if st := status(oid); st != keel.OrderPending {
		t.Fatalf("after bad approvals the order is %s", st)
	}
	wantRedirect(t, "approve", finance.post(path+"/approve", url.Values{"paid_amount": {"240.00"}, "paid_at": {today()}, "payment_ref": {"BANK-7"}}), path)
	o, _ := e.db.Order(ctx, oid)
	if o.Status != keel.OrderApproved || o.Payment == nil || o.Payment.Amount != 24000 || o.Payment.Reference != "BANK-7" {
		t.Fatalf("approved order: %+v", o)
	}
	r = sales.get(path)
	wantPage(t, "approved order", r, 200, "badge status-approved", "BANK-7", `id="grants"`, "paid term", "in force",
		`id="subscriptions"`, "In service", "changed by this order", "Approved after payment was confirmed", e.emps["finance"].Name)
	if strings.Contains(r.body, `id="void-order"`) {
		t.Errorf("sales is offered the void form")
	}
	if r := e.queueEnd(finance); strings.Contains(r.body, fmt.Sprintf(`href="/orders/%d"`, oid)) {
		t.Errorf("the approved order is still in the queue")
	}

	// Reject the second, from the queue.
	p2 := fmt.Sprintf("/orders/%d", second)
	wantPage(t, "reject without reason", finance.post(p2+"/reject", url.Values{"next": {"approvals"}}), 400, "reason: required", `id="reject-order"`)
	wantPage(t, "reject with a blank reason", finance.post(p2+"/reject", url.Values{"reason": {"   "}}), 400, "reason: required")
	if st := status(second); st != keel.OrderPending {
		t.Fatalf("after a rejection without a reason the order is %s, want still pending", st)
	}
	wantRedirect(t, "reject", finance.post(p2+"/reject", url.Values{"reason": {"Payment never arrived"}, "next": {"approvals"}}), "/approvals")
	if st := status(second); st != keel.OrderRejected {
		t.Fatalf("rejected order is %s", st)
	}
	wantPage(t, "rejected order", sales.get(p2), 200, "badge status-rejected", "Payment never arrived", "Rejected by finance")
	wantPage(t, "approve a rejected order", finance.post(p2+"/approve", url.Values{"paid_amount": {"240.00"}, "paid_at": {today()}, "payment_ref": {"X"}}), 409, "only an order pending approval")

	// Void takes the grant back.
	wantPage(t, "approved order as finance", finance.get(path), 200, `id="void-order"`, `name="confirm"`)
	wantPage(t, "void unconfirmed", finance.post(path+"/void", nil), 400, "confirm: ")
	if st := status(oid); st != keel.OrderApproved {
		t.Fatalf("unconfirmed void: order is %s", st)
	}
	wantRedirect(t, "void", finance.post(path+"/void", url.Values{"confirm": {"yes"}}), path)
	if st := status(oid); st != keel.OrderVoid {
		t.Fatalf("voided order is %s", st)
	}
	r = sales.get(path)
	wantPage(t, "voided order", r, 200, "badge status-void", "taken back", "Taken back", "Voided: what it granted was taken back")
	if strings.Contains(r.body, "in force") || strings.Contains(r.body, "In service") {
		t.Errorf("voided order still shows a grant in force or a subscription in service")
	}
}

func TestSalesTrialApprovesItselfOnSubmit(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	sales := e.signIn("sales")
	cid := e.customer()
	pid := e.product(keel.KindEdition, 1000, "USD")
	r := sales.post("/orders", url.Values{"customer_id": {fmt.Sprint(cid)}, "kind": {"trial"},
		"lines[0].product_id": {fmt.Sprint(pid)}, "lines[0].quantity": {"5"}, "lines[0].months": {"1"}})
	wantRedirect(t, "create trial", r, "/orders/")
	path := r.location
	wantPage(t, "trial draft", sales.get(path), 200, "Submit (trials approve themselves)")
	wantRedirect(t, "submit trial", sales.post(path+"/submit", nil), path)
	var oid int64
	fmt.Sscanf(path, "/orders/%d", &oid)
	o, err := e.db.Order(ctx, oid)
	if err != nil || o.Status != keel.OrderApproved || o.Payment != nil {
		t.Fatalf("submitted trial: %+v, %v", o, err)
	}
	wantPage(t, "approved trial", sales.get(path), 200, "Trial order approved itself", "badge status-approved", "Approved itself", "trial term", "In service", "changed by this order")
	if r := e.queueEnd(e.signIn("finance")); strings.Contains(r.body, fmt.Sprintf(`href="%s"`, path)) {
		t.Errorf("the trial waits for approval")
	}
}

// TestSalesBrowser walks the sales pages in Chromium: admin makes a
// product and prices it (the chart draws), sales orders it and submits,
// finance approves from the queue, and the order shows the service.
func TestSalesBrowser(t *testing.T) {
	e := newAPI(t)
	c := newChromium(t, e.url)
	admin, sales, finance := e.emps["admin"], e.emps["sales"], e.emps["finance"]

	c.signIn(admin.Email, e.pws[admin.Email])
	c.open("/products")
	code := "br-" + uniq()
	c.run("new product",
		chromedp.SendKeys(`#new-product input[name="code"]`, code, chromedp.ByQuery),
		chromedp.SendKeys(`#new-product input[name="name"]`, "Browser "+code, chromedp.ByQuery),
		chromedp.SendKeys(`#new-product input[name="unit"]`, "seat", chromedp.ByQuery),
		chromedp.Click(`#new-product button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#add-price`, chromedp.ByQuery),
	)
	productPath := c.location()
	c.run("first price",
		chromedp.SendKeys(`#add-price input[name="amount"]`, "20", chromedp.ByQuery),
		chromedp.SetValue(`#add-price input[name="effective_from"]`, "2025-01-01", chromedp.ByQuery),
		chromedp.Click(`#add-price button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#prices`, chromedp.ByQuery),
	)
	c.run("second price",
		chromedp.SendKeys(`#add-price input[name="amount"]`, "25.50", chromedp.ByQuery),
		chromedp.SetValue(`#add-price input[name="effective_from"]`, today(), chromedp.ByQuery),
		chromedp.Click(`#add-price button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#prices tbody tr:nth-child(2)`, chromedp.ByQuery),
	)
	c.wantText("product page", "Browser "+code, "20.00", "25.50", "2025-01-01")
	if !c.chartDrawn("#price-chart") {
		t.Errorf("the price chart is not drawn")
	}
	c.screenshot("sales-product")
	c.signOut()

	var pid int64
	fmt.Sscanf(productPath, "/products/%d", &pid)
	cid := e.customer()
	c.signIn(sales.Email, e.pws[sales.Email])
	c.open(fmt.Sprintf("/orders/new?customer=%d", cid))
	c.screenshot("sales-order-new")
	c.run("new order",
		chromedp.SetValue(`select[name="lines[1].product_id"]`, fmt.Sprint(pid), chromedp.ByQuery),
		chromedp.SendKeys(`input[name="lines[1].quantity"]`, "2", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="lines[1].months"]`, "12", chromedp.ByQuery),
		chromedp.Click(`#new-order button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`#submit-order`, chromedp.ByQuery),
	)
	orderPath := c.location()
	c.run("submit", chromedp.Click(`#submit-order button`, chromedp.ByQuery), chromedp.WaitVisible(`#order-status.status-pending_approval`, chromedp.ByQuery))
	c.wantText("submitted order", "Order submitted", "612.00")
	c.signOut()

	c.signIn(finance.Email, e.pws[finance.Email])
	_, n, err := e.db.Orders(context.Background(), keel.OrderFilter{Status: keel.OrderPending, Page: keel.Page{Limit: 1}})
	if err != nil {
		t.Fatal(err)
	}
	c.open(fmt.Sprintf("/approvals?page=%d", max(1, (n+49)/50)))
	c.screenshot("sales-approvals")
	form := fmt.Sprintf(`form[action="%s/approve"]`, orderPath)
	c.run("approve from the queue",
		chromedp.SendKeys(form+` input[name="payment_ref"]`, "BANK-BR", chromedp.ByQuery),
		chromedp.Click(form+` button`, chromedp.ByQuery),
		chromedp.WaitVisible(`.flash`, chromedp.ByQuery),
	)
	if loc := c.location(); loc != "/approvals" {
		t.Errorf("after approving: at %s, want /approvals", loc)
	}
	c.open(orderPath)
	c.wantText("approved order", "BANK-BR", "612.00", "In service", "changed by this order")
	c.screenshot("sales-order")
	if errs := c.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors: %v", errs)
	}
}
