package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

const employeeColumns = `e.id, e.email, e.name, e.roles, e.status, e.locale, e.created_at, e.password_one_time`

// scanEmployee reads employeeColumns (over employees e) and then, into
// extra, any columns selected after them.
func scanEmployee(row pgx.Row, extra ...any) (keel.Employee, error) {
	var e keel.Employee
	var roles []string
	dest := append([]any{&e.ID, &e.Email, &e.Name, &roles, &e.Status, &e.Locale, &e.CreatedAt, &e.OneTimePassword}, extra...)
	if err := row.Scan(dest...); err != nil {
		return keel.Employee{}, err
	}
	e.Roles = make([]keel.Role, len(roles))
	for i, r := range roles {
		e.Roles[i] = keel.Role(r)
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

func roleNames(roles []keel.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

// lockEmployee reads employee id for update inside a change.
func lockEmployee(ctx context.Context, tx pgx.Tx, id int64) (keel.Employee, error) {
	e, err := scanEmployee(tx.QueryRow(ctx, `SELECT `+employeeColumns+` FROM employees e WHERE id = $1 FOR NO KEY UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Employee{}, keel.EmployeeNotFound(id)
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("read employee %d: %w", id, err)
	}
	return e, nil
}

// selfLock is the lock a change takes on the actor's row: UPDATE when the
// change is to that same row, so two such changes queue instead of both
// holding a share lock and deadlocking on the upgrade.
func selfLock(by keel.Employee, id int64) string {
	if by.ID == id {
		return "NO KEY UPDATE"
	}
	return "SHARE"
}

// AddEmployee adds an active employee and returns it with a generated
// one-time password, which is stored only as an argon2id hash: show it
// once. The first sign-in with it must set the employee's own password.
// It needs keel.ActEmployeeAdmin; it returns EINVALID for a bad record and
// ECONFLICT when the email (in any case) is taken.
func (db *DB) AddEmployee(ctx context.Context, by keel.Employee, e keel.Employee) (keel.Employee, string, error) {
	password := oneTimePassword()
	e, err := db.addEmployee(ctx, by, e, password, true)
	if err != nil {
		return keel.Employee{}, "", err
	}
	return e, password, nil
}

// AddEmployeeWithPassword is AddEmployee with a password chosen for the
// employee, which they need not change: for provisioning scripts and
// tests (keel user add --password-stdin). The password must pass
// keel.ValidPassword; the refusal names the field "password".
func (db *DB) AddEmployeeWithPassword(ctx context.Context, by keel.Employee, e keel.Employee, password string) (keel.Employee, error) {
	if err := keel.ValidPassword("password", password, strings.TrimSpace(e.Email), e.Name); err != nil {
		return keel.Employee{}, err
	}
	return db.addEmployee(ctx, by, e, password, false)
}

func (db *DB) addEmployee(ctx context.Context, by keel.Employee, e keel.Employee, password string, oneTime bool) (keel.Employee, error) {
	hash := hashPassword(password)
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.Employee{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActEmployeeAdmin); err != nil {
		return keel.Employee{}, err
	}
	e.ID, e.Email, e.Status, e.CreatedAt, e.OneTimePassword = 0, strings.TrimSpace(e.Email), keel.EmployeeActive, c.now, oneTime
	if e.Locale == "" {
		e.Locale = "en"
	}
	if err := e.Validate(); err != nil {
		return keel.Employee{}, err
	}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO employees (email, name, roles, status, locale, password_hash, password_one_time, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		e.Email, e.Name, roleNames(e.Roles), e.Status, e.Locale, hash, e.OneTimePassword, e.CreatedAt).Scan(&e.ID)
	if isUnique(err, "employees_email_key") {
		return keel.Employee{}, keel.FieldErrorf(keel.ECONFLICT, "email", "%s already belongs to an employee", e.Email)
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("add employee %s: %w", e.Email, err)
	}
	if err := c.audit(ctx, "employee.add", "employee", e.ID, nil, e); err != nil {
		return keel.Employee{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Employee{}, fmt.Errorf("add employee %s: %w", e.Email, err)
	}
	return e, nil
}

// Employee returns employee id, or ENOTFOUND.
func (db *DB) Employee(ctx context.Context, id int64) (keel.Employee, error) {
	e, err := scanEmployee(db.pool.QueryRow(ctx, `SELECT `+employeeColumns+` FROM employees e WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Employee{}, keel.EmployeeNotFound(id)
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("read employee %d: %w", id, err)
	}
	return e, nil
}

// EmployeeByEmail returns the employee with that email in any case, or
// ENOTFOUND.
func (db *DB) EmployeeByEmail(ctx context.Context, email string) (keel.Employee, error) {
	e, err := scanEmployee(db.pool.QueryRow(ctx,
		`SELECT `+employeeColumns+` FROM employees e WHERE lower(email) = lower($1)`, strings.TrimSpace(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Employee{}, keel.Errorf(keel.ENOTFOUND, "no employee with email %s", email)
	}
	if err != nil {
		return keel.Employee{}, fmt.Errorf("read employee %s: %w", email, err)
	}
	return e, nil
}

// Employees lists every employee, departed ones too, by name.
func (db *DB) Employees(ctx context.Context) ([]keel.Employee, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+employeeColumns+` FROM employees e ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list employees: %w", err)
	}
	defer rows.Close()
	out := []keel.Employee{}
	for rows.Next() {
		e, err := scanEmployee(rows)
		if err != nil {
			return nil, fmt.Errorf("list employees: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list employees: %w", err)
	}
	return out, nil
}

// lockAdmins is the first statement of every change that can take the
// admin role from an active employee (a change of roles, a deactivation):
// a transaction-wide lock that makes such changes wait for each other
// before they read anything. Two admins removing each other's role at the
// same moment then queue: the second counts the admins after the first
// has committed, and is refused as the last one (or no longer an admin),
// instead of both succeeding, or deadlocking on each other's row.
const lockAdmins = `SELECT pg_advisory_xact_lock(7370101)` // any constant only this lock uses

// keepAnAdmin refuses a change of before into after that would leave the
// company without an active admin, and with no one to give the role back
// from the console. It runs inside the change's transaction, after
// lockAdmins, so the count is of committed admins that no concurrent
// change is removing. It returns ECONFLICT.
func keepAnAdmin(ctx context.Context, tx pgx.Tx, before, after keel.Employee) error {
	wasAdmin := before.Status == keel.EmployeeActive && before.Has(keel.RoleAdmin)
	isAdmin := after.Status == keel.EmployeeActive && after.Has(keel.RoleAdmin)
	if !wasAdmin || isAdmin {
		return nil
	}
	var others int
	if err := tx.QueryRow(ctx,
		`SELECT count(*) FROM employees WHERE status = 'active' AND 'admin' = ANY (roles) AND id <> $1`, before.ID).Scan(&others); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if others == 0 {
		return keel.Errorf(keel.ECONFLICT, "%s is the last active admin: give another employee the admin role first", before.Email)
	}
	return nil
}

// SetEmployeeRoles replaces employee id's roles. It needs
// keel.ActEmployeeAdmin; it returns ENOTFOUND, EINVALID for bad roles and
// ECONFLICT when id is the last active admin and the roles leave admin out.
func (db *DB) SetEmployeeRoles(ctx context.Context, by keel.Employee, id int64, roles []keel.Role) (keel.Employee, error) {
	c, err := db.beginAfter(ctx, by, selfLock(by, id), lockAdmins)
	if err != nil {
		return keel.Employee{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActEmployeeAdmin); err != nil {
		return keel.Employee{}, err
	}
	before, err := lockEmployee(ctx, c.tx, id)
	if err != nil {
		return keel.Employee{}, err
	}
	after := before
	after.Roles = append([]keel.Role(nil), roles...)
	if err := after.Validate(); err != nil {
		return keel.Employee{}, err
	}
	if err := keepAnAdmin(ctx, c.tx, before, after); err != nil {
		return keel.Employee{}, err
	}
	if _, err := c.tx.Exec(ctx, `UPDATE employees SET roles = $2 WHERE id = $1`, id, roleNames(after.Roles)); err != nil {
		return keel.Employee{}, fmt.Errorf("set roles of employee %d: %w", id, err)
	}
	if err := c.audit(ctx, "employee.roles", "employee", id, before, after); err != nil {
		return keel.Employee{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Employee{}, fmt.Errorf("set roles of employee %d: %w", id, err)
	}
	return after, nil
}

// SetEmployeeLocale sets employee id's UI language, "en" or "zh".
// Employees may set their own; anyone else's needs keel.ActEmployeeAdmin.
// Setting the locale an employee already has changes nothing and writes no
// audit row. It returns ENOTFOUND, and EINVALID naming locale.
func (db *DB) SetEmployeeLocale(ctx context.Context, by keel.Employee, id int64, locale string) (keel.Employee, error) {
	// keel.Employee.Validate lets "" through (a new employee defaults to
	// en); a change must name the language.
	if err := keel.ValidLocale(locale); err != nil {
		return keel.Employee{}, err
	}
	c, err := db.begin(ctx, by, selfLock(by, id))
	if err != nil {
		return keel.Employee{}, err
	}
	defer c.tx.Rollback(ctx)
	if c.by.ID != id || id == 0 {
		if err := c.by.Can(keel.ActEmployeeAdmin); err != nil {
			return keel.Employee{}, err
		}
	} else if c.by.Status != keel.EmployeeActive {
		return keel.Employee{}, keel.Errorf(keel.EUNAUTHORIZED, "%s's account is deactivated", c.by.Email)
	}
	before, err := lockEmployee(ctx, c.tx, id)
	if err != nil {
		return keel.Employee{}, err
	}
	if before.Locale == locale {
		return before, nil
	}
	after := before
	after.Locale = locale
	if _, err := c.tx.Exec(ctx, `UPDATE employees SET locale = $2 WHERE id = $1`, id, locale); err != nil {
		return keel.Employee{}, fmt.Errorf("set locale of employee %d: %w", id, err)
	}
	if err := c.audit(ctx, "employee.locale", "employee", id, before, after); err != nil {
		return keel.Employee{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Employee{}, fmt.Errorf("set locale of employee %d: %w", id, err)
	}
	return after, nil
}

// DeactivateEmployee marks employee id departed and, in the same
// transaction, deletes their sessions and revokes their API tokens, so they
// are locked out at once. Deactivating a departed employee changes nothing.
// It needs keel.ActEmployeeAdmin; it returns ENOTFOUND, and ECONFLICT for
// one's own account and for the last active admin.
func (db *DB) DeactivateEmployee(ctx context.Context, by keel.Employee, id int64) (keel.Employee, error) {
	c, err := db.beginAfter(ctx, by, selfLock(by, id), lockAdmins)
	if err != nil {
		return keel.Employee{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActEmployeeAdmin); err != nil {
		return keel.Employee{}, err
	}
	if c.by.ID == id {
		return keel.Employee{}, keel.Errorf(keel.ECONFLICT, "You cannot deactivate your own account.")
	}
	before, err := lockEmployee(ctx, c.tx, id)
	if err != nil {
		return keel.Employee{}, err
	}
	if before.Status == keel.EmployeeDeparted {
		return before, nil
	}
	after := before
	after.Status = keel.EmployeeDeparted
	if err := keepAnAdmin(ctx, c.tx, before, after); err != nil {
		return keel.Employee{}, err
	}
	if _, err := c.tx.Exec(ctx, `UPDATE employees SET status = $2 WHERE id = $1`, id, after.Status); err != nil {
		return keel.Employee{}, fmt.Errorf("deactivate employee %d: %w", id, err)
	}
	if _, err := c.tx.Exec(ctx, `DELETE FROM sessions WHERE employee_id = $1`, id); err != nil {
		return keel.Employee{}, fmt.Errorf("deactivate employee %d: sessions: %w", id, err)
	}
	if _, err := c.tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE employee_id = $1 AND revoked_at IS NULL`, id, c.now); err != nil {
		return keel.Employee{}, fmt.Errorf("deactivate employee %d: tokens: %w", id, err)
	}
	if err := c.audit(ctx, "employee.deactivate", "employee", id, before, after); err != nil {
		return keel.Employee{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Employee{}, fmt.Errorf("deactivate employee %d: %w", id, err)
	}
	return after, nil
}
