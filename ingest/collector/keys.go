package collector

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/keelhq/keel"
)

// keyPrefix starts every ingest key, so a leaked key is recognisable by
// secret scanners and cannot be confused with a personal API token.
const keyPrefix = "keel_ingest_"

// Key is an ingest key as the collector knows it. The secret itself is never
// stored: only its SHA-256, which is enough for a random 160-bit secret
// (nothing to brute-force, so no slow hash is needed on the hot path).
type Key struct {
	ID   int64
	Name string   // the product app it was issued to
	Hash [32]byte // SHA-256 of the whole key string
	// MaxAge overrides the late-arrival window for this key (0 = the
	// collector's). Keys that import history get a longer one.
	MaxAge time.Duration
	// Rate overrides the events-per-second limit for this key (0 = the
	// collector's; negative = unlimited).
	Rate float64
	// ExpiresAt is when the key stops working (zero = never). The source
	// lists only keys that work; the collector checks the time on every
	// request too, because a key can expire between two reloads.
	ExpiresAt time.Time
	// Limit is the tenants the key may write events of (the zero limit:
	// any); an event of another tenant is rejected, the rest of its batch
	// accepted.
	Limit keel.TenantLimit

	// tenants is Limit.Tenants as a set, built by Keys when it caches the
	// key, so the check per event is one map lookup.
	tenants map[string]struct{}
}

// prepared returns k ready for the hot path: its allow-list as a set.
func (k Key) prepared() Key {
	if len(k.Limit.Tenants) > 0 {
		k.tenants = make(map[string]struct{}, len(k.Limit.Tenants))
		for _, t := range k.Limit.Tenants {
			k.tenants[t] = struct{}{}
		}
	}
	return k
}

// limited reports whether the key may write only some tenants.
func (k *Key) limited() bool { return k.tenants != nil || k.Limit.Prefix != "" }

// allows reports whether the key may write events of tenant: what
// keel.TenantLimit.Allows says, with a set and a prefix compare.
func (k *Key) allows(tenant string) bool {
	if _, ok := k.tenants[tenant]; ok {
		return true
	}
	return k.Limit.Prefix != "" && strings.HasPrefix(tenant, k.Limit.Prefix)
}

// expired reports whether the key no longer works at now.
func (k *Key) expired(now time.Time) bool { return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) }

// NewKey returns a fresh random ingest key and its hash.
func NewKey() (plain string, hash [32]byte, err error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", hash, fmt.Errorf("new ingest key: %w", err)
	}
	plain = keyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return plain, HashKey(plain), nil
}

// HashKey returns the hash under which a key is stored.
func HashKey(plain string) [32]byte {
	return sha256.Sum256([]byte(plain))
}

// KeySource is where ingest keys are kept.
type KeySource interface {
	// IngestKeys lists every key that works (not revoked, not expired).
	IngestKeys(ctx context.Context) ([]Key, error)
	// IngestKey finds one working key by hash.
	IngestKey(ctx context.Context, hash [32]byte) (Key, bool, error)
	// RecordIngestKeyUses stores when keys were last used (key id → the
	// last request the collector accepted it on).
	RecordIngestKeyUses(ctx context.Context, uses map[int64]time.Time) error
}

// Keys is the collector's in-memory view of the ingest keys. It reloads
// them all periodically, so a revoked key stops working within the refresh
// interval, and looks a key it does not know up on its own, so a new key
// works at once. Postgres is only asked about unknown keys a few times a
// second and each unknown key at most every missTTL, so a flood of bad keys
// cannot flood Postgres; and an outage of Postgres never stops ingestion
// with the keys already known.
//
// It also remembers when each key was last used and writes that to the
// source once every UseEvery, all keys in one statement: a key sending
// thousands of batches a second costs Postgres one write a minute.
type Keys struct {
	src     KeySource
	log     *slog.Logger
	lookups *rate.Limiter

	mu     sync.RWMutex
	byHash map[[32]byte]Key
	misses map[[32]byte]time.Time // unknown keys, until when not to ask again
	loaded bool

	usedMu sync.Mutex
	used   map[int64]time.Time // key id → last use not yet recorded
}

// UseEvery is how often Keys.Run records the keys' last uses.
const UseEvery = time.Minute

// missTTL is how long an unknown key is not looked up again; maxMisses
// bounds the memory of unknown keys.
const (
	missTTL   = 10 * time.Second
	maxMisses = 10000
)

// NewKeys returns a key cache over src.
func NewKeys(src KeySource, log *slog.Logger) *Keys {
	return &Keys{src: src, log: log, lookups: rate.NewLimiter(20, 20),
		byHash: map[[32]byte]Key{}, misses: map[[32]byte]time.Time{}, used: map[int64]time.Time{}}
}

// noteUse notes that key id was used at t, for RecordUses.
func (k *Keys) noteUse(id int64, t time.Time) {
	k.usedMu.Lock()
	if t.After(k.used[id]) {
		k.used[id] = t
	}
	k.usedMu.Unlock()
}

// RecordUses writes the last uses noted since the last call to the
// source. Uses it could not write are kept for the next call, unless a
// later use replaced them.
func (k *Keys) RecordUses(ctx context.Context) error {
	k.usedMu.Lock()
	uses := k.used
	k.used = map[int64]time.Time{}
	k.usedMu.Unlock()
	if len(uses) == 0 {
		return nil
	}
	err := k.src.RecordIngestKeyUses(ctx, uses)
	if err != nil {
		for id, t := range uses {
			k.noteUse(id, t)
		}
	}
	return err
}

// Lookup returns the key for a presented secret.
func (k *Keys) Lookup(ctx context.Context, plain string) (Key, bool) {
	h := HashKey(plain)
	k.mu.RLock()
	key, ok := k.byHash[h]
	k.mu.RUnlock()
	if ok || !strings.HasPrefix(plain, keyPrefix) {
		return key, ok
	}
	k.mu.RLock()
	until, missed := k.misses[h]
	k.mu.RUnlock()
	if missed && time.Now().Before(until) || !k.lookups.Allow() {
		return Key{}, false
	}
	key, ok, err := k.src.IngestKey(ctx, h)
	if err != nil {
		k.log.Warn("look up ingest key", "err", err)
		return Key{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if ok {
		key = key.prepared()
		k.byHash[h] = key
		return key, true
	}
	if len(k.misses) >= maxMisses {
		k.misses = map[[32]byte]time.Time{}
	}
	k.misses[h] = time.Now().Add(missTTL)
	return Key{}, false
}

// Loaded reports whether the keys were loaded at least once.
func (k *Keys) Loaded() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.loaded
}

// Run reloads the keys every interval and records their uses every
// UseEvery until ctx ends, and then records the last uses once more.
func (k *Keys) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	uses := time.NewTicker(UseEvery)
	defer uses.Stop()
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := k.RecordUses(ctx); err != nil {
			k.log.Warn("record ingest key uses", "err", err)
		}
	}()
	reload := true
	for {
		if reload {
			if err := k.reload(ctx); err != nil && ctx.Err() == nil {
				k.log.Warn("reload ingest keys", "err", err)
			}
		} else if err := k.RecordUses(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("record ingest key uses", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			reload = true
		case <-uses.C:
			reload = false
		}
	}
}

func (k *Keys) reload(ctx context.Context) error {
	keys, err := k.src.IngestKeys(ctx)
	if err != nil {
		return err
	}
	m := make(map[[32]byte]Key, len(keys))
	for _, key := range keys {
		m[key.Hash] = key.prepared()
	}
	k.mu.Lock()
	k.byHash, k.loaded = m, true
	k.misses = map[[32]byte]time.Time{}
	k.mu.Unlock()
	return nil
}
