package enroll

import (
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

var (
	testClinic = aftercare.Clinic{ID: 1, Phone: "+14155550100", Timezone: "America/New_York"}
	testNow    = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
)

func goodRequest() Request {
	return Request{FirstName: "Ana", Phone: "+14155550123", Email: "ana@example.com", Timezone: "America/Chicago",
		SMSConsent: true, EmailConsent: true, SessionNumber: 1, SeriesLength: 3}
}

// TestValidateReportsEveryField: a request with many mistakes gets them all
// at once, in form order, each naming its field; the first is what
// ErrorMessage reads.
func TestValidateReportsEveryField(t *testing.T) {
	req := Request{FirstName: " ", Phone: "12", Email: "ana@", Timezone: "EST", SMSConsent: true, EmailConsent: true,
		Treatment: "botox", TreatedAt: "yesterday", SessionNumber: 4, SeriesLength: 3, ConsentMethod: "telepathy"}
	_, err := Validate(testClinic, req, []string{"microneedling"}, testNow)
	var fields []string
	for _, e := range aftercare.AllErrors(err) {
		fields = append(fields, e.Field)
	}
	want := "first_name phone email timezone treatment treated_at session_number consent_method"
	if got := strings.Join(fields, " "); got != want {
		t.Fatalf("fields %q, want %q (err %v)", got, want, err)
	}
	if aftercare.ErrorCode(err) != aftercare.EINVALID || aftercare.ErrorMessage(err) != "first_name: required" {
		t.Fatalf("first error: %s %q", aftercare.ErrorCode(err), aftercare.ErrorMessage(err))
	}
}

// TestOneReachableChannel: a patient reached by email only (no phone, no
// text consent) and one reached by text only (no email) are enrolled; one
// with no channel they consented to and can be reached on is not.
func TestOneReachableChannel(t *testing.T) {
	for _, tc := range []struct {
		name          string
		phone, email  string
		sms, em       bool
		field         string // "" = accepted
		wantConsented []aftercare.Channel
	}{
		{"email only", "", "ana@example.com", false, true, "", []aftercare.Channel{aftercare.Email}},
		{"text only", "+14155550123", "", true, false, "", []aftercare.Channel{aftercare.SMS}},
		{"phone kept, email consent only", "+14155550123", "ana@example.com", false, true, "", []aftercare.Channel{aftercare.Email}},
		{"text consent without a phone", "", "ana@example.com", true, true, "phone", nil},
		{"email consent without an address", "+14155550123", "", true, true, "email", nil},
		{"no consent", "+14155550123", "ana@example.com", false, false, "sms_consent", nil},
		{"nothing to reach", "", "", false, false, "sms_consent", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := goodRequest()
			req.Phone, req.Email, req.SMSConsent, req.EmailConsent = tc.phone, tc.email, tc.sms, tc.em
			v, err := Validate(testClinic, req, []string{"microneedling"}, testNow)
			if tc.field != "" {
				fieldErr(t, err, tc.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var granted []aftercare.Channel
			for _, c := range v.Consents {
				if c.Granted {
					granted = append(granted, c.Channel)
				}
			}
			if len(granted) != len(tc.wantConsented) || granted[0] != tc.wantConsented[0] {
				t.Fatalf("consents %+v, want granted %v", v.Consents, tc.wantConsented)
			}
			if v.Patient.Phone != tc.phone && !(tc.phone != "" && v.Patient.Phone != "") {
				t.Fatalf("phone %q", v.Patient.Phone)
			}
		})
	}
}

// TestFixedOffsetZonesRefused: zones that ignore daylight saving time are
// refused with the zone the clinic most likely means; UTC is refused for
// patients with the clinic's zone suggested.
func TestFixedOffsetZonesRefused(t *testing.T) {
	for tz, suggest := range map[string]string{
		"EST": "America/New_York", "EST5EDT": "America/New_York", "PST": "America/Los_Angeles", "PST8PDT": "America/Los_Angeles",
		"MST": "America/Phoenix", "HST": "Pacific/Honolulu", "CST6CDT": "America/Chicago", "UTC-5": "America/New_York",
		"GMT-8": "America/Los_Angeles", "Etc/GMT+5": "America/New_York", "-05:00": "America/New_York", "Etc/GMT-1": "Europe/Paris",
		"UTC": "America/New_York", "Etc/UTC": "America/New_York", "GMT": "America/New_York", "Japan": "Asia/Tokyo",
		"Etc/GMT+13": "city",
	} {
		req := goodRequest()
		req.Timezone = tz
		_, err := Validate(testClinic, req, []string{"microneedling"}, testNow)
		fieldErr(t, err, "timezone")
		if msg := aftercare.ErrorMessage(err); !strings.Contains(msg, suggest) {
			t.Errorf("%s: %q does not suggest %s", tz, msg, suggest)
		}
	}
	for _, tz := range []string{"America/New_York", "America/Phoenix", "Europe/London", "Asia/Kolkata", "America/Argentina/Buenos_Aires"} {
		req := goodRequest()
		req.Timezone = tz
		if _, err := Validate(testClinic, req, []string{"microneedling"}, testNow); err != nil {
			t.Errorf("%s refused: %v", tz, err)
		}
	}
	// A clinic set up in UTC cannot lend its zone to a patient.
	req := goodRequest()
	req.Timezone = ""
	utcClinic := testClinic
	utcClinic.Timezone = "UTC"
	_, err := Validate(utcClinic, req, []string{"microneedling"}, testNow)
	fieldErr(t, err, "timezone")
}

// TestEmailTypoWarning: an address at a misspelled common provider is
// accepted with a warning that suggests the fix; a real domain is not
// "corrected".
func TestEmailTypoWarning(t *testing.T) {
	for email, want := range map[string]string{
		"ana@gmial.con": "ana@gmail.com", "Ana.Diaz@hotmial.com": "Ana.Diaz@hotmail.com", "ana@yaho.com": "ana@yahoo.com",
		"ana@gmail.co": "ana@gmail.com", "ana@gmai.com": "ana@gmail.com", "ana@outlok.com": "ana@outlook.com",
		"ana@clinic-example.con": "ana@clinic-example.com",
		"ana@gmail.com":          "", "ana@mail.com": "", "ana@me.com": "", "ana@example.com": "", "ana@ymail.com": "", "": "",
	} {
		req := goodRequest()
		req.Email, req.EmailConsent = email, email != ""
		if _, err := Validate(testClinic, req, []string{"microneedling"}, testNow); err != nil {
			t.Fatalf("%s refused: %v", email, err)
		}
		ws := Warnings(req)
		switch {
		case want == "" && len(ws) != 0:
			t.Errorf("%s: unexpected warnings %+v", email, ws)
		case want != "" && (len(ws) != 1 || ws[0].Field != "email" || ws[0].Suggestion != want || !strings.Contains(ws[0].Message, want)):
			t.Errorf("%s: warnings %+v, want a suggestion of %s", email, ws, want)
		}
	}
}

func TestDisplayPhone(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"+14155550100", "+1 415-555-0100"},
		{"+34912345678", "+34 912 34 56 78"},
		{"not a number", "not a number"},
	} {
		if got := DisplayPhone(c.in); got != c.want {
			t.Errorf("DisplayPhone(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
