package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
)

// freshStore opens a database of its own (teststack.FreshPostgres): a
// company whose every employee the test adds.
func freshStore(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), teststack.FreshPostgres(t)+"&pool_max_conns=20")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func addStaffMember(t *testing.T, db *DB, name string, roles ...keel.Role) keel.Employee {
	t.Helper()
	e, _, err := db.AddEmployee(context.Background(), keel.System, keel.Employee{Email: name + "@example.com", Name: name, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTheLastAdminStays: no change leaves the company without an active
// admin — removing the role (one's own or another's, by an admin or the
// CLI) or deactivating — while the same changes go through when another
// admin remains, and a departed admin does not count.
func TestTheLastAdminStays(t *testing.T) {
	db := freshStore(t)
	ctx := context.Background()
	ann := addStaffMember(t, db, "ann", keel.RoleAdmin, keel.RoleSales)
	bob := addStaffMember(t, db, "bob", keel.RoleAdmin)
	cy := addStaffMember(t, db, "cy", keel.RoleAdmin)
	sam := addStaffMember(t, db, "sam", keel.RoleSales)

	if _, err := db.DeactivateEmployee(ctx, ann, cy.ID); err != nil {
		t.Fatalf("deactivating one of three admins: %v", err)
	}
	if _, err := db.SetEmployeeRoles(ctx, ann, ann.ID, []keel.Role{keel.RoleSales}); err != nil {
		t.Fatalf("removing one's own admin role while bob is admin: %v", err)
	}
	// Bob is the last active admin (cy, departed, does not count).
	refusals := []struct {
		name string
		do   func() error
	}{
		{"bob removes his own admin role", func() error {
			_, err := db.SetEmployeeRoles(ctx, bob, bob.ID, []keel.Role{keel.RoleFinance})
			return err
		}},
		{"the CLI removes bob's admin role", func() error {
			_, err := db.SetEmployeeRoles(ctx, keel.System, bob.ID, []keel.Role{keel.RoleSales})
			return err
		}},
		{"the CLI deactivates bob", func() error {
			_, err := db.DeactivateEmployee(ctx, keel.System, bob.ID)
			return err
		}},
	}
	before := countRows(t, db, "audit_log")
	for _, r := range refusals {
		err := r.do()
		wantCode(t, r.name, err, keel.ECONFLICT)
		if msg := keel.ErrorMessage(err); msg != "bob@example.com is the last active admin: give another employee the admin role first" {
			t.Errorf("%s: %q", r.name, msg)
		}
	}
	if got, err := db.Employee(ctx, bob.ID); err != nil || !got.Has(keel.RoleAdmin) || got.Status != keel.EmployeeActive {
		t.Errorf("bob after the refusals: %+v, %v; want an active admin", got, err)
	}
	if n := countRows(t, db, "audit_log"); n != before {
		t.Errorf("refused changes wrote %d audit rows", n-before)
	}
	// Changes that keep the admin role go through.
	if _, err := db.SetEmployeeRoles(ctx, bob, bob.ID, []keel.Role{keel.RoleAdmin, keel.RoleFinance}); err != nil {
		t.Errorf("the last admin adds a role: %v", err)
	}
	if _, err := db.SetEmployeeRoles(ctx, bob, sam.ID, []keel.Role{keel.RoleCSM}); err != nil {
		t.Errorf("the last admin changes another's roles: %v", err)
	}
	if _, err := db.SetEmployeeRoles(ctx, keel.System, ann.ID, []keel.Role{keel.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetEmployeeRoles(ctx, ann, bob.ID, []keel.Role{keel.RoleFinance}); err != nil {
		t.Errorf("with ann admin again, bob's admin role goes: %v", err)
	}
}

// TestAdminsDemotingEachOtherAtOnce: two admins, each removing the other's
// admin role at the same moment — or each their own — again and again.
// Every time exactly one succeeds and the other is refused, as the last
// admin or as no longer an admin: never both, and never a deadlock or
// another internal error.
func TestAdminsDemotingEachOtherAtOnce(t *testing.T) {
	db := freshStore(t)
	ctx := context.Background()
	ann := addStaffMember(t, db, "ann", keel.RoleAdmin)
	bob := addStaffMember(t, db, "bob", keel.RoleAdmin)
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, pair := range [][2]keel.Employee{{ann, bob}, {bob, ann}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if round%2 == 0 {
					_, errs[i] = db.SetEmployeeRoles(ctx, pair[0], pair[1].ID, []keel.Role{keel.RoleSales})
				} else {
					_, errs[i] = db.SetEmployeeRoles(ctx, pair[0], pair[0].ID, []keel.Role{keel.RoleSales})
				}
			}()
		}
		close(start)
		wg.Wait()
		codes := fmt.Sprintf("%q %q", keel.ErrorCode(errs[0]), keel.ErrorCode(errs[1]))
		refused := func(err error) bool {
			return keel.ErrorCode(err) == keel.ECONFLICT || keel.ErrorCode(err) == keel.EFORBIDDEN
		}
		if !(errs[0] == nil && refused(errs[1])) && !(errs[1] == nil && refused(errs[0])) {
			t.Fatalf("round %d: errors %v, %v (codes %s); want one success and one refusal", round, errs[0], errs[1], codes)
		}
		var admins int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM employees WHERE status = 'active' AND 'admin' = ANY(roles)`).Scan(&admins); err != nil {
			t.Fatal(err)
		}
		if admins != 1 {
			t.Fatalf("round %d: %d active admins, want 1", round, admins)
		}
		for _, e := range []keel.Employee{ann, bob} {
			if _, err := db.SetEmployeeRoles(ctx, keel.System, e.ID, []keel.Role{keel.RoleAdmin}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func countRows(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
