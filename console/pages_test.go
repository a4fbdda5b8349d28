package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/keelhq/keel"
)

// browser is a signed-in (or not) visitor of the console's pages: it keeps
// cookies and does not follow redirects, so tests see where a form sends
// the browser.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

// page is one answer of the console to a browser.
type pageResp struct {
	status   int
	location string
	body     string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) pageResp {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return pageResp{status: res.StatusCode, location: res.Header.Get("Location"), body: string(body)}
}

// get fetches a page.
func (b *browser) get(path string) pageResp {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form as the browser would, with the CSRF token of the last
// page it fetched (unless the form carries its own "csrf").
func (b *browser) post(path string, form url.Values) pageResp {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postMultipart sends a form with files (name → content) as multipart.
func (b *browser) postMultipart(path string, form url.Values, files map[string][]byte) pageResp {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		field, filename, _ := strings.Cut(n, ":") // "field:filename"
		w, err := mw.CreateFormFile(field, filename)
		if err != nil {
			b.t.Fatal(err)
		}
		w.Write(files[n])
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.base+path, &buf)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// signIn returns a browser signed in as the env's employee called name.
func (e *apiEnv) signIn(name string) *browser {
	e.t.Helper()
	emp, ok := e.emps[name]
	if !ok {
		e.t.Fatalf("no employee %q", name)
	}
	return e.signInAs(emp)
}

func (e *apiEnv) signInAs(emp keel.Employee) *browser {
	e.t.Helper()
	b := newBrowser(e.t, e.url)
	b.get("/login")
	r := b.post("/login", url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}})
	if r.status != http.StatusSeeOther || r.location != "/" {
		e.t.Fatalf("sign in as %s: status %d to %q: %s", emp.Email, r.status, r.location, r.body)
	}
	if home := b.get("/"); home.status != http.StatusOK {
		e.t.Fatalf("home as %s: %d: %s", emp.Email, home.status, home.body)
	}
	return b
}

// wantPage fails the test unless the answer has the status and every text.
func wantPage(t *testing.T, what string, r pageResp, status int, texts ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d (to %q): %.2000s", what, r.status, status, r.location, r.body)
	}
	for _, s := range texts {
		if !strings.Contains(r.body, s) {
			t.Errorf("%s: page lacks %q", what, s)
		}
	}
}

// formRoute is one route that changes something, for the role matrix. Each
// area's tests list theirs; TestFormRoleMatrix fails for a route of the
// console that no list names.
type formRoute struct {
	pattern string      // chi's pattern, e.g. "/orders/{id}/approve"
	action  keel.Action // what it needs; "" = any signed-in employee
	// setup makes what the form acts on, fresh for each caller (as, who
	// is about to send the form), and returns the path and a valid form.
	setup func(e *apiEnv, as keel.Employee) (path string, form url.Values)
}

// coreFormRoutes are the forms of the console's frame.
var coreFormRoutes = []formRoute{
	{"/logout", "", func(e *apiEnv, as keel.Employee) (string, url.Values) { return "/logout", nil }},
	{"/me/locale", "", func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}}
	}},
	{"/me/password", "", func(e *apiEnv, as keel.Employee) (string, url.Values) {
		current, next := e.pws[as.Email], rand.Text()
		e.pws[as.Email] = next // the form is for everyone: it will change it
		return "/me/password", url.Values{"current_password": {current}, "new_password": {next}, "new_password_again": {next}}
	}},
}

// allFormRoutes are the form routes of every area of the console.
func allFormRoutes() []formRoute {
	var all []formRoute
	for _, rs := range [][]formRoute{coreFormRoutes, customerFormRoutes, orderFormRoutes, activityFormRoutes, adminFormRoutes, revenueFormRoutes, healthFormRoutes, tokenFormRoutes, digestFormRoutes} {
		all = append(all, rs...)
	}
	return all
}

// TestFormRoleMatrix sends every form of the console as every role, as a
// departed employee whose session was open, and with no session: a role
// the form is not for is refused with 403 and nothing is written (no audit
// entry by that employee); the departed and the signed-out are sent to
// sign in; a role the form is for is not refused.
func TestFormRoleMatrix(t *testing.T) {
	e := newAPI(t)
	routes := allFormRoutes()
	listed := map[string]bool{}
	for _, fr := range routes {
		listed[fr.pattern] = true
	}
	mux, ok := e.h.(chi.Routes)
	if !ok {
		t.Fatalf("the console's handler is a %T, not a chi router", e.h)
	}
	chi.Walk(mux, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != http.MethodGet && method != http.MethodHead && !strings.HasPrefix(route, "/api/") && route != "/login" {
			if !listed[strings.TrimSuffix(route, "/")] && !listed[route] {
				t.Errorf("%s %s is in no role-matrix list", method, route)
			}
		}
		return nil
	})
	roles := []string{"admin", "sales", "csm", "finance", "leadership"}
	for _, fr := range routes {
		t.Run(fr.pattern, func(t *testing.T) {
			for _, role := range roles {
				emp := e.emps[role]
				b := e.signInAs(emp)
				path, form := fr.setup(e, emp)
				before := e.auditBy(emp.ID)
				r := b.post(path, form)
				allowed := fr.action == "" || emp.Can(fr.action) == nil
				switch {
				case allowed && (r.status == http.StatusForbidden || r.status == http.StatusUnauthorized || strings.HasPrefix(r.location, "/login") && fr.pattern != "/logout"):
					t.Errorf("%s as %s: refused (%d to %q), want allowed: %.500s", path, role, r.status, r.location, r.body)
				case !allowed && r.status != http.StatusForbidden:
					t.Errorf("%s as %s: status %d, want 403", path, role, r.status)
				case !allowed && e.auditBy(emp.ID) != before:
					t.Errorf("%s as %s: refused but the audit log has a new entry by them", path, role)
				}
			}
			// A departed employee's open session is bounced.
			gone, _ := e.employee("gone", keel.RoleAdmin, keel.RoleSales, keel.RoleFinance)
			b := e.signInAs(gone)
			path, form := fr.setup(e, gone)
			if _, err := e.db.DeactivateEmployee(context.Background(), keel.System, gone.ID); err != nil {
				t.Fatal(err)
			}
			before := e.auditBy(gone.ID)
			if r := b.post(path, form); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
				t.Errorf("%s as departed: status %d to %q, want 303 to /login", path, r.status, r.location)
			}
			if n := e.auditBy(gone.ID); n != before {
				t.Errorf("%s as departed: %d new audit entries by them", path, n-before)
			}
			// No session at all.
			anon := newBrowser(t, e.url)
			anon.csrf = "x"
			if r := anon.post(path, form); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
				t.Errorf("%s signed out: status %d to %q, want 303 to /login", path, r.status, r.location)
			}
		})
	}
}

// auditBy counts the audit entries made by an employee.
func (e *apiEnv) auditBy(id int64) int {
	e.t.Helper()
	_, n, err := e.db.Audit(context.Background(), keel.AuditFilter{ActorID: id, Page: keel.Page{Limit: 1}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func decodeJSONMap(t *testing.T, name string, b []byte) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}
