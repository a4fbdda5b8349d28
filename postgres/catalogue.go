package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel"
)

const productColumns = `id, code, name, kind, unit, status, created_at`

func scanProduct(row pgx.Row) (keel.Product, error) {
	var p keel.Product
	if err := row.Scan(&p.ID, &p.Code, &p.Name, &p.Kind, &p.Unit, &p.Status, &p.CreatedAt); err != nil {
		return keel.Product{}, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	return p, nil
}

const priceColumns = `id, product_id, amount, currency, period, effective_from, effective_to, created_at`

func scanPrice(row pgx.Row) (keel.PriceVersion, error) {
	var v keel.PriceVersion
	if err := row.Scan(&v.ID, &v.ProductID, &v.Amount, &v.Currency, &v.Period, &v.EffectiveFrom, &v.EffectiveTo, &v.CreatedAt); err != nil {
		return keel.PriceVersion{}, err
	}
	v.EffectiveFrom = keel.Date(v.EffectiveFrom)
	if v.EffectiveTo != nil {
		to := keel.Date(*v.EffectiveTo)
		v.EffectiveTo = &to
	}
	v.CreatedAt = v.CreatedAt.UTC()
	return v, nil
}

// lockProduct reads product id for update inside a change.
func lockProduct(ctx context.Context, tx pgx.Tx, id int64) (keel.Product, error) {
	p, err := scanProduct(tx.QueryRow(ctx, `SELECT `+productColumns+` FROM products WHERE id = $1 FOR NO KEY UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return keel.Product{}, keel.ProductNotFound(id)
	}
	if err != nil {
		return keel.Product{}, fmt.Errorf("read product %d: %w", id, err)
	}
	return p, nil
}

// CreateProduct adds a product to the catalogue; an empty status is
// enabled. It needs keel.ActCatalogueWrite; it returns EINVALID for a bad
// product and ECONFLICT when the code is taken.
func (db *DB) CreateProduct(ctx context.Context, by keel.Employee, p keel.Product) (keel.Product, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.Product{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActCatalogueWrite); err != nil {
		return keel.Product{}, err
	}
	if p.Status == "" {
		p.Status = keel.ProductEnabled
	}
	p.ID, p.CreatedAt = 0, c.now
	if err := p.Validate(); err != nil {
		return keel.Product{}, err
	}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO products (code, name, kind, unit, status, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		p.Code, p.Name, p.Kind, p.Unit, p.Status, p.CreatedAt).Scan(&p.ID)
	if isUnique(err, "products_code_key") {
		return keel.Product{}, keel.FieldErrorf(keel.ECONFLICT, "code", "there is already a product %s", p.Code)
	}
	if err != nil {
		return keel.Product{}, fmt.Errorf("create product %s: %w", p.Code, err)
	}
	if err := c.audit(ctx, "product.create", "product", p.ID, nil, p); err != nil {
		return keel.Product{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Product{}, fmt.Errorf("create product %s: %w", p.Code, err)
	}
	return p, nil
}

// SetProductStatus enables or disables product id. Orders already made keep
// their lines; a disabled product cannot be ordered again. It needs
// keel.ActCatalogueWrite; it returns ENOTFOUND and EINVALID.
func (db *DB) SetProductStatus(ctx context.Context, by keel.Employee, id int64, s keel.ProductStatus) (keel.Product, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.Product{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActCatalogueWrite); err != nil {
		return keel.Product{}, err
	}
	before, err := lockProduct(ctx, c.tx, id)
	if err != nil {
		return keel.Product{}, err
	}
	after := before
	after.Status = s
	if err := after.Validate(); err != nil {
		return keel.Product{}, err
	}
	if after.Status == before.Status {
		return before, nil
	}
	if _, err := c.tx.Exec(ctx, `UPDATE products SET status = $2 WHERE id = $1`, id, s); err != nil {
		return keel.Product{}, fmt.Errorf("set status of product %d: %w", id, err)
	}
	if err := c.audit(ctx, "product.status", "product", id, before, after); err != nil {
		return keel.Product{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.Product{}, fmt.Errorf("set status of product %d: %w", id, err)
	}
	return after, nil
}

// AddPrice adds a price version to product v.ProductID and closes the
// version before it, in one transaction with the product row locked, so two
// new prices cannot both close the same version. The rules are
// keel.Product.AddPrice's: it returns ECONFLICT for a version that does not
// start after the current one, EINVALID for a bad version or another
// currency or period, ENOTFOUND for an unknown product. It needs
// keel.ActCatalogueWrite.
func (db *DB) AddPrice(ctx context.Context, by keel.Employee, v keel.PriceVersion) (keel.PriceVersion, error) {
	c, err := db.begin(ctx, by, "SHARE")
	if err != nil {
		return keel.PriceVersion{}, err
	}
	defer c.tx.Rollback(ctx)
	if err := c.by.Can(keel.ActCatalogueWrite); err != nil {
		return keel.PriceVersion{}, err
	}
	p, err := lockProduct(ctx, c.tx, v.ProductID)
	if err != nil {
		return keel.PriceVersion{}, err
	}
	versions, err := loadPrices(ctx, c.tx, []int64{p.ID})
	if err != nil {
		return keel.PriceVersion{}, err
	}
	closes, err := p.AddPrice(versions[p.ID], v)
	if err != nil {
		return keel.PriceVersion{}, err
	}
	v.ID, v.EffectiveFrom, v.EffectiveTo, v.CreatedAt = 0, keel.Date(v.EffectiveFrom), nil, c.now
	if closes != nil {
		before := *closes
		before.EffectiveTo = nil
		if _, err := c.tx.Exec(ctx, `UPDATE price_versions SET effective_to = $2 WHERE id = $1`, closes.ID, *closes.EffectiveTo); err != nil {
			return keel.PriceVersion{}, fmt.Errorf("close price version %d: %w", closes.ID, err)
		}
		if err := c.audit(ctx, "price.close", "price_version", closes.ID, before, *closes); err != nil {
			return keel.PriceVersion{}, err
		}
	}
	err = c.tx.QueryRow(ctx,
		`INSERT INTO price_versions (product_id, amount, currency, period, effective_from, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		v.ProductID, v.Amount, v.Currency, v.Period, v.EffectiveFrom, v.CreatedAt).Scan(&v.ID)
	if err != nil {
		return keel.PriceVersion{}, fmt.Errorf("add price to product %d: %w", v.ProductID, err)
	}
	if err := c.audit(ctx, "price.add", "price_version", v.ID, nil, v); err != nil {
		return keel.PriceVersion{}, err
	}
	if err := c.commit(ctx); err != nil {
		return keel.PriceVersion{}, fmt.Errorf("add price to product %d: %w", v.ProductID, err)
	}
	return v, nil
}

// loadPrices returns the price versions of the products, oldest first.
func loadPrices(ctx context.Context, q querier, productIDs []int64) (map[int64][]keel.PriceVersion, error) {
	rows, err := q.Query(ctx, `SELECT `+priceColumns+` FROM price_versions WHERE product_id = ANY($1) ORDER BY product_id, effective_from`, productIDs)
	if err != nil {
		return nil, fmt.Errorf("read price versions: %w", err)
	}
	defer rows.Close()
	out := map[int64][]keel.PriceVersion{}
	for rows.Next() {
		v, err := scanPrice(rows)
		if err != nil {
			return nil, fmt.Errorf("read price versions: %w", err)
		}
		out[v.ProductID] = append(out[v.ProductID], v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read price versions: %w", err)
	}
	return out, nil
}

// loadCatalogue returns the products with the given ids (all of them when
// ids is nil) with their price versions. Unknown ids are left out.
func loadCatalogue(ctx context.Context, q querier, ids []int64) (map[int64]keel.CatalogueEntry, error) {
	sql, args := `SELECT `+productColumns+` FROM products`, []any{}
	if ids != nil {
		sql, args = sql+` WHERE id = ANY($1)`, []any{ids}
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read products: %w", err)
	}
	defer rows.Close()
	out := map[int64]keel.CatalogueEntry{}
	var found []int64
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, fmt.Errorf("read products: %w", err)
		}
		out[p.ID] = keel.CatalogueEntry{Product: p, Versions: []keel.PriceVersion{}}
		found = append(found, p.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read products: %w", err)
	}
	rows.Close()
	versions, err := loadPrices(ctx, q, found)
	if err != nil {
		return nil, err
	}
	for id, vs := range versions {
		e := out[id]
		e.Versions = vs
		out[id] = e
	}
	return out, nil
}

// Product returns product id with its price versions, oldest first, or
// ENOTFOUND.
func (db *DB) Product(ctx context.Context, id int64) (keel.CatalogueEntry, error) {
	cat, err := loadCatalogue(ctx, db.pool, []int64{id})
	if err != nil {
		return keel.CatalogueEntry{}, err
	}
	e, ok := cat[id]
	if !ok {
		return keel.CatalogueEntry{}, keel.ProductNotFound(id)
	}
	return e, nil
}

// Products lists the catalogue by product code, each product with its
// price versions, oldest first.
func (db *DB) Products(ctx context.Context) ([]keel.CatalogueEntry, error) {
	cat, err := loadCatalogue(ctx, db.pool, nil)
	if err != nil {
		return nil, err
	}
	out := make([]keel.CatalogueEntry, 0, len(cat))
	for _, e := range cat {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Product.Code < out[j].Product.Code })
	return out, nil
}
