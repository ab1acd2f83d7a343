package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

func (h *harness) enroll(treated time.Time, phone string, session, series int) int64 {
	h.t.Helper()
	status, out := h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Ana", "last_name": "Diaz", "phone": phone, "email": "ana@example.com",
		"timezone": "America/New_York", "sms_consent": true, "email_consent": true,
		"treated_at": treated.Format(time.RFC3339), "session_number": session, "series_length": series,
	})
	if status != 201 {
		h.t.Fatalf("enroll: %d %v", status, out)
	}
	return int64(out["enrollment"].(map[string]any)["id"].(float64))
}

func byStep(v map[string]any, step, channel string) []map[string]any {
	var out []map[string]any
	for _, m := range messages(v) {
		if m["step"] == step && m["channel"] == channel {
			out = append(out, m)
		}
	}
	return out
}

func TestReconcileAppliesLostReceipts(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(time.Minute))
	id := h.enroll(treated, "+14155550123", 1, 3)
	h.runUntil(treated.Add(2 * time.Minute))
	sent := h.tw.Sent()
	if len(sent) != 1 {
		t.Fatalf("texts sent: %d", len(sent))
	}
	// Twilio delivered it but the status callback was lost.
	if err := h.tw.SetStatus(sent[0].SID, "delivered", 0); err != nil {
		t.Fatal(err)
	}
	if n, err := h.app.ReconcileOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("reconcile too early looked up %d (err %v)", n, err)
	}
	h.clock.Set(h.clock.Now().Add(app.ReconcileAfter + time.Minute))
	if n, err := h.app.ReconcileOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("reconcile looked up %d, err %v", n, err)
	}
	welcome := byStep(h.enrollment(id), "welcome", "sms")[0]
	if welcome["status"] != "delivered" {
		t.Fatalf("welcome after reconcile: %v", welcome["status"])
	}
}

func TestUndeliverableNumberFallsBackToEmail(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(time.Minute))
	h.tw.FailFor("+14155550123", 400, 21614) // not a mobile number
	id := h.enroll(treated, "+14155550123", 1, 3)
	h.runUntil(treated.Add(11 * time.Hour)) // 21:00 day 0: evening care (20:00) has fallen back to email
	v := h.enrollment(id)
	p := v["patient"].(map[string]any)
	if p["phone_bad"] == "" || p["phone_bad"] == nil {
		t.Fatalf("number not flagged for the clinic: %v", p)
	}
	w := byStep(v, "welcome", "sms")[0]
	if w["status"] != "failed" || w["error_code"] != "21614" {
		t.Fatalf("welcome sms: %v %v", w["status"], w["error_code"])
	}
	for _, m := range byStep(v, "day1_checkin", "sms") {
		if m["status"] != "skipped" {
			t.Fatalf("day-1 text after a bad number: %v", m["status"])
		}
	}
	if e := byStep(v, "evening_care", "email"); len(e) != 1 || e[0]["status"] != "sent" {
		t.Fatalf("evening care fallback email: %v", e)
	}
	if len(byStep(v, "welcome", "email")) != 1 {
		t.Fatal("welcome already had an email; no fallback duplicate expected")
	}
	got := 0
	for _, m := range h.mail.Messages() {
		parsed, _ := m.Parse()
		if strings.Contains(parsed.Text, "could not text this") {
			got++
		}
	}
	if got == 0 {
		t.Fatal("no fallback email reached the SMTP server")
	}
	if n := h.tw.AttemptsTo("+14155550123"); n != 1 {
		t.Fatalf("Twilio was tried %d times for a number it refused", n)
	}
}

func TestBookNextEmailCarriesInvitation(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(time.Minute))
	h.enroll(treated, "+14155550123", 1, 3)
	h.runUntil(treated.Add(29 * 24 * time.Hour))
	var found bool
	for _, m := range h.mail.Messages() {
		parsed, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(parsed.Subject, "book") && !strings.Contains(parsed.Subject, "Book") {
			continue
		}
		for _, a := range parsed.Attachments {
			if strings.HasPrefix(a.ContentType, "text/calendar") && bytes.Contains(a.Data, []byte("BEGIN:VEVENT")) &&
				bytes.Contains(a.Data, []byte("session 2 of 3")) {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("no booking email with a session-numbered .ics invitation")
	}
}

func TestStartOptsBackInForFutureStepsOnly(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(time.Minute))
	id := h.enroll(treated, "+14155550123", 1, 3)
	h.runUntil(treated.Add(5 * time.Minute))
	if code := h.webhook("/webhooks/twilio/inbound", twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "stop"), true); code != 200 {
		t.Fatal(code)
	}
	// Two days pass opted out; then START.
	h.runUntil(treated.Add(50 * time.Hour))
	if code := h.webhook("/webhooks/twilio/inbound", twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "START"), true); code != 200 {
		t.Fatal(code)
	}
	v := h.enrollment(id)
	if v["patient"].(map[string]any)["sms_opt_out"] != false {
		t.Fatal("START did not opt back in")
	}
	for _, m := range byStep(v, "sunscreen", "sms") {
		occ := int(m["occurrence"].(float64))
		switch {
		case occ <= 2 && m["status"] != "cancelled":
			t.Errorf("sunscreen day %d (passed while opted out) is %v, want cancelled (nothing stale resent)", occ, m["status"])
		case occ >= 3 && m["status"] != "scheduled":
			t.Errorf("sunscreen day %d (future) is %v, want scheduled again", occ, m["status"])
		}
	}
	before := len(h.tw.Sent())
	h.runUntil(treated.Add(4 * 24 * time.Hour))
	if len(h.tw.Sent()) <= before {
		t.Fatal("no texts after opting back in")
	}
}

func TestCheck(t *testing.T) {
	h := newHarness(t, time.Now())
	var out bytes.Buffer
	if err := app.Check(context.Background(), &out, h.app.Config); err != nil {
		t.Fatalf("check of a working config: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "reachable") {
		t.Fatalf("check output: %s", out.String())
	}

	cfg := config.Default()
	cfg.Twilio = config.Twilio{AccountSID: accountSID, AuthToken: authToken, From: fromNumber, Timeout: time.Second}
	cfg.SMTP = config.SMTP{Host: "127.0.0.1", Port: 1, TLS: "none", From: "a@example.com", Timeout: time.Second}
	out.Reset()
	err := app.Check(context.Background(), &out, cfg)
	if err == nil {
		t.Fatalf("check passed without public_url and with SMTP down:\n%s", out.String())
	}
	for _, want := range []string{"MISSING public_url", "MISSING email: SMTP server 127.0.0.1:1 not usable"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSecondDaemonOnTheSameDatabaseIsRefused(t *testing.T) {
	cfg := config.Default()
	cfg.DB = t.TempDir() + "/one.db"
	cfg.Listen = "127.0.0.1:0"
	a1, err := app.New(context.Background(), app.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a1.Shutdown(context.Background())
	a2, err := app.New(context.Background(), app.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Shutdown(context.Background())
	if err := a2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "another aftercare daemon") {
		t.Fatalf("second Start = %v", err)
	}
}
