package console

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	var th throttle
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := 0; i < throttlePerEmail; i++ {
		if d := th.wait("a@example.com", "10.0.0.1", t0); d != 0 {
			t.Fatalf("attempt %d: wait %s, want none", i+1, d)
		}
		th.fail("A@example.com ", "10.0.0.1", t0.Add(time.Duration(i)*time.Minute))
	}
	now := t0.Add(5 * time.Minute)
	// The first failure leaves the window at t0+15m.
	if d := th.wait("a@example.com", "10.0.0.2", now); d != 10*time.Minute {
		t.Errorf("after %d failures: wait %s, want 10m0s", throttlePerEmail, d)
	}
	if d := th.wait("b@example.com", "10.0.0.1", now); d != 0 {
		t.Errorf("another email from the same address: wait %s, want none", d)
	}
	if d := th.wait("a@example.com", "10.0.0.1", t0.Add(throttleWindow)); d != 0 {
		t.Errorf("once the first failure left the window: wait %s, want none", d)
	}
	// Many emails from one address trip the address limit.
	for i := 0; i < throttlePerAddr; i++ {
		th.fail(string(rune('a'+i))+"x@example.com", "10.9.9.9", now)
	}
	if d := th.wait("new@example.com", "10.9.9.9", now); d != throttleWindow {
		t.Errorf("after %d failures from one address: wait %s, want %s", throttlePerAddr, d, throttleWindow)
	}
	// A right password forgets the email's failures.
	th.succeed("a@example.com")
	if d := th.wait("a@example.com", "10.0.0.3", now); d != 0 {
		t.Errorf("after a success: wait %s, want none", d)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/",
		"/customers?status=x":   "/customers?status=x",
		"https://evil.example/": "/",
		"//evil.example/":       "/",
		"/\\evil.example":       "/",
		"customers":             "/",
		"/a\r\nSet-Cookie: x":   "/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
