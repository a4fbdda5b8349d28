package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keelhq/keel"
)

// The browser tests drive the console in headless Chromium (Debian's
// package), as people use it: they type into forms and click, and fail on
// any script error or console error the page reports. Screenshots of the
// main pages are saved under $KEEL_ARTIFACTS/screenshots (make test sets
// it to .keel/artifacts), or the system's temporary directory.

// chromium is a headless Chromium with one tab, collecting script errors.
type chromium struct {
	t      *testing.T
	ctx    context.Context
	base   string
	mu     sync.Mutex
	errors []string
}

func newChromium(t *testing.T, base string) *chromium {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no Chromium: install Debian's chromium package (make test does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	c := &chromium{t: t, ctx: ctx, base: base}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			c.mu.Lock()
			c.errors = append(c.errors, "exception: "+ev.ExceptionDetails.Error())
			c.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				c.mu.Lock()
				c.errors = append(c.errors, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
				c.mu.Unlock()
			}
		}
	})
	// Start the browser now, so a missing or broken Chromium fails here.
	if err := chromedp.Run(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return c
}

// run performs browser actions, failing the test with what was being done.
func (c *chromium) run(what string, actions ...chromedp.Action) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var url string
		chromedp.Run(c.ctx, chromedp.Location(&url))
		c.t.Fatalf("%s (at %s): %v", what, url, err)
	}
}

// open navigates to a path of the console and waits for its main content.
func (c *chromium) open(path string) {
	c.t.Helper()
	c.run("open "+path, chromedp.Navigate(c.base+path), chromedp.WaitReady("main", chromedp.ByQuery))
}

// location is the path (and query) the browser is at.
func (c *chromium) location() string {
	c.t.Helper()
	var u string
	c.run("read location", chromedp.Location(&u))
	return strings.TrimPrefix(u, c.base)
}

// text is the visible text of the first element matching sel.
func (c *chromium) text(sel string) string {
	c.t.Helper()
	var s string
	c.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery, chromedp.NodeVisible))
	return s
}

// wantText fails unless the page's main content shows every text.
func (c *chromium) wantText(what string, texts ...string) {
	c.t.Helper()
	body := c.text("main")
	for _, s := range texts {
		if !strings.Contains(body, s) {
			c.t.Errorf("%s: the page (%s) does not show %q; it shows: %.1500s", what, c.location(), s, body)
		}
	}
}

// signIn fills and sends the sign-in form.
func (c *chromium) signIn(email, password string) {
	c.t.Helper()
	c.open("/login")
	c.run("sign in as "+email,
		chromedp.SendKeys(`input[name="email"]`, email, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, password, chromedp.ByQuery),
		chromedp.Click(`form[action="/login"] button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#sign-out`, chromedp.ByQuery),
	)
}

func (c *chromium) signOut() {
	c.t.Helper()
	c.run("sign out", chromedp.Click(`#sign-out`, chromedp.ByQuery), chromedp.WaitVisible(`input[name="email"]`, chromedp.ByQuery))
}

// screenshot saves the whole page as <name>.png among the artifacts.
func (c *chromium) screenshot(name string) {
	c.t.Helper()
	var png []byte
	c.run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
	dir := os.Getenv("KEEL_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "keel-artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot %s", p)
}

// scriptErrors returns and forgets the script errors seen so far.
func (c *chromium) scriptErrors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := c.errors
	c.errors = nil
	return errs
}

// chartDrawn reports whether the chart in sel has a canvas with pixels
// painted on it (not just an empty element).
func (c *chromium) chartDrawn(sel string) bool {
	c.t.Helper()
	var painted int
	js := fmt.Sprintf(`(function () {
  var canvas = document.querySelector(%q + " canvas");
  if (!canvas) return -1;
  var ctx = canvas.getContext("2d");
  var d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  var n = 0;
  for (var i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
  return n;
})()`, sel)
	c.run("inspect chart "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Sleep(300*time.Millisecond), chromedp.Evaluate(js, &painted))
	return painted > 1000
}

func TestBrowserSignIn(t *testing.T) {
	e := newAPI(t)
	c := newChromium(t, e.url)
	emp := e.emps["sales"]
	c.open("/")
	if loc := c.location(); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("signed out, / went to %s, want the sign-in page", loc)
	}
	c.screenshot("login")
	c.signIn(emp.Email, e.pws[emp.Email])
	c.wantText("home", emp.Name)
	c.screenshot("home")
	if errs := c.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors: %v", errs)
	}
}

// TestBrowserSignInStaysOnTheSite follows a link to the sign-in page whose
// "next" would take Chromium to another site once it drops the tab
// (/%09/evil.example/stolen is //evil.example/stolen to a browser): after
// signing in, the browser is on Keel's home page.
func TestBrowserSignInStaysOnTheSite(t *testing.T) {
	e := newAPI(t)
	c := newChromium(t, e.url)
	emp := e.emps["sales"]
	c.open("/login?next=/%09/evil.example/stolen")
	var at string
	c.run("sign in from a link elsewhere",
		chromedp.SendKeys(`input[name="email"]`, emp.Email, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="password"]`, e.pws[emp.Email], chromedp.ByQuery),
		chromedp.Click(`form[action="/login"] button[type="submit"]`, chromedp.ByQuery),
		chromedp.Sleep(500*time.Millisecond),
		chromedp.Location(&at),
	)
	if at != e.url+"/" {
		t.Fatalf("after signing in the browser is at %q, want %s/", at, e.url)
	}
	c.wantText("home", emp.Name)
}

// TestBrowserDailyWork is a day in the console, in a real browser: sales
// signs in, creates a customer and an order and submits it; finance signs
// in and approves it from the order page; the customer's page then shows
// the subscription and its activity charts drawn with data; the main pages
// render without a script error (screenshots of each, and of a phone-width
// screen); and a deactivated employee's open session is bounced.
func TestBrowserDailyWork(t *testing.T) {
	e := newAPI(t)
	sales, finance, admin := e.emps["sales"], e.emps["finance"], e.emps["admin"]
	tenant := "t-browser-" + uniq()
	productName := "Browser edition " + uniq()
	product := id(t, e.must(201, "admin", "POST", "/api/v1/products", map[string]any{"code": "br-" + uniq(), "name": productName, "kind": keel.KindEdition, "unit": "seat"}))
	e.must(201, "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", product),
		map[string]any{"amount": 4900, "currency": "USD", "period": "month", "effective_from": "2025-01-01"})
	// The tenant's users logged in over the last weeks: 3 a day lately.
	e.logins(tenant, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 20, 30)

	c := newChromium(t, e.url)
	c.signIn(sales.Email, e.pws[sales.Email])
	c.screenshot("home")

	// Create a customer.
	name := "Browser Customer " + uniq()
	c.open("/customers/new")
	c.run("fill the customer form",
		chromedp.SendKeys(`#customer-form input[name="name"]`, name, chromedp.ByQuery),
		chromedp.SendKeys(`#customer-form input[name="tenant_id"]`, tenant, chromedp.ByQuery),
		chromedp.SendKeys(`#customer-form input[name="industry"]`, "Logistics", chromedp.ByQuery),
		chromedp.Submit(`#customer-form input[name="name"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#customer-status`, chromedp.ByQuery),
	)
	customerPath := c.location()
	c.wantText("new customer", name, "Customer saved.", "Logistics")

	// Create and submit an order from the customer's page.
	c.run("new order", chromedp.Click(`a#new-order`, chromedp.ByQuery), chromedp.WaitVisible(`select[name="kind"]`, chromedp.ByQuery))
	c.run("fill the order",
		chromedp.SetValue(`select[name="kind"]`, "new", chromedp.ByQuery),
		chromedp.SetValue(`select[name="lines[0].product_id"]`, fmt.Sprint(product), chromedp.ByQuery),
		chromedp.SendKeys(`input[name="lines[0].quantity"]`, "5", chromedp.ByQuery),
		chromedp.SendKeys(`input[name="lines[0].months"]`, "12", chromedp.ByQuery),
		chromedp.Click(`#new-order button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`#submit-order`, chromedp.ByQuery),
	)
	orderPath := c.location()
	c.run("submit the order", chromedp.Click(`#submit-order button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#order-status.status-pending_approval`, chromedp.ByQuery))
	c.wantText("submitted order", name, "2,940.00") // 5 seats × 12 months × 49.00
	c.signOut()

	// Finance approves it.
	c.signIn(finance.Email, e.pws[finance.Email])
	c.open("/approvals?page=1")
	c.screenshot("approvals")
	c.open(orderPath)
	c.run("approve the order",
		chromedp.SendKeys(`#approve-order input[name="payment_ref"]`, "WIRE-2026-001", chromedp.ByQuery),
		chromedp.Click(`#approve-order button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#order-status.status-approved`, chromedp.ByQuery),
	)
	c.wantText("approved order", "WIRE-2026-001", productName)
	c.screenshot("order")
	c.signOut()

	// Sales sees the subscription and the activity on the customer's page.
	c.signIn(sales.Email, e.pws[sales.Email])
	c.open(customerPath)
	c.wantText("customer with a subscription", productName)
	var subs string
	c.run("read subscriptions", chromedp.Text(`#subscriptions`, &subs, chromedp.ByQuery))
	if !strings.Contains(subs, productName) || !strings.Contains(subs, "5") {
		t.Errorf("the customer's subscriptions show %q, want %s × 5", subs, productName)
	}
	if status := c.text("#customer-status"); status == "" || strings.Contains(strings.ToLower(status), "prospect") {
		t.Errorf("customer status %q after an approved order, want active", status)
	}
	if today := c.text("#activity-today"); today != "3" {
		t.Errorf("active users today = %q, want 3", today)
	}
	if !c.chartDrawn("#activity-chart") {
		t.Errorf("the customer's activity chart is not drawn")
	}
	c.screenshot("customer")
	c.open("/customers")
	c.screenshot("customers")
	c.open("/activity")
	if !c.chartDrawn("#totals-chart") {
		t.Errorf("the activity dashboard's chart is not drawn")
	}
	c.screenshot("activity")
	c.open("/review")
	c.screenshot("review")
	c.open("/orders")
	c.screenshot("orders")
	c.open("/products")
	c.screenshot("products")
	c.open("/tokens")
	c.wantText("tokens", "My API tokens")
	c.screenshot("tokens")

	// The same customer in Chinese, as the employee chooses.
	c.run("switch to Chinese", chromedp.Click(`form[action="/me/locale"] button`, chromedp.ByQuery), chromedp.WaitVisible(`.flash`, chromedp.ByQuery))
	c.open(customerPath)
	c.wantText("customer in Chinese", "订阅")
	c.screenshot("customer-zh")
	c.run("back to English", chromedp.Click(`form[action="/me/locale"] button`, chromedp.ByQuery), chromedp.WaitVisible(`.flash`, chromedp.ByQuery))

	// The same customer page on a phone: nothing wider than the screen.
	c.run("phone width", chromedp.EmulateViewport(390, 844))
	c.open(customerPath)
	var overflow bool
	c.run("measure", chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow))
	if overflow {
		t.Errorf("the customer page is wider than a 390 px phone screen")
	}
	c.screenshot("customer-phone")
	c.run("desktop width", chromedp.EmulateViewport(1280, 900))

	if errs := c.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors: %v", errs)
	}

	// An administrator, in another browser, deactivates sales; sales'
	// open session is bounced on its next page.
	a := newChromium(t, e.url)
	a.signIn(admin.Email, e.pws[admin.Email])
	a.open("/employees")
	a.screenshot("employees")
	a.open(fmt.Sprintf("/employees/%d", sales.ID))
	a.run("deactivate", chromedp.Click(`#deactivate button`, chromedp.ByQuery), chromedp.WaitVisible(`.flash`, chromedp.ByQuery))
	a.open("/audit")
	a.screenshot("audit")
	c.open(customerPath)
	if loc := c.location(); !strings.HasPrefix(loc, "/login") {
		t.Errorf("deactivated employee's session: at %s, want the sign-in page", loc)
	}
	if errs := append(c.scriptErrors(), a.scriptErrors()...); len(errs) > 0 {
		t.Errorf("script errors: %v", errs)
	}
}
