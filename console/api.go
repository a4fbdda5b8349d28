package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel"
)

// Request body limits. Follow-ups carry attachments (base64, so a third
// larger than the files), everything else is a small record.
const (
	maxBodyBytes     = 1 << 20
	maxFollowUpBytes = 10 << 20
)

// apiError is the one place an error becomes a JSON answer. Only internal
// errors are logged; callers see the message of a coded error, or a
// generic one.
func (s *server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	code := keel.ErrorCode(err)
	if code == keel.EINTERNAL {
		s.Log.Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == keel.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keel"`)
	}
	writeJSONError(w, statusOf(code), code, keel.ErrorMessage(err), keel.ErrorField(err))
}

// api makes an API handler of h, which answers the request itself when
// it succeeds and returns the error when it does not: apiError answers
// that, so every handler fails the same way.
func (s *server) api(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.apiError(w, r, err)
		}
	}
}

// writeJSONError writes {"error": {"code": …, "message": …, "field": …}},
// field only when the refusal is about one.
func writeJSONError(w http.ResponseWriter, status int, code, message, field string) {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	}
	writeJSON(w, status, map[string]body{"error": {Code: code, Message: message, Field: field}})
}

// writeJSON writes v as the response. Encoding goes to memory first so a
// value that cannot be encoded never leaves half an answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"error":{"code":"internal","message":"internal error"}}`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// writeCreated answers 201 with the new record and where to find it.
func writeCreated(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, v)
}

// noStore keeps API answers, which hold customers' records, out of caches.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// decodeBody decodes the request's JSON body into v, strictly: a body over
// limit is ETOOLARGE; anything but one JSON object with known fields of the
// right types is EINVALID naming the field. With allowEmpty, an empty body
// is fine and leaves v as it is.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, allowEmpty bool, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return keel.Invalid("Content-Type", "%q is not JSON (send application/json)", ct)
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if allowEmpty {
			return nil
		}
		return keel.Invalid("body", "required (a JSON object)")
	}
	if err != nil {
		return jsonError("", err, limit)
	}
	if err := jsonText("", v); err != nil {
		return err
	}
	// One value, nothing after it: a second object is a client bug.
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			if e := jsonError("", err, limit); keel.ErrorCode(e) == keel.ETOOLARGE {
				return e
			}
		}
		return keel.Invalid("body", "more than one JSON value")
	}
	return nil
}

// decodeInto decodes one part of a body (a line of an order, an
// attachment) strictly, naming fields after prefix, e.g. "lines[2].".
func decodeInto(raw json.RawMessage, prefix string, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(prefix, err, 0)
	}
	return jsonText(prefix, v)
}

// jsonError turns a decoding error into an EINVALID (or ETOOLARGE) error
// that names the field, prefixed with prefix.
func jsonError(prefix string, err error, limit int64) error {
	var (
		maxErr    *http.MaxBytesError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	field := func(name string) string {
		if name == "" {
			if prefix == "" {
				return "body"
			}
			return strings.TrimSuffix(prefix, ".")
		}
		return prefix + name
	}
	switch {
	case errors.As(err, &maxErr):
		return keel.FieldErrorf(keel.ETOOLARGE, "body", "over the limit of %d MiB", limit>>20)
	case errors.As(err, &typeErr):
		return wantType(field(typeErr.Field), typeErr.Type)
	case errors.As(err, &syntaxErr):
		return keel.Invalid(field(""), "not valid JSON (at byte %d: %s)", syntaxErr.Offset, syntaxErr.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return keel.Invalid(field(""), "not valid JSON (it ends too early)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return keel.Invalid(field(name), "unknown field")
	}
	return keel.Invalid(field(""), "not valid JSON")
}

// wantType refuses a JSON value of the wrong type for field, saying in
// words what a value of Go type t looks like.
func wantType(field string, t reflect.Type) error {
	if t == nil {
		return keel.Invalid(field, "want another type")
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return keel.Invalid(field, "want an integer")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return keel.Invalid(field, "want a non-negative integer")
	case reflect.Float32, reflect.Float64:
		return keel.Invalid(field, "want a number")
	case reflect.String:
		return keel.Invalid(field, "want a string")
	case reflect.Bool:
		return keel.Invalid(field, "want true or false")
	case reflect.Slice, reflect.Array:
		return keel.Invalid(field, "want an array")
	case reflect.Pointer:
		return wantType(field, t.Elem())
	}
	return keel.Invalid(field, "want an object")
}

// optional is a field of a partial update: Set tells an absent field from
// one sent as null (Null) or with a value (V).
type optional[T any] struct {
	Set  bool
	Null bool
	V    T
}

// textValue is the value whose strings jsonText checks.
func (o optional[T]) textValue() any { return o.V }

// UnmarshalJSON implements json.Unmarshaler.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// queryParams returns the URL's query, refusing parameters other than
// allowed and parameters given twice, so a typo is an error rather than a
// filter silently not applied.
func queryParams(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, keel.Invalid("query", "%s", err)
	}
	for name, vs := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok && len(allowed) == 0 {
			return nil, keel.Invalid(name, "unknown parameter (this list takes none)")
		}
		if !ok {
			return nil, keel.Invalid(name, "unknown parameter (want one of %s)", strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, keel.Invalid(name, "given %d times", len(vs))
		}
	}
	return q, nil
}

// queryPage parses limit and offset.
func queryPage(q url.Values) (keel.Page, error) {
	var p keel.Page
	for _, f := range []struct {
		name string
		to   *int
	}{{"limit", &p.Limit}, {"offset", &p.Offset}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return p, keel.Invalid(f.name, "%q is not an integer", s)
		}
		*f.to = n
	}
	if q.Get("limit") == "0" {
		return p, keel.Invalid("limit", "must be 1 to %d", keel.MaxPageSize)
	}
	return p.Normalize()
}

// list is one page of a list.
type list[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// newList converts a page of records; Items is [] rather than null when
// the page is empty.
func newList[R, T any](rows []R, total int, p keel.Page, conv func(R) T) list[T] {
	items := make([]T, len(rows))
	for i, r := range rows {
		items[i] = conv(r)
	}
	return list[T]{Items: items, Total: total, Limit: p.Limit, Offset: p.Offset}
}

// day formats a calendar day.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// dayPtr formats an optional day; nil stays null.
func dayPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := day(*t)
	return &s
}

// stamp formats an instant in RFC 3339, UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// stampPtr formats an optional instant; nil stays null.
func stampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}

// location is the URL of a record in the API.
func location(kind string, id int64) string { return fmt.Sprintf("/api/v1/%s/%d", kind, id) }
