package console

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestClientAddr: the address sign-ins are throttled and recorded by is
// the connection's, unless that is a trusted proxy; then it is the
// nearest address in X-Forwarded-For that is not one, whatever the client
// wrote further left.
func TestClientAddr(t *testing.T) {
	s := &server{Deps: Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	for _, tt := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.7:5555", nil, "203.0.113.7"},
		{"203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"}, // not a proxy: the header is anyone's
		{"10.1.2.3:5555", nil, "10.1.2.3"},
		{"10.1.2.3:5555", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.1.2.3:5555", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},    // the client wrote 1.2.3.4
		{"10.1.2.3:5555", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},   // two proxies
		{"10.1.2.3:5555", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"}, // two headers
		{"10.1.2.3:5555", []string{"10.5.5.5, 10.9.9.9"}, "10.5.5.5"},           // nothing but proxies
		{"10.1.2.3:5555", []string{"198.51.100.1, not-an-address"}, "10.1.2.3"},
		{"10.1.2.3:5555", []string{" 2001:db8::1 "}, "2001:db8::1"},
		{"[::1]:5555", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"[::ffff:203.0.113.7]:5555", nil, "203.0.113.7"},
		{"pipe", nil, "pipe"},
	} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientAddr(r); got != tt.want {
			t.Errorf("from %s with X-Forwarded-For %q: %q, want %q", tt.remote, tt.xff, got, tt.want)
		}
	}
	none := &server{}
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr, r.Header["X-Forwarded-For"] = "10.1.2.3:1", []string{"198.51.100.1"}
	if got := none.clientAddr(r); got != "10.1.2.3" {
		t.Errorf("with no trusted proxy: %q, want the connection's", got)
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
