package postgres

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"

	"github.com/keelhq/keel"
)

// Passwords: an employee signs in with an argon2id-hashed password. One
// Keel makes (AddEmployee, ResetPassword) is one-time — the console lets a
// session started with it do nothing but ChangePassword; one chosen by the
// employee (ChangePassword) or for them (AddEmployeeWithPassword,
// SetPassword, for provisioning) is not. Every change is audited, never
// with the password or its hash.

// oneTimePassword makes a password for Keel to hand out: 26 random base32
// characters, 130 bits.
func oneTimePassword() string { return rand.Text() }

// errSignIn is the one answer to every failed sign-in, so it tells an
// attacker nothing about which emails exist or who has departed.
var errSignIn = keel.Errorf(keel.EUNAUTHORIZED, "wrong email or password")

// CheckPassword returns the active employee with that email and password
// (OneTimePassword says whether it is one to replace), and EUNAUTHORIZED —
// the same message — for an unknown email, a wrong password or a departed
// employee. An unknown email costs as much time as a known one.
func (db *DB) CheckPassword(ctx context.Context, email, password string) (keel.Employee, error) {
	var hash string
	e, err := scanEmployee(db.pool.QueryRow(ctx,
		`SELECT `+employeeColumns+`, e.password_hash FROM employees e WHERE lower(e.email) = lower($1)`, strings.TrimSpace(email)), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		checkPassword(dummyHash(), password)
		return keel.Employee{}, errSignIn
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("check password: %w", err)
	}
	if !checkPassword(hash, password) || e.Status != keel.EmployeeActive {
		return keel.Employee{}, errSignIn
	}
	return e, nil
}

// ChangePassword sets the password of by, the employee signed in, to next
// when current is their password now: by a one-time password's owner on
// their first sign-in, or by anyone who wants a new one. next must pass
// keel.ValidPassword and differ from current. Every session of by ends in
// the same transaction (the caller starts a new one for the browser that
// changed it), so a session someone else holds does not outlive the
// change. It returns EINVALID naming current_password or new_password,
// and EUNAUTHORIZED for a departed employee.
func (db *DB) ChangePassword(ctx context.Context, by keel.Employee, current, next string) (keel.Employee, error) {
	if by.ID == 0 {
		return keel.Employee{}, keel.Errorf(keel.EUNAUTHORIZED, "unknown employee")
	}
	if err := keel.ValidPassword("new_password", next, by.Email, by.Name); err != nil {
		return keel.Employee{}, err
	}
	if next == current {
		return keel.Employee{}, keel.Invalid("new_password", "must differ from the current password")
	}
	hash := hashPassword(next)
	c, err := db.begin(ctx, by, "NO KEY UPDATE")
	if err != nil {
		return keel.Employee{}, err
	}
	defer c.tx.Rollback(ctx)
	if c.by.Status != keel.EmployeeActive {
		return keel.Employee{}, keel.Errorf(keel.EUNAUTHORIZED, "%s's account is deactivated", c.by.Email)
	}
	// The email and name may have changed since by was read.
	if err := keel.ValidPassword("new_password", next, c.by.Email, c.by.Name); err != nil {
		return keel.Employee{}, err
	}
	var old string
	if err := c.tx.QueryRow(ctx, `SELECT password_hash FROM employees WHERE id = $1`, c.by.ID).Scan(&old); err != nil {
		return keel.Employee{}, fmt.Errorf("change password of employee %d: %w", c.by.ID, err)
	}
	if !checkPassword(old, current) {
		return keel.Employee{}, keel.Invalid("current_password", "is not your current password")
	}
	after, err := c.setPassword(ctx, c.by, hash, false)
	if err != nil {
		return keel.Employee{}, err
	}
	if err := c.audit(ctx, "employee.password", "employee", c.by.ID, c.by, after); err != nil {
		return keel.Employee{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Employee{}, fmt.Errorf("change password of employee %d: %w", c.by.ID, err)
	}
	return after, nil
}

// ResetPassword gives employee id a new one-time password and returns it
// (show it once): their sessions end at once, and their next sign-in must
// set a password of their own. API tokens stay. It needs
// keel.ActEmployeeAdmin; it returns ENOTFOUND, and ECONFLICT for one's own
// account (change it with the current one) and for a departed employee.
func (db *DB) ResetPassword(ctx context.Context, by keel.Employee, id int64) (string, error) {
	password := oneTimePassword()
	if err := db.resetPassword(ctx, by, id, password, true); err != nil {
		return "", err
	}
	return password, nil
}

// SetPassword is ResetPassword with a password chosen for the employee,
// which they need not change: for provisioning scripts and tests (keel
// user reset-password --password-stdin), and the demo's staff. It must
// pass keel.ValidPassword (the refusal names "password").
func (db *DB) SetPassword(ctx context.Context, by keel.Employee, id int64, password string) error {
	if err := keel.ValidPassword("password", password); err != nil { // before hashing it
		return err
	}
	return db.resetPassword(ctx, by, id, password, false)
}

func (db *DB) resetPassword(ctx context.Context, by keel.Employee, id int64, password string, oneTime bool) error {
	hash := hashPassword(password)
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActEmployeeAdmin); err != nil {
		return err
	}
	if c.by.ID == id {
		return keel.Errorf(keel.ECONFLICT, "Change your own password with your current one (Password, at the top of every page).")
	}
	before, err := lockEmployee(ctx, c.tx, id)
	if err != nil {
		return err
	}
	if before.Status != keel.EmployeeActive {
		return keel.Errorf(keel.ECONFLICT, "%s has departed: their password cannot be reset", before.Email)
	}
	if !oneTime {
		if err := keel.ValidPassword("password", password, before.Email, before.Name); err != nil {
			return err
		}
	}
	after, err := c.setPassword(ctx, before, hash, oneTime)
	if err != nil {
		return err
	}
	if err := c.audit(ctx, "employee.password_reset", "employee", id, before, after); err != nil {
		return err
	}
	if err := c.commit(ctx); err != nil {
		return fmt.Errorf("reset password of employee %d: %w", id, err)
	}
	return nil
}

// setPassword stores e's new password hash and whether it is one-time,
// and ends e's sessions, in the change's transaction (e's row is locked).
func (c *change) setPassword(ctx context.Context, e keel.Employee, hash string, oneTime bool) (keel.Employee, error) {
	if _, err := c.tx.Exec(ctx, `UPDATE employees SET password_hash = $2, password_one_time = $3 WHERE id = $1`, e.ID, hash, oneTime); err != nil {
		return keel.Employee{}, fmt.Errorf("set password of employee %d: %w", e.ID, err)
	}
	if _, err := c.tx.Exec(ctx, `DELETE FROM sessions WHERE employee_id = $1`, e.ID); err != nil {
		return keel.Employee{}, fmt.Errorf("set password of employee %d: sessions: %w", e.ID, err)
	}
	e.OneTimePassword = oneTime
	return e, nil
}

// argon2id parameters: OWASP's recommendation for argon2id (19 MiB, two
// passes, one lane), ~20 ms a hash here. They are stored with each hash, so
// they can be raised later without invalidating old hashes.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// hashPassword returns the argon2id hash of password in PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func hashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// checkPassword reports whether password matches a hash made by
// hashPassword, comparing in constant time.
func checkPassword(encoded, password string) bool {
	if len(password) > keel.MaxPasswordLen {
		return false
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

var dummyHash = sync.OnceValue(func() string { return hashPassword(rand.Text()) })
