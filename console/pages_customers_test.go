package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/warehouse"
)

// customerFormRoutes are the forms of the customer pages, for TestFormRoleMatrix.
var customerFormRoutes = []formRoute{
	{"/customers", keel.ActCustomerWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/customers", url.Values{"name": {"Matrix " + uniq()}, "contact_name": {"Ann"}, "contact_email": {"ann@example.com"}}
	}},
	{"/customers/{id}", keel.ActCustomerWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		v := e.newCustomer(keel.Customer{Name: "Matrix " + uniq()})
		return fmt.Sprintf("/customers/%d", v.ID), url.Values{"name": {v.Name + " edited"}, "version": {strconv.FormatInt(v.Version, 10)}}
	}},
	{"/customers/{id}/followups", keel.ActFollowUpAdd, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		v := e.newCustomer(keel.Customer{Name: "Matrix " + uniq()})
		return fmt.Sprintf("/customers/%d/followups", v.ID), url.Values{"kind": {"call"}, "text": {"Called about renewal"}}
	}},
}

// newCustomer stores a customer as the sales employee.
func (e *apiEnv) newCustomer(c keel.Customer) keel.CustomerView {
	e.t.Helper()
	v, err := e.db.CreateCustomer(context.Background(), e.emps["sales"], c)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// logins writes login events of a tenant straight into the warehouse: on
// each day (days before today, at noon UTC) n logins by different users.
func (e *apiEnv) logins(tenant string, n int, daysAgo ...int) {
	e.t.Helper()
	now := time.Now().UTC()
	noon := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, time.UTC)
	b := warehouse.Batch{Topic: "test.customers." + uniq()}
	off := int64(0)
	for _, d := range daysAgo {
		for i := 0; i < n; i++ {
			ev := ingest.Event{Tenant: tenant, ID: fmt.Sprintf("l-%d-%d-%s", d, i, uniq()), Type: "login", User: fmt.Sprintf("u%d", i),
				Time: noon.AddDate(0, 0, -d).Add(time.Duration(i) * time.Minute), Props: "{}"}
			b.AddEvent(&ev, warehouse.Position{Partition: 0, Offset: off}, now)
			off++
		}
	}
	if err := e.wh.Insert(context.Background(), &b); err != nil {
		e.t.Fatal(err)
	}
}

var rowRE = regexp.MustCompile(`(?s)<tr data-customer="(\d+)">(.*?)</tr>`)

// listRows returns the customer rows of a list page: id → the row's HTML.
func listRows(body string) map[string]string {
	out := map[string]string{}
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }

// wantRows fails unless the list page shows exactly the customers want.
func wantRows(t *testing.T, what string, r pageResp, want ...keel.CustomerView) map[string]string {
	t.Helper()
	wantPage(t, what, r, http.StatusOK)
	rows := listRows(r.body)
	var got []string
	for id := range rows {
		got = append(got, id)
	}
	ok := len(rows) == len(want)
	for _, c := range want {
		ok = ok && rows[idStr(c.ID)] != ""
	}
	if !ok {
		var names []string
		for _, c := range want {
			names = append(names, c.Name)
		}
		t.Errorf("%s: rows %v, want %v", what, got, names)
	}
	return rows
}

// approvedOrder sells a customer 2 seats of a new edition for 12 months at
// 10.00 USD a month (240.00), paid 100.00.
func (e *apiEnv) approvedOrder(customer int64, productName string) int64 {
	e.t.Helper()
	p := e.must(201, "admin", "POST", "/api/v1/products", map[string]any{"code": "p-" + uniq(), "name": productName, "kind": keel.KindEdition, "unit": "seat"})
	pid := id(e.t, p)
	e.must(201, "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", pid),
		map[string]any{"amount": 1000, "currency": "USD", "period": "month", "effective_from": "2025-01-01"})
	o := e.order(customer, keel.OrderNew, pid, 2, 12)
	e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", o), nil)
	e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", o), map[string]any{"paid_amount": 10000, "paid_at": today(), "payment_ref": "INV-7"})
	return o
}

func TestCustomerListFilters(t *testing.T) {
	e := newAPI(t)
	prefix := "Filter" + uniq()
	csm := e.emps["csm"]
	up := e.newCustomer(keel.Customer{Name: prefix + " Up", TenantID: "up-" + uniq(), CSMOwner: &csm.ID})
	down := e.newCustomer(keel.Customer{Name: prefix + " Down", TenantID: "down-" + uniq()})
	flat := e.newCustomer(keel.Customer{Name: prefix + " Flat", TenantID: "flat-" + uniq()})
	none := e.newCustomer(keel.Customer{Name: prefix + " None"})
	quiet := e.newCustomer(keel.Customer{Name: prefix + " Quiet", TenantID: "quiet-" + uniq()}) // no event at all
	e.logins(up.TenantID, 3, 1, 2, 3)                                                           // 9 logins in the last 14 days, none before: up
	e.logins(down.TenantID, 4, 16, 17, 18, 19)                                                  // 16 before
	e.logins(down.TenantID, 2, 2)                                                               // 2 now: down
	e.logins(flat.TenantID, 5, 3, 17)                                                           // 5 and 5: flat
	e.approvedOrder(down.ID, "Edition "+uniq())                                                 // paying from today

	b := e.signIn("leadership")
	q := "/customers?q=" + url.QueryEscape(prefix)
	rows := wantRows(t, "search", b.get(q), up, down, flat, none, quiet)
	if r := rows[idStr(up.ID)]; !strings.Contains(r, "↑</span> 9<") || !strings.Contains(r, up.TenantID) || !strings.Contains(r, "Test csm") ||
		!strings.Contains(r, `href="/customers/`+idStr(up.ID)+`"`) {
		t.Errorf("row of the customer trending up: %s", r)
	}
	if r := rows[idStr(down.ID)]; !strings.Contains(r, "↓</span> 2<") || !strings.Contains(r, "Paying") || !strings.Contains(r, today()) {
		t.Errorf("row of the paying customer trending down, want ↓ 2, Paying and first purchase %s: %s", today(), r)
	}
	if r := rows[idStr(none.ID)]; !strings.Contains(r, "—") || !strings.Contains(r, "Prospect") {
		t.Errorf("row of the customer without tenant: %s", r)
	}
	if r := rows[idStr(quiet.ID)]; !strings.Contains(r, "→</span> 0<") {
		t.Errorf("row of the customer without events, want → 0: %s", r)
	}
	wantRows(t, "by tenant id", b.get("/customers?q="+url.QueryEscape(flat.TenantID)), flat)
	wantRows(t, "trend up", b.get(q+"&trend=up"), up)
	wantRows(t, "trend down", b.get(q+"&trend=down"), down)
	wantRows(t, "trend flat", b.get(q+"&trend=flat"), flat, quiet)
	wantRows(t, "status active", b.get(q+"&status=active"), down)
	wantRows(t, "status prospect", b.get(q+"&status=prospect"), up, flat, none, quiet)
	wantRows(t, "owner", b.get(q+"&owner="+idStr(csm.ID)), up)
	r := b.get(q + "&owner=" + idStr(csm.ID) + "&trend=down")
	wantRows(t, "owner and trend", r)
	wantPage(t, "no match", r, http.StatusOK, "No customer matches these filters.")
	wantPage(t, "bad status", b.get(q+"&status=happy"), http.StatusBadRequest, "status: &#34;happy&#34; is not one of")
	wantPage(t, "bad trend", b.get(q+"&trend=sideways"), http.StatusBadRequest, "trend: ")

	// Only the roles that may create customers are offered to.
	if strings.Contains(r.body, `href="/customers/new"`) {
		t.Errorf("leadership is offered New customer")
	}
	wantPage(t, "list as sales", e.signIn("sales").get(q), http.StatusOK, `href="/customers/new"`)
}

func TestCustomerListPages(t *testing.T) {
	e := newAPI(t)
	prefix := "Paged" + uniq()
	for i := 0; i < 53; i++ {
		e.newCustomer(keel.Customer{Name: fmt.Sprintf("%s %02d", prefix, i)})
	}
	b := e.signIn("finance")
	r := b.get("/customers?q=" + url.QueryEscape(prefix))
	wantPage(t, "page 1", r, http.StatusOK, "Page 1 of 2", "53 customers", prefix+" 00", prefix+" 49", `page=2`)
	if n := len(listRows(r.body)); n != 50 {
		t.Errorf("page 1 has %d rows, want 50", n)
	}
	if strings.Contains(r.body, prefix+" 50") {
		t.Errorf("page 1 shows the 51st customer")
	}
	r = b.get("/customers?page=2&q=" + url.QueryEscape(prefix))
	wantPage(t, "page 2", r, http.StatusOK, "Page 2 of 2", prefix+" 50", prefix+" 52", `rel="prev"`)
	if n := len(listRows(r.body)); n != 3 {
		t.Errorf("page 2 has %d rows, want 3", n)
	}
	wantPage(t, "bad page", b.get("/customers?page=x"), http.StatusBadRequest, "page: ")
}

var chartRE = regexp.MustCompile(`id="activity-chart" data-option="([^"]*)"`)

func TestCustomer360(t *testing.T) {
	e := newAPI(t)
	csm, sales := e.emps["csm"], e.emps["sales"]
	c := e.newCustomer(keel.Customer{Name: "Globex " + uniq(), TenantID: "globex-" + uniq(), SalesOwner: &sales.ID, CSMOwner: &csm.ID,
		Industry: "Energy", Contacts: []keel.Contact{{Name: "Hank Scorpio", Email: "hank@globex.example", Phone: "+1 555 0100", Title: "CEO"}}})
	product := "Globex Edition " + uniq()
	o := e.approvedOrder(c.ID, product)
	e.logins(c.TenantID, 3, 1) // u0, u1, u2 yesterday
	e.logins(c.TenantID, 1, 0) // u0 today
	e.must(201, "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", c.ID), map[string]any{
		"kind": "meeting", "text": "Quarterly review with Hank", "at": "2026-01-15T10:30:00Z",
		"attachments": []any{map[string]any{"name": "minutes.txt", "content_type": "text/plain", "data": []byte("minutes")}},
	})
	now := time.Now().UTC()
	end := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 12, 0)
	daysLeft := int(end.Sub(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)).Hours() / 24)

	path := fmt.Sprintf("/customers/%d", c.ID)
	for _, role := range []string{"admin", "sales", "csm", "finance", "leadership"} {
		r := e.signIn(role).get(path)
		wantPage(t, "360 as "+role, r, http.StatusOK, c.Name, c.TenantID, "Paying", "Test sales", "Test csm", "Energy",
			"Hank Scorpio", "hank@globex.example", "555 0100", "CEO",
			product, "2 seat", today(), end.Format(time.DateOnly), fmt.Sprintf(`<td class="num">%d</td>`, daysLeft), "In service",
			"<td>USD</td><td class=\"num\">240.00</td><td class=\"num\">100.00</td><td class=\"num\">140.00</td>",
			fmt.Sprintf(`href="/orders/%d"`, o), "Quarterly review with Hank", "2026-01-15 10:30 UTC", "Test csm", "minutes.txt",
			`id="activity-today">1<`, `id="activity-wau">3<`, `id="activity-mau">3<`, "↑ Logins trending up")
		can := func(what, html string, want bool) {
			if strings.Contains(r.body, html) != want {
				t.Errorf("360 as %s: %s offered = %v, want %v", role, what, !want, want)
			}
		}
		canWrite := e.emps[role].Can(keel.ActCustomerWrite) == nil
		// Leadership may change the owners, and nothing else.
		can("edit", `href="/customers/`+idStr(c.ID)+`/edit"`, canWrite || e.emps[role].Can(keel.ActCustomerOwners) == nil)
		can("new order", `href="/orders/new?customer=`+idStr(c.ID)+`"`, e.emps[role].Can(keel.ActOrderCreate) == nil)
		can("follow-up form", `id="followup-form"`, e.emps[role].Can(keel.ActFollowUpAdd) == nil)
		if role != "finance" {
			continue
		}
		// The chart carries the numbers of the 90 days.
		m := chartRE.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("360 has no activity chart")
		}
		var opt struct {
			XAxis []struct {
				Data []string `json:"data"`
			} `json:"xAxis"`
			Series []struct {
				Name string `json:"name"`
				Data []struct {
					Value int64 `json:"value"`
				} `json:"data"`
			} `json:"series"`
		}
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &opt); err != nil {
			t.Fatalf("chart option: %v: %s", err, m[1])
		}
		if len(opt.XAxis) != 1 || len(opt.XAxis[0].Data) != 90 || opt.XAxis[0].Data[89] != today() {
			t.Fatalf("chart x axis %v, want 90 days to today", opt.XAxis)
		}
		want := map[string][2]int64{"Logins": {3, 1}, "Daily active users": {3, 1}, "WAU": {3, 3}, "MAU": {3, 3}}
		for _, s := range opt.Series {
			w, ok := want[s.Name]
			if !ok || len(s.Data) != 90 || s.Data[88].Value != w[0] || s.Data[89].Value != w[1] {
				t.Errorf("series %q: %v, want the last two days %v", s.Name, s.Data, w)
			}
			delete(want, s.Name)
		}
		if len(want) != 0 {
			t.Errorf("chart lacks series %v", want)
		}
	}

	// A customer without a tenant says there is no activity.
	bare := e.newCustomer(keel.Customer{Name: "Bare " + uniq()})
	r := e.signIn("sales").get(fmt.Sprintf("/customers/%d", bare.ID))
	wantPage(t, "360 without tenant", r, http.StatusOK, "has no tenant id", "Prospect", "No subscriptions yet.", "No follow-ups yet.", "No orders yet.")
	if strings.Contains(r.body, "activity-chart") {
		t.Errorf("360 without tenant has a chart")
	}
}

func TestCustomerNotFound(t *testing.T) {
	e := newAPI(t)
	b := e.signIn("sales")
	for _, p := range []string{"/customers/999999999", "/customers/abc", "/customers/999999999/edit", "/attachments/999999999"} {
		wantPage(t, p, b.get(p), http.StatusNotFound)
	}
	r := b.post("/customers/999999999", url.Values{"name": {"X"}, "version": {"1"}})
	wantPage(t, "save unknown", r, http.StatusNotFound)
}

func TestCustomerCreateForm(t *testing.T) {
	e := newAPI(t)
	wantPage(t, "new as finance", e.signIn("finance").get("/customers/new"), http.StatusForbidden)
	b := e.signIn("sales")
	csm := e.emps["csm"]
	wantPage(t, "new", b.get("/customers/new"), http.StatusOK, `name="name"`, `name="contact_email"`, fmt.Sprintf(`<option value="%d">Test csm</option>`, csm.ID))
	name := "Initech " + uniq()
	tenant := "initech-" + uniq()
	form := url.Values{"name": {name}, "tenant_id": {tenant}, "csm_owner": {idStr(csm.ID)}, "sales_owner": {""}, "region": {"US"},
		"contact_name": {"Bill Lumbergh", ""}, "contact_email": {"bill@initech.example", ""}, "contact_phone": {"", ""}, "contact_title": {"VP", ""}}
	r := b.post("/customers", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/customers/") {
		t.Fatalf("create: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(r.location, "/customers/"), 10, 64)
	if err != nil {
		t.Fatalf("create sent the browser to %q", r.location)
	}
	v, err := e.db.Customer(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != name || v.TenantID != tenant || v.CSMOwner == nil || *v.CSMOwner != csm.ID || v.SalesOwner != nil || v.Region != "US" ||
		len(v.Contacts) != 1 || v.Contacts[0] != (keel.Contact{Name: "Bill Lumbergh", Email: "bill@initech.example", Title: "VP"}) {
		t.Errorf("stored %+v", v.Customer)
	}
	wantPage(t, "after create", b.get(r.location), http.StatusOK, "Customer saved.", name, "Bill Lumbergh")

	// Bad input: the form comes back with the message naming the field and
	// what was typed; nothing is stored.
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {""}, "region": {"typed region"}}, "name: must be 1 to 200 characters"},
		{url.Values{"name": {"Bad " + uniq()}, "contact_name": {"Ann"}, "contact_email": {"not-an-email"}}, "contacts[0].email: &#34;not-an-email&#34; is not an email address"},
		{url.Values{"name": {"Bad " + uniq()}, "tenant_id": {"has space"}}, "tenant_id: "},
		{url.Values{"name": {"Bad " + uniq()}, "sales_owner": {idStr(e.emps["finance"].ID)}}, "sales_owner: employee"},
		{url.Values{"name": {"Bad " + uniq()}, "csm_owner": {"x"}}, "csm_owner: &#34;x&#34; is not an employee"},
		{url.Values{"name": {"Bad " + uniq()}, "tenant_id": {tenant}}, "tenant_id: " + tenant + " is already linked"},
	} {
		r := b.post("/customers", c.form)
		status := http.StatusBadRequest
		if strings.Contains(c.want, "already linked") {
			status = http.StatusConflict
		}
		wantPage(t, "bad "+c.want, r, status, c.want, `id="customer-form"`)
		for _, typed := range []string{c.form.Get("name"), c.form.Get("region"), c.form.Get("contact_email")} {
			if typed != "" && !strings.Contains(r.body, `value="`+typed+`"`) && !strings.Contains(r.body, typed) {
				t.Errorf("bad %s: the form lost %q", c.want, typed)
			}
		}
		if n := e.customersNamed(c.form.Get("name")); c.form.Get("name") != "" && n != 0 {
			t.Errorf("bad %s: %d customers stored", c.want, n)
		}
	}
}

// customersNamed counts customers whose name or tenant holds q.
func (e *apiEnv) customersNamed(q string) int {
	e.t.Helper()
	_, n, err := e.db.Customers(context.Background(), keel.CustomerFilter{Query: q, Page: keel.Page{Limit: 1}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestCustomerEditForm(t *testing.T) {
	e := newAPI(t)
	c := e.newCustomer(keel.Customer{Name: "Hooli " + uniq(), Region: "US", Contacts: []keel.Contact{{Name: "Gavin", Email: "gavin@hooli.example"}}})
	path := fmt.Sprintf("/customers/%d", c.ID)
	wantPage(t, "edit as finance", e.signIn("finance").get(path+"/edit"), http.StatusForbidden)
	wantPage(t, "edit as leadership: the owners only", e.signIn("leadership").get(path+"/edit"), http.StatusOK, `id="record" disabled`)
	b := e.signIn("csm")
	wantPage(t, "edit", b.get(path+"/edit"), http.StatusOK, `value="`+c.Name+`"`, `value="gavin@hooli.example"`,
		fmt.Sprintf(`name="version" value="%d"`, c.Version))

	form := url.Values{"name": {c.Name + " Inc"}, "region": {"EU"}, "version": {strconv.FormatInt(c.Version, 10)},
		"contact_name": {"Gavin", "Jared"}, "contact_email": {"gavin@hooli.example", ""}}
	r := b.post(path, form)
	if r.status != http.StatusSeeOther || r.location != path {
		t.Fatalf("save: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	v, err := e.db.Customer(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != c.Name+" Inc" || v.Region != "EU" || len(v.Contacts) != 2 || v.Contacts[1].Name != "Jared" || v.Version != c.Version+1 {
		t.Errorf("after save %+v", v.Customer)
	}
	wantPage(t, "after save", b.get(path), http.StatusOK, "Customer saved.", c.Name+" Inc", "Jared")

	// Bad input names the field and changes nothing.
	bad := url.Values{"name": {c.Name + " X"}, "website": {strings.Repeat("w", 201)}, "version": {strconv.FormatInt(v.Version, 10)}}
	wantPage(t, "bad website", b.post(path, bad), http.StatusBadRequest, "website: at most 200 characters", `value="`+c.Name+` X"`)
	wantPage(t, "no version", b.post(path, url.Values{"name": {"Y"}}), http.StatusBadRequest, "version: missing")
	if after, _ := e.db.Customer(context.Background(), c.ID); after.Version != v.Version || after.Name != v.Name {
		t.Errorf("refused saves changed the customer: %+v", after.Customer)
	}

	// Someone else saves after the form was opened: nothing is
	// overwritten, and the form shows their values and what was typed.
	stale := strconv.FormatInt(v.Version, 10)
	e.must(200, "sales", "PATCH", "/api/v1"+path, map[string]any{"region": "APAC"})
	r = b.post(path, url.Values{"name": {"Mine " + c.Name}, "region": {"EU"}, "version": {stale}, "contact_name": {"Gavin", "Jared"}, "contact_email": {"gavin@hooli.example", ""}})
	wantPage(t, "conflict", r, http.StatusConflict, "Someone else saved this customer", `value="APAC"`, `value="`+c.Name+` Inc"`,
		`id="unsaved"`, "Mine "+c.Name, fmt.Sprintf(`name="version" value="%d"`, v.Version+1))
	if after, _ := e.db.Customer(context.Background(), c.ID); after.Name != c.Name+" Inc" || after.Region != "APAC" {
		t.Errorf("after the conflict: %+v, want the other change kept and this one not saved", after.Customer)
	}
}

func TestCustomerFollowUpForm(t *testing.T) {
	e := newAPI(t)
	c := e.newCustomer(keel.Customer{Name: "Vandelay " + uniq()})
	path := fmt.Sprintf("/customers/%d", c.ID)
	b := e.signIn("csm")
	b.get(path)
	content := []byte("%PDF-1.4 \x00\x01\x02 not really a pdf <script>")
	r := b.postMultipart(path+"/followups", url.Values{"kind": {"visit"}, "at": {"2026-01-15T10:30"}, "text": {"Visited the warehouse"}},
		map[string][]byte{"attachment:report é.pdf": content})
	if r.status != http.StatusSeeOther || r.location != path+"#followups" {
		t.Fatalf("add follow-up: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	fus, n, err := e.db.FollowUps(context.Background(), c.ID, keel.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || fus[0].Kind != keel.FollowUpVisit || fus[0].AuthorID != e.emps["csm"].ID || !fus[0].At.Equal(time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)) ||
		len(fus[0].Attachments) != 1 || fus[0].Attachments[0].Name != "report é.pdf" {
		t.Fatalf("stored follow-ups %+v", fus)
	}
	page := b.get(path)
	wantPage(t, "360 after follow-up", page, http.StatusOK, "Follow-up added.", "Visited the warehouse", "2026-01-15 10:30 UTC", "Visit", "Test csm", "report é.pdf")
	m := regexp.MustCompile(`href="(/attachments/\d+)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("360 has no attachment link")
	}

	// The download is the same bytes, as an attachment never shown inline.
	f := e.signIn("finance")
	req, _ := http.NewRequest(http.MethodGet, e.url+m[1], nil)
	res, err := f.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(got) != string(content) {
		t.Fatalf("download: %d %q, want %q", res.StatusCode, got, content)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/octet-stream", "X-Content-Type-Options": "nosniff",
		"Content-Disposition": `attachment; filename*=utf-8''report%20%C3%A9.pdf`,
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("download %s: %q, want %q", h, got, want)
		}
	}
	anon := newBrowser(t, e.url)
	if r := anon.get(m[1]); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("download signed out: %d to %q", r.status, r.location)
	}

	// Bad input comes back on the 360 page, naming the field, with what
	// was typed; nothing is stored.
	for _, c := range []struct {
		form  url.Values
		files map[string][]byte
		want  string
	}{
		{url.Values{"kind": {"party"}, "text": {"typed text 1"}}, nil, "kind: &#34;party&#34; is not one of"},
		{url.Values{"kind": {"call"}, "text": {"  "}}, nil, "text: required"},
		{url.Values{"kind": {"call"}, "text": {"typed text 3"}, "at": {"yesterday"}}, nil, "at: &#34;yesterday&#34; is not a date"},
		{url.Values{"kind": {"call"}, "text": {"typed text 4"}, "at": {"2099-01-01T10:00"}}, nil, "at: "},
		{url.Values{"kind": {"call"}, "text": {"typed text 5"}}, map[string][]byte{"attachment:empty.txt": {}}, "attachments[0]: the file is empty"},
	} {
		r := b.postMultipart(path+"/followups", c.form, c.files)
		wantPage(t, "follow-up "+c.want, r, http.StatusBadRequest, c.want, `id="followup-form"`, strings.TrimSpace(c.form.Get("text")))
	}
	if _, n, _ := e.db.FollowUps(context.Background(), c.ID, keel.Page{Limit: 10}); n != 1 {
		t.Errorf("refused follow-ups stored: %d follow-ups, want 1", n)
	}
}

func TestCustomerListInChinese(t *testing.T) {
	e := newAPI(t)
	prefix := "Zh" + uniq()
	c := e.newCustomer(keel.Customer{Name: prefix + " 客户"})
	b := e.signIn("sales")
	r := b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/customers"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("switch to Chinese: %d", r.status)
	}
	r = b.get("/customers?q=" + url.QueryEscape(prefix))
	wantPage(t, "list in Chinese", r, http.StatusOK, `lang="zh-CN"`, "<h1>客户</h1>", "搜索名称或租户 ID", "销售负责人", "客户成功负责人",
		"近 14 天登录次数", "首次购买", "潜在客户", "新建客户", "全部登录趋势", c.Name, "1 个客户")
	for _, en := range []string{"Sales owner", "First purchase", "Prospect", "New customer"} {
		if strings.Contains(r.body, ">"+en+"<") {
			t.Errorf("the Chinese list shows %q", en)
		}
	}
	wantPage(t, "360 in Chinese", b.get(fmt.Sprintf("/customers/%d", c.ID)), http.StatusOK, "客户档案", "暂无订阅。", "添加跟进记录", "电话沟通")
}

// TestRefusedFollowUpKeepsTheTimelineLinks: a refused follow-up shows the
// customer's page again, and its timeline's page links still lead to that
// page, not to the form's address (which answers only POST).
func TestRefusedFollowUpKeepsTheTimelineLinks(t *testing.T) {
	e := newAPI(t)
	c := e.newCustomer(keel.Customer{Name: "Pager " + uniq()})
	for i := 0; i < 51; i++ {
		if _, err := e.db.AddFollowUp(context.Background(), e.emps["csm"], keel.FollowUp{CustomerID: c.ID, Kind: keel.FollowUpNote,
			At: time.Date(2026, 1, 1, 9, i, 0, 0, time.UTC), Text: fmt.Sprintf("note %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	path := fmt.Sprintf("/customers/%d", c.ID)
	b := e.signIn("csm")
	b.get(path)
	r := b.postMultipart(path+"/followups", url.Values{"kind": {"visit"}, "at": {"2026-01-15T10:30"}, "text": {""}}, nil)
	wantPage(t, "refused follow-up", r, http.StatusBadRequest, `href="`+path+`?page=2#followups"`)
	if strings.Contains(r.body, path+`/followups?page=2`) {
		t.Errorf("the timeline's next link points at the form's address")
	}
}
