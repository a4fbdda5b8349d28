package keel_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

// TestEditDraft: a draft's creator replaces its kind and lines, by the
// rules of a new order; no one else edits it, and a submitted order stays
// as it is.
func TestEditDraft(t *testing.T) {
	now := at("2026-03-10")
	draft := func(t *testing.T, kind keel.OrderKind, lines ...keel.LineRequest) keel.Order {
		t.Helper()
		o, err := keel.NewOrder(seller, request(kind, lines...), keel.UTC.At(now))
		wantOK(t, err)
		o.ID = 40
		return o
	}
	t.Run("the creator fixes a typo", func(t *testing.T) {
		o := draft(t, keel.OrderNew, line(pro, 100, 12))
		created := o.CreatedAt
		err := o.Edit(seller, request(keel.OrderAddon, line(storage, 10, 6), line(eurPack, 1, 6)), keel.UTC.At(now.Add(time.Hour)))
		wantError(t, err, keel.EINVALID, "lines[1].product_id") // one currency, as for a new order
		if o.Kind != keel.OrderNew || len(o.Lines) != 1 || o.Lines[0].Quantity != 100 {
			t.Fatalf("a refused edit changed the draft: %+v", o)
		}
		wantOK(t, o.Edit(seller, request(keel.OrderNew, line(pro, 10, 12), line(support, 10, 12)), keel.UTC.At(now.Add(time.Hour))))
		if o.ID != 40 || o.Status != keel.OrderDraft || o.Kind != keel.OrderNew || o.CreatedBy != seller.ID || !o.CreatedAt.Equal(created) ||
			len(o.Lines) != 2 || o.Lines[0].Quantity != 10 || o.Lines[1].ProductID != support || o.Total() != (6000*10+300*10)*12 {
			t.Errorf("edited draft %+v", o)
		}
	})
	t.Run("a trial draft does not count against itself", func(t *testing.T) {
		o := draft(t, keel.OrderTrial, line(basic, 3, 1))
		req := request(keel.OrderTrial, line(basic, 5, 1))
		req.Orders = []keel.Order{o}
		wantOK(t, o.Edit(seller, req, keel.UTC.At(now)))
		other := o
		other.ID = 41
		req.Orders = []keel.Order{o, other}
		wantError(t, o.Edit(seller, req, keel.UTC.At(now)), keel.ECONFLICT, "lines")
	})
	for _, tt := range []struct {
		name   string
		by     keel.Employee
		status keel.OrderStatus
		code   string
	}{
		{"another seller", seller2, keel.OrderDraft, keel.EFORBIDDEN},
		{"a CSM", csm, keel.OrderDraft, keel.EFORBIDDEN},
		{"finance", finance, keel.OrderDraft, keel.EFORBIDDEN},
		{"admin", admin, keel.OrderDraft, keel.EFORBIDDEN},
		{"the creator, departed", func() keel.Employee { e := seller; e.Status = keel.EmployeeDeparted; return e }(), keel.OrderDraft, keel.EUNAUTHORIZED},
		{"submitted", seller, keel.OrderPending, keel.ECONFLICT},
		{"approved", seller, keel.OrderApproved, keel.ECONFLICT},
		{"rejected", seller, keel.OrderRejected, keel.ECONFLICT},
		{"void", seller, keel.OrderVoid, keel.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := draft(t, keel.OrderNew, line(pro, 10, 12))
			o.Status = tt.status
			before := o
			wantError(t, o.Edit(tt.by, request(keel.OrderNew, line(pro, 1, 12)), keel.UTC.At(now)), tt.code, "")
			wantError(t, o.Delete(tt.by), tt.code, "")
			if !reflect.DeepEqual(o, before) {
				t.Errorf("a refusal changed the order: %+v", o)
			}
		})
	}
	o := draft(t, keel.OrderNew, line(pro, 10, 12))
	wantOK(t, o.Delete(seller))
	// An order stays with its customer.
	req := request(keel.OrderNew, line(pro, 1, 12))
	req.Customer = keel.Customer{ID: 99, Name: "Other"}
	wantError(t, o.Edit(seller, req, keel.UTC.At(now)), keel.EINVALID, "customer_id")
}
