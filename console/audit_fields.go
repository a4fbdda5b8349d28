package console

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// The audit log keeps each record before and after a change as the JSON of
// its domain type (postgres writes it). The audit pages read it back into
// that type and show it as fields labelled in the reader's language, with
// values formatted as the other pages show them: money as money, days as
// days, employees, customers and products by name.

// auditField is one field of an audited record, as shown.
type auditField struct{ Label, Value string }

// auditView formats audited records for one page: the reader's language,
// the calendar instants are shown on and the names the page knows.
type auditView struct {
	l         lang
	cal       keel.Calendar
	employees names
	customers map[int64]string
	products  products
}

// auditViewOf reads the names the entries refer to: every employee (emps,
// when the page has read them already) and product (both lists are
// short), and the customers the entries name.
func (s *server) auditViewOf(ctx context.Context, l lang, entries []keel.AuditEntry, emps []keel.Employee) (auditView, error) {
	v := auditView{l: l, cal: s.Calendar}
	var err error
	if emps == nil {
		if emps, err = s.employees.Employees(ctx); err != nil {
			return v, err
		}
	}
	v.employees = employeeNames(emps)
	if v.products, err = s.productNames(ctx); err != nil {
		return v, err
	}
	var ids []int64
	for _, a := range entries {
		switch a.Entity {
		case "customer":
			ids = append(ids, a.EntityID)
		case "follow_up", "order":
			for _, raw := range []json.RawMessage{a.Before, a.After} {
				var r struct{ CustomerID int64 }
				if json.Unmarshal(raw, &r) == nil && r.CustomerID > 0 {
					ids = append(ids, r.CustomerID)
				}
			}
		}
	}
	v.customers, err = s.customers.CustomerNames(ctx, ids)
	return v, err
}

// record reads an audited record of kind entity into its domain type and
// returns its fields in the order its page shows them, and the page a
// record without one of its own is shown on (a follow-up on its
// customer's, a price on its product's). A record the view does not know
// (or cannot read) is one field, its JSON.
func (v auditView) record(entity string, raw json.RawMessage) (fields []auditField, link string) {
	if jsonNull(raw) {
		return nil, ""
	}
	var ids struct{ CustomerID, ProductID int64 }
	json.Unmarshal(raw, &ids) // the page of a record shown on another's; 0 when there is none
	ok := false
	switch entity {
	case "customer":
		fields, ok = read(raw, v.customer)
	case "follow_up":
		fields, ok = read(raw, v.followUp)
		link = "/customers/" + strconv.FormatInt(ids.CustomerID, 10)
	case "order":
		fields, ok = read(raw, v.order)
	case "product":
		fields, ok = read(raw, v.product)
	case "price_version":
		fields, ok = read(raw, v.price)
		link = "/products/" + strconv.FormatInt(ids.ProductID, 10)
	case "employee":
		fields, ok = read(raw, v.employee)
	case "api_token":
		fields, ok = read(raw, v.token)
	case "ingest_key":
		fields, ok = read(raw, v.ingestKey)
	}
	if ok {
		return fields, link
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		buf.Reset()
		buf.Write(raw)
	}
	return []auditField{{v.l.T("Record"), clip(buf.String(), 400)}}, ""
}

// read decodes raw into the record type show takes and shows it; ok is
// false when raw is not one.
func read[T any](raw json.RawMessage, show func(T) []auditField) (fields []auditField, ok bool) {
	var r T
	if json.Unmarshal(raw, &r) != nil {
		return nil, false
	}
	return show(r), true
}

// orderRecord is an order as the audit log keeps it: with the grants it
// made, when it made some.
type orderRecord struct {
	keel.Order
	Grants []keel.Grant
}

// tokenRecord is an API token as the audit log keeps it.
type tokenRecord struct {
	EmployeeID int64      `json:"employee_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func (v auditView) token(t tokenRecord) []auditField {
	l := v.l
	return []auditField{{l.T("Employee"), v.employee0(t.EmployeeID)}, {l.T("Name"), t.Name}, {l.T("Created at"), v.datetime(t.CreatedAt)},
		{l.T("Expires at"), v.datetimePtr(t.ExpiresAt)}, {l.T("Revoked at"), v.datetimePtr(t.RevokedAt)}}
}

// ingestKeyRecord is an ingest key as the audit log keeps it.
type ingestKeyRecord struct {
	Name         string     `json:"name"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
	Tenants      []string   `json:"tenants"`
	TenantPrefix string     `json:"tenant_prefix"`
	MaxAgeSecs   int64      `json:"max_age_seconds"`
	Rate         float64    `json:"rate_per_second"`
}

func (v auditView) ingestKey(k ingestKeyRecord) []auditField {
	l := v.l
	return []auditField{{l.T("Name"), k.Name}, {l.T("Tenants"), tenantLimitLabel(l, keel.TenantLimit{Tenants: k.Tenants, Prefix: k.TenantPrefix})},
		{l.T("Late-arrival window"), lateWindowLabel(l, time.Duration(k.MaxAgeSecs)*time.Second)}, {l.T("Events per second"), rateLabel(l, k.Rate)},
		{l.T("Created at"), v.datetime(k.CreatedAt)}, {l.T("Expires at"), v.datetimePtr(k.ExpiresAt)}, {l.T("Revoked at"), v.datetimePtr(k.RevokedAt)}}
}

func (v auditView) customer(c keel.Customer) []auditField {
	l := v.l
	contacts := make([]string, len(c.Contacts))
	for i, ct := range c.Contacts {
		contacts[i] = strings.Join(nonEmpty(ct.Name, ct.Email, ct.Phone, ct.Title), " · ")
	}
	return []auditField{
		{l.T("Name"), c.Name}, {l.T("Tenant id"), c.TenantID},
		{l.T("Sales owner"), v.employees.ofPtr(c.SalesOwner)}, {l.T("CSM owner"), v.employees.ofPtr(c.CSMOwner)},
		{l.T("Industry"), c.Industry}, {l.T("Region"), c.Region}, {l.T("Website"), c.Website}, {l.T("Notes"), c.Notes},
		{l.T("Contacts"), strings.Join(contacts, "; ")},
		{l.T("Created at"), v.datetime(c.CreatedAt)}, {l.T("Last changed at"), v.datetime(c.UpdatedAt)},
	}
}

func (v auditView) followUp(f keel.FollowUp) []auditField {
	l := v.l
	files := make([]string, len(f.Attachments))
	for i, a := range f.Attachments {
		files[i] = a.Name
	}
	return []auditField{
		{l.T("Customer"), v.customer0(f.CustomerID)}, {l.T("Kind"), followUpKindLabel(l, f.Kind)},
		{l.T("When"), v.datetime(f.At)}, {l.T("Author"), v.employee0(f.AuthorID)}, {l.T("Text"), clip(f.Text, 400)},
		{l.T("Attachments"), strings.Join(files, ", ")}, {l.T("Created at"), v.datetime(f.CreatedAt)},
	}
}

func (v auditView) order(o orderRecord) []auditField {
	l := v.l
	grants := o.Grants
	money := func(n int64) string { return keel.FormatAmount(n, o.Currency) + " " + o.Currency }
	lines := make([]string, len(o.Lines))
	for i, ln := range o.Lines {
		s := l.T("%s × %d for %d months at %s %s", v.products.label(ln.ProductID), ln.Quantity, ln.Months, money(ln.UnitAmount), periodLabel(l, ln.Period))
		if ln.Start != nil {
			s += " " + l.T("from %s", date(*ln.Start))
		}
		lines[i] = s
	}
	fields := []auditField{
		{l.T("Customer"), v.customer0(o.CustomerID)}, {l.T("Kind"), orderKindLabel(l, o.Kind)}, {l.T("Status"), orderStatusLabel(l, o.Status)},
		{l.T("Lines"), strings.Join(lines, "; ")}, {l.T("Total"), money(o.Total())},
		{l.T("Created by"), v.employee0(o.CreatedBy)}, {l.T("Created at"), v.datetime(o.CreatedAt)},
		{l.T("Submitted at"), v.datetimePtr(o.SubmittedAt)},
		{l.T("Decided by"), v.employees.ofPtr(o.DecidedBy)}, {l.T("Decided at"), v.datetimePtr(o.DecidedAt)},
	}
	if p := o.Payment; p != nil {
		fields = append(fields, auditField{l.T("Payment"), money(p.Amount) + " · " + v.cal.Day(p.PaidAt).Format(time.DateOnly) + " · " + p.Reference})
	} else {
		fields = append(fields, auditField{l.T("Payment"), ""})
	}
	fields = append(fields, auditField{l.T("Reason for rejecting"), o.RejectReason},
		auditField{l.T("Voided by"), v.employees.ofPtr(o.VoidedBy)}, auditField{l.T("Voided at"), v.datetimePtr(o.VoidedAt)})
	granted := make([]string, len(grants))
	for i, g := range grants {
		s := l.T("%s: %d from %s to %s", v.products.label(g.ProductID), g.Quantity, date(g.Start), date(g.End))
		if g.Kind == keel.GrantCut {
			s = l.T("%s: ends on %s (upgrade)", v.products.label(g.ProductID), date(g.Start))
		}
		if g.Void {
			s += " " + l.T("(taken back)")
		}
		granted[i] = s
	}
	return append(fields, auditField{l.T("Granted"), strings.Join(granted, "; ")})
}

func (v auditView) product(p keel.Product) []auditField {
	l := v.l
	return []auditField{
		{l.T("Code"), p.Code}, {l.T("Name"), p.Name}, {l.T("Kind"), productKindLabel(l, p.Kind)},
		{l.T("Unit"), p.Unit}, {l.T("Status"), productStatusLabel(l, p.Status)}, {l.T("Created at"), v.datetime(p.CreatedAt)},
	}
}

func (v auditView) price(p keel.PriceVersion) []auditField {
	l := v.l
	to := ""
	if p.EffectiveTo != nil {
		to = date(*p.EffectiveTo)
	}
	return []auditField{
		{l.T("Product"), v.products.label(p.ProductID)},
		{l.T("Price"), keel.FormatAmount(p.Amount, p.Currency) + " " + p.Currency + " " + periodLabel(l, p.Period)},
		{l.T("Effective from"), date(p.EffectiveFrom)}, {l.T("Effective until"), to}, {l.T("Created at"), v.datetime(p.CreatedAt)},
	}
}

func (v auditView) employee(e keel.Employee) []auditField {
	l := v.l
	roles := make([]string, len(e.Roles))
	for i, r := range e.Roles {
		roles[i] = roleLabel(l, r)
	}
	status := l.T("Employed")
	if e.Status == keel.EmployeeDeparted {
		status = l.T("Departed")
	}
	return []auditField{
		{l.T("Email"), e.Email}, {l.T("Name"), e.Name}, {l.T("Roles"), strings.Join(roles, ", ")},
		{l.T("Status"), status}, {l.T("Interface language"), localeName(e.Locale)}, {l.T("Added on"), v.datetime(e.CreatedAt)},
		{l.T("Password"), passwordLabel(l, e)},
	}
}

// employee0 and customer0 name a record by id: "" for none, "#id" for one
// the page does not know.
func (v auditView) employee0(id int64) string {
	if id == 0 {
		return keel.System.Name
	}
	return v.employees.of(id)
}

func (v auditView) customer0(id int64) string {
	if name, ok := v.customers[id]; ok {
		return name
	}
	if id == 0 {
		return ""
	}
	return "#" + strconv.FormatInt(id, 10)
}

func (v auditView) datetime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(v.cal.Location()).Format("2006-01-02 15:04 MST")
}

func (v auditView) datetimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return v.datetime(*t)
}

// date shows a day of the records; "" for none.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func jsonNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// fieldChange is one field a change changed.
type fieldChange struct {
	Field    string
	Old, New string
}

// auditValueMax is how much of a changed value the list of changes shows;
// the whole record is beside it.
const auditValueMax = 80

// changes lists the fields whose values differ between a record before and
// after a change, in the record's order; for a created record, its fields
// that have a value.
func changes(before, after []auditField) []fieldChange {
	old := make(map[string]string, len(before))
	for _, f := range before {
		old[f.Label] = f.Value
	}
	var out []fieldChange
	seen := map[string]bool{}
	for _, f := range after {
		seen[f.Label] = true
		if o := old[f.Label]; o != f.Value && (before != nil || f.Value != "") {
			out = append(out, fieldChange{Field: f.Label, Old: shown(o), New: shown(f.Value)})
		}
	}
	for _, f := range before { // fields a deletion took away
		if !seen[f.Label] && f.Value != "" {
			out = append(out, fieldChange{Field: f.Label, Old: shown(f.Value), New: "—"})
		}
	}
	return out
}

// shown is a value as the list of changes shows it: cut short, "—" for
// none.
func shown(s string) string {
	if s == "" {
		return "—"
	}
	return clip(s, auditValueMax)
}
