package keel

import "time"

// Days in Keel's records — a price's effective_from, a grant's start and
// end, an order line's start — are calendar dates, kept as midnight UTC of
// that date (what "2026-11-23" parses to, and what Date returns).

// Date returns t's calendar date in UTC, at midnight: it normalises a
// value that already is a day (parsed from "YYYY-MM-DD", read from a date
// column).
func Date(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// InYears returns an EINVALID error about field unless t is in the years
// records may have, 2000 to 2100.
func InYears(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 2000 || y > 2100 {
		return Invalid(field, "%s is out of range (2000 to 2100)", t.UTC().Format(time.DateOnly))
	}
	return nil
}
