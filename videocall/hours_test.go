package videocall

import (
	"errors"
	"testing"
	"time"
)

// TestConfiguredHours: the days, hours and lengths of the configuration
// decide what may be published; holidays stay closed whatever the days.
func TestConfiguredHours(t *testing.T) {
	f := newFixture(t)
	// Sundays and Wednesdays 09:00–13:00, half-hour appointments only.
	f.svc.Hours = ServiceHours{Days: [7]bool{time.Sunday: true, time.Wednesday: true}, Open: 9 * h, Close: 13 * h, Lengths: []int{30}}
	if err := f.svc.Hours.Validate(); err != nil {
		t.Fatal(err)
	}
	m30 := 30 * time.Minute
	for name, tc := range map[string]struct {
		a    Availability
		want error
	}{
		"Sunday open":       {Availability{Date: rome(2026, 12, 6, 0, 0), From: 9 * h, To: 10 * h, Length: m30, Weeks: 1}, nil},
		"Wednesday open":    {Availability{Date: rome(2026, 12, 2, 0, 0), From: 12 * h, To: 13 * h, Length: m30, Weeks: 1}, nil},
		"Thursday closed":   {Availability{Date: rome(2026, 12, 3, 0, 0), From: 9 * h, To: 10 * h, Length: m30, Weeks: 1}, ErrClosed},
		"Saturday closed":   {Availability{Date: rome(2026, 12, 5, 0, 0), From: 9 * h, To: 10 * h, Length: m30, Weeks: 1}, ErrClosed},
		"after closing":     {Availability{Date: rome(2026, 12, 9, 0, 0), From: 12 * h, To: 14 * h, Length: m30, Weeks: 1}, ErrClosed},
		"before opening":    {Availability{Date: rome(2026, 12, 9, 0, 0), From: 8 * h, To: 10 * h, Length: m30, Weeks: 1}, ErrClosed},
		"length not listed": {Availability{Date: rome(2026, 12, 9, 0, 0), From: 9 * h, To: 10 * h, Length: m20, Weeks: 1}, ErrInvalid},
		"Epiphany (a Wed.)": {Availability{Date: rome(2027, 1, 6, 0, 0), From: 9 * h, To: 10 * h, Length: m30, Weeks: 1}, ErrClosed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.svc.Publish(t.Context(), v1, tc.a)
			if !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
				t.Errorf("Publish = %v, want %v", err, tc.want)
			}
		})
	}
	for name, bad := range map[string]ServiceHours{
		"no day":           {Open: 9 * h, Close: 13 * h, Lengths: []int{30}},
		"reversed":         {Days: DefaultHours.Days, Open: 13 * h, Close: 9 * h, Lengths: []int{30}},
		"no length":        {Days: DefaultHours.Days, Open: 9 * h, Close: 13 * h},
		"longer than open": {Days: DefaultHours.Days, Open: 9 * h, Close: 10 * h, Lengths: []int{90}},
		"too short":        {Days: DefaultHours.Days, Open: 9 * h, Close: 13 * h, Lengths: []int{5}},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}

func TestOpenDaysInWords(t *testing.T) {
	for _, tc := range []struct {
		days   [7]bool
		it, en string
	}{
		{DefaultHours.Days, "dal lunedì al sabato", "Monday to Saturday"},
		{[7]bool{true, true, true, true, true, true, true}, "tutti i giorni", "every day"},
		{[7]bool{time.Sunday: true, time.Friday: true, time.Saturday: true}, "dal venerdì alla domenica", "Friday to Sunday"},
		{[7]bool{time.Monday: true, time.Wednesday: true, time.Friday: true}, "lunedì, mercoledì e venerdì", "Monday, Wednesday and Friday"},
		{[7]bool{time.Tuesday: true}, "martedì", "Tuesday"},
	} {
		h := ServiceHours{Days: tc.days}
		if got := openDays("it", h); got != tc.it {
			t.Errorf("it: %q, want %q", got, tc.it)
		}
		if got := openDays("en", h); got != tc.en {
			t.Errorf("en: %q, want %q", got, tc.en)
		}
	}
}
