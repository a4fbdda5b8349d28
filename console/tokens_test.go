package console_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack/teststack"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/postgres"
)

// listedIDs are the ids of a list answer's items.
func listedIDs(t *testing.T, m map[string]any) map[int64]map[string]any {
	t.Helper()
	out := map[int64]map[string]any{}
	for _, it := range m["items"].([]any) {
		item := it.(map[string]any)
		out[int64(item["id"].(float64))] = item
	}
	return out
}

// noSecrets fails if an answer holds a hash, a token or a key.
func noSecrets(t *testing.T, what string, body []byte) {
	t.Helper()
	s := string(body)
	for _, bad := range []string{"hash", postgres.TokenPrefix, "keel_ingest_", `"token"`, `"key"`} {
		if strings.Contains(s, bad) {
			t.Errorf("%s holds %q: %s", what, bad, s)
		}
	}
}

// TestTokensAPI: an employee creates, lists and revokes their own API
// tokens, the secret shown once; admin lists and revokes anyone's; others'
// tokens are refused with 403 and nothing changes; expired and revoked
// tokens are refused like unknown ones.
func TestTokensAPI(t *testing.T) {
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	e := newAPIOn(t, teststack.Get(t).Postgres.URL(), c.now, keel.UTC)
	sales, csm := e.emps["sales"], e.emps["csm"]

	// Using a token records its last use; the env's token was just used.
	e.must(200, "sales", "GET", "/api/v1/me", nil)
	r := e.call("sales", "GET", "/api/v1/tokens", nil)
	if r.status != 200 {
		t.Fatalf("list own: %d %s", r.status, r.body)
	}
	noSecrets(t, "the list", r.body)
	own := listedIDs(t, r.json(t))
	if len(own) != 1 {
		t.Fatalf("sales lists %v, want the one token", own)
	}
	for _, tok := range own {
		if tok["employee_id"] != float64(sales.ID) || tok["name"] != "test" || tok["state"] != "active" || tok["last_used_at"] == nil || tok["expires_at"] != nil {
			t.Errorf("listed %v", tok)
		}
	}

	// A new token of one's own, through the reporting day given.
	until := c.now().AddDate(0, 0, 30).Format(time.DateOnly)
	created := e.must(201, "sales", "POST", "/api/v1/tokens", map[string]any{"name": "billing script", "expires_at": until})
	secret, _ := created["token"].(string)
	if !strings.HasPrefix(secret, postgres.TokenPrefix) || created["expires_at"] == nil || created["state"] != "active" {
		t.Fatalf("created %v", created)
	}
	newID := id(t, created)
	e.tokens["script"] = secret
	if me := e.must(200, "script", "GET", "/api/v1/me", nil); me["id"] != float64(sales.ID) {
		t.Errorf("the new token is %v, want sales", me)
	}
	wantExpiry, _ := time.Parse(time.DateOnly, until)
	if got := created["expires_at"]; got != wantExpiry.AddDate(0, 0, 1).Format(time.RFC3339) {
		t.Errorf("expires_at %v, want the start of the day after %s", got, until)
	}

	// Others' tokens: admin's to list and revoke, no one else's.
	audits := e.auditCount()
	for _, q := range []string{fmt.Sprintf("?employee_id=%d", csm.ID), "?employee_id=all"} {
		if r := e.call("sales", "GET", "/api/v1/tokens"+q, nil); r.status != 403 {
			t.Errorf("sales lists %s: %d, want 403", q, r.status)
		}
	}
	csmTokens := listedIDs(t, e.must(200, "admin", "GET", fmt.Sprintf("/api/v1/tokens?employee_id=%d", csm.ID), nil))
	if len(csmTokens) != 1 {
		t.Fatalf("admin lists csm's %v", csmTokens)
	}
	all := listedIDs(t, e.must(200, "admin", "GET", "/api/v1/tokens?employee_id=all&limit=500", nil))
	if all[newID] == nil {
		t.Errorf("admin's list of all lacks the new token")
	}
	var csmToken int64
	for tid := range csmTokens {
		csmToken = tid
	}
	if r := e.call("sales", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", csmToken), nil); r.status != 403 {
		t.Errorf("sales revokes csm's token: %d %s, want 403", r.status, r.body)
	}
	if n := e.auditCount(); n != audits {
		t.Errorf("refusals wrote %d audit entries", n-audits)
	}
	e.must(200, "csm", "GET", "/api/v1/me", nil)

	// Revoking: one's own, then admin anyone's; each refused at once after.
	r = e.call("sales", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", newID), nil)
	if r.status != 200 || r.json(t)["state"] != "revoked" || r.json(t)["revoked_at"] == nil {
		t.Fatalf("revoke own: %d %s", r.status, r.body)
	}
	if r := e.call("script", "GET", "/api/v1/me", nil); r.status != 401 {
		t.Errorf("a revoked token: %d, want 401", r.status)
	}
	if r := e.call("sales", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", newID), nil); r.status != 409 {
		t.Errorf("revoked twice: %d, want 409", r.status)
	}
	e.must(200, "admin", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", csmToken), nil)
	if r := e.call("csm", "GET", "/api/v1/me", nil); r.status != 401 {
		t.Errorf("a token admin revoked: %d, want 401", r.status)
	}
	if listed := listedIDs(t, e.must(200, "sales", "GET", "/api/v1/tokens", nil)); listed[newID]["state"] != "revoked" {
		t.Errorf("the revoked token is listed as %v", listed[newID])
	}
	for _, p := range []string{"/api/v1/tokens/999999999", "/api/v1/tokens/abc"} {
		if r := e.call("admin", "DELETE", p, nil); r.status != 404 {
			t.Errorf("DELETE %s: %d, want 404", p, r.status)
		}
	}

	// An expiry that passes: refused from that instant, listed as expired.
	hour := e.must(201, "finance", "POST", "/api/v1/tokens", map[string]any{"name": "an hour", "expires_at": c.now().Add(time.Hour).Format(time.RFC3339)})
	e.tokens["hour"] = hour["token"].(string)
	e.must(200, "hour", "GET", "/api/v1/me", nil)
	c.tick(time.Hour)
	if r := e.call("hour", "GET", "/api/v1/me", nil); r.status != 401 {
		t.Errorf("an expired token: %d, want 401", r.status)
	}
	if listed := listedIDs(t, e.must(200, "finance", "GET", "/api/v1/tokens", nil)); listed[id(t, hour)]["state"] != "expired" {
		t.Errorf("the expired token is listed as %v", listed[id(t, hour)])
	}

	// Bad input names the field and creates nothing.
	audits = e.auditCount()
	for _, bad := range []struct {
		path, body, field string
	}{
		{"/api/v1/tokens", `{"name": "x", "expires_at": "2020-01-01"}`, "expires_at"},
		{"/api/v1/tokens", `{"name": "x", "expires_at": "soon"}`, "expires_at"},
		{"/api/v1/tokens", `{"name": "x", "expires_at": 5}`, "expires_at"},
		{"/api/v1/tokens", `{"name": "` + strings.Repeat("x", 101) + `"}`, "name"},
		{"/api/v1/tokens", `{"name": "x", "employee_id": 1}`, "employee_id"},
		{"/api/v1/tokens?employee_id=me", `{}`, ""},
	} {
		method := "POST"
		if bad.field == "" {
			method = "GET"
		}
		r := e.call("sales", method, bad.path, bad.body)
		want := bad.field
		if want == "" {
			want = "employee_id"
		}
		if got := r.apiError(t); r.status != 400 || got.Field == nil || *got.Field != want {
			t.Errorf("%s %s: %d %s, want 400 about %s", bad.path, bad.body, r.status, r.body, want)
		}
	}
	if n := e.auditCount(); n != audits {
		t.Errorf("bad input wrote %d audit entries", n-audits)
	}
}

// TestIngestKeysAPI: admin creates an ingest key limited to tenants, with
// an expiry, sees it once, lists it without its secret, and revokes it;
// the collector's view follows; bad input names the field.
func TestIngestKeysAPI(t *testing.T) {
	e := newAPI(t)
	until := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
	created := e.must(201, "admin", "POST", "/api/v1/ingest-keys", map[string]any{
		"name": "eu app", "expires_at": until.Format(time.RFC3339), "tenants": []string{"t-1", "t-2"}, "tenant_prefix": "eu-"})
	key, _ := created["key"].(string)
	if !strings.HasPrefix(key, "keel_ingest_") || created["expires_at"] != until.Format(time.RFC3339) || fmt.Sprint(created["tenants"]) != "[t-1 t-2]" || created["tenant_prefix"] != "eu-" {
		t.Fatalf("created %v", created)
	}
	kid := id(t, created)
	r := e.call("admin", "GET", "/api/v1/ingest-keys?limit=500", nil)
	if r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	noSecrets(t, "the list", r.body)
	listed := listedIDs(t, r.json(t))[kid]
	if listed["name"] != "eu app" || listed["state"] != "active" || listed["last_used_at"] != nil {
		t.Errorf("listed %v", listed)
	}
	k, ok, err := e.db.IngestKey(context.Background(), collector.HashKey(key))
	if err != nil || !ok || !k.Limit.Allows("eu-9") || k.Limit.Allows("us-1") {
		t.Fatalf("the collector's view: %+v, %v, %v", k, ok, err)
	}

	audits := e.auditCount()
	for _, bad := range []struct{ body, field string }{
		{`{"name": ""}`, "name"},
		{`{"name": "x", "tenants": ["ok", "not ok"]}`, "tenants[1]"},
		{`{"name": "x", "tenants": "t-1"}`, "tenants"},
		{`{"name": "x", "tenant_prefix": "a/b"}`, "tenant_prefix"},
		{`{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}`, "expires_at"},
		{`{"name": "x", "rate": 5}`, "rate"},
	} {
		r := e.call("admin", "POST", "/api/v1/ingest-keys", bad.body)
		if got := r.apiError(t); r.status != 400 || got.Field == nil || *got.Field != bad.field {
			t.Errorf("%s: %d %s, want 400 about %s", bad.body, r.status, r.body, bad.field)
		}
	}
	if n := e.auditCount(); n != audits {
		t.Errorf("bad input wrote %d audit entries", n-audits)
	}

	r = e.call("admin", "DELETE", fmt.Sprintf("/api/v1/ingest-keys/%d", kid), nil)
	if r.status != 200 || r.json(t)["state"] != "revoked" {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if _, ok, _ := e.db.IngestKey(context.Background(), collector.HashKey(key)); ok {
		t.Errorf("a revoked key is still in the collector's view")
	}
	if r := e.call("admin", "DELETE", fmt.Sprintf("/api/v1/ingest-keys/%d", kid), nil); r.status != http.StatusConflict {
		t.Errorf("revoked twice: %d, want 409", r.status)
	}
	if r := e.call("admin", "DELETE", "/api/v1/ingest-keys/999999999", nil); r.status != 404 {
		t.Errorf("an unknown key: %d, want 404", r.status)
	}
	for _, caller := range []string{"sales", "csm", "finance", "leadership"} {
		if r := e.call(caller, "GET", "/api/v1/ingest-keys", nil); r.status != 403 {
			t.Errorf("%s lists keys: %d, want 403", caller, r.status)
		}
	}
	entries, _, err := e.db.Audit(context.Background(), keel.AuditFilter{Entity: "ingest_key", EntityID: kid})
	if err != nil || len(entries) != 2 || entries[0].Action != "ingest_key.revoke" || entries[1].Action != "ingest_key.create" || entries[0].ActorID != e.emps["admin"].ID {
		t.Errorf("audit %+v, %v", entries, err)
	}
}
