package postgres

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestSetEmployeeLocale(t *testing.T) {
	e := newStoreEnv(t)
	eve := e.addSalesperson(t, "Eve")

	before := e.counts(t)
	for _, bad := range []string{"", "fr", "ZH", " en"} {
		_, err := e.db.SetEmployeeLocale(e.ctx, eve, eve.ID, bad)
		wantCode(t, "locale "+bad, err, keel.EINVALID)
		if !strings.HasPrefix(keel.ErrorMessage(err), "locale:") {
			t.Errorf("message %q should name locale", keel.ErrorMessage(err))
		}
	}
	_, err := e.db.SetEmployeeLocale(e.ctx, eve, e.sales.ID, "zh")
	wantCode(t, "setting someone else's locale", err, keel.EFORBIDDEN)
	_, err = e.db.SetEmployeeLocale(e.ctx, e.admin, 1<<40, "zh")
	wantCode(t, "an unknown employee", err, keel.ENOTFOUND)
	e.unchanged(t, before)

	got, err := e.db.SetEmployeeLocale(e.ctx, eve, eve.ID, "zh")
	if err != nil || got.Locale != "zh" || got.ID != eve.ID || got.Email != eve.Email {
		t.Fatalf("own locale: %+v, %v", got, err)
	}
	if read, err := e.db.Employee(e.ctx, eve.ID); err != nil || read.Locale != "zh" {
		t.Errorf("read back: %+v, %v; want zh", read, err)
	}
	audit, _, err := e.db.Audit(e.ctx, keel.AuditFilter{Entity: "employee", EntityID: eve.ID, Page: keel.Page{Limit: 1}})
	if err != nil || len(audit) != 1 {
		t.Fatalf("audit: %v, %v", audit, err)
	}
	var b, a keel.Employee
	if err := json.Unmarshal(audit[0].Before, &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(audit[0].After, &a); err != nil {
		t.Fatal(err)
	}
	if audit[0].Action != "employee.locale" || audit[0].ActorID != eve.ID || b.Locale != "en" || a.Locale != "zh" || a.Email != eve.Email {
		t.Errorf("audit row: %s by %d, before %s, after %s", audit[0].Action, audit[0].ActorID, audit[0].Before, audit[0].After)
	}

	// The same locale again changes nothing and logs nothing.
	before = e.counts(t)
	if got, err := e.db.SetEmployeeLocale(e.ctx, eve, eve.ID, "zh"); err != nil || got.Locale != "zh" {
		t.Errorf("the same locale again: %+v, %v", got, err)
	}
	e.unchanged(t, before)

	// An admin sets anyone's.
	if got, err := e.db.SetEmployeeLocale(e.ctx, e.admin, eve.ID, "en"); err != nil || got.Locale != "en" {
		t.Errorf("admin sets eve's locale: %+v, %v", got, err)
	}
	if got := e.auditActions(t, "employee", eve.ID); !slices.Equal(got, []string{"employee.add", "employee.locale", "employee.locale"}) {
		t.Errorf("audit: %v", got)
	}

	// A departed employee, holding a stale struct, changes nothing.
	if _, err := e.db.DeactivateEmployee(e.ctx, e.admin, eve.ID); err != nil {
		t.Fatal(err)
	}
	before = e.counts(t)
	_, err = e.db.SetEmployeeLocale(e.ctx, eve, eve.ID, "zh")
	wantCode(t, "a departed employee sets their locale", err, keel.EUNAUTHORIZED)
	e.unchanged(t, before)
}

func TestFollowUpsBetween(t *testing.T) {
	e := newStoreEnv(t)
	// A week no other test writes follow-ups in.
	from, to := ymd(2003, 3, 3), ymd(2003, 3, 10)
	var cids []int64
	for _, name := range []string{"a", "b", "c"} {
		c, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Weekly " + name + " " + e.id})
		if err != nil {
			t.Fatal(err)
		}
		cids = append(cids, c.ID)
	}
	add := func(cid int64, at time.Time, atts ...keel.Attachment) int64 {
		t.Helper()
		f, err := e.db.AddFollowUp(e.ctx, e.csm, keel.FollowUp{CustomerID: cid, At: at, Kind: keel.FollowUpNote, Text: "note", Attachments: atts})
		if err != nil {
			t.Fatal(err)
		}
		return f.ID
	}
	// Added out of order, so the answer's order is the query's.
	aLate := add(cids[0], from.Add(30*time.Hour), keel.Attachment{Name: "minutes.txt", ContentType: "text/plain", Data: []byte("minutes")})
	aFirst := add(cids[0], from) // the range includes from
	add(cids[0], to)             // and excludes to
	add(cids[0], from.Add(-time.Second))
	bLast := add(cids[1], to.Add(-time.Microsecond))
	bFirst := add(cids[1], from.Add(50*time.Hour))
	cOnly := add(cids[2], from.Add(70*time.Hour))

	ids := func(fs []keel.FollowUp, mine bool) []int64 {
		out := []int64{}
		for _, f := range fs {
			if !mine || slices.Contains(cids, f.CustomerID) {
				out = append(out, f.ID)
			}
		}
		return out
	}
	all, err := e.db.FollowUpsBetween(e.ctx, from, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(all, true), []int64{aFirst, aLate, bFirst, bLast, cOnly}; !slices.Equal(got, want) {
		t.Errorf("every customer's: got %v, want %v (by customer, then time)", got, want)
	}
	for _, f := range all {
		if f.At.Before(from) || !f.At.Before(to) {
			t.Errorf("follow-up %d at %s is outside [%s, %s)", f.ID, f.At, from, to)
		}
		if f.Attachments == nil {
			t.Errorf("follow-up %d: attachments nil, want an empty list", f.ID)
		}
		if f.ID == aLate {
			if a := f.Attachments; len(a) != 1 || a[0].Name != "minutes.txt" || a[0].Size != 7 || a[0].ContentType != "text/plain" || a[0].Data != nil || a[0].ID == 0 {
				t.Errorf("listed attachments: %+v; want minutes.txt, 7 bytes, without data", a)
			}
		} else if len(f.Attachments) != 0 && slices.Contains(cids, f.CustomerID) {
			t.Errorf("follow-up %d: attachments %+v, want none", f.ID, f.Attachments)
		}
		if f.ID == bLast && (!f.At.Equal(to.Add(-time.Microsecond)) || f.AuthorID != e.csm.ID || f.Kind != keel.FollowUpNote || f.Text != "note") {
			t.Errorf("follow-up as read: %+v", f)
		}
	}

	some, err := e.db.FollowUpsBetween(e.ctx, from, to, []int64{cids[2], cids[0]})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(some, false), []int64{aFirst, aLate, cOnly}; !slices.Equal(got, want) {
		t.Errorf("customers a and c: got %v, want %v", got, want)
	}
	for _, list := range [][]int64{{}, {1 << 40}} {
		got, err := e.db.FollowUpsBetween(e.ctx, from, to, list)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("customers %v: %v, %v; want an empty list", list, got, err)
		}
	}
	for _, r := range [][2]time.Time{{to, from}, {from, from}} {
		_, err := e.db.FollowUpsBetween(e.ctx, r[0], r[1], nil)
		wantCode(t, fmt.Sprintf("range %s to %s", r[0], r[1]), err, keel.EINVALID)
		if !strings.HasPrefix(keel.ErrorMessage(err), "to:") {
			t.Errorf("message %q should name to", keel.ErrorMessage(err))
		}
	}

	// The bound: exactly MaxFollowUpsBetween is an answer, one more is not.
	big, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Busy " + e.id})
	if err != nil {
		t.Fatal(err)
	}
	bigFrom, bigTo := ymd(2004, 1, 1), ymd(2005, 1, 1)
	insert := func(n int) {
		t.Helper()
		if _, err := e.db.pool.Exec(e.ctx,
			`INSERT INTO follow_ups (customer_id, at, author_id, kind, text, created_at)
			 SELECT $1, $2::timestamptz + i * interval '1 minute', $3, 'call', 'call ' || i, $4 FROM generate_series(1, $5) i`,
			big.ID, bigFrom, e.csm.ID, e.now(), n); err != nil {
			t.Fatal(err)
		}
	}
	insert(MaxFollowUpsBetween)
	got, err := e.db.FollowUpsBetween(e.ctx, bigFrom, bigTo, []int64{big.ID})
	if err != nil || len(got) != MaxFollowUpsBetween {
		t.Fatalf("exactly %d follow-ups: got %d, %v", MaxFollowUpsBetween, len(got), err)
	}
	if !slices.IsSortedFunc(got, func(a, b keel.FollowUp) int { return a.At.Compare(b.At) }) {
		t.Errorf("%d follow-ups of one customer are not in time order", len(got))
	}
	insert(1)
	for _, list := range [][]int64{{big.ID}, nil} {
		_, err = e.db.FollowUpsBetween(e.ctx, bigFrom, bigTo, list)
		wantCode(t, "one follow-up too many", err, keel.EINVALID)
		if want := "from: the range holds more than 5000 follow-ups"; keel.ErrorMessage(err) != want {
			t.Errorf("message %q, want %q", keel.ErrorMessage(err), want)
		}
	}
}

func TestCustomerTenantsFilter(t *testing.T) {
	e := newStoreEnv(t)
	prefix := "Trend_" + e.id
	tenant := func(i int) string { return fmt.Sprintf("trend-%s-%d", e.id, i) }
	var ids []int64
	for i, owner := range []*int64{&e.sales.ID, &e.sales2.ID, &e.sales.ID} {
		c, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: fmt.Sprintf("%s %c", prefix, 'a'+i), SalesOwner: owner, TenantID: tenant(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	untenanted, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: prefix + " d"})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, untenanted.ID)

	tests := []struct {
		name   string
		filter keel.CustomerFilter
		want   []int64
		total  int
	}{
		{"no tenant filter", keel.CustomerFilter{Query: prefix}, ids, 4},
		{"two tenants", keel.CustomerFilter{Query: prefix, Tenants: []string{tenant(2), tenant(0)}}, []int64{ids[0], ids[2]}, 2},
		{"an empty list matches nothing", keel.CustomerFilter{Query: prefix, Tenants: []string{}}, []int64{}, 0},
		{"an empty list alone matches nothing", keel.CustomerFilter{Tenants: []string{}}, []int64{}, 0},
		{"an unknown tenant", keel.CustomerFilter{Tenants: []string{tenant(1), "no-such-tenant-" + e.id}}, []int64{ids[1]}, 1},
		{"tenant ids are exact", keel.CustomerFilter{Tenants: []string{strings.ToUpper(tenant(1)), tenant(1)[:len(tenant(1))-1]}}, []int64{}, 0},
		{"with an owner", keel.CustomerFilter{Owner: e.sales.ID, Tenants: []string{tenant(0), tenant(1)}}, []int64{ids[0]}, 1},
		{"with a status", keel.CustomerFilter{Status: keel.CustomerProspect, Tenants: []string{tenant(1), tenant(2)}}, []int64{ids[1], ids[2]}, 2},
		{"with another status", keel.CustomerFilter{Status: keel.CustomerActive, Tenants: []string{tenant(1), tenant(2)}}, []int64{}, 0},
		{"a page", keel.CustomerFilter{Tenants: []string{tenant(0), tenant(1), tenant(2)}, Page: keel.Page{Limit: 1, Offset: 1}}, []int64{ids[1]}, 3},
		// A status filter counts in the page's own query: the same rows
		// and total on every page, and past the end.
		{"a status, first page", keel.CustomerFilter{Query: prefix, Status: keel.CustomerProspect, Page: keel.Page{Limit: 3}}, ids[:3], 4},
		{"a status, last page", keel.CustomerFilter{Query: prefix, Status: keel.CustomerProspect, Page: keel.Page{Limit: 3, Offset: 3}}, ids[3:], 4},
		{"a status, past the end", keel.CustomerFilter{Query: prefix, Status: keel.CustomerProspect, Page: keel.Page{Limit: 3, Offset: 4}}, []int64{}, 4},
		{"a status, far past the end", keel.CustomerFilter{Query: prefix, Status: keel.CustomerProspect, Page: keel.Page{Limit: 3, Offset: 300}}, []int64{}, 4},
		{"a status matching none, past the end", keel.CustomerFilter{Query: prefix, Status: keel.CustomerActive, Page: keel.Page{Limit: 3, Offset: 3}}, []int64{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, total, err := e.db.Customers(e.ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			got := []int64{}
			for _, c := range cs {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tt.want) || total != tt.total {
				t.Errorf("got %v (%d), want %v (%d)", got, total, tt.want, tt.total)
			}
		})
	}
}
