package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The morning digest in the JSON API: one's own digest of a day (admin:
// anyone's, and the unassigned one), the delivery log and the webhook's
// settings (admin). The digest is the body the webhook received, as it
// was made; the webhook's secret is never answered, only whether one is
// set.

// DigestStore is the digest's records in Postgres.
type DigestStore interface {
	Digest(ctx context.Context, day time.Time, employee int64) (keel.DigestRecord, error)
	DigestDays(ctx context.Context, employee int64, limit int) ([]time.Time, error)
	DigestDeliveries(ctx context.Context, f keel.DigestDeliveryFilter) ([]keel.DigestDelivery, int, error)
	DigestWebhook(ctx context.Context) (keel.DigestWebhook, error)
	SetDigestWebhook(ctx context.Context, by keel.Employee, url string, secret *string) (keel.DigestWebhook, error)
}

// digestReady refuses when the console runs without Postgres.
func (s *server) digestReady() error {
	if s.digests == nil {
		return keel.Errorf(keel.EUNAVAILABLE, "the digest is not available: this console runs without its records")
	}
	return nil
}

// digestQuery is whose digest of which day a request asks for.
type digestQuery struct {
	employee int64     // 0: unassigned
	day      time.Time // zero: the latest
}

// readDigestQuery reads day (YYYY-MM-DD) and employee_id (an id, or
// "unassigned"; default the reader's own, or for an admin who is no CSM
// the unassigned one) and checks the reader may read that digest.
func readDigestQuery(q url.Values, me keel.Employee) (digestQuery, error) {
	out := digestQuery{employee: me.ID}
	if me.Has(keel.RoleAdmin) && !me.Has(keel.RoleCSM) {
		out.employee = 0
	}
	switch v := strings.TrimSpace(q.Get("employee_id")); v {
	case "":
	case "unassigned":
		out.employee = 0
	default:
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return out, keel.Invalid("employee_id", "%q is neither an employee id nor unassigned", v)
		}
		out.employee = id
	}
	if v := strings.TrimSpace(q.Get("day")); v != "" {
		d, err := parseDay("day", v)
		if err != nil {
			return out, err
		}
		out.day = d
	}
	return out, keel.CanReadDigest(me, out.employee)
}

// digestOf reads the digest q names; a zero day is the employee's latest.
// It returns ENOTFOUND when there is none.
func (s *server) digestOf(ctx context.Context, q digestQuery) (keel.DigestRecord, error) {
	if q.day.IsZero() {
		days, err := s.digests.DigestDays(ctx, q.employee, 1)
		if err != nil {
			return keel.DigestRecord{}, err
		}
		if len(days) == 0 {
			return keel.DigestRecord{}, keel.Errorf(keel.ENOTFOUND, "there is no digest for this employee yet: digests are made for CSMs after each day's scoring")
		}
		q.day = days[0]
	}
	return s.digests.Digest(ctx, q.day, q.employee)
}

// digestJSON is a digest with its delivery state.
type digestJSON struct {
	Day         string      `json:"day"`
	EmployeeID  *int64      `json:"employee_id"` // null: unassigned
	State       string      `json:"state"`       // empty, unsent, pending, delivered, failed
	Attempts    int         `json:"attempts"`
	NextAttempt *string     `json:"next_attempt_at"`
	DeliveredAt *string     `json:"delivered_at"`
	MadeAt      string      `json:"made_at"`
	Digest      keel.Digest `json:"digest"` // the body the webhook receives
}

func toDigestJSON(r keel.DigestRecord) digestJSON {
	return digestJSON{Day: day(r.Day), EmployeeID: nullableID(r.Digest.EmployeeID), State: string(r.State), Attempts: r.Attempts,
		NextAttempt: stampPtr(r.NextAttempt), DeliveredAt: stampPtr(r.DeliveredAt), MadeAt: stamp(r.MadeAt), Digest: r.Digest}
}

func nullableID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// handleDigestGet is GET /digest?day=&employee_id=: the reader's digest
// of the day (default the latest); admin reads anyone's.
func (s *server) handleDigestGet() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.digestReady(); err != nil {
			return err
		}
		q, err := queryParams(r, "day", "employee_id")
		if err != nil {
			return err
		}
		dq, err := readDigestQuery(q, employeeFrom(r.Context()))
		if err != nil {
			return err
		}
		rec, err := s.digestOf(r.Context(), dq)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toDigestJSON(rec))
		return nil
	})
}

// digestDeliveryJSON is one delivery attempt.
type digestDeliveryJSON struct {
	ID          int64   `json:"id"`
	DigestID    int64   `json:"digest_id"`
	DeliveryID  string  `json:"delivery_id"`
	Day         string  `json:"day"`
	EmployeeID  *int64  `json:"employee_id"`
	Attempt     int     `json:"attempt"`
	At          string  `json:"at"`
	URL         string  `json:"url"`
	Status      *int    `json:"status_code"` // null: no HTTP answer
	Error       string  `json:"error"`
	TookMS      int64   `json:"took_ms"`
	NextAttempt *string `json:"next_attempt_at"` // null: delivered, or given up
}

func toDigestDeliveryJSON(d keel.DigestDelivery) digestDeliveryJSON {
	out := digestDeliveryJSON{ID: d.ID, DigestID: d.DigestID, DeliveryID: d.DeliveryID, Day: day(d.Day), EmployeeID: nullableID(d.EmployeeID),
		Attempt: d.Attempt, At: stamp(d.At), URL: d.URL, Error: d.Error, TookMS: d.Took.Milliseconds(), NextAttempt: stampPtr(d.NextAttempt)}
	if d.Status != 0 {
		st := d.Status
		out.Status = &st
	}
	return out
}

// readDeliveryFilter reads the delivery log's filters: digest_id, failed
// (true or false), and the page.
func readDeliveryFilter(q url.Values) (keel.DigestDeliveryFilter, error) {
	var f keel.DigestDeliveryFilter
	var err error
	if f.DigestID, err = queryID(q, "digest_id"); err != nil {
		return f, err
	}
	switch v := q.Get("failed"); v {
	case "", "false":
	case "true":
		f.Failed = true
	default:
		return f, keel.Invalid("failed", "%q is neither true nor false", v)
	}
	return f, nil
}

// handleDigestDeliveries is GET /digest/deliveries?digest_id=&failed=
// &limit=&offset= (admin): every attempt, newest first.
func (s *server) handleDigestDeliveries() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.digestReady(); err != nil {
			return err
		}
		q, err := queryParams(r, "digest_id", "failed", "limit", "offset")
		if err != nil {
			return err
		}
		f, err := readDeliveryFilter(q)
		if err != nil {
			return err
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.digests.DigestDeliveries(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, toDigestDeliveryJSON))
		return nil
	})
}

// digestWebhookJSON is the webhook as the API shows it: never the secret.
type digestWebhookJSON struct {
	URL       string  `json:"url"` // "": no webhook, digests are not sent
	SecretSet bool    `json:"secret_set"`
	UpdatedBy *int64  `json:"updated_by"`
	UpdatedAt *string `json:"updated_at"`
}

func toDigestWebhookJSON(h keel.DigestWebhook) digestWebhookJSON {
	out := digestWebhookJSON{URL: h.URL, SecretSet: h.SecretSet, UpdatedBy: nullableID(h.UpdatedBy)}
	if !h.UpdatedAt.IsZero() {
		t := stamp(h.UpdatedAt)
		out.UpdatedAt = &t
	}
	return out
}

// handleDigestWebhookGet is GET /settings/digest (admin).
func (s *server) handleDigestWebhookGet() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.digestReady(); err != nil {
			return err
		}
		if _, err := queryParams(r); err != nil {
			return err
		}
		h, err := s.digests.DigestWebhook(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toDigestWebhookJSON(h))
		return nil
	})
}

// digestWebhookRequest is the body of PUT /settings/digest: url ("" turns
// delivery off), and secret, which may be left out to keep the one set.
type digestWebhookRequest struct {
	URL    *string `json:"url"`
	Secret *string `json:"secret"`
}

// handleDigestWebhookPut sets the webhook (admin), audited without the
// secret; a bad URL or secret is a 400 naming it.
func (s *server) handleDigestWebhookPut() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.digestReady(); err != nil {
			return err
		}
		var req digestWebhookRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		if req.URL == nil {
			return keel.Invalid("url", "required (an http or https URL, or \"\" to stop sending digests)")
		}
		h, err := s.digests.SetDigestWebhook(r.Context(), employeeFrom(r.Context()), *req.URL, req.Secret)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toDigestWebhookJSON(h))
		return nil
	})
}
