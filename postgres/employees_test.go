package postgres

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/keelhq/keel"
)

func TestEmployeesAndPasswords(t *testing.T) {
	e := newStoreEnv(t)
	email := "Ada-" + e.id + "@Example.com"
	before := e.counts(t)
	_, _, err := e.db.AddEmployee(e.ctx, e.sales, keel.Employee{Email: email, Name: "Ada", Roles: []keel.Role{keel.RoleSales}})
	wantCode(t, "sales adds an employee", err, keel.EFORBIDDEN)
	_, _, err = e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: email, Name: "Ada", Roles: []keel.Role{"boss"}})
	wantCode(t, "an unknown role", err, keel.EINVALID)
	e.unchanged(t, before)

	ada, password, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: email, Name: "Ada", Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	if ada.ID == 0 || ada.Status != keel.EmployeeActive || ada.Locale != "en" || len(password) < 20 {
		t.Errorf("new employee %+v with password %q: want an id, active, en and a long password", ada, password)
	}
	var hash string
	if err := e.db.pool.QueryRow(e.ctx, `SELECT password_hash FROM employees WHERE id = $1`, ada.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, password) {
		t.Errorf("stored hash %q: want argon2id with its parameters, never the password", hash)
	}
	_, _, err = e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: strings.ToUpper(email), Name: "Ada again", Roles: []keel.Role{keel.RoleCSM}})
	wantCode(t, "the same email in other case", err, keel.ECONFLICT)

	got, err := e.db.CheckPassword(e.ctx, strings.ToLower(email), password)
	if err != nil || got.ID != ada.ID || len(got.Roles) != 1 || got.Roles[0] != keel.RoleSales {
		t.Fatalf("sign in: %+v, %v", got, err)
	}
	var messages []string
	for _, c := range []struct{ email, password string }{
		{email, password + "x"}, {"nobody-" + e.id + "@example.com", password}, {email, ""},
	} {
		_, err := e.db.CheckPassword(e.ctx, c.email, c.password)
		wantCode(t, "a bad sign-in", err, keel.EUNAUTHORIZED)
		messages = append(messages, keel.ErrorMessage(err))
	}

	if _, err := e.db.ChangePassword(e.ctx, ada, password, "short"); keel.ErrorCode(err) != keel.EINVALID {
		t.Errorf("a short password: %v, want invalid", err)
	}
	if err := e.db.SetPassword(e.ctx, ada, e.sales.ID, "a long enough password"); keel.ErrorCode(err) != keel.EFORBIDDEN {
		t.Errorf("setting someone else's password: %v, want forbidden", err)
	}
	if _, err := e.db.ChangePassword(e.ctx, ada, password, "tulip orbit canyon 42"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CheckPassword(e.ctx, email, password); keel.ErrorCode(err) != keel.EUNAUTHORIZED {
		t.Errorf("the old password still works: %v", err)
	}
	if _, err := e.db.CheckPassword(e.ctx, email, "tulip orbit canyon 42"); err != nil {
		t.Errorf("the new password: %v", err)
	}

	roles, err := e.db.SetEmployeeRoles(e.ctx, e.admin, ada.ID, []keel.Role{keel.RoleSales, keel.RoleCSM})
	if err != nil || len(roles.Roles) != 2 {
		t.Fatalf("set roles: %+v, %v", roles, err)
	}
	_, err = e.db.SetEmployeeRoles(e.ctx, ada, ada.ID, []keel.Role{keel.RoleAdmin})
	wantCode(t, "making oneself admin", err, keel.EFORBIDDEN)
	_, err = e.db.SetEmployeeRoles(e.ctx, e.admin, ada.ID, nil)
	wantCode(t, "no roles", err, keel.EINVALID)
	if got, err := e.db.Employee(e.ctx, ada.ID); err != nil || len(got.Roles) != 2 {
		t.Errorf("read back: %+v, %v", got, err)
	}
	if got, err := e.db.EmployeeByEmail(e.ctx, strings.ToUpper(email)); err != nil || got.ID != ada.ID {
		t.Errorf("by email in other case: %+v, %v", got, err)
	}
	_, err = e.db.Employee(e.ctx, 1<<40)
	wantCode(t, "an unknown employee", err, keel.ENOTFOUND)
	all, err := e.db.Employees(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range all {
		found = found || x.ID == ada.ID
	}
	if !found {
		t.Errorf("employee %d not listed", ada.ID)
	}
	if got := e.auditActions(t, "employee", ada.ID); strings.Join(got, ",") != "employee.add,employee.password,employee.roles" {
		t.Errorf("audit: got %v", got)
	}

	// Departed: the same answer as a wrong password, at once.
	if _, err := e.db.DeactivateEmployee(e.ctx, e.admin, ada.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.db.CheckPassword(e.ctx, email, "tulip orbit canyon 42")
	wantCode(t, "a departed employee signs in", err, keel.EUNAUTHORIZED)
	messages = append(messages, keel.ErrorMessage(err))
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Errorf("sign-in refusals differ: %q and %q; they must not tell why", messages[0], m)
		}
	}
	_, err = e.db.DeactivateEmployee(e.ctx, e.admin, e.admin.ID)
	wantCode(t, "deactivating oneself", err, keel.ECONFLICT)
}

func TestTokensAndDepartedEmployees(t *testing.T) {
	e := newStoreEnv(t)
	bob, _, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: "bob-" + e.id + "@example.com", Name: "Bob", Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	before := e.counts(t)
	_, err = e.db.CreateToken(e.ctx, bob, e.sales.ID, "")
	wantCode(t, "a token for someone else", err, keel.EFORBIDDEN)
	e.unchanged(t, before)

	own, err := e.db.CreateToken(e.ctx, bob, bob.ID, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	byAdmin, err := e.db.CreateToken(e.ctx, e.admin, bob.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{own, byAdmin} {
		if !strings.HasPrefix(tok, "keel_api_") {
			t.Errorf("token %q: want the keel_api_ prefix", tok)
		}
		var n int
		sum := sha256.Sum256([]byte(tok))
		if err := e.db.pool.QueryRow(e.ctx, `SELECT count(*) FROM api_tokens WHERE token_hash = $1`, sum[:]).Scan(&n); err != nil || n != 1 {
			t.Errorf("token stored by its SHA-256: %d rows, %v", n, err)
		}
		got, err := e.db.Authenticate(e.ctx, tok)
		if err != nil || got.ID != bob.ID {
			t.Fatalf("authenticate: %+v, %v", got, err)
		}
	}
	var lastUsed *string
	if err := e.db.pool.QueryRow(e.ctx, `SELECT last_used_at::text FROM api_tokens WHERE employee_id = $1 AND name = 'laptop'`, bob.ID).Scan(&lastUsed); err != nil || lastUsed == nil {
		t.Errorf("last use not recorded: %v, %v", lastUsed, err)
	}
	for _, bad := range []string{"", "keel_api_nope", own + "x", "Bearer " + own} {
		_, err := e.db.Authenticate(e.ctx, bad)
		wantCode(t, "authenticate "+bad, err, keel.EUNAUTHORIZED)
	}
	cu, err := e.db.CreateCustomer(e.ctx, bob, keel.Customer{Name: "Bob's customer " + e.id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.pool.Exec(e.ctx,
		`INSERT INTO sessions (id_hash, employee_id, created_at, expires_at) VALUES (sha256($1::bytea), $2, now(), now() + interval '1 day')`,
		[]byte("session-"+e.id), bob.ID); err != nil {
		t.Fatal(err)
	}

	stale := bob // what a handler holding an old session would still have
	gone, err := e.db.DeactivateEmployee(e.ctx, e.admin, bob.ID)
	if err != nil || gone.Status != keel.EmployeeDeparted {
		t.Fatalf("deactivate: %+v, %v", gone, err)
	}
	for _, tok := range []string{own, byAdmin} {
		_, err := e.db.Authenticate(e.ctx, tok)
		wantCode(t, "a departed employee's token", err, keel.EUNAUTHORIZED)
	}
	var sessions, live int
	if err := e.db.pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM sessions WHERE employee_id = $1),
		(SELECT count(*) FROM api_tokens WHERE employee_id = $1 AND revoked_at IS NULL)`, bob.ID).Scan(&sessions, &live); err != nil {
		t.Fatal(err)
	}
	if sessions != 0 || live != 0 {
		t.Errorf("after deactivation: %d sessions and %d live tokens, want none", sessions, live)
	}
	again, err := e.db.DeactivateEmployee(e.ctx, e.admin, bob.ID)
	if err != nil || again.Status != keel.EmployeeDeparted {
		t.Errorf("deactivating again: %+v, %v; want the departed employee", again, err)
	}
	if got := e.auditActions(t, "employee", bob.ID); strings.Join(got, ",") != "employee.add,employee.deactivate" {
		t.Errorf("audit: got %v, want one deactivation", got)
	}

	// The stale struct still says active; every change re-reads the status.
	before = e.counts(t)
	changes := []struct {
		name string
		do   func() error
	}{
		{"create customer", func() error {
			_, err := e.db.CreateCustomer(e.ctx, stale, keel.Customer{Name: "Too late"})
			return err
		}},
		{"update customer", func() error {
			c := cu.Customer
			c.Notes = "changed"
			_, err := e.db.UpdateCustomer(e.ctx, stale, c)
			return err
		}},
		{"add follow-up", func() error {
			_, err := e.db.AddFollowUp(e.ctx, stale, keel.FollowUp{CustomerID: cu.ID, At: storeToday, Kind: keel.FollowUpCall, Text: "hi"})
			return err
		}},
		{"create order", func() error {
			_, err := e.db.CreateOrder(e.ctx, stale, cu.ID, keel.OrderNew, []keel.LineRequest{{ProductID: 1, Quantity: 1, Months: 1}})
			return err
		}},
		{"create token", func() error {
			_, err := e.db.CreateToken(e.ctx, stale, stale.ID, "")
			return err
		}},
		{"change password", func() error {
			_, err := e.db.ChangePassword(e.ctx, stale, "whatever it was", "a long enough password")
			return err
		}},
	}
	for _, c := range changes {
		wantCode(t, c.name+" with a stale struct", c.do(), keel.EUNAUTHORIZED)
	}
	e.unchanged(t, before)
	_, err = e.db.CreateToken(e.ctx, e.admin, bob.ID, "")
	wantCode(t, "a token for a departed employee", err, keel.ECONFLICT)

	// An id that is no employee, and a zero struct that is not keel.System.
	_, err = e.db.CreateCustomer(e.ctx, keel.Employee{ID: 1 << 40, Status: keel.EmployeeActive, Roles: keel.Roles}, keel.Customer{Name: "x"})
	wantCode(t, "an unknown employee", err, keel.EUNAUTHORIZED)
	_, err = e.db.CreateCustomer(e.ctx, keel.Employee{Status: keel.EmployeeActive, Roles: keel.Roles}, keel.Customer{Name: "x"})
	wantCode(t, "a zero employee", err, keel.EUNAUTHORIZED)
	e.unchanged(t, before)
}
