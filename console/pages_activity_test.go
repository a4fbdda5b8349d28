package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// activityFormRoutes are the forms of the activity pages, for
// TestFormRoleMatrix: the activity pages only read, so there are none.
var activityFormRoutes = []formRoute{}

// activityDays gives each activity fixture its own "now": Wednesdays 52
// weeks apart, long before any other test's events, so that a dashboard
// across all tenants holds only its own fixture's.
var activityDays atomic.Int64

// day is the date k days from the fixture's today.
func (a *activityEnv) day(k int) string { return a.today.AddDate(0, 0, k).Format(time.DateOnly) }

// activityEnv is a console whose clock is a day of its own (activityDays), over the same
// databases as e, with tenants whose logins trend up, down, stop and
// never start, linked to customers through the JSON API.
type activityEnv struct {
	*apiEnv
	url                  string
	today                time.Time
	up, down, quiet      int64 // customer ids
	tUp, tDown, tQuiet   string
	tStray, tViewer      string // tenants of no customer
	upName, downName     string
	quietName, strayName string
}

func newActivityEnv(t *testing.T) *activityEnv {
	t.Helper()
	e := newAPI(t)
	today := time.Date(2014, 6, 18, 12, 0, 0, 0, time.UTC).AddDate(0, 0, -364*int(activityDays.Add(1)-1))
	h, err := console.NewServer(console.Deps{Warehouse: e.wh, Names: e.db, Store: e.db, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return today }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	id := uniq()
	a := &activityEnv{apiEnv: e, url: srv.URL, today: today,
		tUp: "act-up-" + id, tDown: "act-down-" + id, tQuiet: "act-quiet-" + id, tStray: "act-stray-" + id, tViewer: "act-viewer-" + id,
		upName: "Upward " + id, downName: "Downward " + id, quietName: "Quiet " + id, strayName: "Stray Co " + id,
	}

	var events []ingest.Event
	day := func(k int) time.Time { return today.AddDate(0, 0, k).Truncate(24 * time.Hour).Add(9 * time.Hour) }
	logins := func(tenant string, k, n int, users ...string) {
		for i := range n {
			events = append(events, ingest.Event{Tenant: tenant, ID: fmt.Sprintf("%d-%d", k, i), Type: "login",
				User: users[i%len(users)], Time: day(k).Add(time.Duration(i) * time.Minute), Props: "{}"})
		}
	}
	// Trends count complete days: the last window is the 14 days to
	// yesterday. Up: 2 logins in the earlier window, 8 in the last (and 2
	// today, which no trend counts yet).
	logins(a.tUp, -20, 2, "u1", "u2")
	logins(a.tUp, -3, 4, "u1", "u2")
	logins(a.tUp, -1, 4, "u1", "u2", "u3", "u4")
	logins(a.tUp, 0, 2, "u1", "u2")
	// Down: 26 logins in the earlier window (two a day, -27..-15), 9 in
	// the last (4 on -14, then one a day from -5 to yesterday).
	for k := -27; k <= -14; k++ {
		n := 2
		if k == -14 {
			n = 4
		}
		logins(a.tDown, k, n, "d1", "d2")
	}
	for k := -5; k <= -1; k++ {
		logins(a.tDown, k, 1, "d1")
	}
	// Quiet: 3 logins 20 days ago and none since; too few to be one of
	// the biggest declines, though it fell by 100 %.
	logins(a.tQuiet, -20, 3, "q1")
	// Stray: a tenant of no customer, 1 login two days ago and 4 today by
	// 2 users.
	logins(a.tStray, -2, 1, "x1")
	logins(a.tStray, 0, 4, "x1", "x2")
	// Viewer: events but never a login.
	events = append(events, ingest.Event{Tenant: a.tViewer, ID: "v", Type: "page_view", User: "v1", Time: day(-3), Props: "{}"})

	b := warehouse.Batch{Topic: "test.activity." + id}
	for i := range events {
		b.AddEvent(&events[i], warehouse.Position{Partition: 0, Offset: int64(i)}, today)
	}
	if err := e.wh.Insert(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if err := e.db.UpsertTenants(context.Background(), []postgres.Tenant{{ID: a.tStray, Name: a.strayName}}); err != nil {
		t.Fatal(err)
	}
	customer := func(name, tenant string, sales bool) int64 {
		body := map[string]any{"name": name, "tenant_id": tenant, "csm_owner": e.emps["csm"].ID}
		body["sales_owner"] = nil // not the creating seller's
		if sales {
			body["sales_owner"] = e.emps["sales"].ID
		}
		return int64(e.must(201, "sales", "POST", "/api/v1/customers", body)["id"].(float64))
	}
	a.up = customer(a.upName, a.tUp, true)
	a.down = customer(a.downName, a.tDown, true)
	a.quiet = customer(a.quietName, a.tQuiet, false)
	return a
}

// browse returns a browser signed in as the employee called name, looking
// at the console whose clock is the fixture's today (cookies are per host, not
// per port, so the session carries over).
func (a *activityEnv) browse(name string) *browser {
	a.t.Helper()
	b := a.signIn(name)
	b.base = a.url
	return b
}

// section returns the HTML of the element with the id, up to its closing
// tag.
func section(t *testing.T, body, tag, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<` + tag + `[^>]* id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</` + tag + `>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no <%s id=%q>", tag, id)
	}
	return html.UnescapeString(m[1])
}

// card returns the value and the note under it of the dashboard's card
// with the id.
func card(t *testing.T, body, id string) (value, note string) {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*><div class="label">[^<]*</div><div class="value[^"]*">([^<]*)</div>(?:<div class="muted">([^<]*)</div>)?`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no card %q", id)
	}
	return m[1], m[2]
}

// rowOf returns the table row of a tenant in a section of the dashboard,
// or "" when it is not there.
func rowOf(sec, tenant string) string {
	m := regexp.MustCompile(`(?s)<tr data-tenant="` + regexp.QuoteMeta(tenant) + `">(.*?)</tr>`).FindStringSubmatch(sec)
	if m == nil {
		return ""
	}
	return m[1]
}

// chartOption decodes the ECharts option of the page's first chart.
type chartOption struct {
	XAxis []struct {
		Data []string `json:"data"`
	} `json:"xAxis"`
	Series []struct {
		Name string `json:"name"`
		Data []struct {
			Value float64 `json:"value"`
		} `json:"data"`
	} `json:"series"`
}

func chartOf(t *testing.T, body string) chartOption {
	t.Helper()
	m := regexp.MustCompile(`data-option="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no chart on the page")
	}
	var opt chartOption
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &opt); err != nil {
		t.Fatalf("chart option is not JSON: %v", err)
	}
	return opt
}

// series returns a series' values on the last days, latest last.
func (o chartOption) last(t *testing.T, name string, n int) []float64 {
	t.Helper()
	for _, s := range o.Series {
		if s.Name == name {
			var out []float64
			for _, d := range s.Data[len(s.Data)-n:] {
				out = append(out, d.Value)
			}
			return out
		}
	}
	t.Fatalf("the chart has no series %q", name)
	return nil
}

func TestActivityDashboard(t *testing.T) {
	a := newActivityEnv(t)
	// A paying customer whose tenant sent nothing in the lookback.
	goneTenant := "act-gone-" + uniq()
	gone := int64(a.must(201, "sales", "POST", "/api/v1/customers", map[string]any{"name": "Gone " + goneTenant, "tenant_id": goneTenant})["id"].(float64))
	a.approvedOrder(gone, "Gone edition")
	// Every paying customer of the shared database without events in the
	// fixture's lookback is as quiet as it; the fixture adds two more
	// silent tenants (quiet and viewer).
	refs, err := a.db.CustomerRefs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	silentWant := 2
	for _, c := range refs {
		switch c.TenantID {
		case "", a.tUp, a.tDown, a.tQuiet, a.tStray, a.tViewer:
			continue
		}
		if c.Status == keel.CustomerTrial || c.Status == keel.CustomerActive || c.Status == keel.CustomerRenewed {
			silentWant++
		}
	}
	for _, role := range []string{"admin", "sales", "csm", "finance", "leadership"} {
		r := a.browse(role).get("/activity")
		wantPage(t, "activity as "+role, r, http.StatusOK, "Users who logged in today", `id="totals-chart"`)
	}
	r := a.browse("leadership").get("/activity")
	cust := func(id int64) string { return fmt.Sprintf(`href="/customers/%d"`, id) }
	tenantLink := func(tenant string) string { return `href="/activity/tenants/` + tenant + `"` }

	up := section(t, r.body, "section", "trending-up")
	if row := rowOf(up, a.tUp); !strings.Contains(row, cust(a.up)) || !strings.Contains(row, a.upName) || !strings.Contains(row, "+300%") {
		t.Errorf("trending up: the up customer's row %q lacks its link, name or +300%%", row)
	}
	if row := rowOf(up, a.tStray); !strings.Contains(row, tenantLink(a.tStray)) || !strings.Contains(row, "unknown tenant") || !strings.Contains(row, a.strayName) || !strings.Contains(row, "none before") {
		t.Errorf("trending up: the stray tenant's row %q lacks its tenant link, the unknown-tenant tag, its name or 'none before'", row)
	}
	for _, tn := range []string{a.tDown, a.tQuiet, a.tViewer} {
		if rowOf(up, tn) != "" {
			t.Errorf("trending up lists %s", tn)
		}
	}

	down := section(t, r.body, "section", "trending-down")
	if row := rowOf(down, a.tDown); !strings.Contains(row, cust(a.down)) || !strings.Contains(row, "<td class=\"num\">9</td><td class=\"num\">26</td>") || !strings.Contains(row, "-65%") {
		t.Errorf("trending down: the down customer's row %q lacks its link, 9 against 26 logins or -65%%", row)
	}
	if row := rowOf(down, a.tQuiet); !strings.Contains(row, cust(a.quiet)) || !strings.Contains(row, "-100%") {
		t.Errorf("trending down: the quiet customer's row %q lacks its link or -100%%", row)
	}
	if rowOf(down, a.tUp) != "" || rowOf(down, a.tStray) != "" {
		t.Errorf("trending down lists a tenant trending up")
	}
	if i, j := strings.Index(down, a.tDown), strings.Index(down, a.tQuiet); i > j {
		t.Errorf("trending down: the customer who lost 17 logins comes after the one who lost 3")
	}

	declines := section(t, r.body, "section", "declines")
	if !strings.Contains(rowOf(declines, a.tDown), cust(a.down)) {
		t.Errorf("biggest declines lack the down customer")
	}
	if rowOf(declines, a.tQuiet) != "" {
		t.Errorf("biggest declines list the quiet customer, who had only 3 logins before")
	}

	silent := section(t, r.body, "section", "silent")
	if row := rowOf(silent, a.tQuiet); !strings.Contains(row, cust(a.quiet)) || !strings.Contains(row, `<td class="num">20</td>`) || !strings.Contains(row, a.day(-20)) {
		t.Errorf("silent: the quiet customer's row %q lacks its link, 20 days or its last login %s", row, a.day(-20))
	}
	if row := rowOf(silent, goneTenant); !strings.Contains(row, cust(gone)) || !strings.Contains(row, "none in 90 days") {
		t.Errorf("silent: the paying customer whose tenant sent nothing: row %q", row)
	}
	if row := rowOf(silent, a.tViewer); !strings.Contains(row, tenantLink(a.tViewer)) || !strings.Contains(row, "none in 90 days") {
		t.Errorf("silent: the tenant that never logged in: row %q", row)
	}
	for _, tn := range []string{a.tUp, a.tDown, a.tStray} {
		if rowOf(silent, tn) != "" {
			t.Errorf("silent lists %s, which logged in within 15 days", tn)
		}
	}

	for id, want := range map[string][2]string{
		"card-users":   {"4", "Yesterday: 5"},
		"card-logins":  {"6", "Yesterday: 5"},
		"card-tenants": {"2", "Yesterday: 2"},
		"card-down":    {"2", ""},
		"card-silent":  {fmt.Sprint(silentWant), ""},
	} {
		if v, note := card(t, r.body, id); v != want[0] || note != want[1] {
			t.Errorf("card %s: %s, %q; want %s, %q", id, v, note, want[0], want[1])
		}
	}

	// The chart carries the day's numbers across all customers.
	opt := chartOf(t, r.body)
	if len(opt.XAxis) == 0 || len(opt.XAxis[0].Data) != 90 {
		t.Fatalf("x axis: %+v, want 90 days", opt.XAxis)
	}
	if first, last := opt.XAxis[0].Data[0], opt.XAxis[0].Data[89]; first != a.day(-89) || last != a.day(0) {
		t.Errorf("x axis from %s to %s, want %s to %s", first, last, a.day(-89), a.day(0))
	}
	for name, want := range map[string][]float64{"Logins": {5, 6}, "Users who logged in": {5, 4}, "Customers with a login": {2, 2}} {
		if got := opt.last(t, name, 2); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s yesterday and today: %v, want %v", name, got, want)
		}
	}

	// My customers: the sales owner of the up and down customers sees
	// only those in the tables.
	mine := a.browse("sales").get("/activity?mine=1")
	wantPage(t, "my customers", mine, http.StatusOK, "the tables only yours")
	if up := section(t, mine.body, "section", "trending-up"); rowOf(up, a.tUp) == "" || rowOf(up, a.tStray) != "" {
		t.Errorf("my customers, trending up: want the up customer and not the stray tenant: %s", up)
	}
	if silent := section(t, mine.body, "section", "silent"); rowOf(silent, a.tQuiet) != "" {
		t.Errorf("my customers: the quiet customer, owned by someone else, is listed")
	}

	// The old address of a tenant's page sends on to the new one.
	if r := a.browse("csm").get("/activity?tenant=" + a.tStray); r.status != http.StatusMovedPermanently || r.location != "/activity/tenants/"+a.tStray {
		t.Errorf("old tenant address: %d to %q", r.status, r.location)
	}
}

// TestActivityChartCarriesTheNumbers checks that a tenant's chart, built
// in Go, holds the day's active users and logins, and that the tenant's
// page says whose it is.
func TestActivityChartCarriesTheNumbers(t *testing.T) {
	a := newActivityEnv(t)
	b := a.browse("finance")
	r := b.get("/activity/tenants/" + a.tStray)
	wantPage(t, "stray tenant", r, http.StatusOK, "Activity of "+a.tStray, a.strayName, "unknown tenant", "Login trend (14 days)")
	opt := chartOf(t, r.body)
	if len(opt.XAxis) == 0 || len(opt.XAxis[0].Data) != 90 || opt.XAxis[0].Data[89] != a.day(0) {
		t.Fatalf("x axis: %+v, want 90 days to %s", opt.XAxis, a.day(0))
	}
	for name, want := range map[string]float64{"Logins": 4, "Daily active users": 2, "MAU": 2} {
		if got := opt.last(t, name, 1); got[0] != want {
			t.Errorf("%s today = %v, want %v", name, got[0], want)
		}
	}

	r = b.get("/activity/tenants/" + a.tDown + "?to=" + a.day(-3))
	wantPage(t, "a customer's tenant", r, http.StatusOK, fmt.Sprintf(`href="/customers/%d"`, a.down), a.downName, "Logins on "+a.day(-3))
	if strings.Contains(r.body, "unknown tenant") {
		t.Errorf("a customer's tenant is called unknown")
	}
	if got := chartOf(t, r.body).XAxis[0].Data[89]; got != a.day(-3) {
		t.Errorf("chart to %s, want %s", got, a.day(-3))
	}
	wantPage(t, "bad to", b.get("/activity/tenants/"+a.tDown+"?to=yesterday"), http.StatusBadRequest, "to: &#34;yesterday&#34; is not a date")
	wantPage(t, "to out of range", b.get("/activity/tenants/"+a.tDown+"?to=0001-01-01"), http.StatusBadRequest, "to: ")
}

func TestWeeklyReview(t *testing.T) {
	a := newActivityEnv(t)
	follow := func(cid int64, at, text string) {
		a.must(201, "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", cid), map[string]any{"kind": "call", "text": text, "at": at})
	}
	follow(a.down, a.day(-8)+"T10:00:00Z", "Called about the drop in logins")
	follow(a.down, a.day(-1)+"T10:00:00Z", "Visit booked for next week")
	follow(a.up, a.day(-10)+"T23:59:00Z", "Kick-off call, the Sunday before")

	csm := a.emps["csm"]
	for _, role := range []string{"admin", "sales", "csm", "finance", "leadership"} {
		wantPage(t, "review as "+role, a.browse(role).get("/review"), http.StatusOK, a.day(-2)+" – "+a.day(4))
	}
	b := a.browse("leadership")
	r := b.get(fmt.Sprintf("/review?week=%s&owner=%d", a.day(-7), csm.ID))
	wantPage(t, "review", r, http.StatusOK, a.day(-9)+" – "+a.day(-3), "Customers: 3.",
		`href="/review?owner=`+fmt.Sprint(csm.ID)+`&amp;week=`+a.day(-16)+`"`, `href="/review?owner=`+fmt.Sprint(csm.ID)+`&amp;week=`+a.day(-2)+`"`)

	down := section(t, r.body, "tr", fmt.Sprintf("review-%d", a.down))
	for _, want := range []string{fmt.Sprintf(`href="/customers/%d"`, a.down), a.downName, "Test csm", "Test sales",
		"↓ -50%", `<td class="num week">3</td>`, `<td class="num week-before">8</td>`,
		"Called about the drop in logins", a.day(-8) + " 10:00", "Phone call"} {
		if !strings.Contains(down, want) {
			t.Errorf("the down customer's row lacks %q: %s", want, down)
		}
	}
	if strings.Contains(r.body, "Visit booked for next week") {
		t.Errorf("last week's review shows a follow-up of this week")
	}
	up := section(t, r.body, "tr", fmt.Sprintf("review-%d", a.up))
	for _, want := range []string{"↑ +100%", `<td class="num week">4</td>`, `<td class="num week-before">0</td>`, "No follow-up that week."} {
		if !strings.Contains(up, want) {
			t.Errorf("the up customer's row lacks %q: %s", want, up)
		}
	}
	if strings.Contains(up, "Kick-off call") {
		t.Errorf("the review shows a follow-up of the Sunday before the week")
	}
	if quiet := section(t, r.body, "tr", fmt.Sprintf("review-%d", a.quiet)); !strings.Contains(quiet, "↓ -100%") || strings.Contains(quiet, "Test sales") {
		t.Errorf("the quiet customer's row: %s", quiet)
	}

	// The week after, by default (this week), holds the later follow-up.
	r = b.get(fmt.Sprintf("/review?owner=%d", csm.ID))
	wantPage(t, "this week", r, http.StatusOK, a.day(-2)+" – "+a.day(4), "Visit booked for next week")
	if strings.Contains(r.body, "Called about the drop in logins") {
		t.Errorf("this week's review shows last week's follow-up")
	}

	// Only customers with follow-ups that week, whoever owns them.
	r = b.get("/review?week=" + a.day(-3) + "&followups=1")
	wantPage(t, "with follow-ups only", r, http.StatusOK, a.downName, "Called about the drop in logins")
	if strings.Contains(r.body, a.upName) || strings.Contains(r.body, a.quietName) {
		t.Errorf("with follow-ups only: lists a customer without one that week")
	}

	// Another owner's customers: the sales owner has two of the three.
	r = b.get(fmt.Sprintf("/review?week=%s&owner=%d", a.day(-7), a.emps["sales"].ID))
	wantPage(t, "sales owner's review", r, http.StatusOK, a.upName, a.downName)
	if strings.Contains(r.body, a.quietName) {
		t.Errorf("the sales owner's review lists the quiet customer, whom they do not own")
	}

	for _, tt := range []struct{ query, want string }{
		{"week=2014-13-45", "week: &#34;2014-13-45&#34; is not a date"},
		{"week=last", "week: &#34;last&#34; is not a date"},
		{"owner=me", "owner: &#34;me&#34; is not a whole number"},
		{"page=0", "page: &#34;0&#34; is not a page number"},
	} {
		wantPage(t, tt.query, b.get("/review?"+tt.query), http.StatusBadRequest, tt.want)
	}
}

// TestReviewOfThisWeekAgreesWithTheDashboard: on a Wednesday the review of
// this week, which ends on Sunday, shows every customer's trend as the
// dashboard does that day: both count complete days only, to yesterday,
// and never the days to come.
func TestReviewOfThisWeekAgreesWithTheDashboard(t *testing.T) {
	a := newActivityEnv(t)
	if wd := a.today.Weekday(); wd != time.Wednesday {
		t.Fatalf("the fixture's today is a %s, want a Wednesday", wd)
	}
	b := a.browse("leadership")
	dash := b.get("/activity")
	review := b.get(fmt.Sprintf("/review?owner=%d", a.emps["csm"].ID))
	wantPage(t, "this week's review", review, http.StatusOK, a.day(-2)+" – "+a.day(4),
		fmt.Sprintf("Trends compare logins in the 14 days up to %s with the 14 days before.", a.day(-1)),
		fmt.Sprintf("The week is not over: its logins are those of the 7 days up to %s, against the 7 days before.", a.day(-1)))
	wantPage(t, "the dashboard", dash, http.StatusOK,
		fmt.Sprintf("Trends compare logins in the 14 days up to %s with the 14 days before.", a.day(-1)))
	// The week's logins too are those of complete days: the up customer's
	// 4 + 4 of days -3 and -1 (not today's 2) against none; the down
	// customer's one a day from -5 against the 4 of day -14.
	for _, c := range []struct {
		id           int64
		week, before int
	}{{a.up, 8, 0}, {a.down, 5, 4}} {
		row := section(t, review.body, "tr", fmt.Sprintf("review-%d", c.id))
		if w := fmt.Sprintf(`<td class="num week">%d</td>`, c.week); !strings.Contains(row, w) {
			t.Errorf("this week's review: customer %d's row lacks %s: %s", c.id, w, row)
		}
		if w := fmt.Sprintf(`<td class="num week-before">%d</td>`, c.before); !strings.Contains(row, w) {
			t.Errorf("this week's review: customer %d's row lacks %s: %s", c.id, w, row)
		}
	}
	trendRE := regexp.MustCompile(`trend-(up|down|flat)">([^<]*)<`)
	trendIn := func(where, html string) string {
		t.Helper()
		m := trendRE.FindStringSubmatch(html)
		if m == nil {
			t.Fatalf("%s: no trend in %q", where, html)
		}
		return m[1] + " " + strings.TrimSpace(m[2])
	}
	for _, c := range []struct {
		id       int64
		tenant   string
		sections []string
	}{{a.up, a.tUp, []string{"trending-up"}}, {a.down, a.tDown, []string{"trending-down"}}, {a.quiet, a.tQuiet, []string{"trending-down"}}} {
		row := ""
		for _, sec := range c.sections {
			row += rowOf(section(t, dash.body, "section", sec), c.tenant)
		}
		if row == "" {
			t.Errorf("the dashboard does not list %s in %v", c.tenant, c.sections)
			continue
		}
		onDash := trendIn("dashboard "+c.tenant, row)
		inReview := trendIn("review "+c.tenant, section(t, review.body, "tr", fmt.Sprintf("review-%d", c.id)))
		if onDash != inReview {
			t.Errorf("%s on a Wednesday: the dashboard says %s, this week's review %s", c.tenant, onDash, inReview)
		}
	}
}

// TestActivityPagesInChinese: an employee who reads Chinese gets the
// dashboard, the review and a tenant's page in Chinese, chart included.
func TestActivityPagesInChinese(t *testing.T) {
	a := newActivityEnv(t)
	emp, _ := a.employee("zh", keel.RoleCSM)
	if _, err := a.db.SetEmployeeLocale(context.Background(), emp, emp.ID, "zh"); err != nil {
		t.Fatal(err)
	}
	b := a.signInAs(emp)
	b.base = a.url
	r := b.get("/activity")
	wantPage(t, "dashboard in Chinese", r, http.StatusOK, "今日登录用户", "登录上升", "15 天及以上未登录", "未知租户", "降幅最大")
	if strings.Contains(r.body, "Users who logged in today") {
		t.Errorf("the Chinese dashboard has English cards")
	}
	if got := chartOf(t, r.body).last(t, "登录用户数", 1); got[0] != 4 {
		t.Errorf("Chinese chart: users who logged in today = %v, want 4", got[0])
	}
	wantPage(t, "review in Chinese", b.get("/review?week="+a.day(-7)), http.StatusOK, "当周跟进记录", "上一周", "下一周")
	wantPage(t, "tenant in Chinese", b.get("/activity/tenants/"+url.PathEscape(a.tStray)), http.StatusOK, a.tStray+" 的活跃度", "每日数据")
	wantPage(t, "bad week in Chinese", b.get("/review?week=x"), http.StatusBadRequest, "week:")
}

// TestBrowserActivity drives the dashboard and the weekly review in
// headless Chromium: the chart is drawn, a customer's row leads to the
// customer, and the review's form picks a week and the customers with
// follow-ups in it.
func TestBrowserActivity(t *testing.T) {
	a := newActivityEnv(t)
	a.must(201, "csm", "POST", fmt.Sprintf("/api/v1/customers/%d/followups", a.down),
		map[string]any{"kind": "meeting", "text": "Quarterly review of the drop", "at": a.day(-8) + "T10:00:00Z"})
	// Sign in on the console with the real clock (the sign-in form's
	// cookie would be stale at the fixture's today), then browse the one
	// with the fixture's clock: cookies are per host, not per port.
	c := newChromium(t, a.apiEnv.url)
	lead := a.emps["leadership"]
	c.signIn(lead.Email, a.pws[lead.Email])
	c.base = a.url

	c.open("/activity")
	c.wantText("dashboard", "Users who logged in today", a.upName, a.downName, a.quietName, a.tStray)
	if !c.chartDrawn("#totals-chart") {
		t.Errorf("the dashboard's chart is not drawn")
	}
	c.screenshot("activity")
	c.run("follow the down customer's row",
		chromedp.Click(fmt.Sprintf(`#trending-down a[href="/customers/%d"]`, a.down), chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "`+a.downName+`")]`, chromedp.BySearch))
	if loc := c.location(); loc != fmt.Sprintf("/customers/%d", a.down) {
		t.Errorf("the down customer's row led to %s", loc)
	}

	c.open("/activity/tenants/" + a.tStray)
	if !c.chartDrawn("#activity-chart") {
		t.Errorf("the tenant's chart is not drawn")
	}

	c.open("/review")
	c.run("pick last week, with follow-ups only",
		chromedp.SetValue(`#review-filter input[name="week"]`, a.day(-7), chromedp.ByQuery),
		chromedp.Click(`#review-filter input[name="followups"]`, chromedp.ByQuery),
		chromedp.Click(`#review-filter button`, chromedp.ByQuery),
		// Last week's follow-up shows once the new page is in.
		chromedp.WaitVisible(`//td[contains(., "Quarterly review of the drop")]`, chromedp.BySearch))
	if loc := c.location(); !strings.Contains(loc, "followups=1") || !strings.Contains(loc, "week="+a.day(-7)) {
		t.Errorf("the review's form went to %s", loc)
	}
	c.wantText("review", a.day(-9)+" – "+a.day(-3), a.downName, "Quarterly review of the drop")
	if body := c.text("main"); strings.Contains(body, a.upName) {
		t.Errorf("with follow-ups only, the review shows a customer without one")
	}
	c.screenshot("review")
	c.run("previous week", chromedp.Click(`#prev-week`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[contains(., "`+a.day(-16)+`")]`, chromedp.BySearch))
	c.wantText("previous week", a.day(-16)+" – "+a.day(-10))
	if errs := c.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors: %v", errs)
	}
}
