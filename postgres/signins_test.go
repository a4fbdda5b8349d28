package postgres

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// attempt begins a sign-in at the env's clock and, when it may go on,
// ends it with outcome; it returns what BeginSignIn answered.
func (e *storeEnv) attempt(t *testing.T, db *DB, email, address string, outcome keel.SignInOutcome) keel.SignInAttempt {
	t.Helper()
	a, err := db.BeginSignIn(e.ctx, email, address, keel.SignInForm)
	if err != nil {
		t.Fatal(err)
	}
	if a.Wait == 0 && outcome != keel.SignInPending {
		if err := db.EndSignIn(e.ctx, a.ID, outcome); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func (e *storeEnv) tick(d time.Duration) { e.setNow(e.now().Add(d)) }

// TestSignInThrottle runs the throttle against Postgres on the test's
// clock: failures of one email from one address make that address wait,
// longer each time, while another address signs in at once; a sign-in
// forgets the address's failures; the email's ceiling spaces out new
// addresses but not the employee's own; attempts arriving together are
// counted one after the other; a second console process (another DB)
// sees the same; every attempt is listed, and old ones are swept.
func TestSignInThrottle(t *testing.T) {
	e := newStoreEnv(t)
	ann, _, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: "Throttle-" + e.id + "@example.com", Name: "Ann", Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	email := ann.Email
	start := e.now()

	for i := 0; i < keel.SignInFreeFailures; i++ {
		if a := e.attempt(t, e.db, email, "10.0.0.1", keel.SignInFailed); a.Wait != 0 || a.EmployeeID != ann.ID {
			t.Fatalf("failure %d: %+v, want no wait, the employee named", i+1, a)
		}
		e.tick(time.Second)
	}
	// Three failures at +0, +1, +2 s; now +3 s: 5 s after the last.
	a := e.attempt(t, e.db, email, "10.0.0.1", keel.SignInFailed)
	if a.Wait != 4*time.Second || a.Outcome != keel.SignInThrottled {
		t.Fatalf("after %d failures: %+v, want throttled for 4s", keel.SignInFreeFailures, a)
	}
	e.tick(time.Second)
	if again := e.attempt(t, e.db, "  THROTTLE-"+e.id+"@example.com", "10.0.0.1", keel.SignInFailed); again.Wait != 3*time.Second || again.ID != a.ID || again.Repeats != 2 {
		t.Errorf("a repeat while throttled: %+v, want 3s, folded into row %d", again, a.ID)
	}
	if other := e.attempt(t, e.db, email, "10.0.0.2", keel.SignInSucceeded); other.Wait != 0 {
		t.Errorf("the same email from another address: wait %s, want none", other.Wait)
	}
	e.tick(3 * time.Second)
	if a := e.attempt(t, e.db, email, "10.0.0.1", keel.SignInFailed); a.Wait != 0 {
		t.Fatalf("once the wait is over: wait %s", a.Wait)
	}
	e.tick(time.Second)
	if a := e.attempt(t, e.db, email, "10.0.0.1", keel.SignInFailed); a.Wait != 9*time.Second {
		t.Errorf("after a fourth failure: wait %s, want 9s (10s after it)", a.Wait)
	}
	// Another console process, on the same database, sees the same.
	other, err := Open(e.ctx, e.db.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetClock(e.now)
	if a := e.attempt(t, other, email, "10.0.0.1", keel.SignInFailed); a.Wait != 9*time.Second {
		t.Errorf("another process: wait %s, want 9s", a.Wait)
	}
	e.tick(9 * time.Second)
	if a := e.attempt(t, e.db, email, "10.0.0.1", keel.SignInSucceeded); a.Wait != 0 {
		t.Fatalf("the right password after the wait: %+v", a)
	}
	// A sign-in forgets the address's failures.
	for i := 0; i < keel.SignInFreeFailures; i++ {
		if a := e.attempt(t, e.db, email, "10.0.0.1", keel.SignInFailed); a.Wait != 0 {
			t.Fatalf("failure %d after a sign-in: wait %s", i+1, a.Wait)
		}
	}

	// A spray over many addresses: the ceiling spaces out new addresses,
	// not the ones the employee signed in from.
	e.tick(time.Hour)
	for i := 0; i < keel.SignInEmailCeiling; i++ {
		if a := e.attempt(t, e.db, email, "10.1.0."+itoa(i), keel.SignInFailed); a.Wait != 0 {
			t.Fatalf("spray %d: wait %s", i, a.Wait)
		}
	}
	if a := e.attempt(t, e.db, email, "10.2.0.1", keel.SignInFailed); a.Wait != keel.SignInFirstDelay {
		t.Errorf("a new address after the ceiling: wait %s, want %s", a.Wait, keel.SignInFirstDelay)
	}
	for _, known := range []string{"10.0.0.1", "10.0.0.2"} {
		if a := e.attempt(t, e.db, email, known, keel.SignInSucceeded); a.Wait != 0 {
			t.Errorf("the employee's own address %s during the spray: wait %s", known, a.Wait)
		}
	}

	// Attempts at once: the first ones go through, the rest wait, as if
	// they had come one after the other (pending attempts count).
	fresh := "parallel-" + e.id + "@example.com"
	var wg sync.WaitGroup
	waits := make([]time.Duration, 10)
	for i := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := e.db.BeginSignIn(e.ctx, fresh, "10.3.0.1", keel.SignInForm)
			if err != nil {
				t.Error(err)
			}
			waits[i] = a.Wait
		}()
	}
	wg.Wait()
	through := 0
	for _, w := range waits {
		if w == 0 {
			through++
		}
	}
	if through != keel.SignInFreeFailures {
		t.Errorf("10 attempts at once: %d went through, want %d", through, keel.SignInFreeFailures)
	}

	// What admin reads.
	list, total, err := e.db.SignInAttempts(e.ctx, keel.SignInFilter{Email: email, Address: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[keel.SignInOutcome]int{}
	for _, a := range list {
		counts[a.Outcome]++
		if a.Email != keel.SignInEmail(email) || a.Address != "10.0.0.1" || a.EmployeeID != ann.ID || a.At.Before(start) {
			t.Errorf("listed %+v", a)
		}
	}
	// 3 + 1 + 3 failures; two throttled rows, each with its repeat (one
	// from the other process); the sign-in after the wait and during the
	// spray.
	if total != len(list) || counts[keel.SignInFailed] != 7 || counts[keel.SignInThrottled] != 2 || counts[keel.SignInSucceeded] != 2 {
		t.Errorf("attempts from 10.0.0.1: %d listed of %d, %v; want 7 failed, 2 throttled, 2 succeeded", len(list), total, counts)
	}
	for _, a := range list {
		if a.Outcome == keel.SignInThrottled && a.Repeats != 2 {
			t.Errorf("throttled row %+v, want 2 repeats", a)
		}
	}
	if first := list[len(list)-1]; first.Outcome != keel.SignInFailed || !first.At.Equal(start) {
		t.Errorf("the oldest attempt: %+v, want the first failure at %s", first, start)
	}
	if th, _, _ := e.db.SignInAttempts(e.ctx, keel.SignInFilter{Email: email, Outcome: keel.SignInThrottled, Page: keel.Page{Limit: 1}}); len(th) != 1 || th[0].Wait <= 0 {
		t.Errorf("the latest throttled attempt: %+v", th)
	}
	if _, _, err := e.db.SignInAttempts(e.ctx, keel.SignInFilter{Outcome: "maybe"}); keel.ErrorCode(err) != keel.EINVALID || keel.ErrorField(err) != "outcome" {
		t.Errorf("a bad outcome filter: %v", err)
	}
	// An email no one has, and one Postgres could not store as typed.
	for _, typed := range []string{"nobody-" + e.id + "@example.com", "bad\x00\xff-" + e.id} {
		if a := e.attempt(t, e.db, typed, "10.4.0.1", keel.SignInFailed); a.EmployeeID != 0 || a.Email != keel.SignInEmail(typed) {
			t.Errorf("attempt on %q: %+v", typed, a)
		}
	}

	// 90 days on, the old attempts are swept (and forgotten).
	e.tick(keel.SignInKnownFor + time.Hour)
	if a := e.attempt(t, e.db, "sweeper-"+e.id+"@example.com", "10.5.0.1", keel.SignInFailed); a.Wait != 0 {
		t.Fatal(a)
	}
	if _, n, _ := e.db.SignInAttempts(e.ctx, keel.SignInFilter{Email: email}); n != 0 {
		t.Errorf("%d attempts older than 90 days are kept", n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
