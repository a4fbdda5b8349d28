package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/console"
	"github.com/keelhq/keel/postgres"
)

// The console's JSON API runs on Keel's Postgres.
var _ console.Store = (*postgres.DB)(nil)

type consoleFlags struct {
	common
	addr          string
	tz            string
	secureCookies bool
	sessionTTL    time.Duration
}

func (f *consoleFlags) register(args []string, env *Env, stderr io.Writer) error {
	fs := newFlagSet("console", stderr)
	f.common.register(fs, env)
	fs.StringVar(&f.addr, "addr", env.Get(envHTTPAddr, defaultHTTPAddr), "listen address ($"+envHTTPAddr+")")
	fs.StringVar(&f.tz, "tz", env.Get(envTimezone, "UTC"), "reporting timezone ($"+envTimezone+")")
	fs.BoolVar(&f.secureCookies, "secure-cookies", env.Get(envSecureCookies, "true") == "true", "send the session cookie over HTTPS only, as when the console is behind a TLS proxy; requests that arrive over TLS always get Secure cookies ($"+envSecureCookies+")")
	fs.DurationVar(&f.sessionTTL, "session-ttl", console.DefaultSessionTTL, "how long a sign-in lasts")
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

func (f *consoleFlags) service(ctx context.Context, log *slog.Logger) (func(context.Context) error, error) {
	addr := f.addr
	if f.sessionTTL < time.Minute {
		return nil, fmt.Errorf("--session-ttl: %s is shorter than a minute", f.sessionTTL)
	}
	cal, err := keel.LoadCalendar("--tz", f.tz)
	if err != nil {
		return nil, errors.New(keel.ErrorMessage(err))
	}
	db, err := openPostgres(ctx, log, f.pg, true)
	if err != nil {
		return nil, err
	}
	db.SetCalendar(cal)
	store, err := openClickHouse(ctx, log, f.clickhouse, true)
	if err != nil {
		db.Close()
		return nil, err
	}
	h, err := console.NewServer(console.Deps{
		Warehouse: store, Names: db, Store: db, Log: log, Calendar: cal,
		SecureCookies: f.secureCookies, SessionTTL: f.sessionTTL,
	})
	if err != nil {
		db.Close()
		store.Close()
		return nil, err
	}
	return func(ctx context.Context) error {
		defer db.Close()
		defer store.Close()
		log.Info("console listening", "addr", addr, "secure_cookies", f.secureCookies)
		if f.secureCookies {
			log.Info("session cookies are Secure: browsers send them over HTTPS only, so serve the console behind TLS (or pass --secure-cookies=false to use it over plain HTTP)")
		}
		return serveHTTP(ctx, addr, h, log)
	}, nil
}
