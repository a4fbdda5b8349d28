package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
)

// TestUserAndTokenCommands walks an employee's life through the CLI: added
// with roles, given an API token that works, deactivated — and the token
// stops working at once.
func TestUserAndTokenCommands(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, env[envPG])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	out, errOut, err := runKeel(t, env, "user", "add", "--email", "Ada@Example.com", "--name", "Ada Lovelace", "--role", "admin,sales", "--role", "finance")
	if err != nil {
		t.Fatalf("user add: %v (%s)", err, errOut)
	}
	password := strings.TrimSpace(out)
	if len(password) < 12 || strings.ContainsAny(password, " \n") {
		t.Fatalf("user add printed %q, want one password", out)
	}
	if !strings.Contains(errOut, "Ada@Example.com") || !strings.Contains(errOut, "admin,sales,finance") {
		t.Errorf("user add told %q, want the email and roles", errOut)
	}
	e, err := db.CheckPassword(ctx, "ada@example.com", password)
	if err != nil {
		t.Fatalf("the printed password does not sign in: %v", err)
	}
	if e.Name != "Ada Lovelace" || len(e.Roles) != 3 || !e.Has(keel.RoleAdmin) || !e.Has(keel.RoleSales) || !e.Has(keel.RoleFinance) {
		t.Errorf("added %+v, want Ada with admin, sales and finance", e)
	}

	out, _, err = runKeel(t, env, "token", "create", "--email", "ada@example.com", "--name", "laptop")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, postgres.TokenPrefix) || strings.Contains(token, "\n") {
		t.Fatalf("token create printed %q, want one keel_api_ token", out)
	}
	if got, err := db.Authenticate(ctx, token); err != nil || got.ID != e.ID {
		t.Fatalf("the token authenticates as %+v, %v; want Ada", got, err)
	}
	// The ingest keys beside it still work as before.
	if out, _, err := runKeel(t, env, "token", "ingest", "billing-app"); err != nil || !strings.HasPrefix(out, "keel_ingest_") {
		t.Errorf("token ingest: %q, %v", out, err)
	}

	// Another admin first: the last active admin cannot be deactivated.
	if _, _, err := runKeel(t, env, "user", "add", "--email", "grace@example.com", "--name", "Grace Hopper", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	out, _, err = runKeel(t, env, "user", "deactivate", "--email", "ada@example.com")
	if err != nil {
		t.Fatalf("user deactivate: %v", err)
	}
	if !strings.Contains(out, "departed") {
		t.Errorf("user deactivate printed %q", out)
	}
	if _, err := db.Authenticate(ctx, token); keel.ErrorCode(err) != keel.EUNAUTHORIZED {
		t.Errorf("a departed employee's token: %v, want unauthorized", err)
	}
	if _, err := db.CheckPassword(ctx, "ada@example.com", password); keel.ErrorCode(err) != keel.EUNAUTHORIZED {
		t.Errorf("a departed employee's password: %v, want unauthorized", err)
	}
	if _, _, err := runKeel(t, env, "token", "create", "--email", "ada@example.com"); err == nil || !strings.Contains(err.Error(), "departed") {
		t.Errorf("token for a departed employee: %v, want refused", err)
	}
	audit, _, err := db.Audit(ctx, keel.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		if a.Actor != keel.System.Email {
			t.Errorf("audit entry %s by %q, want the CLI as system", a.Action, a.Actor)
		}
		actions = append(actions, a.Action)
	}
	if got := strings.Join(actions, " "); got != "employee.deactivate employee.add ingest_key.create token.create employee.add" {
		t.Errorf("audit log %q, want the add, the token, the ingest key, the second admin and the deactivation", got)
	}
}

func TestUserAndTokenCommandErrors(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runKeel(t, env, "user", "add", "--email", "bo@example.com", "--name", "Bo", "--role", "sales"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string // in the error
	}{
		{[]string{"user"}, "usage: keel user add"},
		{[]string{"user", "remove"}, `unknown user command "remove"`},
		{[]string{"user", "add", "--name", "X", "--role", "sales"}, "--email is required"},
		{[]string{"user", "add", "--email", "x@example.com", "--role", "sales"}, "--name is required"},
		{[]string{"user", "add", "--email", "x@example.com", "--name", "X"}, "--role is required"},
		{[]string{"user", "add", "--email", "x@example.com", "--name", "X", "--role", "boss"}, `unknown role "boss"`},
		{[]string{"user", "add", "--email", "not-an-email", "--name", "X", "--role", "sales"}, "email:"},
		{[]string{"user", "add", "--email", "BO@example.com", "--name", "Bo again", "--role", "csm"}, "already belongs"},
		{[]string{"user", "deactivate"}, "--email is required"},
		{[]string{"user", "deactivate", "--email", "nobody@example.com"}, "no employee"},
		{[]string{"user", "deactivate", "--email", "bo@example.com", "bo"}, `unexpected argument "bo"`},
		{[]string{"token", "create"}, "--email is required"},
		{[]string{"token", "create", "--email", "nobody@example.com"}, "no employee"},
		{[]string{"token"}, "keel token create"},
	}
	for _, tt := range tests {
		out, _, err := runKeel(t, env, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("keel %s: %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
		if out != "" {
			t.Errorf("keel %s printed %q on a failure", strings.Join(tt.args, " "), out)
		}
	}
}

// TestUserGrantAndRevoke: the shell gives and takes roles, refuses to take
// the admin role from (or deactivate) the last active admin, and brings an
// admin back to a company that has none — the recovery the console cannot
// offer, since no one can sign in to it as admin.
func TestUserGrantAndRevoke(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, env[envPG])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, args := range [][]string{
		{"user", "add", "--email", "ann@example.com", "--name", "Ann", "--role", "admin,sales"},
		{"user", "add", "--email", "bo@example.com", "--name", "Bo", "--role", "sales"},
	} {
		if _, errOut, err := runKeel(t, env, args...); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, errOut)
		}
	}
	roles := func(email string) string {
		t.Helper()
		e, err := db.EmployeeByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		return (*rolesFlag)(&e.Roles).String()
	}
	for _, tt := range []struct {
		args []string
		want string // printed, or in the error
		ok   bool
	}{
		{[]string{"user", "revoke", "--email", "ann@example.com", "--role", "admin"}, "ann@example.com is the last active admin: give another employee the admin role first", false},
		{[]string{"user", "deactivate", "--email", "ann@example.com"}, "ann@example.com is the last active admin", false},
		{[]string{"user", "grant", "--email", "bo@example.com", "--role", "admin,csm"}, "has the roles sales,admin,csm.", true},
		{[]string{"user", "grant", "--email", "bo@example.com", "--role", "csm"}, "has the roles sales,admin,csm already.", true},
		{[]string{"user", "revoke", "--email", "ann@example.com", "--role", "admin,sales"}, "an employee needs at least one role", false},
		{[]string{"user", "revoke", "--email", "ANN@example.com", "--role", "admin"}, "has the roles sales.", true},
		{[]string{"user", "revoke", "--email", "bo@example.com", "--role", "admin"}, "bo@example.com is the last active admin", false},
		{[]string{"user", "grant", "--email", "bo@example.com"}, "--role is required", false},
		{[]string{"user", "grant", "--role", "admin"}, "--email is required", false},
		{[]string{"user", "grant", "--email", "nobody@example.com", "--role", "admin"}, "no employee", false},
		{[]string{"user", "grant", "--email", "bo@example.com", "--role", "boss"}, `unknown role "boss"`, false},
	} {
		out, _, err := runKeel(t, env, tt.args...)
		if tt.ok && (err != nil || !strings.Contains(out, tt.want)) {
			t.Errorf("keel %s: %q, %v; want %q", strings.Join(tt.args, " "), out, err, tt.want)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("keel %s: %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	if got := roles("ann@example.com"); got != "sales" {
		t.Errorf("ann's roles: %s", got)
	}
	// A company left without an admin (as before the rule): the shell
	// gives the role back.
	if _, err := db.Pool().Exec(ctx, `UPDATE employees SET roles = '{sales}'`); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runKeel(t, env, "user", "grant", "--email", "ann@example.com", "--role", "admin"); err != nil || !strings.Contains(out, "has the roles sales,admin.") {
		t.Errorf("grant admin to a company with none: %q, %v", out, err)
	}
	audit, _, err := db.Audit(ctx, keel.AuditFilter{Entity: "employee"})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, a := range audit {
		if a.Action == "employee.roles" {
			n++
			if a.Actor != keel.System.Email {
				t.Errorf("role change by %q, want the CLI as system", a.Actor)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d role changes audited, want 3 (the refusals and the no-op none)", n)
	}
}

// TestUserPasswords: keel user add prints a one-time password (the first
// sign-in must replace it) or, with --password-stdin, sets a chosen one
// that need not be changed; keel user reset-password does the same for an
// employee who has one, ending their sessions. Chosen passwords follow the
// rules; the audit log records each change without the password.
func TestUserPasswords(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, env[envPG])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	out, _, err := runKeel(t, env, "user", "add", "--email", "ann@example.com", "--name", "Ann", "--role", "sales")
	if err != nil {
		t.Fatal(err)
	}
	oneTime := strings.TrimSpace(out)
	if e, err := db.CheckPassword(ctx, "ann@example.com", oneTime); err != nil || !e.OneTimePassword {
		t.Errorf("keel user add's password: %+v, %v; want it to sign in, one-time", e, err)
	}
	out, _, err = runKeelInput(t, env, "provisioned for bo 7\n", "user", "add", "--email", "bo@example.com", "--name", "Bo", "--role", "csm", "--password-stdin")
	if err != nil || !strings.Contains(out, "the password read from stdin") || strings.Contains(out, "provisioned") {
		t.Fatalf("user add --password-stdin: %q, %v", out, err)
	}
	if e, err := db.CheckPassword(ctx, "bo@example.com", "provisioned for bo 7"); err != nil || e.OneTimePassword {
		t.Errorf("the chosen password: %+v, %v; want it to sign in, not one-time", e, err)
	}
	session, _, err := db.CreateSession(ctx, mustEmployee(t, db, "ann@example.com").ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runKeel(t, env, "user", "reset-password", "--email", "ANN@example.com")
	if err != nil || !strings.Contains(errOut, "sessions have ended") {
		t.Fatalf("user reset-password: %q %q, %v", out, errOut, err)
	}
	reset := strings.TrimSpace(out)
	if reset == oneTime || len(reset) < keel.MinPasswordLen {
		t.Errorf("reset-password printed %q", out)
	}
	if _, err := db.CheckPassword(ctx, "ann@example.com", oneTime); err == nil {
		t.Errorf("the password before the reset still signs in")
	}
	if e, err := db.CheckPassword(ctx, "ann@example.com", reset); err != nil || !e.OneTimePassword {
		t.Errorf("the reset password: %+v, %v; want one-time", e, err)
	}
	if _, err := db.SessionEmployee(ctx, session); keel.ErrorCode(err) != keel.EUNAUTHORIZED {
		t.Errorf("the session before the reset: %v, want ended", err)
	}
	if _, _, err := runKeelInput(t, env, "ann's own choice, 2026\r\n", "user", "reset-password", "--email", "ann@example.com", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if e, err := db.CheckPassword(ctx, "ann@example.com", "ann's own choice, 2026"); err != nil || e.OneTimePassword {
		t.Errorf("reset-password --password-stdin: %+v, %v", e, err)
	}

	for _, tt := range []struct {
		input string
		args  []string
		want  string
	}{
		{"password12345\n", []string{"user", "add", "--email", "cy@example.com", "--name", "Cy", "--role", "csm", "--password-stdin"}, "password: is too common"},
		{"short\n", []string{"user", "reset-password", "--email", "ann@example.com", "--password-stdin"}, "password: must be 12 to 1024 characters"},
		{"", []string{"user", "add", "--email", "cy@example.com", "--name", "Cy", "--role", "csm", "--password-stdin"}, "standard input holds no password"},
		{"\n", []string{"user", "reset-password", "--email", "ann@example.com", "--password-stdin"}, "standard input holds no password"},
		{"", []string{"user", "reset-password"}, "--email is required"},
		{"", []string{"user", "reset-password", "--email", "nobody@example.com"}, "no employee"},
	} {
		out, _, err := runKeelInput(t, env, tt.input, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || out != "" {
			t.Errorf("keel %s: %q, %v; want an error containing %q", strings.Join(tt.args, " "), out, err, tt.want)
		}
	}
	if _, err := db.EmployeeByEmail(ctx, "cy@example.com"); keel.ErrorCode(err) != keel.ENOTFOUND {
		t.Errorf("a refused password added the employee: %v", err)
	}
	if _, err := db.CheckPassword(ctx, "ann@example.com", "ann's own choice, 2026"); err != nil {
		t.Errorf("a refused reset changed the password: %v", err)
	}

	audit, _, err := db.Audit(ctx, keel.AuditFilter{Entity: "employee"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
		for _, secret := range []string{oneTime, reset, "provisioned", "own choice", "argon2"} {
			if strings.Contains(string(a.Before)+string(a.After), secret) {
				t.Errorf("audit entry %s holds %q", a.Action, secret)
			}
		}
	}
	if got := strings.Join(actions, " "); got != "employee.password_reset employee.password_reset employee.add employee.add" {
		t.Errorf("audit: %s", got)
	}
}

func mustEmployee(t *testing.T, db *postgres.DB, email string) keel.Employee {
	t.Helper()
	e, err := db.EmployeeByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
