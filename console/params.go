package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/keelhq/keel"
)

// Reading what a request names — a record in the path, filters in the
// query, days and times — for the JSON API and the pages alike, each
// refusal naming the parameter.

// pathID is the record id in the URL. A path whose id is not a positive
// integer names no record: notFound (keel.CustomerNotFound …) says so.
func pathID(r *http.Request, notFound func(id any) *keel.Error) (int64, error) {
	s := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, notFound(s)
	}
	return id, nil
}

// queryID parses an optional record id parameter; 0 when absent.
func queryID(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, keel.Invalid(name, "%q is not a record id (want a positive integer)", s)
	}
	return id, nil
}

// queryEnum parses an optional parameter that must be one of values (a
// list of the domain's, such as keel.OrderKinds).
func queryEnum[T ~string](q url.Values, name string, values []T) (T, error) {
	v := T(q.Get(name))
	if v == "" {
		return "", nil
	}
	if err := keel.OneOf(name, v, values); err != nil {
		return "", err
	}
	return v, nil
}

// parseDay parses a "YYYY-MM-DD" field as UTC midnight, within the years
// records may have.
func parseDay(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, keel.Invalid(field, "%q is not a date like 2026-11-23", s)
	}
	if err := keel.InYears(field, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// parseTime parses a field that is a day ("YYYY-MM-DD", UTC midnight) or
// an RFC 3339 time.
func parseTime(field, s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		return parseDay(field, s)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, keel.Invalid(field, "%q is not a date like 2026-11-23 or a time like 2026-11-23T08:00:00Z", s)
	}
	if err := keel.InYears(field, t); err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// formInt reads an integer form or query field, naming it when it is not
// one; empty is 0.
func formInt(field, v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, keel.Invalid(field, "%q is not a whole number", v)
	}
	return n, nil
}

// pathRecord reads the record whose id is in the path with read (a store
// method such as Store.Customer); a path that names no record is
// notFound's refusal.
func pathRecord[T any](r *http.Request, notFound func(id any) *keel.Error, read func(context.Context, int64) (T, error)) (T, error) {
	id, err := pathID(r, notFound)
	if err != nil {
		var none T
		return none, err
	}
	return read(r.Context(), id)
}
