package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelhq/keel"
)

// revenueFormRoutes are the forms of the revenue pages, for
// TestFormRoleMatrix (on the shared databases: what they write is what
// is there by default, and no relay sends it on).
var revenueFormRoutes = []formRoute{
	{"/spend", keel.ActSpendWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/spend", url.Values{"month": {"2001-01"}, "currency": {"USD"}, "amount": {"1.00"}}
	}},
	{"/settings/revenue", keel.ActSettingsWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/settings/revenue", url.Values{"mrr_day": {"last"}, "churn_timing": {"period_end"}, "renewal_grace_days": {"30"},
			"cac_months": {"1"}, "gross_margin_pct": {"100"}, "main_currency": {""}}
	}},
}

// revenueCompany is a small company with revenue in two currencies, its
// facts through the pipeline. In USD, this month m:
//   - Acme, on the edition since m−6, adds seats in m (expansion);
//   - Brief bought one month in m−1 and did not renew (churn in m, its
//     term due in m and not renewed);
//   - Cobalt starts in m with two editions' worth (new).
//
// In GBP, Delta pays more than all of them (so GBP is the default
// currency until a main currency is set).
type revenueCompany struct {
	*revenueEnv
	m                                              keel.Month
	acme, brief, cobalt, delta                     int64
	acmeOrder, seatsOrder, briefOrder, cobaltOrder int64
	names                                          map[int64]string
}

func newRevenueCompany(t *testing.T) *revenueCompany {
	t.Helper()
	e := newRevenueEnv(t, true)
	m := keel.MonthOf(time.Now().UTC())
	c := &revenueCompany{revenueEnv: e, m: m, names: map[int64]string{}}
	edition := e.product(keel.KindEdition, 100_000, "USD")
	seats := e.product(keel.KindAddonTerm, 5_000, "USD")
	pounds := e.product(keel.KindEdition, 900_000, "GBP")
	customer := func(name string) int64 {
		name += " " + uniq()
		id := id(t, e.must(201, "sales", "POST", "/api/v1/customers", map[string]any{"name": name}))
		c.names[id] = name
		return id
	}
	c.acme, c.brief, c.cobalt, c.delta = customer("Acme"), customer("Brief"), customer("Cobalt"), customer("Delta")
	c.acmeOrder = e.approve(e.orderLines(c.acme, keel.OrderNew, line(edition, 1, 12, (m-6).First())), (m - 6).First())
	c.briefOrder = e.approve(e.orderLines(c.brief, keel.OrderNew, line(edition, 1, 1, (m-1).First())), (m - 1).First())
	c.cobaltOrder = e.approve(e.orderLines(c.cobalt, keel.OrderNew, line(edition, 2, 12, m.First())), m.First())
	c.seatsOrder = e.approve(e.orderLines(c.acme, keel.OrderAddon, line(seats, 4, 1, m.First())), m.First())
	e.approve(e.orderLines(c.delta, keel.OrderNew, line(pounds, 1, 12, (m-2).First())), (m - 2).First())
	waitFor(t, 60*time.Second, func() (bool, string) {
		usd := e.mrr("admin", fmt.Sprintf("from=%s&to=%s&currency=USD", m-1, m)).Months
		gbp := e.mrr("admin", fmt.Sprintf("from=%s&to=%s&currency=GBP", m, m)).Months
		return usd[1].Expansion > 0 && usd[1].New == 200_000 && usd[1].Churn == 100_000 && gbp[0].MRR == 900_000, fmt.Sprintf("%+v %+v", usd, gbp)
	})
	return c
}

// tileOf returns the value, change and link of the dashboard's tile.
func tileOf(t *testing.T, body, id string) (value, change, link string) {
	t.Helper()
	m := regexp.MustCompile(`<a class="card" id="` + regexp.QuoteMeta(id) + `" href="([^"]*)"[^>]*><div class="label">[^<]*</div><div class="value">([^<]*)(?:<small[^>]*>[^<]*</small>)?</div>(?:<div class="change[^"]*">([^<]*)</div>)?`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the dashboard has no tile %q", id)
	}
	return strings.TrimSpace(html.UnescapeString(m[2])), html.UnescapeString(m[3]), html.UnescapeString(m[1])
}

// linksOf decodes the data-links of the chart with the id.
func linksOf(t *testing.T, body, id string) [][]string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `" data-option="[^"]*" data-links="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no chart %q with links", id)
	}
	var links [][]string
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &links); err != nil {
		t.Fatal(err)
	}
	return links
}

// chartByID decodes the option of the chart with the id.
func chartByID(t *testing.T, body, id string) chartOption {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `" data-option="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no chart %q", id)
	}
	var opt chartOption
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &opt); err != nil {
		t.Fatalf("chart %s: %v", id, err)
	}
	return opt
}

// TestDashboardNumbers: the dashboard's tiles, tables and charts show the
// API's numbers, and every number leads to the customers behind it, and
// they to their orders.
func TestDashboardNumbers(t *testing.T) {
	c := newRevenueCompany(t)
	m := c.m
	api := c.mrr("leadership", fmt.Sprintf("from=%s&to=%s&currency=USD", m-1, m)).Months
	now, before := api[1], api[0]
	saas := c.must(200, "leadership", "GET", "/api/v1/metrics/saas?currency=USD", nil)
	usd := func(n int64) string { return keel.FormatAmount(n, "USD") }
	b := c.signIn("leadership")

	// Leadership's home is the dashboard, in the currency with the most
	// MRR; USD when asked.
	home := b.get("/")
	wantPage(t, "leadership's home", home, http.StatusOK, "<h1>Revenue dashboard</h1>", `<option value="GBP" selected>GBP</option>`)
	if v, _, _ := tileOf(t, home.body, "tile-mrr"); v != keel.FormatAmount(900_000, "GBP") {
		t.Errorf("GBP MRR tile: %q", v)
	}
	d := b.get("/dashboard?currency=USD&months=24")
	wantPage(t, "dashboard in USD", d, http.StatusOK, `<option value="USD" selected>USD</option>`, `<option value="24" selected>`)
	for _, tt := range []struct{ id, value, change, link string }{
		{"tile-mrr", usd(now.MRR), "+" + usd(now.MRR-before.MRR) + " vs last month", "kind=paying"},
		{"tile-arr", usd(now.ARR), "+" + usd(now.ARR-before.ARR) + " vs last month", "kind=paying"},
		{"tile-net-new", "+" + usd(now.NetNew), "", "kind=moved"},
		{"tile-customers", "2", "0 vs last month", "kind=paying"},
		{"tile-arpa", usd(now.MRR / 2), "", "kind=paying"},
		{"tile-churn", "50.0%", "", "kind=churn"},
		{"tile-nrr", fmt.Sprintf("%.1f%%", *num(saas["nrr"])*100), "", "kind=moved"},
		{"tile-ltv-cac", "n/a", "", "kind=new"},
	} {
		v, ch, link := tileOf(t, d.body, tt.id)
		if v != tt.value || tt.change != "" && ch != tt.change || !strings.Contains(link, tt.link) || !strings.Contains(link, "month="+m.String()) {
			t.Errorf("%s: %q, %q, %q; want %q, %q, a link with %s", tt.id, v, ch, link, tt.value, tt.change, tt.link)
		}
	}
	if now.MRR != 100_000+now.Expansion+200_000 || now.Customers != 2 {
		t.Fatalf("USD this month: %+v", now)
	}

	// The MRR bridge: five movements and net new, 24 months, each point
	// leading to its customers.
	bridge := chartByID(t, d.body, "bridge-chart")
	links := linksOf(t, d.body, "bridge-chart")
	if len(bridge.Series) != 6 || len(links) != 6 || bridge.Series[0].Name != "New" || bridge.Series[4].Name != "Churn" || bridge.Series[5].Name != "Net new MRR" {
		t.Fatalf("bridge series %+v, %d link rows", bridge.Series, len(links))
	}
	if n := len(bridge.XAxis[0].Data); n != 24 || bridge.XAxis[0].Data[23] != m.String() || len(links[0]) != 24 {
		t.Fatalf("bridge months: %v", bridge.XAxis[0].Data)
	}
	if v := bridge.Series[0].Data[23].Value; v != 2000 {
		t.Errorf("new this month on the bridge: %v, want 2000 (USD)", v)
	}
	if v := bridge.Series[4].Data[23].Value; v != -1000 {
		t.Errorf("churn this month on the bridge: %v, want -1000", v)
	}
	if l := links[4][23]; !strings.HasPrefix(l, "/revenue/customers?") || !strings.Contains(l, "kind=churn") || !strings.Contains(l, "month="+m.String()) {
		t.Errorf("churn bar links to %q", l)
	}
	if tr := chartByID(t, d.body, "trend-chart"); tr.Series[0].Data[22].Value != 2000 || tr.Series[0].Data[23].Value != float64(now.MRR)/100 {
		t.Errorf("trend: %+v", tr.Series[0].Data[20:])
	}

	// From the churn tile to the customer who churned, and its order.
	_, _, churnLink := tileOf(t, d.body, "tile-churn")
	churn := b.get(churnLink)
	wantPage(t, "churned customers", churn, http.StatusOK, c.names[c.brief], "1,000.00", fmt.Sprintf(`href="/orders/%d"`, c.briefOrder))
	if row := rowOfCustomer(churn.body, c.brief); !strings.Contains(row, "1,000.00") || !strings.Contains(row, "0.00") || !strings.Contains(row, "-1,000.00") {
		t.Errorf("Brief's row: %s", row)
	}
	if strings.Contains(churn.body, c.names[c.acme]) {
		t.Errorf("the churned list shows Acme")
	}
	wantPage(t, "the churned customer's order", b.get(fmt.Sprintf("/orders/%d", c.briefOrder)), http.StatusOK)

	// Every paying customer: their MRR adds up to the tile.
	_, _, payLink := tileOf(t, d.body, "tile-mrr")
	paying := b.get(payLink)
	wantPage(t, "paying customers", paying, http.StatusOK, c.names[c.acme], c.names[c.cobalt], "Month table: "+usd(now.MRR), "Paying in all: 2")
	if v := regexp.MustCompile(`(?s)id="list-amount".*?<div class="value">([^<]*)`).FindStringSubmatch(paying.body); v == nil || strings.TrimSpace(v[1]) != usd(now.MRR) {
		t.Errorf("paying customers' MRR %v, want %s", v, usd(now.MRR))
	}
	if strings.Contains(paying.body, c.names[c.brief]) || strings.Contains(paying.body, c.names[c.delta]) {
		t.Errorf("the paying list shows Brief (churned) or Delta (GBP)")
	}
	// Everyone who moved, with the order behind each movement.
	moved := b.get(revenuePath("/revenue/customers", "USD", m, "kind", "moved"))
	for _, want := range []struct{ customer, order int64 }{{c.acme, c.seatsOrder}, {c.brief, c.briefOrder}, {c.cobalt, c.cobaltOrder}} {
		if row := rowOfCustomer(moved.body, want.customer); !strings.Contains(row, fmt.Sprintf(`href="/orders/%d"`, want.order)) {
			t.Errorf("moved: %s's row %q lacks order %d", c.names[want.customer], row, want.order)
		}
	}
	newOnes := b.get(revenuePath("/revenue/customers", "USD", m, "kind", "new"))
	wantPage(t, "new customers", newOnes, http.StatusOK, c.names[c.cobalt], "2,000.00", "Month table: 2,000.00")

	// The month table under the charts links each number.
	mt := regexp.MustCompile(`(?s)<tr data-month="` + m.String() + `">(.*?)</tr>`).FindStringSubmatch(section(t, d.body, "details", "month-table"))
	if mt == nil || !strings.Contains(mt[1], ">"+usd(now.MRR)+"</a>") || !strings.Contains(mt[1], "kind=expansion") || !strings.Contains(mt[1], ">2</a>") {
		t.Errorf("month table row of %s: %v", m, mt)
	}

	// Renewals: Brief's month was due this month and not renewed.
	ren := section(t, d.body, "section", "renewals")
	rr := regexp.MustCompile(`(?s)<tr data-month="` + m.String() + `">(.*?)</tr>`).FindStringSubmatch(ren)
	if rr == nil || !strings.Contains(rr[1], ">1</a>") || !strings.Contains(rr[1], ">0</a>") || !strings.Contains(rr[1], "0.0%") || !strings.Contains(rr[1], ">1,000.00</a>") {
		t.Errorf("renewals of %s: %v", m, rr)
	}
	due := b.get(revenuePath("/revenue/renewals", "USD", m) + "&renewed=no")
	wantPage(t, "renewals not renewed", due, http.StatusOK, c.names[c.brief], fmt.Sprintf(`href="/orders/%d"`, c.briefOrder), ">no<")

	// Top customers: Cobalt, then Acme.
	top := section(t, d.body, "section", "top-customers")
	if i, j := strings.Index(top, c.names[c.cobalt]), strings.Index(top, c.names[c.acme]); i < 0 || j < 0 || i > j {
		t.Errorf("top customers: %s", top)
	}

	// Cohorts: one a month of first payment, each cell leading to them.
	cm := linksOf(t, d.body, "cohort-mrr-chart")
	if len(cm) != 1 || len(cm[0]) == 0 || !strings.Contains(cm[0][0], "cohort=") {
		t.Errorf("cohort links: %v", cm)
	}
	cohort := b.get(revenuePath("/revenue/customers", "USD", m, "kind", "paying") + "&cohort=" + (m - 6).String())
	wantPage(t, "Acme's cohort this month", cohort, http.StatusOK, c.names[c.acme])
	if strings.Contains(cohort.body, c.names[c.cobalt]) {
		t.Errorf("the %s cohort shows Cobalt", m-6)
	}

	// The customer's page: its MRR history and movements with the orders.
	acme := b.get(fmt.Sprintf("/customers/%d", c.acme))
	panel := section(t, acme.body, "section", "revenue-USD")
	for _, want := range []string{usd(now.MRR - 200_000), (m - 6).String(), "New", "Expansion", fmt.Sprintf(`href="/orders/%d"`, c.acmeOrder), fmt.Sprintf(`href="/orders/%d"`, c.seatsOrder)} {
		if !strings.Contains(panel, want) {
			t.Errorf("Acme's revenue panel lacks %q: %s", want, panel)
		}
	}
	if opt := chartByID(t, acme.body, "revenue-chart-USD"); len(opt.Series) != 1 || opt.Series[0].Data[0].Value != 1000 {
		t.Errorf("Acme's MRR chart: %+v", opt.Series)
	}
	// Sales sees the customer without its revenue.
	if p := c.signIn("sales").get(fmt.Sprintf("/customers/%d", c.acme)); p.status != 200 || strings.Contains(p.body, `id="revenue"`) {
		t.Errorf("sales' view of Acme: %d, revenue panel shown: %v", p.status, strings.Contains(p.body, `id="revenue"`))
	}

	// Bad parameters are refused, naming the parameter.
	for path, field := range map[string]string{
		"/dashboard?months=40":                     "months",
		"/dashboard?months=x":                      "months",
		"/dashboard?month=2026-13":                 "month",
		"/dashboard?currency=XYZ":                  "currency",
		"/revenue/customers?kind=upgrade":          "kind",
		"/revenue/customers?cohort=soon":           "cohort",
		"/revenue/renewals?renewed=maybe":          "renewed",
		"/revenue/renewals?month=2026-1&currency=": "month",
	} {
		wantPage(t, path, b.get(path), http.StatusBadRequest, field+": ")
	}
}

// num reads a JSON number that may be null.
func num(v any) *float64 {
	f, ok := v.(float64)
	if !ok {
		return nil
	}
	return &f
}

func rowOfCustomer(body string, id int64) string {
	m := regexp.MustCompile(`(?s)<tr data-customer="` + fmt.Sprint(id) + `">(.*?)</tr>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func revenuePath(path, cur string, m keel.Month, more ...string) string {
	q := url.Values{"currency": {cur}, "month": {m.String()}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return path + "?" + q.Encode()
}

// TestRevenuePagesRoles: every revenue page as every role — the dashboard
// and the customers behind it for leadership, finance and admin; spend
// for finance and admin; settings for admin; 403 to the others — and the
// navigation offers each page to those it is for.
func TestRevenuePagesRoles(t *testing.T) {
	c := newRevenueCompany(t)
	m := c.m
	readers := []string{"leadership", "finance", "admin"}
	pages := map[string][]string{
		"/dashboard": readers, "/dashboard?currency=USD&months=36": readers, "/dashboard?month=" + (m - 3).String() + "&months=6": readers,
		revenuePath("/revenue/customers", "USD", m, "kind", "paying"): readers, revenuePath("/revenue/customers", "USD", m, "kind", "moved"): readers,
		revenuePath("/revenue/customers", "USD", m, "kind", "contraction"): readers, revenuePath("/revenue/customers", "GBP", m-2, "kind", "new"): readers,
		revenuePath("/revenue/renewals", "USD", m): readers, revenuePath("/revenue/renewals", "USD", m+1) + "&renewed=yes": readers,
		"/spend": {"finance", "admin"}, "/spend?from=2025-01&to=2026-06&month=2025-03&currency=JPY": {"finance", "admin"},
		"/settings": {"admin"},
	}
	nav := map[string]string{"/dashboard": "revenue.read", "/spend": "spend.write", "/settings": "settings.write"}
	for _, role := range []string{"admin", "sales", "csm", "finance", "leadership"} {
		b := c.signIn(role)
		emp := c.emps[role]
		for path, who := range pages {
			allowed := false
			for _, w := range who {
				allowed = allowed || w == role
			}
			if allowed {
				wantPage(t, role+" "+path, b.get(path), http.StatusOK)
			} else {
				wantPage(t, role+" "+path, b.get(path), http.StatusForbidden, "Your role does not allow this.")
			}
		}
		home := b.get("/")
		for link, action := range nav {
			shown := strings.Contains(home.body, `<a href="`+link+`"`)
			if want := emp.Can(keel.Action(action)) == nil; shown != want {
				t.Errorf("%s: the navigation links %s: %v, want %v", role, link, shown, want)
			}
		}
		if dash := strings.Contains(home.body, "<h1>Revenue dashboard</h1>"); dash != (role == "leadership") {
			t.Errorf("%s: home is the dashboard: %v", role, dash)
		}
	}
}

// TestSpendForm: finance enters a month's spend in currency units, sees
// it in the table and changes it; each entry is audited and reaches the
// API in minor units; bad input shows the form again naming the field and
// changes nothing.
func TestSpendForm(t *testing.T) {
	e := newRevenueEnv(t, false)
	b := e.signIn("finance")
	wantPage(t, "spend page", b.get("/spend"), http.StatusOK, `id="spend-form"`, `name="amount"`)
	r := b.post("/spend", url.Values{"month": {"2026-03"}, "currency": {"USD"}, "amount": {"12,500.50"}, "from": {"2026-01"}, "to": {"2026-06"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/spend?") || !strings.Contains(r.location, "from=2026-01") {
		t.Fatalf("save spend: %d to %q: %.500s", r.status, r.location, r.body)
	}
	p := b.get(r.location)
	wantPage(t, "after saving", p, http.StatusOK, "Spend saved: 12,500.50 USD in 2026-03.", `value="12,500.50"`)
	if row := regexp.MustCompile(`(?s)<tr data-month="2026-03">(.*?)</tr>`).FindStringSubmatch(p.body); row == nil || !strings.Contains(row[1], "12,500.50") {
		t.Errorf("the table's March: %v", row)
	}
	wantSpend := func(month, cur string, amount float64) {
		t.Helper()
		items := e.must(200, "finance", "GET", "/api/v1/spend?from="+month+"&to="+month, nil)["items"].([]any)
		for _, it := range items {
			if x := it.(map[string]any); x["currency"] == cur {
				if x["amount"] != amount || x["updated_by"] != float64(e.emps["finance"].ID) {
					t.Errorf("spend %s %s: %v, want %v by finance", month, cur, x, amount)
				}
				return
			}
		}
		if amount >= 0 {
			t.Errorf("no spend %s %s: %v", month, cur, items)
		}
	}
	wantSpend("2026-03", "USD", 1_250_050)
	// Yen have no minor unit.
	if r := b.post("/spend", url.Values{"month": {"2026-03"}, "currency": {"JPY"}, "amount": {"1500"}}); r.status != http.StatusSeeOther {
		t.Fatalf("yen: %d %.500s", r.status, r.body)
	}
	wantSpend("2026-03", "JPY", 1500)
	// Changed: the form opens on the amount entered.
	wantPage(t, "edit March", b.get("/spend?month=2026-03&currency=USD"), http.StatusOK, `value="12,500.50"`)
	b.post("/spend", url.Values{"month": {"2026-03"}, "currency": {"USD"}, "amount": {"13000"}})
	wantSpend("2026-03", "USD", 1_300_000)
	entries, _, err := e.db.Audit(context.Background(), keel.AuditFilter{ActorID: e.emps["finance"].ID, Entity: "spend", Page: keel.Page{Limit: 10}})
	if err != nil || len(entries) != 3 || entries[0].Action != "spend.set" || !strings.Contains(string(entries[0].Before), "1250050") || !strings.Contains(string(entries[0].After), "1300000") {
		t.Errorf("audit of spend: %d entries (%v): %+v", len(entries), err, entries)
	}
	wantPage(t, "the audit page with spend", e.signIn("admin").get("/audit"), http.StatusOK, "spend.set")

	audits := e.auditCount()
	for _, tt := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"month": {"2026-13"}, "currency": {"USD"}, "amount": {"1"}}, "month"},
		{url.Values{"month": {""}, "currency": {"USD"}, "amount": {"1"}}, "month"},
		{url.Values{"month": {"2026-04"}, "currency": {"XYZ"}, "amount": {"1"}}, "currency"},
		{url.Values{"month": {"2026-04"}, "currency": {"JPY"}, "amount": {"12.5"}}, "amount"},
		{url.Values{"month": {"2026-04"}, "currency": {"USD"}, "amount": {"-5"}}, "amount"},
		{url.Values{"month": {"2026-04"}, "currency": {"USD"}, "amount": {"1.234"}}, "amount"},
		{url.Values{"month": {"2026-04"}, "currency": {"USD"}, "amount": {""}}, "amount"},
		{url.Values{"month": {"2026-04"}, "currency": {"USD"}, "amount": {"99999999999999999"}}, "amount"},
	} {
		r := b.post("/spend", tt.form)
		wantPage(t, fmt.Sprint(tt.form), r, http.StatusBadRequest, `id="form-error"`, tt.field+": ")
		if tt.form.Get("amount") != "" && !strings.Contains(r.body, `value="`+html.EscapeString(tt.form.Get("amount"))+`"`) {
			t.Errorf("%v: the form lost what was typed", tt.form)
		}
	}
	if e.auditCount() != audits {
		t.Errorf("refused spend was audited")
	}
	wantSpend("2026-04", "USD", -1)
}

// TestSettingsForm: admin changes the revenue settings on the settings
// page, audited, and the API reads them; bad input shows the form again
// naming the field and changes nothing.
func TestSettingsForm(t *testing.T) {
	e := newRevenueEnv(t, false)
	b := e.signIn("admin")
	wantPage(t, "settings", b.get("/settings"), http.StatusOK, `<section id="revenue"`, `name="mrr_day"`, `name="gross_margin_pct" value="100"`)
	good := url.Values{"mrr_day": {"first"}, "churn_timing": {"void_day"}, "nrr_with_reactivation": {"on"}, "renewal_grace_days": {"15"},
		"cac_months": {"3"}, "gross_margin_pct": {"80"}, "main_currency": {"EUR"}}
	r := b.post("/settings/revenue", good)
	if r.status != http.StatusSeeOther || r.location != "/settings#revenue" {
		t.Fatalf("save settings: %d to %q: %.500s", r.status, r.location, r.body)
	}
	wantPage(t, "after saving", b.get("/settings"), http.StatusOK, "Revenue settings saved.", `<option value="first" selected>`, `<option value="EUR" selected>EUR</option>`,
		`name="renewal_grace_days" value="15"`, `name="nrr_with_reactivation" checked`)
	s := e.must(200, "finance", "GET", "/api/v1/settings/revenue", nil)
	if s["mrr_day"] != "first" || s["churn_timing"] != "void_day" || s["nrr_with_reactivation"] != true || s["renewal_grace_days"] != 15.0 ||
		s["cac_months"] != 3.0 || s["gross_margin_pct"] != 80.0 || s["main_currency"] != "EUR" {
		t.Errorf("settings after the form: %v", s)
	}
	entries, _, err := e.db.Audit(context.Background(), keel.AuditFilter{ActorID: e.emps["admin"].ID, Entity: "settings", Page: keel.Page{Limit: 5}})
	var after struct {
		GrossMarginPct int    `json:"gross_margin_pct"`
		MainCurrency   string `json:"main_currency"`
	}
	if err != nil || len(entries) != 1 || entries[0].Action != "settings.revenue" || json.Unmarshal(entries[0].After, &after) != nil ||
		after.GrossMarginPct != 80 || after.MainCurrency != "EUR" {
		t.Errorf("audit of the settings: %d entries (%v), after %s", len(entries), err, entries[0].After)
	}
	audits := e.auditCount()
	for field, v := range map[string]string{"gross_margin_pct": "0", "renewal_grace_days": "many", "mrr_day": "middle", "churn_timing": "", "cac_months": "2", "main_currency": "EURO"} {
		form := url.Values{}
		for k, vs := range good {
			form[k] = vs
		}
		form.Set(field, v)
		r := b.post("/settings/revenue", form)
		wantPage(t, field+"="+v, r, http.StatusBadRequest, `id="form-error"`, field+": ")
	}
	form := url.Values{}
	for k, vs := range good {
		form[k] = vs
	}
	form.Del("renewal_grace_days")
	wantPage(t, "no grace days", b.post("/settings/revenue", form), http.StatusBadRequest, "renewal_grace_days: ")
	if e.auditCount() != audits || fmt.Sprint(e.must(200, "finance", "GET", "/api/v1/settings/revenue", nil)) != fmt.Sprint(s) {
		t.Errorf("refused settings changed something")
	}
}

// TestRevenuePagesInChinese: every revenue page in Chinese, as the
// employee chooses.
func TestRevenuePagesInChinese(t *testing.T) {
	c := newRevenueCompany(t)
	for role, pages := range map[string][]string{
		"leadership": {"/", "/dashboard?currency=USD", revenuePath("/revenue/customers", "USD", c.m, "kind", "moved"), revenuePath("/revenue/renewals", "USD", c.m),
			fmt.Sprintf("/customers/%d", c.acme)},
		"finance": {"/spend"},
		"admin":   {"/settings"},
	} {
		b := c.signIn(role)
		if r := b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}}); r.status != http.StatusSeeOther {
			t.Fatalf("switch to Chinese: %d", r.status)
		}
		for _, p := range pages {
			r := b.get(p)
			wantPage(t, role+" "+p, r, http.StatusOK, `lang="zh-CN"`)
			for _, en := range []string{"vs last month", "n/a", "Revenue dashboard", "Paying customers", "Net new MRR", "Spend by month", "Save revenue settings", "MRR this month", "Renewed MRR"} {
				if strings.Contains(r.body, en) {
					t.Errorf("%s %s shows %q", role, p, en)
				}
			}
		}
	}
	b := c.signIn("leadership")
	b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}})
	wantPage(t, "dashboard in Chinese", b.get("/dashboard?currency=USD"), http.StatusOK, "收入仪表盘", "净新增 MRR", "付费客户", "MRR 桥", "批次分析", "较上月")
}

// TestBrowserRevenueDashboard: leadership signs in and lands on the
// dashboard, whose charts are drawn with data; a tile leads to its
// customers and they to their orders; the customer's MRR chart is drawn;
// no page has a script error.
func TestBrowserRevenueDashboard(t *testing.T) {
	c := newRevenueCompany(t)
	lead := c.emps["leadership"]
	ch := newChromium(t, c.url)
	ch.signIn(lead.Email, c.pws[lead.Email])
	ch.wantText("home", "Revenue dashboard", "Net new MRR")
	for _, sel := range []string{"#bridge-chart", "#trend-chart", "#cohort-mrr-chart", "#cohort-customers-chart"} {
		if !ch.chartDrawn(sel) {
			t.Errorf("%s is not drawn", sel)
		}
	}
	ch.screenshot("dashboard")
	ch.open("/dashboard?currency=USD&months=36")
	if !ch.chartDrawn("#bridge-chart") {
		t.Errorf("the 36-month bridge is not drawn")
	}
	ch.screenshot("dashboard-usd")
	ch.run("open the churn tile", chromedp.Click("#tile-churn", chromedp.ByQuery), chromedp.WaitVisible("#revenue-customers", chromedp.ByQuery))
	ch.wantText("churned customers", c.names[c.brief])
	ch.screenshot("revenue-customers")
	ch.run("open the order", chromedp.Click(fmt.Sprintf(`a[href="/orders/%d"]`, c.briefOrder), chromedp.ByQuery), chromedp.WaitVisible("#order-status", chromedp.ByQuery))
	if loc := ch.location(); loc != fmt.Sprintf("/orders/%d", c.briefOrder) {
		t.Errorf("the order link went to %s", loc)
	}
	ch.open(fmt.Sprintf("/customers/%d", c.acme))
	if !ch.chartDrawn("#revenue-chart-USD") {
		t.Errorf("Acme's MRR chart is not drawn")
	}
	ch.screenshot("customer-revenue")
	// A click on the bridge's churn bar of this month leads to its customers.
	ch.open("/dashboard?currency=USD&months=6")
	var clicked string
	ch.run("click the bridge", chromedp.Evaluate(`(function () {
  var el = document.querySelector("#bridge-chart"), chart = echarts.getInstanceByDom(el);
  var p = chart.convertToPixel({seriesIndex: 4}, [5, -500]);
  var r = el.getBoundingClientRect();
  var ev = new MouseEvent("click", {clientX: r.left + p[0], clientY: r.top + p[1], bubbles: true});
  el.querySelector("canvas").dispatchEvent(new MouseEvent("mousemove", {clientX: r.left + p[0], clientY: r.top + p[1], bubbles: true}));
  el.querySelector("canvas").dispatchEvent(new MouseEvent("mousedown", {clientX: r.left + p[0], clientY: r.top + p[1], bubbles: true}));
  el.querySelector("canvas").dispatchEvent(new MouseEvent("mouseup", {clientX: r.left + p[0], clientY: r.top + p[1], bubbles: true}));
  el.querySelector("canvas").dispatchEvent(ev);
  return "ok";
})()`, &clicked), chromedp.WaitVisible("#revenue-customers", chromedp.ByQuery))
	if loc := ch.location(); !strings.Contains(loc, "kind=churn") {
		t.Errorf("the churn bar led to %s", loc)
	}
	ch.open("/spend")
	ch.wantText("spend page as leadership", "Your role does not allow this.")
	if errs := ch.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors: %v", errs)
	}
}
