// Command keel is Keel's one binary: `keel <command>`. Run `keel help` for
// the commands. Every setting is a flag whose default comes from a KEEL_*
// environment variable, or from .keel/dev.env beside a running `keel dev`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keel:", err)
		os.Exit(1)
	}
}

// command is one subcommand.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "everything on one machine: local Postgres, ClickHouse and Kafka, demo data, collector, loader and console", runDev},
		{"collect", "the HTTP event collector (POST /v1/events)", runCollect},
		{"load", "the Kafka → ClickHouse loader (run several: they share a consumer group)", runLoad},
		{"relay", "the outbox relay: publishes Postgres facts to Kafka (run several: one works, the others stand by)", runRelay},
		{"console", "the web console and JSON API", runConsole},
		{"migrate", "apply Postgres and ClickHouse migrations and create the Kafka topics", runMigrate},
		{"demo", "write the demo data: sales history through the JSON API, product events through the collector", runDemo},
		{"bench", "the project's benchmarks: " + benchNames(), runBench},
		{"revenue", "MRR month by month: keel revenue [--from M] [--to M] [--currency C] [--json] | keel revenue rebuild | keel revenue check", runRevenue},
		{"score", "customers' health scores: keel score [--day D | --from D --to D] (default: yesterday); re-running a day replaces it", runScore},
		{"backtest", "how early scores and warnings saw churn: keel backtest health [--from D] [--to D] [--json]", runBacktest},
		{"activity", "a tenant's daily active users and logins: keel activity --tenant T [--from D] [--to D] [--json]", runActivity},
		{"user", "keel user add --email E --name N --role R | reset-password --email E | grant / revoke --email E --role R | deactivate --email E: add an employee or reset their password (prints a one-time password; --password-stdin sets a chosen one), change their roles, or lock one out", runUser},
		{"token", "keel token ingest NAME | keel token create --email E: a new ingest key for a product app, or a personal API token", runToken},
		{"healthcheck", "keel healthcheck URL: exit 0 if URL answers 200 (for container health checks)", runHealthcheck},
	}
}

// run is the whole program; main only wires it to the process. stdin is
// read only by the commands that say so (--password-stdin).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[1] == "help" || args[1] == "-h" || args[1] == "--help" {
		usage(stdout)
		return nil
	}
	env := NewEnv(getenv)
	env.stdin = stdin
	for _, c := range commands() {
		if c.name == args[1] {
			return c.run(ctx, args[2:], env, stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[1])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Keel — the company's customers, revenue and product usage in one place.")
	fmt.Fprintln(w, "\nUsage: keel <command> [flags]   (keel <command> -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.usage)
	}
}
