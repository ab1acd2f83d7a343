package notify

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCalendarInvite(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	start := time.Date(2026, 12, 9, 10, 30, 0, 0, paris) // 09:30 UTC
	stamp := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	long := strings.Repeat("Avoid sun, heat; and \\ make-up. ", 8) + "Déjà vu ✨ ok"

	tests := []struct {
		name string
		in   Invite
		want []string // unfolded content lines that must be present, in order
		not  []string // prefixes of lines that must be absent
	}{
		{
			name: "minimal",
			in:   Invite{UID: "enr-1-s2@clinic.example", Summary: "Microneedling session 2", Start: start, End: start.Add(45 * time.Minute), Stamp: stamp},
			want: []string{
				"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:" + icsProdID, "METHOD:PUBLISH", "BEGIN:VEVENT",
				"UID:enr-1-s2@clinic.example", "DTSTAMP:20261125T090000Z", "DTSTART:20261209T093000Z",
				"DTEND:20261209T101500Z", "SUMMARY:Microneedling session 2", "END:VEVENT", "END:VCALENDAR",
			},
			not: []string{"DESCRIPTION", "LOCATION", "URL", "ORGANIZER"},
		},
		{
			name: "escaping",
			in: Invite{
				UID: "u1", Summary: "Session 2; bring ID, please", Description: "Line one\r\nLine two\nback\\slash\x07",
				Location: "12 Rue X, 75001 Paris", Start: start, Stamp: stamp,
			},
			want: []string{
				`SUMMARY:Session 2\; bring ID\, please`,
				`DESCRIPTION:Line one\nLine two\nback\\slash`,
				`LOCATION:12 Rue X\, 75001 Paris`,
			},
		},
		{
			name: "defaults",
			in:   Invite{Summary: "Follow-up", Start: start},
			want: []string{"DTSTAMP:20261209T093000Z", "DTSTART:20261209T093000Z", "DTEND:20261209T103000Z"},
		},
		{
			name: "organizer and url",
			in: Invite{
				UID: "u2", Summary: "S", Start: start, Stamp: stamp,
				URL:       "https://clinic.example/book?a=1&b=2\r\nX-Evil: 1",
				Organizer: `"Glow Clinic, Paris" <care@clinic.example>`,
			},
			want: []string{
				"URL:https://clinic.example/book?a=1&b=2X-Evil: 1",
				`ORGANIZER;CN="Glow Clinic, Paris":mailto:care@clinic.example`,
			},
		},
		{
			name: "bad organizer is left out",
			in:   Invite{UID: "u3", Summary: "S", Start: start, Organizer: "not an address"},
			not:  []string{"ORGANIZER"},
		},
		{
			name: "long lines fold",
			in:   Invite{UID: "u4", Summary: "S", Description: long, Start: start, Stamp: stamp},
			want: []string{"DESCRIPTION:" + escapeICSText(long)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := string(CalendarInvite(tt.in))
			checkICSSyntax(t, out)
			lines := unfoldICS(out)
			i := 0
			for _, want := range tt.want {
				for i < len(lines) && lines[i] != want {
					i++
				}
				if i == len(lines) {
					t.Errorf("missing or out of order: %q\n%s", want, out)
					break
				}
			}
			for _, l := range lines {
				for _, p := range tt.not {
					if strings.HasPrefix(l, p) {
						t.Errorf("unexpected line %q", l)
					}
				}
			}
		})
	}
}

func TestCalendarInviteFoldsAt75Octets(t *testing.T) {
	t.Parallel()
	desc := strings.Repeat("é", 100) + strings.Repeat("x", 200)
	out := string(CalendarInvite(Invite{UID: "u", Summary: "S", Description: desc, Start: time.Unix(0, 0)}))
	checkICSSyntax(t, out)
	folded := 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if strings.HasPrefix(l, " ") {
			folded++
		}
	}
	if folded < 4 {
		t.Errorf("got %d continuation lines, want at least 4:\n%s", folded, out)
	}
	if got := unfoldICS(out); !contains(got, "DESCRIPTION:"+desc) {
		t.Errorf("unfolded description does not round-trip:\n%s", out)
	}
}

// checkICSSyntax asserts CRLF line endings, no line over 75 octets and no
// UTF-8 sequence split by folding.
func checkICSSyntax(t *testing.T, out string) {
	t.Helper()
	if !strings.HasSuffix(out, "\r\n") {
		t.Errorf("output does not end in CRLF")
	}
	if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\r") {
		t.Errorf("bare CR or LF in output:\n%q", out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Errorf("folding split a UTF-8 sequence: %q", l)
		}
	}
}

func unfoldICS(s string) []string {
	s = strings.ReplaceAll(s, "\r\n ", "")
	return strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func FuzzCalendarInvite(f *testing.F) {
	f.Add("Session; 2", "a,b\\c\nd", "https://x.example/?a=b", "Clinic <c@x.example>")
	f.Fuzz(func(t *testing.T, summary, desc, url, org string) {
		if !utf8.ValidString(summary) || !utf8.ValidString(desc) || !utf8.ValidString(url) || !utf8.ValidString(org) {
			t.Skip()
		}
		out := string(CalendarInvite(Invite{UID: "u", Summary: summary, Description: desc, URL: url, Organizer: org, Start: time.Unix(0, 0)}))
		checkICSSyntax(t, out)
		lines := unfoldICS(out)
		if lines[0] != "BEGIN:VCALENDAR" || lines[len(lines)-1] != "END:VCALENDAR" {
			t.Errorf("broken envelope:\n%s", out)
		}
		for _, l := range lines {
			if !strings.Contains(l, ":") {
				t.Errorf("line without a name/value separator: %q", l)
			}
		}
	})
}
