package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
)

// The store tests share the test binary's "keel" database (the outbox tests
// make databases of their own). They do not run in parallel with each other,
// so a test may count every audit and outbox row to prove that a refused
// change wrote none. Records are named with a per-test suffix.

// staff are employees shared by the store tests (adding one costs an
// argon2id hash).
type staff struct {
	admin, sales, sales2, csm, finance, leader keel.Employee
}

var (
	staffOnce sync.Once
	theStaff  staff
	staffErr  error
	storeSeq  atomic.Int64
)

// storeEnv is one test's handle on the database, with a clock of its own.
type storeEnv struct {
	staff
	db  *DB
	ctx context.Context
	id  string // unique suffix for codes, names and emails
	mu  sync.Mutex
	at  time.Time
}

// storeToday is the day the store tests live on, unless a test moves it.
var storeToday = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

func newStoreEnv(t *testing.T) *storeEnv {
	t.Helper()
	st := teststack.Get(t)
	ctx := context.Background()
	db, err := Open(ctx, st.Postgres.URL()+"&pool_max_conns=25")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e := &storeEnv{db: db, ctx: ctx, id: fmt.Sprintf("%d-%d", storeSeq.Add(1), time.Now().UnixNano()%1e6), at: storeToday}
	db.SetClock(e.now)
	staffOnce.Do(func() { theStaff, staffErr = addStaff(ctx, db) })
	if staffErr != nil {
		t.Fatalf("add staff: %v", staffErr)
	}
	e.staff = theStaff
	return e
}

func (e *storeEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.at
}

func (e *storeEnv) setNow(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.at = t
}

func addStaff(ctx context.Context, db *DB) (staff, error) {
	var s staff
	n := time.Now().UnixNano()
	for _, x := range []struct {
		e    *keel.Employee
		name string
		role keel.Role
	}{
		{&s.admin, "admin", keel.RoleAdmin}, {&s.sales, "sales", keel.RoleSales}, {&s.sales2, "sales2", keel.RoleSales},
		{&s.csm, "csm", keel.RoleCSM}, {&s.finance, "finance", keel.RoleFinance}, {&s.leader, "leader", keel.RoleLeadership},
	} {
		e, _, err := db.AddEmployee(ctx, keel.System, keel.Employee{
			Email: fmt.Sprintf("%s-%d@example.com", x.name, n), Name: "Staff " + x.name, Roles: []keel.Role{x.role}})
		if err != nil {
			return s, err
		}
		*x.e = e
	}
	return s, nil
}

// counts are the rows of the audit log and the outbox.
type counts struct{ audit, facts int }

func (e *storeEnv) counts(t *testing.T) counts {
	t.Helper()
	var c counts
	if err := e.db.pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM outbox)`).Scan(&c.audit, &c.facts); err != nil {
		t.Fatal(err)
	}
	return c
}

// unchanged fails unless nothing was written to the audit log or the outbox
// since before.
func (e *storeEnv) unchanged(t *testing.T, before counts) {
	t.Helper()
	if got := e.counts(t); got != before {
		t.Errorf("audit rows and facts: got %+v, want %+v (a refused change writes nothing)", got, before)
	}
}

// auditActions lists the actions of entity id's audit rows, oldest first.
func (e *storeEnv) auditActions(t *testing.T, entity string, id int64) []string {
	t.Helper()
	rows, err := e.db.pool.Query(e.ctx, `SELECT action FROM audit_log WHERE entity = $1 AND entity_id = $2 ORDER BY id`, entity, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// facts lists customer id's facts, oldest first, as the relay would
// publish them.
func (e *storeEnv) facts(t *testing.T, customerID int64) []keel.Fact {
	t.Helper()
	rows, err := e.db.pool.Query(e.ctx, `SELECT `+outboxRowColumns+` FROM outbox WHERE key = $1 ORDER BY id`, fmt.Sprint(customerID))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []keel.Fact
	for rows.Next() {
		var row outboxRow
		if err := rows.Scan(row.dest()...); err != nil {
			t.Fatal(err)
		}
		f, err := row.fact()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func factKinds(fs []keel.Fact) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, string(f.Kind))
	}
	return out
}

// wantCode fails unless err carries code ("" = no error).
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := keel.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func TestAuditListsCommittedChanges(t *testing.T) {
	e := newStoreEnv(t)
	p, err := e.db.CreateProduct(e.ctx, e.admin, keel.Product{Code: "audit-" + e.id, Name: "Audited", Kind: keel.KindEdition, Unit: "seat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.SetProductStatus(e.ctx, e.admin, p.ID, keel.ProductDisabled); err != nil {
		t.Fatal(err)
	}
	before := e.counts(t)
	_, err = e.db.SetProductStatus(e.ctx, e.sales, p.ID, keel.ProductEnabled)
	wantCode(t, "sales enables a product", err, keel.EFORBIDDEN)
	e.unchanged(t, before)

	got, total, err := e.db.Audit(e.ctx, keel.AuditFilter{Entity: "product", EntityID: p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(got) != 2 {
		t.Fatalf("audit of product %d: %d rows (total %d), want 2", p.ID, len(got), total)
	}
	newest, oldest := got[0], got[1]
	if newest.Action != "product.status" || oldest.Action != "product.create" {
		t.Errorf("actions newest first: got %s, %s; want product.status, product.create", newest.Action, oldest.Action)
	}
	if newest.ActorID != e.admin.ID || newest.Actor != e.admin.Email || !newest.At.Equal(storeToday) {
		t.Errorf("who and when: got %d %s %s, want %d %s %s", newest.ActorID, newest.Actor, newest.At, e.admin.ID, e.admin.Email, storeToday)
	}
	var b, a keel.Product
	if err := json.Unmarshal(newest.Before, &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(newest.After, &a); err != nil {
		t.Fatal(err)
	}
	if b.Status != keel.ProductEnabled || a.Status != keel.ProductDisabled {
		t.Errorf("before/after status: got %s → %s, want enabled → disabled", b.Status, a.Status)
	}
	if oldest.Before != nil {
		t.Errorf("a created record has no before; got %s", oldest.Before)
	}

	// Filters: by actor and by time, and paging.
	mine, _, err := e.db.Audit(e.ctx, keel.AuditFilter{ActorID: e.admin.ID, Entity: "product", EntityID: p.ID, Page: keel.Page{Limit: 1}})
	if err != nil || len(mine) != 1 || mine[0].ID != newest.ID {
		t.Errorf("first page of one: got %v, %v; want entry %d", mine, err, newest.ID)
	}
	later, n, err := e.db.Audit(e.ctx, keel.AuditFilter{Entity: "product", EntityID: p.ID, From: storeToday.Add(time.Second)})
	if err != nil || n != 0 || len(later) != 0 {
		t.Errorf("entries after the change: got %d (%v), want none", n, err)
	}
	_, _, err = e.db.Audit(e.ctx, keel.AuditFilter{Page: keel.Page{Limit: keel.MaxPageSize + 1}})
	wantCode(t, "a page too large", err, keel.EINVALID)

	// The CLI's changes are recorded as the system's.
	if _, err := e.db.SetProductStatus(e.ctx, keel.System, p.ID, keel.ProductEnabled); err != nil {
		t.Fatal(err)
	}
	sys, _, err := e.db.Audit(e.ctx, keel.AuditFilter{Entity: "product", EntityID: p.ID, Page: keel.Page{Limit: 1}})
	if err != nil || len(sys) != 1 || sys[0].ActorID != 0 || sys[0].Actor != "system" {
		t.Errorf("a change by keel.System: got %+v, %v; want actor 0, system", sys, err)
	}
}
