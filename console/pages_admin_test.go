package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// adminFormRoutes are the forms of the admin pages, for TestFormRoleMatrix.
var adminFormRoutes = []formRoute{
	{"/employees", keel.ActEmployeeAdmin, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/employees", url.Values{"email": {"hire-" + uniq() + "@example.com"}, "name": {"New Hire"}, "roles": {"sales"}, "locale": {"en"}}
	}},
	{"/employees/{id}/roles", keel.ActEmployeeAdmin, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		t, _ := e.employee("target", keel.RoleSales)
		return fmt.Sprintf("/employees/%d/roles", t.ID), url.Values{"roles": {"csm", "finance"}}
	}},
	{"/employees/{id}/locale", keel.ActEmployeeAdmin, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		t, _ := e.employee("target", keel.RoleSales)
		return fmt.Sprintf("/employees/%d/locale", t.ID), url.Values{"locale": {"zh"}}
	}},
	{"/employees/{id}/password", keel.ActEmployeeAdmin, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		t, _ := e.employee("target", keel.RoleSales)
		return fmt.Sprintf("/employees/%d/password", t.ID), url.Values{}
	}},
	{"/employees/{id}/deactivate", keel.ActEmployeeAdmin, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		t, _ := e.employee("target", keel.RoleSales)
		return fmt.Sprintf("/employees/%d/deactivate", t.ID), url.Values{}
	}},
}

var passwordRE = regexp.MustCompile(`<code id="one-time-password">([^<]+)</code>`)

// TestAdminPagesAreForAdmins: every admin page answers 403 to the other
// roles, and 200 to an admin.
func TestAdminPagesAreForAdmins(t *testing.T) {
	e := newAPI(t)
	target := e.emps["sales"]
	pages := []string{"/employees", fmt.Sprintf("/employees/%d", target.ID), "/audit", "/audit?actor=1", "/security", "/security?outcome=failed&employee=1"}
	for _, role := range []string{"sales", "csm", "finance", "leadership"} {
		b := e.signIn(role)
		for _, p := range pages {
			wantPage(t, role+" "+p, b.get(p), http.StatusForbidden, "Your role does not allow this.")
		}
		if home := b.get("/"); strings.Contains(home.body, `href="/employees"`) || strings.Contains(home.body, `href="/audit"`) || strings.Contains(home.body, `href="/security"`) {
			t.Errorf("%s: the nav links to the admin pages", role)
		}
	}
	admin := e.signIn("admin")
	for _, p := range pages {
		wantPage(t, "admin "+p, admin.get(p), http.StatusOK)
	}
	for _, p := range []string{"/security?outcome=maybe", "/security?employee=x", "/security?page=0"} {
		wantPage(t, "admin "+p, admin.get(p), http.StatusBadRequest, `id="security-error"`)
	}
	if home := admin.get("/"); !strings.Contains(home.body, `href="/employees"`) || !strings.Contains(home.body, `href="/audit"`) || !strings.Contains(home.body, `href="/security"`) {
		t.Errorf("admin: the nav lacks the admin pages")
	}
}

// TestAdminAddEmployee: the list shows every employee; adding one shows its
// one-time password once, in the answer to the form, and it signs in;
// bad input re-renders the form naming the field and adds no one.
func TestAdminAddEmployee(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	b := e.signIn("admin")
	list := b.get("/employees")
	wantPage(t, "employees", list, http.StatusOK, "Add an employee", e.emps["sales"].Email, e.emps["departed"].Email,
		`class="badge status-departed">Departed<`, `class="badge status-active">Employed<`, "Finance", "Customer success",
		`name="roles" value="leadership"`, `<option value="zh"`, `href="/employees/`+fmt.Sprint(e.emps["csm"].ID)+`"`)

	email := "hire-" + uniq() + "@example.com"
	r := b.post("/employees", url.Values{"email": {email}, "name": {"Hanna Hire"}, "roles": {"sales", "csm"}, "locale": {"zh"}})
	wantPage(t, "add", r, http.StatusOK, "Copy it now: it is not shown again.", "Hanna Hire", email)
	if r.location != "" {
		t.Errorf("add: answered with a redirect to %q; the password must be in the answer itself", r.location)
	}
	m := passwordRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("add: no one-time password on the page: %.2000s", r.body)
	}
	pw := m[1]
	emp, err := e.db.EmployeeByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if emp.Name != "Hanna Hire" || !slices.Equal(emp.Roles, []keel.Role{keel.RoleSales, keel.RoleCSM}) || emp.Locale != "zh" || emp.Status != keel.EmployeeActive {
		t.Errorf("added employee is %+v", emp)
	}
	// Shown once: not on the employee's page, not on the list.
	for _, p := range []string{fmt.Sprintf("/employees/%d", emp.ID), "/employees", "/audit"} {
		r := b.get(p)
		wantPage(t, p, r, http.StatusOK, email)
		if strings.Contains(r.body, pw) {
			t.Errorf("%s shows the one-time password again", p)
		}
	}
	// The new employee signs in with it, sets their own, and is home, in
	// their language.
	nb := e.firstSignIn(emp, pw)
	wantPage(t, "new employee's home", nb.get("/"), http.StatusOK, "客户")

	n := len(mustEmployees(t, e))
	bad := []struct {
		form   url.Values
		status int
		texts  []string
	}{
		{url.Values{"email": {"not-an-email"}, "name": {"Typed Name"}, "roles": {"sales"}}, 400,
			[]string{"email:", "is not an email address", `value="Typed Name"`, `value="not-an-email"`}},
		{url.Values{"email": {"x-" + uniq() + "@example.com"}, "name": {"No Role"}}, 400,
			[]string{"roles:", "at least one role", `value="No Role"`}},
		{url.Values{"email": {"x-" + uniq() + "@example.com"}, "name": {"Bad Role"}, "roles": {"boss"}}, 400,
			[]string{"roles[0]:", "unknown role"}},
		{url.Values{"email": {"x-" + uniq() + "@example.com"}, "name": {"  "}, "roles": {"sales"}}, 400,
			[]string{"name:"}},
		{url.Values{"email": {"x-" + uniq() + "@example.com"}, "name": {"Bad Locale"}, "roles": {"sales"}, "locale": {"fr"}}, 400,
			[]string{"locale:"}},
		{url.Values{"email": {strings.ToUpper(email)}, "name": {"Twin"}, "roles": {"finance"}}, 409,
			[]string{"email:", "already belongs to an employee", `value="Twin"`, `name="roles" value="finance" checked`}},
	}
	for _, c := range bad {
		r := b.post("/employees", c.form)
		wantPage(t, "add "+c.form.Encode(), r, c.status, append(c.texts, `id="add-error"`)...)
		if passwordRE.MatchString(r.body) {
			t.Errorf("add %s: a password is shown", c.form.Encode())
		}
	}
	if got := len(mustEmployees(t, e)); got != n {
		t.Errorf("bad forms added %d employees", got-n)
	}
}

func mustEmployees(t *testing.T, e *apiEnv) []keel.Employee {
	t.Helper()
	emps, err := e.db.Employees(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return emps
}

// TestAdminRolesLocaleDeactivate: roles change what the employee may do on
// their very next request; deactivation bounces their open browser to the
// sign-in page and they cannot sign in again; no one deactivates
// themselves.
func TestAdminRolesLocaleDeactivate(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	admin := e.signIn("admin")
	target, _ := e.employee("target", keel.RoleSales)
	tb := e.signInAs(target)
	if home := tb.get("/"); strings.Contains(home.body, `href="/approvals"`) {
		t.Fatal("a sales employee sees Approvals")
	}
	path := fmt.Sprintf("/employees/%d", target.ID)
	wantPage(t, "employee", admin.get(path), http.StatusOK, target.Email, `id="deactivate"`, `name="roles" value="sales" checked`)

	// Roles.
	r := admin.post(path+"/roles", url.Values{"roles": {"finance"}})
	if r.status != http.StatusSeeOther || r.location != path {
		t.Fatalf("roles: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	wantPage(t, "after roles", admin.get(path), http.StatusOK, "Roles saved.", `name="roles" value="finance" checked`,
		"<code>employee.roles</code>", "<b>Roles</b>: <del>Sales</del> → <ins>Finance</ins>")
	if got, _ := e.db.Employee(ctx, target.ID); !slices.Equal(got.Roles, []keel.Role{keel.RoleFinance}) {
		t.Errorf("roles are %v", got.Roles)
	}
	if home := tb.get("/"); !strings.Contains(home.body, `href="/approvals"`) {
		t.Error("after becoming finance, the employee's nav lacks Approvals")
	}
	wantPage(t, "target's employees page", tb.get("/employees"), http.StatusForbidden)
	for _, form := range []url.Values{{}, {"roles": {"finance", "boss"}}} {
		r := admin.post(path+"/roles", form)
		wantPage(t, "bad roles", r, http.StatusBadRequest, "roles", `id="roles-error"`)
	}
	if got, _ := e.db.Employee(ctx, target.ID); !slices.Equal(got.Roles, []keel.Role{keel.RoleFinance}) {
		t.Errorf("bad roles forms changed the roles to %v", got.Roles)
	}

	// Language.
	if r := admin.post(path+"/locale", url.Values{"locale": {"zh"}}); r.status != http.StatusSeeOther || r.location != path {
		t.Fatalf("locale: %d to %q", r.status, r.location)
	}
	wantPage(t, "after locale", admin.get(path), http.StatusOK, "Language saved.", `<option value="zh" selected>`,
		"<b>Interface language</b>: <del>English</del> → <ins>中文</ins>")
	wantPage(t, "target's home in Chinese", tb.get("/"), http.StatusOK, "审批")
	wantPage(t, "bad locale", admin.post(path+"/locale", url.Values{"locale": {"fr"}}), http.StatusBadRequest, "locale:")
	if got, _ := e.db.Employee(ctx, target.ID); got.Locale != "zh" {
		t.Errorf("locale is %q", got.Locale)
	}

	// Deactivation: the open browser is bounced, sign-in fails.
	r = admin.post(path+"/deactivate", nil)
	if r.status != http.StatusSeeOther || r.location != path {
		t.Fatalf("deactivate: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	after := admin.get(path)
	wantPage(t, "after deactivate", after, http.StatusOK, "is deactivated", `status-departed`, "<code>employee.deactivate</code>",
		"<b>Status</b>: <del>Employed</del> → <ins>Departed</ins>")
	if strings.Contains(after.body, `id="deactivate"`) {
		t.Error("a departed employee's page still offers to deactivate")
	}
	if got, _ := e.db.Employee(ctx, target.ID); got.Status != keel.EmployeeDeparted {
		t.Errorf("status is %q", got.Status)
	}
	if r := tb.get("/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("departed employee's open browser: %d to %q, want 303 to /login", r.status, r.location)
	}
	if r := tb.get("/employees"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("departed employee's open browser on /employees: %d to %q, want 303 to /login", r.status, r.location)
	}
	nb := newBrowser(t, e.url)
	nb.get("/login")
	if r := nb.post("/login", url.Values{"email": {target.Email}, "password": {e.pws[target.Email]}}); r.status == http.StatusSeeOther || !strings.Contains(r.body, "Wrong email or password.") {
		t.Errorf("departed employee signs in: %d to %q", r.status, r.location)
	}

	// One's own account.
	me := e.emps["admin"]
	own := admin.get(fmt.Sprintf("/employees/%d", me.ID))
	wantPage(t, "own page", own, http.StatusOK, "This is your own account")
	if strings.Contains(own.body, `id="deactivate"`) {
		t.Error("one's own page offers to deactivate")
	}
	wantPage(t, "deactivate oneself", admin.post(fmt.Sprintf("/employees/%d/deactivate", me.ID), nil), http.StatusConflict,
		"You cannot deactivate your own account.")
	if got, _ := e.db.Employee(ctx, me.ID); got.Status != keel.EmployeeActive {
		t.Errorf("the admin deactivated themselves: %q", got.Status)
	}
	wantPage(t, "admin still signed in", admin.get("/employees"), http.StatusOK)

	// Records that do not exist.
	wantPage(t, "no such employee", admin.get("/employees/999999999"), http.StatusNotFound)
	wantPage(t, "no such employee (roles)", admin.post("/employees/999999999/roles", url.Values{"roles": {"sales"}}), http.StatusNotFound)
	wantPage(t, "not an id", admin.get("/employees/abc"), http.StatusNotFound)
}

// TestAdminAuditPage: the audit log lists the changes with who made them
// and what changed, and its filters work.
func TestAdminAuditPage(t *testing.T) {
	e := newAPI(t)
	admin := e.signIn("admin")
	me := e.emps["admin"]
	one, _ := e.employee("one", keel.RoleSales)
	two, _ := e.employee("two", keel.RoleCSM)
	for _, emp := range []keel.Employee{one, two} {
		if r := admin.post(fmt.Sprintf("/employees/%d/roles", emp.ID), url.Values{"roles": {"sales", "leadership"}}); r.status != http.StatusSeeOther {
			t.Fatalf("roles: %d", r.status)
		}
	}
	email := "audited-" + uniq() + "@example.com"
	wantPage(t, "add", admin.post("/employees", url.Values{"email": {email}, "name": {"Audited Hire"}, "roles": {"finance"}}), http.StatusOK)
	cust := e.must(201, "sales", "POST", "/api/v1/customers", map[string]any{"name": "Audit Co " + uniq(), "tenant_id": "t-" + uniq()})
	custID := id(t, cust)

	mine := fmt.Sprintf("/audit?actor=%d", me.ID)
	r := admin.get(mine)
	wantPage(t, "audit by admin", r, http.StatusOK, "<code>employee.roles</code>", "<code>employee.add</code>", me.Name, me.Email,
		fmt.Sprintf(`href="/employees/%d">#%d</a>`, one.ID, one.ID), fmt.Sprintf(`href="/employees/%d">#%d</a>`, two.ID, two.ID),
		"<b>Roles</b>: <del>Customer success</del> → <ins>Sales, Leadership</ins>", "<b>Roles</b>: <del>Sales</del> → <ins>Sales, Leadership</ins>",
		"<b>Email</b>: <ins>"+email+"</ins>", "<details>", fmt.Sprintf(`<option value="%d" selected>`, me.ID))
	if strings.Contains(r.body, "<code>customer.create</code>") {
		t.Error("the admin filter shows the sales employee's change")
	}
	if strings.Contains(r.body, "<b>Email</b>: <del>") || strings.Contains(r.body, "<b>Name</b>: <del>") {
		t.Error("the roles change lists fields that did not change")
	}

	r = admin.get(fmt.Sprintf("/audit?actor=%d", e.emps["sales"].ID))
	wantPage(t, "audit by sales", r, http.StatusOK, "<code>customer.create</code>", fmt.Sprintf(`href="/customers/%d">#%d</a>`, custID, custID))
	if strings.Contains(r.body, "<code>employee.roles</code>") {
		t.Error("the sales filter shows the admin's changes")
	}

	r = admin.get(mine + "&entity=customer")
	wantPage(t, "admin's customer changes", r, http.StatusOK, "No changes match this filter.")
	r = admin.get(fmt.Sprintf("/audit?entity=employee&entity_id=%d", one.ID))
	wantPage(t, "one's changes", r, http.StatusOK, fmt.Sprintf(`href="/employees/%d">#%d</a>`, one.ID, one.ID), "<code>employee.add</code>", "<code>employee.roles</code>")
	if strings.Contains(r.body, fmt.Sprintf(`href="/employees/%d">#%d</a>`, two.ID, two.ID)) {
		t.Error("the entity id filter shows another employee")
	}
	r = admin.get(fmt.Sprintf("/audit?entity=customer&actor=%d", e.emps["sales"].ID))
	wantPage(t, "sales's customers", r, http.StatusOK, "<code>customer.create</code>", `<option value="customer" selected>`)

	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	wantPage(t, "today", admin.get(mine+"&from="+today+"&to="+today), http.StatusOK, "<code>employee.roles</code>", `value="`+today+`"`)
	wantPage(t, "from tomorrow", admin.get(mine+"&from="+tomorrow), http.StatusOK, "No changes match this filter.")
	wantPage(t, "to yesterday", admin.get(mine+"&to="+yesterday), http.StatusOK, "No changes match this filter.")

	for q, field := range map[string]string{
		"actor=abc":                         "actor:",
		"entity=planet":                     "entity:",
		"entity_id=-3":                      "entity_id:",
		"from=2026-13-01":                   "from:",
		"to=yesterday":                      "to:",
		"from=" + tomorrow + "&to=" + today: "from:",
		"page=0":                            "page:",
	} {
		r := admin.get("/audit?" + q)
		wantPage(t, "audit?"+q, r, http.StatusBadRequest, field, `id="audit-error"`)
		if strings.Contains(r.body, "<code>employee.roles</code>") {
			t.Errorf("audit?%s: lists entries despite the bad filter", q)
		}
	}
}

// TestAdminPagesInChinese: the admin pages speak the admin's language.
func TestAdminPagesInChinese(t *testing.T) {
	e := newAPI(t)
	me := e.emps["admin"]
	if _, err := e.db.SetEmployeeLocale(context.Background(), keel.System, me.ID, "zh"); err != nil {
		t.Fatal(err)
	}
	b := e.signIn("admin")
	wantPage(t, "employees", b.get("/employees"), http.StatusOK, `lang="zh-CN"`, "添加员工", "角色", "在职", "已离职", "管理员", "界面语言")
	target := e.emps["sales"]
	wantPage(t, "employee", b.get(fmt.Sprintf("/employees/%d", target.ID)), http.StatusOK, "停用", "保存角色", "此账号的变更")
	if r := b.post(fmt.Sprintf("/employees/%d/roles", target.ID), url.Values{"roles": {"sales", "csm"}}); r.status != http.StatusSeeOther {
		t.Fatalf("roles: %d", r.status)
	}
	wantPage(t, "employee after roles", b.get(fmt.Sprintf("/employees/%d", target.ID)), http.StatusOK, "角色已保存。")
	wantPage(t, "audit", b.get(fmt.Sprintf("/audit?actor=%d", me.ID)), http.StatusOK, "审计日志", "变更内容", "显示变更", "操作人", "<code>employee.roles</code>")
	wantPage(t, "own deactivation", b.post(fmt.Sprintf("/employees/%d/deactivate", me.ID), nil), http.StatusConflict, "您不能停用自己的账号。")
}

// TestAuditShowsLabelledFields: the audit page shows a record's fields by
// their names in the reader's language, with values as the other pages
// show them — money as money, days as days, employees and customers by
// name — never the record's internal field names or raw JSON.
func TestAuditShowsLabelledFields(t *testing.T) {
	e := newAPI(t)
	cid := e.customer()
	cust, err := e.db.Customer(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	pid := e.product(keel.KindEdition, 1000, "USD")
	oid := e.order(cid, keel.OrderNew, pid, 2, 12)
	e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", oid), nil)
	e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", oid), map[string]any{"paid_amount": 24000, "paid_at": today(), "payment_ref": "INV-9"})

	admin := e.signIn("admin")
	path := fmt.Sprintf("/audit?entity=order&entity_id=%d", oid)
	r := admin.get(path)
	wantPage(t, "order's audit", r, http.StatusOK,
		"<b>Status</b>: <del>Pending approval</del> → <ins>Approved</ins>",
		"<b>Payment</b>: <del>—</del> → <ins>240.00 USD · "+today()+" · INV-9</ins>",
		"<b>Decided by</b>: <del>—</del> → <ins>"+e.emps["finance"].Name+"</ins>",
		"<dt>Customer</dt><dd>"+cust.Name+"</dd>", "<dt>Total</dt><dd>240.00 USD</dd>",
		"<dt>Created by</dt><dd>"+e.emps["sales"].Name+"</dd>", "<code>order.create</code>")
	for _, internal := range []string{"CustomerID", "DecidedBy", "PaidAt", "&#34;Status&#34;", "<pre>"} {
		if strings.Contains(r.body, internal) {
			t.Errorf("the audit page shows %q", internal)
		}
	}

	if _, err := e.db.SetEmployeeLocale(context.Background(), keel.System, e.emps["admin"].ID, "zh"); err != nil {
		t.Fatal(err)
	}
	r = admin.get(path)
	wantPage(t, "order's audit in Chinese", r, http.StatusOK,
		"<b>状态</b>: <del>待审批</del> → <ins>已批准</ins>", "<b>付款</b>: <del>—</del> → <ins>240.00 USD · "+today()+" · INV-9</ins>",
		"<b>审批人</b>", "<dt>客户</dt><dd>"+cust.Name+"</dd>")
	for _, en := range []string{"<b>Status</b>", "Pending approval", "<dt>Total</dt>"} {
		if strings.Contains(r.body, en) {
			t.Errorf("the Chinese audit page shows %q", en)
		}
	}
}

// TestTheLastAdminStaysAdmin: two admins, each removing the other's admin
// role through the API at the same moment (or each their own), again and
// again: every time one succeeds and the other is refused, so the company
// keeps one admin. The last admin's own roles form then says why it
// refuses, beside the roles, and changes nothing.
func TestTheLastAdminStaysAdmin(t *testing.T) {
	e := newAPIFresh(t)
	ctx := context.Background()
	second, tok := e.employee("admin2", keel.RoleAdmin)
	e.emps["admin2"], e.tokens["admin2"] = second, tok
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, pair := range [][2]string{{"admin", "admin2"}, {"admin2", "admin"}} {
			target := e.emps[pair[1]]
			if round%2 == 1 {
				target = e.emps[pair[0]]
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = e.call(pair[0], "PUT", fmt.Sprintf("/api/v1/employees/%d/roles", target.ID), map[string]any{"roles": []string{"sales"}}).status
			}()
		}
		wg.Wait()
		slices.Sort(statuses)
		if statuses[0] != http.StatusOK || (statuses[1] != http.StatusConflict && statuses[1] != http.StatusForbidden) {
			t.Fatalf("round %d: statuses %v, want one 200 and one 409 or 403", round, statuses)
		}
		admins := 0
		for _, x := range mustEmployees(t, e) {
			if x.Status == keel.EmployeeActive && x.Has(keel.RoleAdmin) {
				admins++
			}
		}
		if admins != 1 {
			t.Fatalf("round %d: %d active admins, want 1", round, admins)
		}
		for _, name := range []string{"admin", "admin2"} {
			if _, err := e.db.SetEmployeeRoles(ctx, keel.System, e.emps[name].ID, []keel.Role{keel.RoleAdmin}); err != nil {
				t.Fatal(err)
			}
		}
	}

	if _, err := e.db.SetEmployeeRoles(ctx, keel.System, second.ID, []keel.Role{keel.RoleSales}); err != nil {
		t.Fatal(err)
	}
	me := e.emps["admin"]
	b := e.signIn("admin")
	path := fmt.Sprintf("/employees/%d", me.ID)
	b.get(path)
	before := e.auditCount()
	wantPage(t, "the last admin drops the role", b.post(path+"/roles", url.Values{"roles": {"sales"}}), http.StatusConflict,
		`id="roles-error"`, me.Email+" is the last active admin: give another employee the admin role first")
	if got, _ := e.db.Employee(ctx, me.ID); !got.Has(keel.RoleAdmin) || e.auditCount() != before {
		t.Errorf("after the refusal: roles %v, %d audit entries written", got.Roles, e.auditCount()-before)
	}
	r := e.call("admin", "PUT", fmt.Sprintf("/api/v1/employees/%d/roles", me.ID), map[string]any{"roles": []string{"finance"}})
	if code, _ := r.errorOf(t); r.status != http.StatusConflict || code != keel.ECONFLICT {
		t.Errorf("API: the last admin drops the role: %d %s", r.status, r.body)
	}
}

// firstSignIn signs emp in with a one-time password, which sends the
// browser to set its own (recorded in e.pws), and returns the browser,
// signed in.
func (e *apiEnv) firstSignIn(emp keel.Employee, oneTime string) *browser {
	e.t.Helper()
	b := newBrowser(e.t, e.url)
	b.get("/login")
	r := b.post("/login", url.Values{"email": {emp.Email}, "password": {oneTime}})
	if r.status != http.StatusSeeOther || r.location != "/me/password?next=%2F" {
		e.t.Fatalf("sign in with a one-time password: %d to %q, want 303 to /me/password: %.1000s", r.status, r.location, r.body)
	}
	wantPage(e.t, "the password page", b.get(r.location), http.StatusOK, `id="one-time-notice"`)
	own := "own password " + uniq()
	r = b.post("/me/password", url.Values{"current_password": {oneTime}, "new_password": {own}, "new_password_again": {own}, "next": {"/"}})
	if r.status != http.StatusSeeOther || r.location != "/" {
		e.t.Fatalf("set the own password: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	e.pws[emp.Email] = own
	return b
}

// TestOneTimePasswordMustBeReplaced: a session started with a one-time
// password can do nothing but set the employee's own — pages send it to
// the password page, forms are refused, the navigation is not shown —
// while the employee's API token works as usual. The change needs the
// one-time password, a new one that passes the rules, typed twice; then
// the browser is signed in with a new session and the one-time password
// is dead. Later changes end the employee's other sessions.
func TestOneTimePasswordMustBeReplaced(t *testing.T) {
	e := newAPI(t)
	ctx := context.Background()
	emp, oneTime, err := e.db.AddEmployee(ctx, keel.System, keel.Employee{Email: "otp-" + uniq() + "@example.com", Name: "Otto Onetime", Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.db.CreateToken(ctx, keel.System, emp.ID, "script")
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["otto"] = tok

	b := newBrowser(t, e.url)
	b.get("/login")
	r := b.post("/login", url.Values{"email": {emp.Email}, "password": {oneTime}, "next": {"/orders"}})
	if r.status != http.StatusSeeOther || r.location != "/me/password?next=%2Forders" {
		t.Fatalf("sign in with a one-time password: %d to %q", r.status, r.location)
	}
	for _, p := range []string{"/", "/customers?status=active", "/employees"} {
		r := b.get(p)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/me/password") {
			t.Errorf("GET %s with a one-time session: %d to %q, want 303 to /me/password", p, r.status, r.location)
		}
	}
	form := b.get("/me/password?next=%2Forders")
	wantPage(t, "password page", form, http.StatusOK, `id="one-time-notice"`, "One-time password", `name="next" value="/orders"`)
	if strings.Contains(form.body, `href="/customers"`) || strings.Contains(form.body, `action="/me/locale"`) {
		t.Errorf("the one-time session's page offers the navigation")
	}
	before := e.auditCount()
	wantPage(t, "locale with a one-time session", b.post("/me/locale", url.Values{"locale": {"zh"}}), http.StatusForbidden, "set your own password first")
	wantPage(t, "a customer with a one-time session", b.post("/customers", url.Values{"name": {"Sneaky"}}), http.StatusForbidden)
	if e.auditCount() != before {
		t.Errorf("a one-time session changed something")
	}
	if r := e.call("otto", "GET", "/api/v1/me", nil); r.status != http.StatusOK {
		t.Errorf("the API token of an employee with a one-time password: %d %s", r.status, r.body)
	}

	b.get("/me/password")
	fresh := "a password of my own " + uniq()
	for _, c := range []struct {
		form url.Values
		text string
	}{
		{url.Values{"current_password": {"not it at all"}, "new_password": {fresh}, "new_password_again": {fresh}}, "current_password: is not your current password"},
		{url.Values{"current_password": {oneTime}, "new_password": {fresh}, "new_password_again": {fresh + "x"}}, "new_password_again: does not match the new password"},
		{url.Values{"current_password": {oneTime}, "new_password": {"Password2026!"}, "new_password_again": {"Password2026!"}}, "new_password: is too common"},
		{url.Values{"current_password": {oneTime}, "new_password": {"short"}, "new_password_again": {"short"}}, "new_password: must be 12 to 1024 characters"},
	} {
		wantPage(t, "refused change", b.post("/me/password", c.form), http.StatusBadRequest, `id="password-error"`, c.text)
	}
	if e.auditCount() != before {
		t.Errorf("a refused change wrote to the audit log")
	}
	r = b.post("/me/password", url.Values{"current_password": {oneTime}, "new_password": {fresh}, "new_password_again": {fresh}, "next": {"/orders"}})
	if r.status != http.StatusSeeOther || r.location != "/orders" {
		t.Fatalf("change: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	wantPage(t, "after the change", b.get("/orders"), http.StatusOK, "Password changed.", `href="/customers"`)
	if got := e.auditActionsOf(emp.ID); got != "employee.password employee.add" {
		t.Errorf("audit of the employee: %s", got)
	}
	nb := newBrowser(t, e.url)
	nb.get("/login")
	wantPage(t, "the one-time password again", nb.post("/login", url.Values{"email": {emp.Email}, "password": {oneTime}}), http.StatusUnauthorized)
	e.pws[emp.Email] = fresh
	other := e.signInAs(emp) // a second browser, before the next change

	// An ordinary change, from the header's link: the other browser is
	// signed out, this one stays.
	wantPage(t, "own password page", b.get("/me/password"), http.StatusOK, "Current password")
	second := "another password of mine " + uniq()
	if r := b.post("/me/password", url.Values{"current_password": {fresh}, "new_password": {second}, "new_password_again": {second}}); r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("second change: %d to %q: %.1000s", r.status, r.location, r.body)
	}
	wantPage(t, "this browser after the change", b.get("/"), http.StatusOK, emp.Name)
	if r := other.get("/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("the other browser after the change: %d to %q, want signed out", r.status, r.location)
	}
}

// auditActionsOf lists the actions of the audit entries about employee id,
// newest first.
func (e *apiEnv) auditActionsOf(id int64) string {
	e.t.Helper()
	entries, _, err := e.db.Audit(context.Background(), keel.AuditFilter{Entity: "employee", EntityID: id})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range entries {
		out = append(out, a.Action)
	}
	return strings.Join(out, " ")
}

// TestAdminResetsAPassword: an admin resets an employee's password from
// their page or the API; the new one-time password is shown once, the
// employee's open browser is signed out, their API token keeps working,
// and their next sign-in must replace it. Resetting one's own, or as
// another role, is refused.
func TestAdminResetsAPassword(t *testing.T) {
	e := newAPI(t)
	admin := e.signIn("admin")
	target, tok := e.employee("reset", keel.RoleCSM)
	e.tokens["target"] = tok
	open := e.signInAs(target)
	path := fmt.Sprintf("/employees/%d", target.ID)
	wantPage(t, "employee page", admin.get(path), http.StatusOK, `id="reset-password"`, "Set: no change needed")
	r := admin.post(path+"/password", nil)
	wantPage(t, "reset", r, http.StatusOK, "Password reset. Their new one-time password:", "One-time: to be replaced at the next sign-in")
	m := passwordRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no one-time password on the page: %.2000s", r.body)
	}
	if strings.Contains(admin.get(path).body, m[1]) {
		t.Errorf("the employee page shows the one-time password again")
	}
	if r := open.get("/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("the employee's open browser after a reset: %d to %q, want signed out", r.status, r.location)
	}
	if r := e.call("target", "GET", "/api/v1/me", nil); r.status != http.StatusOK {
		t.Errorf("the employee's token after a reset: %d", r.status)
	}
	nb := newBrowser(t, e.url)
	nb.get("/login")
	wantPage(t, "the old password after a reset", nb.post("/login", url.Values{"email": {target.Email}, "password": {e.pws[target.Email]}}), http.StatusUnauthorized)
	e.firstSignIn(target, m[1])
	if got := e.auditActionsOf(target.ID); got != "employee.password employee.password_reset employee.add" {
		t.Errorf("audit: %s", got)
	}

	// The API.
	res := e.must(200, "admin", "POST", fmt.Sprintf("/api/v1/employees/%d/password", target.ID), nil)
	if pw, _ := res["password"].(string); len(pw) < keel.MinPasswordLen || res["email"] != target.Email {
		t.Errorf("API reset: %v", res)
	}
	for caller, want := range map[string]int{"sales": 403, "csm": 403, "departed": 401, "none": 401} {
		if r := e.call(caller, "POST", fmt.Sprintf("/api/v1/employees/%d/password", target.ID), nil); r.status != want {
			t.Errorf("API reset as %s: %d, want %d", caller, r.status, want)
		}
	}
	me := e.emps["admin"]
	if r := e.call("admin", "POST", fmt.Sprintf("/api/v1/employees/%d/password", me.ID), nil); r.status != http.StatusConflict {
		t.Errorf("API reset of one's own: %d %s, want 409", r.status, r.body)
	}
	admin.get(fmt.Sprintf("/employees/%d", me.ID))
	wantPage(t, "reset one's own", admin.post(fmt.Sprintf("/employees/%d/password", me.ID), nil), http.StatusConflict, "Change your own password with your current one")
}
