package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/digest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// digestFormRoutes are the digest page's forms, for TestFormRoleMatrix:
// turning a webhook off, which the shared database never had.
var digestFormRoutes = []formRoute{
	{"/digest/webhook", keel.ActSettingsWrite, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/digest/webhook", url.Values{"url": {""}}
	}},
}

// digestCompany is a company of its own (its CSM is the only one) with
// two days of warnings and scores, and the second day's digests made.
type digestCompany struct {
	*apiEnv
	day                     time.Time
	acme, beta, gamma, echo int64
	names                   map[int64]string
}

func newDigestCompany(t *testing.T) *digestCompany {
	t.Helper()
	e := newAPIOn(t, teststack.FreshPostgres(t), nil, keel.UTC)
	c := &digestCompany{apiEnv: e, day: time.Date(2029, 6, 11, 0, 0, 0, 0, time.UTC), names: map[int64]string{}}
	ctx := context.Background()
	csm := e.emps["csm"]
	customer := func(name string, owner *int64) int64 {
		v, err := e.db.CreateCustomer(ctx, e.emps["admin"], keel.Customer{Name: name, CSMOwner: owner})
		if err != nil {
			t.Fatal(err)
		}
		c.names[v.ID] = name
		return v.ID
	}
	c.acme, c.beta, c.gamma = customer("Acme Digest", &csm.ID), customer("Beta Digest", &csm.ID), customer("Gamma Digest", nil)
	raise := func(day time.Time, holds map[int64]keel.AlertRule) {
		var evals []postgres.AlertEvaluation
		for cu, r := range holds {
			evals = append(evals, postgres.AlertEvaluation{CustomerID: cu, Rule: r, Holds: true, Evidence: keel.Evidence{}, MRRAtRisk: 2500, Currency: "USD"})
		}
		if _, err := e.db.ApplyAlertEvaluations(ctx, day, evals); err != nil {
			t.Fatal(err)
		}
	}
	scores := func(day time.Time, s map[int64]int) {
		var rows []warehouse.HealthRow
		for id, n := range s {
			rows = append(rows, warehouse.HealthRow{HealthScore: keel.HealthScore{CustomerID: id, Day: day, Score: n, Band: keel.DefaultHealthSettings.BandOf(n)},
				MRR: 12_345, Currency: "USD"})
		}
		if err := e.wh.WriteHealthDay(ctx, day, rows); err != nil {
			t.Fatal(err)
		}
	}
	before := c.day.AddDate(0, 0, -1)
	raise(before, map[int64]keel.AlertRule{c.acme: keel.RuleLoginDrop})
	scores(before, map[int64]int{c.acme: 80, c.beta: 90})
	raise(c.day, map[int64]keel.AlertRule{c.beta: keel.RuleNoLogin, c.gamma: keel.RuleLowSeats})
	scores(c.day, map[int64]int{c.acme: 45, c.beta: 88})
	if made, _, err := digest.NewMaker(e.db, e.wh, slog.New(slog.DiscardHandler), nil).Make(ctx, c.day); err != nil || !made {
		t.Fatalf("make the digests: %v %v", made, err)
	}
	return c
}

// TestDigestAPI: a CSM reads their own digest of the latest day or of a
// day they pick, never another's; admin reads anyone's and the
// unassigned one; the refusals name the parameter.
func TestDigestAPI(t *testing.T) {
	c := newDigestCompany(t)
	csm := c.emps["csm"]
	var got struct {
		Day        string      `json:"day"`
		EmployeeID *int64      `json:"employee_id"`
		State      string      `json:"state"`
		Digest     keel.Digest `json:"digest"`
	}
	r := c.call("csm", "GET", "/api/v1/digest", nil)
	if r.status != 200 {
		t.Fatalf("GET /api/v1/digest as the CSM: %d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	d := got.Digest
	if got.Day != "2029-06-11" || got.EmployeeID == nil || *got.EmployeeID != csm.ID || got.State != "unsent" || d.Employee != csm.Name {
		t.Errorf("the CSM's digest %s, want theirs of 11 June, unsent", r.body)
	}
	if len(d.New) != 1 || d.New[0].CustomerID != c.beta || d.New[0].Rule != keel.RuleNoLogin || d.New[0].MRRAtRisk != 12_345 {
		t.Errorf("new warnings %+v, want Beta's no login at the day's MRR", d.New)
	}
	if len(d.Open) != 1 || d.Open[0].CustomerID != c.acme || d.Open[0].RaisedOn != "2029-06-10" {
		t.Errorf("still open %+v, want Acme's login drop of the 10th", d.Open)
	}
	if len(d.Fell) != 1 || d.Fell[0].CustomerID != c.acme || d.Fell[0].From != keel.BandGreen || d.Fell[0].To != keel.BandRed {
		t.Errorf("falls %+v, want Acme green → red (Beta stayed green)", d.Fell)
	}
	// The same by day, and by the CSM's own id.
	if again := c.call("csm", "GET", fmt.Sprintf("/api/v1/digest?day=2029-06-11&employee_id=%d", csm.ID), nil); again.status != 200 || !strings.Contains(string(again.body), `"Beta Digest"`) {
		t.Errorf("the CSM's digest by day and id: %d %s", again.status, again.body)
	}
	// The unassigned digest: admin's by default.
	u := c.must(200, "admin", "GET", "/api/v1/digest", nil)
	if u["employee_id"] != nil || !strings.Contains(fmt.Sprint(u["digest"]), "Gamma Digest") {
		t.Errorf("admin's default digest %v, want the unassigned one with Gamma", u)
	}
	c.must(200, "admin", "GET", fmt.Sprintf("/api/v1/digest?employee_id=%d", csm.ID), nil)
	for _, x := range []struct {
		caller, query string
		status        int
		field         string
	}{
		{"csm", "employee_id=unassigned", 403, ""},
		{"csm", fmt.Sprintf("employee_id=%d", c.emps["admin"].ID), 403, ""},
		{"sales", fmt.Sprintf("employee_id=%d", csm.ID), 403, ""},
		{"finance", "", 404, ""}, // reads digests as every role reads health, but owns no customer: has none
		{"departed", "", 401, ""},
		{"csm", "day=2029-13-01", 400, "day"},
		{"csm", "employee_id=-3", 400, "employee_id"},
		{"csm", "employee_id=someone", 400, "employee_id"},
		{"csm", "day=2029-06-01", 404, ""},
		{"csm", "color=red", 400, "color"},
	} {
		r := c.call(x.caller, "GET", "/api/v1/digest?"+x.query, nil)
		if r.status != x.status {
			t.Errorf("GET /api/v1/digest?%s as %s: %d %s, want %d", x.query, x.caller, r.status, r.body, x.status)
			continue
		}
		if x.field != "" {
			if e := r.apiError(t); e.Field == nil || *e.Field != x.field {
				t.Errorf("GET /api/v1/digest?%s: %s, want a refusal naming %s", x.query, r.body, x.field)
			}
		}
	}
	// A sales person has no digest of their own.
	if r := c.call("sales", "GET", "/api/v1/digest", nil); r.status != 404 {
		t.Errorf("a seller's own digest: %d %s, want 404", r.status, r.body)
	}
}

// TestDigestWebhookAndDeliveries: admin sets the webhook (a bad URL is a
// 400 naming url; the secret never comes back, nor into the audit log);
// no one else reads or sets it, or reads the delivery log; a digest
// delivered to a local receiver, signed, is in the log.
func TestDigestWebhookAndDeliveries(t *testing.T) {
	c := newDigestCompany(t)
	const secret = "console-test-secret-42"
	for _, caller := range []string{"csm", "sales", "finance", "leadership", "departed", "none"} {
		before := c.auditCount()
		want := 403
		if caller == "departed" || caller == "none" {
			want = 401
		}
		for _, m := range []string{"GET", "PUT"} {
			if r := c.call(caller, m, "/api/v1/settings/digest", map[string]any{"url": "https://hooks.example.com/x", "secret": secret}); r.status != want {
				t.Errorf("%s /api/v1/settings/digest as %s: %d, want %d", m, caller, r.status, want)
			}
		}
		if r := c.call(caller, "GET", "/api/v1/digest/deliveries", nil); r.status != want {
			t.Errorf("GET /api/v1/digest/deliveries as %s: %d, want %d", caller, r.status, want)
		}
		if c.auditCount() != before {
			t.Errorf("a refused webhook change by %s was audited", caller)
		}
	}
	for _, bad := range []map[string]any{
		{"url": "ftp://hooks.example.com/x", "secret": secret},
		{"url": "hooks.example.com", "secret": secret},
		{"url": "https://user:pw@hooks.example.com/", "secret": secret},
		{"url": 7},
		{"secret": secret},
	} {
		r := c.call("admin", "PUT", "/api/v1/settings/digest", bad)
		if e := r.apiError(t); r.status != 400 || e.Field == nil || *e.Field != "url" {
			t.Errorf("PUT %v: %d %s, want 400 naming url", bad, r.status, r.body)
		}
	}
	if r := c.call("admin", "PUT", "/api/v1/settings/digest", map[string]any{"url": "https://hooks.example.com/x"}); r.status != 400 || *r.apiError(t).Field != "secret" {
		t.Errorf("a first URL without a secret: %d %s, want 400 naming secret", r.status, r.body)
	}
	var mu sync.Mutex
	var got []keel.Digest
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !digest.Verify(secret, body, r.Header.Get(digest.SignatureHeader)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var d keel.Digest
		json.Unmarshal(body, &d)
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	}))
	defer rc.Close()
	set := c.must(200, "admin", "PUT", "/api/v1/settings/digest", map[string]any{"url": rc.URL + "/digest", "secret": secret})
	read := c.call("admin", "GET", "/api/v1/settings/digest", nil)
	if set["secret_set"] != true || set["url"] != rc.URL+"/digest" || strings.Contains(string(read.body), secret) || !strings.Contains(string(read.body), `"secret_set":true`) {
		t.Errorf("webhook set %v, read %s: want the URL and secret_set, never the secret", set, read.body)
	}
	audit := c.must(200, "admin", "GET", "/api/v1/audit?limit=5", nil)
	if raw, _ := json.Marshal(audit); strings.Contains(string(raw), secret) || !strings.Contains(string(raw), "settings.digest") {
		t.Errorf("audit %s: want settings.digest without the secret", raw)
	}

	// A day made while the webhook is set is queued and delivered.
	ctx := context.Background()
	day := c.day.AddDate(0, 0, 1)
	if made, err := c.db.SaveDigests(ctx, day, []keel.Digest{{Day: day.Format(time.DateOnly), EmployeeID: c.emps["csm"].ID,
		New: []keel.DigestWarning{{AlertID: 1, CustomerID: c.acme, Customer: "Acme Digest", Rule: keel.RuleNoLogin, MRRAtRisk: 1, Currency: "USD"}}}}); err != nil || !made {
		t.Fatal(made, err)
	}
	w, err := digest.NewWorker(digest.Config{}, c.db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("deliver: %d %v, want one delivery", n, err)
	}
	mu.Lock()
	if len(got) != 1 || got[0].Day != "2029-06-12" || len(got[0].New) != 1 {
		t.Fatalf("received %+v, want the 12 June digest", got)
	}
	mu.Unlock()
	log := c.must(200, "admin", "GET", "/api/v1/digest/deliveries", nil)
	items, _ := log["items"].([]any)
	if log["total"] != float64(1) || len(items) != 1 {
		t.Fatalf("delivery log %v, want one attempt", log)
	}
	if it := items[0].(map[string]any); it["status_code"] != float64(200) || it["error"] != "" || it["attempt"] != float64(1) || it["day"] != "2029-06-12" || it["next_attempt_at"] != nil {
		t.Errorf("the attempt %v, want 200 on the first attempt", it)
	}
	if r := c.call("admin", "GET", "/api/v1/digest/deliveries?failed=maybe", nil); r.status != 400 || *r.apiError(t).Field != "failed" {
		t.Errorf("failed=maybe: %d %s, want 400 naming failed", r.status, r.body)
	}
	if f := c.must(200, "admin", "GET", "/api/v1/digest/deliveries?failed=true", nil); f["total"] != float64(0) {
		t.Errorf("failed attempts %v, want none", f)
	}
	if d := c.must(200, "csm", "GET", "/api/v1/digest?day=2029-06-12", nil); d["state"] != "delivered" || d["delivered_at"] == nil {
		t.Errorf("the delivered digest %v, want delivered", d)
	}
}

// TestDigestPage: the CSM's page shows their digest of the latest day,
// and another day picked; another CSM's is refused; admin picks whose,
// sets the webhook on the page (a bad URL shown again, naming url) and
// reads the delivery log; the page reads in Chinese.
func TestDigestPage(t *testing.T) {
	c := newDigestCompany(t)
	csm := c.signIn("csm")
	r := csm.get("/digest")
	wantPage(t, "the CSM's digest", r, 200, "Morning digest", "2029-06-11", "Beta Digest", "Acme Digest", "New warnings", "Still open", "Fell a band",
		"No login", "123.45 USD")
	if strings.Contains(r.body, "Gamma Digest") || strings.Contains(r.body, `id="webhook-form"`) {
		t.Error("the CSM's page shows the unassigned digest's customer or the webhook form")
	}
	wantPage(t, "a day with no digest", csm.get("/digest?day=2029-06-01"), 200, "There is no digest of 2029-06-01 here.")
	wantPage(t, "another's digest", csm.get("/digest?employee_id=unassigned"), 403)
	wantPage(t, "a bad day", csm.get("/digest?day=June"), 400, "day")
	wantPage(t, "finance, who owns no customer", c.signIn("finance").get("/digest"), 200, "No digest yet: digests are made for CSMs")

	admin := c.signIn("admin")
	a := admin.get("/digest")
	wantPage(t, "admin's digest page", a, 200, "Gamma Digest", `id="webhook-form"`, "Delivery log", "Nothing was sent yet.")
	wantPage(t, "admin reading the CSM's", admin.get(fmt.Sprintf("/digest?employee_id=%d", c.emps["csm"].ID)), 200, "Beta Digest")

	before := c.auditCount()
	bad := admin.post("/digest/webhook", url.Values{"url": {"gopher://hooks.example.com"}, "secret": {"a-secret-of-sixteen"}})
	wantPage(t, "a bad webhook URL", bad, 400, "gopher://hooks.example.com")
	if !strings.Contains(html.UnescapeString(bad.body), "url: ") || strings.Contains(bad.body, "a-secret-of-sixteen") {
		t.Errorf("refused webhook form: %s; want the refusal naming url, and the secret not shown again", mainOf(bad.body))
	}
	if c.auditCount() != before {
		t.Error("a refused webhook form was audited")
	}
	wantRedirect(t, "webhook form", admin.post("/digest/webhook", url.Values{"url": {"https://hooks.example.com/keel"}, "secret": {"a-secret-of-sixteen"}}), "/digest#webhook")
	after := admin.get("/digest")
	wantPage(t, "after saving the webhook", after, 200, "https://hooks.example.com/keel", "one is set; leave empty to keep it")
	if strings.Contains(after.body, "a-secret-of-sixteen") {
		t.Error("the page shows the secret")
	}
	if h, _ := c.db.DigestWebhook(context.Background()); h.URL != "https://hooks.example.com/keel" || !h.SecretSet {
		t.Errorf("webhook %+v after the form", h)
	}

	zh := c.signIn("csm")
	zh.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/digest"}})
	wantPage(t, "the digest in Chinese", zh.get("/digest"), 200, "晨报", "新预警", "仍未处理", "健康区间下降")
}
