package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// sessionsOf counts employee id's sessions.
func (e *storeEnv) sessionsOf(t *testing.T, id int64) int {
	t.Helper()
	var n int
	if err := e.db.pool.QueryRow(e.ctx, `SELECT count(*) FROM sessions WHERE employee_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOneTimePasswords: the password AddEmployee makes is one-time until
// the employee changes it with it; ChangePassword needs the current one and
// a new one that passes the rules, and ends every session; an admin's
// reset makes a new one-time password and ends the sessions, but keeps
// the API tokens; a chosen password (provisioning) need not be changed.
// Every change is audited, without the password or its hash.
func TestOneTimePasswords(t *testing.T) {
	e := newStoreEnv(t)
	email := "otp-" + e.id + "@example.com"
	ann, first, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: email, Name: "Ann Otp", Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	if !ann.OneTimePassword {
		t.Errorf("a new employee's password is not one-time")
	}
	got, err := e.db.CheckPassword(e.ctx, email, first)
	if err != nil || !got.OneTimePassword {
		t.Fatalf("sign in with the one-time password: %+v, %v; want it, marked one-time", got, err)
	}
	session, _, err := e.db.CreateSession(e.ctx, ann.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := e.db.SessionEmployee(e.ctx, session); err != nil || !s.OneTimePassword {
		t.Errorf("the session's employee: %+v, %v; want the one-time mark", s, err)
	}
	token, err := e.db.CreateToken(e.ctx, e.admin, ann.ID, "laptop")
	if err != nil {
		t.Fatal(err)
	}

	before := e.counts(t)
	for _, c := range []struct {
		name, current, next, field string
	}{
		{"a wrong current password", first + "x", "tulip orbit canyon 42", "current_password"},
		{"a short new password", first, "short", "new_password"},
		{"a common new password", first, "Password1234!", "new_password"},
		{"the email as the password", first, strings.ToUpper(email), "new_password"},
		{"the same password", first, first, "new_password"},
	} {
		_, err := e.db.ChangePassword(e.ctx, ann, c.current, c.next)
		if keel.ErrorCode(err) != keel.EINVALID || keel.ErrorField(err) != c.field {
			t.Errorf("%s: %v, want invalid %s", c.name, err, c.field)
		}
	}
	e.unchanged(t, before)
	if e.sessionsOf(t, ann.ID) != 1 {
		t.Errorf("a refused change ended the session")
	}

	changed, err := e.db.ChangePassword(e.ctx, ann, first, "tulip orbit canyon 42")
	if err != nil || changed.OneTimePassword {
		t.Fatalf("change: %+v, %v", changed, err)
	}
	if _, err := e.db.CheckPassword(e.ctx, email, first); keel.ErrorCode(err) != keel.EUNAUTHORIZED {
		t.Errorf("the one-time password after the change: %v, want refused", err)
	}
	if got, err := e.db.CheckPassword(e.ctx, email, "tulip orbit canyon 42"); err != nil || got.OneTimePassword {
		t.Errorf("the new password: %+v, %v", got, err)
	}
	if e.sessionsOf(t, ann.ID) != 0 {
		t.Errorf("the change left the sessions open")
	}

	// An admin resets it: a new one-time password, sessions end, tokens stay.
	if _, _, err := e.db.CreateSession(e.ctx, ann.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	before = e.counts(t)
	_, err = e.db.ResetPassword(e.ctx, e.sales, ann.ID)
	wantCode(t, "sales resets a password", err, keel.EFORBIDDEN)
	_, err = e.db.ResetPassword(e.ctx, e.admin, e.admin.ID)
	wantCode(t, "an admin resets their own", err, keel.ECONFLICT)
	_, err = e.db.ResetPassword(e.ctx, e.admin, 1<<40)
	wantCode(t, "an unknown employee", err, keel.ENOTFOUND)
	err = e.db.SetPassword(e.ctx, e.admin, ann.ID, "qwertyuiop1234")
	wantCode(t, "a common chosen password", err, keel.EINVALID)
	e.unchanged(t, before)
	second, err := e.db.ResetPassword(e.ctx, e.admin, ann.ID)
	if err != nil || second == first || len(second) < keel.MinPasswordLen {
		t.Fatalf("reset: %q, %v", second, err)
	}
	if got, err := e.db.CheckPassword(e.ctx, email, second); err != nil || !got.OneTimePassword {
		t.Errorf("the reset password: %+v, %v; want one-time", got, err)
	}
	if _, err := e.db.CheckPassword(e.ctx, email, "tulip orbit canyon 42"); err == nil {
		t.Errorf("the password before the reset still works")
	}
	if e.sessionsOf(t, ann.ID) != 0 {
		t.Errorf("the reset left the sessions open")
	}
	if got, err := e.db.Authenticate(e.ctx, token); err != nil || got.ID != ann.ID {
		t.Errorf("the API token after a reset: %+v, %v; want it working", got, err)
	}

	// A chosen password need not be changed.
	if err := e.db.SetPassword(e.ctx, keel.System, ann.ID, "provisioned by a script 7"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.db.CheckPassword(e.ctx, email, "provisioned by a script 7"); err != nil || got.OneTimePassword {
		t.Errorf("a chosen password: %+v, %v; want it, not one-time", got, err)
	}
	bo, err := e.db.AddEmployeeWithPassword(e.ctx, e.admin, keel.Employee{Email: "bo-" + email, Name: "Bo", Roles: []keel.Role{keel.RoleCSM}}, "chosen for bo, 2026")
	if err != nil || bo.OneTimePassword {
		t.Fatalf("add with a password: %+v, %v", bo, err)
	}
	if got, err := e.db.CheckPassword(e.ctx, bo.Email, "chosen for bo, 2026"); err != nil || got.ID != bo.ID {
		t.Errorf("sign in with the chosen password: %+v, %v", got, err)
	}
	before = e.counts(t)
	_, err = e.db.AddEmployeeWithPassword(e.ctx, e.admin, keel.Employee{Email: "cy-" + email, Name: "Cy", Roles: []keel.Role{keel.RoleCSM}}, "letmein12345")
	wantCode(t, "add with a common password", err, keel.EINVALID)
	e.unchanged(t, before)

	// Departed: no reset.
	if _, err := e.db.DeactivateEmployee(e.ctx, e.admin, bo.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.db.ResetPassword(e.ctx, e.admin, bo.ID)
	wantCode(t, "resetting a departed employee's password", err, keel.ECONFLICT)

	if got := e.auditActions(t, "employee", ann.ID); strings.Join(got, ",") != "employee.add,employee.password,employee.password_reset,employee.password_reset" {
		t.Errorf("audit: %v", got)
	}
	entries, _, err := e.db.Audit(context.Background(), keel.AuditFilter{Entity: "employee", EntityID: ann.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		for _, raw := range []string{string(a.Before), string(a.After)} {
			for _, secret := range []string{first, second, "tulip orbit canyon 42", "provisioned by a script", "argon2"} {
				if strings.Contains(raw, secret) {
					t.Errorf("audit entry %s holds %q: %s", a.Action, secret, raw)
				}
			}
		}
	}
	if a := entries[1]; !strings.Contains(string(a.Before), `"OneTimePassword": false`) || !strings.Contains(string(a.After), `"OneTimePassword": true`) {
		t.Errorf("the reset's audit entry does not show the password becoming one-time: %s → %s", a.Before, a.After)
	}
}
