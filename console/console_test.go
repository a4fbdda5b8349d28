package console_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/devstack/teststack"
)

func TestMain(m *testing.M) { teststack.Main(m) }

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestStaticAssetsAreServedFromTheBinary(t *testing.T) {
	e := newAPI(t)
	for _, p := range []string{"/static/echarts.min.js", "/static/charts.js", "/static/style.css"} {
		status, _, body := get(t, e.url+p)
		if status != 200 || len(body) == 0 {
			t.Errorf("%s: %d, %d bytes", p, status, len(body))
		}
	}
}

func TestPagesNeedASignIn(t *testing.T) {
	e := newAPI(t)
	b := newBrowser(t, e.url)
	r := b.get("/customers?status=active")
	if r.status != http.StatusSeeOther || r.location != "/login?next="+url.QueryEscape("/customers?status=active") {
		t.Fatalf("signed out: status %d to %q, want 303 to the sign-in page", r.status, r.location)
	}
	wantPage(t, "sign-in page", b.get(r.location), http.StatusOK, `name="email"`, `name="password"`, `name="csrf"`, `value="/customers?status=active"`)
	// After signing in, the browser goes back where it was going.
	emp := e.emps["sales"]
	r = b.post("/login", url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}, "next": {"/customers?status=active"}})
	if r.status != http.StatusSeeOther || r.location != "/customers?status=active" {
		t.Fatalf("sign in: status %d to %q: %s", r.status, r.location, r.body)
	}
	wantPage(t, "home", b.get("/"), http.StatusOK, emp.Name)
}

func TestSignInRefusals(t *testing.T) {
	e := newAPI(t)
	emp := e.emps["finance"]
	b := newBrowser(t, e.url)
	b.get("/login")
	tests := []struct {
		name   string
		form   url.Values
		status int
		text   string
	}{
		{"wrong password", url.Values{"email": {emp.Email}, "password": {"not the password"}}, 401, "Wrong email or password."},
		{"unknown email", url.Values{"email": {"nobody@example.com"}, "password": {"whatever-password"}}, 401, "Wrong email or password."},
		{"departed", url.Values{"email": {e.emps["departed"].Email}, "password": {e.pws[e.emps["departed"].Email]}}, 401, "Wrong email or password."},
		{"no CSRF token", url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}, "csrf": {""}}, 403, "The sign-in form expired."},
		{"forged CSRF token", url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}, "csrf": {strings.Repeat("A", 43)}}, 403, "The sign-in form expired."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post("/login", tt.form)
			wantPage(t, tt.name, r, tt.status, tt.text)
			if b.get("/").status != http.StatusSeeOther {
				t.Errorf("%s: signed in after all", tt.name)
			}
		})
	}
	t.Run("from another site", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/login", strings.NewReader(url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}, "csrf": {b.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		if r := b.do(req); r.status != http.StatusForbidden {
			t.Errorf("cross-site sign-in: status %d, want 403", r.status)
		}
	})
}

// elsewhere are "next" targets that would send a browser to another site
// (TestLocalPath has the whole list).
var elsewhere = []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "/\t/evil.example/stolen",
	"/\n/evil.example", "/\x0b/evil.example", " //evil.example", "/%09/evil.example", "%2F%2Fevil.example", "javascript:alert(1)"}

// TestSignInStaysOnTheSite sends every way to a page elsewhere through
// each place that redirects to a target the request names: the sign-in
// form (shown, and with a live session), the sign-in and the language
// switch. Each goes to / instead.
func TestSignInStaysOnTheSite(t *testing.T) {
	e := newAPI(t)
	emp := e.emps["finance"]
	signedIn := e.signIn("csm")
	for _, next := range elsewhere {
		c := newBrowser(t, e.url)
		form := c.get("/login?next=" + url.QueryEscape(next))
		wantPage(t, "sign-in form", form, http.StatusOK, `name="next" value="/"`)
		r := c.post("/login", url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}, "next": {next}})
		if r.status != http.StatusSeeOther || r.location != "/" {
			t.Errorf("POST /login next=%q: status %d to %q, want 303 to /", next, r.status, r.location)
		}
		if r := signedIn.get("/login?next=" + url.QueryEscape(next)); r.status != http.StatusSeeOther || r.location != "/" {
			t.Errorf("GET /login next=%q signed in: status %d to %q, want 303 to /", next, r.status, r.location)
		}
		signedIn.get("/")
		if r := signedIn.post("/me/locale", url.Values{"locale": {"en"}, "next": {next}}); r.status != http.StatusSeeOther || r.location != "/" {
			t.Errorf("POST /me/locale next=%q: status %d to %q, want 303 to /", next, r.status, r.location)
		}
	}
	// A path of this site is kept.
	c := newBrowser(t, e.url)
	c.get("/login?next=" + url.QueryEscape("/customers?status=active"))
	if r := c.post("/login", url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}, "next": {"/customers?status=active"}}); r.location != "/customers?status=active" {
		t.Errorf("next=/customers?status=active: to %q", r.location)
	}
}

// clock is a settable time for the console and its store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) tick(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// postFrom sends a form as b from client address addr, behind the proxy
// (the test's own loopback) the console trusts.
func (b *browser) postFrom(addr, path string, form url.Values) pageResp {
	b.t.Helper()
	form = maps.Clone(form)
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", addr)
	return b.do(req)
}

// behindProxy makes the console trust the tests' loopback as its proxy.
func behindProxy(d *console.Deps) {
	d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

// TestSignInThrottleKeepsTheOwnerIn: a guesser failing for an email from
// one address is made to wait, longer each time — with the right password
// too — while the employee signs in from their own address at once, and
// colleagues behind the guesser's address sign in as usual even after it
// tried twenty emails. The waits run on the test's clock. Every attempt is
// recorded with its address, for admin's page and the API, and the
// throttle holds for a second console process on the same Postgres.
func TestSignInThrottleKeepsTheOwnerIn(t *testing.T) {
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	e := newAPIOn(t, teststack.Get(t).Postgres.URL(), c.now, keel.UTC, behindProxy)
	owner, _ := e.employee("owner", keel.RoleFinance)
	colleague, _ := e.employee("colleague", keel.RoleSales)
	wrong := url.Values{"email": {owner.Email}, "password": {"guess number one"}}
	right := func(emp keel.Employee) url.Values {
		return url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}}
	}
	guesser := newBrowser(t, e.url)
	guesser.get("/login")
	const there, home = "198.51.100.66", "203.0.113.10"

	for i := 0; i < keel.SignInFreeFailures; i++ {
		wantPage(t, "a guess", guesser.postFrom(there, "/login", wrong), http.StatusUnauthorized, "Wrong email or password.")
	}
	r := guesser.postFrom(there, "/login", wrong)
	wantPage(t, "a guess after three", r, http.StatusTooManyRequests, "Too many failed sign-ins from here. Try again in 5 seconds.")
	wantPage(t, "the right password from there", guesser.postFrom(there, "/login", right(owner)), http.StatusTooManyRequests)
	c.tick(5 * time.Second)
	wantPage(t, "a guess after the wait", guesser.postFrom(there, "/login", wrong), http.StatusUnauthorized)
	wantPage(t, "and again", guesser.postFrom(there, "/login", wrong), http.StatusTooManyRequests, "Try again in 10 seconds.")
	c.tick(10 * time.Second)
	wantPage(t, "the fifth guess", guesser.postFrom(there, "/login", wrong), http.StatusUnauthorized)

	// Five failures: the owner, at their own address, signs in at once.
	ob := newBrowser(t, e.url)
	ob.get("/login")
	if r := ob.postFrom(home, "/login", right(owner)); r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("the owner after five guesses elsewhere: %d to %q: %.500s", r.status, r.location, r.body)
	}
	// The guesser tries twenty other emails from the same address; a
	// colleague behind that address signs in.
	for i := 0; i < 20; i++ {
		guesser.postFrom(there, "/login", url.Values{"email": {fmt.Sprintf("someone-%d-%s@example.com", i, uniq())}, "password": {"guess"}})
	}
	cb := newBrowser(t, e.url)
	cb.get("/login")
	if r := cb.postFrom(there, "/login", right(colleague)); r.status != http.StatusSeeOther {
		t.Fatalf("a colleague behind the guesser's address: %d: %.500s", r.status, r.body)
	}

	// A second console on the same Postgres throttles the same.
	h2, err := console.NewServer(console.Deps{Store: e.db, Names: e.db, Warehouse: e.wh, Now: c.now, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	g2 := newBrowser(t, srv2.URL)
	g2.get("/login")
	wantPage(t, "the guesser at another console", g2.postFrom(there, "/login", wrong), http.StatusTooManyRequests, "Try again in 20 seconds.")

	// Admin reads them: the page and the API.
	admin := e.signIn("admin")
	page := admin.get("/security?email=" + url.QueryEscape(owner.Email))
	wantPage(t, "security page", page, http.StatusOK, there, home, "Wrong password", "Throttled", "Signed in", owner.Name, "told to wait")
	list := e.must(200, "admin", "GET", "/api/v1/sign-ins?email="+url.QueryEscape(owner.Email)+"&address="+there, nil)
	counts := map[string]int{}
	for _, it := range list["items"].([]any) {
		m := it.(map[string]any)
		counts[m["outcome"].(string)]++
		if m["address"] != there || m["employee_id"] != float64(owner.ID) {
			t.Errorf("API attempt %v", m)
		}
	}
	if counts["failed"] != 5 || counts["throttled"] != 3 || counts["succeeded"] != 0 {
		t.Errorf("the guesser's attempts through the API: %v, want 5 failed, 3 throttled", counts)
	}
	for _, caller := range []string{"sales", "finance", "none"} {
		if r := e.call(caller, "GET", "/api/v1/sign-ins", nil); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
			t.Errorf("sign-ins as %s: %d", caller, r.status)
		}
	}
	wantPage(t, "security page as sales", e.signIn("sales").get("/security"), http.StatusForbidden)
	if r := e.call("admin", "GET", "/api/v1/sign-ins?outcome=maybe", nil); r.status != http.StatusBadRequest {
		t.Errorf("a bad outcome: %d", r.status)
	}
}

func TestSessionCookie(t *testing.T) {
	e := newAPI(t)
	b := newBrowser(t, e.url)
	b.get("/login")
	emp := e.emps["csm"]
	req, _ := http.NewRequest(http.MethodPost, e.url+"/login", strings.NewReader(url.Values{"email": {emp.Email}, "password": {e.pws[emp.Email]}, "csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Behind a TLS proxy, the cookie is Secure.
	req.Header.Set("X-Forwarded-Proto", "https")
	for _, c := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "keel_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no session cookie; status %d", res.StatusCode)
	}
	if !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/", session)
	}
	if len(session.Value) < 43 {
		t.Errorf("session secret of %d characters, want 256 bits", len(session.Value))
	}
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	e := newAPI(t)
	b := e.signIn("sales")
	other := e.signIn("csm")
	for _, token := range []string{"", "x", other.csrf} {
		r := b.post("/me/locale", url.Values{"locale": {"zh"}, "csrf": {token}})
		wantPage(t, "locale with a bad token", r, http.StatusForbidden, "This form has expired")
	}
	if emp, _ := e.db.Employee(context.Background(), e.emps["sales"].ID); emp.Locale != "en" {
		t.Errorf("locale changed to %q by a form without the token", emp.Locale)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	e := newAPI(t)
	b := e.signIn("leadership")
	old := b.c.Jar.Cookies(mustURL(t, e.url))
	r := b.post("/logout", nil)
	if r.status != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("sign out: %d to %q", r.status, r.location)
	}
	// The old cookie, kept by someone, opens nothing any more.
	c := newBrowser(t, e.url)
	c.c.Jar.SetCookies(mustURL(t, e.url), old)
	if r := c.get("/"); r.status != http.StatusSeeOther {
		t.Errorf("old session after sign-out: status %d, want 303", r.status)
	}
}

func TestDepartedEmployeeIsBouncedAtOnce(t *testing.T) {
	e := newAPI(t)
	emp, _ := e.employee("leaving", keel.RoleSales)
	b := e.signInAs(emp)
	wantPage(t, "before", b.get("/customers"), http.StatusOK)
	if _, err := e.db.DeactivateEmployee(context.Background(), keel.System, emp.ID); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/customers"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Errorf("after deactivation: status %d to %q, want 303 to /login", r.status, r.location)
	}
}

func TestLanguageIsChosenPerEmployee(t *testing.T) {
	e := newAPI(t)
	b := e.signIn("csm")
	wantPage(t, "English home", b.get("/"), http.StatusOK, ">Customers<", "Sign out")
	r := b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("set locale: %d: %s", r.status, r.body)
	}
	wantPage(t, "Chinese home", b.get("/"), http.StatusOK, ">客户<", "退出登录", `lang="zh-CN"`, "语言已切换。")
	// Another employee still sees English.
	wantPage(t, "someone else", e.signIn("sales").get("/"), http.StatusOK, ">Customers<")
	if r := b.post("/me/locale", url.Values{"locale": {"fr"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "locale") {
		t.Errorf("unsupported locale: status %d, want 400 naming locale", r.status)
	}
}

// zhCatalogue is every Chinese translation of locales/*.zh.json.
func zhCatalogue(t *testing.T) map[string]string {
	t.Helper()
	zh := map[string]string{}
	files, _ := filepath.Glob("locales/*.zh.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range decodeJSONMap(t, f, b) {
			zh[k] = v
		}
	}
	return zh
}

// TestEveryTextIsTranslated finds every English text the templates pass
// to t and the handlers to l.T, and fails for one without a Chinese
// translation.
func TestEveryTextIsTranslated(t *testing.T) {
	zh := zhCatalogue(t)
	patterns := map[string]*regexp.Regexp{
		"templates/*.html": regexp.MustCompile(`\(?\bt "((?:[^"\\]|\\.)*)"`),
		"*.go":             regexp.MustCompile(`\bl\.T\("((?:[^"\\]|\\.)*)"`),
	}
	seen := 0
	for glob, re := range patterns {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				seen++
				text := strings.ReplaceAll(m[1], `\"`, `"`)
				if zh[text] == "" {
					t.Errorf("%s: %q has no Chinese translation in locales/*.zh.json", f, text)
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d texts to translate; the patterns no longer match the code", seen)
	}
}

// refusalSources are the Go files whose refusals a page can show: the
// domain, the stores, the warehouse's checks of what the pages ask and the
// console itself. (postgres/outbox.go and the warehouse's loaders write no
// refusal a reader meets.)
var refusalSources = []string{"../*.go", "../postgres/*.go", "../warehouse/activity.go", "../warehouse/overview.go", "*.go"}

// refusalKeys finds the message key of every refusal made in the files
// of globs: the literal key of each keel.Errorf, keel.Invalid and
// keel.FieldErrorf call (and the Key of a keel.Error literal), by file. A
// key that is not a literal is reported, so none escapes the check; one
// passed on from another refusal (e.Key) is the other's.
func refusalKeys(t *testing.T, globs ...string) map[string][]string {
	t.Helper()
	keyArg := map[string]int{"Errorf": 1, "Invalid": 1, "FieldErrorf": 2}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "outbox.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			inRoot := file.Name.Name == "keel"
			ast.Inspect(file, func(n ast.Node) bool {
				var key ast.Expr
				switch n := n.(type) {
				case *ast.CallExpr:
					var name string
					switch fn := n.Fun.(type) {
					case *ast.SelectorExpr:
						if x, ok := fn.X.(*ast.Ident); ok && x.Name == "keel" {
							name = fn.Sel.Name
						}
					case *ast.Ident:
						if inRoot {
							name = fn.Name
						}
					}
					i, ok := keyArg[name]
					if !ok || len(n.Args) <= i {
						return true
					}
					key = n.Args[i]
				case *ast.KeyValueExpr:
					// A keel.Error literal with its key (the constructors,
					// which pass a parameter on, are not refusals).
					if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Key" && inRoot {
						if _, param := n.Value.(*ast.Ident); !param {
							key = n.Value
						}
					}
				}
				if key == nil {
					return true
				}
				if sel, ok := key.(*ast.SelectorExpr); ok && sel.Sel.Name == "Key" {
					return true
				}
				lit, ok := key.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: a refusal's key is not a literal string, so no test can see that it is translated", fset.Position(key.Pos()))
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[s] = append(out[s], fset.Position(lit.Pos()).String())
				return true
			})
		}
	}
	return out
}

// TestEveryRefusalIsTranslated fails for a refusal of the domain, the
// stores or the console whose message key has no Chinese translation, or
// whose translation does not take the key's arguments in order.
func TestEveryRefusalIsTranslated(t *testing.T) {
	zh := zhCatalogue(t)
	keys := refusalKeys(t, refusalSources...)
	if len(keys) < 100 {
		t.Fatalf("found only %d refusal keys; the search no longer matches the code", len(keys))
	}
	for key, at := range keys {
		tr, ok := zh[key]
		if !ok || tr == "" {
			t.Errorf("%s: %q has no Chinese translation in locales/*.zh.json", at[0], key)
			continue
		}
		if got, want := fmtArgs(tr), fmtArgs(key); got != want {
			t.Errorf("%q: the translation takes the arguments %s, want %s", key, got, want)
		}
	}
}

var fmtVerb = regexp.MustCompile(`%(?:\[(\d+)\])?[-+# 0-9.]*([a-zA-Z%])`)

// fmtArgs says which verb formats each argument of format, in argument
// order ("1:d 2:s"), so a translation that reorders them with %[n]s reads
// the same as its key.
func fmtArgs(format string) string {
	byArg := map[int]string{}
	n := 0
	for _, m := range fmtVerb.FindAllStringSubmatch(format, -1) {
		if m[2] == "%" {
			continue
		}
		if m[1] != "" {
			n, _ = strconv.Atoi(m[1])
		} else {
			n++
		}
		byArg[n] = m[2]
	}
	parts := make([]string, 0, len(byArg))
	for i := 1; i <= len(byArg); i++ {
		parts = append(parts, fmt.Sprintf("%d:%s", i, byArg[i]))
	}
	return strings.Join(parts, " ")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestNotFoundInChinese: a page or record that is not there is shown in
// the console's frame, with the signed-in navigation, in the reader's
// language; signed out, the page says so without the navigation.
func TestNotFoundInChinese(t *testing.T) {
	e := newAPI(t)
	b := e.signIn("sales")
	if r := b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}}); r.status != http.StatusSeeOther {
		t.Fatalf("switch to Chinese: %d", r.status)
	}
	nav := []string{`lang="zh-CN"`, `<nav aria-label="栏目">`, `href="/customers"`, ">订单<", "退出登录", e.emps["sales"].Name}
	for _, tt := range []struct{ path, text string }{
		{"/nowhere/at-all", "/nowhere/at-all 没有页面。"},
		{"/customers/999999999", "客户 999999999 不存在"},
		{"/customers/abc", "客户 abc 不存在"},
		{"/orders/999999999", "订单 999999999 不存在"},
		{"/products/999999999", "产品 999999999 不存在"},
		{"/orders?customer=999999999", "客户 999999999 不存在"},
	} {
		r := b.get(tt.path)
		wantPage(t, tt.path, r, http.StatusNotFound, append([]string{"<title>未找到 · Keel</title>", tt.text}, nav...)...)
		for _, en := range []string{"not found", "There is no page", "Sign out"} {
			if strings.Contains(r.body, en) {
				t.Errorf("%s shows %q", tt.path, en)
			}
		}
	}
	r := newBrowser(t, e.url).get("/nowhere/at-all")
	wantPage(t, "signed out", r, http.StatusNotFound, "There is no page at /nowhere/at-all.")
	if strings.Contains(r.body, "<nav") || strings.Contains(r.body, "Sign out") {
		t.Errorf("the signed-out 404 page shows the navigation")
	}
}

// TestPasswordChangeIsThrottled: the current password given to change it
// is a sign-in attempt of its own, recorded and throttled like one, so a
// session someone else holds is no way to guess it.
func TestPasswordChangeIsThrottled(t *testing.T) {
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	e := newAPIOn(t, teststack.Get(t).Postgres.URL(), c.now, keel.UTC)
	emp, _ := e.employee("changer", keel.RoleCSM)
	b := e.signInAs(emp)
	b.get("/me/password")
	next := "a brand new password " + uniq()
	guess := url.Values{"current_password": {"is it this one"}, "new_password": {next}, "new_password_again": {next}}
	for i := 0; i < keel.SignInFreeFailures; i++ {
		wantPage(t, "a wrong current password", b.post("/me/password", maps.Clone(guess)), http.StatusBadRequest, "current_password: is not your current password")
	}
	wantPage(t, "one more", b.post("/me/password", maps.Clone(guess)), http.StatusTooManyRequests, "Try again in 5 seconds.")
	right := url.Values{"current_password": {e.pws[emp.Email]}, "new_password": {next}, "new_password_again": {next}}
	wantPage(t, "the right one while throttled", b.post("/me/password", maps.Clone(right)), http.StatusTooManyRequests)
	c.tick(5 * time.Second)
	if r := b.post("/me/password", maps.Clone(right)); r.status != http.StatusSeeOther {
		t.Fatalf("the right one after the wait: %d: %.500s", r.status, r.body)
	}
	list := e.must(200, "admin", "GET", "/api/v1/sign-ins?employee="+fmt.Sprint(emp.ID), nil)
	var got []string
	for _, it := range list["items"].([]any) {
		m := it.(map[string]any)
		got = append(got, m["via"].(string)+":"+m["outcome"].(string))
	}
	want := "password-change:succeeded password-change:throttled password-change:failed password-change:failed password-change:failed sign-in:succeeded"
	if strings.Join(got, " ") != want {
		t.Errorf("attempts: %s\nwant %s", strings.Join(got, " "), want)
	}
}

// TestSecurityHeaders: every answer — the sign-in page, a signed-in page,
// the API, a static file, a page that is not there — carries the headers
// that keep the browser from sniffing types, framing the console, leaking
// its URLs to other sites and running script from anywhere else; pages of
// a session and API answers are not cached.
func TestSecurityHeaders(t *testing.T) {
	e := newAPI(t)
	b := e.signIn("sales")
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:",
	}
	check := func(what string, h http.Header, noStore bool) {
		t.Helper()
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", what, k, got, v)
			}
		}
		if noStore && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, h.Get("Cache-Control"))
		}
	}
	for _, p := range []string{"/", "/customers", "/me/password", "/no-such-page"} {
		req, _ := http.NewRequest(http.MethodGet, e.url+p, nil)
		for _, c := range b.c.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		check("GET "+p, res.Header, true)
	}
	_, h, _ := get(t, e.url+"/login")
	check("GET /login", h, true)
	_, h, _ = get(t, e.url+"/static/style.css")
	check("GET /static/style.css", h, false)
	check("GET /api/v1/me", e.call("sales", "GET", "/api/v1/me", nil).header, true)
}
