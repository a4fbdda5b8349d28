package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/keelhq/keel"
)

// parsePages parses every page template together with the layout, once.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"trendArrow": func(t keel.Trend) string {
			switch t {
			case keel.TrendUp:
				return "↑"
			case keel.TrendDown:
				return "↓"
			}
			return "→"
		},
	}
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
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}

// page is what every template receives.
type page struct {
	Title string
	Nav   string
	Data  any
}

// render writes a page, or an error page if rendering fails. Rendering goes
// to a buffer first so a template error never leaves half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := s.pages[name]
	if !ok {
		s.renderError(w, r, fmt.Errorf("no page template %q", name))
		return
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
	msg := keel.ErrorMessage(err)
	t, ok := s.pages["error"]
	var buf bytes.Buffer
	if !ok || t.ExecuteTemplate(&buf, "layout.html", page{Title: http.StatusText(status), Data: msg}) != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}
