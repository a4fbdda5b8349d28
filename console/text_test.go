package console_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/keelhq/keel"
)

// logBuffer collects what the console logs, for tests that check nothing
// was logged as an error.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// errors returns the lines logged at ERROR.
func (b *logBuffer) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// badBytes are the values Postgres cannot store as text: a NUL byte, and
// bytes that are not UTF-8.
var badBytes = []struct{ name, v string }{{"NUL", "a\x00b"}, {"not UTF-8", "a\xffb"}}

// notText is what a refusal of bad bytes says, after the field.
const notText = ": is not text: it holds "

// TestBadBytesInQueryParameters sends a NUL byte and a byte that is not
// UTF-8 in a query parameter to every page and every API route: each is
// refused with 400 naming the parameter, and nothing is logged as an
// error (Postgres refused them once, with a 500).
func TestBadBytesInQueryParameters(t *testing.T) {
	e := newAPI(t)
	ids := e.textRecords()
	b := e.signIn("admin")
	var routes []string
	chi.Walk(e.h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == http.MethodGet && !strings.HasPrefix(route, "/static/") && route != "/healthz" {
			routes = append(routes, route)
		}
		return nil
	})
	if len(routes) < 30 {
		t.Fatalf("only %d GET routes: %v", len(routes), routes)
	}
	for _, route := range routes {
		path := ids.path(t, route)
		for _, bad := range []struct{ query, field string }{{"q=%00", "q"}, {"q=a%FFb", "q"}, {"to=2026-01-01&owner=%00x", "owner"}, {"%FF=1", "query"}} {
			target := path + "?" + bad.query
			if strings.HasPrefix(route, "/api/") {
				r := e.call("admin", "GET", target, nil)
				if r.status != http.StatusBadRequest {
					t.Errorf("GET %s: status %d, want 400: %.300s", target, r.status, r.body)
					continue
				}
				if got := r.apiError(t); got.Field == nil || *got.Field != bad.field || !strings.Contains(got.Message, bad.field+notText) {
					t.Errorf("GET %s: %s, want a refusal about %s", target, r.body, bad.field)
				}
				continue
			}
			r := b.get(target)
			if r.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(r.body), bad.field+notText) {
				t.Errorf("GET %s: status %d, want 400 saying %q: %.300s", target, r.status, bad.field+notText, mainOf(r.body))
			}
		}
	}
	// In the path, as a tenant or a record id.
	for _, p := range []string{"/activity/tenants/a%FFb", "/activity/tenants/a%00b", "/customers/%00"} {
		if r := b.get(p); r.status != http.StatusBadRequest || !strings.Contains(r.body, "path"+notText) {
			t.Errorf("GET %s: status %d, want 400 about the path: %.300s", p, r.status, mainOf(r.body))
		}
	}
	if r := e.call("admin", "GET", "/api/v1/customers/%FF", nil); r.status != http.StatusBadRequest {
		t.Errorf("GET /api/v1/customers/%%FF: status %d, want 400: %s", r.status, r.body)
	}
	// Signed out, on the sign-in page.
	if r := newBrowser(t, e.url).get("/login?next=%00"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "next"+notText) {
		t.Errorf("GET /login?next=%%00: status %d, want 400 about next", r.status)
	}
	for _, l := range e.logs.errors() {
		t.Errorf("logged: %s", l)
	}
}

// textFields are the text inputs of each form beside the ones its role
// matrix entry sends, so that every text field of every form is tried.
var textFields = map[string][]string{
	"/customers":                {"tenant_id", "sales_owner", "csm_owner", "industry", "region", "website", "notes", "contact_phone", "contact_title"},
	"/customers/{id}":           {"tenant_id", "industry", "region", "website", "notes", "contact_name", "contact_email", "contact_phone", "contact_title"},
	"/customers/{id}/followups": {"at"},
	"/orders":                   {"lines[0].start", "customer_fixed"},
	"/orders/{id}":              {"lines[0].start"},
	"/orders/{id}/approve":      {},
	"/orders/{id}/reject":       {"next"},
	"/orders/{id}/void":         {"next"},
	"/orders/{id}/delete":       {"confirm"},
	"/products":                 {},
	"/employees":                {"locale"},
	"/alerts/{id}/ack":          {"next"},
	"/alerts/{id}/resolve":      {"next"},
	"/alerts/{id}/snooze":       {"next"},
	"/alerts/{id}/assign":       {"next"},
	"/tokens/{id}/revoke":       {"confirm"},
	"/tokens/ingest-keys":       {"expires_at"},
	"/digest/webhook":           {"secret"},
}

// TestBadBytesInForms sends every form of the console, as a role it is
// for, with a NUL byte and then a byte that is not UTF-8 in each of its
// text fields in turn: each is refused with 400 naming the field, nothing
// is written, and nothing is logged as an error.
func TestBadBytesInForms(t *testing.T) {
	e := newAPI(t)
	roles := []string{"admin", "sales", "csm", "finance", "leadership"}
	for _, fr := range allFormRoutes() {
		var emp keel.Employee
		for _, role := range roles {
			if fr.action == "" || e.emps[role].Can(fr.action) == nil {
				emp = e.emps[role]
				break
			}
		}
		b := e.signInAs(emp)
		// Every submission below is refused, so a password form changes no
		// password, though its setup expects it to.
		pw := e.pws[emp.Email]
		_, form := fr.setup(e, emp)
		fields := append([]string(nil), textFields[fr.pattern]...)
		for f := range form {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, field := range fields {
			for _, bad := range badBytes {
				path, form := fr.setup(e, emp)
				if form == nil {
					form = url.Values{}
				}
				form.Set(field, bad.v)
				before := e.auditBy(emp.ID)
				r := b.post(path, form)
				if r.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(r.body), field+notText) {
					t.Errorf("%s with %s in %s: status %d, want 400 saying %q: %.300s", path, bad.name, field, r.status, field+notText, mainOf(r.body))
				}
				if n := e.auditBy(emp.ID); n != before {
					t.Errorf("%s with %s in %s: %d audit entries written", path, bad.name, field, n-before)
				}
			}
		}
		e.pws[emp.Email] = pw
	}
	// The sign-in form.
	b := newBrowser(t, e.url)
	b.get("/login")
	for _, bad := range badBytes {
		r := b.post("/login", url.Values{"email": {bad.v + "@example.com"}, "password": {"whatever-password"}})
		if r.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(r.body), "email"+notText) {
			t.Errorf("sign in with %s in the email: status %d, want 400 about email: %.300s", bad.name, r.status, mainOf(r.body))
		}
	}
	// A follow-up's file: its name is text, its content is not.
	c := e.newCustomer(keel.Customer{Name: "Files " + uniq()})
	fb := e.signIn("csm")
	fb.get(fmt.Sprintf("/customers/%d", c.ID))
	path := fmt.Sprintf("/customers/%d/followups", c.ID)
	for _, bad := range badBytes {
		// A NUL cannot even be sent in a MIME header: the form is
		// unreadable.
		says := "attachment" + notText
		if bad.name == "NUL" {
			says = "The form could not be read"
		}
		r := fb.postMultipart(path, url.Values{"kind": {"call"}, "text": {"With a file"}}, map[string][]byte{"attachment:" + bad.v + ".txt": []byte("hello")})
		if r.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(r.body), says) {
			t.Errorf("a file named with %s: status %d, want 400 saying %q: %.300s", bad.name, r.status, says, mainOf(r.body))
		}
	}
	binary := []byte{0, 0xff, 0xfe, 0, 'x'}
	wantRedirect(t, "binary file", fb.postMultipart(path, url.Values{"kind": {"call"}, "text": {"With a binary file"}}, map[string][]byte{"attachment:blob.bin": binary}), fmt.Sprintf("/customers/%d", c.ID))
	fs, _, err := e.db.FollowUps(context.Background(), c.ID, keel.Page{Limit: 10})
	if err != nil || len(fs) != 1 || len(fs[0].Attachments) != 1 {
		t.Fatalf("follow-ups %+v, %v; want the one with the binary file", fs, err)
	}
	if a, err := e.db.Attachment(context.Background(), fs[0].Attachments[0].ID); err != nil || !bytes.Equal(a.Data, binary) {
		t.Errorf("stored file %q, %v; want %q", a.Data, err, binary)
	}
	for _, l := range e.logs.errors() {
		t.Errorf("logged: %s", l)
	}
}

// apiTextRoute is a mutating API route with a valid body and its text
// fields, for TestBadBytesInJSON.
type apiTextRoute struct {
	pattern, method string
	caller          string
	path            string
	body            func() map[string]any
	fields          []string // paths into body: "name", "contacts[0].email"
}

// TestBadBytesInJSON sends every mutating API route a body with a NUL
// ("\u0000") in each of its text fields in turn: each is refused with 400
// naming the field, nothing is written and nothing is logged as an error.
// (JSON cannot carry bytes that are not UTF-8: the decoder reads them as
// U+FFFD.)
func TestBadBytesInJSON(t *testing.T) {
	e := newAPI(t)
	ids := e.textRecords()
	customer := func() map[string]any {
		return map[string]any{"name": "Text " + uniq(), "tenant_id": "", "industry": "x", "region": "x", "website": "x", "notes": "x",
			"contacts": []any{map[string]any{"name": "Ann", "email": "ann@example.com", "phone": "1", "title": "CEO"}}}
	}
	customerFields := []string{"name", "tenant_id", "industry", "region", "website", "notes", "contacts[0].name", "contacts[0].email", "contacts[0].phone", "contacts[0].title"}
	order := func() map[string]any {
		return map[string]any{"customer_id": ids.customer, "kind": "new", "lines": []any{map[string]any{"product_id": ids.product, "quantity": 1, "months": 12, "start": today()}}}
	}
	routes := []apiTextRoute{
		{"/api/v1/customers", "POST", "sales", "/api/v1/customers", customer, customerFields},
		{"/api/v1/customers/{id}", "PATCH", "admin", fmt.Sprintf("/api/v1/customers/%d", ids.customer), customer, customerFields},
		{"/api/v1/customers/{id}", "PUT", "admin", fmt.Sprintf("/api/v1/customers/%d", ids.customer), customer, customerFields},
		{"/api/v1/customers/{id}/followups", "POST", "csm", fmt.Sprintf("/api/v1/customers/%d/followups", ids.customer), func() map[string]any {
			return map[string]any{"kind": "call", "text": "x", "at": today(), "attachments": []any{map[string]any{"name": "a.txt", "content_type": "text/plain", "data": []byte("x")}}}
		}, []string{"kind", "text", "at", "attachments[0].name", "attachments[0].content_type"}},
		{"/api/v1/products", "POST", "admin", "/api/v1/products", func() map[string]any {
			return map[string]any{"code": "t-" + uniq(), "name": "X", "kind": "edition", "unit": "seat"}
		}, []string{"code", "name", "kind", "unit"}},
		{"/api/v1/products/{id}/prices", "POST", "admin", fmt.Sprintf("/api/v1/products/%d/prices", ids.product), func() map[string]any {
			return map[string]any{"amount": 100, "currency": "USD", "period": "month", "effective_from": "2027-01-01"}
		}, []string{"currency", "period", "effective_from"}},
		{"/api/v1/products/{id}/status", "POST", "admin", fmt.Sprintf("/api/v1/products/%d/status", ids.product), func() map[string]any {
			return map[string]any{"status": "disabled"}
		}, []string{"status"}},
		{"/api/v1/orders", "POST", "sales", "/api/v1/orders", order, []string{"kind", "lines[0].start"}},
		{"/api/v1/orders/{id}", "PUT", "sales", fmt.Sprintf("/api/v1/orders/%d", ids.draft), func() map[string]any {
			o := order()
			delete(o, "customer_id")
			return o
		}, []string{"kind", "lines[0].start"}},
		{"/api/v1/orders/{id}/approve", "POST", "finance", fmt.Sprintf("/api/v1/orders/%d/approve", ids.pending), func() map[string]any {
			return map[string]any{"paid_amount": 1, "paid_at": today(), "payment_ref": "INV"}
		}, []string{"paid_at", "payment_ref"}},
		{"/api/v1/orders/{id}/reject", "POST", "finance", fmt.Sprintf("/api/v1/orders/%d/reject", ids.pending), func() map[string]any {
			return map[string]any{"reason": "no"}
		}, []string{"reason"}},
		{"/api/v1/employees", "POST", "admin", "/api/v1/employees", func() map[string]any {
			return map[string]any{"email": fmt.Sprintf("t-%s@example.com", uniq()), "name": "T", "roles": []any{"sales"}, "locale": "en"}
		}, []string{"email", "name", "roles[0]", "locale"}},
		{"/api/v1/employees/{id}/roles", "PUT", "admin", fmt.Sprintf("/api/v1/employees/%d/roles", ids.employee), func() map[string]any {
			return map[string]any{"roles": []any{"sales"}}
		}, []string{"roles[0]"}},
		{"/api/v1/alerts/{id}/resolve", "POST", "admin", fmt.Sprintf("/api/v1/alerts/%d/resolve", ids.alert), func() map[string]any {
			return map[string]any{"note": "Called them."}
		}, []string{"note"}},
		{"/api/v1/alerts/{id}/snooze", "POST", "admin", fmt.Sprintf("/api/v1/alerts/%d/snooze", ids.alert), func() map[string]any {
			return map[string]any{"until": time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly), "reason": "Later."}
		}, []string{"until", "reason"}},
		{"/api/v1/settings/revenue", "PUT", "admin", "/api/v1/settings/revenue", func() map[string]any {
			return map[string]any{"mrr_day": "last", "churn_timing": "period_end", "main_currency": "CNY"}
		}, []string{"mrr_day", "churn_timing", "main_currency"}},
		{"/api/v1/tokens", "POST", "csm", "/api/v1/tokens", func() map[string]any {
			return map[string]any{"name": "laptop", "expires_at": "2099-01-01"}
		}, []string{"name", "expires_at"}},
		{"/api/v1/ingest-keys", "POST", "admin", "/api/v1/ingest-keys", func() map[string]any {
			return map[string]any{"name": "app", "expires_at": "2099-01-01", "tenants": []any{"t-1"}, "tenant_prefix": "eu-"}
		}, []string{"name", "expires_at", "tenants[0]", "tenant_prefix"}},
		{"/api/v1/settings/digest", "PUT", "admin", "/api/v1/settings/digest", func() map[string]any {
			return map[string]any{"url": "https://hooks.example.com/keel", "secret": "a-secret-of-sixteen"}
		}, []string{"url", "secret"}},
	}
	// Routes without a body, or without text in it, are tried in the query
	// (TestBadBytesInQueryParameters covers every route's query too).
	bodiless := map[string]bool{"POST /api/v1/orders/{id}/submit": true, "POST /api/v1/orders/{id}/void": true,
		"DELETE /api/v1/orders/{id}": true, "POST /api/v1/employees/{id}/deactivate": true, "POST /api/v1/employees/{id}/password": true,
		"PUT /api/v1/spend/{month}/{currency}": true, "POST /api/v1/alerts/{id}/ack": true, "POST /api/v1/alerts/{id}/assign": true,
		// Its only strings are the weights' names, checked as "weights"
		// (TestHealthSettingsAPI sends a NUL in one).
		"PUT /api/v1/settings/health": true,
		"DELETE /api/v1/tokens/{id}":  true, "DELETE /api/v1/ingest-keys/{id}": true}
	listed := map[string]bool{}
	for _, rt := range routes {
		listed[rt.method+" "+rt.pattern] = true
	}
	chi.Walk(e.h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := method + " " + strings.TrimSuffix(route, "/")
		if strings.HasPrefix(route, "/api/") && method != http.MethodGet && !listed[key] && !bodiless[key] {
			t.Errorf("%s is not tried with bad bytes in its body: add it to TestBadBytesInJSON", key)
		}
		return nil
	})
	for _, rt := range routes {
		for _, field := range rt.fields {
			body := rt.body()
			setPath(t, body, field, "a\x00b")
			audits := e.auditCount()
			r := e.call(rt.caller, rt.method, rt.path, body)
			if r.status != http.StatusBadRequest {
				t.Errorf("%s %s with a NUL in %s: status %d, want 400: %.300s", rt.method, rt.path, field, r.status, r.body)
				continue
			}
			if got := r.apiError(t); got.Field == nil || *got.Field != field || !strings.HasPrefix(got.Message, field+notText) {
				t.Errorf("%s %s with a NUL in %s: %s, want a refusal about %s", rt.method, rt.path, field, r.body, field)
			}
			if n := e.auditCount(); n != audits {
				t.Errorf("%s %s with a NUL in %s: %d audit entries written", rt.method, rt.path, field, n-audits)
			}
		}
	}
	// An attachment's content is binary, NUL bytes and all.
	binary := []byte{0, 0xff, 0, 'x'}
	f := e.must(201, "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", ids.customer), map[string]any{
		"kind": "note", "text": "binary", "attachments": []any{map[string]any{"name": "blob.bin", "data": binary}}})
	url := f["attachments"].([]any)[0].(map[string]any)["url"].(string)
	if r := e.call("csm", "GET", url, nil); r.status != 200 || !bytes.Equal(r.body, binary) {
		t.Errorf("binary attachment: %d %q, want %q", r.status, r.body, binary)
	}
	for _, l := range e.logs.errors() {
		t.Errorf("logged: %s", l)
	}
}

// TestDomainRefusesBadBytes: the rules refuse bad bytes themselves, for
// the ways text reaches a record other than the console (the CLI, the
// demo), naming the field.
func TestDomainRefusesBadBytes(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	sales := e.emps["sales"]
	for _, bad := range badBytes {
		_, err := e.db.CreateCustomer(ctx, sales, keel.Customer{Name: bad.v})
		wantRefusal(t, "customer name "+bad.name, err, "name")
		_, err = e.db.CreateCustomer(ctx, sales, keel.Customer{Name: "Ok", Contacts: []keel.Contact{{Name: "Ann", Title: bad.v}}})
		wantRefusal(t, "contact title "+bad.name, err, "contacts[0].title")
		c := e.newCustomer(keel.Customer{Name: "Text " + uniq()})
		_, err = e.db.AddFollowUp(ctx, e.emps["csm"], keel.FollowUp{CustomerID: c.ID, Kind: keel.FollowUpNote, At: time.Now(), Text: bad.v})
		wantRefusal(t, "follow-up text "+bad.name, err, "text")
		_, _, err = e.db.Customers(ctx, keel.CustomerFilter{Query: bad.v})
		wantRefusal(t, "search "+bad.name, err, "q")
		_, _, err = e.db.Customers(ctx, keel.CustomerFilter{Tenants: []string{bad.v}})
		wantRefusal(t, "tenant filter "+bad.name, err, "tenant")
		_, _, err = e.db.AddEmployee(ctx, keel.System, keel.Employee{Email: "x" + uniq() + "@example.com", Name: bad.v, Roles: []keel.Role{keel.RoleSales}, Status: keel.EmployeeActive})
		wantRefusal(t, "employee name "+bad.name, err, "name")
		pending, _ := e.pending()
		_, err = e.db.RejectOrder(ctx, e.emps["finance"], pending, bad.v)
		wantRefusal(t, "reason "+bad.name, err, "reason")
		_, err = e.db.ApproveOrder(ctx, e.emps["finance"], pending, keel.Payment{Amount: 1, PaidAt: time.Now(), Reference: bad.v})
		wantRefusal(t, "payment reference "+bad.name, err, "payment_ref")
	}
	for _, l := range e.logs.errors() {
		t.Errorf("logged: %s", l)
	}
}

// mainOf is the main part of a page, for messages.
func mainOf(body string) string {
	if _, m, ok := strings.Cut(body, "<main>"); ok {
		m, _, _ = strings.Cut(m, "</main>")
		return strings.Join(strings.Fields(m), " ")
	}
	return body
}

// wantRefusal fails unless err is EINVALID about field saying it is not text.
func wantRefusal(t *testing.T, what string, err error, field string) {
	t.Helper()
	if keel.ErrorCode(err) != keel.EINVALID || keel.ErrorField(err) != field || !strings.Contains(keel.ErrorMessage(err), field+notText) {
		t.Errorf("%s: %v, want EINVALID about %s saying it is not text", what, err, field)
	}
}

// textRecords are one record of each kind the routes name in their path.
type textRecords struct {
	customer, product, draft, pending, employee, attachment, alert int64
	tenant                                                         string
}

func (e *apiEnv) textRecords() textRecords {
	e.t.Helper()
	var ids textRecords
	ids.tenant = "text-" + uniq()
	ids.customer = id(e.t, e.must(201, "sales", "POST", "/api/v1/customers", map[string]any{"name": "Text " + uniq(), "tenant_id": ids.tenant}))
	ids.product = e.product(keel.KindEdition, 1000, "USD")
	ids.draft = e.order(ids.customer, keel.OrderNew, ids.product, 1, 12)
	ids.pending, _ = e.pending()
	ids.employee = e.emps["csm"].ID
	ids.alert = e.raiseAlert(nil)
	f := e.must(201, "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", ids.customer), map[string]any{
		"kind": "note", "text": "file", "attachments": []any{map[string]any{"name": "a.txt", "data": []byte("x")}}})
	ids.attachment = int64(f["attachments"].([]any)[0].(map[string]any)["id"].(float64))
	return ids
}

// path fills a route pattern's parameters with the records'.
func (ids textRecords) path(t *testing.T, route string) string {
	t.Helper()
	p := strings.TrimSuffix(route, "/")
	if p == "" {
		p = "/"
	}
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, r := range []struct{ prefix, id string }{
		{"/customers/", id(ids.customer)}, {"/api/v1/customers/", id(ids.customer)},
		{"/products/", id(ids.product)}, {"/api/v1/products/", id(ids.product)},
		{"/orders/", id(ids.draft)}, {"/api/v1/orders/", id(ids.draft)},
		{"/employees/", id(ids.employee)}, {"/api/v1/employees/", id(ids.employee)},
		{"/attachments/", id(ids.attachment)}, {"/api/v1/attachments/", id(ids.attachment)},
		{"/alerts/", id(ids.alert)}, {"/api/v1/alerts/", id(ids.alert)},
	} {
		if strings.HasPrefix(p, r.prefix+"{id}") {
			p = r.prefix + r.id + strings.TrimPrefix(p, r.prefix+"{id}")
		}
	}
	p = strings.ReplaceAll(p, "{tenant}", ids.tenant)
	if strings.Contains(p, "{") {
		t.Fatalf("route %s: no record for %s", route, p)
	}
	return p
}

// setPath sets the value at a path such as "contacts[0].email" in a JSON
// body.
func setPath(t *testing.T, body map[string]any, path string, v any) {
	t.Helper()
	var cur any = body
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, index, hasIndex := strings.Cut(strings.TrimSuffix(part, "]"), "[")
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s is not an object", path, part)
		}
		last := i == len(parts)-1
		if !hasIndex {
			if last {
				m[name] = v
				return
			}
			cur = m[name]
			continue
		}
		list, ok := m[name].([]any)
		n, _ := strconv.Atoi(index)
		if !ok || n >= len(list) {
			t.Fatalf("%s: %s is not a list with item %d", path, name, n)
		}
		if last {
			list[n] = v
			return
		}
		cur = list[n]
	}
}
