package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/postgres"
)

// rolesFlag collects --role, given several times or comma-separated.
type rolesFlag []keel.Role

func (f *rolesFlag) String() string {
	names := make([]string, len(*f))
	for i, r := range *f {
		names[i] = string(r)
	}
	return strings.Join(names, ",")
}

func (f *rolesFlag) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		r, err := keel.ParseRole("--role", name)
		if err != nil {
			return errors.New(keel.ErrorMessage(err))
		}
		*f = append(*f, r)
	}
	return nil
}

const userUsage = "usage: keel user add --email E --name N --role R [--role R…] [--password-stdin] | keel user reset-password --email E [--password-stdin] | keel user grant --email E --role R | keel user revoke --email E --role R | keel user deactivate --email E"

// runUser adds and deactivates employees with machine access, as
// keel.System: how the first admin comes to exist, and how someone is
// locked out when no admin is at hand.
func runUser(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(userUsage)
	}
	switch args[0] {
	case "add":
		return runUserAdd(ctx, args[1:], env, stdout, stderr)
	case "reset-password":
		return runUserResetPassword(ctx, args[1:], env, stdout, stderr)
	case "grant":
		return runUserRoles(ctx, "grant", args[1:], env, stdout, stderr)
	case "revoke":
		return runUserRoles(ctx, "revoke", args[1:], env, stdout, stderr)
	case "deactivate":
		return runUserDeactivate(ctx, args[1:], env, stdout, stderr)
	}
	return fmt.Errorf("unknown user command %q; %s", args[0], userUsage)
}

func runUserAdd(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("user add", stderr)
	c.register(fs, env)
	email := fs.String("email", "", "the employee's email, which they sign in with (required)")
	name := fs.String("name", "", "the employee's name (required)")
	locale := fs.String("locale", "", "UI language: en or zh (default en)")
	var roles rolesFlag
	fs.Var(&roles, "role", "a role: admin, sales, csm, finance or leadership; repeat it or separate with commas (required)")
	fromStdin := fs.Bool("password-stdin", false, passwordStdinUsage)
	if err := parseOneShot(fs, args, "user add", userUsage, "email", "name"); err != nil {
		return err
	}
	if len(roles) == 0 {
		return errors.New("user add: --role is required (admin, sales, csm, finance or leadership)")
	}
	chosen, err := passwordFromStdin("user add", *fromStdin, env)
	if err != nil {
		return err
	}
	return withPostgres(ctx, c.pg, func(db *postgres.DB) error {
		e := keel.Employee{Email: strings.TrimSpace(*email), Name: *name, Roles: roles, Locale: *locale, Status: keel.EmployeeActive}
		if *fromStdin {
			e, err := db.AddEmployeeWithPassword(ctx, keel.System, e, chosen)
			if err != nil {
				return cliError("user add", err)
			}
			fmt.Fprintf(stdout, "employee %d <%s> added with roles %s and the password read from stdin.\n", e.ID, e.Email, (*rolesFlag)(&e.Roles).String())
			return nil
		}
		e, password, err := db.AddEmployee(ctx, keel.System, e)
		if err != nil {
			return cliError("user add", err)
		}
		fmt.Fprintln(stdout, password)
		fmt.Fprintf(stderr, "employee %d <%s> added with roles %s; the one-time password above is shown only this once, and their first sign-in sets their own.\n", e.ID, e.Email, (*rolesFlag)(&e.Roles).String())
		return nil
	})
}

const passwordStdinUsage = "read the password from the first line of standard input instead of making a one-time one; it need not be changed at the first sign-in (for provisioning scripts and tests)"

// passwordFromStdin reads the password --password-stdin promises: the
// first line of stdin, without its line ending. It is checked by the store
// (keel.ValidPassword), not here.
func passwordFromStdin(what string, on bool, env *Env) (string, error) {
	if !on {
		return "", nil
	}
	if env.stdin == nil {
		return "", fmt.Errorf("%s: --password-stdin: there is no standard input", what)
	}
	line, err := bufio.NewReader(io.LimitReader(env.stdin, keel.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: --password-stdin: %w", what, err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", fmt.Errorf("%s: --password-stdin: standard input holds no password", what)
	}
	return line, nil
}

// runUserResetPassword gives an employee a new one-time password (or,
// with --password-stdin, a chosen one): their sessions end, their API
// tokens stay.
func runUserResetPassword(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("user reset-password", stderr)
	c.register(fs, env)
	email := fs.String("email", "", "the employee's email (required)")
	fromStdin := fs.Bool("password-stdin", false, passwordStdinUsage)
	if err := parseOneShot(fs, args, "user reset-password", userUsage, "email"); err != nil {
		return err
	}
	chosen, err := passwordFromStdin("user reset-password", *fromStdin, env)
	if err != nil {
		return err
	}
	return withEmployee(ctx, c.pg, "user reset-password", *email, func(db *postgres.DB, e keel.Employee) error {
		if *fromStdin {
			if err := db.SetPassword(ctx, keel.System, e.ID, chosen); err != nil {
				return cliError("user reset-password", err)
			}
			fmt.Fprintf(stdout, "employee %d <%s> signs in with the password read from stdin; their sessions have ended.\n", e.ID, e.Email)
			return nil
		}
		password, err := db.ResetPassword(ctx, keel.System, e.ID)
		if err != nil {
			return cliError("user reset-password", err)
		}
		fmt.Fprintln(stdout, password)
		fmt.Fprintf(stderr, "employee %d <%s>: their sessions have ended; the one-time password above is shown only this once, and their next sign-in sets their own.\n", e.ID, e.Email)
		return nil
	})
}

// runUserRoles gives an employee roles (grant) or takes them away
// (revoke): from the shell, how an admin comes back when no one can sign
// in as one. The store refuses to take the admin role from the last
// active admin, as it does in the console.
func runUserRoles(ctx context.Context, verb string, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	what := "user " + verb
	fs := newFlagSet(what, stderr)
	c.register(fs, env)
	email := fs.String("email", "", "the employee's email (required)")
	var roles rolesFlag
	fs.Var(&roles, "role", "a role: admin, sales, csm, finance or leadership; repeat it or separate with commas (required)")
	if err := parseOneShot(fs, args, what, userUsage, "email"); err != nil {
		return err
	}
	if len(roles) == 0 {
		return fmt.Errorf("%s: --role is required (admin, sales, csm, finance or leadership)", what)
	}
	return withEmployee(ctx, c.pg, what, *email, func(db *postgres.DB, e keel.Employee) error {
		var next []keel.Role
		if verb == "grant" {
			next = append(next, e.Roles...)
			for _, r := range roles {
				if !slices.Contains(next, r) {
					next = append(next, r)
				}
			}
		} else {
			for _, r := range e.Roles {
				if !slices.Contains(roles, r) {
					next = append(next, r)
				}
			}
		}
		if slices.Equal(next, e.Roles) {
			fmt.Fprintf(stdout, "employee %d <%s> has the roles %s already.\n", e.ID, e.Email, (*rolesFlag)(&e.Roles).String())
			return nil
		}
		e, err := db.SetEmployeeRoles(ctx, keel.System, e.ID, next)
		if err != nil {
			return cliError(what, err)
		}
		fmt.Fprintf(stdout, "employee %d <%s> has the roles %s.\n", e.ID, e.Email, (*rolesFlag)(&e.Roles).String())
		return nil
	})
}

func runUserDeactivate(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("user deactivate", stderr)
	c.register(fs, env)
	email := fs.String("email", "", "the employee's email (required)")
	if err := parseOneShot(fs, args, "user deactivate", userUsage, "email"); err != nil {
		return err
	}
	return withEmployee(ctx, c.pg, "user deactivate", *email, func(db *postgres.DB, e keel.Employee) error {
		e, err := db.DeactivateEmployee(ctx, keel.System, e.ID)
		if err != nil {
			return cliError("user deactivate", err)
		}
		fmt.Fprintf(stdout, "employee %d <%s> is %s: their sessions and API tokens no longer work.\n", e.ID, e.Email, e.Status)
		return nil
	})
}

// parseOneShot parses a one-shot command's flags, refuses an argument left
// over (more often a typo than meant), and requires the flags named, in
// that order.
func parseOneShot(fs *flag.FlagSet, args []string, what, usage string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q; %s", what, fs.Arg(0), usage)
	}
	for _, name := range required {
		if f := fs.Lookup(name); f == nil || f.Value.String() == "" {
			return fmt.Errorf("%s: --%s is required", what, name)
		}
	}
	return nil
}

// withEmployee runs do with Postgres (withPostgres) and the employee whose
// email a command was given; an unknown one is the user's error.
func withEmployee(ctx context.Context, pg, what, email string, do func(db *postgres.DB, e keel.Employee) error) error {
	return withPostgres(ctx, pg, func(db *postgres.DB) error {
		e, err := db.EmployeeByEmail(ctx, strings.TrimSpace(email))
		if err != nil {
			return cliError(what, err)
		}
		return do(db, e)
	})
}

// cliError shows a coded error by its message (it is meant for the user)
// and keeps any other error whole, for the operator.
func cliError(what string, err error) error {
	if keel.ErrorCode(err) != keel.EINTERNAL {
		return fmt.Errorf("%s: %s", what, keel.ErrorMessage(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}
