package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
)

// raiseAlert raises a no-login warning of a new customer owned by owner
// (its CSM, or its seller for one who sells; nil: no owner), as a day's
// scoring would, and returns its id.
func (e *apiEnv) raiseAlert(owner *keel.Employee) int64 {
	e.t.Helper()
	ctx := context.Background()
	c := keel.Customer{Name: "Warned " + uniq()}
	if owner != nil {
		if owner.Has(keel.RoleCSM) {
			c.CSMOwner = &owner.ID
		} else {
			c.SalesOwner = &owner.ID
		}
	}
	v, err := e.db.CreateCustomer(ctx, e.emps["admin"], c)
	if err != nil {
		e.t.Fatal(err)
	}
	ch, err := e.db.ApplyAlertEvaluations(ctx, keel.Date(time.Now().UTC()), []postgres.AlertEvaluation{{CustomerID: v.ID, Rule: keel.RuleNoLogin,
		Holds: true, Evidence: keel.Evidence{"threshold_days": 15}, MRRAtRisk: 5_000, Currency: "USD"}})
	if err != nil || len(ch.RaisedIDs) != 1 {
		e.t.Fatalf("raise a warning: %+v, %v", ch, err)
	}
	return ch.RaisedIDs[0]
}

// ownsAlerts: CSMs and sellers own warnings; the others manage them.
func ownsAlerts(e keel.Employee) bool { return e.Has(keel.RoleCSM) || e.Has(keel.RoleSales) }

// healthFormRoutes are the forms of the health pages, for
// TestFormRoleMatrix: each acts on a fresh warning the employee may work
// (theirs, or one with no owner).
var healthFormRoutes = []formRoute{
	{"/alerts/{id}/ack", keel.ActAlertWork, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return alertFormPath(e, as, "ack"), url.Values{"next": {"/alerts"}}
	}},
	{"/alerts/{id}/resolve", keel.ActAlertWork, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return alertFormPath(e, as, "resolve"), url.Values{"note": {"Called them."}, "next": {"/alerts"}}
	}},
	{"/alerts/{id}/snooze", keel.ActAlertWork, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		until := keel.Date(time.Now().UTC()).AddDate(0, 0, 10).Format(time.DateOnly)
		return alertFormPath(e, as, "snooze"), url.Values{"until": {until}, "reason": {"After their holidays."}, "next": {"/alerts"}}
	}},
	{"/alerts/{id}/assign", keel.ActAlertWork, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		to := e.emps["csm"].ID
		if ownsAlerts(as) {
			to = as.ID // taking one with no owner
		}
		return fmt.Sprintf("/alerts/%d/assign", e.raiseAlert(nil)), url.Values{"employee_id": {strconv.FormatInt(to, 10)}, "next": {"/alerts?tab=team"}}
	}},
	{"/settings/health", keel.ActSettingsWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/settings/health", url.Values{"weights.login_trend": {"20"}, "red_max": {"50"}, "no_login_days": {"15"}}
	}},
}

func alertFormPath(e *apiEnv, as keel.Employee, action string) string {
	var owner *keel.Employee
	if ownsAlerts(as) {
		owner = &as
	}
	return fmt.Sprintf("/alerts/%d/%s", e.raiseAlert(owner), action)
}

var alertRowRE = regexp.MustCompile(`<tr id="alert-(\d+)" data-alert="\d+" data-customer="(\d+)" data-rule="([a-z_]+)" data-state="([a-z]+)">`)

// alertRows are the warnings of a queue page, in order: id → customer.
func alertRows(body string) (ids []int64, customers map[int64]int64) {
	customers = map[int64]int64{}
	for _, m := range alertRowRE.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		c, _ := strconv.ParseInt(m[2], 10, 64)
		ids = append(ids, id)
		customers[id] = c
	}
	return ids, customers
}

// TestAlertsPage: the queue shows the same warnings as the API, in its
// order (the most MRR at risk, then the oldest), by tab and filters; each
// is worked in place, refusals shown on the warning with nothing changed,
// and every change is on the customer's page.
func TestAlertsPage(t *testing.T) {
	c := newHealthCompany(t)
	csm := c.signIn("csm")
	for _, tc := range []struct {
		path, api string
	}{
		{"/alerts", "owner=me&state=open"},
		{"/alerts?tab=mine&state=acknowledged", "owner=me&state=acknowledged"},
		{"/alerts?tab=team", "owner=team&state=open"},
		{fmt.Sprintf("/alerts?tab=team&owner=%d", c.emps["csm2"].ID), fmt.Sprintf("owner=%d&state=open", c.emps["csm2"].ID)},
		{"/alerts?tab=unassigned", "owner=unassigned&state=open"},
		{"/alerts?tab=team&rule=low_seat_use", "owner=team&state=open&rule=low_seat_use"},
		{"/alerts?tab=team&band=red", "owner=team&state=open&band=red"},
		{fmt.Sprintf("/alerts?tab=team&customer=%d", c.quiet), fmt.Sprintf("state=open&customer_id=%d", c.quiet)},
		{fmt.Sprintf("/alerts?tab=team&customer=%d", c.unowned), fmt.Sprintf("state=open&customer_id=%d", c.unowned)},
	} {
		r := csm.get(tc.path)
		wantPage(t, tc.path, r, http.StatusOK, "Churn warnings")
		got, _ := alertRows(r.body)
		var want []int64
		for _, a := range c.alertList("csm", tc.api+"&limit=500").Items {
			want = append(want, a.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s lists %v, want the API's %v", tc.path, got, want)
		}
	}
	mine, _ := alertRows(csm.get("/alerts").body)
	if len(mine) == 0 {
		t.Fatal("the CSM's queue is empty")
	}
	quiet := c.alerts(c.quiet)
	noLogin, lowSeats, red := quiet[keel.RuleNoLogin], quiet[keel.RuleLowSeats], quiet[keel.RuleFellIntoRed]
	row := func(body string, id int64) string {
		m := regexp.MustCompile(`(?s)<tr id="alert-` + strconv.FormatInt(id, 10) + `".*?</tr>`).FindString(body)
		return html.UnescapeString(m)
	}
	r := csm.get("/alerts")
	if x := row(r.body, noLogin.ID); !strings.Contains(x, c.names[c.quiet]) || !strings.Contains(x, "No login for ") || !strings.Contains(x, keel.FormatAmount(12_000, "USD")+" USD") ||
		!strings.Contains(x, `band-red`) || !strings.Contains(x, `action="/alerts/`+strconv.FormatInt(noLogin.ID, 10)+`/ack"`) {
		t.Errorf("the no-login row: %s", x)
	}
	if x := row(r.body, noLogin.ID); strings.Contains(x, "/assign") {
		t.Errorf("a CSM is offered to reassign their warning: %s", x)
	}
	if x := row(csm.get("/alerts?tab=unassigned").body, c.alerts(c.unowned)[keel.RuleLowSeats].ID); !strings.Contains(x, "Take it") {
		t.Errorf("an unassigned warning cannot be taken: %s", x)
	}

	// Acknowledge, back to the queue it came from.
	next := "/alerts?tab=mine&rule=no_login"
	r = csm.post(fmt.Sprintf("/alerts/%d/ack", noLogin.ID), url.Values{"next": {next}})
	wantRedirect(t, "ack", r, next)
	if a := c.alertOf(noLogin.ID); a.State != keel.AlertAcked || a.AckedBy == nil || *a.AckedBy != c.emps["csm"].ID {
		t.Errorf("acknowledged: %+v", a)
	}
	// A resolve without a note: the queue again, the refusal on the warning.
	audits := c.auditCount()
	r = csm.post(fmt.Sprintf("/alerts/%d/resolve", noLogin.ID), url.Values{"note": {" "}, "next": {next}})
	wantPage(t, "resolve without a note", r, http.StatusBadRequest, "note: required (say what was done)")
	if x := row(r.body, noLogin.ID); !strings.Contains(x, `role="alert"`) || !strings.Contains(x, "<details open><summary>Resolve") {
		t.Errorf("the refused warning's row: %s", x)
	}
	if ids, _ := alertRows(r.body); len(ids) == 0 {
		t.Error("the refused form's queue is empty")
	}
	// A snooze in the past, and more than 180 days ahead.
	today := keel.Date(time.Now().UTC())
	for _, until := range []string{today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 0, 181).Format(time.DateOnly), "soon"} {
		r = csm.post(fmt.Sprintf("/alerts/%d/snooze", lowSeats.ID), url.Values{"until": {until}, "reason": {"Later."}, "next": {"/alerts"}})
		wantPage(t, "snooze until "+until, r, http.StatusBadRequest, "until: ")
		if x := row(r.body, lowSeats.ID); !strings.Contains(x, `value="`+until+`"`) || !strings.Contains(x, "Later.") {
			t.Errorf("the refused snooze does not keep what was typed: %s", x)
		}
	}
	if c.auditCount() != audits {
		t.Errorf("refused forms wrote %d audit entries", c.auditCount()-audits)
	}
	wantRedirect(t, "resolve", csm.post(fmt.Sprintf("/alerts/%d/resolve", noLogin.ID), url.Values{"note": {"They are back: a new admin."}, "next": {next}}), next)
	until := today.AddDate(0, 0, 30).Format(time.DateOnly)
	wantRedirect(t, "snooze", csm.post(fmt.Sprintf("/alerts/%d/snooze", lowSeats.ID), url.Values{"until": {until}, "reason": {"Onboarding in a month."}}), "/alerts")
	if a := c.alertOf(lowSeats.ID); a.State != keel.AlertSnoozed || a.SnoozedUntil.Format(time.DateOnly) != until {
		t.Errorf("snoozed: %+v", a)
	}
	if ids, _ := alertRows(csm.get("/alerts").body); strings.Contains(fmt.Sprint(ids), fmt.Sprint(noLogin.ID)) {
		t.Errorf("the resolved warning is still in the queue: %v", ids)
	}
	wantPage(t, "snoozed tab", csm.get("/alerts?state=snoozed"), http.StatusOK, "until "+until, "Onboarding in a month.")

	// Another CSM's warning: refused, nothing changed.
	fading := c.alerts(c.fading)[keel.RuleLoginDrop]
	for _, action := range []string{"ack", "resolve", "snooze", "assign"} {
		r := csm.post(fmt.Sprintf("/alerts/%d/%s", fading.ID, action), url.Values{"note": {"x"}, "until": {until}, "reason": {"x"}, "employee_id": {strconv.FormatInt(c.emps["csm"].ID, 10)}})
		if r.status != http.StatusForbidden {
			t.Errorf("csm %s on csm2's warning: %d, want 403", action, r.status)
		}
	}
	if a := c.alertOf(fading.ID); a.State != keel.AlertOpen || *a.Owner != c.emps["csm2"].ID {
		t.Errorf("csm2's warning changed: %+v", a)
	}
	// Leadership reassigns it from the team's queue.
	lead := c.signIn("leadership")
	r = lead.get("/alerts")
	if !strings.Contains(row(r.body, fading.ID), "Reassign") {
		t.Errorf("leadership is not offered to reassign: %s", row(r.body, fading.ID))
	}
	wantRedirect(t, "reassign", lead.post(fmt.Sprintf("/alerts/%d/assign", fading.ID),
		url.Values{"employee_id": {strconv.FormatInt(c.emps["csm"].ID, 10)}, "next": {"/alerts?tab=team"}}), "/alerts?tab=team")
	if a := c.alertOf(fading.ID); *a.Owner != c.emps["csm"].ID {
		t.Errorf("reassigned: %+v", a)
	}
	if ids, _ := alertRows(csm.get("/alerts").body); !strings.Contains(fmt.Sprint(ids), fmt.Sprint(fading.ID)) {
		t.Errorf("the reassigned warning is not in the new owner's queue: %v", ids)
	}
	// Finance reads the queue (every role reads health) but works none.
	fin := c.signIn("finance")
	if r := fin.get("/alerts"); r.status != http.StatusOK {
		t.Errorf("finance's /alerts: %d", r.status)
	}

	// The customer's page shows the warnings left and the timeline.
	page := html.UnescapeString(csm.get(fmt.Sprintf("/customers/%d", c.quiet)).body)
	for _, s := range []string{`id="health-warnings"`, `data-alert="` + strconv.FormatInt(red.ID, 10) + `"`, "Fell into red", `id="alert-timeline"`,
		"They are back: a new admin.", "Acknowledged", until + ": Onboarding in a month.", "Raised", "Resolved", "Snoozed", c.emps["csm"].Name} {
		if !strings.Contains(page, s) {
			t.Errorf("the customer page lacks %q", s)
		}
	}
	if strings.Contains(regexp.MustCompile(`(?s)<ul class="links" id="health-warnings">.*?</ul>`).FindString(page), `data-alert="`+strconv.FormatInt(noLogin.ID, 10)+`"`) {
		t.Error("the customer page lists the resolved warning as open")
	}
}

// TestHealthPage: the overview's numbers are the stored scores': bands,
// bands by CSM, MRR by band, the week's drops with what moved them, and
// the customers lowest first, by band and owner.
func TestHealthPage(t *testing.T) {
	c := newHealthCompany(t)
	b := c.signIn("leadership")
	r := b.get("/health")
	wantPage(t, "/health", r, http.StatusOK)
	body := html.UnescapeString(r.body)
	for _, s := range []string{"Customer health", "This week's biggest drops", "Bands by CSM", "MRR by band"} {
		if !strings.Contains(body, s) {
			t.Errorf("/health lacks %q", s)
		}
	}
	stored := map[int64]int{}
	bands := map[string]int{}
	mrr := map[string]int64{}
	for _, id := range []int64{c.busy, c.quiet, c.fading, c.unowned} {
		x := c.stored(id, c.yesterday)
		stored[id] = x.Score
		bands[string(x.Band)]++
		mrr[string(x.Band)] += x.MRR
	}
	for _, band := range []string{"red", "yellow", "green"} {
		m := regexp.MustCompile(`id="band-` + band + `"[^>]*>.*?<div class="value">(\d+) `).FindStringSubmatch(body)
		if m == nil || m[1] != strconv.Itoa(bands[band]) {
			t.Errorf("band %s card %v, want %d", band, m, bands[band])
		}
		if opt := chartByID(t, r.body, "band-chart"); len(opt.Series) != 1 || len(opt.Series[0].Data) != 3 {
			t.Errorf("band chart %+v", opt)
		}
	}
	mrrRow := regexp.MustCompile(`(?s)<tr data-currency="USD">.*?</tr>`).FindString(body)
	for _, band := range []string{"red", "yellow", "green"} {
		if !strings.Contains(mrrRow, keel.FormatAmount(mrr[band], "USD")) {
			t.Errorf("MRR row %s lacks %s's %s", mrrRow, band, keel.FormatAmount(mrr[band], "USD"))
		}
	}
	drops := regexp.MustCompile(`(?s)<section id="drops">.*?</section>`).FindString(body)
	weekAgo := c.stored(c.fading, c.yesterday.AddDate(0, 0, -7)).Score
	fadingRow := regexp.MustCompile(`(?s)<tr data-customer="` + strconv.FormatInt(c.fading, 10) + `">.*?</tr>`).FindString(drops)
	if weekAgo <= stored[c.fading] || !strings.Contains(fadingRow, fmt.Sprintf(`<td class="num trend-down">%d</td>`, stored[c.fading]-weekAgo)) ||
		!strings.Contains(fadingRow, "Days since the last login -") {
		t.Errorf("the fading customer's drop from %d to %d: %s", weekAgo, stored[c.fading], fadingRow)
	}
	if strings.Contains(drops, `data-customer="`+strconv.FormatInt(c.busy, 10)+`"`) {
		t.Error("the busy customer is among the drops")
	}
	csms := regexp.MustCompile(`(?s)<table class="list" id="csm-bands">.*?</table>`).FindString(body)
	if !strings.Contains(csms, c.emps["csm"].Name) || !strings.Contains(csms, c.emps["csm2"].Name) || !strings.Contains(csms, "No CSM") {
		t.Errorf("bands by CSM: %s", csms)
	}
	if opt := chartByID(t, r.body, "csm-chart"); len(opt.Series) != 3 || len(opt.XAxis[0].Data) != 3 {
		t.Errorf("the CSM chart %+v, want three bands over three CSMs (one is none)", opt)
	}
	if links := linksOf(t, r.body, "csm-chart"); !strings.Contains(links[0][0], "band=red") {
		t.Errorf("the CSM chart's links %v", links)
	}
	list := func(path string) []int64 {
		var ids []int64
		tbl := regexp.MustCompile(`(?s)<table class="list" id="health-customers">.*?</table>`).FindString(b.get(path).body)
		for _, m := range regexp.MustCompile(`<tr data-customer="(\d+)">`).FindAllStringSubmatch(tbl, -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			ids = append(ids, id)
		}
		return ids
	}
	all := list("/health")
	if len(all) != 4 || all[0] != c.quiet || all[3] != c.busy {
		t.Errorf("customers %v, want quiet first and busy last", all)
	}
	if got := list("/health?band=red"); fmt.Sprint(got) != fmt.Sprint([]int64{c.quiet}) {
		t.Errorf("red customers %v", got)
	}
	if got := list(fmt.Sprintf("/health?owner=%d", c.emps["csm2"].ID)); fmt.Sprint(got) != fmt.Sprint([]int64{c.fading}) {
		t.Errorf("csm2's customers %v", got)
	}
	// An owner's list is the whole list's order kept, for every owner and
	// with a band too (it is picked from the day's briefs in memory).
	owners, err := c.db.CustomerOwners(t.Context(), all)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"csm", "csm2", "sales"} {
		id := c.emps[who].ID
		for _, band := range []string{"", "red", "green"} {
			var want []int64
			for _, x := range all {
				for _, o := range owners {
					if o.ID == x && o.OwnedBy(id) && (band == "" || c.stored(x, c.yesterday).Band == keel.Band(band)) {
						want = append(want, x)
					}
				}
			}
			if got := list(fmt.Sprintf("/health?owner=%d&band=%s", id, band)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s's customers in band %q: %v, want %v", who, band, got, want)
			}
		}
	}
	wantPage(t, "bad band", b.get("/health?band=blue"), http.StatusBadRequest, "band: ")
	if r := c.signIn("finance").get("/health"); r.status != http.StatusOK {
		t.Errorf("finance's /health: %d", r.status)
	}
}

// TestHealthPageBeforeScoring: before any day is scored the page says
// when scoring runs.
func TestHealthPageBeforeScoring(t *testing.T) {
	e := newRevenueEnv(t, false)
	wantPage(t, "/health", e.signIn("csm").get("/health"), http.StatusOK, `id="no-scores"`, "each day at 6:00")
	wantPage(t, "/alerts", e.signIn("csm").get("/alerts"), http.StatusOK, `id="no-alerts"`)
}

// TestCustomerHealthPanel: the customer page's panel shows the stored
// score, band, components with their values and weights ("no data" for
// the tickets), the trend and a 90-day chart, to those who read health.
func TestCustomerHealthPanel(t *testing.T) {
	c := newHealthCompany(t)
	b := c.signIn("sales")
	r := b.get(fmt.Sprintf("/customers/%d", c.quiet))
	wantPage(t, "quiet's page", r, http.StatusOK, `id="health-panel"`)
	body := html.UnescapeString(r.body)
	x := c.stored(c.quiet, c.yesterday)
	if m := regexp.MustCompile(`id="health-score">(\d+) <span class="badge band-(\w+)"`).FindStringSubmatch(body); m == nil || m[1] != strconv.Itoa(x.Score) || m[2] != string(x.Band) {
		t.Errorf("score %v, want %d %s", m, x.Score, x.Band)
	}
	for _, comp := range x.Components {
		tr := regexp.MustCompile(`(?s)<tr data-component="` + string(comp.Component) + `"[^>]*>.*?</tr>`).FindString(body)
		cells := regexp.MustCompile(`<td[^>]*>([^<]*)</td>`).FindAllStringSubmatch(tr, -1)
		if len(cells) != 5 || cells[3][1] != strconv.Itoa(comp.Weight) {
			t.Errorf("component %s: %s", comp.Component, tr)
			continue
		}
		if comp.NoData != (cells[1][1] == "no data") || !comp.NoData && cells[2][1] != strconv.FormatFloat(comp.Sub, 'f', 0, 64) {
			t.Errorf("component %s (%+v): %v", comp.Component, comp, cells)
		}
	}
	if !strings.Contains(body, "No data: Open and overdue tickets; left out of the score") {
		t.Error("the panel does not say which components had no data")
	}
	month := c.stored(c.quiet, c.yesterday.AddDate(0, 0, -30))
	if m := regexp.MustCompile(`id="health-trend-30">([+-]?\d+) `).FindStringSubmatch(body); m == nil || m[1] != strconv.Itoa(x.Score-month.Score) {
		t.Errorf("trend vs 30 days %v, want %d", m, x.Score-month.Score)
	}
	opt := chartByID(t, r.body, "health-chart")
	if len(opt.XAxis) != 1 || len(opt.XAxis[0].Data) != 50 || opt.XAxis[0].Data[49] != c.yesterday.Format(time.DateOnly) || int(opt.Series[0].Data[49].Value) != x.Score {
		t.Errorf("chart: %d days, last %v", len(opt.XAxis[0].Data), opt.Series[0].Data[len(opt.Series[0].Data)-1])
	}
	if !strings.Contains(body, "No login for ") {
		t.Error("the open warnings are not listed")
	}
	if r := c.signIn("finance").get(fmt.Sprintf("/customers/%d", c.quiet)); r.status != 200 || !strings.Contains(r.body, `id="health-panel"`) {
		t.Errorf("finance does not see the health panel (%d)", r.status)
	}
	wantPage(t, "a customer never scored", b.get(fmt.Sprintf("/customers/%d", c.customer())), http.StatusOK, `id="health-none"`)
}

// TestHomeShowsMyWarnings: a CSM's home page lists their open warnings
// first, the most MRR at risk first.
func TestHomeShowsMyWarnings(t *testing.T) {
	c := newHealthCompany(t)
	r := c.signIn("csm").get("/")
	wantPage(t, "the CSM's home", r, http.StatusOK, "My open warnings", `href="/alerts?tab=mine"`)
	if i, j := strings.Index(r.body, `id="my-warnings"`), strings.Index(r.body, `class="cards"`); i < 0 || j >= 0 && j < i {
		t.Errorf("the warnings are not first (at %d, the cards at %d)", i, j)
	}
	section := regexp.MustCompile(`(?s)<section id="my-warnings">.*?</section>`).FindString(r.body)
	var got []string
	for _, m := range regexp.MustCompile(`<tr data-alert="(\d+)">`).FindAllStringSubmatch(section, -1) {
		got = append(got, m[1])
	}
	var want []string
	for _, a := range c.alertList("csm", "owner=me&state=open").Items {
		want = append(want, strconv.FormatInt(a.ID, 10))
	}
	if len(want) == 0 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("home lists %v, want %v", got, want)
	}
	if r := c.signIn("finance").get("/"); strings.Contains(r.body, `id="my-warnings"`) {
		t.Error("finance's home lists warnings")
	}
}

// TestHealthSettingsForm: admin changes the health settings on /settings;
// negative and all-zero weights and bands that do not rise are refused
// naming the input, with what was typed kept and nothing saved; a setting
// the form does not show keeps its value.
func TestHealthSettingsForm(t *testing.T) {
	e := newRevenueEnv(t, false)
	ctx := context.Background()
	st, err := e.db.HealthSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.DigestMaxWarnings = 7
	if _, err := e.db.SetHealthSettings(ctx, e.emps["admin"], st); err != nil {
		t.Fatal(err)
	}
	b := e.signIn("admin")
	r := b.get("/settings")
	wantPage(t, "/settings", r, http.StatusOK, `id="health-settings"`, `name="weights.login_trend" value="20"`, `name="no_login_days" value="15"`, `id="revenue-settings"`)
	form := url.Values{}
	for _, m := range regexp.MustCompile(`(?s)<form method="post" action="/settings/health".*?</form>`).FindAllString(r.body, -1) {
		for _, f := range regexp.MustCompile(`name="([a-z_.]+)" value="([^"]*)"`).FindAllStringSubmatch(m, -1) {
			form.Set(f[1], f[2])
		}
	}
	if len(form) < 20 {
		t.Fatalf("the health form has %d inputs", len(form))
	}
	audits := e.auditCount()
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range form {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}
	zero := with("weights.login_trend", "0")
	for _, c := range keel.HealthComponents {
		zero.Set("weights."+string(c), "0")
	}
	for _, tc := range []struct {
		name string
		form url.Values
		says string
	}{
		{"a negative weight", with("weights.seat_utilisation", "-5"), "weights.seat_utilisation: must be 0 to 1000"},
		{"every weight zero", zero, "weights: at least one weight must be above 0"},
		{"bands that do not rise", with("red_max", "80"), "yellow_max: the bands must rise"},
		{"not a number", with("no_login_days", "two weeks"), `no_login_days: "two weeks" is not a whole number`},
		{"empty", with("score_hour", ""), "score_hour: required"},
	} {
		r := b.post("/settings/health", tc.form)
		wantPage(t, tc.name, r, http.StatusBadRequest, html.EscapeString(tc.says), `id="revenue-settings"`)
	}
	if r := b.post("/settings/health", with("weights.seat_utilisation", "-5")); !strings.Contains(r.body, `name="weights.seat_utilisation" value="-5"`) {
		t.Error("the refused form does not keep what was typed")
	}
	if e.auditCount() != audits {
		t.Errorf("refused forms wrote %d audit entries", e.auditCount()-audits)
	}
	wantRedirect(t, "save", b.post("/settings/health", with("weights.tickets", "0")), "/settings#health")
	got, err := e.db.HealthSettings(ctx)
	if err != nil || got.Weights[keel.CompTickets] != 0 || got.Weights[keel.CompLoginTrend] != 20 || got.DigestMaxWarnings != 7 || e.auditCount() != audits+1 {
		t.Errorf("saved %+v, %v (%d audit entries)", got, err, e.auditCount()-audits)
	}
}

// TestHealthPagesInChinese: the health pages in Chinese, as the employee
// chooses.
func TestHealthPagesInChinese(t *testing.T) {
	c := newHealthCompany(t)
	for role, pages := range map[string][]string{
		"csm":        {"/", "/alerts", "/alerts?tab=team&state=snoozed", "/health", fmt.Sprintf("/customers/%d", c.quiet)},
		"leadership": {"/alerts", "/health?band=red"},
		"admin":      {"/settings"},
	} {
		b := c.signIn(role)
		if r := b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}}); r.status != http.StatusSeeOther {
			t.Fatalf("switch to Chinese: %d", r.status)
		}
		for _, p := range pages {
			r := b.get(p)
			wantPage(t, role+" "+p, r, http.StatusOK, `lang="zh-CN"`)
			for _, en := range []string{"Churn warnings", "MRR at risk", "Customer health", "Bands by CSM", "No login for", "Save health settings", "Health score of", "My open warnings", ">Red<"} {
				if strings.Contains(r.body, en) {
					t.Errorf("%s %s shows %q", role, p, en)
				}
			}
		}
	}
	b := c.signIn("csm")
	b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/"}})
	wantPage(t, "queue in Chinese", b.get("/alerts"), http.StatusOK, "流失预警", "风险 MRR", "天未登录")
	wantPage(t, "customer in Chinese", b.get(fmt.Sprintf("/customers/%d", c.quiet)), http.StatusOK, "健康得分", "无数据", "红色")
	// A refusal in Chinese.
	r := b.post(fmt.Sprintf("/alerts/%d/resolve", c.alerts(c.quiet)[keel.RuleNoLogin].ID), url.Values{"note": {""}})
	wantPage(t, "refusal in Chinese", r, http.StatusBadRequest, "note: 必填（请说明做了什么）")
}

// TestBrowserAlertsAndHealthPanel: a CSM works a warning in headless
// Chromium — acknowledges it, resolves it with a note — and the
// customer's health panel draws its 90 days of scores.
func TestBrowserAlertsAndHealthPanel(t *testing.T) {
	c := newHealthCompany(t)
	csm := c.emps["csm"]
	ch := newChromium(t, c.url)
	ch.signIn(csm.Email, c.pws[csm.Email])
	ch.wantText("home", "My open warnings")
	ch.open("/alerts")
	ch.wantText("queue", c.names[c.quiet], "No login for ")
	ch.screenshot("alerts")
	id := c.alerts(c.quiet)[keel.RuleNoLogin].ID
	rowSel := fmt.Sprintf("#alert-%d", id)
	ch.run("acknowledge", chromedp.Click(rowSel+` button[name="ack"]`, chromedp.ByQuery), chromedp.WaitVisible(".flash", chromedp.ByQuery))
	ch.wantText("after the ack", fmt.Sprintf("Warning %d acknowledged.", id))
	ch.open("/alerts") // the message is shown once: this page has none
	ch.run("resolve",
		chromedp.Click(rowSel+` details summary`, chromedp.ByQuery),
		chromedp.SendKeys(rowSel+` textarea[name="note"]`, "Called: their admin left; a new one starts Monday.", chromedp.ByQuery),
		chromedp.Click(rowSel+` form[action$="/resolve"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(".flash", chromedp.ByQuery))
	ch.wantText("after the resolve", fmt.Sprintf("Warning %d resolved.", id))
	if a := c.alertOf(id); a.State != keel.AlertResolved || a.Note != "Called: their admin left; a new one starts Monday." {
		t.Errorf("resolved in the browser: %+v", a)
	}
	ch.open(fmt.Sprintf("/customers/%d", c.quiet))
	if !ch.chartDrawn("#health-chart") {
		t.Error("the health chart is not drawn")
	}
	ch.wantText("the health panel", "Health score of", "Warning timeline", "a new one starts Monday")
	ch.screenshot("customer-health")
	ch.open("/health")
	for _, sel := range []string{"#band-chart", "#csm-chart", "#mrr-band-chart"} {
		if !ch.chartDrawn(sel) {
			t.Errorf("%s is not drawn", sel)
		}
	}
	ch.screenshot("health")
	if errs := ch.scriptErrors(); len(errs) > 0 {
		t.Errorf("script errors: %v", errs)
	}
}
