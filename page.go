package keel

// Page selects a slice of a list. Limit 0 means the default (50); lists
// never return more than MaxPageSize rows.
type Page struct {
	Limit  int
	Offset int
}

// MaxPageSize bounds one page of any list.
const MaxPageSize = 500

// Normalize applies the default and the bounds, or returns an EINVALID
// error naming limit or offset.
func (p Page) Normalize() (Page, error) {
	if p.Limit < 0 || p.Limit > MaxPageSize {
		return p, Invalid("limit", "must be 1 to %d", MaxPageSize)
	}
	if p.Offset < 0 {
		return p, Invalid("offset", "must not be negative")
	}
	if p.Limit == 0 {
		p.Limit = 50
	}
	return p, nil
}
