package postgres

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// sessionRows counts employee id's rows in sessions, expired or not.
func (e *storeEnv) sessionRows(t *testing.T, employeeID int64) int {
	t.Helper()
	var n int
	if err := e.db.pool.QueryRow(e.ctx, `SELECT count(*) FROM sessions WHERE employee_id = $1`, employeeID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *storeEnv) addSalesperson(t *testing.T, name string) keel.Employee {
	t.Helper()
	emp, _, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: name + "-" + e.id + "@example.com", Name: name, Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	return emp
}

func TestSessionLifecycle(t *testing.T) {
	e := newStoreEnv(t)
	cy := e.addSalesperson(t, "Cy")
	const ttl = 12 * time.Hour

	secret, expires, err := e.db.CreateSession(e.ctx, cy.ID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if want := storeToday.Add(ttl); !expires.Equal(want) {
		t.Errorf("expires %s, want now + ttl = %s", expires, want)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != 32 {
		t.Fatalf("secret %q: want 32 bytes in base64url, got %d bytes, %v", secret, len(raw), err)
	}
	var created, stored time.Time
	sum := sha256.Sum256(raw)
	if err := e.db.pool.QueryRow(e.ctx, `SELECT created_at, expires_at FROM sessions WHERE id_hash = $1 AND employee_id = $2`,
		sum[:], cy.ID).Scan(&created, &stored); err != nil {
		t.Fatalf("session stored by the SHA-256 of its secret: %v", err)
	}
	if !created.Equal(storeToday) || !stored.Equal(expires) {
		t.Errorf("stored created %s, expires %s; want %s and %s", created, stored, storeToday, expires)
	}

	got, err := e.db.SessionEmployee(e.ctx, secret)
	if err != nil || got.ID != cy.ID || got.Email != cy.Email || got.Locale != "en" || len(got.Roles) != 1 || got.Roles[0] != keel.RoleSales {
		t.Fatalf("session employee: %+v, %v; want %+v", got, err, cy)
	}
	// The employee is read on every call: a role change shows at once.
	if _, err := e.db.SetEmployeeRoles(e.ctx, e.admin, cy.ID, []keel.Role{keel.RoleCSM}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.db.SessionEmployee(e.ctx, secret); err != nil || len(got.Roles) != 1 || got.Roles[0] != keel.RoleCSM {
		t.Errorf("after a role change: %+v, %v; want the csm role", got, err)
	}

	// Malformed secrets are refused, like unknown ones.
	other, _, err := e.db.CreateSession(e.ctx, e.sales.ID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", secret[42])
	// The last character carries 4 bits of the secret and 2 unused ones;
	// setting those spells the same bytes differently.
	respelled := secret[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	for _, bad := range []string{"", "x", unknown, secret + "A", secret[:42], secret + "=", "Bearer " + secret,
		strings.ToUpper(secret[:1]) + "+" + secret[2:], base64.StdEncoding.EncodeToString(raw), respelled, other[:21] + secret[21:]} {
		_, err := e.db.SessionEmployee(e.ctx, bad)
		wantCode(t, "session "+bad, err, keel.EUNAUTHORIZED)
	}

	// Expiry by the store's clock: live until expires, not at it.
	e.setNow(expires.Add(-time.Microsecond))
	if _, err := e.db.SessionEmployee(e.ctx, secret); err != nil {
		t.Errorf("a microsecond before it expires: %v", err)
	}
	e.setNow(expires)
	_, err = e.db.SessionEmployee(e.ctx, secret)
	wantCode(t, "an expired session", err, keel.EUNAUTHORIZED)
	if n := e.sessionRows(t, cy.ID); n != 1 {
		t.Fatalf("%d rows before the sweep, want the expired one", n)
	}
	// The next sign-in, anyone's, deletes expired sessions.
	fresh, _, err := e.db.CreateSession(e.ctx, e.csm.ID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.sessionRows(t, cy.ID); n != 0 {
		t.Errorf("%d rows of an expired session after a sign-in, want 0", n)
	}
	if _, err := e.db.SessionEmployee(e.ctx, fresh); err != nil {
		t.Errorf("the new session: %v", err)
	}

	// Sign-out ends one session, not the employee's others.
	a, _, err := e.db.CreateSession(e.ctx, cy.ID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := e.db.CreateSession(e.ctx, cy.ID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two sessions share the secret %q", a)
	}
	if err := e.db.DeleteSession(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	_, err = e.db.SessionEmployee(e.ctx, a)
	wantCode(t, "a signed-out session", err, keel.EUNAUTHORIZED)
	if got, err := e.db.SessionEmployee(e.ctx, b); err != nil || got.ID != cy.ID {
		t.Errorf("the other session after sign-out: %+v, %v", got, err)
	}
	for _, s := range []string{a, unknown, "", "not a secret"} {
		if err := e.db.DeleteSession(e.ctx, s); err != nil {
			t.Errorf("delete session %q: %v, want nil", s, err)
		}
	}

	_, _, err = e.db.CreateSession(e.ctx, cy.ID, 0)
	wantCode(t, "a zero ttl", err, keel.EINVALID)
	for _, id := range []int64{0, 1 << 40} {
		_, _, err = e.db.CreateSession(e.ctx, id, ttl)
		wantCode(t, "a session for no employee", err, keel.EUNAUTHORIZED)
	}

	// Departure ends every session at once, and no new one starts.
	if _, err := e.db.DeactivateEmployee(e.ctx, e.admin, cy.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.db.SessionEmployee(e.ctx, b)
	wantCode(t, "a departed employee's session", err, keel.EUNAUTHORIZED)
	if n := e.sessionRows(t, cy.ID); n != 0 {
		t.Errorf("%d sessions after deactivation, want 0", n)
	}
	_, _, err = e.db.CreateSession(e.ctx, cy.ID, ttl)
	wantCode(t, "a session for a departed employee", err, keel.EUNAUTHORIZED)
	if n := e.sessionRows(t, cy.ID); n != 0 {
		t.Errorf("%d sessions after a refused sign-in, want 0", n)
	}
	// Should a row survive somehow, the status is still checked.
	var leftover [32]byte
	leftover[0] = 1
	if _, err := e.db.pool.Exec(e.ctx, `INSERT INTO sessions (id_hash, employee_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		sha256sum(leftover[:]), cy.ID, e.now(), e.now().Add(ttl)); err != nil {
		t.Fatal(err)
	}
	_, err = e.db.SessionEmployee(e.ctx, base64.RawURLEncoding.EncodeToString(leftover[:]))
	wantCode(t, "a leftover session of a departed employee", err, keel.EUNAUTHORIZED)
}

func sha256sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// TestSessionWaitsForDeactivation holds a deactivation open, as
// DeactivateEmployee does between locking the employee and committing, and
// signs in meanwhile: the sign-in must wait and then fail, not slip a
// session in after the deactivation deleted the employee's sessions.
func TestSessionWaitsForDeactivation(t *testing.T) {
	e := newStoreEnv(t)
	dee := e.addSalesperson(t, "Dee")
	tx, err := e.db.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx)
	if _, err := lockEmployee(e.ctx, tx, dee.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(e.ctx, `UPDATE employees SET status = 'departed' WHERE id = $1`, dee.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(e.ctx, `DELETE FROM sessions WHERE employee_id = $1`, dee.ID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		secret string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		s, _, err := e.db.CreateSession(e.ctx, dee.ID, time.Hour)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("sign-in during a deactivation returned at once (%q, %v); it must wait for it", r.secret, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	wantCode(t, "sign-in racing a deactivation", r.err, keel.EUNAUTHORIZED)
	if n := e.sessionRows(t, dee.ID); n != 0 {
		t.Errorf("%d sessions of a departed employee, want 0", n)
	}
}

// TestSessionsRaceDeactivation signs in several times while the employee
// is deactivated, over many rounds: whichever wins, no session of the
// departed employee is left.
func TestSessionsRaceDeactivation(t *testing.T) {
	e := newStoreEnv(t)
	const rounds, signIns = 20, 4
	created := 0
	for round := range rounds {
		emp := e.addSalesperson(t, "Racer"+string(rune('a'+round)))
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, signIns)
		for i := range signIns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, errs[i] = e.db.CreateSession(e.ctx, emp.ID, time.Hour)
			}()
		}
		var deactivateErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, deactivateErr = e.db.DeactivateEmployee(e.ctx, e.admin, emp.ID)
		}()
		close(start)
		wg.Wait()
		if deactivateErr != nil {
			t.Fatalf("round %d: deactivate: %v", round, deactivateErr)
		}
		for _, err := range errs {
			if err == nil {
				created++
			} else if keel.ErrorCode(err) != keel.EUNAUTHORIZED {
				t.Fatalf("round %d: sign-in: %v, want success or unauthorized", round, err)
			}
		}
		if n := e.sessionRows(t, emp.ID); n != 0 {
			t.Fatalf("round %d: %d sessions of a departed employee, want 0", round, n)
		}
	}
	t.Logf("%d of %d sign-ins won the race", created, rounds*signIns)
}
