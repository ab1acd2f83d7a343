package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

func TestPlanStandard(t *testing.T) {
	t.Parallel()
	p := setup(t)
	ny := mustLoc(t, "America/New_York")
	treated := local(t, ny, "2026-06-09 10:00") // a Tuesday, far from any clock change
	now := treated.Add(5 * time.Minute)
	in := input("America/New_York", treated)

	msgs, err := p.Plan(in, Options{}, now)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p, in, Options{}.Quiet, now, msgs)

	want := []string{
		"welcome/0/sms 06-09 10:05 06-09 22:00 scheduled",
		"welcome/0/email 06-09 10:05 06-23 23:59 scheduled",
		"evening_care/0/sms 06-09 20:00 06-09 23:59 scheduled",
		"sunscreen/1/sms 06-10 08:30 06-10 12:00 scheduled",
		"day1_checkin/0/sms 06-10 09:00 06-10 18:00 scheduled",
		"sunscreen/2/sms 06-11 08:30 06-11 12:00 scheduled",
		"makeup_ok/0/sms 06-11 10:00 06-12 10:00 scheduled",
		"sunscreen/3/sms 06-12 08:30 06-12 12:00 scheduled",
		"dryness/0/sms 06-12 09:00 06-13 21:00 scheduled",
		"sunscreen/4/sms 06-13 08:30 06-13 12:00 scheduled",
		"sunscreen/5/sms 06-14 08:30 06-14 12:00 scheduled",
		"sunscreen/6/sms 06-15 08:30 06-15 12:00 scheduled",
		"sunscreen/7/sms 06-16 08:30 06-16 12:00 scheduled",
		"reintroduce_actives/0/sms 06-16 10:00 06-18 21:00 scheduled",
		"reintroduce_actives/0/email 06-16 10:00 06-18 21:00 scheduled",
		"sunscreen/8/sms 06-17 08:30 06-17 12:00 scheduled",
		"sunscreen/9/sms 06-18 08:30 06-18 12:00 scheduled",
		"sunscreen/10/sms 06-19 08:30 06-19 12:00 scheduled",
		"sunscreen/11/sms 06-20 08:30 06-20 12:00 scheduled",
		"sunscreen/12/sms 06-21 08:30 06-21 12:00 scheduled",
		"sunscreen/13/sms 06-22 08:30 06-22 12:00 scheduled",
		"sunscreen/14/sms 06-23 08:30 06-23 12:00 scheduled",
		"back_to_routine/0/email 06-23 10:00 06-25 23:59 scheduled",
		"book_next/0/sms 07-07 11:00 07-14 23:59 scheduled",
		"book_next/0/email 07-07 11:00 07-14 23:59 scheduled",
		"last_call/0/sms 07-21 11:00 07-24 23:59 scheduled",
	}
	if got := rows(msgs, ny); !slices.Equal(got, want) {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	welcome := find(t, msgs, "welcome", 0, aftercare.SMS)
	if !strings.HasPrefix(welcome.Body, "Glow Clinic: Hi Maya,") || !strings.HasSuffix(welcome.Body, " Reply STOP to opt out.") {
		t.Errorf("welcome sms = %q, want the clinic first and the opt-out notice last", welcome.Body)
	}
	if !strings.Contains(welcome.Body, "care guide is in your email") {
		t.Errorf("welcome sms = %q, want it to point to the email guide", welcome.Body)
	}
	guide := find(t, msgs, "welcome", 0, aftercare.Email)
	if guide.Subject != "Your microneedling aftercare guide from Glow Clinic" {
		t.Errorf("guide subject = %q", guide.Subject)
	}
	if !strings.Contains(guide.HTMLBody, `<a href="tel:&#43;14155550123">`) {
		t.Errorf("guide html lacks a tel: link to the clinic:\n%s", guide.HTMLBody)
	}
	if m := find(t, msgs, "sunscreen", 9, aftercare.SMS); !strings.Contains(m.Body, "day 9 of 14") {
		t.Errorf("sunscreen day 9 = %q", m.Body)
	}
	if m := find(t, msgs, "book_next", 0, aftercare.SMS); !strings.Contains(m.Body, "session 2 of 3. Just book online at https://glow.example/book.") {
		t.Errorf("book_next = %q", m.Body)
	}
	if m := find(t, msgs, "reintroduce_actives", 0, aftercare.Email); !strings.Contains(m.Body, "session on Tuesday, June 9.") {
		t.Errorf("reintroduce_actives email lacks the treatment date: %q", m.Body)
	}
}

// expectLocal is where each clock-based step of the default protocol lands:
// the day after treatment and the local time.
var expectLocal = map[string]struct {
	day   int
	clock string
	stale string // local clock of the stale time
}{
	"evening_care":        {0, "20:00", "23:59"},
	"day1_checkin":        {1, "09:00", "18:00"},
	"dryness":             {3, "09:00", "21:00"},
	"reintroduce_actives": {7, "10:00", "21:00"},
	"back_to_routine":     {14, "10:00", "23:59"},
	"book_next":           {28, "11:00", "23:59"},
	"last_call":           {42, "11:00", "23:59"},
}

// Daylight-saving changes never move a local-time step; durations from the
// treatment stay exact.
func TestPlanKeepsLocalTimesAcrossClockChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tz, treated string
	}{
		{"new york spring forward", "America/New_York", "2026-03-06 10:00"}, // change on day 2 (March 8)
		{"new york fall back", "America/New_York", "2026-10-29 10:00"},      // change on day 3 (November 1)
		{"london spring forward", "Europe/London", "2026-03-27 14:00"},      // change on day 2 (March 29)
		{"london fall back", "Europe/London", "2026-10-22 11:00"},           // change on day 3 (October 25)
		{"sydney autumn (clocks back)", "Australia/Sydney", "2026-04-01 12:00"},
		{"sydney spring (clocks forward)", "Australia/Sydney", "2026-10-01 12:00"},
		{"kolkata (+05:30, no dst)", "Asia/Kolkata", "2026-03-06 10:00"},
		{"treated on the change day", "America/New_York", "2026-03-08 10:00"},
		{"utc", "UTC", "2026-03-06 10:00"},
	}
	p := setup(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, tc.tz)
			treated := local(t, loc, tc.treated)
			now := treated.Add(10 * time.Minute)
			in := input(tc.tz, treated)
			msgs, err := p.Plan(in, Options{}, now)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, in, QuietHours{}, now, msgs)
			day0 := treated.In(loc)
			dayOf := func(n int) string {
				return time.Date(day0.Year(), day0.Month(), day0.Day()+n, 12, 0, 0, 0, loc).Format("2006-01-02")
			}
			sunscreens := 0
			for _, m := range msgs {
				send, stale := m.SendAt.In(loc), m.StaleAt.In(loc)
				if m.Status != aftercare.StatusScheduled {
					t.Errorf("%s/%d/%s: %s %s", m.Step, m.Occurrence, m.Channel, m.Status, m.Reason)
				}
				switch m.Step {
				case "sunscreen":
					sunscreens++
					if got, want := send.Format("2006-01-02 15:04"), dayOf(m.Occurrence)+" 08:30"; got != want {
						t.Errorf("sunscreen day %d at %s, want %s", m.Occurrence, got, want)
					}
					if got, want := stale.Format("2006-01-02 15:04"), dayOf(m.Occurrence)+" 12:00"; got != want {
						t.Errorf("sunscreen day %d stale at %s, want %s", m.Occurrence, got, want)
					}
				case "makeup_ok":
					if want := treated.Add(48 * time.Hour); !m.SendAt.Equal(want) || !m.StaleAt.Equal(treated.Add(72*time.Hour)) {
						t.Errorf("makeup_ok at %v stale %v, want treatment + 48h (%v) and + 72h", send, stale, want.In(loc))
					}
				case "welcome":
					wantStale := treated.Add(12 * time.Hour)
					if m.Channel == aftercare.Email {
						wantStale = local(t, loc, dayOf(14)+" 23:59")
					}
					if !m.SendAt.Equal(now) || !m.StaleAt.Equal(wantStale) {
						t.Errorf("welcome %s at %v stale %v", m.Channel, send, stale)
					}
				default:
					e, ok := expectLocal[m.Step]
					if !ok {
						t.Errorf("unexpected step %s", m.Step)
						continue
					}
					if got, want := send.Format("2006-01-02 15:04"), dayOf(e.day)+" "+e.clock; got != want {
						t.Errorf("%s at %s, want %s", m.Step, got, want)
					}
					if got := stale.Format("15:04"); got != e.stale {
						t.Errorf("%s stale at %s, want %s", m.Step, got, e.stale)
					}
				}
			}
			if sunscreens != 14 {
				t.Errorf("%d sunscreen texts, want 14", sunscreens)
			}
		})
	}
}

// A local time that does not exist that day moves forward to the first
// valid minute.
func TestPlanNonexistentLocalTime(t *testing.T) {
	t.Parallel()
	const doc = `
name: gap
version: 1
steps:
  - key: night_email
    at: "day 1 at 02:30"
    stale: "day 1 at 12:00"
    channels: [email]
    email: {subject: "s {{.FirstName}}", text: "t", html: "<p>h</p>"}
  - key: night_daily
    at: "02:30 on days 0-2"
    stale: "same day at 02:45"
    channels: [email]
    email: {subject: "s", text: "t", html: "<p>h</p>"}
` + minimalReplies
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tz, treated string
		want        []string
	}{
		{"America/New_York", "2026-03-07 10:00", []string{ // clocks jump 02:00 -> 03:00 on March 8
			"night_daily/0/email 03-07 10:00 03-07 02:45 skipped stale: enrolled after the step's window closed",
			"night_email/0/email 03-08 03:00 03-08 12:00 scheduled",
			"night_daily/1/email 03-08 03:00 03-08 03:00 skipped stale: the step's window closes before its send time",
			"night_daily/2/email 03-09 02:30 03-09 02:45 scheduled",
		}},
		{"Europe/London", "2026-03-28 10:00", []string{ // 01:00 -> 02:00 on March 29: 02:30 exists
			"night_daily/0/email 03-28 10:00 03-28 02:45 skipped stale: enrolled after the step's window closed",
			"night_email/0/email 03-29 02:30 03-29 12:00 scheduled",
			"night_daily/1/email 03-29 02:30 03-29 02:45 scheduled",
			"night_daily/2/email 03-30 02:30 03-30 02:45 scheduled",
		}},
		{"Australia/Sydney", "2026-10-03 10:00", []string{ // 02:00 -> 03:00 on October 4
			"night_daily/0/email 10-03 10:00 10-03 02:45 skipped stale: enrolled after the step's window closed",
			"night_email/0/email 10-04 03:00 10-04 12:00 scheduled",
			"night_daily/1/email 10-04 03:00 10-04 03:00 skipped stale: the step's window closes before its send time",
			"night_daily/2/email 10-05 02:30 10-05 02:45 scheduled",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.tz, func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, tc.tz)
			treated := local(t, loc, tc.treated)
			in := input(tc.tz, treated)
			msgs, err := p.Plan(in, Options{}, treated)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, in, QuietHours{}, treated, msgs)
			if got := rows(msgs, loc); !slices.Equal(got, tc.want) {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestPlanEnrollmentTiming(t *testing.T) {
	t.Parallel()
	p := setup(t)
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		name, treated, enrolled string
		quiet                   QuietHours
		want                    []string // rows expected among the plan
		absent                  []string // steps not planned
	}{
		{
			name: "treated late evening", treated: "2026-06-09 20:30", enrolled: "2026-06-09 20:35",
			want: []string{
				"welcome/0/sms 06-09 20:35 06-10 08:30 scheduled",
				"welcome/0/email 06-09 20:35 06-23 23:59 scheduled",
			},
			absent: []string{"evening_care"},
		},
		{
			name: "treated just before midnight", treated: "2026-06-09 23:50", enrolled: "2026-06-09 23:52",
			want: []string{
				"welcome/0/email 06-09 23:52 06-23 23:59 scheduled",
				"welcome/0/sms 06-10 08:00 06-10 11:50 scheduled",
				"sunscreen/1/sms 06-10 08:30 06-10 12:00 skipped frequency cap: merged into the Welcome and the first 24 hours text",
				"day1_checkin/0/sms 06-10 09:00 06-10 18:00 scheduled",
			},
			absent: []string{"evening_care"},
		},
		{
			name: "enrolled at 17:59 gets evening care", treated: "2026-06-09 16:00", enrolled: "2026-06-09 17:59",
			want: []string{"evening_care/0/sms 06-09 20:00 06-09 23:59 scheduled"},
		},
		{
			name: "enrolled at 18:00 does not", treated: "2026-06-09 16:00", enrolled: "2026-06-09 18:00",
			absent: []string{"evening_care"},
		},
		{
			name: "enrolled ahead of a 19:00 treatment counts from the treatment", treated: "2026-06-09 19:00", enrolled: "2026-06-09 09:00",
			want:   []string{"welcome/0/sms 06-09 19:00 06-10 07:00 scheduled"},
			absent: []string{"evening_care"},
		},
		{
			name: "enrolled hours later: past steps go out now", treated: "2026-06-09 09:00", enrolled: "2026-06-09 15:00",
			want: []string{
				"welcome/0/sms 06-09 15:00 06-09 21:00 scheduled",
				"welcome/0/email 06-09 15:00 06-23 23:59 scheduled",
				"evening_care/0/sms 06-09 20:00 06-09 23:59 scheduled",
			},
		},
		{
			name: "enrolled after the welcome went stale", treated: "2026-06-09 09:00", enrolled: "2026-06-09 21:30",
			want: []string{
				"welcome/0/sms 06-09 21:30 06-09 21:00 skipped stale: enrolled after the step's window closed",
				"welcome/0/email 06-09 21:30 06-23 23:59 scheduled",
				"late_start/0/sms 06-10 08:00 08-09 23:59 scheduled",
				"sunscreen/1/sms 06-10 08:30 06-10 12:00 scheduled",
				"day1_checkin/0/sms 06-10 09:00 06-10 18:00 skipped covered by the late-start text the same day, which names the warning signs and what still applies",
			},
			absent: []string{"evening_care"},
		},
		{
			name: "welcome fresh but quiet hours run past its window", treated: "2026-06-09 09:30", enrolled: "2026-06-09 21:10",
			want: []string{
				"welcome/0/sms 06-09 21:10 06-09 21:30 skipped stale: quiet hours (21:00-08:00) last until after the step's window closed",
				"welcome/0/email 06-09 21:10 06-23 23:59 scheduled",
				"late_start/0/sms 06-10 08:00 08-09 23:59 scheduled",
			},
		},
		{
			name: "enrolled three days late", treated: "2026-06-09 10:00", enrolled: "2026-06-12 10:30",
			want: []string{
				"welcome/0/sms 06-12 10:30 06-09 22:00 skipped stale: enrolled after the step's window closed",
				"day1_checkin/0/sms 06-12 10:30 06-10 18:00 skipped stale: enrolled after the step's window closed",
				"sunscreen/1/sms 06-12 10:30 06-10 12:00 skipped stale: enrolled after the step's window closed",
				"sunscreen/2/sms 06-12 10:30 06-11 12:00 skipped stale: enrolled after the step's window closed",
				"makeup_ok/0/sms 06-12 10:30 06-12 10:00 skipped stale: enrolled after the step's window closed",
				"welcome/0/email 06-12 10:30 06-23 23:59 scheduled",
				"late_start/0/sms 06-12 10:30 08-09 23:59 scheduled",
				"sunscreen/3/sms 06-12 10:30 06-12 12:00 skipped frequency cap: merged into the Late start (warning signs and what still applies) text",
				"dryness/0/sms 06-12 10:30 06-13 21:00 scheduled",
				"sunscreen/4/sms 06-13 08:30 06-13 12:00 scheduled",
			},
			absent: []string{"evening_care"},
		},
		{
			name: "enrolled late at night: a fresh step waits for the morning", treated: "2026-06-09 10:00", enrolled: "2026-06-12 22:00",
			want: []string{
				"sunscreen/3/sms 06-12 22:00 06-12 12:00 skipped stale: enrolled after the step's window closed",
				"late_start/0/sms 06-13 08:00 08-09 23:59 scheduled",
				"sunscreen/4/sms 06-13 08:30 06-13 12:00 scheduled",
				"dryness/0/sms 06-12 22:00 06-13 21:00 skipped covered by the late-start text the same day, which names the warning signs and what still applies",
			},
		},
		{
			name: "clinic quiet hours 19:00-09:00", treated: "2026-06-09 10:00", enrolled: "2026-06-09 10:05",
			quiet: QuietHours{Start: 19 * 60, End: 9 * 60},
			want: []string{
				"evening_care/0/sms 06-09 20:00 06-09 23:59 skipped stale: quiet hours (19:00-09:00) last until after the step's window closed",
				"day1_checkin/0/sms 06-10 09:00 06-10 18:00 scheduled",
				"sunscreen/1/sms 06-10 09:00 06-10 12:00 scheduled",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			treated, now := local(t, ny, tc.treated), local(t, ny, tc.enrolled)
			in := input("America/New_York", treated)
			msgs, err := p.Plan(in, Options{Quiet: tc.quiet}, now)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, in, tc.quiet, now, msgs)
			got := rows(msgs, ny)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %q in plan:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, step := range tc.absent {
				if has(msgs, step) {
					t.Errorf("%s planned, want it left out", step)
				}
			}
		})
	}
}

// "Day N" follows the patient's calendar, not UTC's.
func TestPlanNearMidnightUTC(t *testing.T) {
	t.Parallel()
	p := setup(t)
	tests := []struct {
		tz, treatedUTC, day1 string
	}{
		{"America/Los_Angeles", "2026-06-09T23:30:00Z", "2026-06-10"}, // 16:30 local on June 9
		{"Pacific/Auckland", "2026-06-09T23:30:00Z", "2026-06-11"},    // 11:30 local on June 10
		{"Asia/Kolkata", "2026-06-09T18:25:00Z", "2026-06-10"},        // 23:55 local on June 9
		{"Asia/Kolkata", "2026-06-09T18:35:00Z", "2026-06-11"},        // 00:05 local on June 10
	}
	for _, tc := range tests {
		t.Run(tc.tz+" "+tc.treatedUTC, func(t *testing.T) {
			t.Parallel()
			treated, err := time.Parse(time.RFC3339, tc.treatedUTC)
			if err != nil {
				t.Fatal(err)
			}
			in := input(tc.tz, treated)
			msgs, err := p.Plan(in, Options{}, treated)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, in, QuietHours{}, treated, msgs)
			loc := mustLoc(t, tc.tz)
			m := find(t, msgs, "day1_checkin", 0, aftercare.SMS)
			if got, want := m.SendAt.In(loc).Format("2006-01-02 15:04"), tc.day1+" 09:00"; got != want {
				t.Errorf("day 1 check-in at %s, want %s", got, want)
			}
		})
	}
}

func TestPlanChannels(t *testing.T) {
	t.Parallel()
	p := setup(t)
	ny := mustLoc(t, "America/New_York")
	treated := local(t, ny, "2026-06-09 10:00")
	tests := []struct {
		name      string
		edit      func(*Input)
		sms, mail string // reason every message on the channel is skipped with, "" for scheduled
	}{
		{"all good", func(*Input) {}, "", ""},
		{"no sms consent", func(in *Input) { in.SMSConsent = false }, "no sms consent", ""},
		{"no email consent", func(in *Input) { in.EmailConsent = false }, "", "no email consent"},
		{"opted out of sms", func(in *Input) { in.Patient.SMSOptOut = true }, "patient opted out of sms", ""},
		{"opted out of email", func(in *Input) { in.Patient.EmailOptOut = true }, "", "patient opted out of email"},
		{"opt-out wins over consent", func(in *Input) { in.Patient.SMSOptOut, in.SMSConsent = true, false }, "patient opted out of sms", ""},
		{"landline", func(in *Input) { in.Patient.PhoneBad = "landline" }, "phone number cannot take texts: landline", ""},
		{"no phone", func(in *Input) { in.Patient.Phone = "" }, "no phone number", ""},
		{"no email address", func(in *Input) { in.Patient.Email = "" }, "", "no email address"},
		{"bounced email", func(in *Input) { in.Patient.EmailBad = "mailbox does not exist" }, "", "email address cannot take mail: mailbox does not exist"},
		{"nothing at all", func(in *Input) { in.SMSConsent, in.EmailConsent = false, false }, "no sms consent", "no email consent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := input("America/New_York", treated)
			tc.edit(&in)
			msgs, err := p.Plan(in, Options{}, treated)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, in, QuietHours{}, treated, msgs)
			// back_to_routine is texted only when its email cannot go.
			want := 26
			if tc.mail != "" {
				want = 27
			}
			if len(msgs) != want {
				t.Errorf("%d messages, want all %d planned (skipped ones included)", len(msgs), want)
			}
			for _, m := range msgs {
				want := map[aftercare.Channel]string{aftercare.SMS: tc.sms, aftercare.Email: tc.mail}[m.Channel]
				if m.Reason != want || (want == "") != (m.Status == aftercare.StatusScheduled) {
					t.Errorf("%s/%d/%s: %s %q, want reason %q", m.Step, m.Occurrence, m.Channel, m.Status, m.Reason, want)
				}
			}
			welcome := find(t, msgs, "welcome", 0, aftercare.SMS)
			if emailOK := tc.mail == ""; strings.Contains(welcome.Body, "in your email") != emailOK {
				t.Errorf("welcome sms = %q: it should point to the email guide only when email works", welcome.Body)
			}
		})
	}
}

func TestPlanSeries(t *testing.T) {
	t.Parallel()
	p := setup(t)
	ny := mustLoc(t, "America/New_York")
	tests := []struct {
		name            string
		treated         string
		session, series int
		want            []string
		absent          []string
	}{
		{
			name: "first of three", treated: "2026-06-09 10:00", session: 1, series: 3,
			want: []string{
				"book_next/0/sms 07-07 11:00 07-14 23:59 scheduled",
				"book_next/0/email 07-07 11:00 07-14 23:59 scheduled",
				"last_call/0/sms 07-21 11:00 07-24 23:59 scheduled",
			},
			absent: []string{"maintenance"},
		},
		{
			name: "last of three", treated: "2026-06-09 10:00", session: 3, series: 3,
			want:   []string{"maintenance/0/email 12-09 11:00 01-08 11:00 scheduled"},
			absent: []string{"book_next", "last_call"},
		},
		{
			name: "single session", treated: "2026-06-09 10:00", session: 1, series: 1,
			want:   []string{"maintenance/0/email 12-09 11:00 01-08 11:00 scheduled"},
			absent: []string{"book_next", "last_call"},
		},
		{
			name: "month end clamps", treated: "2026-08-31 10:00", session: 4, series: 4,
			want:   []string{"maintenance/0/email 02-28 11:00 03-30 11:00 scheduled"},
			absent: []string{"book_next", "last_call"},
		},
		{
			name: "maintenance across a clock change keeps 11:00", treated: "2026-05-01 10:00", session: 2, series: 2,
			want: []string{"maintenance/0/email 11-01 11:00 12-01 11:00 scheduled"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			treated := local(t, ny, tc.treated)
			in := input("America/New_York", treated)
			in.Enrollment.SessionNumber, in.Enrollment.SeriesLength = tc.session, tc.series
			msgs, err := p.Plan(in, Options{}, treated)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, in, QuietHours{}, treated, msgs)
			got := rows(msgs, ny)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %q in plan:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, step := range tc.absent {
				if has(msgs, step) {
					t.Errorf("%s planned, want it left out", step)
				}
			}
			if last := msgs[len(msgs)-1]; tc.session == tc.series && last.Step != "maintenance" {
				t.Errorf("last message %s, want maintenance", last.Step)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	t.Parallel()
	p := setup(t)
	treated := time.Date(2026, 6, 9, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		edit  func(*Input, *Options)
		field string
	}{
		{"unknown zone", func(in *Input, _ *Options) { in.Patient.Timezone = "Mars/Olympus_Mons" }, "timezone"},
		{"server zone", func(in *Input, _ *Options) { in.Patient.Timezone = "Local" }, "timezone"},
		{"no zone anywhere", func(in *Input, _ *Options) { in.Patient.Timezone, in.Clinic.Timezone = "", "" }, "timezone"},
		{"path as zone", func(in *Input, _ *Options) { in.Patient.Timezone = "../../etc/passwd" }, "timezone"},
		{"session past series", func(in *Input, _ *Options) { in.Enrollment.SessionNumber = 4 }, "session_number"},
		{"session zero", func(in *Input, _ *Options) { in.Enrollment.SessionNumber = 0 }, "session_number"},
		{"series zero", func(in *Input, _ *Options) { in.Enrollment.SeriesLength = 0 }, "series_length"},
		{"no treatment time", func(in *Input, _ *Options) { in.Enrollment.TreatedAt = time.Time{} }, "treated_at"},
		{"quiet hours out of range", func(_ *Input, o *Options) { o.Quiet = QuietHours{Start: 1500, End: 60} }, "quiet_hours"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, opt := input("Europe/London", treated), Options{}
			tc.edit(&in, &opt)
			msgs, err := p.Plan(in, opt, treated)
			var e *aftercare.Error
			if !errors.As(err, &e) || e.Code != aftercare.EINVALID || e.Field != tc.field {
				t.Fatalf("Plan = %d messages, %v; want an invalid %s error", len(msgs), err, tc.field)
			}
		})
	}
}

func TestPlanFallsBackToClinicZone(t *testing.T) {
	t.Parallel()
	p := setup(t)
	la := mustLoc(t, "America/Los_Angeles")
	treated := local(t, la, "2026-06-09 10:00")
	in := input("", treated)
	in.Clinic.Timezone = "America/Los_Angeles"
	msgs, err := p.Plan(in, Options{}, treated)
	if err != nil {
		t.Fatal(err)
	}
	if got := find(t, msgs, "day1_checkin", 0, aftercare.SMS).SendAt.In(la).Format("15:04"); got != "09:00" {
		t.Errorf("check-in at %s Los Angeles time, want 09:00", got)
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	p := setup(t)
	treated := time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC)
	in := input("America/New_York", treated)
	a, err := p.Plan(in, Options{}, treated)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Plan(in, Options{}, treated)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("two plans of the same input differ")
	}
}

// A Protocol is shared by every request: planning must be safe in parallel
// (run with -race).
func TestPlanConcurrently(t *testing.T) {
	t.Parallel()
	p := setup(t)
	treated := time.Date(2026, 10, 30, 14, 0, 0, 0, time.UTC)
	want, err := p.Plan(input("Europe/London", treated), Options{}, treated)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := p.Plan(input("Europe/London", treated), Options{}, treated)
			if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
				err = errors.New("plans differ")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
