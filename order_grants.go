package keel

import (
	"fmt"
	"time"
)

// What approving an order does to the customer's subscriptions: the rules
// of new purchases, renewals, upgrades and add-ons, as grants.

// grants computes what approving the order at now does to the customer's
// subscriptions (one per product; a grant with SubscriptionID 0 asks for a
// new one): lines without a start start today, the reporting day of now.
// approvedOn is the day the order counts as approved for revenue (the
// payment's day; see Grant.ApprovedOn).
func (o *Order) grants(subs []Subscription, now Moment, approvedOn time.Time) ([]Grant, error) {
	today := now.Today()
	byProduct := map[int64]Subscription{}
	for _, s := range subs {
		byProduct[s.ProductID] = s
	}
	var out []Grant
	for i, l := range o.Lines {
		field := fmt.Sprintf("lines[%d]", i)
		start := today
		if l.Start != nil {
			start = *l.Start
		}
		sub := byProduct[l.ProductID]
		g := Grant{SubscriptionID: sub.ID, ProductID: l.ProductID, OrderID: o.ID, LineID: l.ID, OrderKind: o.Kind,
			Kind: GrantTerm, Trial: o.Kind == OrderTrial, Quantity: l.Quantity, MonthlyAmount: l.MonthlyAmount(), Currency: o.Currency,
			Amount: l.Total(), Months: l.Months, Period: l.Period, ApprovedOn: approvedOn}
		switch o.Kind {
		case OrderTrial:
			if sub.ID != 0 && sub.Status(start) != SubVoid && !sub.Trial() {
				return nil, FieldErrorf(ECONFLICT, field, "the customer already bought this edition; a trial is for new customers")
			}
		case OrderNew:
			if sub.ID != 0 && sub.PaidAt(start) {
				return nil, FieldErrorf(ECONFLICT, field, "the customer already has this product in service until %s; use a renewal", sub.End().Format(time.DateOnly))
			}
			if l.ProductKind == KindEdition {
				if other, ok := paidEditionAt(subs, start, l.ProductID); ok {
					return nil, FieldErrorf(ECONFLICT, field, "the customer has another edition (product %d) in service; use an upgrade", other.ProductID)
				}
			}
		case OrderRenewal:
			if sub.ID == 0 || sub.Status(start) == SubVoid {
				return nil, FieldErrorf(ECONFLICT, field, "the customer has no service of this product to renew; use a new order")
			}
			// A renewal extends from the current end while the service
			// runs, so no paid day is lost; after a lapse it starts anew.
			if l.Start == nil && sub.End().After(today) {
				start = sub.End()
			}
			// One edition at a time: renewing the edition an upgrade left
			// would put two in service.
			if l.ProductKind == KindEdition {
				if other, ok := paidEditionAt(subs, start, l.ProductID); ok {
					return nil, FieldErrorf(ECONFLICT, field, "the customer has another edition (product %d) in service on %s; use an upgrade", other.ProductID, start.Format(time.DateOnly))
				}
			}
		case OrderUpgrade:
			from, ok := paidEditionAt(subs, start, l.ProductID)
			if !ok {
				if sub.ID != 0 && sub.PaidAt(start) {
					return nil, FieldErrorf(ECONFLICT, field, "the customer already has this edition; an upgrade switches to another one")
				}
				return nil, FieldErrorf(ECONFLICT, field, "the customer has no edition in service on %s to upgrade from; use a new order", start.Format(time.DateOnly))
			}
			out = append(out, Grant{SubscriptionID: from.ID, ProductID: from.ProductID, OrderID: o.ID, LineID: l.ID, OrderKind: o.Kind, Kind: GrantCut, Start: start, Currency: o.Currency, ApprovedOn: approvedOn})
		case OrderAddon:
			if l.ProductKind == KindAddonTerm {
				ed, ok := paidEditionAt(subs, start, 0)
				if !ok {
					return nil, FieldErrorf(ECONFLICT, field, "this add-on runs with the edition's term, and the customer has no edition in service on %s", start.Format(time.DateOnly))
				}
				g.Start, g.End = start, ed.End()
				out = append(out, g)
				continue
			}
		}
		g.Start, g.End = start, AddMonths(start, l.Months)
		out = append(out, g)
	}
	return out, nil
}

// paidEditionAt finds a paid edition subscription in service on day t,
// other than product except.
func paidEditionAt(subs []Subscription, t time.Time, except int64) (Subscription, bool) {
	for _, s := range subs {
		if s.ProductKind == KindEdition && s.ProductID != except && s.PaidAt(t) {
			return s, true
		}
	}
	return Subscription{}, false
}
