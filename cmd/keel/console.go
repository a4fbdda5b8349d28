package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// The console's JSON API runs on Keel's Postgres.
var _ console.Store = (*postgres.DB)(nil)

type consoleFlags struct {
	common
	addr     string
	tz       string
	insecure bool
}

func (f *consoleFlags) register(args []string, env *Env, stderr io.Writer) error {
	fs := newFlagSet("console", stderr)
	f.common.register(fs, env)
	fs.StringVar(&f.addr, "addr", env.Get(envHTTPAddr, defaultHTTPAddr), "listen address ($"+envHTTPAddr+")")
	fs.StringVar(&f.tz, "tz", env.Get(envTimezone, "UTC"), "reporting timezone ($"+envTimezone+")")
	fs.BoolVar(&f.insecure, "insecure-listen", false, "listen on a non-loopback address although the console's pages have no sign-in yet (only behind something that restricts who can reach them); the JSON API under /api/v1/ needs a personal API token on every request either way")
	return fs.Parse(args)
}

func runConsole(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var f consoleFlags
	if err := f.register(args, env, stderr); err != nil {
		return err
	}
	log := f.logger(stderr)
	run, err := f.service(ctx, log)
	if err != nil {
		return err
	}
	return run(ctx)
}

// loopbackAddr keeps the console on loopback: its pages have no sign-in
// yet, so they must not be reachable from other machines. (The JSON API
// beside them checks a personal API token on every request, but shares the
// listener, so the pages decide.) ":8080" becomes
// "127.0.0.1:8080"; an explicit non-loopback host is refused.
func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("console address %q: %w", addr, err)
	}
	if host == "" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return addr, nil
	}
	return "", fmt.Errorf("console address %q: the console's pages have no sign-in yet, so it only listens on loopback (--insecure-listen overrides)", addr)
}

func (f *consoleFlags) service(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
	addr := f.addr
	if !f.insecure {
		var err error
		if addr, err = loopbackAddr(f.addr); err != nil {
			return nil, err
		}
	}
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return nil, fmt.Errorf("--tz: unknown timezone %q", f.tz)
	}
	db, err := openPostgres(ctx, log, f.pg, true)
	if err != nil {
		return nil, err
	}
	store, err := openClickHouse(ctx, log, f.clickhouse, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	h, err := console.NewServer(console.Deps{
		Warehouse: store, Names: db, Store: db, Log: log,
		Settings: warehouse.ActivitySettings{Location: loc},
	})
	if err != nil {
		db.Close()
		store.Close()
		return nil, err
	}
	return func(ctx context.Context) error {
		defer db.Close()
		defer store.Close()
		log.Info("console listening", "addr", addr)
		return serveHTTP(ctx, addr, h, log)
	}, nil
}
