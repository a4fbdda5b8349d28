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

// parseTime parses a field that is an instant: an RFC 3339 time, or a
// day ("YYYY-MM-DD"), which stands for the start of that day on cal, the
// reporting calendar (a payment "paid on" a day was paid that day there).
func parseTime(cal keel.Calendar, field, s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		d, err := parseDay(field, s)
		if err != nil {
			return time.Time{}, err
		}
		return cal.Start(d), nil
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

// parseSpan reads the query's from and to as a span of time on cal, each a
// day or an RFC 3339 time: from a day is that day's start; to a day is its
// end (the day included), to a time is exclusive. Either may be absent
// (zero); from must be before to.
func parseSpan(cal keel.Calendar, q url.Values) (from, to time.Time, err error) {
	if v := q.Get("from"); v != "" {
		if from, err = parseTime(cal, "from", v); err != nil {
			return from, to, err
		}
	}
	if v := q.Get("to"); v != "" {
		if len(v) == len(time.DateOnly) {
			var d time.Time
			if d, err = parseDay("to", v); err != nil {
				return from, to, err
			}
			to = cal.Start(d.AddDate(0, 0, 1))
		} else if to, err = parseTime(cal, "to", v); err != nil {
			return from, to, err
		}
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, keel.Invalid("from", "%s is not before to: %s", q.Get("from"), q.Get("to"))
	}
	return from, to, nil
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
