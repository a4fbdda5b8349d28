package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestCustomersAndTenants(t *testing.T) {
	e := newStoreEnv(t)
	tenant := "t-cust-" + e.id
	before := e.counts(t)
	_, err := e.db.CreateCustomer(e.ctx, e.finance, keel.Customer{Name: "Acme " + e.id})
	wantCode(t, "finance creates a customer", err, keel.EFORBIDDEN)
	_, err = e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Acme " + e.id, SalesOwner: &e.csm.ID})
	wantCode(t, "a CSM as sales owner", err, keel.EINVALID)
	_, err = e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: " "})
	wantCode(t, "no name", err, keel.EINVALID)
	e.unchanged(t, before)

	acme, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Acme " + e.id, TenantID: tenant, SalesOwner: &e.sales.ID, CSMOwner: &e.csm.ID,
		Industry: "Retail", Contacts: []keel.Contact{{Name: "Ann", Email: "ann@acme.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	if acme.Status != keel.CustomerProspect || acme.FirstPurchase != nil || len(acme.Totals) != 0 || len(acme.Subscriptions) != 0 {
		t.Errorf("a new customer's derived state: %+v", acme)
	}
	if got, err := e.db.Customer(e.ctx, acme.ID); err != nil || !reflect.DeepEqual(got, acme) {
		t.Errorf("read back:\n got %+v, %v\nwant %+v", got, err, acme)
	}
	var tenantName string
	if err := e.db.pool.QueryRow(e.ctx, `SELECT name FROM tenants WHERE id = $1`, tenant).Scan(&tenantName); err != nil || tenantName != acme.Name {
		t.Errorf("tenant row: %q, %v; want named %q", tenantName, err, acme.Name)
	}
	fs := e.facts(t, acme.ID)
	if got := factKinds(fs); strings.Join(got, ",") != "customer.created,tenant.linked" {
		t.Fatalf("facts: %v", got)
	}
	var cf keel.CustomerFact
	if err := json.Unmarshal(fs[0].Data, &cf); err != nil || cf.ID != acme.ID || cf.Name != acme.Name || cf.TenantID != tenant || cf.Industry != "Retail" {
		t.Errorf("customer.created data: %s (%v)", fs[0].Data, err)
	}
	if fs[1].Tenant != tenant {
		t.Errorf("tenant.linked tenant: %q, want %q", fs[1].Tenant, tenant)
	}

	before = e.counts(t)
	_, err = e.db.CreateCustomer(e.ctx, e.csm, keel.Customer{Name: "Other " + e.id, TenantID: tenant})
	wantCode(t, "a tenant already linked", err, keel.ECONFLICT)
	if !strings.HasPrefix(keel.ErrorMessage(err), "tenant_id:") {
		t.Errorf("message %q should name tenant_id", keel.ErrorMessage(err))
	}
	_, err = e.db.UpdateCustomer(e.ctx, e.sales, keel.Customer{ID: 1 << 40, Name: "Nobody"})
	wantCode(t, "an unknown customer", err, keel.ENOTFOUND)
	e.unchanged(t, before)

	// An update that keeps the tenant sends customer.updated only.
	c := acme.Customer
	c.Notes = "prefers email"
	upd, err := e.db.UpdateCustomer(e.ctx, e.csm, c)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Notes != "prefers email" || !upd.CreatedAt.Equal(acme.CreatedAt) || upd.TenantID != tenant {
		t.Errorf("updated: %+v", upd.Customer)
	}
	if got := factKinds(e.facts(t, acme.ID)); strings.Join(got, ",") != "customer.created,tenant.linked,customer.updated" {
		t.Errorf("facts after an update: %v", got)
	}
	// A new tenant: tenant.linked names it and the one before.
	c = upd.Customer
	c.TenantID = tenant + "-new"
	if _, err := e.db.UpdateCustomer(e.ctx, e.sales, c); err != nil {
		t.Fatal(err)
	}
	fs = e.facts(t, acme.ID)
	if got := factKinds(fs); strings.Join(got, ",") != "customer.created,tenant.linked,customer.updated,customer.updated,tenant.linked" {
		t.Fatalf("facts after a new tenant: %v", got)
	}
	var tf keel.TenantFact
	if err := json.Unmarshal(fs[4].Data, &tf); err != nil || tf.TenantID != tenant+"-new" || tf.Previous != tenant || fs[4].Tenant != tenant+"-new" {
		t.Errorf("tenant.linked: %+v %s (%v)", fs[4], fs[4].Data, err)
	}
	audit, _, err := e.db.Audit(e.ctx, keel.AuditFilter{Entity: "customer", EntityID: acme.ID})
	if err != nil || len(audit) != 3 {
		t.Fatalf("audit: %d rows, %v", len(audit), err)
	}
	var b, a keel.Customer
	if err := json.Unmarshal(audit[0].Before, &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(audit[0].After, &a); err != nil {
		t.Fatal(err)
	}
	if audit[0].Action != "customer.update" || b.TenantID != tenant || a.TenantID != tenant+"-new" || audit[0].ActorID != e.sales.ID {
		t.Errorf("audit of the tenant change: %s before %s after %s", audit[0].Action, audit[0].Before, audit[0].After)
	}

	// An owner who has since departed does not block editing the rest; a
	// departed employee cannot become an owner.
	leaver, _, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: "leaver-" + e.id + "@example.com", Name: "Leaver", Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	owned, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Owned " + e.id, SalesOwner: &leaver.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.DeactivateEmployee(e.ctx, e.admin, leaver.ID); err != nil {
		t.Fatal(err)
	}
	c = owned.Customer
	c.Region = "EMEA"
	if _, err := e.db.UpdateCustomer(e.ctx, e.sales, c); err != nil {
		t.Errorf("editing a customer whose owner left: %v", err)
	}
	c = acme.Customer
	c.Version = 0 // replace, whatever changed since
	c.TenantID = tenant + "-new"
	c.SalesOwner = &leaver.ID
	_, err = e.db.UpdateCustomer(e.ctx, e.sales, c)
	wantCode(t, "a departed sales owner", err, keel.EINVALID)

	// A change based on the customer as read before another change landed
	// is refused, so the other change is not overwritten unseen.
	current, err := e.db.Customer(e.ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	stale := acme.Customer
	stale.Notes = "stale notes"
	_, err = e.db.UpdateCustomer(e.ctx, e.sales, stale)
	if !errors.Is(err, keel.ErrChanged) {
		t.Fatalf("update from a stale read: err = %v, want keel.ErrChanged", err)
	}
	if got, err := e.db.Customer(e.ctx, acme.ID); err != nil || got.Notes != current.Notes || got.Version != current.Version {
		t.Errorf("after a refused stale update: notes %q version %d, want %q %d (%v)", got.Notes, got.Version, current.Notes, current.Version, err)
	}
	if current.Version != 3 {
		t.Errorf("version after two updates: got %d, want 3", current.Version)
	}
}

func TestCustomerList(t *testing.T) {
	e := newStoreEnv(t)
	prefix := "List_" + e.id
	var ids []int64
	for i, owner := range []*int64{&e.sales.ID, &e.sales2.ID, nil} {
		c, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: fmt.Sprintf("%s %c", prefix, 'c'-i), SalesOwner: owner,
			TenantID: fmt.Sprintf("list-%s-%d", e.id, i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	list := func(f keel.CustomerFilter) ([]int64, int) {
		t.Helper()
		cs, total, err := e.db.Customers(e.ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out, total
	}
	// By name: c, b, a were made in that order.
	byName := []int64{ids[2], ids[1], ids[0]}
	if got, total := list(keel.CustomerFilter{Query: strings.ToUpper(prefix)}); !slices.Equal(got, byName) || total != 3 {
		t.Errorf("query in other case: got %v (%d), want %v", got, total, byName)
	}
	if got, total := list(keel.CustomerFilter{Query: fmt.Sprintf("list-%s-1", e.id)}); !slices.Equal(got, []int64{ids[1]}) || total != 1 {
		t.Errorf("query by tenant: got %v (%d)", got, total)
	}
	if got, total := list(keel.CustomerFilter{Query: prefix, Page: keel.Page{Limit: 2, Offset: 1}}); !slices.Equal(got, byName[1:]) || total != 3 {
		t.Errorf("second page: got %v (%d)", got, total)
	}
	if got, total := list(keel.CustomerFilter{Query: prefix, Page: keel.Page{Limit: 2, Offset: 10}}); len(got) != 0 || total != 3 {
		t.Errorf("past the end: got %v (%d), want none of 3", got, total)
	}
	if got, _ := list(keel.CustomerFilter{Query: prefix, Owner: e.sales2.ID}); !slices.Equal(got, []int64{ids[1]}) {
		t.Errorf("by owner: got %v", got)
	}
	if got, _ := list(keel.CustomerFilter{Query: strings.Replace(prefix, "_", "%", 1)}); len(got) != 0 {
		t.Errorf("%% and _ in a query are literal: got %v", got)
	}
	_, _, err := e.db.Customers(e.ctx, keel.CustomerFilter{Status: "vip"})
	wantCode(t, "an unknown status", err, keel.EINVALID)
	_, _, err = e.db.Customers(e.ctx, keel.CustomerFilter{Page: keel.Page{Offset: -1}})
	wantCode(t, "a negative offset", err, keel.EINVALID)
}

// TestStatusFiltersAgreeWithTheDomain checks the SQL that filters lists by
// derived status (live_terms) against the domain's rules, over customers
// in every state and on days before, during and after their terms.
func TestStatusFiltersAgreeWithTheDomain(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	prefix := "Status_" + e.id
	histories := map[string]func(cid int64){
		"prospect": func(int64) {},
		"trial":    func(cid int64) { e.approved(t, cid, keel.OrderTrial, line(s.pro, 5, 1)) },
		"new":      func(cid int64) { e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 2, 12, ymd(2026, 1, 1))) },
		"lapsed":   func(cid int64) { e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 2, 12, ymd(2025, 1, 1))) },
		"renewed": func(cid int64) {
			e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 2, 12, ymd(2026, 1, 1)))
			e.approved(t, cid, keel.OrderRenewal, line(s.pro, 2, 12))
		},
		"renewed after a lapse": func(cid int64) {
			e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 2, 12, ymd(2024, 1, 1)))
			e.approved(t, cid, keel.OrderRenewal, lineFrom(s.pro, 2, 12, ymd(2025, 6, 1)))
		},
		"upgraded": func(cid int64) {
			e.approved(t, cid, keel.OrderNew, lineFrom(s.basic, 2, 12, ymd(2026, 1, 1)))
			e.approved(t, cid, keel.OrderUpgrade, line(s.pro, 2, 12))
		},
		"upgraded and back": func(cid int64) {
			e.approved(t, cid, keel.OrderNew, lineFrom(s.basic, 2, 12, ymd(2026, 1, 1)))
			e.approved(t, cid, keel.OrderUpgrade, lineFrom(s.pro, 2, 12, ymd(2026, 3, 1)))
			e.approved(t, cid, keel.OrderUpgrade, line(s.basic, 2, 12))
		},
		"renewed then upgraded": func(cid int64) {
			e.approved(t, cid, keel.OrderNew, lineFrom(s.basic, 2, 12, ymd(2025, 7, 1)))
			e.approved(t, cid, keel.OrderRenewal, line(s.basic, 2, 12))
			e.approved(t, cid, keel.OrderUpgrade, lineFrom(s.pro, 2, 12, ymd(2026, 6, 1)))
		},
		"voided": func(cid int64) {
			o := e.approved(t, cid, keel.OrderNew, line(s.pro, 2, 12))
			if _, err := e.db.VoidOrder(e.ctx, e.finance, o.ID); err != nil {
				t.Fatal(err)
			}
		},
		"bought ahead": func(cid int64) { e.approved(t, cid, keel.OrderNew, lineFrom(s.pro, 2, 12, ymd(2026, 9, 1))) },
		"trial then bought": func(cid int64) {
			e.approved(t, cid, keel.OrderTrial, line(s.basic, 1, 1))
			e.approved(t, cid, keel.OrderNew, lineFrom(s.basic, 1, 12, ymd(2026, 7, 15)))
		},
		"add-on only":   func(cid int64) { e.approved(t, cid, keel.OrderNew, line(s.storage, 1, 12)) },
		"pending order": func(cid int64) { e.pending(t, cid, keel.OrderNew, line(s.pro, 1, 12)) },
	}
	var cids []int64
	for name, h := range histories {
		c, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: prefix + " " + name})
		if err != nil {
			t.Fatal(err)
		}
		h(c.ID)
		cids = append(cids, c.ID)
	}
	seen := map[keel.CustomerStatus]bool{}
	seenSub := map[keel.SubscriptionStatus]bool{}
	for _, d := range []time.Time{ymd(2025, 6, 1), ymd(2026, 3, 1), storeToday, ymd(2026, 8, 1), ymd(2027, 2, 1), ymd(2027, 7, 1), ymd(2028, 6, 1)} {
		e.setNow(d.Add(9 * time.Hour))
		want := map[keel.CustomerStatus][]int64{}
		for _, cid := range cids {
			v, err := e.db.Customer(e.ctx, cid)
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != keel.StatusOf(v.Subscriptions, e.now()) {
				t.Fatalf("customer %d: view status %s, domain %s", cid, v.Status, keel.StatusOf(v.Subscriptions, e.now()))
			}
			want[v.Status] = append(want[v.Status], cid)
			seen[v.Status] = true

			wantSub := map[keel.SubscriptionStatus][]int64{}
			for _, sub := range v.Subscriptions {
				st := sub.Status(e.now())
				wantSub[st] = append(wantSub[st], sub.ID)
				seenSub[st] = true
			}
			for _, st := range keel.SubscriptionStatuses {
				subs, n, err := e.db.Subscriptions(e.ctx, keel.SubscriptionFilter{CustomerID: cid, Status: st})
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, sub := range subs {
					got = append(got, sub.ID)
				}
				if !slices.Equal(got, wantSub[st]) || n != len(wantSub[st]) {
					t.Errorf("on %s, customer %d's %s subscriptions: SQL %v (%d), domain %v", d.Format(time.DateOnly), cid, st, got, n, wantSub[st])
				}
			}
		}
		for _, st := range keel.CustomerStatuses {
			views, n, err := e.db.Customers(e.ctx, keel.CustomerFilter{Query: prefix, Status: st, Page: keel.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			got := []int64{}
			for _, v := range views {
				got = append(got, v.ID)
				if v.Status != st {
					t.Errorf("on %s: customer %d listed as %s has status %s", d.Format(time.DateOnly), v.ID, st, v.Status)
				}
			}
			slices.Sort(got)
			w := append([]int64{}, want[st]...)
			slices.Sort(w)
			if !slices.Equal(got, w) || n != len(w) {
				t.Errorf("on %s, %s customers: SQL %v (%d), domain %v", d.Format(time.DateOnly), st, got, n, w)
			}
		}
	}
	for _, st := range keel.CustomerStatuses {
		if !seen[st] {
			t.Errorf("no customer was %s on any day; the test does not cover it", st)
		}
	}
	for _, st := range keel.SubscriptionStatuses {
		if !seenSub[st] {
			t.Errorf("no subscription was %s on any day; the test does not cover it", st)
		}
	}
}

func TestFollowUps(t *testing.T) {
	e := newStoreEnv(t)
	c, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Followed " + e.id})
	if err != nil {
		t.Fatal(err)
	}
	before := e.counts(t)
	call := keel.FollowUp{CustomerID: c.ID, At: storeToday.Add(-48 * time.Hour), Kind: keel.FollowUpCall, Text: "Intro call"}
	_, err = e.db.AddFollowUp(e.ctx, e.finance, call)
	wantCode(t, "finance adds a follow-up", err, keel.EFORBIDDEN)
	_, err = e.db.AddFollowUp(e.ctx, e.sales, keel.FollowUp{CustomerID: 1 << 40, At: storeToday, Kind: keel.FollowUpCall, Text: "x"})
	wantCode(t, "an unknown customer", err, keel.ENOTFOUND)
	big := call
	big.Attachments = []keel.Attachment{{Name: "big.bin", Data: make([]byte, keel.MaxAttachmentBytes+1)}}
	_, err = e.db.AddFollowUp(e.ctx, e.sales, big)
	wantCode(t, "a large attachment", err, keel.ETOOLARGE)
	e.unchanged(t, before)

	first, err := e.db.AddFollowUp(e.ctx, e.sales, call)
	if err != nil {
		t.Fatal(err)
	}
	if first.AuthorID != e.sales.ID || first.ID == 0 {
		t.Errorf("follow-up: %+v", first)
	}
	visit := keel.FollowUp{CustomerID: c.ID, At: storeToday.Add(-time.Hour), Kind: keel.FollowUpVisit, Text: "On site", AuthorID: e.admin.ID,
		Attachments: []keel.Attachment{{Name: "notes.txt", ContentType: "text/plain", Data: []byte("hello")}, {Name: "photo.jpg", Data: []byte{0xff, 0xd8, 0xff}}}}
	second, err := e.db.AddFollowUp(e.ctx, e.csm, visit)
	if err != nil {
		t.Fatal(err)
	}
	if second.AuthorID != e.csm.ID {
		t.Errorf("author: got %d, want the acting employee %d", second.AuthorID, e.csm.ID)
	}
	list, total, err := e.db.FollowUps(e.ctx, c.ID, keel.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
		t.Fatalf("follow-ups newest first: got %+v (%d)", list, total)
	}
	atts := list[0].Attachments
	if len(atts) != 2 || atts[0].Name != "notes.txt" || atts[0].Size != 5 || atts[0].Data != nil || atts[1].ContentType != "application/octet-stream" {
		t.Errorf("listed attachments: %+v", atts)
	}
	a, err := e.db.Attachment(e.ctx, atts[0].ID)
	if err != nil || string(a.Data) != "hello" || a.ContentType != "text/plain" {
		t.Errorf("attachment: %+v, %v", a, err)
	}
	_, err = e.db.Attachment(e.ctx, 1<<40)
	wantCode(t, "an unknown attachment", err, keel.ENOTFOUND)
	page, total, err := e.db.FollowUps(e.ctx, c.ID, keel.Page{Limit: 1, Offset: 1})
	if err != nil || total != 2 || len(page) != 1 || page[0].ID != first.ID || len(page[0].Attachments) != 0 {
		t.Errorf("second page: %+v (%d), %v", page, total, err)
	}
	_, _, err = e.db.FollowUps(e.ctx, 1<<40, keel.Page{})
	wantCode(t, "follow-ups of an unknown customer", err, keel.ENOTFOUND)
	if got := e.auditActions(t, "follow_up", second.ID); !slices.Equal(got, []string{"followup.add"}) {
		t.Errorf("audit: %v", got)
	}
	var after []byte
	if err := e.db.pool.QueryRow(e.ctx, `SELECT after FROM audit_log WHERE entity = 'follow_up' AND entity_id = $1`, second.ID).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(after), "aGVsbG8") { // base64 of "hello"
		t.Errorf("the audit row holds attachment data: %s", after)
	}
}

func TestCustomerNames(t *testing.T) {
	e := newStoreEnv(t)
	a, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Names A " + e.id})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.db.CreateCustomer(e.ctx, e.sales, keel.Customer{Name: "Names B " + e.id})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.db.CustomerNames(e.ctx, []int64{a.ID, b.ID, a.ID, -1})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{a.ID: a.Name, b.ID: b.Name}
	if len(got) != len(want) || got[a.ID] != want[a.ID] || got[b.ID] != want[b.ID] {
		t.Errorf("CustomerNames = %v, want %v", got, want)
	}
	if got, err := e.db.CustomerNames(e.ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("CustomerNames(nil) = %v, %v; want empty", got, err)
	}
}
