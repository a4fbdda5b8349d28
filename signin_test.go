package keel

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func TestSignInWait(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		h    SignInHistory
		at   time.Duration // after t0, where the last failure was
		want time.Duration
	}{
		{"no failures", SignInHistory{}, 0, 0},
		{"three mistypes are free", SignInHistory{PairFailures: 3 - 1, PairLast: t0}, 0, 0},
		{"the fourth failure waits 5 s", SignInHistory{PairFailures: 3, PairLast: t0}, 0, 5 * s},
		{"2 s later, 3 s to go", SignInHistory{PairFailures: 3, PairLast: t0}, 2 * s, 3 * s},
		{"after the wait, no wait", SignInHistory{PairFailures: 3, PairLast: t0}, 5 * s, 0},
		{"the fifth doubles it", SignInHistory{PairFailures: 4, PairLast: t0}, 0, 10 * s},
		{"the tenth", SignInHistory{PairFailures: 9, PairLast: t0}, 0, 320 * s},
		{"at most 15 minutes", SignInHistory{PairFailures: 12, PairLast: t0}, 0, 15 * time.Minute},
		{"however many", SignInHistory{PairFailures: 10000, PairLast: t0}, 0, 15 * time.Minute},
		{"a spray below the ceiling", SignInHistory{EmailFailures: 19, EmailLast: t0}, 0, 0},
		{"a spray at the ceiling spaces new addresses", SignInHistory{EmailFailures: 20, EmailLast: t0}, 0, 5 * s},
		{"twice the ceiling", SignInHistory{EmailFailures: 40, EmailLast: t0}, 0, 10 * s},
		{"a big spray: a minute at most", SignInHistory{EmailFailures: 5000, EmailLast: t0}, 0, time.Minute},
		{"the employee's own address is spared the ceiling", SignInHistory{EmailFailures: 5000, EmailLast: t0, Known: true}, 0, 0},
		{"but not its own failures", SignInHistory{PairFailures: 5, PairLast: t0, EmailFailures: 5000, EmailLast: t0, Known: true}, 0, 20 * s},
		{"the later of both", SignInHistory{PairFailures: 3, PairLast: t0, EmailFailures: 5000, EmailLast: t0}, 0, time.Minute},
	}
	for _, tt := range tests {
		if got := tt.h.Wait(t0.Add(tt.at)); got != tt.want {
			t.Errorf("%s: Wait = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestSignInThrottleOverADay plays a guesser against the rule for a day,
// on a simulated clock, trying again the moment the throttle allows: from
// one address they get about a hundred guesses a day, and spread over a
// new address for every guess about two thousand — while the employee,
// at the address they work from, never waits, and from a new one waits at
// most a minute.
func TestSignInThrottleOverADay(t *testing.T) {
	// One address: the pair's failures pile up, nothing forgets them.
	var h SignInHistory
	now, guesses := t0, 0
	for now.Before(t0.Add(24 * time.Hour)) {
		now = now.Add(h.Wait(now))
		guesses++
		h.PairFailures++
		h.PairLast = now
		now = now.Add(20 * time.Millisecond) // the password check
	}
	if guesses < 90 || guesses > 110 {
		t.Errorf("one address: %d guesses in a day, want about a hundred", guesses)
	}

	// A new address every time: only the email's ceiling holds them back.
	var failures []time.Time // within the last hour
	now, guesses = t0, 0
	maxNew := time.Duration(0)
	for now.Before(t0.Add(24 * time.Hour)) {
		for len(failures) > 0 && now.Sub(failures[0]) >= SignInEmailWindow {
			failures = failures[1:]
		}
		e := SignInHistory{EmailFailures: len(failures)}
		if len(failures) > 0 {
			e.EmailLast = failures[len(failures)-1]
		}
		if w := e.Wait(now); w > 0 {
			maxNew = max(maxNew, w)
			e.Known = true
			if k := e.Wait(now); k != 0 {
				t.Fatalf("the employee's own address waits %s during a spray", k)
			}
			now = now.Add(w)
			continue
		}
		guesses++
		failures = append(failures, now)
		now = now.Add(20 * time.Millisecond)
	}
	if guesses > 3000 {
		t.Errorf("a new address per guess: %d guesses in a day, want the ceiling to hold it near two thousand", guesses)
	}
	if maxNew > SignInMaxSpacing {
		t.Errorf("a new address waited up to %s, want at most %s", maxNew, SignInMaxSpacing)
	}
	t.Logf("one email in a day: %d guesses from new addresses; a new address waits at most %s", guesses, maxNew)
}

func TestSignInEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Ada@Example.COM ":   "ada@example.com",
		"a\x00b@example.com":  "a\uFFFDb@example.com",
		"\xffbad@example.com": "\uFFFDbad@example.com",
	} {
		if got := SignInEmail(in); got != want {
			t.Errorf("SignInEmail(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SignInEmail(strings.Repeat("中", 200)); len(got) > 254 || !strings.HasPrefix(got, "中") || strings.ToValidUTF8(got, "") != got {
		t.Errorf("a long email: %d bytes %q", len(got), got)
	}
}
