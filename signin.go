package keel

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Sign-in throttling. A guesser must slow down, and must not be able to
// lock the real employee out: so the throttle counts failures per email
// and client address — someone failing for an email from one place makes
// only that place wait for that email — with delays that grow with each
// failure instead of a lock-out, and a correct password from an address
// that is not waiting always signs in. Against a guesser spreading one
// email over many addresses, a ceiling per email spaces out attempts from
// addresses the employee has not signed in from, by at most a minute; the
// places they work from never wait for it.

// The throttle's numbers.
const (
	// SignInFreeFailures failures of an email from one address cost
	// nothing: people mistype.
	SignInFreeFailures = 3
	// SignInFirstDelay is the wait after the first failure beyond the free
	// ones; each further failure doubles it, up to SignInMaxDelay.
	SignInFirstDelay = 5 * time.Second
	SignInMaxDelay   = 15 * time.Minute
	// SignInPairWindow is how long an address's failures for an email are
	// remembered (a sign-in from there forgets them at once).
	SignInPairWindow = 24 * time.Hour

	// SignInEmailCeiling failures of one email from every address within
	// SignInEmailWindow make attempts from new addresses wait their turn:
	// SignInFirstDelay apart, doubling for every further ceiling's worth of
	// failures, up to SignInMaxSpacing.
	SignInEmailCeiling = 20
	SignInEmailWindow  = time.Hour
	SignInMaxSpacing   = time.Minute
	// SignInKnownFor is how long an address an employee signed in from is
	// one of theirs, which the per-email ceiling leaves alone.
	SignInKnownFor = 90 * 24 * time.Hour
)

// SignInHistory is what the throttle knows about an attempt's email and
// address when it arrives.
type SignInHistory struct {
	// PairFailures are the email's failures from this address within
	// SignInPairWindow and since its last sign-in from here; PairLast is
	// the latest of them.
	PairFailures int
	PairLast     time.Time
	// EmailFailures are the email's failures from every address within
	// SignInEmailWindow; EmailLast is the latest.
	EmailFailures int
	EmailLast     time.Time
	// Known says the email signed in from this address within
	// SignInKnownFor.
	Known bool
}

// Wait is how long the attempt must wait at now before its password is
// checked; 0 lets it through. It is the later of the pair's delay (after
// SignInFreeFailures, SignInFirstDelay doubling per failure up to
// SignInMaxDelay, counted from the last failure) and, for an address the
// email has not signed in from, the email's spacing.
func (h SignInHistory) Wait(now time.Time) time.Duration {
	var wait time.Duration
	if n := h.PairFailures - SignInFreeFailures; n >= 0 {
		wait = until(now, h.PairLast.Add(doubled(SignInFirstDelay, n, SignInMaxDelay)))
	}
	if !h.Known && h.EmailFailures >= SignInEmailCeiling {
		steps := (h.EmailFailures - SignInEmailCeiling) / SignInEmailCeiling
		wait = max(wait, until(now, h.EmailLast.Add(doubled(SignInFirstDelay, steps, SignInMaxSpacing))))
	}
	return wait
}

// doubled is d doubled n times, at most limit.
func doubled(d time.Duration, n int, limit time.Duration) time.Duration {
	for ; n > 0 && d < limit; n-- {
		d *= 2
	}
	return min(d, limit)
}

func until(now, t time.Time) time.Duration { return max(t.Sub(now), 0) }

// SignInVia says what an attempt was: the sign-in form, or the current
// password given to change it.
type SignInVia string

// The kinds of attempt.
const (
	SignInForm           SignInVia = "sign-in"
	SignInPasswordChange SignInVia = "password-change"
)

// SignInOutcome is how an attempt ended.
type SignInOutcome string

// The outcomes. An attempt is pending while its password is checked (and
// stays so if the check never finished, counting as a failure); a
// throttled one's password was never checked.
const (
	SignInPending   SignInOutcome = "pending"
	SignInFailed    SignInOutcome = "failed"
	SignInSucceeded SignInOutcome = "succeeded"
	SignInThrottled SignInOutcome = "throttled"
)

// SignInOutcomes lists the outcomes, for filters.
var SignInOutcomes = []SignInOutcome{SignInFailed, SignInThrottled, SignInSucceeded, SignInPending}

// SignInAttempt is one recorded attempt: when, for which email (as typed,
// in lower case) from which client address, how it ended, and the
// employee the email is, if any. A throttled attempt says how long it was
// told to wait, and how many attempts came while it waited (Repeats, the
// last at LastAt).
type SignInAttempt struct {
	ID         int64
	At         time.Time
	LastAt     time.Time
	Email      string
	Address    string
	Via        SignInVia
	Outcome    SignInOutcome
	EmployeeID int64 // 0 = no employee has this email
	Wait       time.Duration
	Repeats    int
}

// SignInFilter selects recorded attempts; empty fields do not filter.
type SignInFilter struct {
	Email      string // exact, any case
	Address    string
	Outcome    SignInOutcome
	EmployeeID int64
	Page
}

// SignInEmail is the email an attempt is recorded and throttled under:
// trimmed and in lower case, as the employees' emails are matched, with
// what Postgres cannot store (invalid UTF-8, NUL) replaced and at most the
// 254 bytes an email can have.
func SignInEmail(typed string) string {
	e := strings.ToLower(strings.TrimSpace(strings.ToValidUTF8(typed, "\uFFFD")))
	e = strings.ReplaceAll(e, "\x00", "\uFFFD")
	for len(e) > 254 {
		_, size := utf8.DecodeLastRuneInString(e)
		e = e[:len(e)-size]
	}
	return e
}
