package console

import (
	"context"
	"net/http"
	"time"

	"github.com/keelhq/keel"
)

// SubscriptionStore is what the subscription handlers read; only orders
// change subscriptions.
type SubscriptionStore interface {
	Subscriptions(ctx context.Context, f keel.SubscriptionFilter) ([]keel.Subscription, int, error)
}

// subscriptionJSON is a customer's service of one product, as of today.
type subscriptionJSON struct {
	ID          int64   `json:"id"`
	CustomerID  int64   `json:"customer_id"`
	ProductID   int64   `json:"product_id"`
	ProductKind string  `json:"product_kind"`
	Status      string  `json:"status"`
	Trial       bool    `json:"trial"`
	Start       *string `json:"start"` // null when every grant is void
	End         *string `json:"end"`   // exclusive
	Quantity    int64   `json:"quantity"`
	OrderIDs    []int64 `json:"order_ids"`
}

// toSubscriptionJSON shows a subscription as of today, with the quantity
// people ask about (keel.Subscription.Quantity).
func toSubscriptionJSON(s keel.Subscription, today time.Time) subscriptionJSON {
	status := s.Status(today)
	out := subscriptionJSON{ID: s.ID, CustomerID: s.CustomerID, ProductID: s.ProductID, ProductKind: string(s.ProductKind),
		Status: string(status), Trial: s.Trial(), OrderIDs: s.OrderIDs()}
	if out.OrderIDs == nil {
		out.OrderIDs = []int64{}
	}
	start, end := s.Start(), s.End()
	if !start.IsZero() {
		out.Start, out.End = dayPtr(&start), dayPtr(&end)
	}
	out.Quantity = s.Quantity(today)
	return out
}

func (s *server) handleSubscriptionList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "customer_id", "product_id", "status", "limit", "offset")
		if err != nil {
			return err
		}
		var f keel.SubscriptionFilter
		if f.CustomerID, err = queryID(q, "customer_id"); err != nil {
			return err
		}
		if f.ProductID, err = queryID(q, "product_id"); err != nil {
			return err
		}
		if f.Status, err = queryEnum(q, "status", keel.SubscriptionStatuses); err != nil {
			return err
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.subscriptions.Subscriptions(r.Context(), f)
		if err != nil {
			return err
		}
		today := s.day()
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, func(sub keel.Subscription) subscriptionJSON { return toSubscriptionJSON(sub, today) }))
		return nil
	})
}
