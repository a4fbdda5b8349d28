package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/keelhq/keel"
)

// pageSize is the length of every list page.
const pageSize = 50

// pageOf reads ?page=N (1-based) into a keel.Page, naming the field when
// it is not a page number.
func pageOf(r *http.Request) (keel.Page, error) { return pageIn(r.URL.Query()) }

// pageIn is pageOf for a query read from elsewhere (the page a refused
// form came from).
func pageIn(q url.Values) (keel.Page, error) {
	n := 1
	if v := q.Get("page"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100000 {
			return keel.Page{}, keel.Invalid("page", "%q is not a page number", v)
		}
	}
	return keel.Page{Limit: pageSize, Offset: (n - 1) * pageSize}, nil
}

// pager is the "previous / next" of a list page.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string // links; empty at the ends
}

func pagerOf(r *http.Request, p keel.Page, total int) pager {
	return pagerAt(r.URL.Path, r.URL.Query(), p, total)
}

// pagerAt is pagerOf for links to another page than the request's (as
// when a refused form shows the page it was posted from).
func pagerAt(path string, query url.Values, p keel.Page, total int) pager {
	pg := pager{Page: p.Offset/pageSize + 1, Pages: (total + pageSize - 1) / pageSize, Total: total}
	link := func(n int) string {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(n))
		return path + "?" + q.Encode()
	}
	if pg.Page > 1 {
		pg.Prev = link(pg.Page - 1)
	}
	if pg.Page < pg.Pages {
		pg.Next = link(pg.Page + 1)
	}
	return pg
}
