package postgres

import (
	"reflect"
	"strings"
	"testing"

	"github.com/keelhq/keel"
)

// TestDraftsAreEditedAndDeletedByTheirCreator: the creator of a draft
// edits it (its lines replaced, audited) and deletes it (gone, its audit
// trail kept); another seller, a CSM, finance and admin are refused, and
// a submitted order is neither edited nor deleted; a refusal changes
// nothing and writes nothing. No fact is ever sent for a draft.
func TestDraftsAreEditedAndDeletedByTheirCreator(t *testing.T) {
	e := newStoreEnv(t)
	s := e.shop(t)
	cid := e.customer(t)
	d := e.draft(t, cid, keel.OrderNew, line(s.pro, 100, 12))
	facts := len(e.facts(t, cid))

	before, counts := d, e.counts(t)
	for _, by := range []keel.Employee{e.sales2, e.csm, e.finance, e.admin, e.leader} {
		_, err := e.db.EditOrder(e.ctx, by, d.ID, keel.OrderNew, []keel.LineRequest{line(s.pro, 1, 12)})
		wantCode(t, "edit by "+by.Email, err, keel.EFORBIDDEN)
		wantCode(t, "delete by "+by.Email, e.db.DeleteOrder(e.ctx, by, d.ID), keel.EFORBIDDEN)
	}
	_, err := e.db.EditOrder(e.ctx, e.sales, d.ID, keel.OrderNew, []keel.LineRequest{line(s.gone, 1, 12)})
	wantCode(t, "edit to a disabled product", err, keel.EINVALID)
	_, err = e.db.EditOrder(e.ctx, e.sales, 1<<40, keel.OrderNew, []keel.LineRequest{line(s.pro, 1, 12)})
	wantCode(t, "edit an unknown order", err, keel.ENOTFOUND)
	if got, err := e.db.Order(e.ctx, d.ID); err != nil || !reflect.DeepEqual(got, before) {
		t.Fatalf("after the refusals: %+v, %v; want the draft unchanged", got, err)
	}
	e.unchanged(t, counts)

	// The creator fixes the typo: a hundred seats were ten, plus an add-on.
	edited, err := e.db.EditOrder(e.ctx, e.sales, d.ID, keel.OrderNew, []keel.LineRequest{line(s.pro, 10, 12), line(s.seats, 5, 12)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.db.Order(e.ctx, d.ID)
	if err != nil || !reflect.DeepEqual(got, edited) {
		t.Fatalf("read back:\n got %+v, %v\nwant %+v", got, err, edited)
	}
	if got.Status != keel.OrderDraft || len(got.Lines) != 2 || got.Lines[0].Quantity != 10 || got.Lines[1].ProductID != s.seats.ID ||
		got.Total() != (10000*10+1000*5)*12 || !got.CreatedAt.Equal(d.CreatedAt) || got.CreatedBy != e.sales.ID {
		t.Errorf("edited draft %+v", got)
	}
	if a := e.auditActions(t, "order", d.ID); strings.Join(a, ",") != "order.create,order.edit" {
		t.Errorf("audit after the edit: %v", a)
	}
	var beforeQty, afterQty int64
	if err := e.db.pool.QueryRow(e.ctx, `SELECT (before->'Lines'->0->>'Quantity')::bigint, (after->'Lines'->0->>'Quantity')::bigint
		FROM audit_log WHERE entity = 'order' AND entity_id = $1 AND action = 'order.edit'`, d.ID).Scan(&beforeQty, &afterQty); err != nil || beforeQty != 100 || afterQty != 10 {
		t.Errorf("the edit's audit row: quantity %d → %d (%v), want 100 → 10", beforeQty, afterQty, err)
	}

	// Submitted, it stays as it is.
	p := e.pending(t, cid, keel.OrderNew, line(s.basic, 1, 12))
	counts = e.counts(t)
	_, err = e.db.EditOrder(e.ctx, e.sales, p.ID, keel.OrderNew, []keel.LineRequest{line(s.basic, 2, 12)})
	wantCode(t, "edit a submitted order", err, keel.ECONFLICT)
	wantCode(t, "delete a submitted order", e.db.DeleteOrder(e.ctx, e.sales, p.ID), keel.ECONFLICT)
	if got, _ := e.db.Order(e.ctx, p.ID); !reflect.DeepEqual(got, p) {
		t.Errorf("a submitted order changed: %+v", got)
	}
	e.unchanged(t, counts)

	// The creator deletes the draft: it is gone, its trail is not.
	if err := e.db.DeleteOrder(e.ctx, e.sales, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.db.Order(e.ctx, d.ID)
	wantCode(t, "the deleted draft", err, keel.ENOTFOUND)
	var lines int
	if err := e.db.pool.QueryRow(e.ctx, `SELECT count(*) FROM order_lines WHERE order_id = $1`, d.ID).Scan(&lines); err != nil || lines != 0 {
		t.Errorf("lines of the deleted draft: %d (%v)", lines, err)
	}
	if a := e.auditActions(t, "order", d.ID); strings.Join(a, ",") != "order.create,order.edit,order.delete" {
		t.Errorf("audit after the delete: %v", a)
	}
	var after *string
	var was int64
	if err := e.db.pool.QueryRow(e.ctx, `SELECT after::text, (before->'Lines'->1->>'Quantity')::bigint FROM audit_log
		WHERE entity = 'order' AND entity_id = $1 AND action = 'order.delete'`, d.ID).Scan(&after, &was); err != nil || after != nil || was != 5 {
		t.Errorf("the delete's audit row: after %v, the draft's second line %d (%v); want no after and the draft as it was", after, was, err)
	}
	wantCode(t, "delete it again", e.db.DeleteOrder(e.ctx, e.sales, d.ID), keel.ENOTFOUND)
	if n := len(e.facts(t, cid)); n != facts {
		t.Errorf("editing and deleting a draft sent %d facts", n-facts)
	}
}
