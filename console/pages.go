package console

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// baseFuncs are the template functions that do not depend on the request:
// among them, date shows a day of the records (stored as the date's
// midnight UTC), dayOf the reporting day of an instant and datetime an
// instant, both on cal. The request's own — t (translate), csrf (the
// form's hidden token field) and can (may the signed-in employee do an
// action) — are bound on a clone of the parsed page for each request
// (requestFuncs).
func baseFuncs(cal keel.Calendar) template.FuncMap {
	return template.FuncMap{
		"trendArrow": func(t keel.Trend) string {
			switch t {
			case keel.TrendUp:
				return "↑"
			case keel.TrendDown:
				return "↓"
			}
			return "→"
		},
		"money": keel.FormatAmount,
		"date": func(t any) string {
			switch t := t.(type) {
			case time.Time:
				if t.IsZero() {
					return ""
				}
				return t.UTC().Format("2006-01-02")
			case *time.Time:
				if t == nil || t.IsZero() {
					return ""
				}
				return t.UTC().Format("2006-01-02")
			}
			return fmt.Sprint(t)
		},
		"dayOf": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return cal.Day(t).Format(time.DateOnly)
		},
		"datetime": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(cal.Location()).Format("2006-01-02 15:04 MST")
		},
		"pct": func(f float64) string { return fmt.Sprintf("%+.0f%%", f*100) },
		// Placeholders, replaced per request.
		"t":    func(s string, args ...any) string { return s },
		"csrf": func() template.HTML { return "" },
		"can":  func(a string) bool { return false },
	}
}

// requestFuncs binds the request's language, form token and employee.
func (s *server) requestFuncs(r *http.Request) template.FuncMap {
	l := s.langOf(r)
	token := sessionFrom(r.Context()).csrf
	me := employeeFrom(r.Context())
	return template.FuncMap{
		"t": l.T,
		"csrf": func() template.HTML {
			return template.HTML(`<input type="hidden" name="` + csrfField + `" value="` + template.HTMLEscapeString(token) + `">`)
		},
		"can": func(a string) bool { return me.ID != 0 && me.Can(keel.Action(a)) == nil },
	}
}

// parsePages parses every page template together with the layout, once.
func parsePages(cal keel.Calendar) (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(baseFuncs(cal)).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}

// page is what every template receives.
type page struct {
	Title  string
	Nav    string        // which top-level section is current
	Me     keel.Employee // zero on the sign-in page
	Locale string
	Flash  string // a message from the request before, shown once
	Path   string // this page's path and query, to come back to
	Data   any
}

// langOf is the request's UI language: the signed-in employee's, else the
// browser's preference between the ones Keel speaks.
func (s *server) langOf(r *http.Request) lang {
	if me := employeeFrom(r.Context()); me.Locale != "" {
		return s.catalog.lang(me.Locale)
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.Split(part, ";")[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return s.catalog.lang("zh")
		case strings.HasPrefix(tag, "en"):
			return s.catalog.lang("en")
		}
	}
	return s.catalog.lang("")
}

// render writes a page, or an error page if rendering fails. Rendering goes
// to a buffer first so a template error never leaves half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	base, ok := s.pages[name]
	if !ok {
		s.renderError(w, r, fmt.Errorf("no page template %q", name))
		return
	}
	t, err := base.Clone()
	if err != nil {
		s.renderError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	t.Funcs(s.requestFuncs(r))
	p.Me = employeeFrom(r.Context())
	p.Locale = s.langOf(r).Locale
	p.Path = r.URL.RequestURI()
	if c, err := r.Cookie(flashCookie); err == nil {
		if msg, err := url.QueryUnescape(c.Value); err == nil {
			p.Flash = msg
		}
		s.setCookie(w, r, flashCookie, "", time.Time{})
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.renderError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// page makes a page handler of h, which answers the request itself when it
// succeeds and returns the error when it does not: renderError answers
// that, so every page fails the same way.
func (s *server) page(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.renderError(w, r, err)
		}
	}
}

// redirect answers a form that worked: back to a page (303, so a reload
// does not post again), with a message shown there once.
func (s *server) redirect(w http.ResponseWriter, r *http.Request, to, flash string) {
	if flash != "" {
		s.setCookie(w, r, flashCookie, url.QueryEscape(flash), s.Now().Add(time.Minute))
	}
	http.Redirect(w, r, localPath(to), http.StatusSeeOther)
}

// statusOf maps an error code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case keel.EINVALID:
		return http.StatusBadRequest
	case keel.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case keel.EFORBIDDEN:
		return http.StatusForbidden
	case keel.ENOTFOUND:
		return http.StatusNotFound
	case keel.ECONFLICT:
		return http.StatusConflict
	case keel.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case keel.ERATELIMIT:
		return http.StatusTooManyRequests
	case keel.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// renderError is the one place an error becomes a page. Only internal errors
// are logged; users see the message of a coded error, or a generic one.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	code := keel.ErrorCode(err)
	status := statusOf(code)
	if code == keel.EINTERNAL {
		s.Log.Error("console", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	l := s.langOf(r)
	msg := l.Refusal(err)
	base, ok := s.pages["error"]
	var buf bytes.Buffer
	if ok {
		t, cerr := base.Clone()
		if cerr == nil {
			t.Funcs(s.requestFuncs(r))
			p := page{Title: l.T(http.StatusText(status)), Me: employeeFrom(r.Context()), Locale: l.Locale, Data: msg}
			if t.ExecuteTemplate(&buf, "layout.html", p) == nil {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(status)
				buf.WriteTo(w)
				return
			}
		}
	}
	http.Error(w, msg, status)
}

// need lets a page request through only when the signed-in employee may
// do a; the refusal is a page saying so. The store checks again inside its
// transaction, which is what guarantees an unauthorised form changes
// nothing.
func (s *server) need(a keel.Action) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := employeeFrom(r.Context()).Can(a); err != nil {
				s.renderError(w, r, keel.Errorf(keel.EFORBIDDEN, "Your role does not allow this."))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// formRefused reports whether a form's error is the employee's to fix — bad
// input, a conflict with a change made meanwhile, files too large — so the
// form is shown again with the message and what was typed; other errors go
// to the error page.
func formRefused(err error) bool {
	switch keel.ErrorCode(err) {
	case keel.EINVALID, keel.ECONFLICT, keel.ETOOLARGE:
		return true
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

func withSession(ctx context.Context, s session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// location is the company's reporting timezone, in which days are cut.
func (s *server) location() *time.Location { return s.Calendar.Location() }

// now is the moment of the request on the reporting calendar.
func (s *server) now() keel.Moment { return s.Calendar.At(s.Now()) }

// day is today, the reporting day, as the records keep days.
func (s *server) day() time.Time { return s.now().Today() }

// today is the same day as the warehouse's activity queries take it.
func (s *server) today() warehouse.Day { return warehouse.DayOf(s.day(), time.UTC) }

// trendDays is the length of the login-trend window, for headings.
func (s *server) trendDays() int {
	rule := s.Settings.Trend
	if rule == (keel.TrendRule{}) {
		rule = keel.DefaultTrendRule
	}
	return rule.Days()
}

// clip shortens s to at most n runes, the last of them "…" when cut.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
