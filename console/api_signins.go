package console

import (
	"net/http"

	"github.com/keelhq/keel"
)

// signInJSON is a recorded sign-in attempt as the API shows it.
type signInJSON struct {
	ID         int64  `json:"id"`
	At         string `json:"at"`
	LastAt     string `json:"last_at"`
	Email      string `json:"email"`
	Address    string `json:"address"`
	Via        string `json:"via"`
	Outcome    string `json:"outcome"`
	EmployeeID *int64 `json:"employee_id"` // null = no employee has the email
	WaitMS     int64  `json:"wait_ms"`
	Repeats    int    `json:"repeats"`
}

func toSignInJSON(a keel.SignInAttempt) signInJSON {
	out := signInJSON{ID: a.ID, At: stamp(a.At), LastAt: stamp(a.LastAt), Email: a.Email, Address: a.Address, Via: string(a.Via),
		Outcome: string(a.Outcome), WaitMS: a.Wait.Milliseconds(), Repeats: a.Repeats}
	if a.EmployeeID != 0 {
		id := a.EmployeeID
		out.EmployeeID = &id
	}
	return out
}

// handleSignIns lists sign-in attempts for the API, newest first.
func (s *server) handleSignIns() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "email", "address", "outcome", "employee", "limit", "offset")
		if err != nil {
			return err
		}
		f, err := parseSignInFilter(q)
		if err != nil {
			return err
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.signIns.SignInAttempts(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, toSignInJSON))
		return nil
	})
}
