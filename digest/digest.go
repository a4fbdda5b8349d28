// Package digest makes Keel's morning digest and delivers it (keel.Digest):
// after the daily scoring of a day, a Maker makes one digest per CSM —
// the warnings raised that day, those still open, the customers whose
// health band fell since the day before, each with its MRR at risk — and
// one of what no CSM owns, for admin, and keeps them in Postgres; a
// Worker sends each digest with something in it to the company's
// webhook as JSON, signed with HMAC-SHA256 of the body under the
// webhook's secret (X-Keel-Signature: sha256=<hex>), identified by
// X-Keel-Delivery, and retries with backoff (keel.DigestBackoff) until
// the webhook answers 2xx or the attempts run out.
//
// A day's digests are made once however many scorers run (a unique row
// per day, inserted with them), and a digest is sent by one worker at a
// time (its row locked while it is sent, FOR UPDATE SKIP LOCKED), so two
// consoles neither make nor send one twice. Delivery is at least once: a
// console that dies between the webhook's answer and recording it sends
// the digest again, with the same delivery id.
package digest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// Records is what the Maker reads and keeps in Postgres.
type Records interface {
	HealthSettings(ctx context.Context) (keel.HealthSettings, error)
	DigestsMade(ctx context.Context, day time.Time) (bool, error)
	DigestRecords(ctx context.Context, day time.Time, customers []int64) (keel.DigestInput, error)
	SaveDigests(ctx context.Context, day time.Time, ds []keel.Digest) (bool, error)
}

// Scores is what the Maker reads of the warehouse's daily health scores.
type Scores interface {
	Health(ctx context.Context, f warehouse.HealthFilter, fn func(warehouse.HealthRow) error) error
}

var (
	_ Records = (*postgres.DB)(nil)
	_ Scores  = (*warehouse.Store)(nil)
)

// Maker makes a day's digests.
type Maker struct {
	pg  Records
	ch  Scores
	log *slog.Logger
	// made, when set, is told of each day whose digests were made (the
	// Worker's Wake, so they go out at once).
	made func()
}

// NewMaker returns a Maker; made (nil for none) is called after each day
// whose digests it made.
func NewMaker(pg Records, ch Scores, log *slog.Logger, made func()) *Maker {
	return &Maker{pg: pg, ch: ch, log: log, made: made}
}

// Make makes day's digests from its stored scores and the warnings as
// they are now, once: it reports false when they were made already (here,
// or by another scorer), and how many it made.
func (m *Maker) Make(ctx context.Context, day time.Time) (bool, int, error) {
	day = keel.Date(day)
	if done, err := m.pg.DigestsMade(ctx, day); err != nil || done {
		return false, 0, err
	}
	settings, err := m.pg.HealthSettings(ctx)
	if err != nil {
		return false, 0, err
	}
	today, before := map[int64]keel.DigestScore{}, map[int64]keel.DigestScore{}
	prev := day.AddDate(0, 0, -1)
	if err := m.ch.Health(ctx, warehouse.HealthFilter{From: prev, To: day}, func(r warehouse.HealthRow) error {
		s := keel.DigestScore{Score: r.Score, Band: r.Band, MRR: r.MRR, Currency: r.Currency}
		if r.Day.Equal(day) {
			today[r.CustomerID] = s
		} else {
			before[r.CustomerID] = s
		}
		return nil
	}); err != nil {
		return false, 0, err
	}
	var fell []int64
	for id, s := range today {
		if b, ok := before[id]; ok && keel.Fell(b.Band, s.Band) {
			fell = append(fell, id)
		}
	}
	in, err := m.pg.DigestRecords(ctx, day, fell)
	if err != nil {
		return false, 0, err
	}
	in.Today, in.Before, in.MaxWarnings = today, before, settings.DigestMaxWarnings
	ds := keel.BuildDigests(in)
	made, err := m.pg.SaveDigests(ctx, day, ds)
	if err != nil || !made {
		return false, 0, err
	}
	m.log.Info("digest: made", "day", day.Format(time.DateOnly), "digests", len(ds), "band_falls", len(fell))
	if m.made != nil {
		m.made()
	}
	return true, len(ds), nil
}

// SignatureHeader carries the body's signature: "sha256=" and the hex
// HMAC-SHA256 of the body under the webhook's secret.
const SignatureHeader = "X-Keel-Signature"

// DeliveryHeader carries the digest's id, the same on every attempt.
const DeliveryHeader = "X-Keel-Delivery"

// AttemptHeader carries the attempt's number, 1 for the first.
const AttemptHeader = "X-Keel-Attempt"

// Sign is the X-Keel-Signature of body under secret. A receiver computes
// the same over the raw body it read and compares in constant time
// (hmac.Equal).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is body's under secret.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}
