package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
)

const tokenUsage = "usage: keel token create --email E [--name N] | keel token ingest NAME [--max-age DURATION] [--rate EVENTS_PER_SECOND]"

func runToken(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "create" {
		return runTokenCreate(ctx, args[1:], env, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ingest" {
		return errors.New(tokenUsage)
	}
	var c common
	fs := newFlagSet("token ingest", stderr)
	c.register(fs, env)
	maxAge := fs.Duration("max-age", 0, "late-arrival window for this key, e.g. 2880h to import 120 days of history (0 = the collector's)")
	rate := fs.Float64("rate", 0, "events/s allowed for this key (0 = the collector's default, -1 = unlimited)")
	// Accept the name before or after the flags.
	rest := args[1:]
	var name string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		return errors.New("usage: keel token ingest NAME: NAME (the product app the key is for) is required")
	}
	return withPostgres(ctx, c.pg, func(db *postgres.DB) error {
		k, plain, err := db.CreateIngestKey(ctx, keel.System, keel.IngestKey{Name: name, MaxAge: *maxAge, Rate: *rate})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, plain)
		fmt.Fprintf(stderr, "ingest key %d for %q created at %s; it is shown only this once.\n", k.ID, name, time.Now().UTC().Format(time.RFC3339))
		return nil
	})
}

// runTokenCreate prints a new personal API token for an employee, made as
// keel.System. The token is shown this once; Postgres keeps only its hash.
func runTokenCreate(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("token create", stderr)
	c.register(fs, env)
	email := fs.String("email", "", "the employee the token acts as (required)")
	name := fs.String("name", "", "what the token is for, e.g. \"laptop\" or \"billing script\" (default: keel token create and the date)")
	if err := parseOneShot(fs, args, "token create", tokenUsage, "email"); err != nil {
		return err
	}
	if *name == "" {
		*name = "keel token create " + time.Now().UTC().Format(time.DateOnly)
	}
	return withEmployee(ctx, c.pg, "token create", *email, func(db *postgres.DB, e keel.Employee) error {
		token, err := db.CreateToken(ctx, keel.System, e.ID, *name)
		if err != nil {
			return cliError("token create", err)
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "API token %q for employee %d <%s> created; it is shown only this once.\n", *name, e.ID, e.Email)
		return nil
	})
}
