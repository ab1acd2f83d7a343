package protocol

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the same zone data on every machine

	"github.com/aftercare/aftercare"
)

// setup returns the default protocol.
func setup(t testing.TB) *Protocol {
	t.Helper()
	p, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return p
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// local parses "2006-01-02 15:04" in loc.
func local(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// input is a consenting patient in tz, treated at treated, session 1 of 3.
func input(tz string, treated time.Time) Input {
	return Input{
		Enrollment: aftercare.Enrollment{
			ID: 41, ClinicID: 7, PatientID: 19, Treatment: "microneedling",
			TreatedAt: treated, SessionNumber: 1, SeriesLength: 3,
		},
		Patient: aftercare.Patient{
			ID: 19, ClinicID: 7, FirstName: "Maya", LastName: "Lopez",
			Phone: "+14155550100", Email: "maya@example.com", Timezone: tz,
		},
		Clinic: aftercare.Clinic{
			ID: 7, Name: "Glow Clinic", Phone: "+14155550123", Timezone: "America/New_York",
			BookingURL: "https://glow.example/book",
		},
		SMSConsent: true, EmailConsent: true,
	}
}

// rows renders a plan as one line per message, times in loc:
// "step/occurrence/channel send stale status reason".
func rows(msgs []aftercare.Message, loc *time.Location) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		s := fmt.Sprintf("%s/%d/%s %s %s %s", m.Step, m.Occurrence, m.Channel,
			m.SendAt.In(loc).Format("01-02 15:04"), m.StaleAt.In(loc).Format("01-02 15:04"), m.Status)
		if m.Reason != "" {
			s += " " + m.Reason
		}
		out[i] = s
	}
	return out
}

// find returns the message of a step, occurrence and channel.
func find(t testing.TB, msgs []aftercare.Message, step string, occ int, ch aftercare.Channel) aftercare.Message {
	t.Helper()
	for _, m := range msgs {
		if m.Step == step && m.Occurrence == occ && m.Channel == ch {
			return m
		}
	}
	t.Fatalf("no %s/%d/%s in plan:\n%s", step, occ, ch, strings.Join(rows(msgs, time.UTC), "\n"))
	return aftercare.Message{}
}

func has(msgs []aftercare.Message, step string) bool {
	for _, m := range msgs {
		if m.Step == step {
			return true
		}
	}
	return false
}

// checkPlan asserts what must hold for every plan, whatever the input.
func checkPlan(t testing.TB, p *Protocol, in Input, quiet QuietHours, now time.Time, msgs []aftercare.Message) {
	t.Helper()
	if quiet == (QuietHours{}) {
		quiet = DefaultQuietHours
	}
	loc, err := location(in)
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	seen := map[string]bool{}
	notices := 0
	firstSMS := -1
	for i, m := range msgs {
		id := fmt.Sprintf("%s/%d/%s", m.Step, m.Occurrence, m.Channel)
		if seen[id] {
			t.Errorf("%s planned twice", id)
		}
		seen[id] = true
		if i > 0 && m.SendAt.Before(msgs[i-1].SendAt) {
			t.Errorf("%s: not sorted by send time", id)
		}
		if m.SendAt.Location() != time.UTC || m.StaleAt.Location() != time.UTC {
			t.Errorf("%s: times not in UTC", id)
		}
		if !m.NextAttemptAt.Equal(m.SendAt) {
			t.Errorf("%s: next attempt %v != send %v", id, m.NextAttemptAt, m.SendAt)
		}
		if m.EnrollmentID != in.Enrollment.ID || m.ClinicID != in.Enrollment.ClinicID || m.PatientID != in.Enrollment.PatientID {
			t.Errorf("%s: ids not copied", id)
		}
		if _, ok := p.Step(m.Step); !ok {
			t.Errorf("%s: unknown step", id)
		}
		if m.Body == "" || m.Channel == aftercare.Email && (m.Subject == "" || m.HTMLBody == "") {
			t.Errorf("%s: not rendered", id)
		}
		switch m.Status {
		case aftercare.StatusScheduled:
			if m.Reason != "" {
				t.Errorf("%s: scheduled with reason %q", id, m.Reason)
			}
			if m.SendAt.Before(now) {
				t.Errorf("%s: scheduled at %v, before now %v", id, m.SendAt, now)
			}
			if !m.SendAt.Before(m.StaleAt) {
				t.Errorf("%s: scheduled at %v, not before stale %v", id, m.SendAt, m.StaleAt)
			}
			if m.Channel == aftercare.SMS {
				if quiet.Contains(m.SendAt.In(loc)) {
					t.Errorf("%s: scheduled in quiet hours at %v", id, m.SendAt.In(loc))
				}
				if firstSMS < 0 {
					firstSMS = i
				}
			}
		case aftercare.StatusSkipped:
			if m.Reason == "" {
				t.Errorf("%s: skipped without a reason", id)
			}
		default:
			t.Errorf("%s: status %q", id, m.Status)
		}
		if m.Channel == aftercare.SMS && p.OptOutNotice != "" && strings.HasSuffix(m.Body, p.OptOutNotice) {
			notices++
			if i != firstSMS {
				t.Errorf("%s: opt-out notice on a text that is not the first scheduled one", id)
			}
		}
	}
	if firstSMS >= 0 && p.OptOutNotice != "" && notices != 1 {
		t.Errorf("opt-out notice on %d texts, want the first scheduled one only", notices)
	}
	// However late the enrollment, the first text names the red flags (in
	// any protocol with a late step).
	if firstSMS >= 0 {
		m := msgs[firstSMS]
		marked := false
		for _, s := range p.Steps() {
			marked = marked || s.When.Late
		}
		if s, _ := p.Step(m.Step); marked && !s.RedFlags {
			t.Errorf("first text is %s/%d, which does not name the red flags", m.Step, m.Occurrence)
		}
	}
}

// keyString names a message: step/occurrence/channel.
func keyString(m aftercare.Message) string {
	return fmt.Sprintf("%s/%d/%s", m.Step, m.Occurrence, m.Channel)
}
