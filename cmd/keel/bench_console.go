package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/keelhq/keel/demo"
)

// `keel bench console` measures every console page's latency beside a
// running keel dev, as DESIGN.md's target reads it: every page p95 < 300 ms
// with demo data. The pages are found by crawling as each demo role, so a
// page added to the console is measured without touching the bench.

const benchConsoleUsage = "usage: keel bench console [--console URL] [--requests N] [--per-pattern K] [--concurrency C] [--target D] [--json] (beside a running keel dev)"

type benchConsoleFlags struct {
	console     string
	roles       string
	perPattern  int
	requests    int
	concurrency int
	maxPages    int
	target      time.Duration
	everyRole   bool
	json        bool

	// transport is shared by every client (each sign-in measured has a
	// client of its own, and must not leave a connection behind).
	transport http.RoundTripper
}

func runBenchConsole(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f benchConsoleFlags
	fs := newFlagSet("bench console", stderr)
	fs.StringVar(&f.console, "console", env.Get(envConsoleURL, "http://127.0.0.1:8080"), "console URL ($"+envConsoleURL+")")
	fs.StringVar(&f.roles, "roles", "admin,sales1,csm1,finance,ceo", "demo employees to sign in as (the part of their email before @), in order: a page is measured as the first that reaches it")
	fs.IntVar(&f.perPattern, "per-pattern", 5, "distinct URLs kept per route pattern")
	fs.IntVar(&f.requests, "requests", 40, "timed requests per pattern, spread over its URLs")
	fs.IntVar(&f.concurrency, "concurrency", 1, "requests in flight")
	fs.IntVar(&f.maxPages, "max-pages", 1000, "pages crawled at most per role")
	fs.DurationVar(&f.target, "target", 300*time.Millisecond, "p95 every page must stay under")
	fs.BoolVar(&f.everyRole, "every-role", false, "measure each pattern as every role that reaches it, not only the first")
	fs.BoolVar(&f.json, "json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.perPattern <= 0 || f.requests <= 0 || f.concurrency <= 0 || f.maxPages <= 0 || f.target <= 0 {
		return errors.New("bench console: --per-pattern, --requests, --concurrency, --max-pages and --target must be positive")
	}
	base, err := url.Parse(strings.TrimRight(f.console, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("bench console: --console %q is not an http(s) URL", f.console)
	}
	staff, err := benchStaff(f.roles)
	if err != nil {
		return err
	}
	f.transport = &http.Transport{MaxIdleConnsPerHost: f.concurrency * 2, IdleConnTimeout: time.Minute}
	return f.run(ctx, base, staff, stdout, stderr)
}

// benchStaff picks the demo employees named by their email's local part.
func benchStaff(roles string) ([]demo.StaffPlan, error) {
	var out []demo.StaffPlan
	for _, name := range strings.Split(roles, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(demo.Staff, func(s demo.StaffPlan) bool { return strings.HasPrefix(s.Email, name+"@") })
		if i < 0 {
			return nil, fmt.Errorf("bench console: --roles: %q is not a demo employee", name)
		}
		out = append(out, demo.Staff[i])
	}
	if len(out) == 0 {
		return nil, errors.New("bench console: --roles names no one")
	}
	return out, nil
}

// consoleTarget is one thing to measure: a page pattern as one role, or the
// sign-in itself.
type consoleTarget struct {
	Pattern string
	Role    string
	URLs    []string // paths with their query
	// prepare does the untimed part of a request to u (if any) and returns
	// the part the clock runs around, which answers the status.
	prepare func(ctx context.Context, u string) (func() (int, error), error)
	want    int
}

// pageTarget measures GET requests of c.
func pageTarget(c *http.Client, base *url.URL, pattern, role string, urls []string) *consoleTarget {
	return &consoleTarget{Pattern: pattern, Role: role, URLs: urls, want: http.StatusOK,
		prepare: func(ctx context.Context, u string) (func() (int, error), error) {
			return func() (int, error) { return getPage(ctx, c, base, u) }, nil
		}}
}

// consoleResult is one row of the report.
type consoleResult struct {
	Pattern  string         `json:"pattern"`
	Role     string         `json:"role"`
	URLs     []string       `json:"urls"`
	Requests int            `json:"requests"`
	P50      float64        `json:"p50_ms"`
	P95      float64        `json:"p95_ms"`
	Max      float64        `json:"max_ms"`
	Status   map[string]int `json:"status"`
	Want     int            `json:"want_status"`
	Bad      bool           `json:"bad_status"` // answered anything but Want
	Slow     bool           `json:"slow"`       // p95 at or over the target
}

type consoleReport struct {
	Console     string          `json:"console"`
	Requests    int             `json:"requests_per_pattern"`
	Concurrency int             `json:"concurrency"`
	PerPattern  int             `json:"per_pattern"`
	TargetMS    float64         `json:"target_p95_ms"`
	Pages       []consoleResult `json:"pages"`
	SlowestP95  float64         `json:"slowest_p95_ms"`
	Slowest     string          `json:"slowest"`
	MetTarget   bool            `json:"met_target"`
	BadStatus   int             `json:"pages_with_bad_status"`
}

func (f *benchConsoleFlags) run(ctx context.Context, base *url.URL, staff []demo.StaffPlan, stdout, stderr io.Writer) error {
	var targets []*consoleTarget
	seen := map[string]bool{} // patterns measured already, when one role suffices
	for _, s := range staff {
		role := strings.SplitN(s.Email, "@", 2)[0]
		c := f.newClient()
		if err := signIn(ctx, c, base, s.Email, demo.StaffPassword); err != nil {
			return fmt.Errorf("bench console: sign in as %s (is keel dev running at %s, with its demo data?): %w", s.Email, base, err)
		}
		start := time.Now()
		groups, order, pages, err := crawl(ctx, c, base, f.perPattern, f.maxPages)
		if err != nil {
			return fmt.Errorf("bench console: crawl as %s: %w", s.Email, err)
		}
		fmt.Fprintf(stderr, "bench: %s: crawled %d pages in %s, %d patterns\n", s.Email, pages, time.Since(start).Round(time.Millisecond), len(order))
		for _, p := range order {
			if seen[p] && !f.everyRole {
				continue
			}
			seen[p] = true
			targets = append(targets, pageTarget(c, base, p, role, groups[p]))
		}
	}
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].Pattern < targets[j].Pattern })
	targets = append(f.loginTargets(base, staff[0]), targets...)

	rep := consoleReport{Console: base.String(), Requests: f.requests, Concurrency: f.concurrency, PerPattern: f.perPattern,
		TargetMS: ms(f.target), MetTarget: true}
	bar := newProgress(stderr, "bench: measuring", len(targets))
	for i, t := range targets {
		res, err := f.measure(ctx, t)
		if err != nil {
			bar.finish()
			return fmt.Errorf("bench console: %s as %s: %w", t.Pattern, t.Role, err)
		}
		rep.Pages = append(rep.Pages, res)
		bar.update(i+1, fmt.Sprintf("%d of %d patterns", i+1, len(targets)))
	}
	bar.finish()
	rep.summarize(f.target)
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(stdout)
	}
	if rep.BadStatus > 0 {
		return fmt.Errorf("bench console: %d of %d pages answered with an unexpected status", rep.BadStatus, len(rep.Pages))
	}
	return nil
}

// newClient returns a client with a cookie jar of its own: one session.
func (f *benchConsoleFlags) newClient() *http.Client {
	t := f.transport
	if t == nil {
		t = http.DefaultTransport
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Timeout:   time.Minute,
		Transport: t,
		// A redirect is the page's answer, reported as such: following it
		// would time two pages as one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// loginTargets are the sign-in page and the sign-in itself, measured
// without a session, as they are used. The POST checks an argon2 hash on
// purpose, so it is slower than a page.
func (f *benchConsoleFlags) loginTargets(base *url.URL, s demo.StaffPlan) []*consoleTarget {
	form := pageTarget(f.newClient(), base, "/login", "-", []string{"/login"})
	post := &consoleTarget{Pattern: "POST /login", Role: strings.SplitN(s.Email, "@", 2)[0], URLs: []string{"/login"}, want: http.StatusSeeOther,
		// Each sign-in needs a form token, fetched untimed, and leaves a
		// session cookie that would make the next GET /login redirect:
		// every one starts with an empty jar.
		prepare: func(ctx context.Context, u string) (func() (int, error), error) {
			c := f.newClient()
			tok, err := loginToken(ctx, c, base)
			if err != nil {
				return nil, err
			}
			return func() (int, error) { return postLogin(ctx, c, base, s.Email, demo.StaffPassword, tok) }, nil
		}}
	return []*consoleTarget{form, post}
}

// measure sends one untimed request to each URL, then the timed ones,
// round robin over the URLs, with the configured concurrency.
func (f *benchConsoleFlags) measure(ctx context.Context, t *consoleTarget) (consoleResult, error) {
	for _, u := range t.URLs {
		do, err := t.prepare(ctx, u)
		if err == nil {
			_, err = do()
		}
		if err != nil {
			return consoleResult{}, err
		}
	}
	times := make([]time.Duration, f.requests)
	codes := make([]int, f.requests)
	next := make(chan int)
	errc := make(chan error, f.concurrency)
	var wg sync.WaitGroup
	for w := 0; w < f.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				do, err := t.prepare(ctx, t.URLs[i%len(t.URLs)])
				if err != nil {
					errc <- err
					return
				}
				start := time.Now()
				code, err := do()
				times[i] = time.Since(start)
				if err != nil {
					errc <- err
					return
				}
				codes[i] = code
			}
		}()
	}
	var err error
feed:
	for i := range f.requests {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errc) > 0 {
		err = <-errc
	}
	if err != nil {
		return consoleResult{}, err
	}
	res := consoleResult{Pattern: t.Pattern, Role: t.Role, URLs: t.URLs, Requests: f.requests, Status: map[string]int{}, Want: t.want,
		P50: ms(percentile(times, 50)), P95: ms(percentile(times, 95)), Max: ms(slices.Max(times))}
	for _, c := range codes {
		res.Status[fmt.Sprint(c)]++
		if c != t.want {
			res.Bad = true
		}
	}
	return res, nil
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of ds: the
// smallest value that at least p% of them do not exceed. It is a value
// that was actually observed; 0 for no values.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

func (r *consoleReport) summarize(target time.Duration) {
	for i := range r.Pages {
		p := &r.Pages[i]
		// The sign-in hashes a password on purpose; it is reported, but the
		// page target is for pages.
		p.Slow = p.P95 >= ms(target) && p.Pattern != "POST /login"
		if p.Slow {
			r.MetTarget = false
		}
		if p.Bad {
			r.BadStatus++
		}
		if p.Pattern != "POST /login" && p.P95 > r.SlowestP95 {
			r.SlowestP95, r.Slowest = p.P95, p.Pattern+" as "+p.Role
		}
	}
}

func (r *consoleReport) print(w io.Writer) {
	fmt.Fprintf(w, "keel bench console  %s  %d requests per pattern, %d in flight, ≤ %d URLs per pattern\n\n",
		r.Console, r.Requests, r.Concurrency, r.PerPattern)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATTERN\tROLE\tURLS\tREQUESTS\tP50\tP95\tMAX\tSTATUS\t")
	for _, p := range r.Pages {
		var flags []string
		if p.Slow {
			flags = append(flags, fmt.Sprintf("SLOW (p95 ≥ %.0f ms)", r.TargetMS))
		}
		if p.Bad {
			flags = append(flags, fmt.Sprintf("! not %d", p.Want))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f ms\t%.1f ms\t%.1f ms\t%s\t%s\n",
			p.Pattern, p.Role, len(p.URLs), p.Requests, p.P50, p.P95, p.Max, statusSummary(p.Status), strings.Join(flags, "  "))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nslowest p95: %.1f ms (%s)\n", r.SlowestP95, r.Slowest)
	if r.MetTarget {
		fmt.Fprintf(w, "every page met the target: p95 < %.0f ms\n", r.TargetMS)
	} else {
		n := 0
		for _, p := range r.Pages {
			if p.Slow {
				n++
			}
		}
		fmt.Fprintf(w, "%d of %d pages missed the target p95 < %.0f ms\n", n, len(r.Pages), r.TargetMS)
	}
	if r.BadStatus > 0 {
		fmt.Fprintf(w, "%d pages answered with an unexpected status (marked !)\n", r.BadStatus)
	}
}

// statusSummary writes status counts as "200×38 500×2".
func statusSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// signIn signs c in as a browser would: the form first, for its token.
func signIn(ctx context.Context, c *http.Client, base *url.URL, email, password string) error {
	tok, err := loginToken(ctx, c, base)
	if err != nil {
		return err
	}
	code, err := postLogin(ctx, c, base, email, password, tok)
	if err != nil {
		return err
	}
	if code != http.StatusSeeOther {
		return fmt.Errorf("POST /login answered %d, want 303", code)
	}
	return nil
}

var csrfInput = regexp.MustCompile(`<input[^>]*\bname="csrf"[^>]*\bvalue="([^"]*)"|<input[^>]*\bvalue="([^"]*)"[^>]*\bname="csrf"`)

// loginToken fetches the sign-in form and returns its CSRF token; the
// matching cookie lands in c's jar.
func loginToken(ctx context.Context, c *http.Client, base *url.URL) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String()+"/login", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /login answered %s", resp.Status)
	}
	m := csrfInput.FindSubmatch(b)
	if m == nil {
		return "", errors.New("the sign-in form has no csrf field")
	}
	return html.UnescapeString(string(m[1]) + string(m[2])), nil
}

func postLogin(ctx context.Context, c *http.Client, base *url.URL, email, password, token string) (int, error) {
	form := url.Values{"email": {email}, "password": {password}, "csrf": {token}, "next": {"/"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// getPage reads a whole page and returns its status.
func getPage(ctx context.Context, c *http.Client, base *url.URL, u string) (int, error) {
	resp, err := fetchPage(ctx, c, base, u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func fetchPage(ctx context.Context, c *http.Client, base *url.URL, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String()+u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/html")
	return c.Do(req)
}

// crawl walks the console breadth first from /, following same-site links,
// and returns up to perPattern URLs of each route pattern, the patterns in
// the order found, and how many pages it read. A pattern that is full is
// not crawled further, so a list of 200 customers costs 5 page reads.
func crawl(ctx context.Context, c *http.Client, base *url.URL, perPattern, maxPages int) (map[string][]string, []string, int, error) {
	groups := map[string][]string{}
	var order []string
	queued := map[string]bool{"/": true}
	perQueued := map[string]int{"/": 1} // URLs queued of each pattern
	queue := []string{"/"}
	pages := 0
	for len(queue) > 0 && pages < maxPages {
		if err := ctx.Err(); err != nil {
			return nil, nil, pages, err
		}
		u := queue[0]
		queue = queue[1:]
		resp, err := fetchPage(ctx, c, base, u)
		if err != nil {
			return nil, nil, pages, err
		}
		pages++
		var body []byte
		isHTML := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html")
		if isHTML {
			body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		}
		resp.Body.Close()
		if err != nil {
			return nil, nil, pages, fmt.Errorf("GET %s: %w", u, err)
		}
		redirect := resp.StatusCode >= 300 && resp.StatusCode < 400
		loc, hasLoc := sameSite(base, u, resp.Header.Get("Location"))
		if redirect && hasLoc && (loc == "/login" || strings.HasPrefix(loc, "/login?")) {
			return nil, nil, pages, fmt.Errorf("GET %s sent the bench to sign in again: the session was lost", u)
		}
		// A page that failed is kept whatever it answered, to be reported.
		if !isHTML && resp.StatusCode < 300 {
			continue // a download or an API answer, not a page
		}
		p := pattern(u)
		if len(groups[p]) == 0 {
			order = append(order, p)
		}
		groups[p] = append(groups[p], u)

		var links []string
		if redirect {
			if hasLoc {
				links = []string{loc}
			}
		} else {
			links = extractLinks(base, u, body)
		}
		for _, l := range links {
			if queued[l] || skipLink(l) {
				continue
			}
			lp := pattern(l)
			if perQueued[lp] >= perPattern {
				continue
			}
			perQueued[lp]++
			queued[l] = true
			queue = append(queue, l)
		}
	}
	return groups, order, pages, nil
}

// skipLink reports whether a link is no page to measure: static files, the
// JSON API, the sign-out, and attachment downloads.
func skipLink(u string) bool {
	path, _, _ := strings.Cut(u, "?")
	return strings.HasPrefix(path, "/static/") || path == "/api" || strings.HasPrefix(path, "/api/") ||
		path == "/logout" || strings.HasPrefix(path, "/logout/") || isAttachment(path) ||
		path == "/login"
}

// isAttachment reports whether path is one attachment (a download), as
// opposed to a page listing them.
func isAttachment(path string) bool {
	_, rest, ok := strings.Cut(path, "/attachments/")
	return ok && strings.Trim(rest, "/") != ""
}

var (
	anchorTag = regexp.MustCompile(`(?is)<a\s[^>]*>`)
	hrefAttr  = regexp.MustCompile(`(?is)\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)
	downloadA = regexp.MustCompile(`(?is)\sdownload(?:[\s=>/]|$)`)
)

// extractLinks returns the same-site links of the <a href> tags of a page
// at path from, as paths with their query, in page order, each once.
// Links marked download are files, not pages.
func extractLinks(base *url.URL, from string, page []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, tag := range anchorTag.FindAll(page, -1) {
		m := hrefAttr.FindSubmatch(tag)
		if m == nil || downloadA.Match(tag) {
			continue
		}
		href := html.UnescapeString(string(m[1]) + string(m[2]) + string(m[3]))
		if l, ok := sameSite(base, from, href); ok && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// sameSite resolves href against the page at path from and returns it as
// a path with its query (no fragment) when it is on the console's site.
func sameSite(base *url.URL, from, href string) (string, bool) {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return "", false
	}
	ref, err := url.Parse(href)
	if err != nil {
		return "", false
	}
	page, err := base.Parse(from)
	if err != nil {
		return "", false
	}
	abs := page.ResolveReference(ref)
	if abs.Scheme != base.Scheme || abs.Host != base.Host {
		return "", false
	}
	abs.Fragment, abs.RawFragment = "", ""
	out := abs.EscapedPath()
	if out == "" {
		out = "/"
	}
	if abs.RawQuery != "" {
		out += "?" + abs.RawQuery
	}
	return out, true
}

// pattern names the route a URL (a path with its query) is an instance
// of: numeric segments become {id}, the tenant of /activity/tenants/… is
// {tenant}, and of the query only the keys count, sorted:
// /customers/42?status=active&page=2 → /customers/{id}?page&status.
func pattern(u string) string {
	path, query, _ := strings.Cut(u, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch {
		case s == "":
		case i == 3 && segs[1] == "activity" && segs[2] == "tenants":
			segs[i] = "{tenant}"
		case strings.Trim(s, "0123456789") == "":
			segs[i] = "{id}"
		}
	}
	p := strings.Join(segs, "/")
	var keys []string
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if k, err := url.QueryUnescape(k); err == nil && k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		sort.Strings(keys)
		p += "?" + strings.Join(keys, "&")
	}
	return p
}
