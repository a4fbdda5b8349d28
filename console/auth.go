package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/keelhq/keel"
)

// TokenStore is what the API's authentication needs: the employee of a
// personal API token.
type TokenStore interface {
	Authenticate(ctx context.Context, token string) (keel.Employee, error)
}

type employeeKey struct{}

// employeeFrom returns the employee a request was authenticated as.
func employeeFrom(ctx context.Context) keel.Employee {
	e, _ := ctx.Value(employeeKey{}).(keel.Employee)
	return e
}

// authenticate lets a request through when it carries a personal API token
// of an active employee ("Authorization: Bearer keel_api_…"). The token is
// looked up on every request, not cached, so a departed employee's token
// is refused from the request after the deactivation.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tokens == nil {
			s.apiError(w, r, keel.Errorf(keel.EUNAVAILABLE, "the API is not available: this console runs without Postgres"))
			return
		}
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			s.apiError(w, r, keel.FieldErrorf(keel.EUNAUTHORIZED, "Authorization", "send the header Authorization: Bearer <personal API token> (keel token create)"))
			return
		}
		e, err := s.tokens.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if keel.ErrorCode(err) == keel.EINTERNAL {
				s.apiError(w, r, err)
				return
			}
			// Never say why a token is refused: unknown, revoked and
			// departed look the same from outside.
			s.apiError(w, r, keel.FieldErrorf(keel.EUNAUTHORIZED, "Authorization", "the API token is not valid"))
			return
		}
		if e.Status != keel.EmployeeActive {
			s.apiError(w, r, keel.FieldErrorf(keel.EUNAUTHORIZED, "Authorization", "the API token is not valid"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), employeeKey{}, e)))
	})
}

// require lets a request through only when its employee may do a. The
// store checks the role again inside its transaction; checking here as well
// refuses the call before its body is even read.
func (s *server) require(a keel.Action) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := employeeFrom(r.Context()).Can(a); err != nil {
				s.apiError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
