package postgres

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest/collector"
)

// tokenIDs lists the tokens' ids, in order.
func tokenIDs(ts []keel.APIToken) []int64 {
	out := []int64{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// TestTokenListAndRevoke: an employee lists and revokes their own tokens;
// admin lists and revokes anyone's; anyone else is refused and nothing is
// written; a revoked token stops working at once and stays listed as
// revoked; each create and revoke is audited without the secret.
func TestTokenListAndRevoke(t *testing.T) {
	e := newStoreEnv(t)
	bob, _, err := e.db.AddEmployee(e.ctx, e.admin, keel.Employee{Email: "bob-" + e.id + "@example.com", Name: "Bob", Roles: []keel.Role{keel.RoleSales}})
	if err != nil {
		t.Fatal(err)
	}
	laptop, first, err := e.db.CreateTokenUntil(e.ctx, bob, bob.ID, "laptop", nil)
	if err != nil {
		t.Fatal(err)
	}
	until := e.now().Add(30 * 24 * time.Hour)
	script, second, err := e.db.CreateTokenUntil(e.ctx, bob, bob.ID, "billing script", &until)
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != "laptop" || first.ExpiresAt != nil || !first.CreatedAt.Equal(e.now()) || second.ExpiresAt == nil || !second.ExpiresAt.Equal(until) {
		t.Errorf("created %+v and %+v", first, second)
	}

	// Bob's own, newest first; the same for admin asking for Bob's.
	for _, by := range []keel.Employee{bob, e.admin} {
		got, n, err := e.db.Tokens(e.ctx, by, keel.TokenFilter{EmployeeID: bob.ID})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{second.ID, first.ID}; n != 2 || !slices.Equal(tokenIDs(got), want) {
			t.Fatalf("as %s: tokens %v (total %d), want %v", by.Email, tokenIDs(got), n, want)
		}
		if got[0].Name != "billing script" || got[0].ExpiresAt == nil || got[0].State(e.now()) != keel.CredentialActive {
			t.Errorf("as %s: listed %+v", by.Email, got[0])
		}
	}
	all, n, err := e.db.Tokens(e.ctx, e.admin, keel.TokenFilter{All: true})
	if err != nil || n < 2 || !slices.Contains(tokenIDs(all), first.ID) {
		t.Errorf("admin lists all: %v (total %d), %v; want Bob's among them", tokenIDs(all), n, err)
	}

	// Someone else's tokens are not a seller's to list or revoke.
	before := e.counts(t)
	_, _, err = e.db.Tokens(e.ctx, e.sales, keel.TokenFilter{EmployeeID: bob.ID})
	wantCode(t, "a seller lists Bob's", err, keel.EFORBIDDEN)
	_, _, err = e.db.Tokens(e.ctx, e.sales, keel.TokenFilter{All: true})
	wantCode(t, "a seller lists all", err, keel.EFORBIDDEN)
	_, err = e.db.RevokeToken(e.ctx, e.sales, first.ID)
	wantCode(t, "a seller revokes Bob's", err, keel.EFORBIDDEN)
	_, err = e.db.RevokeToken(e.ctx, e.admin, 1<<40)
	wantCode(t, "an unknown token", err, keel.ENOTFOUND)
	e.unchanged(t, before)
	if _, err := e.db.Authenticate(e.ctx, laptop); err != nil {
		t.Fatalf("refusals revoked the token: %v", err)
	}

	// Bob revokes his own; admin revokes his other.
	revoked, err := e.db.RevokeToken(e.ctx, bob, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(e.now()) {
		t.Errorf("revoked %+v", revoked)
	}
	_, err = e.db.Authenticate(e.ctx, laptop)
	wantCode(t, "a revoked token", err, keel.EUNAUTHORIZED)
	if got, err := e.db.Authenticate(e.ctx, script); err != nil || got.ID != bob.ID {
		t.Errorf("the other token: %+v, %v; want Bob still", got, err)
	}
	_, err = e.db.RevokeToken(e.ctx, bob, first.ID)
	wantCode(t, "revoked twice", err, keel.ECONFLICT)
	if _, err := e.db.RevokeToken(e.ctx, e.admin, second.ID); err != nil {
		t.Fatal(err)
	}
	got, _, err := e.db.Tokens(e.ctx, bob, keel.TokenFilter{EmployeeID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range got {
		if tok.State(e.now()) != keel.CredentialRevoked {
			t.Errorf("token %d is %s, want revoked", tok.ID, tok.State(e.now()))
		}
	}

	for _, id := range []int64{first.ID, second.ID} {
		if got := strings.Join(e.auditActions(t, "api_token", id), " "); got != "token.create token.revoke" {
			t.Errorf("token %d audited %q", id, got)
		}
	}
	var before1, after1 []byte
	if err := e.db.pool.QueryRow(e.ctx, `SELECT before, after FROM audit_log WHERE entity = 'api_token' AND entity_id = $1 AND action = 'token.revoke'`, first.ID).Scan(&before1, &after1); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(after1, &rec); err != nil || rec["revoked_at"] == nil || rec["name"] != "laptop" {
		t.Errorf("revoke audited as %s (%v)", after1, err)
	}
	for _, b := range [][]byte{before1, after1} {
		if strings.Contains(string(b), "hash") || strings.Contains(string(b), laptop) {
			t.Errorf("the audit holds the secret or its hash: %s", b)
		}
	}
}

// TestTokenExpiry: an expired token is refused like a revoked one, from
// the instant it expires; an expiry in the past is refused when creating.
func TestTokenExpiry(t *testing.T) {
	e := newStoreEnv(t)
	until := e.now().Add(time.Hour)
	tok, rec, err := e.db.CreateTokenUntil(e.ctx, e.csm, e.csm.ID, "an hour", &until)
	if err != nil {
		t.Fatal(err)
	}
	e.setNow(until.Add(-time.Second))
	if _, err := e.db.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("a second before it expires: %v", err)
	}
	e.setNow(until)
	_, err = e.db.Authenticate(e.ctx, tok)
	wantCode(t, "an expired token", err, keel.EUNAUTHORIZED)
	if keel.ErrorMessage(err) != keel.ErrorMessage(errToken) {
		t.Errorf("an expired token says %q; it must say what any refused token says", keel.ErrorMessage(err))
	}
	got, _, err := e.db.Tokens(e.ctx, e.csm, keel.TokenFilter{EmployeeID: e.csm.ID})
	if err != nil || len(got) == 0 || got[0].ID != rec.ID || got[0].State(e.now()) != keel.CredentialExpired {
		t.Errorf("listed %+v, %v; want the token, expired", got, err)
	}
	// Its last use was recorded while it worked.
	if got[0].LastUsedAt == nil || !got[0].LastUsedAt.Equal(until.Add(-time.Second)) {
		t.Errorf("last used %v, want %v", got[0].LastUsedAt, until.Add(-time.Second))
	}
	before := e.counts(t)
	past := e.now().Add(-time.Minute)
	_, _, err = e.db.CreateTokenUntil(e.ctx, e.csm, e.csm.ID, "too late", &past)
	wantCode(t, "an expiry in the past", err, keel.EINVALID)
	if keel.ErrorField(err) != "expires_at" {
		t.Errorf("refusal names %q, want expires_at", keel.ErrorField(err))
	}
	e.unchanged(t, before)
}

// TestIngestKeys: admin creates keys with an expiry and a tenant limit,
// lists them without their hashes, and revokes one, each audited; the
// collector's view holds only the keys that work, with their limits; the
// last uses a collector records keep the latest; anyone else is refused.
func TestIngestKeys(t *testing.T) {
	e := newStoreEnv(t)
	until := e.now().Add(2 * time.Hour)
	limited, plain, err := e.db.CreateIngestKey(e.ctx, e.admin, keel.IngestKey{Name: "eu-app-" + e.id, ExpiresAt: &until,
		Limit: keel.TenantLimit{Tenants: []string{"t-1", "t-2"}, Prefix: "eu-"}})
	if err != nil {
		t.Fatal(err)
	}
	open, _, err := e.db.CreateIngestKey(e.ctx, keel.System, keel.IngestKey{Name: "any-app-" + e.id, Rate: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "keel_ingest_") || limited.Limit.String() != "t-1, t-2, eu-*" || !limited.ExpiresAt.Equal(until) {
		t.Errorf("created %+v (%q)", limited, plain)
	}

	list, n, err := e.db.ListIngestKeys(e.ctx, e.admin, keel.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]keel.IngestKey{}
	for _, k := range list {
		byID[k.ID] = k
	}
	if n < 2 || byID[limited.ID].Name != limited.Name || byID[limited.ID].Limit.String() != "t-1, t-2, eu-*" || byID[open.ID].Limit.Limited() || byID[open.ID].Rate != -1 {
		t.Errorf("listed %+v and %+v (total %d)", byID[limited.ID], byID[open.ID], n)
	}

	working := func() map[int64]bool {
		t.Helper()
		keys, err := e.db.IngestKeys(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]bool{}
		for _, k := range keys {
			out[k.ID] = true
			if k.ID == limited.ID && (!k.Limit.Allows("eu-9") || k.Limit.Allows("us-1") || !k.ExpiresAt.Equal(until)) {
				t.Errorf("the collector's view of the limited key: %+v", k)
			}
		}
		return out
	}
	if w := working(); !w[limited.ID] || !w[open.ID] {
		t.Fatalf("working keys %v, want both", w)
	}
	if _, ok, err := e.db.IngestKey(e.ctx, collector.HashKey(plain)); !ok || err != nil {
		t.Fatalf("look up the new key: %v, %v", ok, err)
	}

	// Last uses: one statement for both, the later use kept.
	t1, t2 := e.now().Add(-time.Minute), e.now()
	if err := e.db.RecordIngestKeyUses(e.ctx, map[int64]time.Time{limited.ID: t2, open.ID: t1}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.RecordIngestKeyUses(e.ctx, map[int64]time.Time{limited.ID: t1}); err != nil {
		t.Fatal(err)
	}
	list, _, _ = e.db.ListIngestKeys(e.ctx, e.admin, keel.Page{Limit: 500})
	for _, k := range list {
		want := map[int64]time.Time{limited.ID: t2, open.ID: t1}[k.ID]
		if (k.ID == limited.ID || k.ID == open.ID) && (k.LastUsedAt == nil || !k.LastUsedAt.Equal(want)) {
			t.Errorf("key %d last used %v, want %v", k.ID, k.LastUsedAt, want)
		}
	}

	// Only admin.
	before := e.counts(t)
	for _, by := range []keel.Employee{e.sales, e.csm, e.finance, e.leader} {
		_, _, err := e.db.CreateIngestKey(e.ctx, by, keel.IngestKey{Name: "nope"})
		wantCode(t, by.Email+" creates a key", err, keel.EFORBIDDEN)
		_, _, err = e.db.ListIngestKeys(e.ctx, by, keel.Page{})
		wantCode(t, by.Email+" lists keys", err, keel.EFORBIDDEN)
		_, err = e.db.RevokeIngestKey(e.ctx, by, open.ID)
		wantCode(t, by.Email+" revokes a key", err, keel.EFORBIDDEN)
	}
	for _, bad := range []struct {
		p     keel.IngestKey
		field string
	}{
		{keel.IngestKey{}, "name"},
		{keel.IngestKey{Name: "x\x00"}, "name"},
		{keel.IngestKey{Name: strings.Repeat("x", 101)}, "name"},
		{keel.IngestKey{Name: "x", MaxAge: -time.Second}, "max_age"},
		{keel.IngestKey{Name: "x", ExpiresAt: &t1}, "expires_at"},
		{keel.IngestKey{Name: "x", Limit: keel.TenantLimit{Tenants: []string{"ok", "not ok"}}}, "tenants[1]"},
		{keel.IngestKey{Name: "x", Limit: keel.TenantLimit{Prefix: "a b"}}, "tenant_prefix"},
	} {
		_, _, err := e.db.CreateIngestKey(e.ctx, e.admin, bad.p)
		if keel.ErrorCode(err) != keel.EINVALID || keel.ErrorField(err) != bad.field {
			t.Errorf("%+v: %v, want EINVALID about %s", bad.p, err, bad.field)
		}
	}
	e.unchanged(t, before)

	// Revoked and expired keys stop working; both stay listed.
	if _, err := e.db.RevokeIngestKey(e.ctx, e.admin, open.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.db.RevokeIngestKey(e.ctx, e.admin, open.ID)
	wantCode(t, "revoked twice", err, keel.ECONFLICT)
	_, err = e.db.RevokeIngestKey(e.ctx, e.admin, 1<<40)
	wantCode(t, "an unknown key", err, keel.ENOTFOUND)
	if w := working(); !w[limited.ID] || w[open.ID] {
		t.Errorf("after the revoke: working keys %v, want the limited one only", w)
	}
	e.setNow(until)
	if w := working(); w[limited.ID] {
		t.Errorf("an expired key still works")
	}
	if _, ok, _ := e.db.IngestKey(e.ctx, collector.HashKey(plain)); ok {
		t.Errorf("an expired key is found by its hash")
	}
	list, _, _ = e.db.ListIngestKeys(e.ctx, e.admin, keel.Page{Limit: 500})
	states := map[int64]keel.CredentialState{}
	for _, k := range list {
		states[k.ID] = k.State(e.now())
	}
	if states[limited.ID] != keel.CredentialExpired || states[open.ID] != keel.CredentialRevoked {
		t.Errorf("states %v", states)
	}
	if got := strings.Join(e.auditActions(t, "ingest_key", open.ID), " "); got != "ingest_key.create ingest_key.revoke" {
		t.Errorf("audited %q", got)
	}
	var after []byte
	if err := e.db.pool.QueryRow(e.ctx, `SELECT after FROM audit_log WHERE entity = 'ingest_key' AND entity_id = $1`, limited.ID).Scan(&after); err != nil {
		t.Fatal(err)
	}
	var rec ingestKeyRecord
	if err := json.Unmarshal(after, &rec); err != nil || !slices.Equal(rec.Tenants, []string{"t-1", "t-2"}) || rec.TenantPrefix != "eu-" || rec.ExpiresAt == nil {
		t.Errorf("create audited as %s (%v)", after, err)
	}
	if s := string(after); strings.Contains(s, "hash") || strings.Contains(s, plain) {
		t.Errorf("the audit holds the key or its hash: %s", s)
	}
}
