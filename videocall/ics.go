package videocall

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one appointment as an iCalendar invitation (RFC 5545, with the
// iTIP methods of RFC 5546: REQUEST for a new or moved appointment,
// CANCEL when it is withdrawn).
type Event struct {
	Method      string // "REQUEST" or "CANCEL"
	UID         string // the same for every message about one booking
	Sequence    int    // grows with each change of the booking
	Stamp       time.Time
	Start, End  time.Time
	Summary     string
	Description string
	URL         string // the video room
	Organizer   string // e-mail address
	OrgName     string
	Attendee    string // e-mail address
	AttName     string
}

// ICS renders e as an iCalendar object: CRLF line ends, long lines
// folded at 75 octets without splitting a character, times in UTC.
func (e Event) ICS() []byte {
	var b strings.Builder
	line := func(s string) { b.WriteString(fold(s)) }
	status := "CONFIRMED"
	if e.Method == "CANCEL" {
		status = "CANCELLED"
	}
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//spid-idp//videocall//IT")
	line("CALSCALE:GREGORIAN")
	line("METHOD:" + e.Method)
	line("BEGIN:VEVENT")
	line("UID:" + text(e.UID))
	line(fmt.Sprintf("SEQUENCE:%d", e.Sequence))
	line("DTSTAMP:" + utc(e.Stamp))
	line("DTSTART:" + utc(e.Start))
	line("DTEND:" + utc(e.End))
	line("SUMMARY:" + text(e.Summary))
	if e.Description != "" {
		line("DESCRIPTION:" + text(e.Description))
	}
	if e.URL != "" {
		line("LOCATION:" + text(e.URL))
		line("URL:" + e.URL)
	}
	line("STATUS:" + status)
	line("TRANSP:OPAQUE")
	if e.Organizer != "" {
		line("ORGANIZER" + cn(e.OrgName) + ":mailto:" + e.Organizer)
	}
	if e.Attendee != "" {
		line("ATTENDEE" + cn(e.AttName) + ";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:" + e.Attendee)
	}
	if e.Method != "CANCEL" {
		line("BEGIN:VALARM")
		line("ACTION:DISPLAY")
		line("DESCRIPTION:" + text(e.Summary))
		line("TRIGGER:-PT30M")
		line("END:VALARM")
	}
	line("END:VEVENT")
	line("END:VCALENDAR")
	return []byte(b.String())
}

func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// text escapes a TEXT value (RFC 5545 §3.3.11).
func text(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return r.Replace(s)
}

// cn is a CN parameter, quoted; a double quote cannot appear in one
// (RFC 5545 §3.2) and control characters are dropped too.
func cn(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if strings.TrimSpace(name) == "" {
		return ""
	}
	return `;CN="` + name + `"`
}

// fold ends a content line with CRLF, breaking it into lines of at most
// 75 octets, each continuation starting with a space (RFC 5545 §3.1).
func fold(s string) string {
	var b strings.Builder
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}
