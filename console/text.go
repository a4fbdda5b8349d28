package console

import (
	"cmp"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/keelhq/keel"
)

// Text Postgres cannot store — a NUL byte, bytes that are not UTF-8 — is
// refused where a request is read, before any handler or store sees it,
// with keel.ValidText's refusal naming the input: checkText for the path,
// every query parameter, every form value and every uploaded file's name;
// decodeBody and decodeInto for every string of a JSON body. The domain's
// rules refuse it too, for the ways text reaches them other than the
// console. An uploaded file's content is binary and is not checked.

// checkText refuses a request whose path, query parameters or (with
// forms) form values and file names are not text, answering with fail
// (a page or the API's JSON). A form that no middleware before has read
// (the sign-in form) is read here, within the usual limits.
func (s *server) checkText(fail func(http.ResponseWriter, *http.Request, error), forms bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := requestText(w, r, forms); err != nil {
				fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func requestText(w http.ResponseWriter, r *http.Request, forms bool) error {
	if err := keel.ValidText("path", r.URL.Path); err != nil {
		return err
	}
	// A query that does not parse is the handlers' to refuse (queryParams);
	// what did parse is checked.
	q, _ := url.ParseQuery(r.URL.RawQuery)
	if err := valuesText("query", q); err != nil {
		return err
	}
	if !forms || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if r.PostForm == nil && isForm(r) {
		if err := parseForm(w, r); err != nil {
			return err
		}
	}
	if err := valuesText("form", r.PostForm); err != nil {
		return err
	}
	if r.MultipartForm != nil {
		for _, name := range sortedKeys(r.MultipartForm.File) {
			for _, fh := range r.MultipartForm.File[name] {
				if err := keel.ValidText(name, fh.Filename); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// isForm reports whether the request's body is a form.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// valuesText checks every name and value of vs, in name order so the
// refusal is the same each time; a name that is not text is refused as
// what (the query, the form).
func valuesText(what string, vs url.Values) error {
	for _, name := range sortedKeys(vs) {
		if err := keel.ValidText(what, name); err != nil {
			return err
		}
		for _, v := range vs[name] {
			if err := keel.ValidText(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// textValuer is a value whose text is another value's (optional[T]'s V).
type textValuer interface{ textValue() any }

// jsonText checks every string of v, a decoded JSON body or part of one,
// naming it by its JSON path after prefix ("contacts[0].name"). Bytes
// ([]byte, json.RawMessage) are not text: raw parts are checked when they
// are decoded in turn (decodeInto), and binary data is not checked at all.
func jsonText(prefix string, v any) error {
	return valueText(strings.TrimSuffix(prefix, "."), reflect.ValueOf(v))
}

func valueText(path string, v reflect.Value) error {
	if !v.IsValid() {
		return nil
	}
	if v.CanInterface() {
		if tv, ok := v.Interface().(textValuer); ok {
			return valueText(path, reflect.ValueOf(tv.textValue()))
		}
	}
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v.Kind() {
	case reflect.String:
		return keel.ValidText(cmp.Or(path, "body"), v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return valueText(path, v.Elem())
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "-":
				continue
			case name == "" && f.Anonymous:
				name = path
			case name == "":
				name = join(f.Name)
			default:
				name = join(name)
			}
			if err := valueText(name, v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := 0; i < v.Len(); i++ {
			if err := valueText(path+"["+strconv.Itoa(i)+"]", v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			if k.Kind() == reflect.String {
				if err := keel.ValidText(cmp.Or(path, "body"), k.String()); err != nil {
					return err
				}
			}
			if err := valueText(join(k.String()), v.MapIndex(k)); err != nil {
				return err
			}
		}
	}
	return nil
}
