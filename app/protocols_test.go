package app_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// One daemon, two treatments: the enrollment's treatment picks its
// protocol, every text of the plan comes from it, and a treatment without
// a protocol is refused with the list of those there are.
func TestTwoTreatmentsOneDaemon(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 24, 10, 0, 0, 0, ny)
	d := testsupport.StartDaemon(t, testsupport.DaemonOptions{Start: treated.Add(5 * time.Minute),
		Configure: func(c *config.Config) { c.ProtocolsDir = filepath.Join("..", "testdata", "protocols") }})
	clinic, key := d.AddClinic(t, testsupport.GlowClinic())
	h := &harness{t: t, app: d.App, clock: d.Clock, tw: d.Twilio, mail: d.Mail, base: d.Base, key: key, clinic: clinic, logs: d.Logs, d: d}

	enroll := func(treatment, phone string) (int, map[string]any) {
		return h.api("POST", "/v1/enrollments", map[string]any{
			"first_name": "Ana", "phone": phone, "timezone": "America/New_York", "sms_consent": true,
			"treatment": treatment, "treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 1,
		})
	}
	status, out := enroll("botox", "+14155550101")
	if status != 422 || !strings.Contains(strings.ToLower(toJSON(out)), "chemical peel, microneedling") {
		t.Fatalf("unknown treatment: %d %v", status, out)
	}
	status, peel := enroll("Chemical Peel", "+14155550102")
	if status != 201 {
		t.Fatalf("enroll peel: %d %v", status, peel)
	}
	status, micro := enroll("microneedling", "+14155550103")
	if status != 201 {
		t.Fatalf("enroll microneedling: %d %v", status, micro)
	}
	steps := func(v map[string]any) map[string]bool {
		id := int64(v["enrollment"].(map[string]any)["id"].(float64))
		out := map[string]bool{}
		for _, m := range messages(h.enrollment(id)) {
			out[m["step"].(string)] = true
		}
		return out
	}
	if s := steps(peel); !s["day2_checkin"] || s["sunscreen"] || s["dryness"] {
		t.Errorf("peel plan steps: %v", s)
	}
	if s := steps(micro); s["day2_checkin"] || !s["sunscreen"] {
		t.Errorf("microneedling plan steps: %v", s)
	}
	h.runUntil(treated.Add(3 * 24 * time.Hour))
	var peelTexts, microTexts int
	for _, m := range h.tw.Sent() {
		switch m.To {
		case "+14155550102":
			peelTexts++
			if strings.Contains(m.Body, "unscreen") || strings.Contains(m.Body, "makeup") {
				t.Errorf("peel patient got a microneedling text: %q", m.Body)
			}
		case "+14155550103":
			microTexts++
			if strings.Contains(m.Body, "peel") {
				t.Errorf("microneedling patient got a peel text: %q", m.Body)
			}
		case "+14155550101":
			t.Errorf("the refused enrollment was texted: %q", m.Body)
		}
	}
	if peelTexts != 2 || microTexts < 6 {
		t.Errorf("texts by day 3: peel %d (want welcome and day 2), microneedling %d", peelTexts, microTexts)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A protocol file that does not pass lint keeps the daemon from starting,
// and the error names the file, line, step and field.
func TestBrokenProtocolRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "testdata", "protocols", "example-chemical-peel.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "checking in after your peel.", "checking in after your {{.Frist}} peel.", 1)
	if broken == string(src) {
		t.Fatal("the example changed: nothing to break")
	}
	if err := os.WriteFile(filepath.Join(dir, "peel.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.ProtocolsDir = dir
	_, err = app.LoadLibrary(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("a protocol with an unknown template field was loaded")
	}
	for _, want := range []string{"peel.yaml:", `step "day2_checkin"`, "sms", "Frist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// A patient enrolled in Spanish gets the Spanish protocol: texts, the
// guide email, dates, the answer to AYUDA and the unsubscribe page; a
// patient with no language who writes in Spanish is answered in Spanish;
// staff alerts stay in the clinic's English.
func TestSpanishPatientEndToEnd(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 24, 10, 0, 0, 0, ny) // a Tuesday
	h := newHarness(t, treated.Add(5*time.Minute))
	const es, unknown = "+14155550121", "+14155550122"
	status, out := h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Lucía", "phone": es, "email": "lucia@example.com", "timezone": "America/New_York",
		"sms_consent": true, "email_consent": true, "language": "es", "treatment": "microneedling",
		"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	})
	if status != 201 {
		t.Fatalf("enroll: %d %v", status, out)
	}
	status, out = h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Rosa", "phone": unknown, "timezone": "America/New_York", "sms_consent": true,
		"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	})
	if status != 201 {
		t.Fatalf("enroll: %d %v", status, out)
	}
	h.runUntil(treated.Add(26 * time.Hour))
	texts := h.textsTo(0, es)
	if len(texts) < 3 {
		t.Fatalf("texts to the Spanish patient by day 1: %d", len(texts))
	}
	if !strings.Contains(texts[0].Body, "Baja: responde STOP.") || !strings.Contains(texts[0].Body, "fiebre") {
		t.Errorf("first Spanish text: %q", texts[0].Body)
	}
	for _, m := range texts {
		for _, english := range []string{"Reply STOP", "redness", "makeup", "Call "} {
			if strings.Contains(m.Body, english) {
				t.Errorf("English in a Spanish text (%q): %q", english, m.Body)
			}
		}
	}
	mails := h.mailsTo(0, "lucia@example.com")
	if len(mails) != 1 || !strings.Contains(mails[0], "Tu guía de cuidados") {
		t.Fatalf("Spanish guide email: %d mails; %.300q", len(mails), mails)
	}

	// Dates in texts are Spanish: makeup again on day 2, pools from
	// Saturday 28 November.
	h.runUntil(treated.Add(50 * time.Hour))
	var makeup bool
	for _, m := range h.textsTo(len(texts), es) {
		makeup = makeup || strings.Contains(m.Body, "hasta el sab 28 nov")
	}
	if !makeup {
		t.Errorf("no Spanish date in the day 2 texts: %+v", h.textsTo(len(texts), es))
	}

	n := len(h.tw.Sent())
	h.text(es, fromNumber, "AYUDA")
	h.text(unknown, fromNumber, "ayuda por favor")
	h.runUntil(h.clock.Now().Add(time.Minute))
	for _, to := range []string{es, unknown} {
		got := h.textsTo(n, to)
		if len(got) != 1 || !strings.Contains(got[0].Body, "Llama al") {
			t.Errorf("answer to %s: %+v", to, got)
		}
	}

	// A red flag: the patient's answer is Spanish, the staff alert English.
	n, mailed := len(h.tw.Sent()), len(h.mail.Messages())
	h.text(es, fromNumber, "tengo mucha fiebre y me sale pus")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.textsTo(n, es); len(got) != 1 || !strings.Contains(got[0].Body, "gracias por avisarnos") {
		t.Errorf("red-flag answer: %+v", got)
	}
	if got := h.textsTo(n, "+14155550199"); len(got) != 1 || !strings.Contains(got[0].Body, "red flag") {
		t.Errorf("on-call alert: %+v", got)
	}
	if got := h.mailsTo(mailed, "staff@glow.example"); len(got) != 1 || !strings.Contains(got[0], "fiebre") {
		t.Errorf("alert email: %q", got)
	}

	// The unsubscribe page speaks the patient's language.
	var unsub string
	for _, line := range strings.Split(mails[0], "\n") {
		if i := strings.Index(line, h.base+"/unsubscribe/"); i >= 0 {
			unsub = strings.Fields(line[i:])[0]
			break
		}
	}
	if unsub == "" {
		t.Fatal("no unsubscribe link in the email")
	}
	resp, err := http.Get(strings.Trim(unsub, "<>\"'"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `lang="es"`) || !strings.Contains(string(page), "Darme de baja") {
		t.Errorf("unsubscribe page: %d %.400s", resp.StatusCode, page)
	}
}

// A returning patient keeps the language recorded at their first session
// when the next enrollment gives none: the plan and its record follow it.
func TestReturningPatientKeepsLanguage(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 24, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(5*time.Minute))
	body := map[string]any{
		"first_name": "Lucía", "phone": "+14155550131", "timezone": "America/New_York", "sms_consent": true,
		"language": "es", "treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	}
	if status, out := h.api("POST", "/v1/enrollments", body); status != 201 {
		t.Fatalf("session 1: %d %v", status, out)
	}
	h.advance(28 * 24 * time.Hour)
	delete(body, "language")
	body["session_number"] = 2
	body["treated_at"] = h.clock.Now().Add(-5 * time.Minute).Format(time.RFC3339)
	status, out := h.api("POST", "/v1/enrollments", body)
	if status != 201 {
		t.Fatalf("session 2: %d %v", status, out)
	}
	e := out["enrollment"].(map[string]any)
	if e["language"] != "es" || e["protocol"] != "microneedling" {
		t.Errorf("session 2 recorded %v %v, want the Spanish microneedling protocol", e["protocol"], e["language"])
	}
	for _, m := range messages(h.enrollment(int64(e["id"].(float64)))) {
		if m["step"] == "welcome" && m["channel"] == "sms" && !strings.Contains(m["body"].(string), "Baja: responde STOP") {
			t.Errorf("session 2 welcome is not Spanish: %q", m["body"])
		}
	}
}
