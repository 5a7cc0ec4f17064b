// Package workinghours measures time on the Italian working calendar: the 48
// working hours within which an enrolment request must be verified (spec
// enrolment-lifecycle.md §6.2–6.3).
//
// A working day is Monday–Friday that is neither a national holiday nor a
// configured closing day. By default each working day counts 24 hours,
// 00:00–24:00 Europe/Rome; an office-hours mode counts only a daily window.
package workinghours

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Rome must load on hosts without a zoneinfo database
)

// Budget is the verification time of a request (spec §6.2).
const Budget = 48 * time.Hour

// atRiskRemaining is what is left of Budget once 75 % of it is used (§6.2).
const atRiskRemaining = Budget / 4

// Request clock states for the console and /metrics (spec §6.2).
const (
	OnTime = "on_time"
	AtRisk = "at_risk"
	Late   = "late"
)

// Date is a civil date. Year 0 in Calendar.ExtraClosed means every year (a
// patron saint's day).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string {
	if d.Year == 0 {
		return fmt.Sprintf("%02d-%02d", int(d.Month), d.Day)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// ParseDate reads "YYYY-MM-DD" (one day) or "MM-DD" (that day every year).
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "-")
	var nums []int
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || p == "" || p[0] == '+' || p[0] == '-' {
			return Date{}, fmt.Errorf("workinghours: closing day %q: want YYYY-MM-DD or MM-DD", s)
		}
		nums = append(nums, n)
	}
	var d Date
	switch len(nums) {
	case 2:
		d = Date{Month: time.Month(nums[0]), Day: nums[1]}
	case 3:
		d = Date{Year: nums[0], Month: time.Month(nums[1]), Day: nums[2]}
	default:
		return Date{}, fmt.Errorf("workinghours: closing day %q: want YYYY-MM-DD or MM-DD", s)
	}
	if err := d.validate(); err != nil {
		return Date{}, err
	}
	return d, nil
}

func (d Date) validate() error {
	if d.Year < 0 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 {
		return fmt.Errorf("workinghours: closing day %s does not exist", d)
	}
	y := d.Year
	if y == 0 {
		y = 2000 // a leap year, so that 02-29 is allowed as a yearly day
	}
	if t := time.Date(y, d.Month, d.Day, 12, 0, 0, 0, time.UTC); t.Day() != d.Day {
		return fmt.Errorf("workinghours: closing day %s does not exist", d)
	}
	return nil
}

// OfficeHours is the daily window counted in office-hours mode, as offsets
// from local midnight on the wall clock (08:30 is 8h30m).
type OfficeHours struct {
	Start, End time.Duration
}

func (o OfficeHours) String() string {
	f := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return f(o.Start) + "-" + f(o.End)
}

// ParseOfficeHours reads "HH:MM-HH:MM", e.g. "08:30-19:00"; "24:00" is
// allowed as an end.
func ParseOfficeHours(s string) (*OfficeHours, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return nil, fmt.Errorf("workinghours: office hours %q: want HH:MM-HH:MM", s)
	}
	start, err1 := clock(from)
	end, err2 := clock(to)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("workinghours: office hours %q: want HH:MM-HH:MM", s)
	}
	o := &OfficeHours{Start: start, End: end}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

func clock(s string) (time.Duration, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, nil
}

func (o OfficeHours) validate() error {
	if o.Start < 0 || o.End > 24*time.Hour || o.End <= o.Start {
		return fmt.Errorf("workinghours: office hours %s: need 00:00 ≤ start < end ≤ 24:00", o)
	}
	return nil
}

// Calendar is a working-time calendar. The zero value, and a nil *Calendar,
// is the default of spec §6.3: Europe/Rome, national holidays, 24-hour days.
type Calendar struct {
	// Location defines the civil days; nil means Europe/Rome.
	Location *time.Location
	// ExtraClosed are closing days besides the national holidays.
	ExtraClosed []Date
	// OfficeHours, when set, counts only this window of each working day.
	// An invalid window (see Validate) is ignored and the whole day counts.
	OfficeHours *OfficeHours
}

var rome = mustRome()

func mustRome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil { // unreachable: time/tzdata is embedded
		panic("workinghours: Europe/Rome: " + err.Error())
	}
	return loc
}

// Rome returns the Europe/Rome location.
func Rome() *time.Location { return rome }

// Validate reports a configuration that cannot be used as written.
func (c *Calendar) Validate() error {
	if c == nil {
		return nil
	}
	for _, d := range c.ExtraClosed {
		if err := d.validate(); err != nil {
			return err
		}
	}
	if c.OfficeHours != nil {
		return c.OfficeHours.validate()
	}
	return nil
}

func (c *Calendar) loc() *time.Location {
	if c == nil || c.Location == nil {
		return rome
	}
	return c.Location
}

func (c *Calendar) office() *OfficeHours {
	if c == nil || c.OfficeHours == nil || c.OfficeHours.validate() != nil {
		return nil
	}
	return c.OfficeHours
}

// EasterSunday returns the Gregorian Easter Sunday of year (the anonymous
// Gregorian computus), as a civil date.
func EasterSunday(year int) Date {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	n := h + l - 7*m + 114
	return Date{Year: year, Month: time.Month(n / 31), Day: n%31 + 1}
}

// EasterMonday returns the day after Easter Sunday.
func EasterMonday(year int) Date {
	e := EasterSunday(year)
	return civil(year, e.Month, e.Day+1)
}

// civil normalises an overflowing date (31 March + 1 → 1 April).
func civil(y int, m time.Month, d int) Date {
	yy, mm, dd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date()
	return Date{Year: yy, Month: mm, Day: dd}
}

// fixedHolidays are the national holidays on a fixed date (spec §6.3);
// 4 October (St Francis) is a national holiday again from 2026.
var fixedHolidays = []struct {
	month time.Month
	day   int
	from  int
}{
	{time.January, 1, 0}, {time.January, 6, 0}, {time.April, 25, 0}, {time.May, 1, 0},
	{time.June, 2, 0}, {time.August, 15, 0}, {time.October, 4, 2026}, {time.November, 1, 0},
	{time.December, 8, 0}, {time.December, 25, 0}, {time.December, 26, 0},
}

// nationalHolidays lists the national holidays of year in date order.
func nationalHolidays(year int) []Date {
	out := []Date{EasterMonday(year)}
	for _, h := range fixedHolidays {
		if year >= h.from {
			out = append(out, Date{Year: year, Month: h.month, Day: h.day})
		}
	}
	slices.SortFunc(out, compareDates)
	return out
}

func compareDates(a, b Date) int {
	if a.Year != b.Year {
		return a.Year - b.Year
	}
	if a.Month != b.Month {
		return int(a.Month) - int(b.Month)
	}
	return a.Day - b.Day
}

// Holidays returns the national holidays of year at 00:00 Europe/Rome, in
// date order, Easter Monday included.
func Holidays(year int) []time.Time {
	return (*Calendar)(nil).Holidays(year)
}

// Holidays returns the national holidays and the extra closing days of year
// at 00:00 in the calendar's location, in date order, without repeats.
func (c *Calendar) Holidays(year int) []time.Time {
	days := nationalHolidays(year)
	if c != nil {
		for _, d := range c.ExtraClosed {
			if d.Year == 0 || d.Year == year {
				days = append(days, Date{Year: year, Month: d.Month, Day: d.Day})
			}
		}
	}
	slices.SortFunc(days, compareDates)
	days = slices.Compact(days)
	loc := c.loc()
	out := make([]time.Time, 0, len(days))
	for _, d := range days {
		if d.validate() != nil { // 02-29 every year, in a common year
			continue
		}
		out = append(out, time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc))
	}
	return out
}

// closed reports whether the civil date is a holiday or a closing day.
func (c *Calendar) closed(d Date) bool {
	if d == EasterMonday(d.Year) {
		return true
	}
	for _, h := range fixedHolidays {
		if d.Month == h.month && d.Day == h.day && d.Year >= h.from {
			return true
		}
	}
	if c != nil {
		for _, x := range c.ExtraClosed {
			if x.Month == d.Month && x.Day == d.Day && (x.Year == 0 || x.Year == d.Year) {
				return true
			}
		}
	}
	return false
}

func (c *Calendar) workingDate(d Date) bool {
	switch time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return !c.closed(d)
}

// IsWorkingDay reports whether t falls on a working day in the calendar's
// location (whatever the hour, also outside office hours).
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	y, m, d := t.In(c.loc()).Date()
	return c.workingDate(Date{Year: y, Month: m, Day: d})
}

// window returns the counted interval of a civil day, ok false on a day that
// is not a working day. Bounds are wall-clock times, so office hours stay
// 08:30–19:00 whatever the UTC offset.
func (c *Calendar) window(d Date) (start, end time.Time, ok bool) {
	if !c.workingDate(d) {
		return time.Time{}, time.Time{}, false
	}
	loc := c.loc()
	if o := c.office(); o != nil {
		return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, int(o.Start), loc),
			time.Date(d.Year, d.Month, d.Day, 0, 0, 0, int(o.End), loc), true
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc),
		time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, loc), true
}

// maxScanDays bounds the day-by-day walks; only a calendar with (almost) no
// working days can reach it.
const maxScanDays = 100 * 366

// Add returns the instant at which d of working time has elapsed since
// start. The result is in the calendar's location. When d runs out exactly at
// the end of a working day, that end is returned (24:00 = the next 00:00 in
// 24-hour mode). d ≤ 0 returns start.
func (c *Calendar) Add(start time.Time, d time.Duration) time.Time {
	loc := c.loc()
	start = start.In(loc)
	if d <= 0 {
		return start
	}
	y, m, day := start.Date()
	for i := 0; i < maxScanDays; i++ {
		ws, we, ok := c.window(civil(y, m, day+i))
		if !ok || !start.Before(we) {
			continue
		}
		from := ws
		if start.After(ws) {
			from = start
		}
		avail := we.Sub(from)
		if d <= avail {
			return from.Add(d)
		}
		d -= avail
	}
	return start.Add(d) // unreachable with a usable calendar
}

// Between returns the working time elapsed from a to b; negative when b is
// before a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.Between(b, a)
	}
	loc := c.loc()
	a, b = a.In(loc), b.In(loc)
	y, m, day := a.Date()
	var total time.Duration
	for i := 0; i < maxScanDays; i++ {
		ws, we, ok := c.window(civil(y, m, day+i))
		if !ok {
			// The window may be empty, but the day still exists: stop once
			// the day starts after b.
			if time.Date(y, m, day+i, 0, 0, 0, 0, loc).After(b) {
				break
			}
			continue
		}
		if !ws.Before(b) {
			break
		}
		from, to := ws, we
		if a.After(from) {
			from = a
		}
		if b.Before(to) {
			to = b
		}
		if to.After(from) {
			total += to.Sub(from)
		}
	}
	return total
}

// Deadline returns the verification deadline of a request queued at
// queuedAt: Budget working hours later, moved by pausedTotal, the working
// time (measure it with Between) the request spent in awaiting_documents
// (spec §6.2: the remaining working time is kept across a pause). Store the
// result as .UTC().
func (c *Calendar) Deadline(queuedAt time.Time, pausedTotal time.Duration) time.Time {
	if pausedTotal < 0 {
		pausedTotal = 0
	}
	return c.Add(queuedAt, Budget+pausedTotal)
}

// Status classifies a queued request at now (spec §6.2): Late once now is
// past deadline; AtRisk when at least 75 % of the Budget is used, i.e. at
// most a quarter of it remains before deadline (measuring what remains keeps
// pauses, which moved the deadline, out of the count); OnTime otherwise,
// including before queuedAt.
func (c *Calendar) Status(now, queuedAt, deadline time.Time) string {
	switch {
	case now.After(deadline):
		return Late
	case now.Before(queuedAt):
		return OnTime
	case c.Between(now, deadline) <= atRiskRemaining:
		return AtRisk
	}
	return OnTime
}

// weekdayNames are the names ParseWeekdays reads, Sunday first (as
// time.Weekday counts).
var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWeekdays reads days of the week as "mon" … "sun" (any case) into a
// set indexed by time.Weekday. At least one day, each once.
func ParseWeekdays(names []string) ([7]bool, error) {
	var set [7]bool
	if len(names) == 0 {
		return set, fmt.Errorf("workinghours: no day of the week")
	}
	for _, n := range names {
		i := slices.Index(weekdayNames[:], strings.ToLower(strings.TrimSpace(n)))
		if i < 0 {
			return set, fmt.Errorf("workinghours: day %q: want one of %s", n, strings.Join(weekdayNames[1:], ", ")+", sun")
		}
		if set[i] {
			return set, fmt.Errorf("workinghours: day %q given twice", n)
		}
		set[i] = true
	}
	return set, nil
}
