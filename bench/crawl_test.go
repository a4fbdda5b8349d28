package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestBenchConsolePattern(t *testing.T) {
	tests := []struct{ url, want string }{
		{"/", "/"},
		{"/customers", "/customers"},
		{"/customers/42", "/customers/{id}"},
		{"/customers/42/orders/7", "/customers/{id}/orders/{id}"},
		{"/customers/42/", "/customers/{id}/"},
		{"/customers?status=active", "/customers?status"},
		{"/customers?status=active&page=2", "/customers?page&status"},
		{"/customers?page=2&status=active", "/customers?page&status"},
		{"/customers?status=a&status=b", "/customers?status"},
		{"/customers?", "/customers"},
		{"/activity/tenants/t-1001", "/activity/tenants/{tenant}"},
		{"/activity/tenants/t-1001/users?to=2026-01-01", "/activity/tenants/{tenant}/users?to"},
		{"/activity/tenants", "/activity/tenants"},
		{"/activity?tenant=t-1001", "/activity?tenant"},
		{"/products/pro-2", "/products/pro-2"}, // not numeric: a page of its own
		{"/orders/12a", "/orders/12a"},
	}
	for _, tt := range tests {
		if got := pattern(tt.url); got != tt.want {
			t.Errorf("pattern(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestBenchConsoleExtractLinks(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8080")
	page := `<html><head><link href="/static/app.css" rel="stylesheet"></head><body>
<a href="/customers">Customers</a>
<a class="x" href='/customers/7?tab=orders&amp;page=2#top'>Acme</a>
<A HREF=/orders>Orders</A>
<a href="/customers">again</a>
<a href="https://example.com/elsewhere">out</a>
<a href="//example.com/x">protocol-relative, out</a>
<a href="http://127.0.0.1:8080/products">absolute, same site</a>
<a href="mailto:a@b.c">mail</a>
<a href="#section">fragment only</a>
<a href="notes">relative</a>
<a href="/customers/7/attachments/3" download>file</a>
<a name="anchor">no href</a>
<a data-href="/nope">data attribute</a>
<form action="/logout" method="post"><button>Sign out</button></form>
</body></html>`
	got := extractLinks(base, "/customers/7/", []byte(page))
	want := []string{"/customers", "/customers/7?tab=orders&page=2", "/orders", "/products", "/customers/7/notes"}
	if !slices.Equal(got, want) {
		t.Errorf("extractLinks:\n got %q\nwant %q", got, want)
	}
}

func TestBenchConsoleSkipLink(t *testing.T) {
	tests := []struct {
		url  string
		skip bool
	}{
		{"/static/app.css", true},
		{"/api/v1/customers", true},
		{"/logout", true},
		{"/login?next=/x", true},
		{"/attachments/3", true},
		{"/customers/7/attachments/3", true},
		{"/customers/7/attachments", false}, // the list is a page
		{"/apiary", false},
		{"/customers?q=/api/", false},
		{"/", false},
	}
	for _, tt := range tests {
		if got := skipLink(tt.url); got != tt.skip {
			t.Errorf("skipLink(%q) = %v, want %v", tt.url, got, tt.skip)
		}
	}
}

// TestBenchConsoleCrawl crawls a small fake console: a long list is
// sampled, downloads and non-pages are skipped, a failing page is kept.
func TestBenchConsoleCrawl(t *testing.T) {
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, links ...string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body>")
		for _, l := range links {
			fmt.Fprintf(w, `<a href="%s">x</a>`, l)
		}
		fmt.Fprint(w, "</body></html>")
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "/customers", "/static/app.css", "/api/v1/me", "/export.csv", "/broken", "/old", "/logout")
	})
	mux.HandleFunc("GET /customers", func(w http.ResponseWriter, r *http.Request) {
		var links []string
		for i := 1; i <= 200; i++ {
			links = append(links, fmt.Sprintf("/customers/%d", i))
		}
		page(w, append(links, "/customers?status=active", "/customers?status=churned", "/")...)
	})
	mux.HandleFunc("GET /customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "/customers/"+r.PathValue("id")+"/attachments/1", "/activity/tenants/t-"+r.PathValue("id"))
	})
	mux.HandleFunc("GET /activity/tenants/{t}", func(w http.ResponseWriter, r *http.Request) { page(w) })
	mux.HandleFunc("GET /export.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		fmt.Fprint(w, "a,b\n")
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError) // no body, no content type
	})
	mux.HandleFunc("GET /old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/customers?status=old", http.StatusSeeOther)
	})
	requested := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requested[r.URL.Path]++
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)

	groups, order, pages, err := crawl(context.Background(), newClient(nil), base, 5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"/", "/customers", "/broken", "/old", "/customers/{id}", "/customers?status", "/activity/tenants/{tenant}"}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("patterns:\n got %q\nwant %q", order, wantOrder)
	}
	if got, want := groups["/customers/{id}"], []string{"/customers/1", "/customers/2", "/customers/3", "/customers/4", "/customers/5"}; !slices.Equal(got, want) {
		t.Errorf("/customers/{id} kept %q, want %q", got, want)
	}
	if got, want := groups["/customers?status"], []string{"/customers?status=active", "/customers?status=churned", "/customers?status=old"}; !slices.Equal(got, want) {
		t.Errorf("/customers?status kept %q, want %q", got, want)
	}
	if got := len(groups["/activity/tenants/{tenant}"]); got != 5 {
		t.Errorf("/activity/tenants/{tenant} kept %d URLs, want 5", got)
	}
	// 1 home + 1 list + 5 customers + 3 filtered lists + 5 tenants + broken + old + the CSV.
	if pages != 18 {
		t.Errorf("crawled %d pages, want 18", pages)
	}
	for _, p := range []string{"/static/app.css", "/api/v1/me", "/logout", "/customers/1/attachments/1", "/customers/6"} {
		if requested[p] != 0 {
			t.Errorf("crawl requested %s", p)
		}
	}
	if _, ok := groups["/export.csv"]; ok {
		t.Errorf("crawl kept /export.csv, which is not a page")
	}
}

// TestBenchConsoleCrawlSignedOut fails the crawl when a page sends the
// bench to the sign-in page: a bench of login redirects measures nothing.
func TestBenchConsoleCrawlSignedOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	_, _, _, err := crawl(context.Background(), newClient(nil), base, 5, 100)
	if err == nil || !strings.Contains(err.Error(), "session was lost") {
		t.Errorf("crawl error = %v, want the session was lost", err)
	}
}
