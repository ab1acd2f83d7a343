package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// enrollForm returns a filled enroll form of a fresh page (its own
// idempotency key) for Ana, session 1.
func enrollFormValues(t *testing.T, c *client, csrf string) url.Values {
	t.Helper()
	idem := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(c.get("/console/enroll").body)[1]
	return url.Values{"csrf_token": {csrf}, "idempotency_key": {idem}, "first_name": {"Ana"}, "last_name": {"Test"},
		"phone": {"+14155550123"}, "email": {"ana@example.com"}, "timezone": {"America/New_York"}, "sms_consent": {"1"},
		"email_consent": {"1"}, "treated_at": {"2026-11-25T14:30"}, "session_number": {"1"}, "series_length": {"3"},
		"action": {"save"}}
}

// TestEnrollFormShowsEveryErrorAtOnce: a form with several mistakes shows
// each next to its field, and the summary lists them all.
func TestEnrollFormShowsEveryErrorAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	form := enrollFormValues(t, c, csrf)
	form.Set("first_name", "")
	form.Set("phone", "415 555 012")
	form.Set("email", "ana@")
	form.Set("timezone", "EST")
	form.Set("series_length", "0")
	p := c.post("/console/enroll", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.status)
	}
	for _, want := range []string{
		`<p class="error" id="first_name-error">First name is required.`,
		`<p class="error" id="phone-error">Mobile phone is not a valid number`,
		`<p class="error" id="email-error">Email is not a plain email address`,
		`<p class="error" id="timezone-error">&#34;EST&#34; is a fixed-offset or legacy zone that ignores daylight saving time; did you mean America/New_York?`,
		`<p class="error" id="series_length-error">Series length must be between 1 and 20`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("missing %s", want)
		}
	}
	if n := strings.Count(p.body, `<li><a href="#`); n != 5 {
		t.Errorf("the summary lists %d errors, want 5", n)
	}
	if n := len(w.patients(t)); n != 0 {
		t.Errorf("%d patients stored by an invalid form", n)
	}
}

// TestEnrollFormDuplicateOffersViewOrReplace: enrolling a patient again for
// the session they are enrolled in (a new form: not a double submit)
// answers 409 with links to view the existing enrollment or replace it;
// replacing cancels the first one's pending messages.
func TestEnrollFormDuplicateOffersViewOrReplace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	existing := w.enrollPatient(w.clinic, "Ana", "+14155550123")
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	form := enrollFormValues(t, c, csrf)
	p := c.post("/console/enroll", form)
	view := `href="/console/enrollments/` + itoa(existing.Enrollment.ID) + `" id="duplicate-view"`
	if p.status != http.StatusConflict || !strings.Contains(p.body, view) ||
		!strings.Contains(p.body, `name="action" value="replace" id="duplicate-replace"`) {
		t.Fatalf("duplicate: %d\n%s", p.status, p.body)
	}
	if es, _ := w.store.Enrollments(context.Background(), w.clinic.ID, existing.Patient.ID); len(es) != 1 {
		t.Fatalf("%d enrollments after a refused duplicate", len(es))
	}
	form.Set("action", "replace")
	p = c.post("/console/enroll", form)
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.header.Get("Location"), "?done=saved") {
		t.Fatalf("replace: %d %s", p.status, p.header.Get("Location"))
	}
	old, err := w.store.Enrollment(context.Background(), w.clinic.ID, existing.Enrollment.ID)
	if err != nil || !old.Enrollment.Cancelled {
		t.Fatalf("replaced enrollment: cancelled %v, %v", old.Enrollment.Cancelled, err)
	}
}

// TestEnrollErrorsAndDuplicateInBrowser: in Chromium, every mistake of a
// form shows at once next to its field, an email typo shows a suggestion
// without stopping the form, and a duplicate offers view or replace; the
// replace button replaces.
func TestEnrollErrorsAndDuplicateInBrowser(t *testing.T) {
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "frontdesk@glow.example")
	existing := w.enrollPatient(w.clinic, "Ana", "+14155550123")
	ctx, _ := newBrowser(t)

	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "frontdesk@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	navigate(t, ctx, w.url+"/console/enroll")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("phone"), "415 555 012"),
		chromedp.SendKeys(chromedp.ID("email"), "ana@gmial.con"),
		chromedp.SetValue(chromedp.ID("timezone"), "PST"),
		chromedp.Click(chromedp.ID("sms_consent")),
	)
	if s := click(t, ctx, "#save"); s != 422 {
		t.Fatalf("bad form: status %d, want 422", s)
	}
	for sel, want := range map[string]string{
		"#first_name-error": "First name is required",
		"#phone-error":      "Mobile phone is not a valid number",
		"#timezone-error":   "did you mean America/Los_Angeles?",
		"#email-warning":    "Did you mean ana@gmail.com?",
	} {
		if got := text(t, ctx, chromedp.CSS(sel)); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".error-summary li").length`)); n != 3 {
		t.Errorf("summary lists %d errors, want 3", n)
	}
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("first_name"), "Ana"),
		chromedp.SetValue(chromedp.ID("phone"), "+1 415 555 0123"),
		chromedp.SetValue(chromedp.ID("email"), "ana@example.com"),
		chromedp.SetValue(chromedp.ID("timezone"), "America/New_York"),
	)
	if s := click(t, ctx, "#save"); s != 409 {
		t.Fatalf("duplicate: status %d, want 409", s)
	}
	href := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("duplicate-view").getAttribute("href")`))
	if href != "/console/enrollments/"+itoa(existing.Enrollment.ID) {
		t.Errorf("view link %q", href)
	}
	if s := click(t, ctx, "#duplicate-replace"); s != 200 {
		t.Fatalf("replace: status %d", s)
	}
	if loc := run(t, ctx, chromedp.Location()); !strings.Contains(loc, "/console/enrollments/") || strings.Contains(loc, "/"+itoa(existing.Enrollment.ID)+"?") {
		t.Errorf("after replace at %s", loc)
	}
	old, err := w.store.Enrollment(context.Background(), w.clinic.ID, existing.Enrollment.ID)
	if err != nil || !old.Enrollment.Cancelled {
		t.Fatalf("replaced enrollment: cancelled %v, %v", old.Enrollment.Cancelled, err)
	}
}
