package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
)

// tokenFormRoutes are the forms of the tokens page, for TestFormRoleMatrix.
var tokenFormRoutes = []formRoute{
	{"/tokens", "", func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/tokens", url.Values{"name": {"laptop"}, "expires_at": {time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)}}
	}},
	{"/tokens/{id}/revoke", "", func(e *apiEnv, as keel.Employee) (string, url.Values) {
		_, tok, err := e.db.CreateTokenUntil(context.Background(), keel.System, as.ID, "to revoke", nil)
		if err != nil {
			e.t.Fatal(err)
		}
		return fmt.Sprintf("/tokens/%d/revoke", tok.ID), url.Values{"confirm": {"yes"}}
	}},
	{"/tokens/ingest-keys", keel.ActIngestKeyAdmin, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		return "/tokens/ingest-keys", url.Values{"name": {"billing app"}, "tenants": {"t-1, t-2"}, "tenant_prefix": {"eu-"}}
	}},
	{"/tokens/ingest-keys/{id}/revoke", keel.ActIngestKeyAdmin, func(e *apiEnv, as keel.Employee) (string, url.Values) {
		k, _, err := e.db.CreateIngestKey(context.Background(), keel.System, keel.IngestKey{Name: "to revoke"})
		if err != nil {
			e.t.Fatal(err)
		}
		return fmt.Sprintf("/tokens/ingest-keys/%d/revoke", k.ID), url.Values{"confirm": {"yes"}}
	}},
}

var (
	madeTokenRE = regexp.MustCompile(`<code id="made-token">([^<]+)</code>`)
	madeKeyRE   = regexp.MustCompile(`<code id="made-key">([^<]+)</code>`)
)

// TestTokensPage: everyone's page lists their own tokens, makes one shown
// once and revokes one (ticking the box); no one revokes another's but
// admin, whose page lists every employee's tokens and the ingest keys,
// makes a key limited to tenants and revokes one; bad input is shown
// beside the form with what was typed; the audit log shows each change
// field by field.
func TestTokensPage(t *testing.T) {
	e := newAPI(t)
	sales := e.signIn("sales")
	for _, role := range []string{"sales", "csm", "finance", "leadership", "admin"} {
		if home := e.signIn(role).get("/"); !strings.Contains(home.body, `href="/tokens"`) {
			t.Errorf("%s: the nav lacks the tokens page", role)
		}
	}
	e.must(200, "sales", "GET", "/api/v1/me", nil)
	p := sales.get("/tokens")
	wantPage(t, "sales' tokens", p, 200, `id="my-tokens"`, ">test<", `id="new-token-form"`, "Active")
	for _, no := range []string{`id="all-tokens"`, `id="keys"`, `id="new-key-form"`} {
		if strings.Contains(p.body, no) {
			t.Errorf("sales' page holds %q", no)
		}
	}

	// Made, shown once, working.
	day := time.Now().UTC().AddDate(0, 0, 10).Format(time.DateOnly)
	r := sales.post("/tokens", url.Values{"name": {"laptop"}, "expires_at": {day}})
	wantPage(t, "make a token", r, 200, `id="new-token"`, "Copy it now: it is not shown again.")
	m := madeTokenRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no token on the page: %s", mainOf(r.body))
	}
	e.tokens["laptop"] = m[1]
	e.must(200, "laptop", "GET", "/api/v1/me", nil)
	p = sales.get("/tokens")
	if strings.Contains(p.body, m[1]) {
		t.Errorf("the token is shown again")
	}
	tokens, _, err := e.db.Tokens(context.Background(), e.emps["sales"], keel.TokenFilter{EmployeeID: e.emps["sales"].ID})
	if err != nil || len(tokens) != 2 || tokens[0].Name != "laptop" || tokens[0].ExpiresAt == nil {
		t.Fatalf("tokens %+v, %v", tokens, err)
	}
	laptop := tokens[0].ID
	wantPage(t, "the list", p, 200, fmt.Sprintf(`id="token-%d"`, laptop), day[:4], `action="/tokens/`+fmt.Sprint(laptop)+`/revoke"`)

	// Bad input keeps what was typed.
	r = sales.post("/tokens", url.Values{"name": {"typed name"}, "expires_at": {"2001-01-01"}})
	wantPage(t, "an expiry in the past", r, 400, `id="token-error"`, "expires_at:", `value="typed name"`)

	// Revoking: the box first; another's is refused.
	path := fmt.Sprintf("/tokens/%d/revoke", laptop)
	wantPage(t, "revoke unconfirmed", sales.post(path, nil), 400, `id="revoke-error"`, "confirm:")
	e.must(200, "laptop", "GET", "/api/v1/me", nil)
	wantPage(t, "csm revokes sales' token", e.signIn("csm").post(path, url.Values{"confirm": {"yes"}}), http.StatusForbidden)
	wantRedirect(t, "revoke", sales.post(path, url.Values{"confirm": {"yes"}}), "/tokens")
	wantPage(t, "after the revoke", sales.get("/tokens"), 200, "API token &#34;laptop&#34; revoked", "Revoked")
	if r := e.call("laptop", "GET", "/api/v1/me", nil); r.status != 401 {
		t.Errorf("the revoked token: %d, want 401", r.status)
	}
	wantPage(t, "revoked again", sales.post(path, url.Values{"confirm": {"yes"}}), http.StatusConflict, "already revoked")

	// Admin: everyone's tokens and the ingest keys.
	admin := e.signIn("admin")
	p = admin.get("/tokens")
	wantPage(t, "admin's page", p, 200, `id="all-tokens"`, e.emps["sales"].Name, `id="keys"`, `id="new-key-form"`)
	r = admin.post("/tokens/ingest-keys", url.Values{"name": {"eu app"}, "tenants": {"t-1, t-2\nt-3"}, "tenant_prefix": {"eu-"}, "expires_at": {day}})
	wantPage(t, "make a key", r, 200, `id="new-key"`, "t-1, t-2, t-3, eu-*")
	km := madeKeyRE.FindStringSubmatch(r.body)
	if km == nil || !strings.HasPrefix(km[1], "keel_ingest_") {
		t.Fatalf("no key on the page: %s", mainOf(r.body))
	}
	if strings.Contains(admin.get("/tokens").body, km[1]) {
		t.Errorf("the key is shown again")
	}
	keys, _, err := e.db.ListIngestKeys(context.Background(), keel.System, keel.Page{Limit: 1})
	if err != nil || len(keys) != 1 || keys[0].Name != "eu app" || keys[0].Limit.String() != "t-1, t-2, t-3, eu-*" {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	r = admin.post("/tokens/ingest-keys", url.Values{"name": {"typed app"}, "tenants": {"ok, not/ok"}})
	wantPage(t, "a bad tenant", r, 400, `id="key-error"`, "tenants[1]:", `value="typed app"`, "ok, not/ok")
	kpath := fmt.Sprintf("/tokens/ingest-keys/%d/revoke", keys[0].ID)
	wantPage(t, "revoke a key unconfirmed", admin.post(kpath, nil), 400, "confirm:")
	wantRedirect(t, "revoke a key", admin.post(kpath, url.Values{"confirm": {"yes"}}), "/tokens")
	if k, _, _ := e.db.ListIngestKeys(context.Background(), keel.System, keel.Page{Limit: 1}); k[0].RevokedAt == nil {
		t.Errorf("the key is not revoked")
	}

	// The audit log, field by field.
	a := admin.get("/audit?entity=ingest_key")
	wantPage(t, "audit of keys", a, 200, "ingest_key.revoke", "ingest_key.create", "Revoked at", "t-1, t-2, t-3, eu-*", "eu app")
	a = admin.get("/audit?entity=api_token")
	wantPage(t, "audit of tokens", a, 200, "token.revoke", "Expires at", "laptop")
	for _, body := range []string{a.body, p.body} {
		if strings.Contains(html.UnescapeString(body), "keel_api_") {
			t.Errorf("a page shows a token")
		}
	}
}

// TestTokensPageInTheReportingTimezone: times are shown on the reporting
// calendar, and a day typed as the expiry is that calendar's.
func TestTokensPageInTheReportingTimezone(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().UTC().Date()              // a day whose sessions are still valid
	at := time.Date(y, m, d, 20, 0, 0, 0, time.UTC) // already tomorrow in Shanghai
	utcDay, shDay := at.Format(time.DateOnly), at.In(sh).Format(time.DateOnly)
	e := newAPIOn(t, teststack.Get(t).Postgres.URL(), func() time.Time { return at }, keel.NewCalendar(sh))
	b := e.signIn("csm")
	r := b.post("/tokens", url.Values{"name": {"through the day"}, "expires_at": {shDay}})
	end := time.Date(y, m, d+2, 0, 0, 0, 0, sh) // the end of Shanghai's day
	wantPage(t, "make a token", r, 200, `id="made-token"`, shDay+" 04:00 CST", end.Format("2006-01-02 15:04 MST"), `min="`+shDay+`"`)
	tokens, _, err := e.db.Tokens(context.Background(), e.emps["csm"], keel.TokenFilter{EmployeeID: e.emps["csm"].ID})
	if err != nil || tokens[0].ExpiresAt == nil || !tokens[0].ExpiresAt.Equal(end) {
		t.Fatalf("tokens %+v, %v; want it to expire at %v, the end of %s in Shanghai", tokens, err, end, shDay)
	}
	// Today in UTC is yesterday here.
	wantPage(t, "yesterday", b.post("/tokens", url.Values{"name": {"x"}, "expires_at": {utcDay}}), 400, "expires_at:")
	if r := b.post("/me/locale", url.Values{"locale": {"zh"}, "next": {"/tokens"}}); r.status != http.StatusSeeOther {
		t.Fatalf("switch to Chinese: %d", r.status)
	}
	wantPage(t, "in Chinese", b.get("/tokens"), 200, "我的 API 令牌", "有效", "through the day")
}
