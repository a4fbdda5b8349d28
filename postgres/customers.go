package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

const customerColumns = `c.id, c.name, coalesce(c.tenant_id, ''), c.sales_owner, c.csm_owner, c.industry, c.region,
	c.website, c.notes, c.contacts, c.created_at, c.updated_at, c.version`

func scanCustomer(row pgx.Row) (keel.Customer, error) {
	var c keel.Customer
	var contacts []byte
	if err := row.Scan(&c.ID, &c.Name, &c.TenantID, &c.SalesOwner, &c.CSMOwner, &c.Industry, &c.Region,
		&c.Website, &c.Notes, &contacts, &c.CreatedAt, &c.UpdatedAt, &c.Version); err != nil {
		return keel.Customer{}, err
	}
	if err := json.Unmarshal(contacts, &c.Contacts); err != nil {
		return keel.Customer{}, fmt.Errorf("customer %d contacts: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// readCustomer reads customer id; lock is "" or a locking clause such as
// "FOR NO KEY UPDATE". It returns ENOTFOUND.
func readCustomer(ctx context.Context, q querier, id int64, lock string) (keel.Customer, error) {
	c, err := scanCustomer(q.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers c WHERE c.id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Customer{}, keel.CustomerNotFound(id)
	}
	if err != nil {
		return keel.Customer{}, fmt.Errorf("read customer %d: %w", id, err)
	}
	return c, nil
}

// factOfCustomer is the data of the customer's customer.created and
// customer.updated facts.
func factOfCustomer(c keel.Customer) keel.CustomerFact {
	return keel.CustomerFact{ID: c.ID, Name: c.Name, TenantID: c.TenantID, SalesOwner: c.SalesOwner, CSMOwner: c.CSMOwner,
		Industry: c.Industry, Region: c.Region, Website: c.Website, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// checkOwners applies keel.Customer.CheckOwners to the owners c sets. An
// owner unchanged from before is not checked again, so an owner who has
// since departed does not block editing the rest of the record. The owners
// are locked (FOR SHARE) so they cannot depart while the change commits.
func checkOwners(ctx context.Context, tx pgx.Tx, c keel.Customer, before *keel.Customer) error {
	if before != nil && samePtr(before.SalesOwner, c.SalesOwner) {
		c.SalesOwner = nil
	}
	if before != nil && samePtr(before.CSMOwner, c.CSMOwner) {
		c.CSMOwner = nil
	}
	owner := func(id *int64) (*keel.Employee, error) {
		if id == nil {
			return nil, nil
		}
		e, err := scanEmployee(tx.QueryRow(ctx, `SELECT `+employeeColumns+` FROM employees e WHERE id = $1 FOR SHARE`, *id))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read employee %d: %w", *id, err)
		}
		return &e, nil
	}
	sales, err := owner(c.SalesOwner)
	if err != nil {
		return err
	}
	csm, err := owner(c.CSMOwner)
	if err != nil {
		return err
	}
	return c.CheckOwners(sales, csm)
}

func samePtr(a, b *int64) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// linkTenant records the customer's tenant in tenants (named after the
// customer), and returns ECONFLICT when another customer has it.
func linkTenant(ctx context.Context, tx pgx.Tx, c keel.Customer) error {
	var other int64
	err := tx.QueryRow(ctx, `SELECT id FROM customers WHERE tenant_id = $1 AND id <> $2`, c.TenantID, c.ID).Scan(&other)
	if err == nil {
		return keel.FieldErrorf(keel.ECONFLICT, "tenant_id", "%s is already linked to customer %d", c.TenantID, other)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("link tenant %s: %w", c.TenantID, err)
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`,
		c.TenantID, c.Name); err != nil {
		return fmt.Errorf("link tenant %s: %w", c.TenantID, err)
	}
	return nil
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func contactsJSON(cs []keel.Contact) ([]byte, error) {
	if cs == nil {
		cs = []keel.Contact{}
	}
	return json.Marshal(cs)
}

// CreateCustomer adds a customer and returns it with its (empty) derived
// state. A tenant id links the customer to its product events: the tenant
// is recorded and a tenant.linked fact sent. It needs keel.ActCustomerWrite;
// it returns EINVALID for a bad record or owner, and ECONFLICT when the
// tenant belongs to another customer.
func (db *DB) CreateCustomer(ctx context.Context, by keel.Employee, cu keel.Customer) (keel.CustomerView, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.CustomerView{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActCustomerWrite); err != nil {
		return keel.CustomerView{}, err
	}
	cu.ID, cu.CreatedAt, cu.UpdatedAt = 0, c.now, c.now
	if err := cu.Validate(); err != nil {
		return keel.CustomerView{}, err
	}
	if err := checkOwners(ctx, c.tx, cu, nil); err != nil {
		return keel.CustomerView{}, err
	}
	if cu.TenantID != "" {
		if err := linkTenant(ctx, c.tx, cu); err != nil {
			return keel.CustomerView{}, err
		}
	}
	contacts, err := contactsJSON(cu.Contacts)
	if err != nil {
		return keel.CustomerView{}, fmt.Errorf("create customer: %w", err)
	}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO customers (name, tenant_id, sales_owner, csm_owner, industry, region, website, notes, contacts, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id`,
		cu.Name, nullString(cu.TenantID), cu.SalesOwner, cu.CSMOwner, cu.Industry, cu.Region, cu.Website, cu.Notes,
		contacts, cu.CreatedAt).Scan(&cu.ID)
	if isUnique(err, "customers_tenant_id_key") {
		return keel.CustomerView{}, keel.FieldErrorf(keel.ECONFLICT, "tenant_id", "%s is already linked to another customer", cu.TenantID)
	}
	if err != nil {
		return keel.CustomerView{}, fmt.Errorf("create customer: %w", err)
	}
	// Read back, so the audit row, the facts and the answer hold what was
	// stored, exactly as later reads return it.
	if cu, err = readCustomer(ctx, c.tx, cu.ID, ""); err != nil {
		return keel.CustomerView{}, err
	}
	if err := c.audit(ctx, "customer.create", "customer", cu.ID, nil, cu); err != nil {
		return keel.CustomerView{}, err
	}
	if err := c.fact(ctx, keel.FactCustomerCreated, cu.ID, cu.TenantID, factOfCustomer(cu)); err != nil {
		return keel.CustomerView{}, err
	}
	if cu.TenantID != "" {
		if err := c.fact(ctx, keel.FactTenantLinked, cu.ID, cu.TenantID, keel.TenantFact{CustomerID: cu.ID, TenantID: cu.TenantID, Name: cu.Name}); err != nil {
			return keel.CustomerView{}, err
		}
	}
	views, err := customerViews(ctx, c.tx, []keel.Customer{cu}, c.now)
	if err != nil {
		return keel.CustomerView{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.CustomerView{}, fmt.Errorf("create customer: %w", err)
	}
	return views[0], nil
}

// UpdateCustomer replaces the editable fields of customer cu.ID: name,
// tenant id, owners, industry, region, website, notes and contacts. A new
// tenant id sends a tenant.linked fact. Who may change what is
// keel.Customer.CheckChange, judged against the customer as locked in the
// transaction: the record needs keel.ActCustomerWrite, an owner admin,
// leadership or its current holder (EFORBIDDEN naming the owner field).
// It returns ENOTFOUND, EINVALID and ECONFLICT as CreateCustomer does.
func (db *DB) UpdateCustomer(ctx context.Context, by keel.Employee, cu keel.Customer) (keel.CustomerView, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.CustomerView{}, err
	}
	defer c.tx.Rollback(ctx)
	// Who may change nothing of any customer is refused before it is read.
	if err := c.by.Can(keel.ActCustomerWrite); err != nil && c.by.Can(keel.ActCustomerOwners) != nil {
		return keel.CustomerView{}, err
	}
	before, err := readCustomer(ctx, c.tx, cu.ID, "FOR NO KEY UPDATE")
	if err != nil {
		return keel.CustomerView{}, err
	}
	// A caller that read the customer first (a merge) passes the Version
	// it read; a change in between would be overwritten, so it is refused
	// and the caller merges again. Version 0 replaces unconditionally.
	if cu.Version != 0 && cu.Version != before.Version {
		return keel.CustomerView{}, keel.ErrChanged
	}
	if err := before.CheckChange(c.by, cu); err != nil {
		return keel.CustomerView{}, err
	}
	cu.CreatedAt, cu.UpdatedAt = before.CreatedAt, c.now
	if err := cu.Validate(); err != nil {
		return keel.CustomerView{}, err
	}
	if err := checkOwners(ctx, c.tx, cu, &before); err != nil {
		return keel.CustomerView{}, err
	}
	if cu.TenantID != "" {
		if err := linkTenant(ctx, c.tx, cu); err != nil {
			return keel.CustomerView{}, err
		}
	}
	contacts, err := contactsJSON(cu.Contacts)
	if err != nil {
		return keel.CustomerView{}, fmt.Errorf("update customer %d: %w", cu.ID, err)
	}
	_, err = c.tx.Exec(ctx,
		`UPDATE customers SET name = $2, tenant_id = $3, sales_owner = $4, csm_owner = $5, industry = $6, region = $7,
		        website = $8, notes = $9, contacts = $10, updated_at = $11, version = version + 1
		 WHERE id = $1`,
		cu.ID, cu.Name, nullString(cu.TenantID), cu.SalesOwner, cu.CSMOwner, cu.Industry, cu.Region, cu.Website, cu.Notes,
		contacts, cu.UpdatedAt)
	if isUnique(err, "customers_tenant_id_key") {
		return keel.CustomerView{}, keel.FieldErrorf(keel.ECONFLICT, "tenant_id", "%s is already linked to another customer", cu.TenantID)
	}
	if err != nil {
		return keel.CustomerView{}, fmt.Errorf("update customer %d: %w", cu.ID, err)
	}
	// Read back, as CreateCustomer does.
	after, err := readCustomer(ctx, c.tx, cu.ID, "")
	if err != nil {
		return keel.CustomerView{}, err
	}
	if err := c.audit(ctx, "customer.update", "customer", cu.ID, before, after); err != nil {
		return keel.CustomerView{}, err
	}
	if err := c.fact(ctx, keel.FactCustomerUpdated, after.ID, after.TenantID, factOfCustomer(after)); err != nil {
		return keel.CustomerView{}, err
	}
	if after.TenantID != "" && after.TenantID != before.TenantID {
		tf := keel.TenantFact{CustomerID: after.ID, TenantID: after.TenantID, Previous: before.TenantID, Name: after.Name}
		if err := c.fact(ctx, keel.FactTenantLinked, after.ID, after.TenantID, tf); err != nil {
			return keel.CustomerView{}, err
		}
	}
	views, err := customerViews(ctx, c.tx, []keel.Customer{after}, c.now)
	if err != nil {
		return keel.CustomerView{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.CustomerView{}, fmt.Errorf("update customer %d: %w", cu.ID, err)
	}
	return views[0], nil
}

// Customer returns customer id with everything derived about it today: its
// status, first purchase, payment totals and subscriptions with their
// grants. It returns ENOTFOUND.
func (db *DB) Customer(ctx context.Context, id int64) (keel.CustomerView, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return keel.CustomerView{}, fmt.Errorf("read customer %d: %w", id, err)
	}
	defer tx.Rollback(ctx)
	cu, err := readCustomer(ctx, tx, id, "")
	if err != nil {
		return keel.CustomerView{}, err
	}
	views, err := customerViews(ctx, tx, []keel.Customer{cu}, db.today())
	if err != nil {
		return keel.CustomerView{}, err
	}
	return views[0], nil
}

// customerViews derives the status, first purchase, totals and
// subscriptions of customers on day today, with the domain's rules.
func customerViews(ctx context.Context, q querier, cs []keel.Customer, today time.Time) ([]keel.CustomerView, error) {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	subs, err := loadSubscriptions(ctx, q, "s.customer_id = ANY($1)", ids)
	if err != nil {
		return nil, err
	}
	bySub := map[int64][]keel.Subscription{}
	for _, s := range subs {
		bySub[s.CustomerID] = append(bySub[s.CustomerID], s)
	}
	// Only approved orders count towards the totals (keel.TotalsOf skips
	// the others too); reading just those keeps the page cheap.
	orders, err := loadOrders(ctx, q, "o.customer_id = ANY($1) AND o.status = 'approved' AND o.kind <> 'trial'", ids)
	if err != nil {
		return nil, err
	}
	byOrder := map[int64][]keel.Order{}
	for _, o := range orders {
		byOrder[o.CustomerID] = append(byOrder[o.CustomerID], o)
	}
	out := make([]keel.CustomerView, len(cs))
	for i, c := range cs {
		s := bySub[c.ID]
		if s == nil {
			s = []keel.Subscription{}
		}
		out[i] = keel.CustomerView{Customer: c, Status: keel.StatusOf(s, today), FirstPurchase: keel.FirstPurchase(s),
			Totals: keel.TotalsOf(byOrder[c.ID]), Subscriptions: s}
	}
	return out, nil
}

// customerStatusSQL is keel.StatusOf in SQL over live_terms, for filtering
// a list by status: $today is the day, $of the customers whose terms are
// read. A customer with no live terms has no row (a prospect). A test
// checks it against keel.StatusOf. Use customerStatusQuery.
const customerStatusSQL = `SELECT customer_id, CASE
	WHEN bool_or(NOT trial AND starts_on <= $today AND $today < ends_on)
	     AND bool_or(NOT trial AND order_kind = 'renewal') THEN 'renewed'
	WHEN bool_or(NOT trial AND $today < ends_on) THEN 'active'
	WHEN bool_or(NOT trial) THEN 'churned'
	ELSE 'trial' END AS status
	FROM live_terms WHERE $of GROUP BY customer_id`

// customerStatusQuery is customerStatusSQL on the day of the parameter
// today (as "$N") for the customers that condition of on customer_id
// selects ("" = every customer): a page showing a few customers' status
// derives theirs only (every customer's is ~0.2 s of Postgres at 10,000).
func customerStatusQuery(today, of string) string {
	if of == "" {
		of = "true"
	}
	return strings.NewReplacer("$today", today+"::date", "$of", of).Replace(customerStatusSQL)
}

// Customers lists customers by name with their derived state, and the
// number that match the filter: Query in the name or tenant id (any case),
// Owner as sales or CSM owner, Status as derived today, Tenants as the
// customer's tenant id (an empty non-nil list matches none). It returns
// EINVALID for a bad page or status.
func (db *DB) Customers(ctx context.Context, f keel.CustomerFilter) ([]keel.CustomerView, int, error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	p, err := f.Page.Normalize()
	if err != nil {
		return nil, 0, err
	}
	today := db.today()
	var c conds
	from := ` FROM customers c`
	if f.Status != "" {
		day := c.arg(today)
		from += ` LEFT JOIN (` + customerStatusQuery(day, "") + `) st ON st.customer_id = c.id`
		c.add("coalesce(st.status, 'prospect') = ?", string(f.Status))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		c.add(`(c.name ILIKE ? OR c.tenant_id ILIKE ?)`, "%"+likeEscape(q)+"%")
	}
	if f.Owner != 0 {
		c.add("(c.sales_owner = ? OR c.csm_owner = ?)", f.Owner)
	}
	if f.Tenants != nil {
		// An empty array matches no row, as the filter promises.
		c.add("c.tenant_id = ANY(?)", f.Tenants)
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, 0, fmt.Errorf("list customers: %w", err)
	}
	defer tx.Rollback(ctx)
	// A status filter derives every customer's status to find the
	// matching ones, so the page counts them in the same query (a window
	// count) rather than deriving them all again for a count; without it
	// the count is cheap and the page stops at its rows (the name index).
	where, args := c.sql(), c.args
	counted := f.Status != ""
	var total int
	if !counted {
		if err := tx.QueryRow(ctx, `SELECT count(*)`+from+where, args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count customers: %w", err)
		}
	}
	cols := customerColumns
	if counted {
		cols += `, count(*) OVER ()`
	}
	sql := `SELECT ` + cols + from + where + ` ORDER BY lower(c.name), c.id` + c.page(p)
	rows, err := tx.Query(ctx, sql, c.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	var cs []keel.Customer
	for rows.Next() {
		var row pgx.Row = rows
		if counted {
			row = withTotal{rows, &total}
		}
		cu, err := scanCustomer(row)
		if err != nil {
			return nil, 0, fmt.Errorf("list customers: %w", err)
		}
		cs = append(cs, cu)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list customers: %w", err)
	}
	rows.Close()
	if counted && len(cs) == 0 && p.Offset > 0 {
		// A page past the end has no row to carry the count.
		if err := tx.QueryRow(ctx, `SELECT count(*)`+from+where, args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count customers: %w", err)
		}
	}
	views, err := customerViews(ctx, tx, cs, today)
	if err != nil {
		return nil, 0, err
	}
	return views, total, nil
}

// withTotal scans a row of customerColumns followed by a window count
// into the customer and total.
type withTotal struct {
	pgx.Row
	total *int
}

func (r withTotal) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.total)...) }

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CustomerNames returns the names of the customers with the given ids, in
// one query, for pages that list other records beside their customer.
// Unknown ids are left out.
func (db *DB) CustomerNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, name FROM customers WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("customer names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("customer names: %w", err)
		}
		out[id] = name
	}
	return out, rows.Err()
}

// MaxCustomerChoices is the most customers CustomerChoices returns.
const MaxCustomerChoices = 100

// CustomerChoices returns at most limit customers (1 to
// MaxCustomerChoices) for a picker, by name: those whose name or tenant id
// contains query (any case; "" = every customer), and first the customer
// whose id query is, when it is a number. It is one query that stops at
// limit rows, so a form does not list every customer. It returns EINVALID
// for a bad query ("q") or limit ("limit").
func (db *DB) CustomerChoices(ctx context.Context, query string, limit int) ([]keel.CustomerChoice, error) {
	query = strings.TrimSpace(query)
	if err := (keel.CustomerFilter{Query: query}).Validate(); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxCustomerChoices {
		return nil, keel.Invalid("limit", "must be %d to %d", 1, MaxCustomerChoices)
	}
	var id int64
	if n, err := strconv.ParseInt(query, 10, 64); err == nil && n > 0 {
		id = n
	}
	rows, err := db.pool.Query(ctx, `SELECT id, name, coalesce(tenant_id, '') FROM customers
WHERE $1 = '' OR id = $2 OR name ILIKE $3 OR tenant_id ILIKE $3
ORDER BY id = $2 DESC, lower(name), id LIMIT $4`, query, id, "%"+likeEscape(query)+"%", limit)
	if err != nil {
		return nil, fmt.Errorf("customer choices: %w", err)
	}
	defer rows.Close()
	out := []keel.CustomerChoice{}
	for rows.Next() {
		var c keel.CustomerChoice
		if err := rows.Scan(&c.ID, &c.Name, &c.TenantID); err != nil {
			return nil, fmt.Errorf("customer choices: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("customer choices: %w", err)
	}
	return out, nil
}
