package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

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

// orderNames are the display names a list of orders needs: the employees
// and the customers on the page, one query each.
type orderNames struct {
	emps      names
	customers map[int64]string
}

func (s *server) namesFor(ctx context.Context, orders []keel.Order) (orderNames, error) {
	n := orderNames{customers: map[int64]string{}}
	emps, err := s.employees.Employees(ctx)
	if err != nil {
		return n, err
	}
	n.emps = employeeNames(emps)
	ids := make([]int64, 0, len(orders))
	for _, o := range orders {
		ids = append(ids, o.CustomerID)
	}
	names, err := s.customers.CustomerNames(ctx, ids)
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
		orders, total, err := s.orders.Orders(r.Context(), f)
		if err != nil {
			return err
		}
		n, err := s.namesFor(r.Context(), orders)
		if err != nil {
			return err
		}
		d := ordersData{Orders: orderRows(l, n, orders), Pager: pagerOf(r, f.Page, total), Filter: ff,
			Statuses: options(l, keel.OrderStatuses, orderStatusLabel, ff.Status), Kinds: options(l, keel.OrderKinds, orderKindLabel, ff.Kind)}
		if f.CustomerID > 0 {
			d.CustomerName = n.customers[f.CustomerID]
			if d.CustomerName == "" {
				names, err := s.customers.CustomerNames(r.Context(), []int64{f.CustomerID})
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
