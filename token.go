package keel

import (
	"fmt"
	"strings"
	"time"
)

// Credentials are what machines present instead of a password: a personal
// API token (an employee's, for the JSON API) or an ingest key (a product
// app's, for the collector). Only a hash of either is stored; the secret is
// shown once, when it is made. Each has a name, the time it was made and
// last used, an optional expiry, and can be revoked on its own. An expired
// credential is refused exactly like a revoked one.

// CredentialState says whether a token or key still works.
type CredentialState string

// The credential states.
const (
	CredentialActive  CredentialState = "active"
	CredentialExpired CredentialState = "expired"
	CredentialRevoked CredentialState = "revoked"
)

// credentialState is the state of a credential at now: revoked wins over
// expired, since revoking was someone's decision.
func credentialState(expires, revoked *time.Time, now time.Time) CredentialState {
	switch {
	case revoked != nil:
		return CredentialRevoked
	case expires != nil && !now.Before(*expires):
		return CredentialExpired
	}
	return CredentialActive
}

// APIToken is a personal API token as lists show it: never the token nor
// its hash.
type APIToken struct {
	ID         int64
	EmployeeID int64
	Name       string
	CreatedAt  time.Time
	ExpiresAt  *time.Time // nil = it does not expire
	// LastUsedAt is the last request it authenticated, to the minute (it
	// is written at most once a minute); nil = never used.
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// State is the token's state at now.
func (t APIToken) State(now time.Time) CredentialState {
	return credentialState(t.ExpiresAt, t.RevokedAt, now)
}

// TokenFilter selects the API tokens a list shows: one employee's, or
// everyone's (All).
type TokenFilter struct {
	EmployeeID int64
	All        bool
	Page
}

// TokenNotFound is the ENOTFOUND refusal of API token id.
func TokenNotFound(id any) *Error { return Errorf(ENOTFOUND, "API token %v not found", id) }

// IngestKeyNotFound is the ENOTFOUND refusal of ingest key id.
func IngestKeyNotFound(id any) *Error { return Errorf(ENOTFOUND, "ingest key %v not found", id) }

// IngestKey is a product app's ingest key as lists show it: never the key
// nor its hash.
type IngestKey struct {
	ID        int64
	Name      string // the product app it was issued to
	CreatedAt time.Time
	ExpiresAt *time.Time // nil = it does not expire
	// LastUsedAt is the last batch it sent, to the minute (the collectors
	// write it from their caches once a minute); nil = never used.
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	Limit      TenantLimit
	MaxAge     time.Duration // the key's late-arrival window; 0 = the collector's
	Rate       float64       // events/s; 0 = the collector's default, negative = unlimited
}

// State is the key's state at now.
func (k IngestKey) State(now time.Time) CredentialState {
	return credentialState(k.ExpiresAt, k.RevokedAt, now)
}

// MaxLimitTenants bounds a key's allow-list of tenants: a product app
// serving more customers than that is limited by a prefix instead.
const MaxLimitTenants = 1000

// TenantLimit is the tenants an ingest key may write events for: any
// tenant in Tenants, and any whose id starts with Prefix. The zero
// TenantLimit allows every tenant (a product app that serves every
// customer). Without it any product app's key could write any customer's
// activity, and so its health.
type TenantLimit struct {
	Tenants []string
	Prefix  string
}

// Limited reports whether l allows only some tenants.
func (l TenantLimit) Limited() bool { return len(l.Tenants) > 0 || l.Prefix != "" }

// Allows reports whether a key limited by l may write events of tenant.
// The collector keeps the allow-list as a set for its hot path; this is
// the rule it implements.
func (l TenantLimit) Allows(tenant string) bool {
	if !l.Limited() || l.Prefix != "" && strings.HasPrefix(tenant, l.Prefix) {
		return true
	}
	for _, t := range l.Tenants {
		if t == tenant {
			return true
		}
	}
	return false
}

// Validate checks a limit: each tenant a tenant id as events carry it,
// listed once, at most MaxLimitTenants of them; a prefix that starts a
// tenant id. It names the field: "tenants[2]", "tenant_prefix".
func (l TenantLimit) Validate() error {
	if len(l.Tenants) > MaxLimitTenants {
		return Invalid("tenants", "at most %d tenants (limit more by a prefix)", MaxLimitTenants)
	}
	seen := make(map[string]bool, len(l.Tenants))
	for i, t := range l.Tenants {
		field := fmt.Sprintf("tenants[%d]", i)
		if err := ValidText(field, t); err != nil {
			return err
		}
		if err := ValidTenant(field, t); err != nil {
			return err
		}
		if seen[t] {
			return Invalid(field, "%q is listed twice", t)
		}
		seen[t] = true
	}
	if l.Prefix != "" {
		if err := ValidText("tenant_prefix", l.Prefix); err != nil {
			return err
		}
		if err := ValidTenant("tenant_prefix", l.Prefix); err != nil {
			return err
		}
	}
	return nil
}

// String shows the limit the way the CLI and the pages write it: the
// tenants, then the prefix followed by "*"; "" for no limit.
func (l TenantLimit) String() string {
	parts := append([]string(nil), l.Tenants...)
	if l.Prefix != "" {
		parts = append(parts, l.Prefix+"*")
	}
	return strings.Join(parts, ", ")
}

// ValidExpiry returns an EINVALID error about field unless expires (nil =
// never) is after now and within the years records may have.
func ValidExpiry(field string, expires *time.Time, now time.Time) error {
	if expires == nil {
		return nil
	}
	if !expires.After(now) {
		return Invalid(field, "%s is not in the future", expires.UTC().Format(time.RFC3339))
	}
	return InYears(field, *expires)
}

// ParseExpiry reads an expiry as typed: "" is none; a day (YYYY-MM-DD)
// means the credential works through that reporting day, so it expires
// at the start of the next one on cal; otherwise an RFC 3339 instant. It
// checks the result with ValidExpiry against now.
func ParseExpiry(field, s string, cal Calendar, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if err := ValidText(field, s); err != nil {
		return nil, err
	}
	var t time.Time
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if err := InYears(field, d); err != nil {
			return nil, err
		}
		t = cal.Start(d.AddDate(0, 0, 1))
	} else if t, err = time.Parse(time.RFC3339, s); err != nil {
		return nil, Invalid(field, "%q is neither a day (YYYY-MM-DD) nor an RFC 3339 time", s)
	}
	t = t.UTC()
	if err := ValidExpiry(field, &t, now); err != nil {
		return nil, err
	}
	return &t, nil
}

// CanManageTokensOf returns nil when e may list and revoke the API tokens
// of employee owner: their own, or anyone's with ActTokenAdmin. A departed
// employee may do neither (EUNAUTHORIZED).
func (e Employee) CanManageTokensOf(owner int64) error {
	if e.Status != EmployeeActive {
		return Errorf(EUNAUTHORIZED, "%s's account is deactivated", e.Email)
	}
	if owner == e.ID && e.ID != 0 {
		return nil
	}
	return e.Can(ActTokenAdmin)
}
