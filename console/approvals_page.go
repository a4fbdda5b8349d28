package console

import (
	"net/http"

	"github.com/keelhq/keel"
)

type approvalsData struct {
	Orders []orderRow
	Pager  pager
	Today  string
}

// handleApprovalsPage is finance's queue: orders waiting for approval,
// oldest submission first (the store orders them so, OrderFilter's
// OldestFirst), 50 a page, each with an approve form whose paid-on day is
// today, the reporting day.
func (s *server) handleApprovalsPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		ctx := r.Context()
		p, err := pageOf(r)
		if err != nil {
			return err
		}
		orders, total, err := s.orders.Orders(ctx, keel.OrderFilter{Status: keel.OrderPending, OldestFirst: true, Page: p})
		if err != nil {
			return err
		}
		n, err := s.namesFor(ctx, orders)
		if err != nil {
			return err
		}
		d := approvalsData{Orders: orderRows(l, n, orders), Pager: pagerOf(r, p, total), Today: s.today().String()}
		s.render(w, r, http.StatusOK, "approvals", page{Title: l.T("Approvals"), Nav: "approvals", Data: d})
		return nil
	})
}
