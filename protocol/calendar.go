package protocol

import (
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// InvitationName and InvitationType describe the attachment Invitation
// builds.
const (
	InvitationName = "book-next-session.ics"
	InvitationType = "text/calendar; charset=utf-8; method=PUBLISH"
)

// Invitation returns the .ics calendar file to attach to the email m of a
// step marked calendar: an all-day event "Book your next session at
// <clinic>" spanning the step's window, from the local day the message is
// sent to its stale day, with how to book in the description. It returns
// nil for any other message. The event's UID is stable per enrollment, step
// and occurrence, so a resent email updates the same calendar entry.
func (p *Protocol) Invitation(in Input, m aftercare.Message) ([]byte, error) {
	s, ok := p.Step(m.Step)
	if !ok || !s.Calendar || m.Channel != aftercare.Email {
		return nil, nil
	}
	loc, err := location(in)
	if err != nil {
		return nil, err
	}
	d := newData(in, loc)
	d.setLanguage(p.Language)
	start := m.SendAt.In(loc)
	end := m.StaleAt.In(loc)
	if !end.After(start) {
		end = start
	}
	// DTEND of an all-day event is exclusive: the day after the last day.
	last := time.Date(end.Year(), end.Month(), end.Day()+1, 0, 0, 0, 0, time.UTC)
	first := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)

	summary, desc := invitationText(d)

	var b strings.Builder
	line := func(name, value string) { fold(&b, name+":"+value) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//aftercare//aftercare//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("BEGIN", "VEVENT")
	line("UID", fmt.Sprintf("enrollment-%d-%s-%d@aftercare", m.EnrollmentID, m.Step, m.Occurrence))
	line("DTSTAMP", m.SendAt.UTC().Format("20060102T150405Z"))
	fold(&b, "DTSTART;VALUE=DATE:"+first.Format("20060102"))
	fold(&b, "DTEND;VALUE=DATE:"+last.Format("20060102"))
	line("SUMMARY", icsText(summary))
	line("DESCRIPTION", icsText(desc))
	if d.BookingURL != "" {
		line("URL", icsText(d.BookingURL))
	}
	line("TRANSP", "TRANSPARENT")
	line("END", "VEVENT")
	line("END", "VCALENDAR")
	return []byte(b.String()), nil
}

// icsText escapes a TEXT value (RFC 5545 3.3.11).
func icsText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// fold writes one content line, folded at 75 octets without splitting a
// UTF-8 character, ending in CRLF (RFC 5545 3.1).
func fold(b *strings.Builder, s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

// invitationText is the invitation's summary and description in the
// data's language.
func invitationText(d Data) (summary, desc string) {
	if d.lang == "es" {
		summary = "Reserva tu próxima sesión en " + d.ClinicName
		if d.NextSession > 0 {
			summary = fmt.Sprintf("Reserva la sesión %d de %d en %s", d.NextSession, d.SeriesLength, d.ClinicName)
		}
		desc = fmt.Sprintf("Para reservar tu próxima sesión, %s.", d.HowToBook())
		if d.BookingURL != "" {
			desc += " O llama al " + d.ClinicPhone + "."
		}
		return summary, desc
	}
	summary = "Book your next session at " + d.ClinicName
	if d.NextSession > 0 {
		summary = fmt.Sprintf("Book session %d of %d at %s", d.NextSession, d.SeriesLength, d.ClinicName)
	}
	desc = fmt.Sprintf("To book your next session, %s.", d.HowToBook())
	if d.BookingURL != "" {
		desc += " Or call " + d.ClinicPhone + "."
	}
	return summary, desc
}
