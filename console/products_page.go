package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// productRow is one product of the catalogue list.
type productRow struct {
	ID          int64
	Code, Name  string
	Kind        string
	Unit        string
	Status      keel.ProductStatus
	StatusLabel string
	Price       string // the price in effect today (or the next one); "" = none
}

// productForm is the typed values of the new-product form.
type productForm struct {
	Code, Name, Kind, Unit string
}

type productsData struct {
	Products []productRow
	Kinds    []option
	Form     productForm
	Error    string
}

// currentPrice says what a product costs today (keel.PriceAt), or, when
// its first price starts later, from when; "" when it has no price. A
// product has one currency and one period (keel.Product.AddPrice).
func currentPrice(l lang, e keel.CatalogueEntry, today time.Time) string {
	text := func(v keel.PriceVersion) string {
		return keel.FormatAmount(v.Amount, v.Currency) + " " + v.Currency + " " + periodLabel(l, v.Period)
	}
	if v, err := keel.PriceAt(e.Product, e.Versions, today); err == nil {
		return text(v)
	}
	for _, v := range e.Versions {
		if v.EffectiveFrom.After(today) {
			return l.T("%s from %s", text(v), day(v.EffectiveFrom))
		}
	}
	return ""
}

func (s *server) renderProducts(w http.ResponseWriter, r *http.Request, status int, form productForm, msg string) error {
	l := s.langOf(r)
	entries, err := s.catalogue.Products(r.Context())
	if err != nil {
		return err
	}
	today := s.day()
	d := productsData{Form: form, Error: msg}
	for _, e := range entries {
		p := e.Product
		d.Products = append(d.Products, productRow{ID: p.ID, Code: p.Code, Name: p.Name, Kind: productKindLabel(l, p.Kind), Unit: p.Unit,
			Status: p.Status, StatusLabel: productStatusLabel(l, p.Status), Price: currentPrice(l, e, today)})
	}
	if form.Kind == "" {
		form.Kind = string(keel.KindEdition)
	}
	d.Kinds = options(l, keel.ProductKinds, productKindLabel, form.Kind)
	s.render(w, r, status, "products", page{Title: l.T("Products"), Nav: "products", Data: d})
	return nil
}

func (s *server) handleProductsPage() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		return s.renderProducts(w, r, http.StatusOK, productForm{}, "")
	})
}

func (s *server) handleProductCreateForm() http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request) error {
		l := s.langOf(r)
		f := productForm{
			Code: strings.TrimSpace(r.PostFormValue("code")), Name: strings.TrimSpace(r.PostFormValue("name")),
			Kind: r.PostFormValue("kind"), Unit: strings.TrimSpace(r.PostFormValue("unit")),
		}
		p, err := s.catalogue.CreateProduct(r.Context(), employeeFrom(r.Context()),
			keel.Product{Code: f.Code, Name: f.Name, Kind: keel.ProductKind(f.Kind), Unit: f.Unit, Status: keel.ProductEnabled})
		if formRefused(err) {
			return s.renderProducts(w, r, statusOf(keel.ErrorCode(err)), f, l.Refusal(err))
		}
		if err != nil {
			return err
		}
		s.redirect(w, r, "/products/"+strconv.FormatInt(p.ID, 10), l.T("Product created. Give it a price to make it orderable."))
		return nil
	})
}
