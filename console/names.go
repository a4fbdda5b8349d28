package console

import (
	"context"
	"strconv"

	"github.com/keelhq/keel"
)

// The names of other records that pages show beside their own: who did
// what, which product a line or a subscription is of.

// names are employees' names by id, for pages that say who did what.
type names map[int64]string

func employeeNames(emps []keel.Employee) names {
	n := make(names, len(emps))
	for _, e := range emps {
		n[e.ID] = e.Name
	}
	return n
}

// of is the name of employee id: "" for none (0), "#id" for one not listed.
func (n names) of(id int64) string {
	if id == 0 {
		return ""
	}
	if name, ok := n[id]; ok {
		return name
	}
	return "#" + strconv.FormatInt(id, 10)
}

// ofPtr is of for an optional id.
func (n names) ofPtr(id *int64) string {
	if id == nil {
		return ""
	}
	return n.of(*id)
}

// ownerOptions are the choices of an owner filter: the active sellers and
// CSMs, and whoever is selected (who may have left since).
func ownerOptions(emps []keel.Employee, selected int64) []option {
	var out []option
	for _, e := range emps {
		if e.ID == selected || e.Status == keel.EmployeeActive && (e.Has(keel.RoleSales) || e.Has(keel.RoleCSM)) {
			out = append(out, option{Value: strconv.FormatInt(e.ID, 10), Label: e.Name, Selected: e.ID == selected})
		}
	}
	return out
}

// products is the catalogue by product id, for pages that name the
// products of other records.
type products map[int64]keel.Product

func (s *server) productNames(ctx context.Context) (products, error) {
	entries, err := s.catalogue.Products(ctx)
	if err != nil {
		return nil, err
	}
	out := make(products, len(entries))
	for _, e := range entries {
		out[e.Product.ID] = e.Product
	}
	return out, nil
}

// name is product id's name; "#id" for one not in the catalogue.
func (p products) name(id int64) string {
	if pr, ok := p[id]; ok {
		return pr.Name
	}
	return "#" + strconv.FormatInt(id, 10)
}

// label is product id's name and code, "Pro (pro)", as order lines show it.
func (p products) label(id int64) string {
	if pr, ok := p[id]; ok {
		return pr.Name + " (" + pr.Code + ")"
	}
	return "#" + strconv.FormatInt(id, 10)
}
