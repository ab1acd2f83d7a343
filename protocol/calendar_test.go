package protocol

import (
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

func TestInvitation(t *testing.T) {
	t.Parallel()
	p := setup(t)
	ny := mustLoc(t, "America/New_York")
	in := input("America/New_York", local(t, ny, "2026-06-09 10:00"))
	in.Clinic.Name = "Glow, Skin; and Laser Clinic of the Greater Riverside Metropolitan Area"
	msgs, err := p.Plan(in, Options{}, in.Enrollment.TreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	m := find(t, msgs, "book_next", 0, aftercare.Email)
	ics, err := p.Invitation(in, m)
	if err != nil {
		t.Fatal(err)
	}
	s := string(ics)
	for _, want := range []string{
		"BEGIN:VCALENDAR\r\n", "METHOD:PUBLISH\r\n",
		"UID:enrollment-41-book_next-0@aftercare\r\n",
		"DTSTART;VALUE=DATE:20260707\r\n", // day 28
		"DTEND;VALUE=DATE:20260715\r\n",   // the day after day 35
		"SUMMARY:Book session 2 of 3 at Glow\\, Skin\\; and Laser Clinic",
		"URL:https://glow.example/book\r\n",
		"END:VCALENDAR\r\n",
	} {
		if !strings.Contains(strings.ReplaceAll(s, "\r\n ", ""), want) {
			t.Errorf("invitation lacks %q:\n%s", want, s)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line longer than 75 octets: %q", line)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("bare line break in %q", line)
		}
	}
	again, _ := p.Invitation(in, m)
	if string(again) != s {
		t.Error("invitation is not deterministic")
	}

	for _, other := range []aftercare.Message{
		find(t, msgs, "book_next", 0, aftercare.SMS),
		find(t, msgs, "welcome", 0, aftercare.Email),
		{Step: "nope", Channel: aftercare.Email},
	} {
		if b, err := p.Invitation(in, other); b != nil || err != nil {
			t.Errorf("Invitation(%s/%s) = %q, %v; want nothing", other.Step, other.Channel, b, err)
		}
	}
}

func TestFold(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	long := "DESCRIPTION:" + strings.Repeat("é", 100)
	fold(&b, long)
	out := b.String()
	if strings.ReplaceAll(out, "\r\n ", "") != long+"\r\n" {
		t.Errorf("unfolding does not give the line back: %q", out)
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets", len(l))
		}
		if !strings.HasPrefix(l, " ") && l != out[:len(l)] {
			t.Errorf("continuation without a leading space: %q", l)
		}
		if !utf8Valid(strings.TrimPrefix(l, " ")) {
			t.Errorf("a character was split: %q", l)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
