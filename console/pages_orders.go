package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

func orderKindOptions(l lang, selected string) []option {
	var out []option
	for _, k := range keel.OrderKinds {
		out = append(out, option{string(k), orderKindLabel(l, k), string(k) == selected})
	}
	return out
}

func orderStatusOptions(l lang, selected string) []option {
	var out []option
	for _, st := range keel.OrderStatuses {
		out = append(out, option{string(st), orderStatusLabel(l, st), string(st) == selected})
	}
	return out
}

// orderRow is one order of a list.
type orderRow struct {
	ID          int64
	CustomerID  int64
	Customer    string
	Kind        string
	Status      keel.OrderStatus
	StatusLabel string
	Total       int64
	Currency    string
	CreatedBy   string
	CreatedAt   time.Time
	SubmittedAt *time.Time
	// For the approval queue: the approve form's defaults.
	PaidAmount string
}

// orderNames looks up the display names a list of orders needs: the
// employees (one query) and the customers on the page (one each; a page
// has at most 50).
type orderNames struct {
	emps      names
	customers map[int64]string
}

func (s *server) namesFor(ctx context.Context, orders []keel.Order) (orderNames, error) {
	n := orderNames{customers: map[int64]string{}}
	emps, err := s.Store.Employees(ctx)
	if err != nil {
		return n, err
	}
	n.emps = employeeNames(emps)
	ids := make([]int64, 0, len(orders))
	for _, o := range orders {
		ids = append(ids, o.CustomerID)
	}
	names, err := s.Store.CustomerNames(ctx, ids)
	if err != nil {
		return n, err
	}
	for _, id := range ids {
		if name, ok := names[id]; ok {
			n.customers[id] = name
		} else {
			n.customers[id] = fmt.Sprintf("#%d", id)
		}
	}
	return n, nil
}

func orderRows(l lang, n orderNames, orders []keel.Order) []orderRow {
	out := make([]orderRow, len(orders))
	for i, o := range orders {
		out[i] = orderRow{ID: o.ID, CustomerID: o.CustomerID, Customer: n.customers[o.CustomerID], Kind: orderKindLabel(l, o.Kind),
			Status: o.Status, StatusLabel: orderStatusLabel(l, o.Status), Total: o.Total(), Currency: o.Currency,
			CreatedBy: n.emps.of(o.CreatedBy), CreatedAt: o.CreatedAt, SubmittedAt: o.SubmittedAt,
			PaidAmount: strings.ReplaceAll(keel.FormatAmount(o.Total(), o.Currency), ",", "")}
	}
	return out
}

// orderFilter is the typed filter of the orders list.
type orderFilter struct {
	Status, Kind, Customer string
	Mine                   bool
}

type ordersData struct {
	Orders       []orderRow
	Pager        pager
	Filter       orderFilter
	Statuses     []option
	Kinds        []option
	CustomerName string
}

func (s *server) handleOrdersPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		q := r.URL.Query()
		ff := orderFilter{Status: q.Get("status"), Kind: q.Get("kind"), Customer: strings.TrimSpace(q.Get("customer")), Mine: q.Get("mine") == "1"}
		var f keel.OrderFilter
		var err error
		if f.Status, err = queryEnum(q, "status", keel.OrderStatuses); err != nil {
			return err
		}
		if f.Kind, err = queryEnum(q, "kind", keel.OrderKinds); err != nil {
			return err
		}
		if f.CustomerID, err = queryID(q, "customer"); err != nil {
			return err
		}
		if ff.Mine {
			f.CreatedBy = employeeFrom(r.Context()).ID
		}
		if f.Page, err = pageOf(r); err != nil {
			return err
		}
		orders, total, err := s.Store.Orders(r.Context(), f)
		if err != nil {
			return err
		}
		n, err := s.namesFor(r.Context(), orders)
		if err != nil {
			return err
		}
		d := ordersData{Orders: orderRows(l, n, orders), Pager: pagerOf(r, f.Page, total), Filter: ff,
			Statuses: orderStatusOptions(l, ff.Status), Kinds: orderKindOptions(l, ff.Kind)}
		if f.CustomerID > 0 {
			d.CustomerName = n.customers[f.CustomerID]
			if d.CustomerName == "" {
				names, err := s.Store.CustomerNames(r.Context(), []int64{f.CustomerID})
				if err != nil {
					return err
				}
				if d.CustomerName = names[f.CustomerID]; d.CustomerName == "" {
					return keel.CustomerNotFound(f.CustomerID)
				}
			}
		}
		s.render(w, r, http.StatusOK, "orders", page{Title: l.T("Orders"), Nav: "orders", Data: d})
		return nil
	})
}

// orderFormRows is how many line rows the new-order form offers.
const orderFormRows = 5

// lineForm is one line row of the new-order form, as typed.
type lineForm struct {
	Index                              int
	ProductID, Quantity, Months, Start string
	Products                           []option
	Bad                                bool   // the refusal is about this row
	BadField                           string // … and this input of it ("quantity"); "" = the row as a whole
	Error                              string // what the refusal says, shown beside the row
}

// orderForm is the new-order form, as typed.
type orderForm struct {
	Customer      string
	CustomerFixed bool
	CustomerName  string
	Customers     []option
	Kind          string
	Kinds         []option
	Lines         []lineForm
	Error         string
}

func (s *server) handleOrderNewPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		f := orderForm{Kind: string(keel.OrderNew)}
		id, err := queryID(r.URL.Query(), "customer")
		if err != nil {
			return err
		}
		if id > 0 {
			f.Customer, f.CustomerFixed = strconv.FormatInt(id, 10), true
		}
		for i := 0; i < orderFormRows; i++ {
			f.Lines = append(f.Lines, lineForm{Index: i})
		}
		return s.renderOrderForm(w, r, http.StatusOK, f)
	})
}

func (s *server) renderOrderForm(w http.ResponseWriter, r *http.Request, status int, f orderForm) error {
	l := s.langOf(r)
	ctx := r.Context()
	if f.CustomerFixed {
		id, err := formInt("customer_id", f.Customer)
		if err != nil {
			return err
		}
		names, err := s.Store.CustomerNames(ctx, []int64{id})
		if err != nil {
			return err
		}
		if f.CustomerName = names[id]; f.CustomerName == "" {
			return keel.CustomerNotFound(id)
		}
	} else {
		// Every customer, by name: one light query, not a page of views.
		refs, err := s.Names.CustomerRefs(ctx)
		if err != nil {
			return err
		}
		for _, c := range refs {
			v := strconv.FormatInt(c.ID, 10)
			f.Customers = append(f.Customers, option{v, c.Name, v == f.Customer})
		}
	}
	f.Kinds = orderKindOptions(l, f.Kind)
	entries, err := s.Store.Products(ctx)
	if err != nil {
		return err
	}
	// The product choices are the same for every line; only the selected
	// one differs.
	now := s.Now()
	var products []option
	for _, e := range entries {
		if e.Product.Status != keel.ProductEnabled {
			continue
		}
		label := e.Product.Name + " (" + e.Product.Code + ")"
		if price := currentPrice(l, e, now); price != "" {
			label += " · " + price
		}
		products = append(products, option{Value: strconv.FormatInt(e.Product.ID, 10), Label: label})
	}
	for i := range f.Lines {
		ln := &f.Lines[i]
		ln.Products = make([]option, len(products))
		for j, p := range products {
			p.Selected = p.Value == ln.ProductID
			ln.Products[j] = p
		}
	}
	s.render(w, r, status, "order_new", page{Title: l.T("New order"), Nav: "orders", Data: f})
	return nil
}

func (s *server) handleOrderCreateForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := orderForm{Customer: strings.TrimSpace(r.PostFormValue("customer_id")), CustomerFixed: r.PostFormValue("customer_fixed") == "1",
			Kind: r.PostFormValue("kind")}
		rows := orderFormRows
		for i := rows; i < keel.MaxLines; i++ {
			if _, ok := r.PostForm[fmt.Sprintf("lines[%d].product_id", i)]; ok {
				rows = i + 1
			}
		}
		for i := 0; i < rows; i++ {
			p := fmt.Sprintf("lines[%d].", i)
			f.Lines = append(f.Lines, lineForm{Index: i, ProductID: strings.TrimSpace(r.PostFormValue(p + "product_id")),
				Quantity: strings.TrimSpace(r.PostFormValue(p + "quantity")), Months: strings.TrimSpace(r.PostFormValue(p + "months")),
				Start: strings.TrimSpace(r.PostFormValue(p + "start"))})
		}
		o, err := s.createOrder(r, &f)
		if formRefused(err) {
			f.Error = l.Refusal(err)
			var e *keel.Error
			if errors.As(err, &e) {
				if i, rest, ok := lineField(e.Field); ok && i < len(f.Lines) {
					f.Lines[i].Bad, f.Lines[i].BadField, f.Lines[i].Error = true, strings.TrimPrefix(rest, "."), l.Reason(e)
				}
			}
			if f.CustomerFixed {
				// A fixed customer that is not there (any more): offer the picker.
				id, _ := strconv.ParseInt(f.Customer, 10, 64)
				names, cerr := s.Store.CustomerNames(r.Context(), []int64{id})
				if cerr != nil {
					return cerr
				}
				f.CustomerFixed = names[id] != ""
			}
			return s.renderOrderForm(w, r, statusOf(keel.ErrorCode(err)), f)
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, fmt.Sprintf("/orders/%d", o.ID), l.T("Order created as a draft. Submit it when it is ready for finance."))
		return nil
	})
}

// lineField splits a field about an order line, "lines[2].quantity", into
// the line's index and the rest (".quantity"); ok is false for any other
// field.
func lineField(field string) (i int, rest string, ok bool) {
	n, after, found := strings.Cut(strings.TrimPrefix(field, "lines["), "]")
	if !strings.HasPrefix(field, "lines[") || !found {
		return 0, "", false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 {
		return 0, "", false
	}
	return i, after, true
}

// createOrder reads the new-order form and creates the order; the rules of
// an order are the domain's (keel.NewOrder), the form only reads what was
// typed. Empty rows are skipped; a refusal about a line names the row as
// the form numbers it (lines[N], counting from 0), not its place among the
// filled rows.
func (s *server) createOrder(r *http.Request, f *orderForm) (keel.Order, error) {
	cid, err := formInt("customer_id", f.Customer)
	if err != nil {
		return keel.Order{}, err
	}
	var lines []keel.LineRequest
	var rowOf []int // the form row of each line
	for i, ln := range f.Lines {
		if ln.ProductID == "" && ln.Quantity == "" && ln.Months == "" && ln.Start == "" {
			continue
		}
		field := fmt.Sprintf("lines[%d]", i)
		pid, err := formInt(field+".product_id", ln.ProductID)
		if err != nil {
			return keel.Order{}, err
		}
		qty, err := formInt(field+".quantity", ln.Quantity)
		if err != nil {
			return keel.Order{}, err
		}
		months, err := formInt(field+".months", ln.Months)
		if err != nil {
			return keel.Order{}, err
		}
		lr := keel.LineRequest{ProductID: pid, Quantity: qty, Months: int(months)}
		if ln.Start != "" {
			start, err := parseDay(field+".start", ln.Start)
			if err != nil {
				return keel.Order{}, err
			}
			lr.Start = &start
		}
		lines = append(lines, lr)
		rowOf = append(rowOf, i)
	}
	o, err := s.Store.CreateOrder(r.Context(), employeeFrom(r.Context()), cid, keel.OrderKind(f.Kind), lines)
	var e *keel.Error
	if errors.As(err, &e) {
		if k, rest, ok := lineField(e.Field); ok && k < len(rowOf) {
			return keel.Order{}, keel.FieldErrorf(e.Code, fmt.Sprintf("lines[%d]%s", rowOf[k], rest), e.Key, e.Args...)
		}
	}
	return o, err
}

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

// grantRow is what one line of the order did to a subscription.
type grantRow struct {
	Product  string
	Cut      bool
	Trial    bool
	Quantity int64
	Start    string
	End      string
	Void     bool
}

// orderSubRow is one of the customer's subscriptions as of today.
type orderSubRow struct {
	Product     string
	Status      string
	StatusLabel string
	Start, End  string
	Quantity    int64
	Changed     bool // this order has a grant on it
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
	Subs        []orderSubRow
	ShowSubs    bool
	CanSubmit   bool
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
	o, err := s.Store.Order(ctx, id)
	if err != nil {
		return err
	}
	n, err := s.namesFor(ctx, []keel.Order{o})
	if err != nil {
		return err
	}
	entries, err := s.Store.Products(ctx)
	if err != nil {
		return err
	}
	products := map[int64]string{}
	for _, e := range entries {
		products[e.Product.ID] = e.Product.Name + " (" + e.Product.Code + ")"
	}
	product := func(id int64) string {
		if p, ok := products[id]; ok {
			return p
		}
		return fmt.Sprintf("#%d", id)
	}
	d := orderData{Order: o, Customer: n.customers[o.CustomerID], KindLabel: orderKindLabel(l, o.Kind), StatusLabel: orderStatusLabel(l, o.Status),
		Total: o.Total(), Reason: st.Reason, Error: st.Error}
	if o.Payment != nil {
		d.Outstanding = o.Total() - o.Payment.Amount
	}
	for _, ln := range o.Lines {
		d.Lines = append(d.Lines, lineRow{ProductID: ln.ProductID, Product: product(ln.ProductID), UnitAmount: ln.UnitAmount,
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

	grants, err := s.Store.OrderGrants(ctx, id)
	if err != nil {
		return err
	}
	changed := map[int64]bool{}
	for _, g := range grants {
		gj := toGrantJSON(g)
		row := grantRow{Product: product(g.ProductID), Cut: g.Kind == keel.GrantCut, Trial: g.Trial, Quantity: g.Quantity, Start: gj.Start, Void: g.Void}
		if gj.End != nil {
			row.End = *gj.End
		}
		d.Grants = append(d.Grants, row)
		changed[g.SubscriptionID] = true
	}
	if o.Status == keel.OrderApproved || o.Status == keel.OrderVoid {
		d.ShowSubs = true
		subs, _, err := s.Store.Subscriptions(ctx, keel.SubscriptionFilter{CustomerID: o.CustomerID, Page: keel.Page{Limit: keel.MaxPageSize}})
		if err != nil {
			return err
		}
		now := s.Now()
		for _, sub := range subs {
			sj := toSubscriptionJSON(sub, now)
			row := orderSubRow{Product: product(sub.ProductID), Status: sj.Status, StatusLabel: subscriptionStatusLabel(l, sj.Status),
				Quantity: sj.Quantity, Changed: changed[sub.ID]}
			if sj.Start != nil {
				row.Start, row.End = *sj.Start, *sj.End
			}
			d.Subs = append(d.Subs, row)
		}
	}

	d.CanSubmit = o.Status == keel.OrderDraft && me.ID == o.CreatedBy && me.Can(keel.ActOrderCreate) == nil
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
	id, err := pathID(r, keel.OrderNotFound)
	if err != nil {
		return err
	}
	o, err := s.Store.Order(r.Context(), id)
	if err != nil {
		return err
	}
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
			o, err := s.Store.SubmitOrder(r.Context(), by, o.ID)
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
			amount, err := keel.ParseAmount("paid_amount", f.PaidAmount, o.Currency)
			if err != nil {
				return "", err
			}
			p := keel.Payment{Amount: amount, Reference: f.PaymentRef}
			if f.PaidAt != "" { // none is the domain's to refuse, as is no reference
				if p.PaidAt, err = parseTime("paid_at", f.PaidAt); err != nil {
					return "", err
				}
			}
			if _, err := s.Store.ApproveOrder(r.Context(), by, o.ID, p); err != nil {
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
			if _, err := s.Store.RejectOrder(r.Context(), by, o.ID, reason); err != nil {
				return "", err
			}
			return l.T("Order %d rejected.", o.ID), nil
		})
	})
}

func (s *server) handleOrderVoidForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		return s.orderTransition(w, r, orderState{}, func(by keel.Employee, o keel.Order) (string, error) {
			if r.PostFormValue("confirm") != "yes" {
				return "", keel.Invalid("confirm", "tick the box to confirm that the order is voided and its service taken back")
			}
			if _, err := s.Store.VoidOrder(r.Context(), by, o.ID); err != nil {
				return "", err
			}
			return l.T("Order %d voided: what it granted was taken back.", o.ID), nil
		})
	})
}

type approvalsData struct {
	Orders []orderRow
	Pager  pager
	Today  string
}

// handleApprovalsPage is finance's queue: orders waiting for approval,
// oldest first. The store lists newest first, so a page of the queue is
// read from the end of that list.
func (s *server) handleApprovalsPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		ctx := r.Context()
		p, err := pageOf(r)
		if err != nil {
			return err
		}
		orders, total, err := s.Store.Orders(ctx, keel.OrderFilter{Status: keel.OrderPending, OldestFirst: true, Page: p})
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
