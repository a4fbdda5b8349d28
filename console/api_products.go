package console

import (
	"context"
	"net/http"

	"github.com/keelhq/keel"
)

// ProductStore is what the catalogue handlers read and change: products
// and their price versions.
type ProductStore interface {
	CreateProduct(ctx context.Context, by keel.Employee, p keel.Product) (keel.Product, error)
	SetProductStatus(ctx context.Context, by keel.Employee, id int64, s keel.ProductStatus) (keel.Product, error)
	AddPrice(ctx context.Context, by keel.Employee, v keel.PriceVersion) (keel.PriceVersion, error)
	Product(ctx context.Context, id int64) (keel.CatalogueEntry, error)
	Products(ctx context.Context) ([]keel.CatalogueEntry, error)
}

// productJSON is a product with its price versions, oldest first.
type productJSON struct {
	ID        int64       `json:"id"`
	Code      string      `json:"code"`
	Name      string      `json:"name"`
	Kind      string      `json:"kind"`
	Unit      string      `json:"unit"`
	Status    string      `json:"status"`
	CreatedAt string      `json:"created_at"`
	Prices    []priceJSON `json:"prices"`
}

// priceJSON is one price version; effective_to is null for the current one.
type priceJSON struct {
	ID            int64   `json:"id"`
	ProductID     int64   `json:"product_id"`
	Amount        int64   `json:"amount"`
	Currency      string  `json:"currency"`
	Period        string  `json:"period"`
	EffectiveFrom string  `json:"effective_from"`
	EffectiveTo   *string `json:"effective_to"`
	CreatedAt     string  `json:"created_at"`
}

func toProductJSON(p keel.Product, versions []keel.PriceVersion) productJSON {
	out := productJSON{ID: p.ID, Code: p.Code, Name: p.Name, Kind: string(p.Kind), Unit: p.Unit, Status: string(p.Status),
		CreatedAt: stamp(p.CreatedAt), Prices: make([]priceJSON, len(versions))}
	for i, v := range versions {
		out.Prices[i] = toPriceJSON(v)
	}
	return out
}

func toPriceJSON(v keel.PriceVersion) priceJSON {
	return priceJSON{ID: v.ID, ProductID: v.ProductID, Amount: v.Amount, Currency: v.Currency, Period: string(v.Period),
		EffectiveFrom: day(v.EffectiveFrom), EffectiveTo: dayPtr(v.EffectiveTo), CreatedAt: stamp(v.CreatedAt)}
}

func toCatalogueJSON(e keel.CatalogueEntry) productJSON { return toProductJSON(e.Product, e.Versions) }

// productRequest is the body of POST /products; status defaults to enabled.
type productRequest struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Unit   string `json:"unit"`
	Status string `json:"status"`
}

func (s *server) handleProductCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		var req productRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		p := keel.Product{Code: req.Code, Name: req.Name, Kind: keel.ProductKind(req.Kind), Unit: req.Unit, Status: keel.ProductStatus(req.Status)}
		p, err := s.catalogue.CreateProduct(r.Context(), employeeFrom(r.Context()), p)
		if err != nil {
			return err
		}
		writeCreated(w, location("products", p.ID), toProductJSON(p, nil))
		return nil
	})
}

// priceRequest is the body of POST /products/{id}/prices.
type priceRequest struct {
	Amount        *int64 `json:"amount"`
	Currency      string `json:"currency"`
	Period        string `json:"period"`
	EffectiveFrom string `json:"effective_from"`
}

func (s *server) handlePriceCreate() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.ProductNotFound)
		if err != nil {
			return err
		}
		var req priceRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		if req.Amount == nil {
			return keel.Invalid("amount", "required (minor units per unit per period, e.g. cents)")
		}
		v := keel.PriceVersion{ProductID: id, Amount: *req.Amount, Currency: req.Currency, Period: keel.Period(req.Period)}
		if req.EffectiveFrom != "" { // none is the domain's to refuse
			if v.EffectiveFrom, err = parseDay("effective_from", req.EffectiveFrom); err != nil {
				return err
			}
		}
		v, err = s.catalogue.AddPrice(r.Context(), employeeFrom(r.Context()), v)
		if err != nil {
			return err
		}
		writeCreated(w, location("products", id), toPriceJSON(v))
		return nil
	})
}

type productStatusRequest struct {
	Status string `json:"status"`
}

func (s *server) handleProductStatus() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, keel.ProductNotFound)
		if err != nil {
			return err
		}
		var req productStatusRequest
		if err := decodeBody(w, r, maxBodyBytes, false, &req); err != nil {
			return err
		}
		if _, err := s.catalogue.SetProductStatus(r.Context(), employeeFrom(r.Context()), id, keel.ProductStatus(req.Status)); err != nil {
			return err
		}
		e, err := s.catalogue.Product(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toCatalogueJSON(e))
		return nil
	})
}

func (s *server) handleProductGet() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		e, err := pathRecord(r, keel.ProductNotFound, s.catalogue.Product)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toCatalogueJSON(e))
		return nil
	})
}

// handleProductList lists the whole catalogue: it is small, so it has no
// paging, and answers in the list shape for the day it does.
func (s *server) handleProductList() http.HandlerFunc {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := queryParams(r); err != nil {
			return err
		}
		rows, err := s.catalogue.Products(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, len(rows), keel.Page{Limit: len(rows)}, toCatalogueJSON))
		return nil
	})
}
