package keel

import "time"

// KnownOn is the subscription as it was known by the end of day (METRICS.md,
// "No look-ahead"): grants of orders approved after the day are left out,
// and a void made after the day had not happened yet. A grant with no
// approval day (made before Keel kept one) counts as known.
func (s Subscription) KnownOn(day time.Time, cal Calendar) Subscription {
	out := s
	out.Grants = nil
	for _, g := range s.Grants {
		if !g.ApprovedOn.IsZero() && g.ApprovedOn.After(day) {
			continue
		}
		if g.Void && g.VoidedAt != nil && cal.Day(*g.VoidedAt).After(day) {
			g.Void, g.VoidedAt = false, nil
		}
		out.Grants = append(out.Grants, g)
	}
	return out
}

// Scored reports whether a customer is scored on day: it has a
// subscription in service, or one whose service ended no more than
// endedDays before (METRICS.md, "Health score"). subs must be as known on
// the day (KnownOn).
func Scored(subs []Subscription, day time.Time, endedDays int) bool {
	for _, s := range subs {
		switch s.Status(day) {
		case SubActive:
			return true
		case SubEnded:
			if !s.End().Before(day.AddDate(0, 0, -endedDays)) {
				return true
			}
		}
	}
	return false
}

// FillRecords sets what a health input takes from the customer's records
// on day: the seats bought on paid subscriptions in service (products
// whose unit is "seat"), when the paid edition's term ends (the renewal;
// the latest paid term's end when no edition is paid), what approved
// orders still owe and since when, and the MRR in service. subs and
// orders are as known by the end of the day: subscriptions through
// KnownOn, orders approved by then (their payment's day) and not voided
// by then. units names each product's unit.
func (in *HealthInput) FillRecords(subs []Subscription, orders []Order, units map[int64]string, day time.Time, cal Calendar) {
	var mrr ExactSum
	var lastPaidEnd, editionEnd time.Time
	for _, s := range subs {
		if !s.PaidAt(day) {
			if end := paidEnd(s); end.After(lastPaidEnd) && !end.After(day) {
				lastPaidEnd = end
			}
			continue
		}
		if units[s.ProductID] == "seat" {
			in.Seats += s.QuantityAt(day)
		}
		if s.ProductKind == KindEdition && s.End().After(editionEnd) {
			editionEnd = s.End()
		}
		if end := s.End(); end.After(lastPaidEnd) {
			lastPaidEnd = end
		}
		for _, g := range s.terms() {
			if !g.Trial && !day.Before(g.Start) && day.Before(g.End) {
				mrr.Add(g.MRR())
				in.Currency = g.Currency
			}
		}
	}
	in.RenewalOn = editionEnd
	if in.RenewalOn.IsZero() {
		in.RenewalOn = lastPaidEnd
	}
	in.MRR, _ = mrr.Exact()
	for _, o := range orders {
		if o.Kind == OrderTrial || o.Payment == nil {
			continue
		}
		approved := cal.Day(o.Payment.PaidAt)
		if approved.After(day) || o.VoidedAt != nil && !cal.Day(*o.VoidedAt).After(day) {
			continue
		}
		if o.Status != OrderApproved && o.Status != OrderVoid {
			continue
		}
		in.Orders = true
		if owed := o.Total() - o.Payment.Amount; owed > 0 {
			in.Outstanding += owed
			if in.OwedSince.IsZero() || approved.Before(in.OwedSince) {
				in.OwedSince = approved
			}
		}
	}
}

// paidEnd is the end of the subscription's last paid term.
func paidEnd(s Subscription) time.Time {
	var end time.Time
	for _, g := range s.terms() {
		if !g.Trial && g.End.After(end) {
			end = g.End
		}
	}
	return end
}
