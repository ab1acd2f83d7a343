package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestEnrollFormLanguage: the enroll form's language select defaults to
// the clinic's default language, refuses a language aftercare does not
// write in next to the field, stores the chosen one on the patient, and
// is prefilled with the patient's language for their next session.
func TestEnrollFormLanguage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	cl := w.clinic
	cl.DefaultLanguage = "es"
	if err := w.store.UpdateClinic(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	page := c.get("/console/enroll")
	if !strings.Contains(page.body, `<option value="es" selected>Español</option>`) || !strings.Contains(page.body, `<option value="en">English</option>`) {
		t.Fatalf("the language select does not default to the clinic's language (es):\n%s", page.body)
	}
	idem := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(page.body)[1]
	form := url.Values{"csrf_token": {csrf}, "idempotency_key": {idem}, "first_name": {"Ana"}, "last_name": {"Diaz"},
		"phone": {"(415) 555-0123"}, "timezone": {"America/New_York"}, "sms_consent": {"1"}, "language": {"fr"},
		"treated_at": {"2026-11-25T14:30"}, "session_number": {"1"}, "series_length": {"3"}, "action": {"save"}}
	bad := c.post("/console/enroll", form)
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, `<p class="error" id="language-error">Language must be one of en, es`) ||
		!strings.Contains(bad.body, `href="#language"`) || !strings.Contains(bad.body, `<option value="fr" selected>fr</option>`) {
		t.Fatalf("unknown language: %d\n%s", bad.status, bad.body)
	}
	if n := len(w.patients(t)); n != 0 {
		t.Fatalf("a refused form stored %d patients", n)
	}
	form.Set("language", "en")
	if ok := c.post("/console/enroll", form); ok.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", ok.status, ok.body)
	}
	ps := w.patients(t)
	if len(ps) != 1 || ps[0].Language != "en" {
		t.Fatalf("patients %+v, want one written to in en", ps)
	}
	next := c.get("/console/enroll?patient=" + itoa(ps[0].ID))
	if !strings.Contains(next.body, `<option value="en" selected>English</option>`) || strings.Contains(next.body, `<option value="es" selected>`) {
		t.Fatal("the next session's form is not prefilled with the patient's language")
	}
}
