package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func cookieNamed(h http.Header, name string) *http.Cookie {
	for _, line := range h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignInWrongPasswordAndSignOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()

	login := c.get("/console/login")
	if login.status != 200 || !strings.Contains(login.body, `<label for="password">`) {
		t.Fatalf("login page: %d", login.status)
	}
	tok := login.csrf(t)
	bad := c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {"staff@glow.example"}, "password": {"wrong password!"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "do not match an account") ||
		cookieNamed(bad.header, "aftercare_session") != nil {
		t.Fatalf("wrong password: %d %v", bad.status, bad.header.Values("Set-Cookie"))
	}
	if !strings.Contains(bad.body, `value="staff@glow.example"`) {
		t.Error("the email typed is not kept after a wrong password")
	}
	unknown := c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {"nobody@glow.example"}, "password": {password}})
	if unknown.status != http.StatusUnauthorized {
		t.Errorf("unknown email: %d", unknown.status)
	}

	ok := c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {"Staff@Glow.example"}, "password": {password}})
	if ok.status != http.StatusSeeOther || ok.header.Get("Location") != "/console/enroll" {
		t.Fatalf("sign in: %d %s", ok.status, ok.header.Get("Location"))
	}
	ck := cookieNamed(ok.header, "aftercare_session")
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.MaxAge != 12*3600 || len(ck.Value) < 40 {
		t.Fatalf("session cookie = %+v", ck)
	}
	patients := c.get("/console/patients")
	if patients.status != 200 || !strings.Contains(patients.body, "Glow Skin Clinic") || !strings.Contains(patients.body, "staff@glow.example") {
		t.Fatalf("patients page after sign in: %d", patients.status)
	}
	if h := patients.header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'none'") || patients.header.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers: CSP %q cache %q", h, patients.header.Get("Cache-Control"))
	}

	if p := c.post("/console/logout", nil); p.status != http.StatusForbidden {
		t.Errorf("sign-out without CSRF token: %d, want 403", p.status)
	}
	out := c.post("/console/logout", url.Values{"csrf_token": {patients.csrf(t)}})
	if out.status != http.StatusSeeOther || !strings.HasPrefix(out.header.Get("Location"), "/console/login") {
		t.Fatalf("sign out: %d %s", out.status, out.header.Get("Location"))
	}
	after := c.get("/console/patients?q=ana")
	if after.status != http.StatusSeeOther || after.header.Get("Location") != "/console/login?next=%2Fconsole%2Fpatients%3Fq%3Dana" {
		t.Errorf("after sign out: %d %s", after.status, after.header.Get("Location"))
	}
	// The old cookie value is dead even if replayed.
	replay := w.client()
	u, _ := url.Parse(w.url)
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "aftercare_session", Value: ck.Value}})
	if p := replay.get("/console/patients"); p.status != http.StatusSeeOther {
		t.Errorf("replayed session after sign out: %d", p.status)
	}
}

func TestSecureCookiesOverHTTPS(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{secure: true})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	login := c.get("/console/login")
	lc := cookieNamed(login.header, "__Host-aftercare_login")
	if lc == nil || !lc.Secure || !lc.HttpOnly || lc.Path != "/" {
		t.Fatalf("login cookie = %+v", lc)
	}
	// The jar will not send a Secure cookie over http, so post it by hand.
	req, _ := http.NewRequest("POST", w.url+"/console/login", strings.NewReader(url.Values{"csrf_token": {lc.Value},
		"email": {"staff@glow.example"}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(lc)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := read(t, resp)
	ck := cookieNamed(p.header, "__Host-aftercare_session")
	if p.status != http.StatusSeeOther || ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("secure sign in: %d cookie %+v", p.status, ck)
	}
}

func TestSignInBacksOffPerAccountWithoutLockingOutColleagues(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{burst: 3})
	w.addUser(w.clinic.ID, "staff@glow.example")
	w.addUser(w.clinic.ID, "other@glow.example")
	c := w.client()
	tok := c.get("/console/login").csrf(t)
	try := func(email, pw string) int {
		return c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {email}, "password": {pw}}).status
	}
	for i := 0; i < 3; i++ {
		if s := try("staff@glow.example", "guess number "+itoa(int64(i))); s != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, s)
		}
	}
	if s := try("staff@glow.example", password); s != http.StatusTooManyRequests {
		t.Errorf("4th attempt (right password) = %d, want 429", s)
	}
	// Still refused while the clock stands still; a colleague is not locked out.
	if s := try("STAFF@glow.example", password); s != http.StatusTooManyRequests {
		t.Errorf("same email, other case = %d, want 429", s)
	}
	if s := try("other@glow.example", password); s != http.StatusSeeOther {
		t.Errorf("another email from the same IP = %d, want 303", s)
	}
	// A minute later one more attempt is allowed (from a fresh browser: this
	// one is signed in as the colleague now).
	w.clock.Set(start.Add(61e9))
	c = w.client()
	tok = c.get("/console/login").csrf(t)
	if s := try("staff@glow.example", password); s != http.StatusSeeOther {
		t.Errorf("after a minute = %d, want 303", s)
	}
}

func TestSignInFormNeedsItsCSRFToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	c.get("/console/login") // sets the login cookie
	p := c.post("/console/login", url.Values{"email": {"staff@glow.example"}, "password": {password}})
	if p.status != http.StatusForbidden || cookieNamed(p.header, "aftercare_session") != nil {
		t.Errorf("sign in without token: %d", p.status)
	}
	p = c.post("/console/login", url.Values{"csrf_token": {"forged-forged-forged-forged-forged-forged"}, "email": {"staff@glow.example"}, "password": {password}})
	if p.status != http.StatusForbidden {
		t.Errorf("sign in with a forged token: %d", p.status)
	}
}

func TestSignInRedirectsOnlyWithinTheConsole(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	for next, want := range map[string]string{
		"/console/log?status=failed": "/console/log?status=failed",
		"//evil.example/console/":    "/console/enroll",
		"https://evil.example/":      "/console/enroll",
		"/console/\\evil":            "/console/enroll",
		"/other":                     "/console/enroll",
	} {
		c := w.client()
		tok := c.get("/console/login").csrf(t)
		p := c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {"staff@glow.example"}, "password": {password}, "next": {next}})
		if got := p.header.Get("Location"); got != want {
			t.Errorf("next=%q: redirected to %q, want %q", next, got, want)
		}
	}
}

func TestUsersWithOneEmailAtTwoClinicsChooseTheClinic(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "owner@chain.example")
	w.addUser(w.other.ID, "owner@chain.example")
	c := w.client()
	tok := c.get("/console/login").csrf(t)
	p := c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {"owner@chain.example"}, "password": {password}})
	if p.status != 200 || !strings.Contains(p.body, `<select id="clinic" name="clinic">`) || !strings.Contains(p.body, "Other Clinic") {
		t.Fatalf("chooser: %d", p.status)
	}
	p = c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {"owner@chain.example"}, "password": {password},
		"clinic": {itoa(w.other.ID)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("chosen clinic: %d", p.status)
	}
	if pg := c.get("/console/patients"); !strings.Contains(pg.body, "Other Clinic") {
		t.Error("signed in to the wrong clinic")
	}
}

// Every form post is refused without the session's CSRF token, and refused
// means nothing changed.
func TestFormPostsWithoutCSRFTokenAreRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	v := w.enrollPatient(w.clinic, "Ana", "+14155550123")
	c := w.client()
	good := c.signIn("staff@glow.example")
	for _, path := range []string{
		"/console/enrollments/" + itoa(v.Enrollment.ID) + "/cancel",
		"/console/messages/" + itoa(v.Messages[0].ID) + "/resend",
		"/console/enroll",
		"/console/logout",
	} {
		for name, form := range map[string]url.Values{
			"missing": {"first_name": {"Eve"}, "action": {"save"}},
			"wrong":   {"csrf_token": {good + "x"}, "first_name": {"Eve"}, "action": {"save"}},
		} {
			if p := c.post(path, form); p.status != http.StatusForbidden || !strings.Contains(p.body, "Refused") {
				t.Errorf("POST %s with %s token: %d", path, name, p.status)
			}
		}
	}
	got, err := w.store.Enrollment(context.Background(), w.clinic.ID, v.Enrollment.ID)
	if err != nil || got.Enrollment.Cancelled {
		t.Errorf("enrollment changed by refused posts: %v %v", got.Enrollment.Cancelled, err)
	}
	if p := c.get("/console/patients"); p.status != 200 {
		t.Errorf("session lost after refused posts: %d", p.status)
	}
	// A post from a browser that is not signed in at all is 401.
	if p := w.client().post("/console/enrollments/"+itoa(v.Enrollment.ID)+"/cancel", url.Values{"csrf_token": {good}}); p.status != http.StatusUnauthorized {
		t.Errorf("post without a session: %d", p.status)
	}
}

func TestStaffSeeOnlyTheirClinic(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	mine := w.enrollPatient(w.clinic, "Ana", "+14155550123")
	theirs := w.enrollPatient(w.other, "Bob", "+14155550124")
	c := w.client()
	csrf := c.signIn("staff@glow.example")

	if p := c.get("/console/patients/" + itoa(mine.Patient.ID)); p.status != 200 || !strings.Contains(p.body, "Ana Test") {
		t.Errorf("own patient: %d", p.status)
	}
	for _, path := range []string{
		"/console/patients/" + itoa(theirs.Patient.ID),
		"/console/enrollments/" + itoa(theirs.Enrollment.ID),
		"/console/enroll?patient=" + itoa(theirs.Patient.ID),
		"/console/patients/99999",
		"/console/patients/abc",
	} {
		p := c.get(path)
		if p.status != http.StatusNotFound || strings.Contains(p.body, "Bob Test") {
			t.Errorf("GET %s: %d", path, p.status)
		}
	}
	for _, path := range []string{
		"/console/enrollments/" + itoa(theirs.Enrollment.ID) + "/cancel",
		"/console/messages/" + itoa(theirs.Messages[0].ID) + "/resend",
	} {
		if p := c.post(path, url.Values{"csrf_token": {csrf}}); p.status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, p.status)
		}
	}
	if v, _ := w.store.Enrollment(context.Background(), w.other.ID, theirs.Enrollment.ID); v.Enrollment.Cancelled {
		t.Error("another clinic's enrollment was cancelled")
	}
	if p := c.get("/console/patients?q=Bob"); strings.Contains(p.body, "Bob Test") && !strings.Contains(p.body, "No patient matches") {
		t.Error("search shows another clinic's patient")
	}
	if p := c.get("/console/patients?q=555-0124"); strings.Contains(p.body, "/console/patients/"+itoa(theirs.Patient.ID)) {
		t.Error("phone search shows another clinic's patient")
	}
	if p := c.get("/console/log"); strings.Contains(p.body, "Bob Test") || !strings.Contains(p.body, "Ana Test") {
		t.Error("delivery log mixes clinics")
	}
}

var fieldValue = func(name string) *regexp.Regexp {
	return regexp.MustCompile(`name="` + name + `" type="[a-z-]+" value="([^"]*)"`)
}

func TestEnrollFormKeepsInputAndShowsErrorsByTheField(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	form := c.get("/console/enroll")
	if !strings.Contains(form.body, `value="America/New_York"`) || !strings.Contains(form.body, `value="2026-11-25T14:35"`) {
		t.Error("enroll form does not default to the clinic's zone and now")
	}
	idem := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(form.body)[1]
	base := url.Values{"csrf_token": {csrf}, "idempotency_key": {idem}, "first_name": {"<b>Ana</b>"}, "last_name": {"Díaz"},
		"phone": {"415 555 012"}, "email": {"ana@example.com"}, "timezone": {"America/New_York"}, "sms_consent": {"1"},
		"treated_at": {"2026-11-25T14:30"}, "session_number": {"1"}, "series_length": {"3"}, "action": {"save"}}
	p := c.post("/console/enroll", base)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad phone: %d", p.status)
	}
	if !strings.Contains(p.body, `<p class="error" id="phone-error">Mobile phone is not a valid number`) ||
		!strings.Contains(p.body, `aria-invalid="true" aria-describedby="phone-error phone-hint"`) {
		t.Errorf("no error next to the phone field:\n%s", p.body)
	}
	for name, want := range map[string]string{"first_name": "&lt;b&gt;Ana&lt;/b&gt;", "last_name": "Díaz", "phone": "415 555 012",
		"email": "ana@example.com", "treated_at": "2026-11-25T14:30", "series_length": "3"} {
		if m := fieldValue(name).FindStringSubmatch(p.body); m == nil || m[1] != want {
			t.Errorf("field %s kept as %v, want %q", name, m, want)
		}
	}
	if strings.Contains(p.body, "<b>Ana</b>") {
		t.Error("a typed name is not escaped")
	}
	if !strings.Contains(p.body, `id="sms_consent" name="sms_consent" value="1" checked`) || strings.Contains(p.body, `id="email_consent" name="email_consent" value="1" checked`) {
		t.Error("consent checkboxes not kept")
	}

	noConsent := cloneValues(base)
	noConsent.Set("phone", "+14155550123")
	noConsent.Del("sms_consent")
	noConsent.Set("session_number", "x")
	p = c.post("/console/enroll", noConsent)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Session number must be a whole number.") {
		t.Errorf("bad session number: %d", p.status)
	}
	noConsent.Set("session_number", "1")
	p = c.post("/console/enroll", noConsent)
	if !strings.Contains(p.body, `<p class="error" id="sms_consent-error">The patient must consent to at least one channel.</p>`) {
		t.Errorf("no consent error next to the consent boxes: %d", p.status)
	}
	if n := len(w.patients(t)); n != 0 {
		t.Errorf("%d patients stored by invalid forms", n)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (w *world) patients(t *testing.T) []aftercare.Patient {
	t.Helper()
	ps, err := w.store.SearchPatients(context.Background(), w.clinic.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestEnrollPreviewThenDoubleSubmitEnrollsOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	idem := regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`).FindStringSubmatch(c.get("/console/enroll").body)[1]
	form := url.Values{"csrf_token": {csrf}, "idempotency_key": {idem}, "first_name": {"Ana"}, "last_name": {"Diaz"},
		"phone": {"(415) 555-0123"}, "email": {"ana@example.com"}, "timezone": {"Europe/London"}, "sms_consent": {"1"},
		"email_consent": {"1"}, "treated_at": {"2026-11-25T14:30"}, "session_number": {"1"}, "series_length": {"3"},
		"action": {"preview"}}
	prev := c.post("/console/enroll", form)
	rows := strings.Count(prev.body, `<tr class="row-`)
	if prev.status != 200 || rows < 10 || !strings.Contains(prev.body, "Plan preview: ") || !strings.Contains(prev.body, "GMT") {
		t.Fatalf("preview: %d, %d rows", prev.status, rows)
	}
	if n := len(w.patients(t)); n != 0 {
		t.Fatalf("preview stored %d patients", n)
	}
	form.Set("action", "save")
	first := c.post("/console/enroll", form)
	second := c.post("/console/enroll", form)
	loc1, loc2 := first.header.Get("Location"), second.header.Get("Location")
	if first.status != http.StatusSeeOther || !strings.HasSuffix(loc1, "?done=saved") || !strings.HasSuffix(loc2, "?done=repeat") ||
		strings.TrimSuffix(loc1, "saved") != strings.TrimSuffix(loc2, "repeat") {
		t.Fatalf("saves: %d %q, %d %q", first.status, loc1, second.status, loc2)
	}
	ps := w.patients(t)
	if len(ps) != 1 {
		t.Fatalf("%d patients after a double submit", len(ps))
	}
	es, _ := w.store.Enrollments(context.Background(), w.clinic.ID, ps[0].ID)
	if len(es) != 1 {
		t.Fatalf("%d enrollments after a double submit", len(es))
	}
	stored := c.get(loc1)
	if stored.status != 200 || !strings.Contains(stored.body, "Enrolled.") || strings.Count(stored.body, `<li id="message-`) != rows ||
		!strings.Contains(stored.body, `href="/console/patients/`+itoa(ps[0].ID)+`"`) {
		t.Errorf("stored plan page: %d, %d messages (preview had %d)", stored.status, strings.Count(stored.body, `<li id="message-`), rows)
	}
	// The same form with other details is refused, not silently merged.
	form.Set("first_name", "Anna")
	if p := c.post("/console/enroll", form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "already used to enroll") {
		t.Errorf("reused form with other details: %d", p.status)
	}
	// The next session is prefilled from the patient page's link.
	next := c.get("/console/enroll?patient=" + itoa(ps[0].ID))
	for name, want := range map[string]string{"first_name": "Ana", "phone": "+14155550123", "timezone": "Europe/London", "session_number": "2", "series_length": "3"} {
		if m := fieldValue(name).FindStringSubmatch(next.body); m == nil || html.UnescapeString(m[1]) != want {
			t.Errorf("next session field %s = %v, want %q", name, m, want)
		}
	}
}

func TestPatientPageTimelineResendAndCancel(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	w.failSMS("+14155550123", "21211", "the number is not a valid mobile number", "")
	v := w.enrollPatient(w.clinic, "Ana", "+14155550123")
	w.runDue()
	if _, err := w.store.RecordReply(context.Background(), store.InboundReply{Reply: aftercare.Reply{ClinicID: w.clinic.ID,
		PatientID: v.Patient.ID, ProviderID: "SMreply1", Body: "is <redness> normal?", Kind: "other", At: start}}); err != nil {
		t.Fatal(err)
	}
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	p := c.get("/console/patients/" + itoa(v.Patient.ID))
	if p.status != 200 {
		t.Fatalf("patient page: %d", p.status)
	}
	for _, want := range []string{"Why it failed", "the number is not a valid mobile number", "21211", "badge-failed",
		"badge-sent", "is &lt;redness&gt; normal?", "Consent evidence", "front_desk", "Enroll next session (2 of 3)"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("patient page lacks %q", want)
		}
	}
	var failed aftercare.Message
	pv, _ := w.store.PatientView(context.Background(), w.clinic.ID, v.Patient.ID)
	for _, m := range pv.Enrollments[0].Messages {
		if m.Status == aftercare.StatusFailed {
			failed = m
		}
	}
	if failed.ID == 0 {
		t.Fatal("no failed message")
	}
	r := c.post("/console/messages/"+itoa(failed.ID)+"/resend", url.Values{"csrf_token": {csrf}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "done=resent") {
		t.Fatalf("resend: %d %s", r.status, r.header.Get("Location"))
	}
	m, _ := w.store.Message(context.Background(), failed.ID)
	if m.Status != aftercare.StatusScheduled || !strings.Contains(m.Events[len(m.Events)-1].Detail, "staff@glow.example") {
		t.Errorf("after resend: %s %+v", m.Status, m.Events[len(m.Events)-1])
	}
	if r := c.post("/console/messages/"+itoa(failed.ID)+"/resend", url.Values{"csrf_token": {csrf}}); r.status != http.StatusConflict {
		t.Errorf("resending a scheduled message: %d", r.status)
	}

	x := c.post("/console/enrollments/"+itoa(v.Enrollment.ID)+"/cancel", url.Values{"csrf_token": {csrf}})
	if x.status != http.StatusSeeOther || !strings.Contains(x.header.Get("Location"), "done=cancelled") {
		t.Fatalf("cancel: %d", x.status)
	}
	after := c.get(x.header.Get("Location"))
	if !strings.Contains(after.body, "The enrollment is cancelled") || strings.Contains(after.body, "Cancel this enrollment") ||
		!strings.Contains(after.body, "enrollment cancelled in the console by staff@glow.example") {
		t.Error("patient page after cancel does not show it")
	}
}

// logRow matches a row of the delivery log table (not of the counts table).
var logRow = regexp.MustCompile(`<tr class="row-([a-z]+)">\s*<td class="nowrap">`)

func TestDeliveryLogFiltersCountsAndChart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	w.failSMS("+14155550123", "30007", "carrier rejected", "")
	w.enrollPatient(w.clinic, "Ana", "+14155550123")
	w.enrollPatient(w.clinic, "Cleo", "+14155550125")
	w.runDue()
	c := w.client()
	c.signIn("staff@glow.example")
	p := c.get("/console/log")
	if p.status != 200 {
		t.Fatalf("log: %d", p.status)
	}
	rows := logRow.FindAllStringSubmatch(p.body, -1)
	if len(rows) < 20 || rows[0][1] != "failed" {
		t.Fatalf("log rows: %d, first %v", len(rows), rows[0])
	}
	seenOther := false
	for _, r := range rows {
		if r[1] != "failed" {
			seenOther = true
		} else if seenOther {
			t.Fatal("a failure after other messages: failures must come first")
		}
	}
	for _, want := range []string{`<svg viewBox="0 0 720 220"`, `class="bar-failed"`, "Last 14 days: 3 sent, 1 failed.",
		`<tr class="row-failed"><th scope="row"><span class="badge badge-failed">failed</span></th><td>1</td><td>1</td></tr>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("log page lacks %q", want)
		}
	}
	f := c.get("/console/log?status=failed&channel=sms&from=2026-11-25&to=2026-11-25")
	if rows := logRow.FindAllStringSubmatch(f.body, -1); len(rows) != 1 || rows[0][1] != "failed" {
		t.Errorf("filtered log: %v", rows)
	}
	if !strings.Contains(f.body, `<option value="failed" selected>`) {
		t.Error("the filter is not kept")
	}
	if g := c.get("/console/log?from=2026-11-26"); strings.Contains(g.body, "carrier rejected") {
		t.Error("date filter keeps a message planned earlier")
	}
	if g := c.get("/console/log?from=yesterday"); !strings.Contains(g.body, "is not a date") {
		t.Error("a bad date is not reported")
	}
}

// The console logs ids, never who the patients are or what staff typed.
func TestConsoleLogsNoPersonalData(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	csrf := c.signIn("staff@glow.example")
	c.post("/console/login", url.Values{"email": {"staff@glow.example"}, "password": {"hunter2hunter2"}})
	form := url.Values{"csrf_token": {csrf}, "idempotency_key": {"k1"}, "first_name": {"Zelda"}, "last_name": {"Quux"},
		"phone": {"+14155550199"}, "email": {"zelda@example.com"}, "timezone": {"America/New_York"}, "sms_consent": {"1"},
		"treated_at": {"2026-11-25T14:30"}, "session_number": {"1"}, "series_length": {"3"}, "action": {"save"}}
	if p := c.post("/console/enroll", form); p.status != http.StatusSeeOther {
		t.Fatalf("enroll: %d", p.status)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "patient enrolled from the console") {
		t.Fatalf("no enrollment log line:\n%s", logs)
	}
	for _, secret := range []string{"Zelda", "Quux", "4155550199", "zelda@", "staff@glow", "hunter2", password} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

func TestStaticAssetsAreEmbedded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	c := w.client()
	for path, want := range map[string]string{"/console/static/console.css": "text/css", "/console/static/console.js": "javascript"} {
		p := c.get(path)
		if p.status != 200 || !strings.Contains(p.header.Get("Content-Type"), want) || len(p.body) < 100 {
			t.Errorf("%s: %d %s", path, p.status, p.header.Get("Content-Type"))
		}
	}
	if p := c.get("/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
		t.Errorf("GET /: %d %s", p.status, p.header.Get("Location"))
	}
}
