package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDevAddresses: keel dev serves plain HTTP with a published demo
// password, so what it serves stays on this machine unless opened with
// --listen; an address that names its host is kept as given.
func TestDevAddresses(t *testing.T) {
	tests := []struct {
		name                   string
		env                    map[string]string
		args                   []string
		console, collect, load string
		loopback               bool
	}{
		{"defaults", nil, nil, "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082", true},
		{"opened", nil, []string{"--listen", "0.0.0.0"}, "0.0.0.0:8080", "0.0.0.0:8081", "0.0.0.0:8082", false},
		{"opened on IPv6", nil, []string{"--listen", "::"}, "[::]:8080", "[::]:8081", "[::]:8082", false},
		{"ports from the environment", map[string]string{envHTTPAddr: ":9000", envCollect: ":9001", envLoadAddr: ":9002"}, nil,
			"127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002", true},
		{"ports from flags", nil, []string{"--addr", ":7000", "--collect-addr", ":7001", "--load-addr", ":7002"},
			"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002", true},
		{"a host given is kept", nil, []string{"--addr", "0.0.0.0:8080", "--load-addr", "localhost:8082"},
			"0.0.0.0:8080", "127.0.0.1:8081", "localhost:8082", false},
		{"loopback by name", nil, []string{"--listen", "localhost"}, "localhost:8080", "localhost:8081", "localhost:8082", true},
	}
	for _, tt := range tests {
		env := &Env{getenv: func(k string) string { return tt.env[k] }, file: map[string]string{}}
		f, err := parseDevFlags(tt.args, env, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if f.consoleAddr != tt.console || f.collectAddr != tt.collect || f.loadAddr != tt.load {
			t.Errorf("%s: console %s, collector %s, loader %s; want %s, %s, %s", tt.name, f.consoleAddr, f.collectAddr, f.loadAddr, tt.console, tt.collect, tt.load)
		}
		note := listenNote(f.consoleAddr, f.collectAddr, f.loadAddr)
		if tt.loopback && (!strings.Contains(note, "loopback only") || !strings.Contains(note, "--listen 0.0.0.0")) {
			t.Errorf("%s: note %q, want it to say loopback only and how to open it", tt.name, note)
		}
		if !tt.loopback && (!strings.Contains(note, "other machines can reach it") || !strings.Contains(note, tt.console)) {
			t.Errorf("%s: note %q, want it to say other machines can reach %s", tt.name, note, tt.console)
		}
	}
	if _, err := parseDevFlags([]string{"--listen", ""}, &Env{getenv: func(string) string { return "" }}, io.Discard); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("--listen empty: %v, want an error naming --listen", err)
	}
}

// TestDevServesLoopbackOnly starts keel dev (without the demo data) and
// reads the kernel's table of listening sockets: the console, the
// collector and the loader's metrics are bound to loopback, not to every
// interface, and the start says so.
func TestDevServesLoopbackOnly(t *testing.T) {
	ports := []string{freePort(t), freePort(t), freePort(t)}
	var stdout syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"keel", "dev", "--dir", t.TempDir(), "--demo=false", "--log-level", "warn",
			"--addr", ":" + ports[0], "--collect-addr", ":" + ports[1], "--load-addr", ":" + ports[2]},
			func(string) string { return "" }, nil, &stdout, io.Discard)
	}()
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(stdout.String(), "Ready.") {
		select {
		case err := <-done:
			t.Fatalf("keel dev stopped before it was ready: %v\n%s", err, stdout.String())
		case <-deadline:
			t.Fatalf("keel dev not ready after 3 minutes:\n%s", stdout.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	out := stdout.String()
	if !strings.Contains(out, "http://127.0.0.1:"+ports[0]) || !strings.Contains(out, "loopback only") || !strings.Contains(out, "--listen 0.0.0.0") {
		t.Errorf("keel dev printed\n%s\nwant the console's URL and a line that it listens on loopback only and how to open it", out)
	}
	for i, what := range []string{"console", "collector", "loader metrics"} {
		ips := listeningOn(t, ports[i])
		if len(ips) == 0 {
			t.Errorf("%s: nothing listens on port %s", what, ports[i])
		}
		for _, ip := range ips {
			if !ip.IsLoopback() {
				t.Errorf("%s listens on %s port %s, want loopback only", what, ip, ports[i])
			}
		}
	}
	resp, err := http.Get("http://127.0.0.1:" + ports[0] + "/healthz")
	if err != nil {
		t.Fatalf("console on loopback: %v", err)
	}
	resp.Body.Close()
	// The console's scoring and digest metrics are on the loader's
	// metrics listener, the one keel dev serves.
	resp, err = http.Get("http://127.0.0.1:" + ports[2] + "/metrics")
	if err != nil {
		t.Fatalf("loader metrics: %v", err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"keel_digest_deliveries_failed_total", "keel_scoring_duration_seconds"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("keel dev's metrics lack %s", name)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("keel dev stopping: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("keel dev did not stop within a minute")
	}
}

// listeningOn reads /proc/net/tcp and tcp6 for the addresses that listen on
// port.
func listeningOn(t *testing.T, port string) []net.IP {
	t.Helper()
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%04X", p)
	var out []net.IP
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(bytes.NewReader(b))
		s.Scan() // the header
		for s.Scan() {
			f := strings.Fields(s.Text())
			if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			addr, port, ok := strings.Cut(f[1], ":")
			if !ok || port != want {
				continue
			}
			ip, err := hex.DecodeString(addr)
			if err != nil || (len(ip) != 4 && len(ip) != 16) {
				t.Fatalf("%s: unreadable address %q", file, f[1])
			}
			// The kernel prints each 32-bit word of the address as a number
			// in host byte order.
			for w := 0; w < len(ip); w += 4 {
				binary.NativeEndian.PutUint32(ip[w:], binary.BigEndian.Uint32(ip[w:]))
			}
			out = append(out, net.IP(ip))
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer that a command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTrustedProxyFlag: --trusted-proxy (or $KEEL_TRUSTED_PROXIES) on keel
// console and keel dev is a list of addresses and CIDR ranges; anything
// else is refused, naming the flag.
func TestTrustedProxyFlag(t *testing.T) {
	got, err := parseProxies(" 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,::ffff:198.51.100.7,10.1.2.3/8")
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if want := "10.0.0.0/8 192.0.2.1/32 2001:db8::/32 198.51.100.7/32 10.0.0.0/8"; strings.Join(s, " ") != want {
		t.Errorf("parseProxies: %s, want %s", strings.Join(s, " "), want)
	}
	if got, err := parseProxies(""); err != nil || len(got) != 0 {
		t.Errorf("no proxies: %v, %v", got, err)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/33", "10.0.0.1,,nope"} {
		if _, err := parseProxies(bad); err == nil || !strings.Contains(err.Error(), "--trusted-proxy") {
			t.Errorf("parseProxies(%q): %v, want an error naming --trusted-proxy", bad, err)
		}
	}

	env := &Env{getenv: func(k string) string { return map[string]string{envProxies: "10.0.0.0/8"}[k] }, file: map[string]string{}}
	f, err := parseDevFlags(nil, env, io.Discard)
	if err != nil || f.proxies != "10.0.0.0/8" {
		t.Errorf("keel dev from the environment: %q, %v", f.proxies, err)
	}
	if f, err := parseDevFlags([]string{"--trusted-proxy", "127.0.0.1"}, env, io.Discard); err != nil || f.proxies != "127.0.0.1" {
		t.Errorf("keel dev --trusted-proxy: %q, %v", f.proxies, err)
	}
	if _, err := parseDevFlags([]string{"--trusted-proxy", "nope"}, env, io.Discard); err == nil || !strings.Contains(err.Error(), "--trusted-proxy") {
		t.Errorf("keel dev --trusted-proxy nope: %v", err)
	}
	var c consoleFlags
	if err := c.register([]string{"--trusted-proxy", "192.0.2.0/24"}, env, io.Discard); err != nil || c.trustedProxies != "192.0.2.0/24" {
		t.Errorf("keel console --trusted-proxy: %q, %v", c.trustedProxies, err)
	}
	if err := c.register(nil, env, io.Discard); err != nil || c.trustedProxies != "10.0.0.0/8" {
		t.Errorf("keel console from the environment: %q, %v", c.trustedProxies, err)
	}
}
