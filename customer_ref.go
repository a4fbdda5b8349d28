package keel

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
