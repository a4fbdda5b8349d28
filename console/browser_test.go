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
