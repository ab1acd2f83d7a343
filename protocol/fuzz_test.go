package protocol

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/aftercare/aftercare"
)

// Seeds live in testdata/fuzz/<FuzzName>/ too; these are the small ones.

func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte("name: t\nversion: 1\nsteps:\n  - key: a\n    at: \"08:30 on days 1-3\"\n    stale: \"same day at 12:00\"\n    channels: [sms]\n    sms: \"{{.ClinicName}}: day {{.Day}}\"\n" + minimalReplies))
	f.Add([]byte("name: t\nversion: 1\ncolour: red\n"))
	f.Add([]byte("steps: ["))
	f.Add([]byte(""))
	treated := time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned a protocol and an error")
			}
			return
		}
		// Whatever parses must plan: every step, every channel.
		in := input("America/New_York", treated)
		msgs, err := p.Plan(in, Options{}, treated)
		if err != nil {
			// Only a template that fails on data the load-time samples
			// did not exercise may fail here.
			if !strings.Contains(err.Error(), "template") {
				t.Fatalf("Plan: %v", err)
			}
			return
		}
		checkPlan(t, p, in, QuietHours{}, treated, msgs)
	})
}

var fuzzZones = []string{
	"UTC", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata",
	"Australia/Lord_Howe", "Pacific/Auckland", "America/Santiago", "Asia/Tehran", "Pacific/Chatham",
	"America/St_Johns", "Africa/Casablanca", "Pacific/Apia", "Asia/Kathmandu", "Nope/Nowhere",
}

func FuzzPlan(f *testing.F) {
	f.Add(int64(1772809200), int32(5), uint8(1), int8(1), int8(3), true, true, false, uint16(1260), uint16(480))
	f.Add(int64(1772924400), int32(3*24*60), uint8(2), int8(3), int8(3), true, false, false, uint16(0), uint16(0))
	f.Add(int64(1791003000), int32(-600), uint8(3), int8(2), int8(6), false, true, true, uint16(1140), uint16(540))
	f.Add(int64(0), int32(0), uint8(14), int8(0), int8(0), false, false, false, uint16(5000), uint16(1))
	p := setup(f)
	f.Fuzz(func(t *testing.T, treatedUnix int64, enrolledAfter int32, zone uint8, session, series int8,
		smsConsent, emailConsent, optedOut bool, quietStart, quietEnd uint16) {
		// Keep treatment within 1970-2200; enrollment within ±90 days.
		treated := time.Unix(treatedUnix%(230*365*24*3600), 0)
		if treated.Before(time.Unix(0, 0)) {
			treated = time.Unix(-treatedUnix%(230*365*24*3600), 0)
		}
		now := treated.Add(time.Duration(enrolledAfter%(90*24*60)) * time.Minute)
		in := input(fuzzZones[int(zone)%len(fuzzZones)], treated)
		in.Enrollment.SessionNumber, in.Enrollment.SeriesLength = int(session), int(series)
		in.SMSConsent, in.EmailConsent, in.Patient.SMSOptOut = smsConsent, emailConsent, optedOut
		opt := Options{Quiet: QuietHours{Start: int(quietStart), End: int(quietEnd)}}
		msgs, err := p.Plan(in, opt, now)
		if err != nil {
			if aftercare.ErrorCode(err) != aftercare.EINVALID {
				t.Fatalf("Plan: %v, want only input errors", err)
			}
			return
		}
		checkPlan(t, p, in, opt.Quiet, now, msgs)
	})
}

func FuzzRender(f *testing.F) {
	f.Add("Maya", "Glow Clinic", "+14155550123", "https://glow.example/book", "my face is swollen")
	f.Add("<script>alert(1)</script>", `Tom & Jerry's "Skin"`, "+1 (415) 555-0123", "javascript:alert(1)", "</blockquote><b>")
	f.Add("Zoë 😀", "Clínica Sol", "", "", "\r\nBcc: x@example.com")
	p := setup(f)
	f.Fuzz(func(t *testing.T, first, clinic, phone, url, reply string) {
		if url == "" {
			url = "x" // keep the {{if .BookingURL}} branches the same
		}
		d := Data{FirstName: first, PatientName: first, PatientPhone: phone, ClinicName: clinic, ClinicPhone: phone,
			BookingURL: url, SessionNumber: 1, SeriesLength: 3, NextSession: 2, TreatedDate: "Monday, March 9", Day: 3, EmailOK: true, Reply: reply}
		safe := Data{FirstName: "A", PatientName: "A", PatientPhone: "1", ClinicName: "C", ClinicPhone: "1",
			BookingURL: "x", SessionNumber: 1, SeriesLength: 3, NextSession: 2, TreatedDate: "Monday, March 9", Day: 3, EmailOK: true, Reply: "r"}
		check := func(name string, c, base Content, err error) {
			if err != nil {
				if strings.TrimSpace(c.Text) == "" && strings.Contains(err.Error(), "empty") {
					return
				}
				t.Fatalf("%s: %v", name, err)
			}
			if strings.ContainsAny(c.Subject, "\r\n") {
				t.Errorf("%s: subject %q spans lines", name, c.Subject)
			}
			// Patient and clinic data never add markup to the HTML.
			if got, want := strings.Count(c.HTML, "<"), strings.Count(base.HTML, "<"); got != want {
				t.Errorf("%s: %d '<' in html, %d with plain names:\n%s", name, got, want, c.HTML)
			}
			Segments(c.Text)
		}
		for _, s := range p.Steps() {
			for _, ch := range s.Channels {
				c, err := p.Render(s.Key, ch, d)
				base, _ := p.Render(s.Key, ch, safe)
				check(s.Key+"/"+string(ch), c, base, err)
			}
		}
		for _, k := range ReplyKinds {
			for _, ch := range []aftercare.Channel{aftercare.SMS, aftercare.Email} {
				if ch == aftercare.Email && k != ReplyRedFlagAlert {
					continue
				}
				c, err := p.RenderReply(k, ch, d)
				base, _ := p.RenderReply(k, ch, safe)
				check(string(k)+"/"+string(ch), c, base, err)
			}
		}
	})
}

func FuzzSegments(f *testing.F) {
	f.Add("hello")
	f.Add(strings.Repeat("{", 81))
	f.Add(strings.Repeat("ж", 66) + "😀")
	f.Add("a\xffb")
	f.Fuzz(func(t *testing.T, s string) {
		n, unicode := Segments(s)
		if (s == "") != (n == 0) {
			t.Fatalf("Segments(%q) = %d", s, n)
		}
		if s == "" {
			return
		}
		units, septets, gsm := 0, 0, true
		for _, r := range s {
			units += max(utf16.RuneLen(r), 1)
			c, ok := gsmCost[r]
			septets += c
			gsm = gsm && ok
		}
		if unicode == gsm {
			t.Fatalf("Segments(%q): unicode %v, but every rune GSM-7 is %v", s, unicode, gsm)
		}
		size, single, length := 153, 160, septets
		if unicode {
			size, single, length = 67, 70, units
		}
		switch {
		case length <= single && n != 1:
			t.Fatalf("Segments(%q) = %d for %d units, want 1", s, n, length)
		case length > single && (n < (length+size-1)/size || n > (length+size-2)/(size-1)+1):
			t.Fatalf("Segments(%q) = %d for %d units, out of bounds", s, n, length)
		}
	})
}

func FuzzParseQuietHours(f *testing.F) {
	f.Add("21:00", "08:00")
	f.Add("9:5", "24:00")
	f.Add("", "-1:-1")
	f.Fuzz(func(t *testing.T, start, end string) {
		q, err := ParseQuietHours(start, end)
		if err != nil {
			return
		}
		if !q.Valid() {
			t.Fatalf("ParseQuietHours(%q, %q) = %v, not valid", start, end, q)
		}
		s, e, _ := strings.Cut(q.String(), "-")
		if q2, err := ParseQuietHours(s, e); err != nil || q2 != q {
			t.Fatalf("round trip of %v: %v, %v", q, q2, err)
		}
	})
}

func FuzzParseTiming(f *testing.F) {
	for _, s := range []string{"0h", "48h", "day 3 at 09:00", "08:30 on days 1-14", "month 6 at 11:00",
		"day 16", "same day at 12:00", "+30d", "+6h", "-1h", "day 999999 at 9:00", "99:99 on days 5-1"} {
		f.Add(s, s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	// Treatment at the start and at the end of the day: the worst cases.
	clocks := []clock{
		{treated: time.Date(2026, 3, 7, 0, 0, 0, 0, ny), loc: ny},
		{treated: time.Date(2026, 3, 7, 23, 59, 59, 0, ny), loc: ny},
	}
	f.Fuzz(func(t *testing.T, at, stale string) {
		a, errA := parseAt(at)
		s, errS := parseStale(stale)
		if errA != nil || errS != nil || checkOrder(a, s) != nil {
			return
		}
		for _, c := range clocks {
			for _, occ := range []int{a.n, a.last} {
				send := c.sendAt(a, occ)
				// A validated order holds, give or take a clock change.
				if st := c.staleAt(s, send); st.Sub(send) <= -time.Hour {
					t.Fatalf("at %q stale %q: stale %v before send %v", at, stale, st, send)
				}
			}
		}
	})
}

// NormalizeSMS is idempotent, leaves no typographic punctuation behind,
// and never changes a letter or digit (names stay as written).
func FuzzNormalizeSMS(f *testing.F) {
	f.Add("O\u2019Brien\u2019s \u201cSkin\u201d \u2013 caf\u00e9\u2026")
	f.Add("Zo\u00eb  \u00a0\u200b\u00adA")
	f.Add("\u0417\u043e\u044f \U0001F600 \u200d x")
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeSMS(s)
		if NormalizeSMS(n) != n {
			t.Errorf("not idempotent: %q -> %q -> %q", s, n, NormalizeSMS(n))
		}
		if strings.ContainsAny(n, "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u202f\u200b\u00ad\t") || strings.Contains(n, "  ") {
			t.Errorf("typographic punctuation or doubled spaces left in %q", n)
		}
		letters := func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) || unicode.IsDigit(r) {
					return r
				}
				return -1
			}, s)
		}
		if letters(n) != letters(s) {
			t.Errorf("letters changed: %q -> %q", s, n)
		}
	})
}
