package keel

import (
	"encoding/json"
	"time"
)

// System is the actor of changes made with machine access (the keel CLI:
// bootstrap users, tokens). The audit log records it as "system".
var System = Employee{ID: 0, Email: "system", Name: "keel CLI", Roles: Roles, Status: EmployeeActive}

// ErrChanged is returned by an update that was based on a record as read
// (its Version) when the record changed since: the caller reads again and
// redoes its change, so no one's change is silently overwritten.
var ErrChanged = &Error{Code: ECONFLICT, Key: "the record was changed by someone else after it was read; read it again"}

// Page selects a slice of a list. Limit 0 means the default (50); lists
// never return more than MaxPageSize rows.
type Page struct {
	Limit  int
	Offset int
}

// MaxPageSize bounds one page of any list.
const MaxPageSize = 500

// Normalize applies the default and the bounds, or returns an EINVALID
// error naming limit or offset.
func (p Page) Normalize() (Page, error) {
	if p.Limit < 0 || p.Limit > MaxPageSize {
		return p, Invalid("limit", "must be 1 to %d", MaxPageSize)
	}
	if p.Offset < 0 {
		return p, Invalid("offset", "must not be negative")
	}
	if p.Limit == 0 {
		p.Limit = 50
	}
	return p, nil
}

// CustomerView is a customer with everything derived about it.
type CustomerView struct {
	Customer
	Status        CustomerStatus
	FirstPurchase *time.Time
	Totals        []PaymentTotals
	Subscriptions []Subscription
}

// CustomerFilter selects customers. Empty fields do not filter, but for
// Tenants: nil does not filter, and an empty non-nil list matches nothing
// (a list of tenants picked elsewhere, such as the trending ones, may be
// empty, and then so is the answer).
type CustomerFilter struct {
	Query   string         // in name or tenant id, case-insensitive
	Status  CustomerStatus // derived status today
	Owner   int64          // sales or CSM owner
	Tenants []string       // tenant ids; nil = no filter, empty non-nil = matches nothing
	Page
}

// Validate checks a filter as typed: a search of at most 200 characters, a
// known status.
func (f CustomerFilter) Validate() error {
	if len(f.Query) > 200 {
		return Invalid("q", "at most %d characters", 200)
	}
	if f.Status != "" {
		return OneOf("status", f.Status, CustomerStatuses)
	}
	return nil
}

// OrderFilter selects orders. Empty fields do not filter.
type OrderFilter struct {
	CustomerID int64
	Status     OrderStatus
	Kind       OrderKind
	CreatedBy  int64
	// OldestFirst lists by submission, oldest first (a queue), instead of
	// newest first; drafts, never submitted, come last.
	OldestFirst bool
	Page
}

// SubscriptionFilter selects subscriptions. Empty fields do not filter.
type SubscriptionFilter struct {
	CustomerID int64
	ProductID  int64
	Status     SubscriptionStatus // status today
	Page
}

// AuditEntry is one change to one record: who made it, when, and the record
// before and after (JSON; null when created or deleted).
type AuditEntry struct {
	ID       int64
	At       time.Time
	ActorID  int64  // 0 = System
	Actor    string // the actor's email at the time
	Action   string // e.g. "order.approve"
	Entity   string // e.g. "order"
	EntityID int64
	Before   json.RawMessage
	After    json.RawMessage
}

// AuditFilter selects audit entries. Empty fields do not filter.
type AuditFilter struct {
	ActorID  int64
	Entity   string
	EntityID int64
	From, To time.Time
	Page
}
