package workinghours

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// at parses "Fri 2026-11-20 10:00" in Europe/Rome and checks the weekday
// written, so a typo in a worked example cannot pass silently.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("Mon 2006-01-02 15:04", s, Rome())
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	if !strings.HasPrefix(s, v.Weekday().String()[:3]) {
		t.Fatalf("%q is a %s", s, v.Weekday())
	}
	return v
}

// specDeadlines is spec §6.3 "Worked deadlines (24 h mode, 48 h)", verbatim.
var specDeadlines = []struct{ from, to, note string }{
	{"Fri 2026-11-20 10:00", "Tue 2026-11-24 10:00", "weekend"},
	{"Sat 2026-11-21 11:00", "Wed 2026-11-25 00:00", "queued on a Saturday"},
	{"Thu 2027-03-25 10:00", "Tue 2027-03-30 10:00", "Easter Monday"},
	{"Thu 2026-12-24 10:00", "Tue 2026-12-29 10:00", "Christmas"},
	{"Thu 2026-04-30 10:00", "Tue 2026-05-05 10:00", "1 May"},
	{"Fri 2026-05-29 09:00", "Wed 2026-06-03 09:00", "2 June"},
	{"Mon 2026-01-05 10:00", "Thu 2026-01-08 10:00", "6 Jan"},
	{"Mon 2028-04-24 10:00", "Thu 2028-04-27 10:00", "25 Apr"},
	{"Mon 2028-08-14 10:00", "Thu 2028-08-17 10:00", "15 Aug"},
	{"Fri 2027-10-01 12:00", "Wed 2027-10-06 12:00", "4 Oct"},
	{"Fri 2027-10-29 10:00", "Wed 2027-11-03 10:00", "1 Nov"},
	{"Mon 2026-12-07 10:00", "Thu 2026-12-10 10:00", "8 Dec"},
}

func TestE044_WorkedDeadlines(t *testing.T) {
	var cal *Calendar // nil: the default calendar
	for _, tt := range specDeadlines {
		t.Run(tt.note, func(t *testing.T) {
			from, want := at(t, tt.from), at(t, tt.to)
			if got := cal.Deadline(from, 0); !got.Equal(want) {
				t.Errorf("Deadline(%s) = %s, want %s", tt.from, got.Format("Mon 2006-01-02 15:04 MST"), tt.to)
			}
			// The same on an explicit zero-value calendar, and from a UTC input.
			if got := (&Calendar{}).Deadline(from.UTC(), 0); !got.Equal(want) {
				t.Errorf("zero Calendar, UTC input: %s", got)
			}
			if got := cal.Between(from, want); got != Budget {
				t.Errorf("Between = %s, want 48h", got)
			}
		})
	}
}

func TestE044_WorkedDeadlineOfficeHours(t *testing.T) {
	oh, err := ParseOfficeHours("08:30-19:00")
	if err != nil {
		t.Fatal(err)
	}
	cal := &Calendar{OfficeHours: oh}
	from, want := at(t, "Fri 2026-11-20 10:00"), at(t, "Thu 2026-11-26 16:00")
	if got := cal.Deadline(from, 0); !got.Equal(want) {
		t.Errorf("office-hours Deadline = %s, want %s", got, want)
	}
	if got := cal.Between(from, want); got != Budget {
		t.Errorf("Between = %s", got)
	}
	// Queued outside the window: counting starts at 08:30 the next working day.
	if got, want := cal.Add(at(t, "Fri 2026-11-20 20:00"), time.Hour), at(t, "Mon 2026-11-23 09:30"); !got.Equal(want) {
		t.Errorf("after hours: %s, want %s", got, want)
	}
	// Ending exactly at closing time stays on that day.
	if got, want := cal.Add(at(t, "Mon 2026-11-23 08:30"), 10*time.Hour+30*time.Minute), at(t, "Mon 2026-11-23 19:00"); !got.Equal(want) {
		t.Errorf("closing time: %s, want %s", got, want)
	}
}

func TestE043_DeadlineIsStoredAsAnInstant(t *testing.T) {
	// The deadline is an absolute instant: its UTC form names the same moment.
	d := (*Calendar)(nil).Deadline(at(t, "Fri 2026-11-20 10:00"), 0)
	if d.Location() != Rome() {
		t.Errorf("location %v", d.Location())
	}
	if got := d.UTC().Format(time.RFC3339); got != "2026-11-24T09:00:00Z" {
		t.Errorf("UTC %s", got)
	}
}

func TestE045_EasterMondayComputed(t *testing.T) {
	want := map[int]string{
		2026: "2026-04-06", 2027: "2027-03-29", 2028: "2028-04-17",
		2029: "2029-04-02", 2030: "2030-04-22", 2031: "2031-04-14",
	}
	for year, day := range want {
		if got := EasterMonday(year).String(); got != day {
			t.Errorf("EasterMonday(%d) = %s, want %s", year, got, day)
		}
		e := at(t, "Mon "+day+" 10:00")
		if (*Calendar)(nil).IsWorkingDay(e) {
			t.Errorf("%s is a working day", day)
		}
		if !slices.ContainsFunc(Holidays(year), func(h time.Time) bool { return h.Equal(at(t, "Mon "+day+" 00:00")) }) {
			t.Errorf("Holidays(%d) lacks %s", year, day)
		}
		// The Tuesday after is a working day.
		if !(*Calendar)(nil).IsWorkingDay(e.AddDate(0, 0, 1)) {
			t.Errorf("the day after %s is not a working day", day)
		}
	}
	// Easter Sundays outside the window, including the earliest and latest
	// possible dates, to exercise the computus beyond the listed years.
	for _, s := range []string{"1818-03-22", "1943-04-25", "2000-04-23", "2019-04-21", "2024-03-31", "2025-04-20", "2038-04-25", "2285-03-22"} {
		var y int
		y = atoi(s[:4])
		if got := EasterSunday(y).String(); got != s {
			t.Errorf("EasterSunday(%d) = %s, want %s", y, got, s)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestE046_FourOctober(t *testing.T) {
	has := func(year int) bool {
		return slices.ContainsFunc(Holidays(year), func(h time.Time) bool { return h.Month() == time.October && h.Day() == 4 })
	}
	if has(2025) || has(2024) {
		t.Error("4 October is a holiday before 2026")
	}
	for y := 2026; y <= 2031; y++ {
		if !has(y) {
			t.Errorf("4 October %d is not a holiday", y)
		}
	}
	var cal *Calendar
	if !cal.IsWorkingDay(at(t, "Fri 2024-10-04 10:00")) {
		t.Error("Fri 2024-10-04 is not a working day")
	}
	if cal.IsWorkingDay(at(t, "Mon 2027-10-04 10:00")) {
		t.Error("Mon 2027-10-04 is a working day")
	}
}

func TestHolidaysList(t *testing.T) {
	var got []string
	for _, h := range Holidays(2026) {
		if h.Location() != Rome() || h.Hour() != 0 || h.Minute() != 0 {
			t.Errorf("%v is not 00:00 Europe/Rome", h)
		}
		got = append(got, h.Format("01-02"))
	}
	want := []string{"01-01", "01-06", "04-06", "04-25", "05-01", "06-02", "08-15", "10-04", "11-01", "12-08", "12-25", "12-26"}
	if !slices.Equal(got, want) {
		t.Errorf("Holidays(2026) = %v, want %v", got, want)
	}
	// Extra closing days join the list, yearly or dated, without repeats.
	cal := &Calendar{ExtraClosed: []Date{{Month: time.June, Day: 29}, {Year: 2026, Month: time.November, Day: 27}, {Year: 2027, Month: time.March, Day: 1}, {Month: time.January, Day: 1}}}
	if n := len(cal.Holidays(2026)); n != 14 {
		t.Errorf("with extras: %d days, want 14", n)
	}
	if n := len(cal.Holidays(2028)); n != 13 {
		t.Errorf("2028 with extras: %d days, want 13", n)
	}
}

func TestIsWorkingDay(t *testing.T) {
	var cal *Calendar
	tests := []struct {
		when string
		want bool
	}{
		{"Mon 2026-11-23 00:00", true},
		{"Fri 2026-11-27 23:59", true},
		{"Sat 2026-11-28 12:00", false},
		{"Sun 2026-11-29 12:00", false},
		{"Fri 2026-12-25 10:00", false},
		{"Tue 2026-12-08 10:00", false},
		{"Thu 2026-01-01 10:00", false},
		{"Tue 2026-01-06 10:00", false},
		{"Tue 2026-06-02 10:00", false},
		{"Sat 2026-08-15 10:00", false},
		{"Fri 2026-05-01 10:00", false},
	}
	for _, tt := range tests {
		if got := cal.IsWorkingDay(at(t, tt.when)); got != tt.want {
			t.Errorf("IsWorkingDay(%s) = %v", tt.when, got)
		}
	}
	// The civil day is taken in Rome: 23:30 UTC on Friday is already Saturday.
	if cal.IsWorkingDay(time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC)) {
		t.Error("Friday 23:30 UTC (Saturday in Rome) counted as working")
	}
	// A patron saint's day (Rome, 29 June) closes the office when configured.
	roma := &Calendar{ExtraClosed: []Date{{Month: time.June, Day: 29}}}
	if roma.IsWorkingDay(at(t, "Mon 2026-06-29 10:00")) || !cal.IsWorkingDay(at(t, "Mon 2026-06-29 10:00")) {
		t.Error("29 June")
	}
	if got, want := roma.Deadline(at(t, "Fri 2026-06-26 10:00"), 0), at(t, "Wed 2026-07-01 10:00"); !got.Equal(want) {
		t.Errorf("deadline over the patron day: %s", got)
	}
}

func TestE047_PauseMovesTheDeadline(t *testing.T) {
	var cal *Calendar
	queued := at(t, "Mon 2026-11-23 10:00")
	original := cal.Deadline(queued, 0)
	if !original.Equal(at(t, "Wed 2026-11-25 10:00")) {
		t.Fatalf("original deadline %s", original)
	}
	// awaiting_documents from Tue 10:00 to Fri 10:00: 3 working days paused.
	paused := cal.Between(at(t, "Tue 2026-11-24 10:00"), at(t, "Fri 2026-11-27 10:00"))
	if paused != 72*time.Hour {
		t.Fatalf("paused %s", paused)
	}
	got := cal.Deadline(queued, paused)
	want := at(t, "Mon 2026-11-30 10:00") // Wed + 3 working days (Thu, Fri, Mon)
	if !got.Equal(want) || !got.Equal(cal.Add(original, 3*24*time.Hour)) {
		t.Errorf("paused deadline %s, want %s", got, want)
	}
	// A pause over a weekend only costs its working time.
	weekend := cal.Between(at(t, "Fri 2026-11-20 18:00"), at(t, "Mon 2026-11-23 06:00"))
	if weekend != 12*time.Hour {
		t.Errorf("pause over a weekend counted %s", weekend)
	}
	// A pause entirely on a holiday costs nothing.
	if d := cal.Between(at(t, "Fri 2026-12-25 09:00"), at(t, "Fri 2026-12-25 17:00")); d != 0 {
		t.Errorf("Christmas pause %s", d)
	}
	// Negative pauses are ignored.
	if !cal.Deadline(queued, -time.Hour).Equal(original) {
		t.Error("negative pause moved the deadline")
	}
	// Office-hours mode: a pause of one office day moves the deadline one office day.
	oc := &Calendar{OfficeHours: &OfficeHours{Start: 8*time.Hour + 30*time.Minute, End: 19 * time.Hour}}
	day := oc.Between(at(t, "Mon 2026-11-23 00:00"), at(t, "Tue 2026-11-24 00:00"))
	if day != 10*time.Hour+30*time.Minute {
		t.Fatalf("office day %s", day)
	}
	if got, want := oc.Deadline(at(t, "Fri 2026-11-20 10:00"), day), at(t, "Fri 2026-11-27 16:00"); !got.Equal(want) {
		t.Errorf("office-hours paused deadline %s, want %s", got, want)
	}
}

func TestE048_Status(t *testing.T) {
	var cal *Calendar
	queued := at(t, "Mon 2026-11-23 10:00")
	deadline := cal.Deadline(queued, 0) // Wed 10:00
	tests := []struct {
		now  time.Time
		want string
	}{
		{at(t, "Mon 2026-11-23 09:00"), OnTime}, // before queuing
		{queued, OnTime},
		{at(t, "Tue 2026-11-24 10:00"), OnTime},                   // 50 %
		{at(t, "Tue 2026-11-24 22:00").Add(-time.Second), OnTime}, // just under 75 %
		{at(t, "Tue 2026-11-24 22:00"), AtRisk},                   // 36 h = 75 %
		{deadline, AtRisk},                                        // not yet past
		{deadline.Add(time.Second), Late},
		{at(t, "Mon 2026-11-30 10:00"), Late},
	}
	for _, tt := range tests {
		if got := cal.Status(tt.now, queued, deadline); got != tt.want {
			t.Errorf("Status at %s = %s, want %s", tt.now.Format("Mon 15:04:05"), got, tt.want)
		}
	}
	// Over a weekend: queued Thu 10:00, due Mon 10:00; 75 % is reached Fri 22:00
	// and the weekend stays at risk.
	q2 := at(t, "Thu 2026-11-19 10:00")
	d2 := cal.Deadline(q2, 0)
	if !d2.Equal(at(t, "Mon 2026-11-23 10:00")) {
		t.Fatalf("d2 %s", d2)
	}
	for now, want := range map[string]string{
		"Fri 2026-11-20 21:00": OnTime,
		"Fri 2026-11-20 22:00": AtRisk,
		"Sun 2026-11-22 12:00": AtRisk,
	} {
		if got := cal.Status(at(t, now), q2, d2); got != want {
			t.Errorf("Status at %s = %s, want %s", now, got, want)
		}
	}
	// After a 24 h pause the used share excludes the pause: at Tue 22:00 only
	// 12 working hours were used.
	d3 := cal.Deadline(queued, 24*time.Hour)
	if got := cal.Status(at(t, "Tue 2026-11-24 22:00"), queued, d3); got != OnTime {
		t.Errorf("paused request at Tue 22:00: %s", got)
	}
	if got := cal.Status(at(t, "Wed 2026-11-25 22:00"), queued, d3); got != AtRisk {
		t.Errorf("paused request at Wed 22:00: %s", got)
	}
}

// Add then Between round-trips for any start and duration, in both modes,
// across holidays and the two DST changes of each year.
func TestAddBetweenRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2026))
	cals := map[string]*Calendar{
		"24h":    nil,
		"office": {OfficeHours: &OfficeHours{Start: 8*time.Hour + 30*time.Minute, End: 19 * time.Hour}},
		"extras": {ExtraClosed: []Date{{Month: time.June, Day: 29}, {Year: 2027, Month: time.March, Day: 26}}},
		"utc":    {Location: time.UTC},
	}
	lo := time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC)
	span := time.Date(2031, 12, 31, 0, 0, 0, 0, time.UTC).Sub(lo)
	for name, cal := range cals {
		for range 3000 {
			start := lo.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Minute)
			d := time.Duration(rng.Int64N(int64(400*time.Hour))) + time.Second
			end := cal.Add(start, d)
			if got := cal.Between(start, end); got != d {
				t.Fatalf("%s: Between(%s, Add(·, %s) = %s) = %s", name, start, d, end, got)
			}
			if !end.After(start) {
				t.Fatalf("%s: Add(%s, %s) = %s is not later", name, start, d, end)
			}
			if cal.Between(end, start) != -d {
				t.Fatalf("%s: Between is not antisymmetric", name)
			}
			mid := start.Add(end.Sub(start) / 3)
			if cal.Between(start, mid)+cal.Between(mid, end) != d {
				t.Fatalf("%s: Between is not additive at %s", name, mid)
			}
		}
	}
}

func TestDSTWeekends(t *testing.T) {
	var cal *Calendar
	// Clocks change on the last Sundays of March and October; the working
	// days around them keep 24 hours.
	for _, tt := range []struct{ from, to string }{
		{"Fri 2026-03-27 10:00", "Tue 2026-03-31 10:00"},
		{"Fri 2026-10-23 10:00", "Tue 2026-10-27 10:00"},
	} {
		if got := cal.Deadline(at(t, tt.from), 0); !got.Equal(at(t, tt.to)) {
			t.Errorf("Deadline(%s) = %s, want %s", tt.from, got, tt.to)
		}
	}
	if d := cal.Between(at(t, "Mon 2026-03-30 00:00"), at(t, "Tue 2026-03-31 00:00")); d != 24*time.Hour {
		t.Errorf("Monday after the change: %s", d)
	}
}

func TestAddEdges(t *testing.T) {
	var cal *Calendar
	s := at(t, "Sat 2026-11-21 11:00")
	if got := cal.Add(s, 0); !got.Equal(s) {
		t.Errorf("Add 0 = %s", got)
	}
	if got := cal.Add(s, -time.Hour); !got.Equal(s) {
		t.Errorf("Add negative = %s", got)
	}
	if got := cal.Add(s, time.Nanosecond); !got.Equal(at(t, "Mon 2026-11-23 00:00").Add(time.Nanosecond)) {
		t.Errorf("Add 1ns from Saturday = %s", got)
	}
	if d := cal.Between(s, s); d != 0 {
		t.Errorf("Between equal = %s", d)
	}
	// Counted over a year: 2026 has 261 weekdays, 7 of them holidays (1 and 6
	// Jan, 6 Apr, 1 May, 2 Jun, 8 and 25 Dec; the others fall on weekends).
	year := cal.Between(at(t, "Thu 2026-01-01 00:00"), at(t, "Fri 2027-01-01 00:00"))
	weekdays, holidays := 0, 0
	for d := at(t, "Thu 2026-01-01 12:00"); d.Year() == 2026; d = d.AddDate(0, 0, 1) {
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			weekdays++
			if !cal.IsWorkingDay(d) {
				holidays++
			}
		}
	}
	if year != time.Duration(weekdays-holidays)*24*time.Hour {
		t.Errorf("2026: %s of working time for %d weekdays and %d weekday holidays", year, weekdays, holidays)
	}
	if weekdays != 261 || holidays != 7 {
		t.Errorf("2026: %d weekdays, %d weekday holidays; want 261 and 7", weekdays, holidays)
	}
}

func TestParseAndValidate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Date
	}{
		{"06-29", Date{Month: 6, Day: 29}},
		{"2026-11-27", Date{Year: 2026, Month: 11, Day: 27}},
		{" 02-29 ", Date{Month: 2, Day: 29}},
	} {
		got, err := ParseDate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDate(%q) = %v, %v", tt.in, got, err)
		}
	}
	for _, in := range []string{"", "6/29", "13-01", "02-30", "2026-02-29", "2026-1", "+6-29", "06--29", "x-y", "2026-11-27-1"} {
		if _, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) accepted", in)
		}
	}
	oh, err := ParseOfficeHours("08:30-19:00")
	if err != nil || oh.Start != 8*time.Hour+30*time.Minute || oh.End != 19*time.Hour || oh.String() != "08:30-19:00" {
		t.Errorf("ParseOfficeHours = %+v, %v", oh, err)
	}
	if oh, err := ParseOfficeHours("00:00-24:00"); err != nil || oh.End != 24*time.Hour {
		t.Errorf("full day: %v %v", oh, err)
	}
	for _, in := range []string{"", "19:00-08:30", "08:30-08:30", "8:30-19:00", "08:30-24:30", "25:00-26:00", "08:60-19:00", "08:30"} {
		if _, err := ParseOfficeHours(in); err == nil {
			t.Errorf("ParseOfficeHours(%q) accepted", in)
		}
	}
	if err := (&Calendar{OfficeHours: &OfficeHours{Start: 19 * time.Hour, End: 8 * time.Hour}}).Validate(); err == nil {
		t.Error("inverted office hours validated")
	}
	if err := (&Calendar{ExtraClosed: []Date{{Month: 2, Day: 30}}}).Validate(); err == nil {
		t.Error("30 February validated")
	}
	if err := (&Calendar{ExtraClosed: []Date{{Month: 6, Day: 29}}, OfficeHours: oh}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (*Calendar)(nil).Validate(); err != nil {
		t.Error(err)
	}
	// An invalid window is ignored rather than stalling Add.
	bad := &Calendar{OfficeHours: &OfficeHours{Start: 19 * time.Hour, End: 8 * time.Hour}}
	if got := bad.Deadline(at(t, "Fri 2026-11-20 10:00"), 0); !got.Equal(at(t, "Tue 2026-11-24 10:00")) {
		t.Errorf("invalid office hours: %s", got)
	}
}
