package templates

import (
	"net/url"
	"reflect"
)

// Video-call appointments (package videocall): the applicant's booking
// page and the video operators' availability and agenda in the console.
const (
	PageVideoBooking       = "video-booking"        // VideoBookingPage
	PageConsoleVideoSlots  = "console-video-slots"  // ConsoleVideoSlotsPage
	PageConsoleVideoAgenda = "console-video-agenda" // ConsoleVideoAgendaPage
)

func init() {
	pages[PageVideoBooking] = pageSpec{"layout.html", reflect.TypeFor[VideoBookingPage]()}
	pages[PageConsoleVideoSlots] = pageSpec{"layout.html", reflect.TypeFor[ConsoleVideoSlotsPage]()}
	pages[PageConsoleVideoAgenda] = pageSpec{"layout.html", reflect.TypeFor[ConsoleVideoAgendaPage]()}
}

// VideoChoice is one free appointment: ID posted as "slot", Time its
// hours ("10:00–10:20").
type VideoChoice struct{ ID, Time string }

// VideoDay groups the free appointments of one day; Label is the day in
// words ("mercoledì 09/12/2026").
type VideoDay struct {
	Label   string
	Choices []VideoChoice
}

// VideoAppointment is the appointment a request holds.
type VideoAppointment struct {
	ID      string
	When    string // dd/mm/yyyy HH:MM, Europe/Rome
	Minutes int
	Room    string // the video room's address ("" when none is configured)
	// CanChange: before the cut-off; after it the page says to call care.
	CanChange bool
}

// VideoBookingPage is the applicant's booking page. Forms post FieldCSRF,
// "t" (the link's token), "op" (book, cancel) and "slot" / "replaces" to
// Action.
type VideoBookingPage struct {
	Action, CSRF, Token string
	Code                string // the request code, formatted
	Booked              *VideoAppointment
	// Choose shows the free appointments (no booking yet, or a change).
	Choose bool
	Days   []VideoDay
	// ChangeURL shows the list to move the appointment; KeepURL goes back.
	ChangeURL, KeepURL string
	CutOffHours        int
	Notice, Error      string
	// Closed: the request no longer waits for a video call (Text says
	// why); StatusURL leads to its status.
	Closed    bool
	Text      string
	StatusURL string
}

// ConsoleVideoSlotRow is one published appointment.
type ConsoleVideoSlotRow struct {
	Day, Time, Operator string
	Booked              bool
	Code                string // the booking request's code
	Cancel              string // action of the cancel form ("" when past)
}

// ConsoleVideoOperator is a choice of the publish form's operator list.
type ConsoleVideoOperator struct{ ID, Name string }

// ConsoleVideoSlotsPage is the availability page: the publish form
// (posting FieldCSRF, date, from, to, length, weeks to Action) and the
// appointments published from today.
type ConsoleVideoSlotsPage struct {
	ConsoleFrame
	Action     string
	VideoCSRF  string // token of this page's forms
	CanPublish bool
	Admin      bool
	Values     map[string]string
	Lengths    []int // minutes offered
	// Operators are the video operators a supervisor publishes for (the
	// form's "operator" choice); empty for a video operator, who publishes
	// their own.
	Operators []ConsoleVideoOperator
	Rows      []ConsoleVideoSlotRow
	Agenda    string
	// OpenFrom and OpenTo are the service hours ("08:00", "20:00"),
	// OpenDays their days in words ("dal lunedì al sabato").
	OpenFrom, OpenTo, OpenDays string
}

// ConsoleVideoAppointment is one booked appointment of the agenda; Start
// (the console's lookup, posting code and cf_suffix with the console's
// token) opens the recognition.
type ConsoleVideoAppointment struct {
	Time, Day, Name, Code, Operator string
	State                           string // the request's state in words
	Start                           string
	CodeRaw, CFSuffix               string
}

// ConsoleVideoSection is a part of the agenda: Key "today" or "upcoming".
type ConsoleVideoSection struct {
	Key  string
	Rows []ConsoleVideoAppointment
}

// ConsoleVideoAgendaPage is the video operator's agenda.
type ConsoleVideoAgendaPage struct {
	ConsoleFrame
	Sections   []ConsoleVideoSection
	TodayLabel string
	Slots      string // link to the availability page
	Admin      bool
}

// selfURL keeps the link's token across the language switch.
func (p VideoBookingPage) selfURL() string {
	if p.Token == "" {
		return ""
	}
	return "/enrol/video?t=" + url.QueryEscape(p.Token)
}
