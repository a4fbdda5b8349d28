package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/digest"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/scoring"
)

// envConsoleMetrics is the address of the console's metrics.
const envConsoleMetrics = "KEEL_CONSOLE_METRICS_ADDR"

// The console's JSON API runs on Keel's Postgres.
var _ console.Store = (*postgres.DB)(nil)

type consoleFlags struct {
	common
	addr           string
	tz             string
	secureCookies  bool
	sessionTTL     time.Duration
	trustedProxies string
	score          bool
	// scoreAfter, when set, holds the daily scoring back until it is
	// closed: keel dev scores the demo's history first (dev.go).
	scoreAfter <-chan struct{}
	// metricsAddr serves the scoring's and the digest's metrics on a
	// listener of their own ("" = none): the console's own listener faces
	// employees, often the internet behind a proxy, and /metrics needs no
	// sign-in, as on the loader's and the relay's metrics listeners.
	metricsAddr string
	// metrics, when set, receives those metrics instead, for a listener
	// another part serves (keel dev: the loader's).
	metrics *prometheus.Registry
}

const trustedProxyUsage = "the proxies in front of the console, a comma-separated list of addresses or CIDR ranges (10.0.0.0/8,192.0.2.1): " +
	"from them, X-Forwarded-For says the client's address, which sign-in throttling and the record of sign-ins use; from anywhere else it is ignored ($" + envProxies + ")"

func (f *consoleFlags) register(args []string, env *Env, stderr io.Writer) error {
	fs := newFlagSet("console", stderr)
	f.common.register(fs, env)
	fs.StringVar(&f.addr, "addr", env.Get(envHTTPAddr, defaultHTTPAddr), "listen address ($"+envHTTPAddr+")")
	fs.StringVar(&f.tz, "tz", env.Get(envTimezone, "UTC"), "reporting timezone ($"+envTimezone+")")
	fs.BoolVar(&f.secureCookies, "secure-cookies", env.Get(envSecureCookies, "true") == "true", "send the session cookie over HTTPS only, as when the console is behind a TLS proxy; requests that arrive over TLS always get Secure cookies ($"+envSecureCookies+")")
	fs.DurationVar(&f.sessionTTL, "session-ttl", console.DefaultSessionTTL, "how long a sign-in lasts")
	fs.StringVar(&f.trustedProxies, "trusted-proxy", env.Get(envProxies, ""), trustedProxyUsage)
	fs.StringVar(&f.metricsAddr, "metrics-addr", env.Get(envConsoleMetrics, ""), "address of /metrics (the daily scoring and the digest's deliveries) and /healthz; empty for none ($"+envConsoleMetrics+")")
	fs.BoolVar(&f.score, "score", env.Get(envScore, "true") == "true", "score customers' health every day at the score hour (and at start when yesterday is missing); several consoles share the work, one scores ($"+envScore+")")
	return fs.Parse(args)
}

func runConsole(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	return runService(ctx, args, env, stderr, &consoleFlags{})
}

// build checks the settings, opens Postgres and ClickHouse with their
// schemas checked, and adds the console's server.
func (f *consoleFlags) build(ctx context.Context, s *service) error {
	if f.sessionTTL < time.Minute {
		return fmt.Errorf("--session-ttl: %s is shorter than a minute", f.sessionTTL)
	}
	cal, err := keel.LoadCalendar("--tz", f.tz)
	if err != nil {
		return errors.New(keel.ErrorMessage(err))
	}
	proxies, err := parseProxies(f.trustedProxies)
	if err != nil {
		return err
	}
	db, err := s.postgres(ctx, f.pg)
	if err != nil {
		return err
	}
	db.SetCalendar(cal)
	store, err := s.clickhouse(ctx, f.clickhouse)
	if err != nil {
		return err
	}
	// The daily rollups are cut in one zone (keel migrate --tz): pages in
	// another would show days cut elsewhere.
	if err := store.CheckZone(ctx, cal.Location()); err != nil {
		return fmt.Errorf("--tz: %w", err)
	}
	h, err := console.NewServer(console.Deps{
		Warehouse: store, Revenue: store, Health: store, Names: db, Store: db, Log: s.log, Calendar: cal,
		SecureCookies: f.secureCookies, SessionTTL: f.sessionTTL, TrustedProxies: proxies,
	})
	if err != nil {
		return err
	}
	if f.secureCookies {
		s.log.Info("session cookies are Secure: browsers send them over HTTPS only, so serve the console behind TLS (or pass --secure-cookies=false to use it over plain HTTP)")
	}
	s.serve("console", f.addr, h, false, "secure_cookies", f.secureCookies, "trusted_proxies", f.trustedProxies)
	reg := f.metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	// Every console delivers digests (with --score=false too): one at a
	// time per digest, whichever console takes it.
	deliveries, err := digest.NewWorker(digest.Config{Registerer: reg}, db, s.log)
	if err != nil {
		return err
	}
	s.add("digest", deliveries.Run)
	if f.score {
		maker := digest.NewMaker(db, store, s.log, deliveries.Wake)
		scorer, err := scoring.New(scoring.Config{Calendar: cal, Registerer: reg, OnScheduled: func(ctx context.Context, r scoring.DayResult) error {
			_, _, err := maker.Make(ctx, r.Day)
			return err
		}}, db, store, s.log)
		if err != nil {
			return err
		}
		s.add("scoring", func(ctx context.Context) error {
			if f.scoreAfter != nil {
				select {
				case <-f.scoreAfter:
				case <-ctx.Done():
					return nil
				}
			}
			return scorer.Run(ctx)
		})
	}
	if f.metricsAddr != "" && f.metrics == nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
		s.serve("console metrics", f.metricsAddr, mux, f.pprof)
	}
	return nil
}

// parseProxies reads --trusted-proxy: addresses (one host each) and CIDR
// ranges, separated by commas.
func parseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy: %q is neither an address nor a CIDR range like 10.0.0.0/8", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
