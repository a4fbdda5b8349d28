package keel

import "time"

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
	if err := ValidText("q", f.Query); err != nil {
		return err
	}
	for _, t := range f.Tenants {
		if err := ValidText("tenant", t); err != nil {
			return err
		}
	}
	if len(f.Query) > 200 {
		return Invalid("q", "at most %d characters", 200)
	}
	if f.Status != "" {
		return OneOf("status", f.Status, CustomerStatuses)
	}
	return nil
}

// CustomerRef is the little of a customer that a page listing every
// customer beside its metrics needs: who it is, the tenant its events come
// under, its owners and its status as derived today. Pages such as the
// activity dashboard and the weekly review read all of them in one query
// rather than a full CustomerView each.
type CustomerRef struct {
	ID         int64
	Name       string
	TenantID   string // "" = not linked to a tenant yet
	SalesOwner int64  // employee id; 0 = none
	CSMOwner   int64  // employee id; 0 = none
	Status     CustomerStatus
}

// OwnedBy reports whether employee id is the customer's sales or CSM owner.
func (c CustomerRef) OwnedBy(id int64) bool {
	return id != 0 && (c.SalesOwner == id || c.CSMOwner == id)
}

// CustomerOwner is a customer's name, tenant and owners as stored,
// nothing derived: what a page putting customers beside their health
// scores or their activity needs of them, one cheap query whatever their
// number (CustomerRef also derives every customer's status, which such a
// page does not show, or needs for a few).
type CustomerOwner struct {
	ID         int64
	Name       string
	TenantID   string // "" = not linked to a tenant yet
	SalesOwner int64  // employee id; 0 = none
	CSMOwner   int64  // employee id; 0 = none
}

// OwnedBy reports whether employee id is the customer's sales or CSM owner.
func (c CustomerOwner) OwnedBy(id int64) bool {
	return id != 0 && (c.SalesOwner == id || c.CSMOwner == id)
}

// CustomerChoice is a customer as a picker offers it: its id, name and
// tenant, nothing derived, so a form can list a few matches cheaply
// whatever the number of customers.
type CustomerChoice struct {
	ID       int64
	Name     string
	TenantID string // "" = not linked to a tenant yet
}
