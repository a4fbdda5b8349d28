package console

import (
	"strings"
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

// redirectBypasses are targets that have sent browsers to another site
// through "next" parameters of sign-in pages: each must be refused.
var redirectBypasses = []string{
	"https://evil.example/",
	"http:evil.example",
	"//evil.example/",
	"///evil.example/",
	"/\\evil.example",
	"\\\\evil.example",
	"/\\/evil.example",
	"/\t/evil.example/stolen", // browsers drop tabs: //evil.example/stolen
	"/\n/evil.example",
	"/\r/evil.example",
	"/\r\n/evil.example",
	"/\x0b/evil.example",
	"/\x0c/evil.example",
	"/\x00/evil.example",
	"/\x7f/evil.example",
	"\t//evil.example",
	" //evil.example",
	"\x0b//evil.example",
	"/%09/evil.example", // a tab still encoded once more
	"/%2F/evil.example", // a slash likewise
	"/%5Cevil.example",  // a backslash likewise
	"%2F%2Fevil.example",
	"/%zz", // not an encoding at all
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	" javascript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"customers",
	"./customers",
	"/a\r\nSet-Cookie: x",
	"/\u2028/evil.example", // a line separator
	"/\xff",                // not UTF-8
	"/" + strings.Repeat("a", 2048),
}

func TestLocalPath(t *testing.T) {
	for _, in := range append([]string{""}, redirectBypasses...) {
		if got := localPath(in); got != "/" {
			t.Errorf("localPath(%.80q) = %.80q, want /", in, got)
		}
	}
	for _, in := range []string{"/", "/customers?status=x", "/customers/12#followups", "/review?week=2026-11-23&page=2",
		"/customers?q=%E4%B8%AD", "/search?q=a+b", "/@evil.example", "/javascript:x"} {
		if got := localPath(in); got != in {
			t.Errorf("localPath(%q) = %q, want it kept", in, got)
		}
	}
}
