package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keelhq/keel"
)

// SessionStore is what sign-in and the pages' sessions need: passwords
// checked, sessions started, looked up and ended.
type SessionStore interface {
	CheckPassword(ctx context.Context, email, password string) (keel.Employee, error)
	CreateSession(ctx context.Context, employeeID int64, ttl time.Duration) (string, time.Time, error)
	SessionEmployee(ctx context.Context, secret string) (keel.Employee, error)
	DeleteSession(ctx context.Context, secret string) error
}

// Console pages are signed in with a server-side session: the browser
// keeps a random secret in an HttpOnly cookie, Postgres keeps its SHA-256
// and the employee, and every request looks the session up again — so a
// departed employee (whose sessions the deactivation deletes) is bounced
// on their next request.
const (
	sessionCookie = "keel_session"
	loginCSRFName = "keel_login_csrf"
	flashCookie   = "keel_flash"
	csrfField     = "csrf"

	// DefaultSessionTTL is how long a sign-in lasts: a working day.
	DefaultSessionTTL = 12 * time.Hour
)

type sessionKey struct{}

// session is the signed-in request's session: the secret its cookie holds
// and the CSRF token its forms must carry.
type session struct {
	secret string
	csrf   string
}

// csrfToken derives a session's form token from its secret: a page can
// carry it without revealing the secret (the cookie stays HttpOnly), and
// another site can neither read nor compute it.
func csrfToken(secret string) string {
	h := sha256.Sum256([]byte("keel csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secure reports whether cookies must carry the Secure flag: always when
// the console is configured so (behind TLS), and whenever the request came
// over TLS.
func (s *server) secure(r *http.Request) bool {
	return s.SecureCookies || r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// signedIn lets a page request through only with a live session of an
// active employee; anyone else is sent to the sign-in page, and comes back
// after signing in.
func (s *server) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessions == nil {
			s.renderError(w, r, errNoPostgres)
			return
		}
		ctx, ok, err := s.withSignIn(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if !ok {
			if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
				s.setCookie(w, r, sessionCookie, "", time.Time{}) // a session that ended
			}
			s.toLogin(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if employeeFrom(ctx).OneTimePassword && !oneTimeOnly[r.URL.Path] {
			s.mustSetPassword(w, r.WithContext(ctx))
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// maybeSignedIn is signedIn for a page anyone may reach (the page that is
// not there): with a live session the page is the signed-in one, with its
// navigation; without, it is shown all the same.
func (s *server) maybeSignedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessions != nil {
			if ctx, ok, err := s.withSignIn(r); err == nil && ok {
				w.Header().Set("Cache-Control", "no-store")
				r = r.WithContext(ctx)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// withSignIn returns the request's context with its employee and session
// when its cookie holds a live session of an active employee; ok is false
// when it does not, and err an internal failure to look it up.
func (s *server) withSignIn(r *http.Request) (ctx context.Context, ok bool, err error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false, nil
	}
	e, err := s.sessions.SessionEmployee(r.Context(), c.Value)
	if keel.ErrorCode(err) == keel.EINTERNAL {
		return nil, false, err
	}
	if err != nil {
		return nil, false, nil
	}
	ctx = context.WithValue(r.Context(), employeeKey{}, e)
	return context.WithValue(ctx, sessionKey{}, session{secret: c.Value, csrf: csrfToken(c.Value)}), true, nil
}

func sessionFrom(ctx context.Context) session {
	s, _ := ctx.Value(sessionKey{}).(session)
	return s
}

// toLogin sends the browser to the sign-in page, remembering where it was
// going when that was a page it can come back to.
func (s *server) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// maxLocalPath bounds a redirect target: the pages' own addresses are far
// shorter.
const maxLocalPath = 2000

// localPath returns next when it is a path on this site, and "/" otherwise:
// the one check of every redirect to a target a request names (the
// sign-in's and the language switch's "next", the forms' redirects), so
// that no link to Keel can send people elsewhere.
//
// It refuses rather than cleans. Browsers drop tabs and newlines anywhere
// in a URL, and control characters and spaces around it, and read "\" as
// "/": "/\t/evil.example" is "//evil.example", another site. So next must
// start with one "/" and hold nothing but printable characters other than
// "\", and so must its percent-decoded form, in case something on the way
// decodes it once more.
func localPath(next string) string {
	if len(next) > maxLocalPath || !sitePath(next) {
		return "/"
	}
	decoded, err := url.PathUnescape(next)
	if err != nil || !sitePath(decoded) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}

// sitePath reports whether p is an absolute path of this site as every
// browser reads it: it starts with one "/" and holds only printable
// characters (UTF-8, no controls, no line or paragraph separators) other
// than "\".
func sitePath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if r == '\\' || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// Form body limits: attachments travel in multipart forms.
const (
	maxFormBytes      = 1 << 20
	maxMultipartBytes = 8 << 20
)

// checkForm guards every state-changing page request: the body is bounded
// and parsed, the Origin (when the browser sends one) must be this site,
// and the form must carry the session's CSRF token.
func (s *server) checkForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if err := readForm(w, r); err != nil {
			s.renderError(w, r, err)
			return
		}
		want := sessionFrom(r.Context()).csrf
		got := r.PostFormValue(csrfField)
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			s.renderError(w, r, keel.Errorf(keel.EFORBIDDEN, "This form has expired or did not come from Keel. Go back, reload the page and try again."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errNoPostgres is the pages' answer when the console runs without a
// store.
var errNoPostgres = keel.Errorf(keel.EUNAVAILABLE, "The console is not available: it runs without Postgres.")

// readForm reads a posted form: from this site (sameOrigin), within the
// limits (parseForm).
func readForm(w http.ResponseWriter, r *http.Request) error {
	if err := sameOrigin(r); err != nil {
		return err
	}
	return parseForm(w, r)
}

// parseForm reads a form body within the limits.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, maxMultipartBytes)
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return formError(err)
		}
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return formError(err)
	}
	return nil
}

func formError(err error) error {
	if strings.Contains(err.Error(), "too large") {
		return keel.Errorf(keel.ETOOLARGE, "The form is too large (at most %d MiB with attachments).", maxMultipartBytes>>20)
	}
	return keel.Errorf(keel.EINVALID, "The form could not be read: %v", err)
}

// sameOrigin refuses a request whose Origin header names another site.
// Browsers send Origin on cross-site form posts, so this stops them even
// before the CSRF token is checked.
func sameOrigin(r *http.Request) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Host != r.Host {
		return keel.Errorf(keel.EFORBIDDEN, "This form was sent from another site (%s) and was refused.", o)
	}
	return nil
}
