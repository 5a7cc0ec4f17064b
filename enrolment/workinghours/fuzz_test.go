package workinghours

import (
	"testing"
	"time"
)

// FuzzAddBetween checks the round trip on arbitrary instants and durations
// (bounded to a century so that one input stays fast).
func FuzzAddBetween(f *testing.F) {
	f.Add(int64(1795165200), int64(48*time.Hour), false) // Fri 2026-11-20 10:00 Rome
	f.Add(int64(1774738800), int64(time.Hour), true)     // Sun 2026-03-29 00:00 Rome, a DST day
	f.Add(int64(0), int64(1), false)
	f.Fuzz(func(t *testing.T, unix, d int64, office bool) {
		const century = 100 * 365 * 24 * 3600
		if unix < 1_600_000_000 || unix > 4_800_000_000 {
			unix = 1_700_000_000 + (unix%century+century)%century
		}
		if d <= 0 || d > int64(2000*time.Hour) {
			return
		}
		cal := &Calendar{}
		if office {
			cal.OfficeHours = &OfficeHours{Start: 8*time.Hour + 30*time.Minute, End: 19 * time.Hour}
		}
		start := time.Unix(unix, 0)
		end := cal.Add(start, time.Duration(d))
		if got := cal.Between(start, end); got != time.Duration(d) {
			t.Fatalf("Between(%s, %s) = %s, want %s", start, end, got, time.Duration(d))
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"08:30-19:00", "06-29", "2026-11-27", "24:00-24:00", "-", "--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDate(s); err == nil {
			if back, err := ParseDate(d.String()); err != nil || back != d {
				t.Fatalf("ParseDate(%q) = %v does not round-trip: %v %v", s, d, back, err)
			}
		}
		if o, err := ParseOfficeHours(s); err == nil {
			if back, err := ParseOfficeHours(o.String()); err != nil || *back != *o {
				t.Fatalf("ParseOfficeHours(%q) = %v does not round-trip", s, o)
			}
		}
	})
}
