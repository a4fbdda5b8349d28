package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel"
)

// API is a small client of Keel's JSON API, enough to write the demo's
// sales history through the same path staff use.
type API struct {
	URL  string // the console's base URL, e.g. http://127.0.0.1:8080
	HTTP *http.Client
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Code    string
	Message string
	Request string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %d %s: %s", e.Request, e.Status, e.Code, e.Message)
}

func (a API) do(ctx context.Context, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(data, &e)
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message, Request: method + " " + path}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// SalesResult counts what LoadSales wrote.
type SalesResult struct {
	Products  int // created now
	Customers int // created now
	Skipped   int // customers that existed already
	Orders    int
}

type idAnswer struct {
	ID    int64 `json:"id"`
	Total int64 `json:"total"`
}

// LoadSales writes the plan through the API: the catalogue as the admin,
// each customer as its sales owner, orders as their seller, approvals as
// finance. tokens holds an API token per Staff email. A customer whose
// tenant already has a customer is skipped, so running it again adds
// nothing. progress, when set, is called after each customer.
func LoadSales(ctx context.Context, api API, tokens map[string]string, plan SalesPlan, progress func(done, total int)) (SalesResult, error) {
	var res SalesResult
	token := func(i int) string { return tokens[Staff[i].Email] }
	ids := make([]int64, len(Staff))
	for i, s := range Staff {
		if tokens[s.Email] == "" {
			return res, fmt.Errorf("demo: no API token for %s", s.Email)
		}
		var me idAnswer
		if err := api.do(ctx, token(i), "GET", "/api/v1/me", nil, &me); err != nil {
			return res, err
		}
		ids[i] = me.ID
	}
	const admin = StaffAdmin

	var products []struct {
		ID   int64  `json:"id"`
		Code string `json:"code"`
	}
	var list struct {
		Items json.RawMessage `json:"items"`
	}
	if err := api.do(ctx, token(admin), "GET", "/api/v1/products", nil, &list); err != nil {
		return res, err
	}
	if err := json.Unmarshal(list.Items, &products); err != nil {
		return res, fmt.Errorf("demo: products list: %w", err)
	}
	byCode := map[string]int64{}
	for _, p := range products {
		byCode[p.Code] = p.ID
	}
	for _, p := range plan.Products {
		if byCode[p.Code] != 0 {
			continue
		}
		var made idAnswer
		err := api.do(ctx, token(admin), "POST", "/api/v1/products",
			map[string]any{"code": p.Code, "name": p.Name, "kind": p.Kind, "unit": p.Unit}, &made)
		if err != nil {
			return res, err
		}
		for _, v := range p.Prices {
			err := api.do(ctx, token(admin), "POST", "/api/v1/products/"+strconv.FormatInt(made.ID, 10)+"/prices",
				map[string]any{"amount": v.Amount, "currency": v.Currency, "period": v.Period, "effective_from": v.From.Format(time.DateOnly)}, nil)
			if err != nil {
				return res, err
			}
		}
		if p.Disabled {
			if err := api.do(ctx, token(admin), "POST", "/api/v1/products/"+strconv.FormatInt(made.ID, 10)+"/status",
				map[string]any{"status": "disabled"}, nil); err != nil {
				return res, err
			}
		}
		byCode[p.Code] = made.ID
		res.Products++
	}

	var done, created, skipped, orders atomic.Int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, c := range plan.Customers {
		g.Go(func() error {
			n, skip, err := loadCustomer(gctx, api, c, ids, token, byCode)
			if err != nil {
				return fmt.Errorf("demo customer %s: %w", c.Tenant.ID, err)
			}
			if skip {
				skipped.Add(1)
			} else {
				created.Add(1)
			}
			orders.Add(int64(n))
			d := done.Add(1)
			if progress != nil {
				mu.Lock()
				progress(int(d), len(plan.Customers))
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	res.Customers, res.Skipped, res.Orders = int(created.Load()), int(skipped.Load()), int(orders.Load())
	return res, err
}

func loadCustomer(ctx context.Context, api API, c CustomerPlan, staff []int64, token func(int) string, products map[string]int64) (orders int, skipped bool, err error) {
	const finance = StaffFinance
	var found struct {
		Items []struct {
			TenantID string `json:"tenant_id"`
		} `json:"items"`
	}
	if err := api.do(ctx, token(c.Sales), "GET", "/api/v1/customers?q="+url.QueryEscape(c.Tenant.ID)+"&limit=50", nil, &found); err != nil {
		return 0, false, err
	}
	for _, it := range found.Items {
		if it.TenantID == c.Tenant.ID {
			return 0, true, nil
		}
	}
	var cust idAnswer
	err = api.do(ctx, token(c.Sales), "POST", "/api/v1/customers", map[string]any{
		"name": c.Tenant.Name, "tenant_id": c.Tenant.ID, "sales_owner": staff[c.Sales], "csm_owner": staff[c.CSM],
		"industry": c.Industry, "region": c.Region, "contacts": c.Contacts,
	}, &cust)
	if err != nil {
		return 0, false, err
	}
	for _, o := range c.Orders {
		seller := c.Sales
		if o.SoldBy == 1 {
			seller = c.CSM
		}
		lines := make([]map[string]any, len(o.Lines))
		for i, l := range o.Lines {
			id := products[l.Product]
			if id == 0 {
				return orders, false, fmt.Errorf("no product %q", l.Product)
			}
			lines[i] = map[string]any{"product_id": id, "quantity": l.Quantity, "months": l.Months, "start": l.Start.Format(time.DateOnly)}
		}
		var ord idAnswer
		if err := api.do(ctx, token(seller), "POST", "/api/v1/orders",
			map[string]any{"customer_id": cust.ID, "kind": o.Kind, "lines": lines}, &ord); err != nil {
			return orders, false, err
		}
		orders++
		path := "/api/v1/orders/" + strconv.FormatInt(ord.ID, 10)
		if o.Outcome == OutcomeDraft {
			continue
		}
		if err := api.do(ctx, token(seller), "POST", path+"/submit", nil, nil); err != nil {
			return orders, false, err
		}
		switch o.Outcome {
		case OutcomeReject:
			err = api.do(ctx, token(finance), "POST", path+"/reject", map[string]any{"reason": "customer asked to wait until next quarter"}, nil)
		case OutcomeApprove, OutcomeVoid:
			if o.Kind == "trial" {
				break // approved itself on submit
			}
			paid := int64(float64(ord.Total) * o.PaidPart)
			err = api.do(ctx, token(finance), "POST", path+"/approve", map[string]any{
				"paid_amount": paid, "paid_at": o.PaidAt.Format(time.DateOnly),
				"payment_ref": fmt.Sprintf("BANK-%s-%d", c.Tenant.ID, ord.ID),
			}, nil)
			if err == nil && o.Outcome == OutcomeVoid {
				err = api.do(ctx, token(finance), "POST", path+"/void", nil, nil)
			}
		}
		if err != nil {
			return orders, false, fmt.Errorf("order %d (%s): %w", ord.ID, o.Kind, err)
		}
	}
	return orders, false, nil
}

// LoadSpend enters each month's sales and marketing spend through the JSON
// API as finance (audited and sent to the warehouse as a fact, as an entry
// on the console is). A month already entered with the same amount is left
// alone. It returns how many entries it made or changed.
func LoadSpend(ctx context.Context, api API, tokens map[string]string, spend []keel.Spend) (int, error) {
	if len(spend) == 0 {
		return 0, nil
	}
	token := tokens[Staff[StaffFinance].Email]
	if token == "" {
		return 0, fmt.Errorf("demo: no API token for %s", Staff[StaffFinance].Email)
	}
	from, to := spend[0].Month, spend[0].Month
	for _, s := range spend {
		from, to = min(from, s.Month), max(to, s.Month)
	}
	var have struct {
		Items []struct {
			Month, Currency string
			Amount          int64
		} `json:"items"`
	}
	if err := api.do(ctx, token, "GET", "/api/v1/spend?from="+from.String()+"&to="+to.String(), nil, &have); err != nil {
		return 0, err
	}
	entered := map[string]int64{}
	for _, h := range have.Items {
		entered[h.Month+" "+h.Currency] = h.Amount
	}
	changed := 0
	for _, s := range spend {
		if amount, ok := entered[s.Month.String()+" "+s.Currency]; ok && amount == s.Amount {
			continue
		}
		if err := api.do(ctx, token, "PUT", "/api/v1/spend/"+s.Month.String()+"/"+s.Currency, map[string]any{"amount": s.Amount}, nil); err != nil {
			return changed, err
		}
		changed++
	}
	return changed, nil
}
