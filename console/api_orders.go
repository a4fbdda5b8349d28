package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/keelhq/keel"
)

// OrderStore is what the order handlers read and change: orders, their
// transitions and what each granted.
type OrderStore interface {
	CreateOrder(ctx context.Context, by keel.Employee, customerID int64, kind keel.OrderKind, lines []keel.LineRequest) (keel.Order, error)
	EditOrder(ctx context.Context, by keel.Employee, id int64, kind keel.OrderKind, lines []keel.LineRequest) (keel.Order, error)
	DeleteOrder(ctx context.Context, by keel.Employee, id int64) error
	SubmitOrder(ctx context.Context, by keel.Employee, id int64) (keel.Order, error)
	ApproveOrder(ctx context.Context, by keel.Employee, id int64, p keel.Payment) (keel.Order, error)
	RejectOrder(ctx context.Context, by keel.Employee, id int64, reason string) (keel.Order, error)
	VoidOrder(ctx context.Context, by keel.Employee, id int64) (keel.Order, error)
	Order(ctx context.Context, id int64) (keel.Order, error)
	Orders(ctx context.Context, f keel.OrderFilter) ([]keel.Order, int, error)
	OrderGrants(ctx context.Context, orderID int64) ([]keel.Grant, error)
}

// orderJSON is an order as the API shows it. Money is in minor units of
// the order's currency.
type orderJSON struct {
	ID           int64        `json:"id"`
	CustomerID   int64        `json:"customer_id"`
	Kind         string       `json:"kind"`
	Status       string       `json:"status"`
	Currency     string       `json:"currency"`
	Total        int64        `json:"total"`
	Lines        []lineJSON   `json:"lines"`
	CreatedBy    int64        `json:"created_by"`
	CreatedAt    string       `json:"created_at"`
	SubmittedAt  *string      `json:"submitted_at"`
	DecidedBy    *int64       `json:"decided_by"`
	DecidedAt    *string      `json:"decided_at"`
	Payment      *paymentJSON `json:"payment"`
	RejectReason string       `json:"reject_reason"`
	VoidedBy     *int64       `json:"voided_by"`
	VoidedAt     *string      `json:"voided_at"`
}

type lineJSON struct {
	ID             int64   `json:"id"`
	ProductID      int64   `json:"product_id"`
	ProductKind    string  `json:"product_kind"`
	PriceVersionID *int64  `json:"price_version_id"` // null on trial lines
	UnitAmount     int64   `json:"unit_amount"`
	Period         string  `json:"period"`
	Quantity       int64   `json:"quantity"`
	Months         int     `json:"months"`
	Start          *string `json:"start"` // null = the approval day
	Total          int64   `json:"total"`
}

type paymentJSON struct {
	Amount    int64  `json:"amount"`
	PaidAt    string `json:"paid_at"`
	Reference string `json:"reference"`
}

// orderDetailJSON is one order with what it granted.
type orderDetailJSON struct {
	orderJSON
	Grants []grantJSON `json:"grants"`
}

// grantJSON is what one line of an approved order did to a subscription.
type grantJSON struct {
	ID             int64   `json:"id"`
	SubscriptionID int64   `json:"subscription_id"`
	ProductID      int64   `json:"product_id"`
	LineID         int64   `json:"line_id"`
	Kind           string  `json:"kind"`
	Trial          bool    `json:"trial"`
	Quantity       int64   `json:"quantity"`
	Start          string  `json:"start"`
	End            *string `json:"end"` // null for a cut
	MonthlyAmount  int64   `json:"monthly_amount"`
	Currency       string  `json:"currency"`
	Void           bool    `json:"void"`
}

func toOrderJSON(o keel.Order) orderJSON {
	out := orderJSON{
		ID: o.ID, CustomerID: o.CustomerID, Kind: string(o.Kind), Status: string(o.Status), Currency: o.Currency,
		Total: o.Total(), Lines: make([]lineJSON, len(o.Lines)), CreatedBy: o.CreatedBy, CreatedAt: stamp(o.CreatedAt),
		SubmittedAt: stampPtr(o.SubmittedAt), DecidedBy: o.DecidedBy, DecidedAt: stampPtr(o.DecidedAt),
		RejectReason: o.RejectReason, VoidedBy: o.VoidedBy, VoidedAt: stampPtr(o.VoidedAt),
	}
	for i, l := range o.Lines {
		lj := lineJSON{ID: l.ID, ProductID: l.ProductID, ProductKind: string(l.ProductKind), UnitAmount: l.UnitAmount,
			Period: string(l.Period), Quantity: l.Quantity, Months: l.Months, Start: dayPtr(l.Start), Total: l.Total()}
		if l.PriceVersionID != 0 {
			id := l.PriceVersionID
			lj.PriceVersionID = &id
		}
		out.Lines[i] = lj
	}
	if o.Payment != nil {
		out.Payment = &paymentJSON{Amount: o.Payment.Amount, PaidAt: stamp(o.Payment.PaidAt), Reference: o.Payment.Reference}
	}
	return out
}

func toGrantJSON(g keel.Grant) grantJSON {
	out := grantJSON{ID: g.ID, SubscriptionID: g.SubscriptionID, ProductID: g.ProductID, LineID: g.LineID, Kind: string(g.Kind),
		Trial: g.Trial, Quantity: g.Quantity, Start: day(g.Start), MonthlyAmount: g.MonthlyAmount, Currency: g.Currency, Void: g.Void}
	if !g.End.IsZero() {
		out.End = dayPtr(&g.End)
	}
	return out
}

// orderRequest is the body of POST /orders.
type orderRequest struct {
	CustomerID *int64            `json:"customer_id"`
	Kind       string            `json:"kind"`
	Lines      []json.RawMessage `json:"lines"`
}

// lineRequest is one line of an order request; start is "YYYY-MM-DD",
// for service that starts on a day other than the approval day.
type lineRequest struct {
	ProductID int64  `json:"product_id"`
	Quantity  int64  `json:"quantity"`
	Months    int    `json:"months"`
	Start     string `json:"start"`
}

func (s *server) handleOrderCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req orderRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		// The rules of an order — customer, kind, lines — are the domain's
		// (keel.NewOrder): the API only reads the JSON.
		if req.CustomerID != nil && *req.CustomerID < 1 {
			return keel.Invalid("customer_id", "%d is not a record id", *req.CustomerID)
		}
		var customerID int64
		if req.CustomerID != nil {
			customerID = *req.CustomerID
		}
		lines, err := decodeLines(req.Lines)
		if err != nil {
			return err
		}
		o, err := s.orders.CreateOrder(r.Context(), employeeFrom(r.Context()), customerID, keel.OrderKind(req.Kind), lines)
		if err != nil {
			return err
		}
		writeCreated(w, location("orders", o.ID), toOrderJSON(o))
		return nil
	})
}

// decodeLines reads an order's lines, naming each field as lines[i].….
func decodeLines(raws []json.RawMessage) ([]keel.LineRequest, error) {
	if len(raws) > keel.MaxLines { // before decoding them all
		return nil, keel.Invalid("lines", "at most %d lines", keel.MaxLines)
	}
	lines := make([]keel.LineRequest, len(raws))
	for i, raw := range raws {
		field := fmt.Sprintf("lines[%d]", i)
		var l lineRequest
		if err := decodeInto(raw, field+".", &l); err != nil {
			return nil, err
		}
		lines[i] = keel.LineRequest{ProductID: l.ProductID, Quantity: l.Quantity, Months: l.Months}
		if l.Start != "" {
			start, err := parseDay(field+".start", l.Start)
			if err != nil {
				return nil, err
			}
			lines[i].Start = &start
		}
	}
	return lines, nil
}

// orderEditRequest is the body of PUT /orders/{id}: a draft's kind and
// lines, replaced. Its customer stays.
type orderEditRequest struct {
	Kind  string            `json:"kind"`
	Lines []json.RawMessage `json:"lines"`
}

// handleOrderEdit replaces a draft's kind and lines (its creator only).
func (s *server) handleOrderEdit() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req orderEditRequest
		return s.orderAction(w, r, false, &req, func(by keel.Employee, id int64) (keel.Order, error) {
			lines, err := decodeLines(req.Lines)
			if err != nil {
				return keel.Order{}, err
			}
			return s.orders.EditOrder(r.Context(), by, id, keel.OrderKind(req.Kind), lines)
		})
	})
}

// handleOrderDelete deletes a draft (its creator only): 204, no body.
func (s *server) handleOrderDelete() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.OrderNotFound)
		if err != nil {
			return err
		}
		if err := s.orders.DeleteOrder(r.Context(), employeeFrom(r.Context()), id); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// orderAction serves a POST /orders/{id}/… transition: it decodes the
// body (when there is one) into body, calls do with the order's id and
// answers with the order do returns.
func (s *server) orderAction(w http.ResponseWriter, r *http.Request, allowEmpty bool, body any,
	do func(by keel.Employee, id int64) (keel.Order, error)) error {
	id, err := pathID(r, keel.OrderNotFound)
	if err != nil {
		return err
	}
	if err := decodeBody(w, r, maxBodyBytes, allowEmpty, body); err != nil {
		return err
	}
	o, err := do(employeeFrom(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOrderJSON(o))
	return nil
}

func (s *server) handleOrderSubmit() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var none struct{}
		return s.orderAction(w, r, true, &none, func(by keel.Employee, id int64) (keel.Order, error) {
			return s.orders.SubmitOrder(r.Context(), by, id)
		})
	})
}

// approveRequest is finance's confirmation of payment. paid_at is a day
// or an RFC 3339 time.
type approveRequest struct {
	PaidAmount *int64 `json:"paid_amount"`
	PaidAt     string `json:"paid_at"`
	PaymentRef string `json:"payment_ref"`
}

func (s *server) handleOrderApprove() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req approveRequest
		return s.orderAction(w, r, false, &req, func(by keel.Employee, id int64) (keel.Order, error) {
			if req.PaidAmount == nil {
				return keel.Order{}, keel.Invalid("paid_amount", "required (minor units, e.g. cents)")
			}
			p := keel.Payment{Amount: *req.PaidAmount, Reference: req.PaymentRef}
			if req.PaidAt != "" { // none is the domain's to refuse
				var err error
				if p.PaidAt, err = parseTime(s.Calendar, "paid_at", req.PaidAt); err != nil {
					return keel.Order{}, err
				}
			}
			return s.orders.ApproveOrder(r.Context(), by, id, p)
		})
	})
}

type rejectRequest struct {
	Reason string `json:"reason"`
}

func (s *server) handleOrderReject() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req rejectRequest
		return s.orderAction(w, r, false, &req, func(by keel.Employee, id int64) (keel.Order, error) {
			return s.orders.RejectOrder(r.Context(), by, id, req.Reason)
		})
	})
}

func (s *server) handleOrderVoid() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var none struct{}
		return s.orderAction(w, r, true, &none, func(by keel.Employee, id int64) (keel.Order, error) {
			return s.orders.VoidOrder(r.Context(), by, id)
		})
	})
}

func (s *server) handleOrderGet() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		o, err := pathRecord(r, keel.OrderNotFound, s.orders.Order)
		if err != nil {
			return err
		}
		grants, err := s.orders.OrderGrants(r.Context(), o.ID)
		if err != nil {
			return err
		}
		out := orderDetailJSON{orderJSON: toOrderJSON(o), Grants: make([]grantJSON, len(grants))}
		for i, g := range grants {
			out.Grants[i] = toGrantJSON(g)
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (s *server) handleOrderList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "customer_id", "status", "kind", "created_by", "limit", "offset")
		if err != nil {
			return err
		}
		var f keel.OrderFilter
		if f.CustomerID, err = queryID(q, "customer_id"); err != nil {
			return err
		}
		if f.CreatedBy, err = queryID(q, "created_by"); err != nil {
			return err
		}
		if f.Status, err = queryEnum(q, "status", keel.OrderStatuses); err != nil {
			return err
		}
		if f.Kind, err = queryEnum(q, "kind", keel.OrderKinds); err != nil {
			return err
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.orders.Orders(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, toOrderJSON))
		return nil
	})
}
