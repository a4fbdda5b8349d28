package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The tokens page: every employee's own personal API tokens (make one,
// shown once; revoke one), and for admin every employee's tokens and the
// product apps' ingest keys (make one limited to tenants, shown once;
// revoke one). Lists show when each was made, last used and expires, in
// the reporting timezone, and never a secret.

// credentialRow is a token or an ingest key as the page lists it.
type credentialRow struct {
	ID         int64
	Name       string
	Employee   string // the token's employee; "" for an ingest key
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero = never
	LastUsedAt time.Time // zero = never used
	State      keel.CredentialState
	StateLabel string
	Limit      string // an ingest key's tenants
}

func tokenRow(l lang, now time.Time, who names, t keel.APIToken) credentialRow {
	st := t.State(now)
	return credentialRow{ID: t.ID, Name: t.Name, Employee: who.of(t.EmployeeID), CreatedAt: t.CreatedAt, ExpiresAt: deref(t.ExpiresAt),
		LastUsedAt: deref(t.LastUsedAt), State: st, StateLabel: credentialStateLabel(l, st)}
}

func ingestKeyRow(l lang, now time.Time, k keel.IngestKey) credentialRow {
	st := k.State(now)
	return credentialRow{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, ExpiresAt: deref(k.ExpiresAt), LastUsedAt: deref(k.LastUsedAt),
		State: st, StateLabel: credentialStateLabel(l, st), Limit: tenantLimitLabel(l, k.Limit)}
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// tenantLimitLabel says which tenants a key may write.
func tenantLimitLabel(l lang, lim keel.TenantLimit) string {
	if !lim.Limited() {
		return l.T("Any tenant")
	}
	return lim.String()
}

// lateWindowLabel is a key's late-arrival window.
func lateWindowLabel(l lang, d time.Duration) string {
	switch {
	case d == 0:
		return l.T("The collector's")
	case d%(24*time.Hour) == 0:
		return l.T("%d days", int(d/(24*time.Hour)))
	}
	return d.String()
}

// rateLabel is a key's events-per-second limit.
func rateLabel(l lang, rate float64) string {
	switch {
	case rate == 0:
		return l.T("The collector's")
	case rate < 0:
		return l.T("Unlimited")
	}
	return strconv.FormatFloat(rate, 'f', -1, 64)
}

// tokenForm is the "new token" form, and the new token once made.
type tokenForm struct {
	Name, Expires string
	Error         string
	Made          string // the new token, shown this once
	MadeName      string
}

// ingestKeyForm is the "new ingest key" form, and the new key once made.
type ingestKeyForm struct {
	Name, Expires, Tenants, Prefix string
	Error                          string
	Made                           string // the new key, shown this once
	MadeName                       string
}

type tokensData struct {
	Mine, All, Keys                []credentialRow
	MineTotal, AllTotal, KeysTotal int
	ShowAll, ShowKeys              bool
	Token                          tokenForm
	Key                            ingestKeyForm
	RevokeError                    string // a revoke refused, shown above the lists
	Shown                          int    // the most each list shows
	Today                          string // the reporting day, for the expiry inputs' minimum
}

// tokensShown is how many rows each list shows, newest first.
const tokensShown = keel.MaxPageSize

func (s *server) renderTokens(w http.ResponseWriter, r *http.Request, status int, d tokensData) error {
	ctx := r.Context()
	l := s.langOf(r)
	me := employeeFrom(ctx)
	now := s.Now()
	d.Shown, d.Today = tokensShown, s.day().Format(time.DateOnly)
	first := keel.Page{Limit: tokensShown}
	mine, total, err := s.credentials.Tokens(ctx, me, keel.TokenFilter{EmployeeID: me.ID, Page: first})
	if err != nil {
		return err
	}
	d.MineTotal = total
	for _, t := range mine {
		d.Mine = append(d.Mine, tokenRow(l, now, nil, t))
	}
	if d.ShowAll = me.Can(keel.ActTokenAdmin) == nil; d.ShowAll {
		emps, err := s.employees.Employees(ctx)
		if err != nil {
			return err
		}
		all, total, err := s.credentials.Tokens(ctx, me, keel.TokenFilter{All: true, Page: first})
		if err != nil {
			return err
		}
		d.AllTotal = total
		who := employeeNames(emps)
		for _, t := range all {
			d.All = append(d.All, tokenRow(l, now, who, t))
		}
	}
	if d.ShowKeys = me.Can(keel.ActIngestKeyAdmin) == nil; d.ShowKeys {
		keys, total, err := s.credentials.ListIngestKeys(ctx, me, first)
		if err != nil {
			return err
		}
		d.KeysTotal = total
		for _, k := range keys {
			d.Keys = append(d.Keys, ingestKeyRow(l, now, k))
		}
	}
	s.render(w, r, status, "tokens", page{Title: l.T("Tokens and keys"), Nav: "tokens", Data: d})
	return nil
}

func (s *server) handleTokensPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		return s.renderTokens(w, r, http.StatusOK, tokensData{})
	})
}

// handleTokenCreateForm makes a token of one's own and answers with the
// page and the token, in this answer only: the store keeps its hash.
func (s *server) handleTokenCreateForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := tokenForm{Name: strings.TrimSpace(r.PostFormValue("name")), Expires: strings.TrimSpace(r.PostFormValue("expires_at"))}
		me := employeeFrom(r.Context())
		expires, err := keel.ParseExpiry("expires_at", f.Expires, s.Calendar, s.Now())
		var token string
		var t keel.APIToken
		if err == nil {
			token, t, err = s.credentials.CreateTokenUntil(r.Context(), me, me.ID, f.Name, expires)
		}
		if formRefused(err) {
			f.Error = l.Refusal(err)
			return s.renderTokens(w, r, statusOf(keel.ErrorCode(err)), tokensData{Token: f})
		}
		if err != nil {
			return err
		}
		return s.renderTokens(w, r, http.StatusOK, tokensData{Token: tokenForm{Made: token, MadeName: t.Name}})
	})
}

// confirmed refuses a revoke whose box is not ticked with refusal.
func confirmed(r *http.Request, refusal *keel.Error) error {
	if r.PostFormValue("confirm") != "yes" {
		return refusal
	}
	return nil
}

// handleTokenRevokeForm revokes a token: one's own, or (admin) anyone's.
func (s *server) handleTokenRevokeForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.TokenNotFound)
		if err != nil {
			return err
		}
		var t keel.APIToken
		err = confirmed(r, keel.Invalid("confirm", "tick the box to confirm that the token is revoked"))
		if err == nil {
			t, err = s.credentials.RevokeToken(r.Context(), employeeFrom(r.Context()), id)
		}
		if formRefused(err) {
			return s.renderTokens(w, r, statusOf(keel.ErrorCode(err)), tokensData{RevokeError: l.Refusal(err)})
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/tokens", l.T("API token %q revoked: it is refused from now on.", t.Name))
		return nil
	})
}

// tenantList reads the tenants typed in the form: separated by commas,
// spaces or lines.
func tenantList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// handleIngestKeyCreateForm makes an ingest key and answers with the page
// and the key, in this answer only.
func (s *server) handleIngestKeyCreateForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := ingestKeyForm{Name: strings.TrimSpace(r.PostFormValue("name")), Expires: strings.TrimSpace(r.PostFormValue("expires_at")),
			Tenants: strings.TrimSpace(r.PostFormValue("tenants")), Prefix: strings.TrimSpace(r.PostFormValue("tenant_prefix"))}
		expires, err := keel.ParseExpiry("expires_at", f.Expires, s.Calendar, s.Now())
		var k keel.IngestKey
		var key string
		if err == nil {
			k, key, err = s.credentials.CreateIngestKey(r.Context(), employeeFrom(r.Context()), keel.IngestKey{
				Name: f.Name, ExpiresAt: expires, Limit: keel.TenantLimit{Tenants: tenantList(f.Tenants), Prefix: f.Prefix}})
		}
		if formRefused(err) {
			f.Error = l.Refusal(err)
			return s.renderTokens(w, r, statusOf(keel.ErrorCode(err)), tokensData{Key: f})
		}
		if err != nil {
			return err
		}
		return s.renderTokens(w, r, http.StatusOK, tokensData{Key: ingestKeyForm{Made: key, MadeName: k.Name}})
	})
}

// handleIngestKeyRevokeForm revokes an ingest key; the collectors refuse
// it within their refresh interval.
func (s *server) handleIngestKeyRevokeForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		id, err := pathID(r, keel.IngestKeyNotFound)
		if err != nil {
			return err
		}
		var k keel.IngestKey
		err = confirmed(r, keel.Invalid("confirm", "tick the box to confirm that the key is revoked"))
		if err == nil {
			k, err = s.credentials.RevokeIngestKey(r.Context(), employeeFrom(r.Context()), id)
		}
		if formRefused(err) {
			return s.renderTokens(w, r, statusOf(keel.ErrorCode(err)), tokensData{RevokeError: l.Refusal(err)})
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/tokens", l.T("Ingest key %q revoked: the collectors refuse it within seconds.", k.Name))
		return nil
	})
}
