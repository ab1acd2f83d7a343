package protocol

import (
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

// sunscreenLine is the default protocol's merge line for the daily
// sunscreen text.
const sunscreenLine = "Sunscreen again this morning: high SPF, even indoors."

func TestFrequencyCapMergesAndSkips(t *testing.T) {
	t.Parallel()
	p := setup(t)
	loc := mustLoc(t, "America/New_York")
	treated := local(t, loc, "2026-06-09 10:00")
	now := treated.Add(5 * time.Minute)
	in := input("America/New_York", treated)

	msgs, err := p.Plan(in, Options{DailyCap: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p, in, Options{}.Quiet, now, msgs)
	got := map[string]aftercare.Message{}
	for _, m := range msgs {
		got[keyString(m)] = m
	}
	for _, c := range []struct {
		key, status, reason string
	}{
		{"welcome/0/sms", "scheduled", ""}, // red flags: never capped
		{"evening_care/0/sms", "skipped", "frequency cap"},
		{"day1_checkin/0/sms", "scheduled", ""},
		{"sunscreen/1/sms", "skipped", "frequency cap: merged into the Day 1 check-in text"},
		{"makeup_ok/0/sms", "scheduled", ""},
		{"sunscreen/2/sms", "skipped", "frequency cap: merged into the Makeup OK text"},
		{"dryness/0/sms", "scheduled", ""},
		{"sunscreen/3/sms", "skipped", "frequency cap: merged into the Dryness is normal text"},
		{"sunscreen/4/sms", "scheduled", ""}, // alone on its day
		{"welcome/0/email", "scheduled", ""}, // emails are not capped
	} {
		m, ok := got[c.key]
		if !ok {
			t.Errorf("%s: not planned", c.key)
			continue
		}
		if string(m.Status) != c.status || m.Reason != c.reason {
			t.Errorf("%s: %s %q, want %s %q", c.key, m.Status, m.Reason, c.status, c.reason)
		}
	}
	for _, key := range []string{"day1_checkin/0/sms", "makeup_ok/0/sms", "dryness/0/sms"} {
		body := got[key].Body
		if strings.Count(body, sunscreenLine) != 1 {
			t.Errorf("%s does not carry the sunscreen line once: %q", key, body)
		}
		if n, _ := Segments(body); n > maxMergedSegments {
			t.Errorf("%s: %d segments with the merged line", key, n)
		}
	}
	if strings.Contains(got["welcome/0/sms"].Body, sunscreenLine) {
		t.Errorf("the welcome carries a line merged from nothing: %q", got["welcome/0/sms"].Body)
	}
}

// Whatever the caps and the enrollment time, no local day holds more
// scheduled texts than the daily cap and no 7 days more than the weekly
// cap, unless every text left is a red-flag one; a text skipped for the
// cap says so, and a merged line appears in exactly one text.
func TestFrequencyCapsHold(t *testing.T) {
	t.Parallel()
	p := setup(t)
	loc := mustLoc(t, "America/Los_Angeles")
	treated := local(t, loc, "2026-03-06 15:00") // DST starts on day 2
	for _, opt := range []Options{{DailyCap: 1}, {DailyCap: 2}, {DailyCap: 3}, {DailyCap: 2, WeeklyCap: 7}, {DailyCap: 1, WeeklyCap: 4}} {
		for _, after := range []time.Duration{0, 5 * time.Hour, 8*time.Hour + 30*time.Minute, 30 * time.Hour, 75 * time.Hour, 9 * 24 * time.Hour} {
			for _, finished := range []bool{false, true} {
				in := input("America/Los_Angeles", treated)
				if finished {
					in.Enrollment.SessionNumber = 3
				}
				now := treated.Add(after)
				msgs, err := p.Plan(in, opt, now)
				if err != nil {
					t.Fatal(err)
				}
				checkPlan(t, p, in, opt.Quiet, now, msgs)
				checkCaps(t, p, opt, treated.In(loc), msgs)
			}
		}
	}
}

func checkCaps(t *testing.T, p *Protocol, opt Options, treated time.Time, msgs []aftercare.Message) {
	t.Helper()
	loc := treated.Location()
	day := func(m aftercare.Message) int {
		y, mo, d := m.SendAt.In(loc).Date()
		ty, tm, td := treated.Date()
		return int(time.Date(y, mo, d, 12, 0, 0, 0, time.UTC).Sub(time.Date(ty, tm, td, 12, 0, 0, 0, time.UTC)).Hours()+1) / 24
	}
	perDay, plain := map[int]int{}, map[int]int{}
	for _, m := range msgs {
		s, _ := p.Step(m.Step)
		if m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled {
			perDay[day(m)]++
			if !s.RedFlags {
				plain[day(m)]++
			}
		}
		if m.Status == aftercare.StatusSkipped && strings.HasPrefix(m.Reason, ReasonFrequencyCap) && s.RedFlags {
			t.Errorf("%+v: a red-flag text was capped: %s", opt, keyString(m))
		}
		if strings.Contains(m.Reason, "merged into") && s.Merge == "" {
			t.Errorf("%+v: %s merged without a merge line", opt, keyString(m))
		}
	}
	daily := opt.DailyCap
	if daily == 0 {
		daily = aftercare.DefaultDailyTextCap
	}
	for d, n := range perDay {
		if n > daily && plain[d] > 0 {
			t.Errorf("%+v: day %d has %d texts (%d not red-flag), cap %d", opt, d, n, plain[d], daily)
		}
	}
	if opt.WeeklyCap > 0 {
		for d := range perDay {
			n, pl := 0, 0
			for e := d; e < d+7; e++ {
				n += perDay[e]
				pl += plain[e]
			}
			if n > opt.WeeklyCap && pl > 0 {
				t.Errorf("%+v: days %d-%d have %d texts, weekly cap %d", opt, d, d+6, n, opt.WeeklyCap)
			}
		}
	}
	// Every merged line sits in one scheduled text of its day.
	merged := 0
	for _, m := range msgs {
		if strings.Contains(m.Reason, "merged into") {
			merged++
		}
	}
	carried := 0
	for _, m := range msgs {
		if m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled {
			carried += strings.Count(m.Body, sunscreenLine)
		}
	}
	if merged != carried {
		t.Errorf("%+v: %d texts merged, %d merged lines sent", opt, merged, carried)
	}
}

// A negative cap plans the protocol's raw schedule; 3 (the most a clinic
// may set) leaves the default protocol's on-time plan as it is.
func TestFrequencyCapOff(t *testing.T) {
	t.Parallel()
	p := setup(t)
	loc := mustLoc(t, "America/New_York")
	treated := local(t, loc, "2026-06-09 10:00")
	in := input("America/New_York", treated)
	raw, err := p.Plan(in, Options{DailyCap: -1}, treated)
	if err != nil {
		t.Fatal(err)
	}
	three, err := p.Plan(in, Options{DailyCap: 3}, treated)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(three) {
		t.Fatalf("%d messages uncapped, %d with cap 3", len(raw), len(three))
	}
	for i := range raw {
		if a, b := raw[i], three[i]; keyString(a) != keyString(b) || a.Status != b.Status || a.Body != b.Body || !a.SendAt.Equal(b.SendAt) {
			t.Errorf("message %d differs: %s %s vs %s %s", i, keyString(raw[i]), raw[i].Status, keyString(three[i]), three[i].Status)
		}
	}
}
