package enroll

import (
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
)

// Seeds live in testdata/fuzz/<FuzzName>/ too; these are the small ones.

// fieldErr fails t unless err is an EINVALID *aftercare.Error naming field.
func fieldErr(t *testing.T, err error, field string) {
	t.Helper()
	var e *aftercare.Error
	if !errors.As(err, &e) || e.Code != aftercare.EINVALID || e.Field != field {
		t.Fatalf("error %v (%T) is not an invalid-%s error", err, err, field)
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+14155550123", "(415) 555-0123", "4155550123", "+44 7911 123456", "++14155550123", "+1 800 555 0123",
		"+44 20 7183 8750", "１２３", "+1 415 CALL NOW", "", "+", "0", "+999999999999999999"} {
		f.Add(s, "US")
	}
	f.Add("07911 123456", "GB")
	f.Add("0412 345 678", "AU")
	f.Add("4155550123", "ZZ")
	f.Add("4155550123", "")
	f.Fuzz(func(t *testing.T, s, region string) {
		out, err := NormalizePhone(s, region)
		if err != nil {
			fieldErr(t, err, "phone")
			return
		}
		if !e164.MatchString(out) {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", s, region, out)
		}
		// E.164 in, the same E.164 out, whatever the region.
		again, err := NormalizePhone(out, "GB")
		if err != nil || again != out {
			t.Fatalf("NormalizePhone(%q) = %q, %v; not idempotent", out, again, err)
		}
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ana@example.com", "Ana.Diaz+care@Example.COM", " ana@example.com ", "o'reilly@example.com",
		"anä@exämple.com", "Ana <ana@example.com>", "ana@127.0.0.1", "ana@-x.com", "ana\u202e@example.com", "ana@example.com\r\nBcc: x@y.z",
		`"a b"@example.com`, "ana(c)@example.com", "ana@[127.0.0.1]", "a@b.c", "", "@", "ana@K.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeEmail(s)
		if err != nil {
			fieldErr(t, err, "email")
			return
		}
		if strings.TrimSpace(s) == "" {
			if out != "" {
				t.Fatalf("NormalizeEmail(%q) = %q, want empty", s, out)
			}
			return
		}
		if len(out) > 254 || !utf8.ValidString(out) || strings.ContainsFunc(out, func(r rune) bool { return r == ' ' || invisible(r) }) {
			t.Fatalf("NormalizeEmail(%q) = %q: too long, invalid or invisible characters", s, out)
		}
		if a, err := mail.ParseAddress(out); err != nil || a.Address != out || a.Name != "" {
			t.Fatalf("NormalizeEmail(%q) = %q, which net/mail reads as %v, %v", s, out, a, err)
		}
		domain := out[strings.LastIndexByte(out, '@')+1:]
		if domain != strings.ToLower(domain) || !strings.Contains(domain, ".") {
			t.Fatalf("NormalizeEmail(%q) = %q: domain not normalized", s, out)
		}
		if again, err := NormalizeEmail(out); err != nil || again != out {
			t.Fatalf("NormalizeEmail(%q) = %q, %v; not idempotent", out, again, err)
		}
	})
}

func FuzzValidTimezone(f *testing.F) {
	for _, s := range []string{"America/New_York", "UTC", "Europe/London", "Local", "", "../../../../etc/passwd", "/etc/localtime",
		"America/New_York\x00", `UTC\`, "EST5EDT", "Etc/GMT+5", "america/new_york", "Mars/Olympus", "zoneinfo.zip"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tz string) {
		err := ValidTimezone(tz)
		if err != nil {
			fieldErr(t, err, "timezone")
			return
		}
		if tz == "" || tz == "Local" || strings.Contains(tz, "..") || strings.HasPrefix(tz, "/") || strings.Contains(tz, `\`) {
			t.Fatalf("ValidTimezone(%q) accepted it", tz)
		}
		if _, err := time.LoadLocation(tz); err != nil {
			t.Fatalf("ValidTimezone(%q) accepted a zone LoadLocation refuses: %v", tz, err)
		}
	})
}

func FuzzTreatedAt(f *testing.F) {
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC).Unix()
	for _, s := range []string{"2026-11-25T14:30:00-05:00", "2026-11-25T14:30:00Z", "2026-11-25T14:30:00.123456789+05:45", "",
		"2026-11-25T14:30:00", "2026-11-25T14:30:00+24:00", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2026-02-30T10:00:00Z",
		"2026-06-30T23:59:60Z", "+275760-09-13T00:00:00Z", "yesterday"} {
		f.Add(s, now)
	}
	f.Fuzz(func(t *testing.T, s string, nowUnix int64) {
		// Keep "now" within years 1-9999, where RFC 3339 can name it.
		const span = 3000 * 365 * 24 * 3600
		n := time.Unix(nowUnix%span, 0).UTC()
		if n.Year() < 1 {
			n = n.AddDate(2000, 0, 0)
		}
		got, err := TreatedAt(s, n)
		if err != nil {
			fieldErr(t, err, "treated_at")
			return
		}
		if got.After(n.Add(MaxFuture)) || got.Before(n.Add(-MaxPast)) {
			t.Fatalf("TreatedAt(%q) at %s = %s, outside the window", s, n, got)
		}
		if _, off := got.Zone(); off <= -24*3600 || off >= 24*3600 {
			t.Fatalf("TreatedAt(%q) = %s: offset %ds", s, got, off)
		}
		// What was accepted reads back the same.
		back, err := time.Parse(time.RFC3339Nano, got.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(got) {
			t.Fatalf("TreatedAt(%q) = %s, which formats and parses back as %s, %v", s, got, back, err)
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add("Ana", "Diaz", "+14155550123", "ana@example.com", "America/New_York", "microneedling", "2026-11-25T09:30:00-05:00", "visit-1", "front_desk", 1, 3, true, true)
	f.Add("علی\u200cرضا", "👨\u200d👩\u200d👧", "(415) 555-0123", "", "", "", "", "", "", 2, 2, true, false)
	f.Add("Ana\u202e", "<script>", "4155550123", "anä@exämple.com", "Local", "Botox", "2026-11-25T14:30:00", "ref\x00", "telepathy", 0, 21, false, false)
	f.Add("Z"+strings.Repeat("\u0301", 5), "\u200dx", "+447911123456", "x@y.z", "Europe/London", "MICRONEEDLING", "", "\ufffd", "api", 3, 3, false, true)
	clinic := aftercare.Clinic{ID: 1, Phone: "+14155550100", Timezone: "America/New_York"}
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, first, last, phone, email, tz, treatment, treatedAt, ref, method string, session, series int, sms, em bool) {
		req := Request{FirstName: first, LastName: last, Phone: phone, Email: email, Timezone: tz, SMSConsent: sms, EmailConsent: em,
			ConsentMethod: aftercare.ConsentMethod(method), Treatment: treatment, TreatedAt: treatedAt, SessionNumber: session,
			SeriesLength: series, ExternalRef: ref}
		v, err := Validate(clinic, req, []string{"microneedling"}, now)
		if err != nil {
			var e *aftercare.Error
			if !errors.As(err, &e) || e.Code != aftercare.EINVALID || e.Field == "" {
				t.Fatalf("Validate: %v is not an invalid-field error", err)
			}
			// Every problem is reported, each naming its field.
			all := aftercare.AllErrors(err)
			if len(all) == 0 || all[0] != e {
				t.Fatalf("Validate: AllErrors(%v) = %v, not led by the first error", err, all)
			}
			for _, e := range all {
				if e.Code != aftercare.EINVALID || e.Field == "" {
					t.Fatalf("Validate: %v is not an invalid-field error", e)
				}
			}
			return
		}
		p := v.Patient
		for _, n := range []string{p.FirstName, p.LastName} {
			if n != strings.Join(strings.Fields(n), " ") || utf8.RuneCountInString(n) > maxName || nameRunes("name", []rune(n)) != nil {
				t.Fatalf("accepted name %q", n)
			}
		}
		if p.FirstName == "" || (p.Phone != "" && !e164.MatchString(p.Phone)) || (sms && p.Phone == "") || (em && p.Email == "") ||
			(p.Phone == "" && p.Email == "") || len(v.Consents) == 0 {
			t.Fatalf("accepted %+v with consents %v", p, v.Consents)
		}
		if !(sms || em) || session < 1 || session > series || series > 20 {
			t.Fatalf("accepted session %d of %d, sms %v email %v", session, series, sms, em)
		}
		if len(v.Enrollment.ExternalRef) > maxRef || strings.ContainsFunc(v.Enrollment.ExternalRef, invisible) {
			t.Fatalf("accepted external_ref %q", v.Enrollment.ExternalRef)
		}
		// Validation is a pure function of the request.
		v2, err := Validate(clinic, req, []string{"microneedling"}, now)
		if err != nil || v2.Hash != v.Hash || len(v.Hash) != 64 {
			t.Fatalf("Validate is not deterministic: %q vs %q, %v", v.Hash, v2.Hash, err)
		}
	})
}
