package console

import (
	"crypto/subtle"
	"math"
	"net/http"
	"net/url"
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

// handleLogin checks the email and password, then starts a session.
// Every failure says the same thing; repeated failures are throttled.
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
		now, addr := s.Now(), clientAddr(r)
		if d := s.throttle.wait(f.Email, addr, now); d > 0 {
			w.Header().Set("Retry-After", itoa(int(math.Ceil(d.Seconds()))))
			f.Error = l.T("Too many failed sign-ins. Try again in %d minutes.", int(math.Ceil(d.Minutes())))
			s.renderLogin(w, r, http.StatusTooManyRequests, f)
			return
		}
		e, err := s.sessions.CheckPassword(r.Context(), f.Email, r.PostFormValue("password"))
		if err != nil {
			if keel.ErrorCode(err) == keel.EINTERNAL {
				s.renderError(w, r, err)
				return
			}
			s.throttle.fail(f.Email, addr, now)
			f.Error = l.T("Wrong email or password.")
			s.renderLogin(w, r, http.StatusUnauthorized, f)
			return
		}
		s.throttle.succeed(f.Email)
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
