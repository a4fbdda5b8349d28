package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/postgres"
)

// tokenList runs keel token list with args and --json, and returns its items.
func tokenList(t *testing.T, env map[string]string, args ...string) []credentialJSON {
	t.Helper()
	out, errOut, err := runKeel(t, env, append([]string{"token", "list", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("token list %v: %v (%s)", args, err, errOut)
	}
	for _, secret := range []string{postgres.TokenPrefix, "keel_ingest_", "hash"} {
		if strings.Contains(out, secret) {
			t.Errorf("token list %v shows %q: %s", args, secret, out)
		}
	}
	var list struct {
		Items []credentialJSON `json:"items"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Total != len(list.Items) {
		t.Fatalf("token list %v printed %q (%v)", args, out, err)
	}
	return list.Items
}

// TestTokenCommands: tokens and ingest keys made with an expiry (and a
// key with a tenant limit), listed with their state and times but never
// their secrets, and revoked one by one — each refused from then on, each
// change audited as the CLI.
func TestTokenCommands(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, env[envPG])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, email := range []string{"ada@example.com", "bo@example.com"} {
		if _, _, err := runKeel(t, env, "user", "add", "--email", email, "--name", "Staff", "--role", "sales"); err != nil {
			t.Fatal(err)
		}
	}

	out, errOut, err := runKeel(t, env, "token", "create", "--email", "ada@example.com", "--name", "laptop", "--expires", "30d")
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	laptop := strings.TrimSpace(out)
	if !strings.HasPrefix(laptop, postgres.TokenPrefix) || !strings.Contains(errOut, "working until") {
		t.Fatalf("token create printed %q, told %q", out, errOut)
	}
	day := time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	if _, _, err := runKeel(t, env, "token", "create", "--email", "ada@example.com", "--name", "script", "--expires", day, "--tz", "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runKeel(t, env, "token", "create", "--email", "bo@example.com"); err != nil {
		t.Fatal(err)
	}

	ada := tokenList(t, env, "--email", "ada@example.com")
	if len(ada) != 2 || ada[0].Name != "script" || ada[1].Name != "laptop" || ada[0].Email != "ada@example.com" || ada[0].State != "active" {
		t.Fatalf("Ada's tokens: %+v", ada)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	d, _ := time.ParseInLocation(time.DateOnly, day, sh)
	if want := d.AddDate(0, 0, 1).UTC().Format(time.RFC3339); ada[0].ExpiresAt == nil || *ada[0].ExpiresAt != want {
		t.Errorf("script expires %v, want %s (the end of %s in Shanghai)", ada[0].ExpiresAt, want, day)
	}
	if exp, _ := time.Parse(time.RFC3339, *ada[1].ExpiresAt); exp.Sub(time.Now()) < 29*24*time.Hour || exp.Sub(time.Now()) > 30*24*time.Hour {
		t.Errorf("laptop expires %s, want in 30 days", exp)
	}
	if all := tokenList(t, env); len(all) != 3 {
		t.Errorf("every token: %+v, want 3", all)
	}
	table, _, err := runKeel(t, env, "token", "list")
	if err != nil || !strings.Contains(table, "ada@example.com") || !strings.Contains(table, "laptop") || !strings.Contains(table, "never") {
		t.Errorf("token list printed %q, %v", table, err)
	}

	// Revoked one at a time.
	out, _, err = runKeel(t, env, "token", "revoke", "--id", fmt.Sprint(ada[1].ID))
	if err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke: %q, %v", out, err)
	}
	if _, err := db.Authenticate(ctx, laptop); keel.ErrorCode(err) != keel.EUNAUTHORIZED {
		t.Errorf("the revoked token: %v, want refused", err)
	}
	if got := tokenList(t, env, "--email", "ada@example.com"); got[1].State != "revoked" || got[1].RevokedAt == nil || got[0].State != "active" {
		t.Errorf("after the revoke: %+v", got)
	}

	// An ingest key limited to tenants, with an expiry.
	out, errOut, err = runKeel(t, env, "token", "ingest", "eu-app", "--tenants", "t-1, t-2", "--tenant-prefix", "eu-", "--expires", "2099-01-01")
	if err != nil {
		t.Fatalf("token ingest: %v (%s)", err, errOut)
	}
	key := strings.TrimSpace(out)
	if !strings.Contains(errOut, "tenants t-1, t-2, eu-*") {
		t.Errorf("token ingest told %q", errOut)
	}
	k, ok, err := db.IngestKey(ctx, collector.HashKey(key))
	if err != nil || !ok || !k.Limit.Allows("eu-7") || k.Limit.Allows("us-7") || !k.Limit.Allows("t-2") || k.ExpiresAt.IsZero() {
		t.Fatalf("the collector's view of the key: %+v, %v, %v", k, ok, err)
	}
	keys := tokenList(t, env, "--ingest")
	if len(keys) != 1 || keys[0].Name != "eu-app" || strings.Join(keys[0].Tenants, ",") != "t-1,t-2" || keys[0].TenantPrefix != "eu-" || keys[0].State != "active" {
		t.Fatalf("ingest keys: %+v", keys)
	}
	if out, _, err := runKeel(t, env, "token", "revoke", "--ingest", "--id", fmt.Sprint(keys[0].ID)); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke --ingest: %q, %v", out, err)
	}
	if _, ok, _ := db.IngestKey(ctx, collector.HashKey(key)); ok {
		t.Errorf("the revoked key still works")
	}

	entries, _, err := db.Audit(ctx, keel.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range entries {
		if a.Entity == "api_token" || a.Entity == "ingest_key" {
			actions = append(actions, a.Action)
			if a.Actor != keel.System.Email {
				t.Errorf("%s by %q, want the CLI", a.Action, a.Actor)
			}
		}
	}
	if got := strings.Join(actions, " "); got != "ingest_key.revoke ingest_key.create token.revoke token.create token.create token.create" {
		t.Errorf("audited %q", got)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	env := freshDatabases(t)
	if _, _, err := runKeel(t, env, "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runKeel(t, env, "user", "add", "--email", "bo@example.com", "--name", "Bo", "--role", "sales"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runKeel(t, env, "token", "create", "--email", "bo@example.com"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string // in the error
	}{
		{[]string{"token", "frob"}, `unknown token command "frob"`},
		{[]string{"token", "create", "--email", "bo@example.com", "--expires", "2001-01-01"}, "--expires: 2001-01-02T00:00:00Z is not in the future"},
		{[]string{"token", "create", "--email", "bo@example.com", "--expires", "soon"}, "--expires: "},
		{[]string{"token", "create", "--email", "bo@example.com", "--expires", "-2h"}, "is not in the future"},
		{[]string{"token", "create", "--email", "bo@example.com", "--expires", "xd"}, "not a number of days"},
		{[]string{"token", "create", "--email", "bo@example.com", "--tz", "Mars/Base"}, "--tz: unknown timezone"},
		{[]string{"token", "ingest", "app", "--tenants", "t-1,not ok"}, "--tenants: "},
		{[]string{"token", "ingest", "app", "--tenant-prefix", "a/b"}, "--tenant-prefix: "},
		{[]string{"token", "ingest", "app", "--expires", "2000-01-01"}, "--expires: "},
		{[]string{"token", "list", "--email", "bo@example.com", "--ingest"}, "do not go together"},
		{[]string{"token", "list", "--email", "nobody@example.com"}, "no employee"},
		{[]string{"token", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"token", "revoke"}, "--id is required"},
		{[]string{"token", "revoke", "--id", "-3"}, "is not an id"},
		{[]string{"token", "revoke", "--id", "999999"}, "API token 999999 not found"},
		{[]string{"token", "revoke", "--id", "999999", "--ingest"}, "ingest key 999999 not found"},
	}
	for _, tt := range tests {
		out, _, err := runKeel(t, env, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("keel %s: %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
		if out != "" {
			t.Errorf("keel %s printed %q on a failure", strings.Join(tt.args, " "), out)
		}
	}
	// Nothing was made by the refusals; Bo's one token still works.
	if got := tokenList(t, env); len(got) != 1 {
		t.Errorf("tokens %+v, want Bo's one", got)
	}
	if keys := tokenList(t, env, "--ingest"); len(keys) != 0 {
		t.Errorf("ingest keys %+v, want none", keys)
	}
	id := tokenList(t, env)[0].ID
	if _, _, err := runKeel(t, env, "token", "revoke", "--id", fmt.Sprint(id)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runKeel(t, env, "token", "revoke", "--id", fmt.Sprint(id)); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Errorf("revoked twice: %v", err)
	}
}
