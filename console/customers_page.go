package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

// customerRow is one line of the customer list.
type customerRow struct {
	ID            int64
	Name, Tenant  string
	Status        keel.CustomerStatus
	StatusLabel   string
	Sales, CSM    string
	HasTrend      bool // the customer has a tenant and trends were read
	Trend         keel.Trend
	TrendLabel    string
	Logins        int64 // in the last trend window
	FirstPurchase *time.Time
}

type customerListData struct {
	Rows                     []customerRow
	Q                        string
	Statuses, Owners, Trends []option
	Pager                    pager
	TrendDays                int
	TrendsUnavailable        bool
	Filtered                 bool
}

// handleCustomersPage lists customers: searched by name or tenant id,
// filtered by status, owner and login trend, 50 a page.
func (s *server) handleCustomersPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		l := s.langOf(r)
		q := r.URL.Query()
		var f keel.CustomerFilter
		var err error
		f.Query = strings.TrimSpace(q.Get("q"))
		if f.Status, err = queryEnum(q, "status", keel.CustomerStatuses); err != nil {
			return err
		}
		if f.Owner, err = queryID(q, "owner"); err != nil {
			return err
		}
		trend, err := queryEnum(q, "trend", keel.Trends)
		if err != nil {
			return err
		}
		if f.Page, err = pageOf(r); err != nil {
			return err
		}
		// Every tenant's trend of the day, read again at most once a
		// minute (trendCache): the trend filter needs all of them, and reading
		// only the page's tenants costs ClickHouse nearly as much — their
		// rows are spread over every granule of the daily rollup.
		all, trendErr := s.trends.get(ctx, s.Warehouse, s.today(), s.Settings)
		if trend != "" {
			if trendErr != nil {
				return trendErr
			}
			if f.Tenants, err = s.tenantsTrending(r, trend, all.list, all.byTenant); err != nil {
				return err
			}
		}
		rows, total, err := s.customers.Customers(ctx, f)
		if err != nil {
			return err
		}
		if trendErr != nil {
			// The list is records from Postgres; without ClickHouse it
			// still shows them, only without the trend column.
			s.Log.Error("console", "path", r.URL.Path, "err", fmt.Errorf("customer list trends: %w", trendErr))
		}
		trends := all.byTenant
		emps, err := s.employees.Employees(ctx)
		if err != nil {
			return err
		}
		names := employeeNames(emps)
		d := customerListData{Q: f.Query, Pager: pagerOf(r, f.Page, total), TrendDays: s.trendDays(),
			TrendsUnavailable: trendErr != nil, Filtered: f.Query != "" || f.Status != "" || f.Owner != 0 || trend != ""}
		for _, v := range rows {
			row := customerRow{ID: v.ID, Name: v.Name, Tenant: v.TenantID, Status: v.Status, StatusLabel: customerStatusLabel(l, v.Status),
				Sales: names.ofPtr(v.SalesOwner), CSM: names.ofPtr(v.CSMOwner), FirstPurchase: v.FirstPurchase}
			if v.TenantID != "" && trendErr == nil {
				t, ok := trends[v.TenantID]
				if !ok { // no event in the lookback: no logins in either window
					t.Trend = keel.TrendFlat
				}
				row.HasTrend, row.Trend, row.TrendLabel, row.Logins = true, t.Trend, trendLabel(l, t.Trend), t.Last
			}
			d.Rows = append(d.Rows, row)
		}
		d.Statuses = append([]option{{Value: "", Label: l.T("Any status")}}, options(l, keel.CustomerStatuses, customerStatusLabel, string(f.Status))...)
		d.Owners = append([]option{{Value: "", Label: l.T("Any owner")}}, ownerOptions(emps, f.Owner)...)
		d.Trends = append([]option{{Value: "", Label: l.T("Any login trend")}}, options(l, keel.Trends, trendLabel, string(trend))...)
		s.render(w, r, http.StatusOK, "customers", page{Title: l.T("Customers"), Nav: "customers", Data: d})
		return nil
	})
}

// tenantsTrending lists the tenants whose login trend is trend. A tenant
// with no event in the trends' lookback had no logins in either window,
// which the trend rule calls flat: those are the linked tenants missing
// from the trends.
func (s *server) tenantsTrending(r *http.Request, trend keel.Trend, ts []warehouse.TenantTrend, byTenant map[string]warehouse.TenantTrend) ([]string, error) {
	out := []string{}
	for _, t := range ts {
		if t.Trend == trend {
			out = append(out, t.Tenant)
		}
	}
	if trend != keel.TrendFlat || s.Names == nil {
		return out, nil
	}
	linked, err := s.Names.TenantNames(r.Context())
	if err != nil {
		return nil, err
	}
	for tenant := range linked {
		if _, ok := byTenant[tenant]; !ok {
			out = append(out, tenant)
		}
	}
	return out, nil
}

// trendCache keeps one reading of every tenant's login trend for the day,
// shared by the customer list and the activity dashboard (sharedReading:
// read again when a minute old).
type trendCache struct{ sharedReading[tenantTrends] }

// tenantTrends is every tenant's trend, as a list and by tenant.
type tenantTrends struct {
	list     []warehouse.TenantTrend
	byTenant map[string]warehouse.TenantTrend
}

// get returns every tenant's trend as of day. Callers must not change
// what it returns.
func (c *trendCache) get(ctx context.Context, w Warehouse, day warehouse.Day, set warehouse.ActivitySettings) (tenantTrends, error) {
	return c.sharedReading.get(ctx, day.String(), func(ctx context.Context) (tenantTrends, error) {
		ts, err := w.TenantTrends(ctx, day, set)
		if err != nil {
			return tenantTrends{}, err
		}
		got := tenantTrends{list: ts, byTenant: make(map[string]warehouse.TenantTrend, len(ts))}
		for _, t := range ts {
			got.byTenant[t.Tenant] = t
		}
		return got, nil
	})
}
