package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// The security page shows admin every recorded sign-in attempt — failed,
// throttled, succeeded — with when, which email, from which address, and
// the employee the email is (keel.SignInAttempt), filtered by email,
// address, employee and outcome.

func signInOutcomeLabel(l lang, o keel.SignInOutcome) string {
	switch o {
	case keel.SignInFailed:
		return l.T("Wrong password")
	case keel.SignInThrottled:
		return l.T("Throttled")
	case keel.SignInSucceeded:
		return l.T("Signed in")
	}
	return l.T("Unfinished")
}

func signInViaLabel(l lang, v keel.SignInVia) string {
	if v == keel.SignInPasswordChange {
		return l.T("Password change")
	}
	return l.T("Sign-in form")
}

// signInRow is an attempt as the page shows it.
type signInRow struct {
	keel.SignInAttempt
	Employee     string // the employee's name; "" = no employee has the email
	OutcomeLabel string
	ViaLabel     string
	WaitSeconds  int
}

type securityData struct {
	Filter   struct{ Email, Address, Outcome, Employee string }
	Outcomes []option
	Rows     []signInRow
	Pager    pager
	Error    string
	// The throttle's numbers, for the page to say what it does.
	Free, Ceiling           int
	FirstDelay, MaxDelay    string
	EmailWindow, MaxSpacing string
}

// parseSignInFilter reads the security page's and the API's filter.
func parseSignInFilter(q url.Values) (keel.SignInFilter, error) {
	f := keel.SignInFilter{Email: q.Get("email"), Address: q.Get("address")}
	if len(f.Email) > 254 {
		return f, keel.Invalid("email", "at most %d characters", 254)
	}
	if len(f.Address) > 64 {
		return f, keel.Invalid("address", "at most %d characters", 64)
	}
	var err error
	if f.Outcome, err = queryEnum(q, "outcome", keel.SignInOutcomes); err != nil {
		return f, err
	}
	f.EmployeeID, err = queryID(q, "employee")
	return f, err
}

// handleSecurityPage lists sign-in attempts, newest first.
func (s *server) handleSecurityPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		q := r.URL.Query()
		d := securityData{Free: keel.SignInFreeFailures, Ceiling: keel.SignInEmailCeiling,
			FirstDelay: keel.SignInFirstDelay.String(), MaxDelay: keel.SignInMaxDelay.String(),
			EmailWindow: keel.SignInEmailWindow.String(), MaxSpacing: keel.SignInMaxSpacing.String()}
		d.Filter.Email, d.Filter.Address, d.Filter.Outcome, d.Filter.Employee = q.Get("email"), q.Get("address"), q.Get("outcome"), q.Get("employee")
		d.Outcomes = options(l, keel.SignInOutcomes, signInOutcomeLabel, d.Filter.Outcome)
		status := http.StatusOK
		f, err := parseSignInFilter(q)
		if err == nil {
			f.Page, err = pageOf(r)
		}
		if keel.ErrorCode(err) == keel.EINVALID {
			d.Error, status = l.Refusal(err), http.StatusBadRequest
		} else if err != nil {
			return err
		} else {
			attempts, total, err := s.signIns.SignInAttempts(r.Context(), f)
			if err != nil {
				return err
			}
			emps, err := s.employees.Employees(r.Context())
			if err != nil {
				return err
			}
			names := employeeNames(emps)
			for _, a := range attempts {
				row := signInRow{SignInAttempt: a, OutcomeLabel: signInOutcomeLabel(l, a.Outcome), ViaLabel: signInViaLabel(l, a.Via),
					WaitSeconds: int((a.Wait + time.Second - 1) / time.Second)}
				if a.EmployeeID != 0 {
					row.Employee = names.of(a.EmployeeID)
				}
				d.Rows = append(d.Rows, row)
			}
			d.Pager = pagerOf(r, f.Page, total)
		}
		s.render(w, r, status, "security", page{Title: l.T("Security"), Nav: "security", Data: d})
		return nil
	})
}

// securityLink is the security page of one employee's attempts.
func securityLink(id int64) string { return "/security?employee=" + strconv.FormatInt(id, 10) }
