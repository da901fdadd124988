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

// ParseDay reads a day written as YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("parse day %q: want YYYY-MM-DD", s)
	}
	return DayOfTime(t), nil
}

// String returns the day as YYYY-MM-DD, as the text-keyed rollups store it.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// Time returns the start of the day, UTC.
func (d Day) Time() time.Time { return time.UnixMilli(d.StartMs()).UTC() }

// StartMs returns the start of the day in Unix milliseconds.
func (d Day) StartMs() int64 { return int64(d) * dayMs }
