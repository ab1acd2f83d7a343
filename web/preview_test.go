package web_test

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

// The console's plan preview says when an enrollment is late and what will
// be skipped and why, and counts segments per text and per plan; the
// enroll form and the patient page show the consent wording.
func TestEnrollPreviewLateSegmentsAndConsentWording(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	page := c.get("/console/enroll")
	cur, _ := aftercare.ConsentWordingFor(aftercare.ConsentWordingVersion)
	for _, words := range []string{cur.Intro, cur.SMS, cur.Email, "version " + cur.Version} {
		if !strings.Contains(html.UnescapeString(page.body), words) {
			t.Errorf("enroll form lacks the consent words %q", words)
		}
	}
	idem := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(page.body)[1]
	form := url.Values{"csrf_token": {csrf}, "idempotency_key": {idem}, "first_name": {"Ana"}, "last_name": {"Diaz"},
		"phone": {"(415) 555-0123"}, "email": {"ana@example.com"}, "timezone": {"America/New_York"}, "sms_consent": {"1"},
		"email_consent": {"1"}, "treated_at": {"2026-11-24T08:35"}, "session_number": {"1"}, "series_length": {"3"},
		"action": {"preview"}} // 30 hours before the console's clock
	prev := c.post("/console/enroll", form)
	body := html.UnescapeString(prev.body)
	if prev.status != 200 || !strings.Contains(body, `id="late-warning"`) ||
		!strings.Contains(body, "Late enrollment: the treatment was 30 hours ago") ||
		!strings.Contains(body, "The first text is a late start") ||
		!strings.Contains(body, "welcome and the first 24 hours (text)") {
		t.Errorf("late preview does not say it is late and what is skipped (%d):\n%s", prev.status, section(body, "plan-heading"))
	}
	m := regexp.MustCompile(`To be sent: (\d+) texts \((\d+) SMS segments\) and (\d+) emails`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no plan cost in preview:\n%s", section(body, "plan-heading"))
	}
	perText := regexp.MustCompile(`<div class="segments">(\d) segments?</div>`).FindAllStringSubmatch(body, -1)
	if len(perText) < 15 {
		t.Errorf("%d texts show their segments", len(perText))
	}

	// On time: no late warning.
	form.Set("treated_at", "2026-11-25T14:30")
	if p := c.post("/console/enroll", form); strings.Contains(p.body, `id="late-warning"`) || !strings.Contains(p.body, "To be sent: ") {
		t.Errorf("on-time preview: late warning shown or no cost:\n%s", section(p.body, "plan-heading"))
	}

	// The patient page shows what the patient agreed to.
	v := w.enrollPatient(w.clinic, "Bea", "+14155550124")
	pp := c.get("/console/patients/" + itoa(v.Patient.ID))
	if !strings.Contains(html.UnescapeString(pp.body), cur.SMS) || !strings.Contains(pp.body, cur.Version) {
		t.Errorf("patient page lacks the consent wording (%d)", pp.status)
	}
}

// section returns the page from an element id on, for failure messages.
func section(body, id string) string {
	if i := strings.Index(body, id); i >= 0 {
		return body[i:min(len(body), i+3000)]
	}
	return body
}
