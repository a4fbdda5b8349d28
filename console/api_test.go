package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// Keel's Postgres is every handler group's store.
var (
	_ console.CustomerStore     = (*postgres.DB)(nil)
	_ console.FollowUpStore     = (*postgres.DB)(nil)
	_ console.ProductStore      = (*postgres.DB)(nil)
	_ console.OrderStore        = (*postgres.DB)(nil)
	_ console.SubscriptionStore = (*postgres.DB)(nil)
	_ console.EmployeeStore     = (*postgres.DB)(nil)
	_ console.AuditStore        = (*postgres.DB)(nil)
	_ console.SessionStore      = (*postgres.DB)(nil)
	_ console.TokenStore        = (*postgres.DB)(nil)
	_ console.Names             = (*postgres.DB)(nil)
	_ console.Store             = (*postgres.DB)(nil)
)

// apiEnv is a console server over the test stack's Postgres and ClickHouse,
// with one employee (and API token) per role.
type apiEnv struct {
	t      *testing.T
	url    string
	db     *postgres.DB
	wh     *warehouse.Store
	tokens map[string]string        // caller name → token
	emps   map[string]keel.Employee // caller name → employee
	srv    *httptest.Server
	h      http.Handler
	pws    map[string]string // email → password
	logs   *logBuffer        // what the console logged at WARN and above
}

var seq atomic.Int64

// uniq returns a string no other call in this test binary returns, so tests
// sharing the database never collide on emails or product codes.
func uniq() string {
	return fmt.Sprintf("%d%d", time.Now().UnixNano()%1_000_000_000, seq.Add(1))
}

// callers are the API callers of the role matrix: one per role, a departed
// employee, no token and a token that does not exist.
var callers = []string{"admin", "sales", "csm", "finance", "leadership", "departed", "none", "bad"}

func newAPI(t *testing.T) *apiEnv {
	t.Helper()
	return newAPIAt(t, nil, keel.UTC)
}

// newAPIAt is newAPI with the console and its store on a clock of their
// own (nil = the system's) and on reporting calendar cal.
func newAPIAt(t *testing.T, now func() time.Time, cal keel.Calendar) *apiEnv {
	t.Helper()
	return newAPIOn(t, teststack.Get(t).Postgres.URL(), now, cal)
}

// newAPIFresh is newAPI over a database of its own, where the env's
// employees are the only ones (one admin among them).
func newAPIFresh(t *testing.T) *apiEnv {
	t.Helper()
	return newAPIOn(t, teststack.FreshPostgres(t), nil, keel.UTC)
}

// newAPIOn is newAPIAt with the store on the Postgres database at pgURL;
// tweaks change the console's dependencies before it starts.
func newAPIOn(t *testing.T, pgURL string, now func() time.Time, cal keel.Calendar, tweaks ...func(*console.Deps)) *apiEnv {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if now != nil {
		db.SetClock(now)
	}
	db.SetCalendar(cal)
	wh, err := warehouse.Open(ctx, teststack.ClickHouseIn(t, cal.Location().String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	deps := console.Deps{Warehouse: wh, Revenue: wh, Health: wh, Names: db, Store: db, Log: log, Now: now, Calendar: cal}
	for _, tweak := range tweaks {
		tweak(&deps)
	}
	h, err := console.NewServer(deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &apiEnv{t: t, url: srv.URL, srv: srv, h: h, pws: map[string]string{}, db: db, wh: wh, logs: logs, tokens: map[string]string{"none": "", "bad": postgres.TokenPrefix + "not-a-real-token"}, emps: map[string]keel.Employee{}}
	for _, name := range []string{"admin", "sales", "csm", "finance", "leadership", "departed"} {
		role := keel.Role(name)
		if name == "departed" {
			role = keel.RoleSales
		}
		emp, tok := e.employee(name, role)
		e.emps[name], e.tokens[name] = emp, tok
	}
	if _, err := db.DeactivateEmployee(ctx, keel.System, e.emps["departed"].ID); err != nil {
		t.Fatal(err)
	}
	return e
}

// employee adds an employee with the given roles and a password of their
// own (as keel user add --password-stdin does: no change needed at the
// first sign-in), and returns it with a new API token.
func (e *apiEnv) employee(name string, roles ...keel.Role) (keel.Employee, string) {
	e.t.Helper()
	ctx := context.Background()
	pw := rand.Text()
	emp, err := e.db.AddEmployeeWithPassword(ctx, keel.System, keel.Employee{
		Email: fmt.Sprintf("%s-%s@example.com", name, uniq()), Name: "Test " + name, Roles: roles, Status: keel.EmployeeActive,
	}, pw)
	if err != nil {
		e.t.Fatal(err)
	}
	e.pws[emp.Email] = pw
	tok, err := e.db.CreateToken(ctx, keel.System, emp.ID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return emp, tok
}

// resp is an API answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// errorMessage returns the answer's error code and message.
func (r resp) errorOf(t *testing.T) (string, string) {
	t.Helper()
	e := r.apiError(t)
	return e.Code, e.Message
}

// apiErrorBody is the error object of an API answer.
type apiErrorBody struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Field   *string `json:"field"` // nil = absent
}

func (r resp) apiError(t *testing.T) apiErrorBody {
	t.Helper()
	var body struct {
		Error apiErrorBody `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error.Code == "" {
		t.Fatalf("answer %d is not an API error: %s", r.status, r.body)
	}
	return body.Error
}

// call sends a request as caller. body is sent as is when it is a string
// or []byte, as JSON otherwise.
func (e *apiEnv) call(caller, method, path string, body any) resp {
	e.t.Helper()
	return e.callType(caller, method, path, "application/json", body)
}

func (e *apiEnv) callType(caller, method, path, contentType string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	tok, ok := e.tokens[caller]
	if !ok {
		e.t.Fatalf("no caller %q", caller)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and fails the test unless it answers want.
func (e *apiEnv) must(want int, caller, method, path string, body any) map[string]any {
	e.t.Helper()
	r := e.call(caller, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, caller, r.status, want, r.body)
	}
	return r.json(e.t)
}

// auditCount is the number of entries in the audit log.
func (e *apiEnv) auditCount() int {
	e.t.Helper()
	_, n, err := e.db.Audit(context.Background(), keel.AuditFilter{Page: keel.Page{Limit: 1}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// id reads a record id from an answer.
func id(t *testing.T, m map[string]any) int64 {
	t.Helper()
	v, ok := m["id"].(float64)
	if !ok || v < 1 {
		t.Fatalf("answer has no id: %v", m)
	}
	return int64(v)
}

// product creates an enabled product priced per month from 2025-01-01.
func (e *apiEnv) product(kind keel.ProductKind, amount int64, currency string) int64 {
	e.t.Helper()
	p := e.must(201, "admin", "POST", "/api/v1/products", map[string]any{"code": "p-" + uniq(), "name": "Product", "kind": kind, "unit": "seat"})
	pid := id(e.t, p)
	e.must(201, "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", pid),
		map[string]any{"amount": amount, "currency": currency, "period": "month", "effective_from": "2025-01-01"})
	return pid
}

func (e *apiEnv) customer() int64 {
	e.t.Helper()
	return id(e.t, e.must(201, "sales", "POST", "/api/v1/customers", map[string]any{"name": "Customer " + uniq()}))
}

// order creates a draft order by sales of one line.
func (e *apiEnv) order(customer int64, kind keel.OrderKind, product int64, quantity, months int) int64 {
	e.t.Helper()
	return id(e.t, e.must(201, "sales", "POST", "/api/v1/orders", map[string]any{
		"customer_id": customer, "kind": kind, "lines": []any{map[string]any{"product_id": product, "quantity": quantity, "months": months}},
	}))
}

// pending returns an order waiting for finance, and its total.
func (e *apiEnv) pending() (int64, int64) {
	e.t.Helper()
	o := e.order(e.customer(), keel.OrderNew, e.product(keel.KindEdition, 1000, "USD"), 2, 12)
	r := e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", o), nil)
	return o, int64(r["total"].(float64))
}

func today() string { return time.Now().UTC().Format(time.DateOnly) }

// approved returns an order finance approved.
func (e *apiEnv) approved() int64 {
	e.t.Helper()
	o, total := e.pending()
	e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", o), map[string]any{"paid_amount": total, "paid_at": today(), "payment_ref": "INV-1"})
	return o
}

// TestRoleMatrix calls every mutating route as every kind of caller: the
// ones allowed succeed, the others are refused with the expected status,
// and a refused call changes neither the record nor the audit log.
func TestRoleMatrix(t *testing.T) {
	e := newAPI(t)
	customerWriters := map[string]int{"admin": 0, "sales": 0, "csm": 0}
	orderCreators := map[string]int{"sales": 0, "csm": 0}
	type route struct {
		name string
		// setup makes the route's record and returns its method, path,
		// a body for a caller, and a snapshot of what the call may change.
		setup func() (method, path string, body func(caller string) any, snapshot func() string)
		ok    map[string]int // callers allowed (0 = the default 200/201) or refused by the store (status)
		code  int            // success status
	}
	get := func(path string) func() string {
		return func() string {
			r := e.call("admin", "GET", path, nil)
			if r.status != 200 {
				t.Fatalf("GET %s: %d %s", path, r.status, r.body)
			}
			return string(r.body)
		}
	}
	total := func(path string) func() string {
		return func() string { return fmt.Sprint(e.must(200, "admin", "GET", path, nil)["total"]) }
	}
	routes := []route{
		{"create customer", func() (string, string, func(string) any, func() string) {
			return "POST", "/api/v1/customers", func(c string) any { return map[string]any{"name": "New " + c} }, total("/api/v1/customers?limit=1")
		}, customerWriters, 201},
		{"patch customer", func() (string, string, func(string) any, func() string) {
			c := e.customer()
			return "PATCH", fmt.Sprintf("/api/v1/customers/%d", c), func(c string) any { return map[string]any{"notes": "by " + c} }, get(fmt.Sprintf("/api/v1/customers/%d", c))
		}, customerWriters, 200},
		{"put customer", func() (string, string, func(string) any, func() string) {
			c := e.customer()
			return "PUT", fmt.Sprintf("/api/v1/customers/%d", c), func(c string) any { return map[string]any{"name": "Renamed by " + c} }, get(fmt.Sprintf("/api/v1/customers/%d", c))
		}, customerWriters, 200},
		{"add follow-up", func() (string, string, func(string) any, func() string) {
			c := e.customer()
			return "POST", fmt.Sprintf("/api/v1/customers/%d/followups", c), func(c string) any {
				return map[string]any{"kind": "call", "text": "called by " + c}
			}, total(fmt.Sprintf("/api/v1/customers/%d/followups", c))
		}, customerWriters, 201},
		{"create product", func() (string, string, func(string) any, func() string) {
			return "POST", "/api/v1/products", func(c string) any {
				return map[string]any{"code": "m-" + uniq(), "name": "Made by " + c, "kind": "edition", "unit": "seat"}
			}, total("/api/v1/products")
		}, map[string]int{"admin": 0}, 201},
		{"add price", func() (string, string, func(string) any, func() string) {
			p := e.product(keel.KindEdition, 1000, "USD")
			return "POST", fmt.Sprintf("/api/v1/products/%d/prices", p), func(string) any {
				return map[string]any{"amount": 1200, "currency": "USD", "period": "month", "effective_from": "2026-01-01"}
			}, get(fmt.Sprintf("/api/v1/products/%d", p))
		}, map[string]int{"admin": 0}, 201},
		{"set product status", func() (string, string, func(string) any, func() string) {
			p := e.product(keel.KindEdition, 1000, "USD")
			return "POST", fmt.Sprintf("/api/v1/products/%d/status", p), func(string) any { return map[string]any{"status": "disabled"} }, get(fmt.Sprintf("/api/v1/products/%d", p))
		}, map[string]int{"admin": 0}, 200},
		{"create order", func() (string, string, func(string) any, func() string) {
			c, p := e.customer(), e.product(keel.KindEdition, 1000, "USD")
			return "POST", "/api/v1/orders", func(string) any {
				return map[string]any{"customer_id": c, "kind": "new", "lines": []any{map[string]any{"product_id": p, "quantity": 1, "months": 12}}}
			}, total(fmt.Sprintf("/api/v1/orders?customer_id=%d", c))
		}, orderCreators, 201},
		{"submit order", func() (string, string, func(string) any, func() string) {
			o := e.order(e.customer(), keel.OrderNew, e.product(keel.KindEdition, 1000, "USD"), 1, 12)
			return "POST", fmt.Sprintf("/api/v1/orders/%d/submit", o), func(string) any { return nil }, get(fmt.Sprintf("/api/v1/orders/%d", o))
		}, map[string]int{"sales": 0, "csm": 403}, 200}, // only the creator (sales) may submit
		{"edit draft", func() (string, string, func(string) any, func() string) {
			p := e.product(keel.KindEdition, 1000, "USD")
			o := e.order(e.customer(), keel.OrderNew, p, 1, 12)
			return "PUT", fmt.Sprintf("/api/v1/orders/%d", o), func(string) any {
				return map[string]any{"kind": "new", "lines": []any{map[string]any{"product_id": p, "quantity": 2, "months": 12}}}
			}, get(fmt.Sprintf("/api/v1/orders/%d", o))
		}, map[string]int{"sales": 0, "csm": 403}, 200}, // only the creator (sales)
		{"delete draft", func() (string, string, func(string) any, func() string) {
			o := e.order(e.customer(), keel.OrderNew, e.product(keel.KindEdition, 1000, "USD"), 1, 12)
			return "DELETE", fmt.Sprintf("/api/v1/orders/%d", o), func(string) any { return nil }, get(fmt.Sprintf("/api/v1/orders/%d", o))
		}, map[string]int{"sales": 0, "csm": 403}, 204},
		{"approve order", func() (string, string, func(string) any, func() string) {
			o, total := e.pending()
			return "POST", fmt.Sprintf("/api/v1/orders/%d/approve", o), func(string) any {
				return map[string]any{"paid_amount": total, "paid_at": today(), "payment_ref": "INV-7"}
			}, get(fmt.Sprintf("/api/v1/orders/%d", o))
		}, map[string]int{"finance": 0}, 200},
		{"reject order", func() (string, string, func(string) any, func() string) {
			o, _ := e.pending()
			return "POST", fmt.Sprintf("/api/v1/orders/%d/reject", o), func(string) any { return map[string]any{"reason": "no budget"} }, get(fmt.Sprintf("/api/v1/orders/%d", o))
		}, map[string]int{"finance": 0}, 200},
		{"void order", func() (string, string, func(string) any, func() string) {
			o := e.approved()
			return "POST", fmt.Sprintf("/api/v1/orders/%d/void", o), func(string) any { return nil }, get(fmt.Sprintf("/api/v1/orders/%d", o))
		}, map[string]int{"finance": 0}, 200},
		{"add employee", func() (string, string, func(string) any, func() string) {
			return "POST", "/api/v1/employees", func(c string) any {
				return map[string]any{"email": fmt.Sprintf("new-%s@example.com", uniq()), "name": "New", "roles": []string{"sales"}}
			}, total("/api/v1/employees")
		}, map[string]int{"admin": 0}, 201},
		{"set employee roles", func() (string, string, func(string) any, func() string) {
			emp, _ := e.employee("target", keel.RoleSales)
			return "PUT", fmt.Sprintf("/api/v1/employees/%d/roles", emp.ID), func(string) any { return map[string]any{"roles": []string{"csm", "sales"}} },
				func() string { x, _ := e.db.Employee(context.Background(), emp.ID); return fmt.Sprint(x) }
		}, map[string]int{"admin": 0}, 200},
		{"reset employee password", func() (string, string, func(string) any, func() string) {
			emp, _ := e.employee("target", keel.RoleSales)
			return "POST", fmt.Sprintf("/api/v1/employees/%d/password", emp.ID), func(string) any { return nil },
				func() string {
					_, err := e.db.CheckPassword(context.Background(), emp.Email, e.pws[emp.Email])
					return fmt.Sprint(err)
				}
		}, map[string]int{"admin": 0}, 200},
		{"deactivate employee", func() (string, string, func(string) any, func() string) {
			emp, _ := e.employee("target", keel.RoleSales)
			return "POST", fmt.Sprintf("/api/v1/employees/%d/deactivate", emp.ID), func(string) any { return nil },
				func() string { x, _ := e.db.Employee(context.Background(), emp.ID); return fmt.Sprint(x) }
		}, map[string]int{"admin": 0}, 200},
		{"create token", func() (string, string, func(string) any, func() string) {
			return "POST", "/api/v1/tokens", func(c string) any { return map[string]any{"name": "made by " + c} }, total("/api/v1/tokens?employee_id=all&limit=1")
		}, map[string]int{"admin": 0, "sales": 0, "csm": 0, "finance": 0, "leadership": 0}, 201}, // one's own: everyone
		{"revoke token", func() (string, string, func(string) any, func() string) {
			emp, _ := e.employee("target", keel.RoleSales)
			_, tok, err := e.db.CreateTokenUntil(context.Background(), keel.System, emp.ID, "to revoke", nil)
			if err != nil {
				t.Fatal(err)
			}
			return "DELETE", fmt.Sprintf("/api/v1/tokens/%d", tok.ID), func(string) any { return nil }, get(fmt.Sprintf("/api/v1/tokens?employee_id=%d", emp.ID))
		}, map[string]int{"admin": 0}, 200}, // another's: admin only (one's own: TestTokensAPI)
		{"create ingest key", func() (string, string, func(string) any, func() string) {
			return "POST", "/api/v1/ingest-keys", func(c string) any { return map[string]any{"name": "app of " + c, "tenants": []string{"t-1"}} }, total("/api/v1/ingest-keys?limit=1")
		}, map[string]int{"admin": 0}, 201},
		{"revoke ingest key", func() (string, string, func(string) any, func() string) {
			k, _, err := e.db.CreateIngestKey(context.Background(), keel.System, keel.IngestKey{Name: "to revoke"})
			if err != nil {
				t.Fatal(err)
			}
			return "DELETE", fmt.Sprintf("/api/v1/ingest-keys/%d", k.ID), func(string) any { return nil }, get("/api/v1/ingest-keys?limit=500")
		}, map[string]int{"admin": 0}, 200},
		{"set digest webhook", func() (string, string, func(string) any, func() string) {
			// Turned off, as the shared database always has it.
			return "PUT", "/api/v1/settings/digest", func(string) any { return map[string]any{"url": ""} }, get("/api/v1/settings/digest")
		}, map[string]int{"admin": 0}, 200},
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			method, path, body, snapshot := rt.setup()
			// Refused callers first, while the record is as set up; the
			// allowed ones last, since they change it.
			var allowed []string
			for _, c := range callers {
				want, ok := rt.ok[c]
				if ok && want == 0 {
					allowed = append(allowed, c)
					continue
				}
				switch {
				case ok:
				case c == "departed" || c == "none" || c == "bad":
					want = 401
				default:
					want = 403
				}
				before, audits := snapshot(), e.auditCount()
				r := e.call(c, method, path, body(c))
				if r.status != want {
					t.Errorf("%s %s as %s: status %d, want %d: %s", method, path, c, r.status, want, r.body)
					continue
				}
				code, msg := r.errorOf(t)
				if want == 401 && (code != keel.EUNAUTHORIZED || r.header.Get("WWW-Authenticate") == "") {
					t.Errorf("as %s: code %q, WWW-Authenticate %q, want unauthorized with a challenge", c, code, r.header.Get("WWW-Authenticate"))
				}
				if want == 403 && (code != keel.EFORBIDDEN || msg == "") {
					t.Errorf("as %s: code %q message %q, want forbidden with a reason", c, code, msg)
				}
				if after := snapshot(); after != before {
					t.Errorf("as %s: refused call changed the record\nbefore %s\n after %s", c, before, after)
				}
				if n := e.auditCount(); n != audits {
					t.Errorf("as %s: refused call wrote %d audit entries", c, n-audits)
				}
			}
			for _, c := range allowed {
				audits := e.auditCount()
				r := e.call(c, method, path, body(c))
				if r.status != rt.code {
					t.Errorf("%s %s as %s: status %d, want %d: %s", method, path, c, r.status, rt.code, r.body)
					continue
				}
				if rt.code == 201 && r.header.Get("Location") == "" {
					t.Errorf("as %s: 201 without a Location", c)
				}
				if e.auditCount() <= audits {
					t.Errorf("as %s: the change left no audit entry", c)
				}
			}
		})
	}
}

// TestReadRoutesNeedAToken: reading is open to every active employee, and
// to no one else.
func TestReadRoutesNeedAToken(t *testing.T) {
	e := newAPI(t)
	c := e.customer()
	for _, path := range []string{"/api/v1/me", "/api/v1/customers", fmt.Sprintf("/api/v1/customers/%d", c), "/api/v1/orders", "/api/v1/products", "/api/v1/subscriptions"} {
		for _, caller := range callers {
			want := 200
			if caller == "departed" || caller == "none" || caller == "bad" {
				want = 401
			}
			if r := e.call(caller, "GET", path, nil); r.status != want {
				t.Errorf("GET %s as %s: %d, want %d: %s", path, caller, r.status, want, r.body)
			}
		}
	}
	for _, path := range []string{"/api/v1/employees", "/api/v1/audit", "/api/v1/sign-ins"} {
		for _, caller := range callers {
			want := 403
			switch caller {
			case "admin":
				want = 200
			case "departed", "none", "bad":
				want = 401
			}
			if r := e.call(caller, "GET", path, nil); r.status != want {
				t.Errorf("GET %s as %s: %d, want %d: %s", path, caller, r.status, want, r.body)
			}
		}
	}
	me := e.must(200, "csm", "GET", "/api/v1/me", nil)
	if me["email"] != e.emps["csm"].Email || fmt.Sprint(me["roles"]) != "[csm]" {
		t.Errorf("me = %v, want the csm", me)
	}
	for _, h := range []string{"Basic " + e.tokens["admin"], e.tokens["admin"], "Bearer"} {
		req, _ := http.NewRequest("GET", e.url+"/api/v1/me", nil)
		req.Header.Set("Authorization", h)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("Authorization %.12q…: %d, want 401", h, res.StatusCode)
		}
	}
}

// TestOrderFlow: admin sets up the catalogue, sales sells, finance approves,
// and the customer shows the service and the money; voiding takes the
// service back.
func TestOrderFlow(t *testing.T) {
	e := newAPI(t)
	prod := e.must(201, "admin", "POST", "/api/v1/products", map[string]any{"code": "pro-" + uniq(), "name": "Pro", "kind": "edition", "unit": "seat"})
	pid := id(t, prod)
	if prod["status"] != "enabled" || prod["kind"] != "edition" {
		t.Errorf("new product %v, want an enabled edition", prod)
	}
	price := e.must(201, "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", pid), map[string]any{"amount": 2500, "currency": "EUR", "period": "month", "effective_from": "2025-01-01"})
	if price["amount"] != 2500.0 || price["currency"] != "EUR" || price["effective_from"] != "2025-01-01" || price["effective_to"] != nil {
		t.Errorf("price %v", price)
	}
	got := e.must(200, "sales", "GET", fmt.Sprintf("/api/v1/products/%d", pid), nil)
	if ps, _ := got["prices"].([]any); len(ps) != 1 {
		t.Errorf("product %v, want one price version", got)
	}

	sales := e.emps["sales"]
	cust := e.must(201, "sales", "POST", "/api/v1/customers", map[string]any{
		"name": "Acme " + uniq(), "sales_owner": sales.ID, "industry": "Retail",
		"contacts": []any{map[string]any{"name": "Ann", "email": "ann@acme.example"}},
	})
	cid := id(t, cust)
	if cust["status"] != "prospect" || cust["sales_owner"] != float64(sales.ID) || cust["csm_owner"] != nil {
		t.Errorf("new customer %v", cust)
	}
	ord := e.must(201, "sales", "POST", "/api/v1/orders", map[string]any{
		"customer_id": cid, "kind": "new", "lines": []any{map[string]any{"product_id": pid, "quantity": 4, "months": 12}},
	})
	oid := id(t, ord)
	if ord["status"] != "draft" || ord["currency"] != "EUR" || ord["total"] != float64(2500*4*12) || ord["created_by"] != float64(sales.ID) {
		t.Errorf("new order %v", ord)
	}
	// Finance cannot approve a draft.
	r := e.call("finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", oid), map[string]any{"paid_amount": 1, "paid_at": today(), "payment_ref": "x"})
	if r.status != 409 {
		t.Errorf("approving a draft: %d, want 409: %s", r.status, r.body)
	}
	ord = e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", oid), nil)
	if ord["status"] != "pending_approval" || ord["submitted_at"] == nil {
		t.Errorf("submitted order %v", ord)
	}
	ord = e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", oid), map[string]any{
		"paid_amount": 100000, "paid_at": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "payment_ref": "BANK-42",
	})
	pay, _ := ord["payment"].(map[string]any)
	if ord["status"] != "approved" || pay["amount"] != 100000.0 || pay["reference"] != "BANK-42" || ord["decided_by"] != float64(e.emps["finance"].ID) {
		t.Errorf("approved order %v", ord)
	}
	detail := e.must(200, "csm", "GET", fmt.Sprintf("/api/v1/orders/%d", oid), nil)
	grants, _ := detail["grants"].([]any)
	if len(grants) != 1 {
		t.Fatalf("order %v, want one grant", detail)
	}
	g := grants[0].(map[string]any)
	wantEnd := time.Now().UTC().AddDate(0, 12, 0).Format(time.DateOnly)
	if g["start"] != today() || g["end"] != wantEnd || g["quantity"] != 4.0 || g["void"] != false {
		t.Errorf("grant %v, want 4 seats from %s to %s", g, today(), wantEnd)
	}

	cust = e.must(200, "leadership", "GET", fmt.Sprintf("/api/v1/customers/%d", cid), nil)
	if cust["status"] != "active" || cust["first_purchase"] != today() {
		t.Errorf("customer after approval: status %v first_purchase %v", cust["status"], cust["first_purchase"])
	}
	subs, _ := cust["subscriptions"].([]any)
	if len(subs) != 1 {
		t.Fatalf("customer %v, want one subscription", cust)
	}
	sub := subs[0].(map[string]any)
	if sub["product_id"] != float64(pid) || sub["status"] != "active" || sub["quantity"] != 4.0 || sub["end"] != wantEnd || fmt.Sprint(sub["order_ids"]) != fmt.Sprintf("[%d]", oid) {
		t.Errorf("subscription %v", sub)
	}
	totals, _ := cust["totals"].([]any)
	wantTotals := fmt.Sprint([]any{map[string]any{"currency": "EUR", "ordered": float64(120000), "paid": float64(100000), "outstanding": float64(20000)}})
	if fmt.Sprint(totals) != wantTotals {
		t.Errorf("totals %v, want %v", totals, wantTotals)
	}
	list := e.must(200, "sales", "GET", fmt.Sprintf("/api/v1/subscriptions?customer_id=%d&status=active", cid), nil)
	if list["total"] != 1.0 {
		t.Errorf("active subscriptions of the customer: %v", list)
	}
	list = e.must(200, "sales", "GET", fmt.Sprintf("/api/v1/orders?customer_id=%d&status=approved&limit=5", cid), nil)
	if list["total"] != 1.0 || list["limit"] != 5.0 || list["offset"] != 0.0 {
		t.Errorf("approved orders of the customer: %v", list)
	}

	// Voiding takes back what the order granted.
	ord = e.must(200, "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/void", oid), nil)
	if ord["status"] != "void" || ord["voided_by"] != float64(e.emps["finance"].ID) {
		t.Errorf("voided order %v", ord)
	}
	cust = e.must(200, "sales", "GET", fmt.Sprintf("/api/v1/customers/%d", cid), nil)
	sub = cust["subscriptions"].([]any)[0].(map[string]any)
	if sub["status"] != "void" || sub["quantity"] != 0.0 || cust["status"] != "prospect" || len(cust["totals"].([]any)) != 0 {
		t.Errorf("after void: customer status %v, subscription %v, totals %v", cust["status"], sub, cust["totals"])
	}
	if r := e.call("finance", "POST", fmt.Sprintf("/api/v1/orders/%d/void", oid), nil); r.status != 409 {
		t.Errorf("voiding twice: %d, want 409", r.status)
	}
	audit := e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/audit?entity=order&entity_id=%d&to=%s", oid, today()), nil)
	if audit["total"].(float64) < 4 {
		t.Errorf("audit of the order: %v, want create, submit, approve and void", audit)
	}
	audit = e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/audit?actor=%s&entity=order", e.emps["finance"].Email), nil)
	if audit["total"].(float64) < 2 {
		t.Errorf("finance's audit entries: %v", audit)
	}
}

func TestTrialApprovesItselfOnSubmit(t *testing.T) {
	e := newAPI(t)
	pid := e.product(keel.KindEdition, 1000, "USD")
	cid := e.customer()
	oid := e.order(cid, keel.OrderTrial, pid, 10, 1)
	ord := e.must(200, "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/submit", oid), nil)
	if ord["status"] != "approved" || ord["total"] != 0.0 || ord["payment"] != nil {
		t.Errorf("submitted trial %v, want approved, free, no payment", ord)
	}
	cust := e.must(200, "sales", "GET", fmt.Sprintf("/api/v1/customers/%d", cid), nil)
	sub := cust["subscriptions"].([]any)[0].(map[string]any)
	if cust["status"] != "trial" || sub["trial"] != true || sub["status"] != "active" || sub["quantity"] != 10.0 {
		t.Errorf("after the trial: customer %v, subscription %v", cust["status"], sub)
	}
	// One trial per customer and edition.
	r := e.call("sales", "POST", "/api/v1/orders", map[string]any{
		"customer_id": cid, "kind": "trial", "lines": []any{map[string]any{"product_id": pid, "quantity": 10, "months": 1}},
	})
	if r.status != 409 {
		t.Errorf("second trial: %d, want 409: %s", r.status, r.body)
	}
}

// TestDepartedTokenIsRefusedAtOnce: the request after a deactivation fails.
func TestDepartedTokenIsRefusedAtOnce(t *testing.T) {
	e := newAPI(t)
	created := e.must(201, "admin", "POST", "/api/v1/employees", map[string]any{"email": fmt.Sprintf("leaver-%s@example.com", uniq()), "name": "Leaver", "roles": []string{"sales", "csm"}})
	if pw, _ := created["password"].(string); len(pw) < 12 {
		t.Errorf("new employee %v, want a one-time password", created)
	}
	eid := id(t, created)
	tok, err := e.db.CreateToken(context.Background(), keel.System, eid, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["leaver"] = tok
	e.must(200, "leaver", "GET", "/api/v1/me", nil)
	e.must(201, "leaver", "POST", "/api/v1/customers", map[string]any{"name": "Before leaving"})
	gone := e.must(200, "admin", "POST", fmt.Sprintf("/api/v1/employees/%d/deactivate", eid), nil)
	if gone["status"] != "departed" {
		t.Errorf("deactivated employee %v", gone)
	}
	audits := e.auditCount()
	for _, try := range []struct{ method, path string }{{"GET", "/api/v1/me"}, {"POST", "/api/v1/customers"}} {
		r := e.call("leaver", try.method, try.path, map[string]any{"name": "After leaving"})
		if r.status != 401 {
			t.Errorf("%s %s after deactivation: %d, want 401: %s", try.method, try.path, r.status, r.body)
		}
	}
	if e.auditCount() != audits {
		t.Error("a departed employee's call changed something")
	}
	if r := e.call("admin", "POST", fmt.Sprintf("/api/v1/employees/%d/deactivate", e.emps["admin"].ID), nil); r.status != 409 {
		t.Errorf("deactivating oneself: %d, want 409", r.status)
	}
}

// TestBadInput: every kind of bad request gets a 4xx naming what is wrong,
// and changes nothing.
func TestBadInput(t *testing.T) {
	e := newAPI(t)
	cid := e.customer()
	usd := e.product(keel.KindEdition, 1000, "USD")
	eur := e.product(keel.KindAddonStandalone, 500, "EUR")
	pending, total := e.pending()
	line := func(kv ...any) map[string]any {
		l := map[string]any{"product_id": usd, "quantity": 1, "months": 12}
		for i := 0; i < len(kv); i += 2 {
			l[kv[i].(string)] = kv[i+1]
		}
		return l
	}
	order := func(lines ...any) map[string]any {
		return map[string]any{"customer_id": cid, "kind": "new", "lines": lines}
	}
	price := func(kv ...any) map[string]any {
		p := map[string]any{"amount": 100, "currency": "USD", "period": "month", "effective_from": "2027-01-01"}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i].(string)] = kv[i+1]
		}
		return p
	}
	approve := func(kv ...any) map[string]any {
		p := map[string]any{"paid_amount": total, "paid_at": today(), "payment_ref": "X"}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i].(string)] = kv[i+1]
		}
		return p
	}
	big := `{"name":"` + strings.Repeat("a", 1<<20) + `"}`
	six := base64Of(6 << 20)
	tests := []struct {
		name, caller, method, path string
		contentType                string // "" = application/json
		body                       any
		status                     int
		field                      string // the message must contain it
	}{
		{"wrong type", "sales", "POST", "/api/v1/customers", "", `{"name": 5}`, 400, "name: want a string"},
		{"unknown field", "sales", "POST", "/api/v1/customers", "", `{"name": "x", "colour": "red"}`, 400, "colour: unknown field"},
		{"missing name", "sales", "POST", "/api/v1/customers", "", `{}`, 400, "name:"},
		{"unknown field in a contact", "sales", "POST", "/api/v1/customers", "", `{"name": "x", "contacts": [{"name": "a", "fax": "1"}]}`, 400, "contacts[0].fax: unknown field"},
		{"bad contact email", "sales", "POST", "/api/v1/customers", "", `{"name": "x", "contacts": [{"name": "a", "email": "nope"}]}`, 400, "contacts[0].email"},
		{"unknown owner", "sales", "POST", "/api/v1/customers", "", `{"name": "x", "sales_owner": 999999999}`, 400, "sales_owner"},
		{"owner of the wrong type", "sales", "PATCH", fmt.Sprintf("/api/v1/customers/%d", cid), "", `{"sales_owner": "me"}`, 400, "sales_owner: want an integer"},
		{"bad tenant id", "sales", "POST", "/api/v1/customers", "", `{"name": "x", "tenant_id": "no spaces"}`, 400, "tenant_id"},
		{"not JSON", "sales", "POST", "/api/v1/customers", "", `name=x`, 400, "body: not valid JSON"},
		{"form content", "sales", "POST", "/api/v1/customers", "application/x-www-form-urlencoded", `name=x`, 400, "Content-Type"},
		{"truncated JSON", "sales", "POST", "/api/v1/customers", "", `{"name": "x"`, 400, "body"},
		{"two objects", "sales", "POST", "/api/v1/customers", "", `{"name": "x"} {"name": "y"}`, 400, "body: more than one"},
		{"array body", "sales", "POST", "/api/v1/customers", "", `[{"name": "x"}]`, 400, "body: want an object"},
		{"empty body", "sales", "POST", "/api/v1/customers", "", ``, 400, "body: required"},
		{"oversize body", "sales", "POST", "/api/v1/customers", "", big, 413, "body: over the limit of 1 MiB"},
		{"quantity a string", "sales", "POST", "/api/v1/orders", "", order(line("quantity", "five")), 400, "lines[0].quantity: want an integer"},
		{"quantity a fraction", "sales", "POST", "/api/v1/orders", "", order(line("quantity", 1.5)), 400, "lines[0].quantity: want an integer"},
		{"zero months", "sales", "POST", "/api/v1/orders", "", order(line("months", 0)), 400, "lines[0].months"},
		{"unknown field in a line", "sales", "POST", "/api/v1/orders", "", order(line("price", 1)), 400, "lines[0].price: unknown field"},
		{"missing customer", "sales", "POST", "/api/v1/orders", "", map[string]any{"kind": "new", "lines": []any{line()}}, 400, "customer_id: required"},
		{"unknown customer", "sales", "POST", "/api/v1/orders", "", map[string]any{"customer_id": 999999999, "kind": "new", "lines": []any{line()}}, 400, "customer_id: there is no customer"},
		{"unknown product", "sales", "POST", "/api/v1/orders", "", order(line("product_id", 999999999)), 400, "lines[0].product_id"},
		{"unknown order kind", "sales", "POST", "/api/v1/orders", "", map[string]any{"customer_id": cid, "kind": "gift", "lines": []any{line()}}, 400, "kind"},
		{"no lines", "sales", "POST", "/api/v1/orders", "", map[string]any{"customer_id": cid, "kind": "new", "lines": []any{}}, 400, "lines"},
		{"mixed currencies", "sales", "POST", "/api/v1/orders", "", order(line(), line("product_id", eur)), 400, "lines[1].product_id"},
		{"impossible start", "sales", "POST", "/api/v1/orders", "", order(line("start", "2026-02-30")), 400, "lines[0].start"},
		{"start out of range", "sales", "POST", "/api/v1/orders", "", order(line("start", "1999-12-31")), 400, "lines[0].start"},
		{"unsupported currency", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", price("currency", "XXX"), 400, "currency"},
		{"negative price", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", price("amount", -5), 400, "amount"},
		{"fractional price", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", price("amount", 9.99), 400, "amount: want an integer"},
		{"missing price", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", `{"currency": "USD", "period": "month", "effective_from": "2027-01-01"}`, 400, "amount: required"},
		{"price in another currency", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", price("currency", "EUR"), 400, "currency"},
		{"bad price date", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", price("effective_from", "2027-13-01"), 400, "effective_from"},
		{"price date out of range", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", price("effective_from", "2101-01-01"), 400, "effective_from"},
		{"bad period", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/prices", usd), "", price("period", "week"), 400, "period"},
		{"price of an unknown product", "admin", "POST", "/api/v1/products/999999999/prices", "", price(), 404, "product"},
		{"bad product kind", "admin", "POST", "/api/v1/products", "", `{"code": "x-1", "name": "X", "kind": "bundle", "unit": "seat"}`, 400, "kind"},
		{"bad product code", "admin", "POST", "/api/v1/products", "", `{"code": "Has Spaces", "name": "X", "kind": "edition", "unit": "seat"}`, 400, "code"},
		{"bad product status", "admin", "POST", fmt.Sprintf("/api/v1/products/%d/status", usd), "", `{"status": "retired"}`, 400, "status"},
		{"negative payment", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", approve("paid_amount", -1), 400, "paid_amount"},
		{"overpayment", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", approve("paid_amount", total+1), 400, "paid_amount"},
		{"payment amount a string", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", approve("paid_amount", "100"), 400, "paid_amount: want an integer"},
		{"payment without amount", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", `{"paid_at": "2026-01-01", "payment_ref": "x"}`, 400, "paid_amount: required"},
		{"bad payment day", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", approve("paid_at", "yesterday"), 400, "paid_at"},
		{"payment in the future", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", approve("paid_at", time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)), 400, "paid_at"},
		{"payment without reference", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", approve("payment_ref", ""), 400, "payment_ref"},
		{"reject without a reason", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/reject", pending), "", `{}`, 400, "reason: required"},
		{"reject with a blank reason", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/reject", pending), "", `{"reason": " "}`, 400, "reason: required"},
		{"approve with no body", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), "", nil, 400, "body: required"},
		{"approve an unknown order", "finance", "POST", "/api/v1/orders/999999999/approve", "", approve(), 404, "order"},
		{"submit an unknown order", "sales", "POST", "/api/v1/orders/999999999/submit", "", nil, 404, "order"},
		{"order id not a number", "sales", "GET", "/api/v1/orders/abc", "", nil, 404, "order"},
		{"unknown role", "admin", "POST", "/api/v1/employees", "", `{"email": "r@example.com", "name": "R", "roles": ["boss"]}`, 400, "roles[0]"},
		{"bad email", "admin", "POST", "/api/v1/employees", "", `{"email": "not an email", "name": "R", "roles": ["sales"]}`, 400, "email"},
		{"roles not a list", "admin", "POST", "/api/v1/employees", "", `{"email": "r@example.com", "name": "R", "roles": "sales"}`, 400, "roles: want an array"},
		{"follow-up kind", "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", cid), "", `{"kind": "fax", "text": "x"}`, 400, "kind"},
		{"follow-up at", "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", cid), "", `{"kind": "call", "text": "x", "at": "2026-11-23 08:00"}`, 400, "at"},
		{"attachment not base64", "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", cid), "", `{"kind": "call", "text": "x", "attachments": [{"name": "a.txt", "data": "%%%"}]}`, 400, "attachments[0].data"},
		{"attachment too large", "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", cid), "", `{"kind": "call", "text": "x", "attachments": [{"name": "a.bin", "data": "` + six + `"}]}`, 413, "attachments[0]"},
		{"follow-up body too large", "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", cid), "", `{"kind": "call", "text": "x", "attachments": [{"name": "a.bin", "data": "` + base64Of(8<<20) + `"}]}`, 413, "body: over the limit of 10 MiB"},
		{"follow-up of an unknown customer", "csm", "POST", "/api/v1/customers/999999999/followups", "", `{"kind": "call", "text": "x"}`, 404, "customer"},
		{"limit zero", "sales", "GET", "/api/v1/customers?limit=0", "", nil, 400, "limit"},
		{"limit too large", "sales", "GET", "/api/v1/customers?limit=501", "", nil, 400, "limit"},
		{"limit not a number", "sales", "GET", "/api/v1/orders?limit=ten", "", nil, 400, "limit"},
		{"negative offset", "sales", "GET", "/api/v1/subscriptions?offset=-1", "", nil, 400, "offset"},
		{"unknown filter", "sales", "GET", "/api/v1/orders?state=approved", "", nil, 400, "state: unknown parameter"},
		{"bad status filter", "sales", "GET", "/api/v1/customers?status=happy", "", nil, 400, "status"},
		{"bad id filter", "sales", "GET", "/api/v1/orders?customer_id=x", "", nil, 400, "customer_id"},
		{"bad audit day", "admin", "GET", "/api/v1/audit?from=2026-13-01", "", nil, 400, "from"},
		{"audit range backwards", "admin", "GET", "/api/v1/audit?from=2026-02-01&to=2026-01-01", "", nil, 400, "from"},
		{"activity without tenant", "leadership", "GET", "/api/v1/metrics/activity", "", nil, 400, "tenant"},
		{"activity range backwards", "leadership", "GET", "/api/v1/metrics/activity?tenant=t-1&from=2026-02-01&to=2026-01-01", "", nil, 400, "from"},
		{"activity day", "leadership", "GET", "/api/v1/metrics/activity?tenant=t-1&to=2026-02-30", "", nil, 400, "to"},
		{"wrong method", "sales", "DELETE", fmt.Sprintf("/api/v1/customers/%d", cid), "", nil, 405, "method"},
		{"no such route", "sales", "GET", "/api/v1/nothing", "", nil, 404, "/api/v1/nothing"},
	}
	if len(tests) < 20 {
		t.Fatalf("only %d cases", len(tests))
	}
	before := e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/orders/%d", pending), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			audits := e.auditCount()
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			r := e.callType(tt.caller, tt.method, tt.path, ct, tt.body)
			if r.status != tt.status {
				t.Fatalf("%s %s: status %d, want %d: %.300s", tt.method, tt.path, r.status, tt.status, r.body)
			}
			_, msg := r.errorOf(t)
			if !strings.Contains(msg, tt.field) {
				t.Errorf("message %q does not name %q", msg, tt.field)
			}
			if n := e.auditCount(); n != audits {
				t.Errorf("a bad request wrote %d audit entries", n-audits)
			}
		})
	}
	if after := e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/orders/%d", pending), nil); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("bad approvals changed the order\nbefore %v\n after %v", before, after)
	}
}

// TestErrorsNameTheirField: an API refusal about one input carries it as
// "field" (its message starting with it), and one about none has no field.
func TestErrorsNameTheirField(t *testing.T) {
	e := newAPI(t)
	cid := e.customer()
	pending, _ := e.pending()
	usd := e.product(keel.KindEdition, 1000, "USD")
	taken, err := e.db.Product(context.Background(), usd)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, caller, method, path string
		body                       any
		status                     int
		field                      string // "" = none
	}{
		{"a line's quantity", "sales", "POST", "/api/v1/orders", map[string]any{"customer_id": cid, "kind": "new",
			"lines": []any{map[string]any{"product_id": usd, "quantity": 1, "months": 1}, map[string]any{"product_id": usd, "quantity": 0, "months": 1}}}, 400, "lines[1].quantity"},
		{"a JSON type", "sales", "POST", "/api/v1/customers", `{"name": 5}`, 400, "name"},
		{"the kind", "sales", "POST", "/api/v1/orders", map[string]any{"customer_id": cid, "kind": "gift", "lines": []any{}}, 400, "kind"},
		{"a reason", "finance", "POST", fmt.Sprintf("/api/v1/orders/%d/reject", pending), map[string]any{"reason": ""}, 400, "reason"},
		{"a query parameter", "sales", "GET", "/api/v1/orders?state=approved", nil, 400, "state"},
		{"a conflict about a field", "admin", "POST", "/api/v1/products", map[string]any{"code": taken.Product.Code, "name": "Twin", "kind": "edition", "unit": "seat"}, 409, "code"},
		{"no such order", "sales", "GET", "/api/v1/orders/999999999", nil, 404, ""},
		{"a role", "sales", "POST", fmt.Sprintf("/api/v1/orders/%d/approve", pending), map[string]any{}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(tt.caller, tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("%s %s: status %d, want %d: %s", tt.method, tt.path, r.status, tt.status, r.body)
			}
			got := r.apiError(t)
			switch {
			case tt.field == "" && got.Field != nil:
				t.Errorf("field %q, want none: %s", *got.Field, r.body)
			case tt.field != "" && (got.Field == nil || *got.Field != tt.field):
				t.Errorf("field %v, want %q: %s", got.Field, tt.field, r.body)
			case tt.field != "" && !strings.HasPrefix(got.Message, tt.field+": "):
				t.Errorf("message %q does not start with its field %q", got.Message, tt.field)
			}
		})
	}
}

func base64Of(n int) string {
	// n zero bytes: "AAAA" encodes three of them.
	return strings.Repeat("AAAA", n/3)
}

// TestCustomerUpdateAndLists: PATCH merges, PUT replaces, and lists page.
func TestCustomerUpdateAndLists(t *testing.T) {
	e := newAPI(t)
	name := "Umbrella " + uniq()
	c := e.must(201, "csm", "POST", "/api/v1/customers", map[string]any{"name": name, "region": "EU", "csm_owner": e.emps["csm"].ID})
	cid := id(t, c)
	if loc := fmt.Sprintf("/api/v1/customers/%d", cid); c["id"] == nil || e.call("csm", "GET", loc, nil).status != 200 {
		t.Errorf("created customer not at %s", loc)
	}
	// The CSM owner lets the customer go (only they, admin or leadership may).
	c = e.must(200, "csm", "PATCH", fmt.Sprintf("/api/v1/customers/%d", cid), map[string]any{"notes": "met at a fair", "csm_owner": nil})
	if c["name"] != name || c["region"] != "EU" || c["notes"] != "met at a fair" || c["csm_owner"] != nil {
		t.Errorf("after PATCH %v, want the name and region kept, notes set, csm owner cleared", c)
	}
	c = e.must(200, "sales", "PUT", fmt.Sprintf("/api/v1/customers/%d", cid), map[string]any{"name": name + " Corp"})
	if c["name"] != name+" Corp" || c["region"] != "" || c["notes"] != "" {
		t.Errorf("after PUT %v, want everything replaced", c)
	}
	l := e.must(200, "sales", "GET", "/api/v1/customers?q="+strings.ReplaceAll(name, " ", "+")+"&limit=1", nil)
	items, _ := l["items"].([]any)
	if l["total"] != 1.0 || len(items) != 1 || items[0].(map[string]any)["id"] != float64(cid) {
		t.Errorf("search for %q: %v", name, l)
	}
	l = e.must(200, "sales", "GET", "/api/v1/customers?q=no-such-customer-"+uniq(), nil)
	if l["total"] != 0.0 || fmt.Sprint(l["items"]) != "[]" || l["limit"] != 50.0 {
		t.Errorf("empty search: %v, want no items, limit 50", l)
	}
	if r := e.call("sales", "GET", "/api/v1/customers/999999999", nil); r.status != 404 {
		t.Errorf("unknown customer: %d", r.status)
	}
}

// TestConcurrentPatchesKeepEveryChange: PATCHes of different fields sent
// at once all land; none overwrites another with the value it read.
func TestConcurrentPatchesKeepEveryChange(t *testing.T) {
	e := newAPI(t)
	cid := e.customer()
	path := fmt.Sprintf("/api/v1/customers/%d", cid)
	fields := []string{"industry", "region", "website", "notes"}
	var wg sync.WaitGroup
	status := make([]int, len(fields))
	for i, f := range fields {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i] = e.call("sales", "PATCH", path, map[string]any{f: "set " + f}).status
		}()
	}
	wg.Wait()
	c := e.must(200, "sales", "GET", path, nil)
	for i, f := range fields {
		if status[i] != 200 || c[f] != "set "+f {
			t.Errorf("%s: PATCH status %d, value %q after all PATCHes; want 200 and %q", f, status[i], c[f], "set "+f)
		}
	}
}

// TestFollowUpsAndAttachments: a file goes in as base64 and comes back as a
// download of its own type.
func TestFollowUpsAndAttachments(t *testing.T) {
	e := newAPI(t)
	cid := e.customer()
	content := []byte("<html><script>alert(1)</script></html>")
	f := e.must(201, "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", cid), map[string]any{
		"kind": "meeting", "text": "Quarterly review", "at": "2026-01-15T10:30:00+08:00",
		"attachments": []any{map[string]any{"name": "notes é.html", "content_type": "text/html", "data": content}},
	})
	if f["at"] != "2026-01-15T02:30:00Z" || f["author_id"] != float64(e.emps["csm"].ID) {
		t.Errorf("follow-up %v, want at in UTC and the csm as author", f)
	}
	atts, _ := f["attachments"].([]any)
	if len(atts) != 1 {
		t.Fatalf("follow-up %v, want one attachment", f)
	}
	a := atts[0].(map[string]any)
	if a["size"] != float64(len(content)) || a["content_type"] != "text/html" {
		t.Errorf("attachment %v", a)
	}
	r := e.call("finance", "GET", a["url"].(string), nil)
	if r.status != 200 || !bytes.Equal(r.body, content) {
		t.Fatalf("download: %d %q", r.status, r.body)
	}
	for h, want := range map[string]string{
		"Content-Type": "text/html", "X-Content-Type-Options": "nosniff",
		"Content-Disposition": `attachment; filename*=utf-8''notes%20%C3%A9.html`,
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("Content-Security-Policy %q, want a sandbox", r.header.Get("Content-Security-Policy"))
	}
	l := e.must(200, "leadership", "GET", fmt.Sprintf("/api/v1/customers/%d/followups?limit=10", cid), nil)
	if l["total"] != 1.0 || l["items"].([]any)[0].(map[string]any)["text"] != "Quarterly review" {
		t.Errorf("follow-ups %v", l)
	}
	if r := e.call("sales", "GET", "/api/v1/attachments/999999999", nil); r.status != 404 {
		t.Errorf("unknown attachment: %d", r.status)
	}
}

func TestActivityMetrics(t *testing.T) {
	e := newAPI(t)
	day := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	tenant := "api-" + uniq()
	b := warehouse.Batch{Topic: "test.api." + uniq()}
	for i, ev := range []ingest.Event{
		{Tenant: tenant, ID: "a", Type: "login", User: "u1", Time: day, Props: "{}"},
		{Tenant: tenant, ID: "b", Type: "login", User: "u2", Time: day.Add(time.Hour), Props: "{}"},
		{Tenant: tenant, ID: "c", Type: "page_view", User: "u3", Time: day.Add(2 * time.Hour), Props: "{}"},
	} {
		b.AddEvent(&ev, warehouse.Position{Partition: 0, Offset: int64(i)}, day)
	}
	if err := e.wh.Insert(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	r := e.call("leadership", "GET", "/api/v1/metrics/activity?tenant="+tenant+"&from=2026-11-21&to=2026-11-22", nil)
	if r.status != 200 {
		t.Fatalf("activity: %d %s", r.status, r.body)
	}
	want := `{"tenant":"` + tenant + `","trend":"up","days":[{"day":"2026-11-21","active_users":0,"logins":0,"wau":0,"mau":0},{"day":"2026-11-22","active_users":3,"logins":2,"wau":3,"mau":3}]}`
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Errorf("activity\n got %s\nwant %s", got, want)
	}
	if r := e.call("none", "GET", "/api/v1/metrics/activity?tenant="+tenant, nil); r.status != 401 {
		t.Errorf("activity without a token: %d", r.status)
	}
}

// TestAPIWithoutPostgres: a console started without a store says so.
func TestAPIWithoutPostgres(t *testing.T) {
	h, err := console.NewServer(console.Deps{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/me", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Errorf("API without a store: %d %s", rec.Code, rec.Body)
	}
}
