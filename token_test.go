package keel_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel"
)

func TestCredentialState(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	tests := []struct {
		name             string
		expires, revoked *time.Time
		want             keel.CredentialState
	}{
		{"no expiry", nil, nil, keel.CredentialActive},
		{"expires later", at(time.Second), nil, keel.CredentialActive},
		{"expires now", at(0), nil, keel.CredentialExpired},
		{"expired", at(-time.Hour), nil, keel.CredentialExpired},
		{"revoked", nil, at(-time.Hour), keel.CredentialRevoked},
		{"revoked and expired", at(-time.Minute), at(-time.Hour), keel.CredentialRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := keel.APIToken{ExpiresAt: tt.expires, RevokedAt: tt.revoked}
			key := keel.IngestKey{ExpiresAt: tt.expires, RevokedAt: tt.revoked}
			if got := tok.State(now); got != tt.want {
				t.Errorf("token: %s, want %s", got, tt.want)
			}
			if got := key.State(now); got != tt.want {
				t.Errorf("key: %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTenantLimit(t *testing.T) {
	tests := []struct {
		limit   keel.TenantLimit
		allowed []string
		refused []string
	}{
		{keel.TenantLimit{}, []string{"t-1", "anything"}, nil},
		{keel.TenantLimit{Tenants: []string{"t-1", "t-2"}}, []string{"t-1", "t-2"}, []string{"t-3", "t-10", "t-", "T-1"}},
		{keel.TenantLimit{Prefix: "eu-"}, []string{"eu-1", "eu-", "eu-acme"}, []string{"us-1", "eu", "EU-1"}},
		{keel.TenantLimit{Tenants: []string{"us-7"}, Prefix: "eu-"}, []string{"eu-1", "us-7"}, []string{"us-8"}},
	}
	for _, tt := range tests {
		for _, ten := range tt.allowed {
			if !tt.limit.Allows(ten) {
				t.Errorf("%q refuses %q, want allowed", tt.limit, ten)
			}
		}
		for _, ten := range tt.refused {
			if tt.limit.Allows(ten) {
				t.Errorf("%q allows %q, want refused", tt.limit, ten)
			}
		}
		if got := tt.limit.Limited(); got != (len(tt.refused) > 0) {
			t.Errorf("%q limited = %v", tt.limit, got)
		}
	}
	if got := (keel.TenantLimit{Tenants: []string{"a", "b"}, Prefix: "eu-"}).String(); got != "a, b, eu-*" {
		t.Errorf("String = %q", got)
	}
}

func TestTenantLimitValidate(t *testing.T) {
	many := make([]string, keel.MaxLimitTenants+1)
	for i := range many {
		many[i] = fmt.Sprintf("t-%d", i)
	}
	tests := []struct {
		name  string
		limit keel.TenantLimit
		field string // "" = valid
	}{
		{"none", keel.TenantLimit{}, ""},
		{"tenants and prefix", keel.TenantLimit{Tenants: []string{"t-1", "acme:eu"}, Prefix: "eu-"}, ""},
		{"the most tenants", keel.TenantLimit{Tenants: many[:keel.MaxLimitTenants]}, ""},
		{"too many tenants", keel.TenantLimit{Tenants: many}, "tenants"},
		{"an empty tenant", keel.TenantLimit{Tenants: []string{"t-1", ""}}, "tenants[1]"},
		{"a tenant with a space", keel.TenantLimit{Tenants: []string{"t 1"}}, "tenants[0]"},
		{"a tenant twice", keel.TenantLimit{Tenants: []string{"t-1", "t-2", "t-1"}}, "tenants[2]"},
		{"a NUL in a tenant", keel.TenantLimit{Tenants: []string{"t\x00"}}, "tenants[0]"},
		{"a tenant too long", keel.TenantLimit{Tenants: []string{strings.Repeat("x", 129)}}, "tenants[0]"},
		{"a prefix with a slash", keel.TenantLimit{Prefix: "eu/"}, "tenant_prefix"},
		{"a prefix not UTF-8", keel.TenantLimit{Prefix: "eu\xff"}, "tenant_prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.limit.Validate()
			if tt.field == "" {
				wantOK(t, err)
				return
			}
			wantError(t, err, keel.EINVALID, tt.field)
		})
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		in    string
		cal   keel.Calendar
		want  string // RFC 3339; "" = none
		field bool   // refused
	}{
		{"none", "", keel.UTC, "", false},
		{"a day: through that day", "2026-12-31", keel.UTC, "2027-01-01T00:00:00Z", false},
		{"a day in Shanghai", "2026-12-31", keel.NewCalendar(sh), "2026-12-31T16:00:00Z", false},
		{"today: through today", "2026-11-23", keel.UTC, "2026-11-24T00:00:00Z", false},
		{"an instant", "2026-11-23T09:30:00+01:00", keel.UTC, "2026-11-23T08:30:00Z", false},
		{"yesterday", "2026-11-22", keel.UTC, "", true},
		{"an instant past", "2026-11-23T07:59:59Z", keel.UTC, "", true},
		{"now", "2026-11-23T08:00:00Z", keel.UTC, "", true},
		{"out of range", "2200-01-01", keel.UTC, "", true},
		{"not a time", "next week", keel.UTC, "", true},
		{"a NUL", "2026-12-31\x00", keel.UTC, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keel.ParseExpiry("expires_at", tt.in, tt.cal, now)
			if tt.field {
				wantError(t, err, keel.EINVALID, "expires_at")
				return
			}
			wantOK(t, err)
			s := ""
			if got != nil {
				s = got.Format(time.RFC3339)
			}
			if s != tt.want {
				t.Errorf("expiry %q, want %q", s, tt.want)
			}
		})
	}
}

func TestCanManageTokensOf(t *testing.T) {
	for _, e := range []keel.Employee{admin, seller, csm, finance, leader} {
		if err := e.CanManageTokensOf(e.ID); err != nil {
			t.Errorf("%s may not manage their own tokens: %v", e.Email, err)
		}
	}
	if err := admin.CanManageTokensOf(seller.ID); err != nil {
		t.Errorf("admin may not manage a seller's tokens: %v", err)
	}
	for _, e := range []keel.Employee{seller, csm, finance, leader} {
		err := e.CanManageTokensOf(admin.ID)
		wantError(t, err, keel.EFORBIDDEN, "")
		if msg := keel.ErrorMessage(err); msg != "token.admin needs the role admin" {
			t.Errorf("%s: %q", e.Email, msg)
		}
	}
	wantError(t, departed.CanManageTokensOf(departed.ID), keel.EUNAUTHORIZED, "")
	// The CLI's machine access manages everyone's, as admin would.
	wantOK(t, keel.System.CanManageTokensOf(seller.ID))
}
