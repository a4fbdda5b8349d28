package console

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/keelhq/keel"
)

// CredentialStore is what the token and ingest-key handlers read and
// change: personal API tokens (an employee's own; anyone's with
// keel.ActTokenAdmin) and the product apps' ingest keys
// (keel.ActIngestKeyAdmin). Lists never hold a secret or its hash; a new
// one's secret is in the answer to its creation only.
type CredentialStore interface {
	Tokens(ctx context.Context, by keel.Employee, f keel.TokenFilter) ([]keel.APIToken, int, error)
	CreateTokenUntil(ctx context.Context, by keel.Employee, employeeID int64, name string, expires *time.Time) (string, keel.APIToken, error)
	RevokeToken(ctx context.Context, by keel.Employee, id int64) (keel.APIToken, error)
	ListIngestKeys(ctx context.Context, by keel.Employee, p keel.Page) ([]keel.IngestKey, int, error)
	CreateIngestKey(ctx context.Context, by keel.Employee, k keel.IngestKey) (keel.IngestKey, string, error)
	RevokeIngestKey(ctx context.Context, by keel.Employee, id int64) (keel.IngestKey, error)
}

// tokenJSON is an API token as the API shows it: never the token.
type tokenJSON struct {
	ID         int64   `json:"id"`
	EmployeeID int64   `json:"employee_id"`
	Name       string  `json:"name"`
	State      string  `json:"state"`
	CreatedAt  string  `json:"created_at"`
	ExpiresAt  *string `json:"expires_at"`
	LastUsedAt *string `json:"last_used_at"`
	RevokedAt  *string `json:"revoked_at"`
}

func (s *server) toTokenJSON(t keel.APIToken) tokenJSON {
	return tokenJSON{ID: t.ID, EmployeeID: t.EmployeeID, Name: t.Name, State: string(t.State(s.Now())), CreatedAt: stamp(t.CreatedAt),
		ExpiresAt: stampPtr(t.ExpiresAt), LastUsedAt: stampPtr(t.LastUsedAt), RevokedAt: stampPtr(t.RevokedAt)}
}

// tokenCreatedJSON is a new token with its secret, shown this once.
type tokenCreatedJSON struct {
	tokenJSON
	Token string `json:"token"`
}

// ingestKeyJSON is an ingest key as the API shows it: never the key.
type ingestKeyJSON struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	State         string   `json:"state"`
	CreatedAt     string   `json:"created_at"`
	ExpiresAt     *string  `json:"expires_at"`
	LastUsedAt    *string  `json:"last_used_at"`
	RevokedAt     *string  `json:"revoked_at"`
	Tenants       []string `json:"tenants"`
	TenantPrefix  string   `json:"tenant_prefix"`
	MaxAgeSeconds int64    `json:"max_age_seconds"`
	RatePerSecond float64  `json:"rate_per_second"`
}

func (s *server) toIngestKeyJSON(k keel.IngestKey) ingestKeyJSON {
	tenants := k.Limit.Tenants
	if tenants == nil {
		tenants = []string{}
	}
	return ingestKeyJSON{ID: k.ID, Name: k.Name, State: string(k.State(s.Now())), CreatedAt: stamp(k.CreatedAt),
		ExpiresAt: stampPtr(k.ExpiresAt), LastUsedAt: stampPtr(k.LastUsedAt), RevokedAt: stampPtr(k.RevokedAt),
		Tenants: tenants, TenantPrefix: k.Limit.Prefix, MaxAgeSeconds: int64(k.MaxAge / time.Second), RatePerSecond: k.Rate}
}

// ingestKeyCreatedJSON is a new ingest key with its secret, shown this
// once.
type ingestKeyCreatedJSON struct {
	ingestKeyJSON
	Key string `json:"key"`
}

// tokenFilter reads GET /tokens's employee_id: absent, one's own; an
// employee's id, or "all" (both for admin; the store judges).
func tokenFilter(me keel.Employee, v string) (keel.TokenFilter, error) {
	switch v {
	case "":
		return keel.TokenFilter{EmployeeID: me.ID}, nil
	case "all":
		return keel.TokenFilter{All: true}, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return keel.TokenFilter{}, keel.Invalid("employee_id", "%q is neither an employee id nor all", v)
	}
	return keel.TokenFilter{EmployeeID: id}, nil
}

func (s *server) handleTokenList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "employee_id", "limit", "offset")
		if err != nil {
			return err
		}
		f, err := tokenFilter(employeeFrom(r.Context()), q.Get("employee_id"))
		if err != nil {
			return err
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.credentials.Tokens(r.Context(), employeeFrom(r.Context()), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, s.toTokenJSON))
		return nil
	})
}

// tokenRequest is the body of POST /tokens: a token of one's own.
type tokenRequest struct {
	Name      string  `json:"name"`
	ExpiresAt *string `json:"expires_at"`
}

// expiry reads an optional expires_at: an RFC 3339 instant, or a day
// (through that reporting day).
func (s *server) expiry(v *string) (*time.Time, error) {
	if v == nil {
		return nil, nil
	}
	return keel.ParseExpiry("expires_at", *v, s.Calendar, s.Now())
}

func (s *server) handleTokenCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req tokenRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		expires, err := s.expiry(req.ExpiresAt)
		if err != nil {
			return err
		}
		me := employeeFrom(r.Context())
		token, t, err := s.credentials.CreateTokenUntil(r.Context(), me, me.ID, req.Name, expires)
		if err != nil {
			return err
		}
		writeCreated(w, "/api/v1/tokens", tokenCreatedJSON{tokenJSON: s.toTokenJSON(t), Token: token})
		return nil
	})
}

// handleTokenRevoke revokes a token: the next request with it is refused.
// It stays listed, as revoked.
func (s *server) handleTokenRevoke() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.TokenNotFound)
		if err != nil {
			return err
		}
		if _, err := queryParams(r); err != nil {
			return err
		}
		t, err := s.credentials.RevokeToken(r.Context(), employeeFrom(r.Context()), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.toTokenJSON(t))
		return nil
	})
}

func (s *server) handleIngestKeyList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "limit", "offset")
		if err != nil {
			return err
		}
		p, err := queryPage(q)
		if err != nil {
			return err
		}
		rows, total, err := s.credentials.ListIngestKeys(r.Context(), employeeFrom(r.Context()), p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, p, s.toIngestKeyJSON))
		return nil
	})
}

// ingestKeyRequest is the body of POST /ingest-keys.
type ingestKeyRequest struct {
	Name         string   `json:"name"`
	ExpiresAt    *string  `json:"expires_at"`
	Tenants      []string `json:"tenants"`
	TenantPrefix string   `json:"tenant_prefix"`
}

func (s *server) handleIngestKeyCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req ingestKeyRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		expires, err := s.expiry(req.ExpiresAt)
		if err != nil {
			return err
		}
		k, key, err := s.credentials.CreateIngestKey(r.Context(), employeeFrom(r.Context()), keel.IngestKey{
			Name: req.Name, ExpiresAt: expires, Limit: keel.TenantLimit{Tenants: req.Tenants, Prefix: req.TenantPrefix}})
		if err != nil {
			return err
		}
		writeCreated(w, "/api/v1/ingest-keys", ingestKeyCreatedJSON{ingestKeyJSON: s.toIngestKeyJSON(k), Key: key})
		return nil
	})
}

// handleIngestKeyRevoke revokes an ingest key; the collectors refuse it
// within their refresh interval. It stays listed, as revoked.
func (s *server) handleIngestKeyRevoke() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.IngestKeyNotFound)
		if err != nil {
			return err
		}
		if _, err := queryParams(r); err != nil {
			return err
		}
		k, err := s.credentials.RevokeIngestKey(r.Context(), employeeFrom(r.Context()), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, s.toIngestKeyJSON(k))
		return nil
	})
}
