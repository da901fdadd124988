package sql

import (
	"fmt"
	"time"
)

// Day is a UTC calendar day, counted in days since 1970-01-01. It is the
// one representation of a day inside this package: rollup tables store it
// as text (YYYY-MM-DD, from String) or as the number itself
// (tool_user_daily), and both are made from a Day at the SQL boundary.
type Day int64

// DayOf returns the UTC day of a Unix millisecond time.
func DayOf(ms int64) Day { return Day(floorDiv(ms, dayMs)) }

// DayOfTime returns the UTC day of t.
func DayOfTime(t time.Time) Day { return DayOf(t.UnixMilli()) }

// ParseDay reads a day written as YYYY-MM-DD, as time.Parse with
// time.DateOnly would, but without its general layout machinery: reads
// call it on every scanned row of a text day column.
func ParseDay(s string) (Day, error) {
	if len(s) != len(time.DateOnly) || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("parse day %q: want YYYY-MM-DD", s)
	}
	y, okY := digits(s[0:4])
	m, okM := digits(s[5:7])
	d, okD := digits(s[8:10])
	if !okY || !okM || !okD || m < 1 || m > 12 || d < 1 {
		return 0, fmt.Errorf("parse day %q: want YYYY-MM-DD", s)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // time.Date normalizes February 30 to March 2
		return 0, fmt.Errorf("parse day %q: want YYYY-MM-DD", s)
	}
	return Day(floorDiv(t.Unix(), 86400)), nil
}

// digits reads a run of decimal digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int(c-'0')
	}
	return n, true
}

// String returns the day as YYYY-MM-DD, as the text-keyed rollups store it.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// Time returns the start of the day, UTC.
func (d Day) Time() time.Time { return time.UnixMilli(d.StartMs()).UTC() }

// StartMs returns the start of the day in Unix milliseconds.
func (d Day) StartMs() int64 { return int64(d) * dayMs }
