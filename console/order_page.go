package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// lineRow is one line of an order, as shown.
type lineRow struct {
	ProductID  int64
	Product    string
	UnitAmount int64
	Period     string
	Quantity   int64
	Months     int
	Start      *time.Time
	Total      int64
}

// orderEvent is one step of an order's life.
type orderEvent struct {
	At   time.Time
	What string
	Who  string
	Note string
}

// approveForm is the typed values of the approve form.
type approveForm struct {
	PaidAmount, PaidAt, PaymentRef string
}

type orderData struct {
	Order       keel.Order
	Customer    string
	KindLabel   string
	StatusLabel string
	Total       int64
	Outstanding int64
	Lines       []lineRow
	Timeline    []orderEvent
	Grants      []grantRow
	Subs        []subscriptionRow
	ShowSubs    bool
	CanSubmit   bool
	CanEdit     bool // edit or delete: a draft, for its creator
	CanDecide   bool // approve or reject
	CanVoid     bool
	Approve     approveForm
	Reason      string
	Error       string
}

// orderState is what a failed form on the order page typed.
type orderState struct {
	Approve *approveForm
	Reason  string
	Error   string
}

func (s *server) renderOrder(w http.ResponseWriter, r *http.Request, status int, id int64, st orderState) error {
	l := s.langOf(r)
	ctx := r.Context()
	me := employeeFrom(ctx)
	o, err := s.orders.Order(ctx, id)
	if err != nil {
		return err
	}
	n, err := s.namesFor(ctx, []keel.Order{o})
	if err != nil {
		return err
	}
	products, err := s.productNames(ctx)
	if err != nil {
		return err
	}
	d := orderData{Order: o, Customer: n.customers[o.CustomerID], KindLabel: orderKindLabel(l, o.Kind), StatusLabel: orderStatusLabel(l, o.Status),
		Total: o.Total(), Reason: st.Reason, Error: st.Error}
	if o.Payment != nil {
		d.Outstanding = o.Total() - o.Payment.Amount
	}
	for _, ln := range o.Lines {
		d.Lines = append(d.Lines, lineRow{ProductID: ln.ProductID, Product: products.label(ln.ProductID), UnitAmount: ln.UnitAmount,
			Period: periodLabel(l, ln.Period), Quantity: ln.Quantity, Months: ln.Months, Start: ln.Start, Total: ln.Total()})
	}

	d.Timeline = append(d.Timeline, orderEvent{At: o.CreatedAt, What: l.T("Created"), Who: n.emps.of(o.CreatedBy)})
	if o.SubmittedAt != nil {
		d.Timeline = append(d.Timeline, orderEvent{At: *o.SubmittedAt, What: l.T("Submitted for approval"), Who: n.emps.of(o.CreatedBy)})
	}
	if o.DecidedAt != nil {
		ev := orderEvent{At: *o.DecidedAt}
		if o.DecidedBy != nil {
			ev.Who = n.emps.of(*o.DecidedBy)
		}
		switch {
		case o.Status == keel.OrderRejected:
			ev.What, ev.Note = l.T("Rejected by finance"), o.RejectReason
		case o.DecidedBy == nil:
			ev.What = l.T("Approved itself (trials need no approval)")
		default:
			ev.What = l.T("Approved after payment was confirmed")
		}
		d.Timeline = append(d.Timeline, ev)
	}
	if o.VoidedAt != nil {
		ev := orderEvent{At: *o.VoidedAt, What: l.T("Voided: what it granted was taken back")}
		if o.VoidedBy != nil {
			ev.Who = n.emps.of(*o.VoidedBy)
		}
		d.Timeline = append(d.Timeline, ev)
	}

	grants, err := s.orders.OrderGrants(ctx, id)
	if err != nil {
		return err
	}
	changed := map[int64]bool{}
	for _, g := range grants {
		d.Grants = append(d.Grants, grantRowOf(g, products.label(g.ProductID)))
		changed[g.SubscriptionID] = true
	}
	if o.Status == keel.OrderApproved || o.Status == keel.OrderVoid {
		d.ShowSubs = true
		subs, _, err := s.subscriptions.Subscriptions(ctx, keel.SubscriptionFilter{CustomerID: o.CustomerID, Page: keel.Page{Limit: keel.MaxPageSize}})
		if err != nil {
			return err
		}
		today := s.day()
		for _, sub := range subs {
			row := subscriptionRowOf(l, sub, products.label(sub.ProductID), products[sub.ProductID].Unit, today)
			row.Changed = changed[sub.ID]
			d.Subs = append(d.Subs, row)
		}
	}

	d.CanSubmit = o.Status == keel.OrderDraft && me.ID == o.CreatedBy && me.Can(keel.ActOrderCreate) == nil
	d.CanEdit = o.CheckEdit(me) == nil
	d.CanDecide = o.Status == keel.OrderPending && me.Can(keel.ActOrderDecide) == nil
	d.CanVoid = o.Status == keel.OrderApproved && me.Can(keel.ActOrderDecide) == nil
	if st.Approve != nil {
		d.Approve = *st.Approve
	} else {
		d.Approve = approveForm{PaidAmount: strings.ReplaceAll(keel.FormatAmount(o.Total(), o.Currency), ",", ""), PaidAt: s.today().String()}
	}
	s.render(w, r, status, "order", page{Title: l.T("Order %d", o.ID), Nav: "orders", Data: d})
	return nil
}

func (s *server) handleOrderPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.OrderNotFound)
		if err != nil {
			return err
		}
		return s.renderOrder(w, r, http.StatusOK, id, orderState{})
	})
}

// orderTransition runs one transition of an order from its page: on success
// back to where the form came from with a message; a refusal the user can
// act on shows the order page again with it.
func (s *server) orderTransition(w http.ResponseWriter, r *http.Request, st orderState,
	do func(by keel.Employee, o keel.Order) (string, error)) error {
	o, err := pathRecord(r, keel.OrderNotFound, s.orders.Order)
	if err != nil {
		return err
	}
	id := o.ID
	msg, err := do(employeeFrom(r.Context()), o)
	if formRefused(err) {
		st.Error = s.langOf(r).Refusal(err)
		return s.renderOrder(w, r, statusOf(keel.ErrorCode(err)), id, st)
	}
	if err != nil {
		return err
	}
	to := fmt.Sprintf("/orders/%d", id)
	if r.PostFormValue("next") == "approvals" {
		to = "/approvals"
	}
	s.redirect(w, r, to, msg)
	return nil
}

func (s *server) handleOrderSubmitForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		return s.orderTransition(w, r, orderState{}, func(by keel.Employee, o keel.Order) (string, error) {
			o, err := s.orders.SubmitOrder(r.Context(), by, o.ID)
			if err != nil {
				return "", err
			}
			if o.Status == keel.OrderApproved {
				return l.T("Trial order approved itself: the service is granted."), nil
			}
			return l.T("Order submitted: it waits for finance's approval."), nil
		})
	})
}

func (s *server) handleOrderApproveForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := approveForm{PaidAmount: strings.TrimSpace(r.PostFormValue("paid_amount")), PaidAt: strings.TrimSpace(r.PostFormValue("paid_at")),
			PaymentRef: strings.TrimSpace(r.PostFormValue("payment_ref"))}
		return s.orderTransition(w, r, orderState{Approve: &f}, func(by keel.Employee, o keel.Order) (string, error) {
			amount, err := keel.ParseAmount("paid_amount", f.PaidAmount, o.Currency, l.Locale)
			if err != nil {
				return "", err
			}
			p := keel.Payment{Amount: amount, Reference: f.PaymentRef}
			if f.PaidAt != "" { // none is the domain's to refuse, as is no reference
				if p.PaidAt, err = parseTime(s.Calendar, "paid_at", f.PaidAt); err != nil {
					return "", err
				}
			}
			if _, err := s.orders.ApproveOrder(r.Context(), by, o.ID, p); err != nil {
				return "", err
			}
			return l.T("Order %d approved: the service is granted.", o.ID), nil
		})
	})
}

func (s *server) handleOrderRejectForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		return s.orderTransition(w, r, orderState{Reason: reason}, func(by keel.Employee, o keel.Order) (string, error) {
			if _, err := s.orders.RejectOrder(r.Context(), by, o.ID, reason); err != nil {
				return "", err
			}
			return l.T("Order %d rejected.", o.ID), nil
		})
	})
}

// handleOrderDeleteForm deletes a draft, for its creator, once the box
// saying so is ticked; back to the list of orders.
func (s *server) handleOrderDeleteForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		o, err := pathRecord(r, keel.OrderNotFound, s.orders.Order)
		if err != nil {
			return err
		}
		me := employeeFrom(r.Context())
		if err := o.Delete(me); err != nil {
			return err // not theirs, or not a draft: refused before anything is asked
		}
		err = keel.Invalid("confirm", "tick the box to confirm that the draft is deleted")
		if r.PostFormValue("confirm") == "yes" {
			err = s.orders.DeleteOrder(r.Context(), me, o.ID)
		}
		if formRefused(err) {
			return s.renderOrder(w, r, statusOf(keel.ErrorCode(err)), o.ID, orderState{Error: l.Refusal(err)})
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/orders", l.T("Draft order %d deleted.", o.ID))
		return nil
	})
}

func (s *server) handleOrderVoidForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		return s.orderTransition(w, r, orderState{}, func(by keel.Employee, o keel.Order) (string, error) {
			if r.PostFormValue("confirm") != "yes" {
				return "", keel.Invalid("confirm", "tick the box to confirm that the order is voided and its service taken back")
			}
			if _, err := s.orders.VoidOrder(r.Context(), by, o.ID); err != nil {
				return "", err
			}
			return l.T("Order %d voided: what it granted was taken back.", o.ID), nil
		})
	})
}
