package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
)

const tokenUsage = "usage: keel token create --email E [--name N] [--expires X] | keel token ingest NAME [--max-age DURATION] [--rate EVENTS_PER_SECOND] [--expires X] [--tenants A,B] [--tenant-prefix P] | keel token list [--email E | --ingest] [--json] | keel token revoke --id N [--ingest]"

// runToken makes, lists and revokes personal API tokens and ingest keys
// with machine access, as keel.System: every change is audited as the CLI.
func runToken(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(tokenUsage)
	}
	switch args[0] {
	case "create":
		return runTokenCreate(ctx, args[1:], env, stdout, stderr)
	case "ingest":
		return runTokenIngest(ctx, args[1:], env, stdout, stderr)
	case "list":
		return runTokenList(ctx, args[1:], env, stdout, stderr)
	case "revoke":
		return runTokenRevoke(ctx, args[1:], env, stdout, stderr)
	}
	return fmt.Errorf("unknown token command %q; %s", args[0], tokenUsage)
}

// tokenTimes are the flags of when: the reporting timezone that reads a
// day given as --expires and shows the times listed.
type tokenTimes struct{ tz *string }

func (f *tokenTimes) register(fs *flag.FlagSet, env *Env) {
	f.tz = fs.String("tz", env.Get(envTimezone, "UTC"), "reporting timezone: the one an --expires day and the times listed are in ($"+envTimezone+")")
}

func (f *tokenTimes) calendar() (keel.Calendar, error) {
	cal, err := keel.LoadCalendar("--tz", *f.tz)
	if err != nil {
		return cal, errors.New(keel.ErrorMessage(err))
	}
	return cal, nil
}

const expiresUsage = "when it stops working: a day (YYYY-MM-DD: it works through that day, in --tz), an RFC 3339 time, or a time from now (90d, 12h); default never"

// parseExpires reads --expires: a number of days or a Go duration from
// now, or what keel.ParseExpiry reads (a day of cal, an RFC 3339 time).
func parseExpires(s string, cal keel.Calendar, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > 36500 {
			return nil, fmt.Errorf("--expires: %q is not a number of days from now", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else if v, err := time.ParseDuration(s); err == nil {
		d = v
	}
	if d != 0 {
		t := now.Add(d).UTC()
		if err := keel.ValidExpiry("--expires", &t, now); err != nil {
			return nil, errors.New(keel.ErrorMessage(err))
		}
		return &t, nil
	}
	t, err := keel.ParseExpiry("--expires", s, cal, now)
	if err != nil {
		return nil, errors.New(keel.ErrorMessage(err))
	}
	return t, nil
}

// runTokenCreate prints a new personal API token for an employee. The
// token is shown this once; Postgres keeps only its hash.
func runTokenCreate(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	var when tokenTimes
	fs := newFlagSet("token create", stderr)
	c.register(fs, env)
	when.register(fs, env)
	email := fs.String("email", "", "the employee the token acts as (required)")
	name := fs.String("name", "", "what the token is for, e.g. \"laptop\" or \"billing script\" (default: keel token create and the date)")
	expires := fs.String("expires", "", expiresUsage)
	if err := parseOneShot(fs, args, "token create", tokenUsage, "email"); err != nil {
		return err
	}
	cal, err := when.calendar()
	if err != nil {
		return err
	}
	until, err := parseExpires(*expires, cal, time.Now())
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	if *name == "" {
		*name = "keel token create " + time.Now().UTC().Format(time.DateOnly)
	}
	return withEmployee(ctx, c.pg, "token create", *email, func(db *postgres.DB, e keel.Employee) error {
		token, t, err := db.CreateTokenUntil(ctx, keel.System, e.ID, *name, until)
		if err != nil {
			return cliError("token create", err)
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "API token %d %q for employee %d <%s> created%s; it is shown only this once.\n", t.ID, *name, e.ID, e.Email, untilText(cal, t.ExpiresAt))
		return nil
	})
}

// untilText says when a new token or key expires, for the message.
func untilText(cal keel.Calendar, t *time.Time) string {
	if t == nil {
		return ""
	}
	return ", working until " + shownTime(cal, *t)
}

// shownTime is an instant as the lists show it, in the reporting timezone.
func shownTime(cal keel.Calendar, t time.Time) string {
	return t.In(cal.Location()).Format("2006-01-02 15:04 MST")
}

// runTokenIngest prints a new ingest key for a product app.
func runTokenIngest(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	var when tokenTimes
	fs := newFlagSet("token ingest", stderr)
	c.register(fs, env)
	when.register(fs, env)
	maxAge := fs.Duration("max-age", 0, "late-arrival window for this key, e.g. 2880h to import 120 days of history (0 = the collector's)")
	rate := fs.Float64("rate", 0, "events/s allowed for this key (0 = the collector's default, -1 = unlimited)")
	expires := fs.String("expires", "", expiresUsage)
	tenants := fs.String("tenants", "", "the only tenants the key may send events of, comma-separated (default: any, unless --tenant-prefix)")
	prefix := fs.String("tenant-prefix", "", "the key may send events of the tenants whose id starts with this")
	// Accept the name before or after the flags.
	var name string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		return errors.New("usage: keel token ingest NAME: NAME (the product app the key is for) is required")
	}
	cal, err := when.calendar()
	if err != nil {
		return err
	}
	until, err := parseExpires(*expires, cal, time.Now())
	if err != nil {
		return fmt.Errorf("token ingest: %w", err)
	}
	var limit keel.TenantLimit
	for _, t := range strings.Split(*tenants, ",") {
		if t = strings.TrimSpace(t); t != "" {
			limit.Tenants = append(limit.Tenants, t)
		}
	}
	limit.Prefix = strings.TrimSpace(*prefix)
	return withPostgres(ctx, c.pg, func(db *postgres.DB) error {
		k, plain, err := db.CreateIngestKey(ctx, keel.System, keel.IngestKey{Name: name, MaxAge: *maxAge, Rate: *rate, ExpiresAt: until, Limit: limit})
		if err != nil {
			return cliError("token ingest", cliFlagNames(err))
		}
		fmt.Fprintln(stdout, plain)
		scope := "any tenant"
		if limit.Limited() {
			scope = "tenants " + limit.String()
		}
		fmt.Fprintf(stderr, "ingest key %d for %q (%s) created at %s%s; it is shown only this once.\n",
			k.ID, name, scope, k.CreatedAt.Format(time.RFC3339), untilText(cal, k.ExpiresAt))
		return nil
	})
}

// cliFlagNames renames a refusal about a field of a new ingest key to the
// flag that gave it.
func cliFlagNames(err error) error {
	var e *keel.Error
	if !errors.As(err, &e) || e.Field == "" {
		return err
	}
	name := map[string]string{"tenant_prefix": "--tenant-prefix", "max_age": "--max-age", "expires_at": "--expires"}[e.Field]
	if strings.HasPrefix(e.Field, "tenants") {
		name = "--tenants"
	}
	if name == "" {
		return err
	}
	out := *e
	out.Field = name
	return &out
}

// credentialJSON is a token or an ingest key as keel token list --json
// prints it: the API's shape (GET /api/v1/tokens, /ingest-keys).
type credentialJSON struct {
	ID           int64    `json:"id"`
	EmployeeID   int64    `json:"employee_id,omitempty"`
	Email        string   `json:"email,omitempty"`
	Name         string   `json:"name"`
	State        string   `json:"state"`
	CreatedAt    string   `json:"created_at"`
	ExpiresAt    *string  `json:"expires_at"`
	LastUsedAt   *string  `json:"last_used_at"`
	RevokedAt    *string  `json:"revoked_at"`
	Tenants      []string `json:"tenants,omitempty"`
	TenantPrefix string   `json:"tenant_prefix,omitempty"`
}

func rfc3339(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// runTokenList prints every API token (or one employee's) or every ingest
// key, newest first, with when each was made, last used and expires.
func runTokenList(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	var when tokenTimes
	fs := newFlagSet("token list", stderr)
	c.register(fs, env)
	when.register(fs, env)
	email := fs.String("email", "", "only this employee's API tokens (default: everyone's)")
	ingest := fs.Bool("ingest", false, "list the ingest keys instead")
	asJSON := fs.Bool("json", false, "print one JSON object: {\"items\": […], \"total\": n}")
	if err := parseOneShot(fs, args, "token list", tokenUsage); err != nil {
		return err
	}
	if *ingest && *email != "" {
		return errors.New("token list: --email and --ingest do not go together (ingest keys belong to product apps)")
	}
	cal, err := when.calendar()
	if err != nil {
		return err
	}
	now := time.Now()
	return withPostgres(ctx, c.pg, func(db *postgres.DB) error {
		var rows []credentialJSON
		var err error
		if *ingest {
			rows, err = listIngestKeys(ctx, db, now)
		} else {
			rows, err = listTokens(ctx, db, *email, now)
		}
		if err != nil {
			return cliError("token list", err)
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"items": rows, "total": len(rows)})
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		if *ingest {
			fmt.Fprintln(tw, "id\tname\ttenants\tstate\tcreated\tlast used\texpires\t")
		} else {
			fmt.Fprintln(tw, "id\temployee\tname\tstate\tcreated\tlast used\texpires\t")
		}
		at := func(s *string) string {
			if s == nil {
				return "never"
			}
			t, _ := time.Parse(time.RFC3339, *s)
			return shownTime(cal, t)
		}
		for _, r := range rows {
			who := r.Email
			if *ingest {
				who = keel.TenantLimit{Tenants: r.Tenants, Prefix: r.TenantPrefix}.String()
				if who == "" {
					who = "any"
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.ID, who, r.Name, r.State, at(&r.CreatedAt), at(r.LastUsedAt), at(r.ExpiresAt))
		}
		return tw.Flush()
	})
}

// listTokens reads every API token, or those of the employee with email,
// page after page.
func listTokens(ctx context.Context, db *postgres.DB, email string, now time.Time) ([]credentialJSON, error) {
	emps, err := db.Employees(ctx)
	if err != nil {
		return nil, err
	}
	emails := map[int64]string{}
	for _, e := range emps {
		emails[e.ID] = e.Email
	}
	f := keel.TokenFilter{All: true, Page: keel.Page{Limit: keel.MaxPageSize}}
	if email != "" {
		e, err := db.EmployeeByEmail(ctx, strings.TrimSpace(email))
		if err != nil {
			return nil, err
		}
		f = keel.TokenFilter{EmployeeID: e.ID, Page: f.Page}
	}
	out := []credentialJSON{}
	for {
		page, total, err := db.Tokens(ctx, keel.System, f)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			out = append(out, credentialJSON{ID: t.ID, EmployeeID: t.EmployeeID, Email: emails[t.EmployeeID], Name: t.Name, State: string(t.State(now)),
				CreatedAt: t.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: rfc3339(t.ExpiresAt), LastUsedAt: rfc3339(t.LastUsedAt), RevokedAt: rfc3339(t.RevokedAt)})
		}
		f.Offset += len(page)
		if len(page) == 0 || f.Offset >= total {
			return out, nil
		}
	}
}

// listIngestKeys reads every ingest key, page after page.
func listIngestKeys(ctx context.Context, db *postgres.DB, now time.Time) ([]credentialJSON, error) {
	p := keel.Page{Limit: keel.MaxPageSize}
	out := []credentialJSON{}
	for {
		page, total, err := db.ListIngestKeys(ctx, keel.System, p)
		if err != nil {
			return nil, err
		}
		for _, k := range page {
			out = append(out, credentialJSON{ID: k.ID, Name: k.Name, State: string(k.State(now)), CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339),
				ExpiresAt: rfc3339(k.ExpiresAt), LastUsedAt: rfc3339(k.LastUsedAt), RevokedAt: rfc3339(k.RevokedAt), Tenants: k.Limit.Tenants, TenantPrefix: k.Limit.Prefix})
		}
		p.Offset += len(page)
		if len(page) == 0 || p.Offset >= total {
			return out, nil
		}
	}
}

// runTokenRevoke revokes one API token or ingest key by its id.
func runTokenRevoke(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("token revoke", stderr)
	c.register(fs, env)
	id := fs.Int64("id", 0, "the id of the token or key (keel token list shows them; required)")
	ingest := fs.Bool("ingest", false, "the id is an ingest key's")
	if err := parseOneShot(fs, args, "token revoke", tokenUsage, "id"); err != nil {
		return err
	}
	if *id == 0 {
		return errors.New("token revoke: --id is required")
	}
	if *id < 0 {
		return fmt.Errorf("token revoke: --id: %d is not an id", *id)
	}
	return withPostgres(ctx, c.pg, func(db *postgres.DB) error {
		if *ingest {
			k, err := db.RevokeIngestKey(ctx, keel.System, *id)
			if err != nil {
				return cliError("token revoke", err)
			}
			fmt.Fprintf(stdout, "ingest key %d %q revoked: the collectors refuse it within seconds.\n", k.ID, k.Name)
			return nil
		}
		t, err := db.RevokeToken(ctx, keel.System, *id)
		if err != nil {
			return cliError("token revoke", err)
		}
		fmt.Fprintf(stdout, "API token %d %q of employee %d revoked: it is refused from now on.\n", t.ID, t.Name, t.EmployeeID)
		return nil
	})
}
