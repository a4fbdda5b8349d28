package console

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
)

// actTenantPage is the data of a tenant's activity page.
type actTenantPage struct {
	Activity  keel.Activity
	Name      string // the tenant's display name, if known
	Customer  *keel.CustomerRef
	Last      keel.ActivityDay
	To        string
	TrendDays int
	Chart     string
}

// handleTenantActivity is one tenant's last 90 days (to ?to=YYYY-MM-DD,
// default today): the chart, trend, WAU and MAU. It is the page of a tenant
// no customer claims yet; when one does, the page links to the customer.
func (s *server) handleTenantActivity() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		tenant := chi.URLParam(r, "tenant")
		to := s.today()
		if v := r.URL.Query().Get("to"); v != "" {
			d, err := queryDay("to", v)
			if err != nil {
				return err
			}
			to = d
		}
		var (
			a     keel.Activity
			owner []keel.CustomerView
			names map[string]string
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			a, err = s.Warehouse.Activity(gctx, tenant, to.AddDays(1-actDays), to, s.Settings)
			return err
		})
		g.Go(func() (err error) {
			owner, _, err = s.customers.Customers(gctx, keel.CustomerFilter{Tenants: []string{tenant}, Page: keel.Page{Limit: 1}})
			return err
		})
		g.Go(func() (err error) {
			names, err = s.Names.TenantNames(gctx)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}
		p := actTenantPage{Activity: a, Name: names[tenant], To: to.String(), TrendDays: s.trendDays(), Chart: activityChart(l, a)}
		if len(owner) > 0 {
			c := owner[0]
			p.Customer = &keel.CustomerRef{ID: c.ID, Name: c.Name, TenantID: c.TenantID, Status: c.Status}
		}
		if n := len(a.Days); n > 0 {
			p.Last = a.Days[n-1]
		}
		s.render(w, r, http.StatusOK, "activity_tenant", page{Title: l.T("Activity of %s", tenant), Nav: "activity", Data: p})
		return nil
	})
}
