package keel

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Customer is a company that buys the product. Its status, first purchase
// and payment totals are derived from its orders and subscriptions, never
// typed in.
type Customer struct {
	ID         int64
	Name       string
	TenantID   string // the customer's tenant id in the product's events; "" = not linked yet
	SalesOwner *int64 // employee id
	CSMOwner   *int64 // employee id
	Industry   string
	Region     string
	Website    string
	Notes      string
	Contacts   []Contact
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Version counts the record's updates. An update that states the
	// version it read is refused with ErrChanged when another came first;
	// 0 replaces whatever is there.
	Version int64
}

// Contact is a person at a customer.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	Title string `json:"title,omitempty"`
}

// MaxContacts bounds a customer's contacts.
const MaxContacts = 50

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// ValidTenant returns an EINVALID error naming field unless id is a tenant id
// as events carry it.
func ValidTenant(field, id string) error {
	if !tenantPattern.MatchString(id) {
		return Invalid(field, "%q must be 1 to 128 letters, digits, '.', '_', ':' or '-'", id)
	}
	return nil
}

// Validate checks a new or changed customer.
func (c Customer) Validate() error {
	if err := validTexts("name", c.Name, "tenant_id", c.TenantID, "industry", c.Industry, "region", c.Region,
		"website", c.Website, "notes", c.Notes); err != nil {
		return err
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 200 {
		return Invalid("name", "must be 1 to %d characters", 200)
	}
	if c.TenantID != "" {
		if err := ValidTenant("tenant_id", c.TenantID); err != nil {
			return err
		}
	}
	for _, f := range []struct{ field, v string }{{"industry", c.Industry}, {"region", c.Region}, {"website", c.Website}} {
		if len(f.v) > 200 {
			return Invalid(f.field, "at most %d characters", 200)
		}
	}
	if len(c.Notes) > 10000 {
		return Invalid("notes", "at most %d characters", 10000)
	}
	if len(c.Contacts) > MaxContacts {
		return Invalid("contacts", "at most %d", MaxContacts)
	}
	for i, ct := range c.Contacts {
		field := fmt.Sprintf("contacts[%d]", i)
		if err := validTexts(field+".name", ct.Name, field+".email", ct.Email, field+".phone", ct.Phone, field+".title", ct.Title); err != nil {
			return err
		}
		if strings.TrimSpace(ct.Name) == "" || len(ct.Name) > 200 {
			return Invalid(field+".name", "must be 1 to %d characters", 200)
		}
		if ct.Email != "" && !validEmail(ct.Email) {
			return Invalid(field+".email", "%q is not an email address", ct.Email)
		}
		if len(ct.Phone) > 50 {
			return Invalid(field+".phone", "at most %d characters", 50)
		}
		if len(ct.Title) > 200 {
			return Invalid(field+".title", "at most %d characters", 200)
		}
	}
	return nil
}

// CheckOwners returns an EINVALID error when an owner is not an active
// employee with a fitting role: the sales owner must be in sales, the CSM
// owner a CSM.
func (c Customer) CheckOwners(sales, csm *Employee) error {
	if c.SalesOwner != nil {
		if sales == nil || sales.Status != EmployeeActive || !sales.Has(RoleSales) {
			return Invalid("sales_owner", "employee %d is not an active sales employee", *c.SalesOwner)
		}
	}
	if c.CSMOwner != nil {
		if csm == nil || csm.Status != EmployeeActive || !csm.Has(RoleCSM) {
			return Invalid("csm_owner", "employee %d is not an active CSM", *c.CSMOwner)
		}
	}
	return nil
}

// Who owns a customer decides who works it and sees it as theirs, so a
// customer's owners are guarded: staff must not take customers (and the
// access that comes with them) by their own hand.
//
// Changing an owner is for admin and leadership (ActCustomerOwners), or
// for the current owner handing theirs over — the sales owner the sales
// ownership, the CSM owner the CSM ownership — to another employee or to
// no one. Leadership may change owners and nothing else of a customer:
// reassigning is what they do; keeping the record is sales' and CSMs'.
// A customer a seller creates is theirs (DefaultSalesOwner) unless they
// choose another owner; creating a customer takes no one's, so its first
// owners are the creator's choice.

// MayChangeOwner reports whether by may change c's owner of role (RoleSales
// for the sales owner, RoleCSM for the CSM owner), by the rule above.
func (c Customer) MayChangeOwner(by Employee, role Role) bool {
	if by.Can(ActCustomerOwners) == nil {
		return true
	}
	current := c.SalesOwner
	if role == RoleCSM {
		current = c.CSMOwner
	}
	return by.Can(ActCustomerWrite) == nil && current != nil && *current == by.ID
}

// CheckChange returns nil when by may change customer c, as it is stored,
// into after: a change to anything but the owners needs ActCustomerWrite,
// a change to an owner MayChangeOwner. It returns EUNAUTHORIZED for a
// departed employee and EFORBIDDEN otherwise, naming the owner field
// (sales_owner, csm_owner) when that is what by may not change.
func (c Customer) CheckChange(by Employee, after Customer) error {
	write := by.Can(ActCustomerWrite)
	if ErrorCode(write) == EUNAUTHORIZED {
		return write
	}
	if write != nil && by.Can(ActCustomerOwners) != nil {
		return write
	}
	if write != nil && !c.sameRecord(after) {
		return write
	}
	for _, o := range []struct {
		field         string
		role          Role
		before, after *int64
	}{{"sales_owner", RoleSales, c.SalesOwner, after.SalesOwner}, {"csm_owner", RoleCSM, c.CSMOwner, after.CSMOwner}} {
		if sameOwner(o.before, o.after) || c.MayChangeOwner(by, o.role) {
			continue
		}
		if o.role == RoleCSM {
			return FieldErrorf(EFORBIDDEN, o.field, "only admin, leadership or the customer's CSM owner may change its CSM owner")
		}
		return FieldErrorf(EFORBIDDEN, o.field, "only admin, leadership or the customer's sales owner may change its sales owner")
	}
	return nil
}

// sameRecord reports whether c and d agree on everything but their owners
// (and the times and version the store keeps).
func (c Customer) sameRecord(d Customer) bool {
	if c.Name != d.Name || c.TenantID != d.TenantID || c.Industry != d.Industry || c.Region != d.Region ||
		c.Website != d.Website || c.Notes != d.Notes || len(c.Contacts) != len(d.Contacts) {
		return false
	}
	for i := range c.Contacts {
		if c.Contacts[i] != d.Contacts[i] {
			return false
		}
	}
	return true
}

func sameOwner(a, b *int64) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// DefaultSalesOwner is the sales owner of a customer by creates without
// choosing one: by when by sells, else no one.
func DefaultSalesOwner(by Employee) *int64 {
	if !by.Has(RoleSales) {
		return nil
	}
	id := by.ID
	return &id
}

// CustomerStatus is derived from a customer's subscriptions.
type CustomerStatus string

// The customer statuses.
const (
	CustomerProspect CustomerStatus = "prospect" // nothing granted yet
	CustomerTrial    CustomerStatus = "trial"    // only trials, never paid
	CustomerActive   CustomerStatus = "active"   // paid service now (or bought, starting later)
	CustomerRenewed  CustomerStatus = "renewed"  // paid service now, and renewed at least once
	CustomerChurned  CustomerStatus = "churned"  // paid before, nothing paid now or ahead
)

// CustomerStatuses lists the customer statuses, in the order they are shown.
var CustomerStatuses = []CustomerStatus{CustomerProspect, CustomerTrial, CustomerActive, CustomerRenewed, CustomerChurned}

// CustomerNotFound is the ENOTFOUND refusal of customer id, the same from
// every store and page; id is what names it (a number, or the text of a
// path that is not one).
func CustomerNotFound(id any) *Error { return Errorf(ENOTFOUND, "customer %v not found", id) }

// StatusOf derives a customer's status on day today (a reporting day, as
// Calendar.Day gives it) from its subscriptions.
func StatusOf(subs []Subscription, today time.Time) CustomerStatus {
	var paid, paidNow, paidAhead, trial, renewed bool
	for _, s := range subs {
		for _, g := range s.terms() {
			if g.Trial {
				trial = true
				continue
			}
			paid = true
			// Renewed at least once: a live renewal counts even when its
			// term is still ahead or an upgrade has since cut it short.
			if g.OrderKind == OrderRenewal {
				renewed = true
			}
			if !today.Before(g.Start) && today.Before(g.End) {
				paidNow = true
			}
			if today.Before(g.Start) {
				paidAhead = true
			}
		}
	}
	switch {
	case paidNow && renewed:
		return CustomerRenewed
	case paidNow || paidAhead:
		return CustomerActive
	case paid:
		return CustomerChurned
	case trial:
		return CustomerTrial
	}
	return CustomerProspect
}

// FirstPurchase is the first day of paid service; nil when there was none.
func FirstPurchase(subs []Subscription) *time.Time {
	var first *time.Time
	for _, s := range subs {
		for _, g := range s.terms() {
			if !g.Trial && (first == nil || g.Start.Before(*first)) {
				t := g.Start
				first = &t
			}
		}
	}
	return first
}

// PaymentTotals are what a customer ordered, paid and still owes in one
// currency: approved orders count, void and unapproved ones do not.
type PaymentTotals struct {
	Currency    string `json:"currency"`
	Ordered     int64  `json:"ordered"`
	Paid        int64  `json:"paid"`
	Outstanding int64  `json:"outstanding"`
}

// TotalsOf sums a customer's approved orders per currency, in currency order.
func TotalsOf(orders []Order) []PaymentTotals {
	by := map[string]*PaymentTotals{}
	for _, o := range orders {
		if o.Status != OrderApproved || o.Kind == OrderTrial {
			continue
		}
		t := by[o.Currency]
		if t == nil {
			t = &PaymentTotals{Currency: o.Currency}
			by[o.Currency] = t
		}
		t.Ordered += o.Total()
		if o.Payment != nil {
			t.Paid += o.Payment.Amount
		}
		t.Outstanding = t.Ordered - t.Paid
	}
	out := make([]PaymentTotals, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// FollowUpKind is the kind of contact a follow-up records.
type FollowUpKind string

// The follow-up kinds.
const (
	FollowUpCall    FollowUpKind = "call"
	FollowUpVisit   FollowUpKind = "visit"
	FollowUpEmail   FollowUpKind = "email"
	FollowUpMeeting FollowUpKind = "meeting"
	FollowUpNote    FollowUpKind = "note"
)

// FollowUpKinds lists the follow-up kinds, in the order they are shown.
var FollowUpKinds = []FollowUpKind{FollowUpCall, FollowUpVisit, FollowUpEmail, FollowUpMeeting, FollowUpNote}

// Follow-up limits: attachments live in Postgres, so they are kept small.
const (
	MaxAttachmentBytes  = 5 << 20
	MaxAttachments      = 5
	MaxFollowUpTextSize = 20000
)

// FollowUp is a record of contact with a customer.
type FollowUp struct {
	ID          int64
	CustomerID  int64
	At          time.Time
	AuthorID    int64
	Kind        FollowUpKind
	Text        string
	Attachments []Attachment
	CreatedAt   time.Time
}

// AttachmentNotFound is the ENOTFOUND refusal of attachment id.
func AttachmentNotFound(id any) *Error { return Errorf(ENOTFOUND, "attachment %v not found", id) }

// Attachment is a file on a follow-up. Data is empty when listed.
type Attachment struct {
	ID          int64
	Name        string
	ContentType string
	Size        int64
	Data        []byte
}

// Validate checks a new follow-up.
func (f FollowUp) Validate(now time.Time) error {
	if err := OneOf("kind", f.Kind, FollowUpKinds); err != nil {
		return err
	}
	if f.At.IsZero() {
		return Invalid("at", "required")
	}
	if f.At.Year() < 2000 || f.At.After(now.Add(24*time.Hour)) {
		return Invalid("at", "%s is out of range (2000 to today)", f.At.Format(time.RFC3339))
	}
	if err := ValidText("text", f.Text); err != nil {
		return err
	}
	if strings.TrimSpace(f.Text) == "" {
		return Invalid("text", "required")
	}
	if len(f.Text) > MaxFollowUpTextSize {
		return Invalid("text", "at most %d bytes", MaxFollowUpTextSize)
	}
	if len(f.Attachments) > MaxAttachments {
		return Invalid("attachments", "at most %d", MaxAttachments)
	}
	for i, a := range f.Attachments {
		field := fmt.Sprintf("attachments[%d]", i)
		if err := validTexts(field+".name", a.Name, field+".content_type", a.ContentType); err != nil {
			return err
		}
		if strings.TrimSpace(a.Name) == "" || len(a.Name) > 255 || strings.ContainsAny(a.Name, "/\\\x00") {
			return Invalid(field+".name", "must be a file name of 1 to %d characters", 255)
		}
		if len(a.Data) == 0 {
			return Invalid(field, "the file is empty")
		}
		if len(a.Data) > MaxAttachmentBytes {
			return FieldErrorf(ETOOLARGE, field, "%s is over %d MiB", a.Name, MaxAttachmentBytes>>20)
		}
	}
	return nil
}
