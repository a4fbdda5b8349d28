package keel

import "time"

// Days in Keel's records — a price's effective_from, a grant's start and
// end, an order line's start — are calendar dates, kept as midnight UTC of
// that date (what "2026-11-23" parses to, and what Date returns). Which
// date an instant falls on is the reporting timezone's business
// (METRICS.md: "days are calendar days in the company's reporting
// timezone"): a Calendar answers it, and every rule that says "today" asks
// one.

// Date returns t's calendar date in UTC, at midnight: it normalises a
// value that already is a day (parsed from "YYYY-MM-DD", read from a date
// column). For the day an instant falls on, ask a Calendar.
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

// Calendar is the company's reporting timezone: the one place that decides
// which day an instant falls on, for the domain's rules, the API, the
// pages and the CLI alike. The zero Calendar is UTC, the default.
type Calendar struct{ loc *time.Location }

// UTC is the calendar of a company that reports in UTC, the default.
var UTC = Calendar{}

// NewCalendar returns the calendar of timezone loc; nil is UTC.
func NewCalendar(loc *time.Location) Calendar { return Calendar{loc: loc} }

// LoadCalendar returns the calendar of the IANA timezone name ("UTC",
// "Asia/Shanghai"), or an EINVALID error about field (the setting that
// named it, such as "--tz").
func LoadCalendar(field, name string) (Calendar, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return Calendar{}, Invalid(field, "unknown timezone %q", name)
	}
	return NewCalendar(loc), nil
}

// Location is the calendar's timezone.
func (c Calendar) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// Day returns the reporting day instant t falls on, as midnight UTC of
// that date (the form of every day in the records).
func (c Calendar) Day(t time.Time) time.Time {
	y, m, d := t.In(c.Location()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Start returns the first instant of day (a date, as Date returns it) in
// the reporting timezone: what a day typed where an instant is asked for
// (a payment's "paid on") stands for.
func (c Calendar) Start(day time.Time) time.Time {
	y, m, d := day.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.Location()).UTC()
}

// At returns the moment of instant t on this calendar.
func (c Calendar) At(t time.Time) Moment { return Moment{At: t, Calendar: c} }

// Moment is when a rule runs: the instant, which it records (an order's
// created_at, a decision's time), and the calendar that says which day
// that instant and the others the rule meets (a payment's time) fall on.
type Moment struct {
	At       time.Time
	Calendar Calendar
}

// Today is the reporting day of the moment.
func (m Moment) Today() time.Time { return m.Calendar.Day(m.At) }
