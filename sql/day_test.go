package sql_test

import (
	"testing"
	"time"

	"github.com/trackskills/trackskills/sql"
)

func TestParseDay(t *testing.T) {
	// Every day of 1968-2031 comes back as itself.
	for d := sql.DayOfTime(time.Date(1968, 1, 1, 0, 0, 0, 0, time.UTC)); d < sql.DayOfTime(time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)); d++ {
		got, err := sql.ParseDay(d.String())
		if err != nil || got != d {
			t.Fatalf("ParseDay(%q) = %d, %v; want %d", d.String(), got, err, d)
		}
	}
	for _, tt := range []struct {
		name, in string
		want     int64 // days since 1970-01-01, when ok
		ok       bool
	}{
		{"Epoch", "1970-01-01", 0, true},
		{"LeapDay", "2024-02-29", 19782, true},
		{"Before1970", "1969-12-31", -1, true},
		{"Year0", "0000-01-01", -719528, true},
		{"NoLeapDay", "2025-02-29", 0, false},
		{"Feb30", "2024-02-30", 0, false},
		{"Month13", "2026-13-01", 0, false},
		{"Month0", "2026-00-10", 0, false},
		{"Day0", "2026-01-00", 0, false},
		{"Day32", "2026-01-32", 0, false},
		{"Short", "2026-1-01", 0, false},
		{"Long", "2026-01-010", 0, false},
		{"Slashes", "2026/01/01", 0, false},
		{"Sign", "+026-01-01", 0, false},
		{"Time", "2026-01-01T00:00:00Z", 0, false},
		{"Empty", "", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sql.ParseDay(tt.in)
			if _, terr := time.Parse(time.DateOnly, tt.in); (terr == nil) != tt.ok {
				t.Fatalf("time.Parse(%q) err=%v: the case is wrong", tt.in, terr)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("ParseDay(%q) err=%v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if int64(got) != tt.want {
				t.Errorf("ParseDay(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("ParseDay(%q).String() = %q", tt.in, got.String())
			}
		})
	}
}
