package keel

import (
	"fmt"
	"time"
)

// Month is a calendar month, counted from year 0 (year×12 + month−1), so
// that months add and compare as integers. Revenue is kept per month.
type Month int32

// MonthOf is the month of day t (its calendar date as written, whatever
// its location: days are already cut in the reporting timezone).
func MonthOf(t time.Time) Month {
	return Month(int32(t.Year())*12 + int32(t.Month()) - 1)
}

// MonthAt is the month of year y and month m.
func MonthAt(y int, m time.Month) Month { return Month(int32(y)*12 + int32(m) - 1) }

// Year is the month's year.
func (m Month) Year() int { return int(m) / 12 }

// Mon is the month of the year.
func (m Month) Mon() time.Month { return time.Month(int(m)%12 + 1) }

// First is the month's first day (UTC midnight).
func (m Month) First() time.Time { return time.Date(m.Year(), m.Mon(), 1, 0, 0, 0, 0, time.UTC) }

// Last is the month's last day (UTC midnight).
func (m Month) Last() time.Time { return (m + 1).First().AddDate(0, 0, -1) }

// String writes "2026-01".
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Mon())) }

// MaxMonthRange bounds a range of months asked for at once (ten years).
const MaxMonthRange = 120

// ParseMonth reads "YYYY-MM", with an EINVALID error naming field for
// anything else or a year outside 2000–2100.
func ParseMonth(field, s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 {
		return 0, Invalid(field, "%q is not a month (YYYY-MM)", s)
	}
	if t.Year() < 2000 || t.Year() > 2100 {
		return 0, Invalid(field, "%s is out of range (2000 to 2100)", s)
	}
	return MonthOf(t), nil
}

// ParseMonthRange reads from and to ("YYYY-MM", both included), refusing a
// from after to or more than MaxMonthRange months, naming the parameter.
func ParseMonthRange(from, to string) (Month, Month, error) {
	f, err := ParseMonth("from", from)
	if err != nil {
		return 0, 0, err
	}
	t, err := ParseMonth("to", to)
	if err != nil {
		return 0, 0, err
	}
	if f > t {
		return 0, 0, Invalid("from", "%s is after to (%s)", f.String(), t.String())
	}
	if int(t-f)+1 > MaxMonthRange {
		return 0, 0, Invalid("to", "%d months from %s; at most %d at once", int(t-f)+1, f.String(), MaxMonthRange)
	}
	return f, t, nil
}

// AddMonths is day t plus n calendar months, kept in the month it lands in:
// 31 January plus one month is 28 (or 29) February, not 3 March. A term of
// n months from t ends (exclusive) on AddMonths(t, n).
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, t.Location())
	if last := first.AddDate(0, 1, -1).Day(); d > last {
		d = last
	}
	return time.Date(first.Year(), first.Month(), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}
