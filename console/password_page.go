package console

import (
	"context"
	"net/http"
	"net/url"

	"github.com/keelhq/keel"
)

// PasswordStore is what an employee's own password page needs.
type PasswordStore interface {
	ChangePassword(ctx context.Context, by keel.Employee, current, next string) (keel.Employee, error)
}

// A session started with a one-time password (keel user add, an admin's
// reset) can do nothing but set the employee's own password, and sign
// out: oneTimeOnly is where signedIn lets it go.
var oneTimeOnly = map[string]bool{"/me/password": true, "/logout": true}

// mustSetPassword answers a request of a session started with a one-time
// password that is not for the password page: a page is sent there (and
// comes back after), anything else is refused.
func (s *server) mustSetPassword(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		target := "/me/password"
		if r.URL.Path != "/" {
			target += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	s.renderError(w, r, keel.Errorf(keel.EFORBIDDEN, "You signed in with a one-time password: set your own password first."))
}

type passwordData struct {
	OneTime bool
	Email   string
	Next    string
	Error   string
	MinLen  int
}

func (s *server) renderPassword(w http.ResponseWriter, r *http.Request, status int, next, errText string) {
	me := employeeFrom(r.Context())
	l := s.langOf(r)
	s.render(w, r, status, "password", page{Title: l.T("Your password"), Data: passwordData{
		OneTime: me.OneTimePassword, Email: me.Email, Next: next, Error: errText, MinLen: keel.MinPasswordLen,
	}})
}

func (s *server) handlePasswordPage() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.renderPassword(w, r, http.StatusOK, localPath(r.URL.Query().Get("next")), "")
	}
}

// handlePasswordChange sets the signed-in employee's own password, given
// the current one (the one-time one, on a first sign-in). The store ends
// every session of theirs; this browser gets a new one, so it stays
// signed in while any other (a stolen cookie, a forgotten laptop) does not.
func (s *server) handlePasswordChange() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		me := employeeFrom(ctx)
		l := s.langOf(r)
		next := localPath(r.PostFormValue("next"))
		current, fresh := r.PostFormValue("current_password"), r.PostFormValue("new_password")
		// The new password's refusals first: only an attempt that will
		// check the current password is recorded and throttled as one.
		var refusal error
		switch {
		case fresh != r.PostFormValue("new_password_again"):
			refusal = keel.Invalid("new_password_again", "does not match the new password")
		case fresh == current:
			refusal = keel.Invalid("new_password", "must differ from the current password")
		default:
			refusal = keel.ValidPassword("new_password", fresh, me.Email, me.Name)
		}
		if refusal != nil {
			s.renderPassword(w, r, http.StatusBadRequest, next, l.Refusal(refusal))
			return nil
		}
		// Proving the current password is a sign-in of its own: a session
		// someone else holds must not become a way to guess it.
		attempt, err := s.signIns.BeginSignIn(ctx, me.Email, s.clientAddr(r), keel.SignInPasswordChange)
		if err != nil {
			return err
		}
		if attempt.Wait > 0 {
			s.renderPassword(w, r, http.StatusTooManyRequests, next, s.throttled(w, l, attempt.Wait))
			return nil
		}
		_, err = s.passwords.ChangePassword(ctx, me, current, fresh)
		if keel.ErrorCode(err) == keel.EINTERNAL {
			return err // the attempt stays pending, which counts as a failure
		}
		outcome := keel.SignInSucceeded
		if err != nil {
			outcome = keel.SignInFailed
		}
		if err := s.signIns.EndSignIn(ctx, attempt.ID, outcome); err != nil {
			return err
		}
		if formRefused(err) {
			s.renderPassword(w, r, statusOf(keel.ErrorCode(err)), next, l.Refusal(err))
			return nil
		}
		if err != nil {
			return err
		}
		secret, expires, err := s.sessions.CreateSession(ctx, me.ID, s.SessionTTL)
		if err != nil {
			return err
		}
		s.setCookie(w, r, sessionCookie, secret, expires)
		s.redirect(w, r, next, l.T("Password changed. Your other sessions are signed out."))
		return nil
	})
}
