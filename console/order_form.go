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

// orderFormRows is how many line rows the new-order form offers.
const orderFormRows = 5

// orderFormChoices is how many customers the new-order form's picker
// lists: the matches of its search, never every customer (at 10,000 a
// <select> of all of them is slow to make and useless to scroll).
const orderFormChoices = 50

// lineForm is one line row of the new-order form, as typed.
type lineForm struct {
	Index                              int
	ProductID, Quantity, Months, Start string
	Products                           []option
	Bad                                bool   // the refusal is about this row
	BadField                           string // … and this input of it ("quantity"); "" = the row as a whole
	Error                              string // what the refusal says, shown beside the row
}

// orderForm is the new-order form, as typed; with an ID, the same form
// editing that draft (whose customer is fixed).
type orderForm struct {
	ID            int64
	Customer      string
	CustomerFixed bool
	CustomerName  string
	CustomerQuery string   // the customer search as typed ("" = the first by name)
	Customers     []option // at most orderFormChoices matches of CustomerQuery
	MoreCustomers bool     // there are more matches than shown
	Kind          string
	Kinds         []option
	Lines         []lineForm
	Error         string
}

func (s *server) handleOrderNewPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		f := orderForm{Kind: string(keel.OrderNew), CustomerQuery: strings.TrimSpace(r.URL.Query().Get("customer_q"))}
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
		names, err := s.customers.CustomerNames(ctx, []int64{id})
		if err != nil {
			return err
		}
		if f.CustomerName = names[id]; f.CustomerName == "" {
			return keel.CustomerNotFound(id)
		}
	} else if err := s.customerChoices(ctx, &f); err != nil {
		return err
	}
	f.Kinds = options(l, keel.OrderKinds, orderKindLabel, f.Kind)
	entries, err := s.catalogue.Products(ctx)
	if err != nil {
		return err
	}
	// The product choices are the same for every line; only the selected
	// one differs.
	today := s.day()
	var products []option
	for _, e := range entries {
		if e.Product.Status != keel.ProductEnabled {
			continue
		}
		label := e.Product.Name + " (" + e.Product.Code + ")"
		if price := currentPrice(l, e, today); price != "" {
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
	title := l.T("New order")
	if f.ID != 0 {
		title = l.T("Edit order %d", f.ID)
	}
	s.render(w, r, status, "order_new", page{Title: title, Nav: "orders", Data: f})
	return nil
}

// customerChoices fills the picker of form f: the first orderFormChoices
// customers matching its search, and the customer it names (one posted
// and refused) at the top if the search does not find it.
func (s *server) customerChoices(ctx context.Context, f *orderForm) error {
	if len(f.CustomerQuery) > 200 {
		return keel.Invalid("customer_q", "at most %d characters", 200)
	}
	cs, err := s.customers.CustomerChoices(ctx, f.CustomerQuery, orderFormChoices+1)
	if err != nil {
		return err
	}
	if f.MoreCustomers = len(cs) > orderFormChoices; f.MoreCustomers {
		cs = cs[:orderFormChoices]
	}
	found := false
	for _, c := range cs {
		v := strconv.FormatInt(c.ID, 10)
		found = found || v == f.Customer
		f.Customers = append(f.Customers, option{v, c.Name, v == f.Customer})
	}
	if id, err := strconv.ParseInt(f.Customer, 10, 64); !found && err == nil && id > 0 {
		names, err := s.customers.CustomerNames(ctx, []int64{id})
		if err != nil {
			return err
		}
		if n := names[id]; n != "" {
			f.Customers = append([]option{{f.Customer, n, true}}, f.Customers...)
		}
	}
	return nil
}

// orderFormOf reads the posted order form: its rows are as many as the
// form sent, at least orderFormRows.
func orderFormOf(r *http.Request) orderForm {
	f := orderForm{Customer: strings.TrimSpace(r.PostFormValue("customer_id")), CustomerFixed: r.PostFormValue("customer_fixed") == "1",
		CustomerQuery: strings.TrimSpace(r.PostFormValue("customer_q")), Kind: r.PostFormValue("kind")}
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
	return f
}

// formOfOrder is the form editing draft o, prefilled with its lines and
// room for a few more.
func formOfOrder(o keel.Order) orderForm {
	f := orderForm{ID: o.ID, Customer: strconv.FormatInt(o.CustomerID, 10), CustomerFixed: true, Kind: string(o.Kind)}
	for i, ln := range o.Lines {
		lf := lineForm{Index: i, ProductID: strconv.FormatInt(ln.ProductID, 10), Quantity: strconv.FormatInt(ln.Quantity, 10),
			Months: strconv.Itoa(ln.Months)}
		if ln.Start != nil {
			lf.Start = ln.Start.Format(time.DateOnly)
		}
		f.Lines = append(f.Lines, lf)
	}
	for i := len(f.Lines); i < max(orderFormRows, len(o.Lines)+2) && i < keel.MaxLines; i++ {
		f.Lines = append(f.Lines, lineForm{Index: i})
	}
	return f
}

// refuseOrderForm shows the form again with a refusal the employee can
// act on, beside the row it is about.
func (s *server) refuseOrderForm(w http.ResponseWriter, r *http.Request, f orderForm, err error) error {
	l := s.langOf(r)
	f.Error = l.Refusal(err)
	var e *keel.Error
	if errors.As(err, &e) {
		if i, rest, ok := lineField(e.Field); ok && i < len(f.Lines) {
			f.Lines[i].Bad, f.Lines[i].BadField, f.Lines[i].Error = true, strings.TrimPrefix(rest, "."), l.Reason(e)
		}
	}
	return s.renderOrderForm(w, r, statusOf(keel.ErrorCode(err)), f)
}

func (s *server) handleOrderCreateForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := orderFormOf(r)
		o, err := s.createOrder(r, &f)
		if formRefused(err) {
			if f.CustomerFixed {
				// A fixed customer that is not there (any more): offer the picker.
				id, _ := strconv.ParseInt(f.Customer, 10, 64)
				names, cerr := s.customers.CustomerNames(r.Context(), []int64{id})
				if cerr != nil {
					return cerr
				}
				f.CustomerFixed = names[id] != ""
			}
			return s.refuseOrderForm(w, r, f, err)
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
	lines, rowOf, err := f.lineRequests()
	if err != nil {
		return keel.Order{}, err
	}
	o, err := s.orders.CreateOrder(r.Context(), employeeFrom(r.Context()), cid, keel.OrderKind(f.Kind), lines)
	return o, rowError(err, rowOf)
}

// lineRequests reads the typed rows into lines, skipping empty rows;
// rowOf is the form row of each line.
func (f orderForm) lineRequests() (lines []keel.LineRequest, rowOf []int, err error) {
	for i, ln := range f.Lines {
		if ln.ProductID == "" && ln.Quantity == "" && ln.Months == "" && ln.Start == "" {
			continue
		}
		field := fmt.Sprintf("lines[%d]", i)
		pid, err := formInt(field+".product_id", ln.ProductID)
		if err != nil {
			return nil, nil, err
		}
		qty, err := formInt(field+".quantity", ln.Quantity)
		if err != nil {
			return nil, nil, err
		}
		months, err := formInt(field+".months", ln.Months)
		if err != nil {
			return nil, nil, err
		}
		lr := keel.LineRequest{ProductID: pid, Quantity: qty, Months: int(months)}
		if ln.Start != "" {
			start, err := parseDay(field+".start", ln.Start)
			if err != nil {
				return nil, nil, err
			}
			lr.Start = &start
		}
		lines = append(lines, lr)
		rowOf = append(rowOf, i)
	}
	return lines, rowOf, nil
}

// rowError names a refusal about lines[k] — the k-th filled row — after
// the row of the form it came from.
func rowError(err error, rowOf []int) error {
	var e *keel.Error
	if errors.As(err, &e) {
		if k, rest, ok := lineField(e.Field); ok && k < len(rowOf) {
			return keel.FieldErrorf(e.Code, fmt.Sprintf("lines[%d]%s", rowOf[k], rest), e.Key, e.Args...)
		}
	}
	return err
}

// handleOrderEditPage is the new-order form editing a draft, for its
// creator; anyone else gets the refusal the edit would give.
func (s *server) handleOrderEditPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		o, err := pathRecord(r, keel.OrderNotFound, s.orders.Order)
		if err != nil {
			return err
		}
		if err := o.CheckEdit(employeeFrom(r.Context())); err != nil {
			return err
		}
		return s.renderOrderForm(w, r, http.StatusOK, formOfOrder(o))
	})
}

// handleOrderSaveForm stores an edited draft; its customer is the order's,
// whatever the form says.
func (s *server) handleOrderSaveForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		o, err := pathRecord(r, keel.OrderNotFound, s.orders.Order)
		if err != nil {
			return err
		}
		f := orderFormOf(r)
		f.ID, f.Customer, f.CustomerFixed = o.ID, strconv.FormatInt(o.CustomerID, 10), true
		lines, rowOf, err := f.lineRequests()
		if err == nil {
			_, err = s.orders.EditOrder(r.Context(), employeeFrom(r.Context()), o.ID, keel.OrderKind(f.Kind), lines)
			err = rowError(err, rowOf)
		}
		if formRefused(err) {
			return s.refuseOrderForm(w, r, f, err)
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, fmt.Sprintf("/orders/%d", o.ID), l.T("Draft saved."))
		return nil
	})
}

// handleOrderCustomerChoices is GET /orders/new/customers?q=&limit=: the
// customers the new-order form's picker offers as the employee types, as
// JSON {"customers": [{"id", "name", "tenant_id"}], "more"} — at most
// limit (default and most orderFormChoices) matches of q (a name, tenant
// or id). It needs the right to create orders, like the form; a bad q or
// limit is 400 naming it.
func (s *server) handleOrderCustomerChoices() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := employeeFrom(r.Context()).Can(keel.ActOrderCreate); err != nil {
			return err
		}
		q := r.URL.Query()
		limit := orderFormChoices
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > orderFormChoices {
				return keel.Invalid("limit", "must be %d to %d", 1, orderFormChoices)
			}
			limit = n
		}
		query := strings.TrimSpace(q.Get("q"))
		if len(query) > 200 {
			return keel.Invalid("q", "at most %d characters", 200)
		}
		cs, err := s.customers.CustomerChoices(r.Context(), query, limit+1)
		if err != nil {
			return err
		}
		type choice struct {
			ID       int64  `json:"id"`
			Name     string `json:"name"`
			TenantID string `json:"tenant_id"`
		}
		out := struct {
			Customers []choice `json:"customers"`
			More      bool     `json:"more"`
		}{Customers: []choice{}, More: len(cs) > limit}
		for _, c := range cs[:min(len(cs), limit)] {
			out.Customers = append(out.Customers, choice(c))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}
