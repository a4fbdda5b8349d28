package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel"
)

type custOrderRow struct {
	ID                     int64
	Kind, Status           string
	KindLabel, StatusLabel string
	Total                  int64
	Currency               string
	CreatedAt              time.Time
}

type custFollowUpRow struct {
	keel.FollowUp
	KindLabel string
	Author    string
}

// custActivityPanel is the customer's product activity on the 360 page.
type custActivityPanel struct {
	Trend           keel.Trend
	TrendLabel      string
	Today, WAU, MAU int64
	Logins90        int64
	Chart           string
	From, To        string
}

type customer360Data struct {
	C                   keel.CustomerView
	StatusLabel         string
	Sales, CSM          string
	Subscriptions       []subscriptionRow
	Orders              []custOrderRow
	OrdersTotal         int
	FollowUps           []custFollowUpRow
	FollowUpTotal       int
	Pager               pager
	Form                followUpForm
	Activity            *custActivityPanel
	ActivityUnavailable bool
	Revenue             *custRevenuePanel // nil for those who may not read revenue
	Health              *custHealthPanel  // nil for those who may not read health
}

func (s *server) handleCustomer360() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		return s.render360(w, r, id, http.StatusOK, nil)
	})
}

// render360 shows a customer with everything known about it; ff is the
// follow-up form as typed when it was refused, nil for a fresh one.
func (s *server) render360(w http.ResponseWriter, r *http.Request, id int64, status int, ff *followUpForm) error {
	ctx := r.Context()
	l := s.langOf(r)
	v, err := s.customers.Customer(ctx, id)
	if err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	emps, err := s.employees.Employees(ctx)
	if err != nil {
		return err
	}
	names := employeeNames(emps)
	now := s.Now()
	loc := s.location()
	d := customer360Data{C: v, StatusLabel: customerStatusLabel(l, v.Status), Sales: names.ofPtr(v.SalesOwner), CSM: names.ofPtr(v.CSMOwner)}

	// The panels from ClickHouse (activity, revenue, health) are read while
	// the records are, each showing itself unavailable rather than failing
	// the page: the records are Postgres's and are shown without ClickHouse.
	var (
		wg      sync.WaitGroup
		act     *custActivityPanel
		actDown bool
		rev     *custRevenuePanel
		health  *custHealthPanel
	)
	defer wg.Wait()
	if v.TenantID != "" {
		wg.Go(func() { act, actDown = s.customerActivity(ctx, r, l, v) })
	}
	wg.Go(func() { rev = s.customerRevenue(ctx, r, id) })
	wg.Go(func() { health = s.customerHealthPanel(ctx, r, id) })

	if len(v.Subscriptions) > 0 {
		products, err := s.productNames(ctx)
		if err != nil {
			return err
		}
		for _, sub := range v.Subscriptions {
			d.Subscriptions = append(d.Subscriptions, subscriptionRowOf(l, sub, products.name(sub.ProductID), products[sub.ProductID].Unit, s.day()))
		}
	}

	orders, n, err := s.orders.Orders(ctx, keel.OrderFilter{CustomerID: id, Page: keel.Page{Limit: 20}})
	if err != nil {
		return err
	}
	d.OrdersTotal = n
	for _, o := range orders {
		d.Orders = append(d.Orders, custOrderRow{ID: o.ID, Kind: string(o.Kind), Status: string(o.Status), KindLabel: orderKindLabel(l, o.Kind),
			StatusLabel: orderStatusLabel(l, o.Status), Total: o.Total(), Currency: o.Currency, CreatedAt: o.CreatedAt})
	}

	fus, n, err := s.followUps.FollowUps(ctx, id, p)
	if err != nil {
		return err
	}
	// Links go to the customer's page, also when a refused follow-up form
	// (posted to …/followups) shows it.
	d.FollowUpTotal, d.Pager = n, pagerAt("/customers/"+strconv.FormatInt(id, 10), r.URL.Query(), p, n)
	for _, f := range fus {
		d.FollowUps = append(d.FollowUps, custFollowUpRow{FollowUp: f, KindLabel: followUpKindLabel(l, f.Kind), Author: names.of(f.AuthorID)})
	}

	if ff == nil {
		ff = &followUpForm{Kind: string(keel.FollowUpCall), At: now.In(loc).Format(custLocalMinute)}
	}
	ff.Kinds = options(l, keel.FollowUpKinds, followUpKindLabel, ff.Kind)
	ff.Zone = loc.String()
	d.Form = *ff

	wg.Wait()
	d.Activity, d.ActivityUnavailable, d.Revenue, d.Health = act, actDown, rev, health
	s.render(w, r, status, "customer", page{Title: v.Name, Nav: "customers", Data: d})
	return nil
}

// customerActivity is the customer's activity panel: its tenant's last 90
// days and login trend; unavailable (true) when ClickHouse could not say.
func (s *server) customerActivity(ctx context.Context, r *http.Request, l lang, v keel.CustomerView) (*custActivityPanel, bool) {
	today := s.today()
	from := today.AddDays(-89)
	a, err := s.Warehouse.Activity(ctx, v.TenantID, from, today, s.Settings)
	if err != nil {
		s.Log.Error("console", "path", r.URL.Path, "err", fmt.Errorf("customer %d activity: %w", v.ID, err))
		return nil, true
	}
	ap := &custActivityPanel{Trend: a.Trend, TrendLabel: trendLabel(l, a.Trend), Chart: activityChart(l, a), From: from.String(), To: today.String()}
	if n := len(a.Days); n > 0 {
		last := a.Days[n-1]
		ap.Today, ap.WAU, ap.MAU = last.ActiveUsers, last.WAU, last.MAU
	}
	for _, day := range a.Days {
		ap.Logins90 += day.Logins
	}
	return ap, false
}
