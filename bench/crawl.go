package bench

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The console as a browser sees it: signing in, reading pages, and
// crawling from / to find every page a role can reach.

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
