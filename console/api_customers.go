package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keelhq/keel"
)

// CustomerStore is what the customer handlers — the API's and the pages'
// — read and change: customers with everything derived about them.
type CustomerStore interface {
	CreateCustomer(ctx context.Context, by keel.Employee, c keel.Customer) (keel.CustomerView, error)
	UpdateCustomer(ctx context.Context, by keel.Employee, c keel.Customer) (keel.CustomerView, error)
	Customer(ctx context.Context, id int64) (keel.CustomerView, error)
	Customers(ctx context.Context, f keel.CustomerFilter) ([]keel.CustomerView, int, error)
	CustomerNames(ctx context.Context, ids []int64) (map[int64]string, error)
	CustomerChoices(ctx context.Context, query string, limit int) ([]keel.CustomerChoice, error)
}

// customerJSON is a customer as the API shows it, with everything derived.
type customerJSON struct {
	ID            int64              `json:"id"`
	Name          string             `json:"name"`
	TenantID      string             `json:"tenant_id"`
	SalesOwner    *int64             `json:"sales_owner"`
	CSMOwner      *int64             `json:"csm_owner"`
	Industry      string             `json:"industry"`
	Region        string             `json:"region"`
	Website       string             `json:"website"`
	Notes         string             `json:"notes"`
	Contacts      []contactJSON      `json:"contacts"`
	Status        string             `json:"status"`
	FirstPurchase *string            `json:"first_purchase"`
	Totals        []totalsJSON       `json:"totals"`
	Subscriptions []subscriptionJSON `json:"subscriptions"`
	CreatedAt     string             `json:"created_at"`
	UpdatedAt     string             `json:"updated_at"`
}

type contactJSON struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
	Title string `json:"title"`
}

// totalsJSON is what a customer ordered, paid and owes in one currency.
type totalsJSON struct {
	Currency    string `json:"currency"`
	Ordered     int64  `json:"ordered"`
	Paid        int64  `json:"paid"`
	Outstanding int64  `json:"outstanding"`
}

// toCustomerJSON shows a customer with its subscriptions as of today.
func toCustomerJSON(v keel.CustomerView, today time.Time) customerJSON {
	c := customerJSON{
		ID: v.ID, Name: v.Name, TenantID: v.TenantID, SalesOwner: v.SalesOwner, CSMOwner: v.CSMOwner,
		Industry: v.Industry, Region: v.Region, Website: v.Website, Notes: v.Notes,
		Contacts: make([]contactJSON, len(v.Contacts)), Status: string(v.Status),
		FirstPurchase: dayPtr(v.FirstPurchase), Totals: make([]totalsJSON, len(v.Totals)),
		Subscriptions: make([]subscriptionJSON, len(v.Subscriptions)),
		CreatedAt:     stamp(v.CreatedAt), UpdatedAt: stamp(v.UpdatedAt),
	}
	for i, ct := range v.Contacts {
		c.Contacts[i] = contactJSON(ct)
	}
	for i, t := range v.Totals {
		c.Totals[i] = totalsJSON(t)
	}
	for i, s := range v.Subscriptions {
		c.Subscriptions[i] = toSubscriptionJSON(s, today)
	}
	return c
}

// customerRequest is the body of POST /customers and PUT /customers/{id}.
// A new customer without sales_owner is its creator's when they sell
// (keel.DefaultSalesOwner); null is no owner. On PUT, absent is null.
type customerRequest struct {
	Name       string            `json:"name"`
	TenantID   string            `json:"tenant_id"`
	SalesOwner optional[int64]   `json:"sales_owner"`
	CSMOwner   *int64            `json:"csm_owner"`
	Industry   string            `json:"industry"`
	Region     string            `json:"region"`
	Website    string            `json:"website"`
	Notes      string            `json:"notes"`
	Contacts   []json.RawMessage `json:"contacts"`
}

// customerPatch is the body of PATCH /customers/{id}: absent fields keep
// their value; null clears an owner.
type customerPatch struct {
	Name       optional[string]            `json:"name"`
	TenantID   optional[string]            `json:"tenant_id"`
	SalesOwner optional[int64]             `json:"sales_owner"`
	CSMOwner   optional[int64]             `json:"csm_owner"`
	Industry   optional[string]            `json:"industry"`
	Region     optional[string]            `json:"region"`
	Website    optional[string]            `json:"website"`
	Notes      optional[string]            `json:"notes"`
	Contacts   optional[[]json.RawMessage] `json:"contacts"`
}

func decodeContacts(raw []json.RawMessage) ([]keel.Contact, error) {
	out := make([]keel.Contact, 0, len(raw))
	for i, r := range raw {
		var c contactJSON
		if err := decodeInto(r, fmt.Sprintf("contacts[%d].", i), &c); err != nil {
			return nil, err
		}
		out = append(out, keel.Contact(c))
	}
	return out, nil
}

func (req customerRequest) customer() (keel.Customer, error) {
	contacts, err := decodeContacts(req.Contacts)
	if err != nil {
		return keel.Customer{}, err
	}
	c := keel.Customer{
		Name: req.Name, TenantID: req.TenantID, CSMOwner: req.CSMOwner,
		Industry: req.Industry, Region: req.Region, Website: req.Website, Notes: req.Notes, Contacts: contacts,
	}
	if req.SalesOwner.Set && !req.SalesOwner.Null {
		id := req.SalesOwner.V
		c.SalesOwner = &id
	}
	return c, nil
}

func (p customerPatch) apply(c *keel.Customer) error {
	str := func(o optional[string], to *string) {
		if o.Set {
			*to = o.V
		}
	}
	str(p.Name, &c.Name)
	str(p.TenantID, &c.TenantID)
	str(p.Industry, &c.Industry)
	str(p.Region, &c.Region)
	str(p.Website, &c.Website)
	str(p.Notes, &c.Notes)
	for _, o := range []struct {
		v  optional[int64]
		to **int64
	}{{p.SalesOwner, &c.SalesOwner}, {p.CSMOwner, &c.CSMOwner}} {
		switch {
		case o.v.Null:
			*o.to = nil
		case o.v.Set:
			id := o.v.V
			*o.to = &id
		}
	}
	if p.Contacts.Set {
		contacts, err := decodeContacts(p.Contacts.V)
		if err != nil {
			return err
		}
		c.Contacts = contacts
	}
	return nil
}

func (s *server) handleCustomerCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req customerRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		c, err := req.customer()
		if err != nil {
			return err
		}
		by := employeeFrom(r.Context())
		if !req.SalesOwner.Set {
			c.SalesOwner = keel.DefaultSalesOwner(by)
		}
		v, err := s.customers.CreateCustomer(r.Context(), by, c)
		if err != nil {
			return err
		}
		writeCreated(w, location("customers", v.ID), toCustomerJSON(v, s.day()))
		return nil
	})
}

// handleCustomerUpdate serves PUT (replace: absent fields become empty)
// and PATCH (merge: absent fields keep their value).
func (s *server) handleCustomerUpdate(replace bool) http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.CustomerNotFound)
		if err != nil {
			return err
		}
		by := employeeFrom(r.Context())
		if replace {
			var req customerRequest
			if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
				return err
			}
			c, err := req.customer()
			if err != nil {
				return err
			}
			c.ID = id // Version 0: replace whatever is there
			v, err := s.customers.UpdateCustomer(r.Context(), by, c)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, toCustomerJSON(v, s.day()))
			return nil
		}
		var p customerPatch
		if err := decodeBody(w, r, maxBodyBytes, false, &p); err != nil {
			return err
		}
		// Merge onto the customer as read, and store with the Version
		// read: when another change landed in between, the store refuses
		// (keel.ErrChanged) and the merge is done again on the new record,
		// so neither change is lost.
		var v keel.CustomerView
		for attempt := 1; ; attempt++ {
			cur, err := s.customers.Customer(r.Context(), id)
			if err != nil {
				return err
			}
			c := cur.Customer
			if err := p.apply(&c); err != nil {
				return err
			}
			v, err = s.customers.UpdateCustomer(r.Context(), by, c)
			if errors.Is(err, keel.ErrChanged) && attempt < 5 {
				continue
			}
			if err != nil {
				return err
			}
			break
		}
		writeJSON(w, http.StatusOK, toCustomerJSON(v, s.day()))
		return nil
	})
}

// mayChangeCustomers is nil for whoever may change something of a
// customer — its record (keel.ActCustomerWrite) or, for leadership, only
// its owners (keel.ActCustomerOwners) — and ActCustomerWrite's refusal
// for anyone else. Which change is theirs to make is the store's to judge
// (keel.Customer.CheckChange), against the customer as it is.
func mayChangeCustomers(e keel.Employee) error {
	err := e.Can(keel.ActCustomerWrite)
	if err != nil && e.Can(keel.ActCustomerOwners) == nil {
		return nil
	}
	return err
}

// requireCustomerChange lets an API request through only when its
// employee may change something of a customer (mayChangeCustomers).
func (s *server) requireCustomerChange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := mayChangeCustomers(employeeFrom(r.Context())); err != nil {
			s.apiError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) handleCustomerGet() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		v, err := pathRecord(r, keel.CustomerNotFound, s.customers.Customer)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toCustomerJSON(v, s.day()))
		return nil
	})
}

func (s *server) handleCustomerList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		q, err := queryParams(r, "q", "status", "owner", "limit", "offset")
		if err != nil {
			return err
		}
		f := keel.CustomerFilter{Query: q.Get("q")}
		if f.Status, err = queryEnum(q, "status", keel.CustomerStatuses); err != nil {
			return err
		}
		if f.Owner, err = queryID(q, "owner"); err != nil {
			return err
		}
		if f.Page, err = queryPage(q); err != nil {
			return err
		}
		rows, total, err := s.customers.Customers(r.Context(), f)
		if err != nil {
			return err
		}
		today := s.day()
		writeJSON(w, http.StatusOK, newList(rows, total, f.Page, func(v keel.CustomerView) customerJSON { return toCustomerJSON(v, today) }))
		return nil
	})
}
