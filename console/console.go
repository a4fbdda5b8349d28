// Package console is Keel's web console: server-rendered pages over chi,
// with charts built in Go (go-echarts) and drawn by ECharts served from the
// binary, so the console works with no internet; and the JSON API under
// /api/v1/, where every request carries a personal API token.
//
// Pages need a sign-in (a server-side session in Postgres, see session.go);
// each shows and offers only what the employee's roles allow, and every
// form carries a CSRF token. The text is English or Simplified Chinese, as
// each employee chooses (i18n.go).
package console

import (
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/warehouse"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Warehouse is what the console reads from ClickHouse.
type Warehouse interface {
	Tenants(ctx context.Context, now time.Time) ([]warehouse.TenantSummary, error)
	Activity(ctx context.Context, tenant string, from, to warehouse.Day, s warehouse.ActivitySettings) (keel.Activity, error)
	DailyTotals(ctx context.Context, from, to warehouse.Day, s warehouse.ActivitySettings) ([]warehouse.DailyTotal, error)
	TenantTrends(ctx context.Context, to warehouse.Day, s warehouse.ActivitySettings) ([]warehouse.TenantTrend, error)
	TenantTrendsOf(ctx context.Context, to warehouse.Day, s warehouse.ActivitySettings, tenants []string) ([]warehouse.TenantTrend, error)
	TenantTrendsOfTwo(ctx context.Context, to warehouse.Day, s warehouse.ActivitySettings, second keel.TrendRule, tenants []string) ([]warehouse.TenantTrend, []warehouse.TenantTrend, error)
}

// Names gives tenants their display names and the customers they belong
// to (from Postgres).
type Names interface {
	TenantNames(ctx context.Context) (map[string]string, error)
	// CustomerOwners are customers ids (nil: all) with their names,
	// tenants and owners, nothing derived: for the health and activity
	// pages, which show no status or (CustomerStatuses) a few.
	CustomerOwners(ctx context.Context, ids []int64) ([]keel.CustomerOwner, error)
	// CustomerStatuses derives the status of customers ids only.
	CustomerStatuses(ctx context.Context, ids []int64) (map[int64]keel.CustomerStatus, error)
	CustomersOwnedBy(ctx context.Context, employee int64) ([]int64, error)
	CustomerOwnerIDs(ctx context.Context) ([]keel.CustomerOwner, error)
	// ReviewCustomers is a page of the weekly review's customers by name
	// (owner's, or all for 0; of ids unless nil), statuses derived for the
	// page only, and their number.
	ReviewCustomers(ctx context.Context, owner int64, ids []int64, p keel.Page) ([]keel.CustomerRef, int, error)
}

// Deps are the console's dependencies.
type Deps struct {
	Warehouse Warehouse
	Names     Names
	Store     Store // records, sign-in (the handler groups' stores); nil = pages and API answer 503
	// Revenue is the warehouse's revenue (revenue.go); nil = the revenue
	// pages and API answer 503.
	Revenue RevenueReader
	// Health is the warehouse's daily health scores (health.go); nil =
	// the health pages and API answer 503.
	Health HealthReader
	// Calendar is the reporting timezone: which day the pages and the API
	// call today, how they show instants, and how activity is cut into days
	// (it sets Settings.Location). The zero Calendar is UTC.
	Calendar keel.Calendar
	Settings warehouse.ActivitySettings
	Log      *slog.Logger
	Now      func() time.Time // nil = time.Now

	// SecureCookies marks the session cookie Secure (HTTPS only) even when
	// a request arrives over plain HTTP, as behind a TLS-terminating proxy.
	// Requests over TLS always get Secure cookies.
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts; 0 = DefaultSessionTTL.
	SessionTTL time.Duration
	// TrustedProxies are the addresses of the proxies in front of the
	// console: a request from one of them is throttled and recorded by the
	// client address its X-Forwarded-For names. From anywhere else that
	// header is ignored (anyone can send it). None = every request's
	// address is the connection's.
	TrustedProxies []netip.Prefix
}

// Store is everything the console reads and changes in Postgres: the
// handler groups' stores, each declared beside the handlers that use it
// (CustomerStore in api_customers.go, SessionStore in session.go …), and
// each a field of the server, so a handler reads only what its group
// needs. Every method that changes a record takes the employee making the
// change, checks their role itself and writes the audit log in the same
// transaction; errors are *keel.Error with a code, or internal failures.
type Store interface {
	CustomerStore
	FollowUpStore
	ProductStore
	OrderStore
	SubscriptionStore
	EmployeeStore
	AuditStore
	SessionStore
	DigestStore
	PasswordStore
	SignInStore
	TokenStore
	RevenueStore
	HealthStore
	CredentialStore
}

type server struct {
	Deps
	pages   map[string]*template.Template
	catalog catalog

	// The handler groups' stores: Deps.Store, each as its group sees it.
	customers     CustomerStore
	trends        trendCache                            // every tenant's login trend, for the customer list (customers_page.go)
	totals        sharedReading[[]warehouse.DailyTotal] // the company's daily activity, for the dashboard (activity_page.go)
	briefs        stampCache[[]warehouse.HealthBrief]   // days' health score briefs, for the health overview (health_briefs.go)
	drops         stampCache[[]healthDrop]              // the week's biggest drops of health (health_page.go)
	followUps     FollowUpStore
	catalogue     ProductStore
	orders        OrderStore
	subscriptions SubscriptionStore
	employees     EmployeeStore
	audit         AuditStore
	sessions      SessionStore
	digests       DigestStore // the morning digest (api_digest.go)
	passwords     PasswordStore
	signIns       SignInStore
	tokens        TokenStore
	// revenueRecords are the revenue settings and spend (revenue.go).
	revenueRecords RevenueStore
	// healthRecords are the churn warnings and health settings (health.go).
	healthRecords HealthStore
	credentials   CredentialStore
}

// NewServer returns the console's handler. Templates are parsed once, here.
func NewServer(d Deps) (http.Handler, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Settings.Now == nil {
		d.Settings.Now = d.Now // which days are over, for trends
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.SessionTTL == 0 {
		d.SessionTTL = DefaultSessionTTL
	}
	d.Settings.Location = d.Calendar.Location() // one reporting timezone
	pages, err := parsePages(d.Calendar)
	if err != nil {
		return nil, err
	}
	c, err := loadCatalog()
	if err != nil {
		return nil, err
	}
	if d.Revenue != nil {
		d.Revenue = newRevenueCache(d.Revenue)
	}
	s := &server{Deps: d, pages: pages, catalog: c}
	if d.Store != nil {
		s.customers, s.followUps, s.catalogue, s.orders, s.subscriptions = d.Store, d.Store, d.Store, d.Store, d.Store
		s.employees, s.audit, s.sessions, s.passwords, s.signIns, s.tokens = d.Store, d.Store, d.Store, d.Store, d.Store, d.Store
		s.revenueRecords, s.healthRecords = d.Store, d.Store
		s.credentials = d.Store
		s.digests = d.Store
	}
	return s.routes(), nil
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:")
		next.ServeHTTP(w, r)
	})
}

func cacheForever(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}
