package console

import (
	"context"
	"crypto/subtle"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

type loginForm struct {
	Email string
	Next  string
	Error string
}

// handleLoginForm shows the sign-in form. Before there is a session, the
// form's CSRF token is a random value also kept in a cookie (double
// submit), so a sign-in cannot be forged from another site either.
func (s *server) handleLoginForm() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil && s.sessions != nil {
			if _, err := s.sessions.SessionEmployee(r.Context(), c.Value); err == nil {
				http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
				return
			}
		}
		s.renderLogin(w, r, http.StatusOK, loginForm{Next: localPath(r.URL.Query().Get("next"))})
	}
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, f loginForm) {
	token := ""
	if c, err := r.Cookie(loginCSRFName); err == nil && len(c.Value) == 43 {
		token = c.Value
	} else {
		token = randomToken()
		s.setCookie(w, r, loginCSRFName, token, s.Now().Add(24*time.Hour))
	}
	ctx := r.Context()
	r = r.WithContext(withSession(ctx, session{csrf: token}))
	l := s.langOf(r)
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, status, "login", page{Title: l.T("Sign in"), Data: f})
}

// SignInStore keeps the sign-in attempts the throttle decides on
// (keel.SignInHistory), and lists them for admin.
type SignInStore interface {
	BeginSignIn(ctx context.Context, email, address string, via keel.SignInVia) (keel.SignInAttempt, error)
	EndSignIn(ctx context.Context, id int64, outcome keel.SignInOutcome) error
	SignInAttempts(ctx context.Context, f keel.SignInFilter) ([]keel.SignInAttempt, int, error)
}

// handleLogin checks the email and password, then starts a session.
// Every failure says the same thing. Each attempt is recorded and
// throttled per email and client address (keel.SignInHistory): a
// throttled attempt's password is not even checked.
func (s *server) handleLogin() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.sessions == nil {
			s.renderError(w, r, errNoPostgres)
			return
		}
		if err := readForm(w, r); err != nil {
			s.renderError(w, r, err)
			return
		}
		l := s.langOf(r)
		f := loginForm{Email: r.PostFormValue("email"), Next: localPath(r.PostFormValue("next"))}
		c, err := r.Cookie(loginCSRFName)
		if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
			f.Error = l.T("The sign-in form expired. Please try again.")
			s.renderLogin(w, r, http.StatusForbidden, f)
			return
		}
		attempt, err := s.signIns.BeginSignIn(r.Context(), f.Email, s.clientAddr(r), keel.SignInForm)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if attempt.Wait > 0 {
			f.Error = s.throttled(w, l, attempt.Wait)
			s.renderLogin(w, r, http.StatusTooManyRequests, f)
			return
		}
		e, err := s.sessions.CheckPassword(r.Context(), f.Email, r.PostFormValue("password"))
		if keel.ErrorCode(err) == keel.EINTERNAL {
			s.renderError(w, r, err) // the attempt stays pending, which counts as a failure
			return
		}
		outcome := keel.SignInSucceeded
		if err != nil {
			outcome = keel.SignInFailed
		}
		if err := s.signIns.EndSignIn(r.Context(), attempt.ID, outcome); err != nil {
			s.renderError(w, r, err)
			return
		}
		if outcome == keel.SignInFailed {
			f.Error = l.T("Wrong email or password.")
			s.renderLogin(w, r, http.StatusUnauthorized, f)
			return
		}
		secret, expires, err := s.sessions.CreateSession(r.Context(), e.ID, s.SessionTTL)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		s.setCookie(w, r, sessionCookie, secret, expires)
		s.setCookie(w, r, loginCSRFName, "", time.Time{})
		if e.OneTimePassword { // the session can only set the employee's own password
			http.Redirect(w, r, "/me/password?next="+url.QueryEscape(f.Next), http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, f.Next, http.StatusSeeOther)
	}
}

// throttled sets Retry-After for a throttled attempt and returns what to
// tell the person: how long to wait, in seconds or minutes.
func (s *server) throttled(w http.ResponseWriter, l lang, wait time.Duration) string {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", itoa(secs))
	if secs < 120 {
		return l.T("Too many failed sign-ins from here. Try again in %d seconds.", secs)
	}
	return l.T("Too many failed sign-ins from here. Try again in %d minutes.", int(math.Ceil(wait.Minutes())))
}

// clientAddr is the address a request comes from, as the throttle and the
// record of sign-ins see it: the connection's, unless that is a trusted
// proxy (Deps.TrustedProxies). Then X-Forwarded-For is read from the
// right, the hop nearest to the console first — each proxy appends the
// address it was reached from — and the first address that is not a
// trusted proxy is the client's; anything left of it, which the client
// could have written, is ignored. A hop that is not an address ends the
// walk at the last trusted hop.
func (s *server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap().WithZone("")
	if !s.trustedProxy(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		peer = hop.Unmap().WithZone("")
		if !s.trustedProxy(peer) {
			break
		}
	}
	return peer.String()
}

func (s *server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// handleLogout ends the session here and in Postgres.
func (s *server) handleLogout() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.sessions.DeleteSession(r.Context(), sessionFrom(r.Context()).secret); err != nil {
			return err
		}
		s.setCookie(w, r, sessionCookie, "", time.Time{})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	})
}

// handleLocale sets the signed-in employee's UI language.
func (s *server) handleLocale() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		me := employeeFrom(r.Context())
		e, err := s.employees.SetEmployeeLocale(r.Context(), me, me.ID, r.PostFormValue("locale"))
		if err != nil {
			return err
		}
		back := localPath(r.PostFormValue("next"))
		s.redirect(w, r, back, s.catalog.lang(e.Locale).T("Language changed."))
		return nil
	})
}
