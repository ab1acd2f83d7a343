package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// ICSContentType is the content type of an attachment made by
// CalendarInvite.
const ICSContentType = "text/calendar; charset=utf-8; method=PUBLISH"

// icsProdID identifies aftercare as the producer of a calendar object.
const icsProdID = "-//aftercare//aftercare//EN"

// Invite is a calendar event sent to a patient, such as the next session of
// a series, attached to an email as an .ics file.
type Invite struct {
	// UID identifies the event for good: the same event sent twice must
	// carry the same UID so calendars update it instead of adding a copy,
	// e.g. "enrollment-42-session-2@clinic.example.com". When empty, one is
	// derived from Summary and Start.
	UID         string
	Summary     string
	Description string // optional
	Location    string // optional
	URL         string // optional, e.g. the booking page
	// Organizer is optional: "Clinic <care@example.com>" or a bare address.
	Organizer string
	// Start and End are converted to UTC. A zero or earlier End means one
	// hour after Start.
	Start, End time.Time
	// Stamp is when the invite was created (the caller's clock). Zero means
	// Start, which keeps CalendarInvite a pure function.
	Stamp time.Time
}

// CalendarInvite renders in as an RFC 5545 calendar object with
// METHOD:PUBLISH and one VEVENT, with CRLF line endings, lines folded at 75
// octets and TEXT values escaped. Attach it with ICSContentType.
func CalendarInvite(in Invite) []byte {
	start := in.Start.UTC()
	end := in.End.UTC()
	if in.End.IsZero() || !end.After(start) {
		end = start.Add(time.Hour)
	}
	stamp := in.Stamp.UTC()
	if in.Stamp.IsZero() {
		stamp = start
	}
	uid := in.UID
	if uid == "" {
		sum := sha256.Sum256([]byte(in.Summary + "\x00" + start.Format(time.RFC3339)))
		uid = hex.EncodeToString(sum[:12]) + "@aftercare"
	}

	var w icsWriter
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.line("PRODID:" + icsProdID)
	w.line("CALSCALE:GREGORIAN")
	w.line("METHOD:PUBLISH")
	w.line("BEGIN:VEVENT")
	w.line("UID:" + escapeICSText(uid))
	w.line("DTSTAMP:" + icsTime(stamp))
	w.line("DTSTART:" + icsTime(start))
	w.line("DTEND:" + icsTime(end))
	w.line("SUMMARY:" + escapeICSText(in.Summary))
	if in.Description != "" {
		w.line("DESCRIPTION:" + escapeICSText(in.Description))
	}
	if in.Location != "" {
		w.line("LOCATION:" + escapeICSText(in.Location))
	}
	if u := stripControl(in.URL); u != "" {
		w.line("URL:" + u)
	}
	if org := icsOrganizer(in.Organizer); org != "" {
		w.line(org)
	}
	w.line("SEQUENCE:0")
	w.line("STATUS:CONFIRMED")
	w.line("TRANSP:OPAQUE")
	w.line("END:VEVENT")
	w.line("END:VCALENDAR")
	return []byte(w.String())
}

func icsTime(t time.Time) string { return t.Format("20060102T150405Z") }

// icsOrganizer renders an ORGANIZER property, or "" if s holds no address.
func icsOrganizer(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return ""
	}
	prop := "ORGANIZER"
	if name := icsParamValue(a.Name); name != "" {
		prop += ";CN=" + name
	}
	return prop + ":mailto:" + stripControl(a.Address)
}

// icsParamValue makes s safe as a property parameter value: DQUOTE and
// control characters are dropped, and the value is quoted when it holds
// ":", ";" or ",".
func icsParamValue(s string) string {
	s = strings.ReplaceAll(stripControl(s), `"`, "")
	if strings.ContainsAny(s, ":;,") {
		return `"` + s + `"`
	}
	return s
}

// escapeICSText escapes a TEXT value (RFC 5545 3.3.11): backslash,
// semicolon, comma and line breaks; other control characters are dropped.
func escapeICSText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripControl drops control characters, so a value cannot end a line.
func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// icsWriter writes content lines folded at 75 octets (RFC 5545 3.1),
// never inside a UTF-8 sequence.
type icsWriter struct{ strings.Builder }

const icsMaxLine = 75

func (w *icsWriter) line(s string) {
	limit := icsMaxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.WriteString(s[:cut])
		w.WriteString("\r\n ")
		s = s[cut:]
		limit = icsMaxLine - 1 // the leading space counts
	}
	w.WriteString(s)
	w.WriteString("\r\n")
}
