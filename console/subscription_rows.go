package console

import (
	"time"

	"github.com/keelhq/keel"
)

// Subscriptions have no page of their own: the customer's page lists them
// and the order page shows what an order did to them. Both build their
// rows here, from the domain's values.

// subscriptionRow is one of a customer's subscriptions as of today.
type subscriptionRow struct {
	Product, Unit string
	Status        keel.SubscriptionStatus
	StatusLabel   string
	Trial         bool
	Quantity      int64     // keel.Subscription.Quantity: in service today, or on its first / last day
	Start, End    time.Time // zero when every grant is void; End is exclusive
	DaysLeft      int       // days until End
	ShowDaysLeft  bool      // in service or not started yet
	Changed       bool      // the order on show has a grant on it
}

func subscriptionRowOf(l lang, s keel.Subscription, product string, unit string, today time.Time) subscriptionRow {
	st := s.Status(today)
	row := subscriptionRow{Product: product, Unit: unit, Status: st, StatusLabel: subscriptionStatusLabel(l, st),
		Trial: s.Trial(), Quantity: s.Quantity(today), Start: s.Start(), End: s.End()}
	if st == keel.SubActive || st == keel.SubPending {
		row.ShowDaysLeft = true
		row.DaysLeft = int(s.End().Sub(today).Hours() / 24)
	}
	return row
}

// grantRow is what one line of an approved order did to a subscription.
type grantRow struct {
	Product    string
	Cut        bool // an upgrade's end of the edition it replaces
	Trial      bool
	Quantity   int64
	Start, End time.Time // End is zero for a cut
	Void       bool
}

func grantRowOf(g keel.Grant, product string) grantRow {
	return grantRow{Product: product, Cut: g.Kind == keel.GrantCut, Trial: g.Trial, Quantity: g.Quantity,
		Start: g.Start, End: g.End, Void: g.Void}
}
