package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

const (
	accountSID = testsupport.AccountSID
	authToken  = testsupport.AuthToken
	fromNumber = testsupport.FromNumber
)

// harness runs the whole daemon in-process against a loopback Twilio API
// and a real SMTP server, on a virtual clock, with one clinic.
type harness struct {
	t      *testing.T
	app    *app.App
	clock  *testsupport.Clock
	tw     *twiliotest.Server
	mail   *smtptest.Server
	base   string // public URL = the daemon's loopback address
	key    string
	clinic aftercare.Clinic
	logs   *testsupport.LogBuffer
	d      *testsupport.Daemon
}

func newHarness(t *testing.T, start time.Time) *harness {
	t.Helper()
	return newHarnessOn(t, start, "")
}

// newHarnessOn is newHarness on the database db names ("": testsupport.DB).
func newHarnessOn(t *testing.T, start time.Time, db string) *harness {
	t.Helper()
	d := testsupport.StartDaemon(t, testsupport.DaemonOptions{Start: start, DB: db})
	clinic, key := d.AddClinic(t, testsupport.GlowClinic())
	return &harness{t: t, app: d.App, clock: d.Clock, tw: d.Twilio, mail: d.Mail, base: d.Base, key: key, clinic: clinic, logs: d.Logs, d: d}
}

// runUntil delivers everything due up to t, jumping the clock from one due
// message to the next.
func (h *harness) runUntil(t time.Time) {
	h.t.Helper()
	h.d.RunUntil(h.t, t)
}

func (h *harness) api(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// webhook posts a form to a Twilio webhook, signed (or not) like Twilio.
func (h *harness) webhook(path string, form url.Values, sign bool) int {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, h.base+path, form))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) enrollment(id int64) map[string]any {
	h.t.Helper()
	status, out := h.api("GET", "/v1/enrollments/"+itoa(id), nil)
	if status != 200 {
		h.t.Fatalf("GET enrollment: %d %v", status, out)
	}
	return out
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func messages(v map[string]any) []map[string]any {
	var out []map[string]any
	for _, m := range v["messages"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestEndToEndDeliveryStopAndUnsubscribe(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 14, 30, 0, 0, ny)
	h := newHarness(t, treated.Add(5*time.Minute))

	status, out := h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Ana", "last_name": "Diaz", "phone": "+14155550123", "email": "ana@example.com",
		"timezone": "America/New_York", "sms_consent": true, "email_consent": true,
		"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	})
	if status != 201 {
		t.Fatalf("enroll: %d %v", status, out)
	}
	id := int64(out["enrollment"].(map[string]any)["id"].(float64))

	// Day 0 and day 1: welcome SMS + guide email, evening care, check-in, sunscreen.
	h.runUntil(treated.Add(24*time.Hour + 3*time.Hour)) // day 1, 17:30
	sent := h.tw.Sent()
	if len(sent) < 4 {
		t.Fatalf("texts at Twilio by day 1: %d", len(sent))
	}
	for _, m := range sent {
		if m.To != "+14155550123" || m.From != fromNumber || m.StatusCallback != h.base+"/webhooks/twilio/status" || m.ValidityPeriod <= 0 {
			t.Fatalf("text sent wrong: %+v", m)
		}
		local := m.DateCreated.In(ny)
		if local.Hour() >= 21 || local.Hour() < 8 {
			t.Fatalf("text sent in quiet hours at %s", local)
		}
	}
	if !strings.Contains(sent[0].Body, "STOP") {
		t.Errorf("first text lacks the opt-out notice: %q", sent[0].Body)
	}
	emails := h.mail.Messages()
	if len(emails) != 1 {
		t.Fatalf("emails by day 1: %d, want the welcome guide", len(emails))
	}
	parsed, err := emails[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	unsub := strings.Trim(parsed.Get("List-Unsubscribe"), "<>")
	// (List-Unsubscribe-Post needs https per RFC 8058; this loopback public
	// URL is http, so only List-Unsubscribe is set. notify/smtp tests the
	// https case.)
	if !strings.HasPrefix(unsub, h.base+"/unsubscribe/") || !strings.Contains(parsed.Text, unsub) {
		t.Fatalf("unsubscribe header %q, or link missing from the text part", unsub)
	}
	if !strings.Contains(parsed.Text, "Glow Clinic") || parsed.HTML == "" {
		t.Fatalf("email parts: text %d bytes, html %d bytes", len(parsed.Text), len(parsed.HTML))
	}

	// Receipts: every text delivered.
	if err := h.tw.DeliverAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := h.enrollment(id)
	delivered := 0
	for _, m := range messages(v) {
		if m["channel"] == "sms" && m["status"] == "delivered" {
			delivered++
		}
	}
	if delivered != len(sent) {
		t.Fatalf("delivered %d of %d texts", delivered, len(sent))
	}
	// A late "sent" receipt never moves a delivered message back.
	form := url.Values{"MessageSid": {sent[0].SID}, "MessageStatus": {"sent"}, "AccountSid": {accountSID}}
	if code := h.webhook("/webhooks/twilio/status", form, true); code != 200 {
		t.Fatalf("late receipt: %d", code)
	}
	for _, m := range messages(h.enrollment(id)) {
		if m["provider_id"] == sent[0].SID && m["status"] != "delivered" {
			t.Fatalf("late sent receipt changed status to %v", m["status"])
		}
	}

	// Forged and unsigned webhooks are refused and change nothing.
	stop := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "STOP")
	req, _ := http.NewRequest("POST", h.base+"/webhooks/twilio/inbound", strings.NewReader(stop.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign("wrong-token-wrong-token-wrong-tok", h.base+"/webhooks/twilio/inbound", stop))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("forged STOP: %d", resp.StatusCode)
	}
	if code := h.webhook("/webhooks/twilio/inbound", stop, false); code != 403 {
		t.Fatalf("unsigned STOP: %d", code)
	}
	if p := h.enrollment(id)["patient"].(map[string]any); p["sms_opt_out"] != false {
		t.Fatal("forged webhook opted the patient out")
	}

	// A red-flag reply alerts staff (email + on-call SMS) and answers the patient.
	before := len(h.tw.Sent())
	red := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "my face is very swollen and there is pus")
	if code := h.webhook("/webhooks/twilio/inbound", red, true); code != 200 {
		t.Fatalf("red flag webhook: %d", code)
	}
	if code := h.webhook("/webhooks/twilio/inbound", red, true); code != 200 { // Twilio retry: processed once
		t.Fatalf("red flag retry: %d", code)
	}
	h.runUntil(h.clock.Now().Add(time.Minute))
	var toStaff, toPatient int
	for _, m := range h.tw.Sent()[before:] {
		switch m.To {
		case "+14155550199":
			toStaff++
			if !strings.Contains(m.Body, "Ana") {
				t.Errorf("staff alert lacks the patient's name: %q", m.Body)
			}
		case "+14155550123":
			toPatient++
			if !strings.Contains(m.Body, "555") {
				t.Errorf("answer lacks the clinic phone: %q", m.Body)
			}
		}
	}
	if toStaff != 1 || toPatient != 1 {
		t.Fatalf("red flag: %d staff texts, %d patient texts (want 1 and 1)", toStaff, toPatient)
	}
	alertMail := 0
	for _, e := range h.mail.Messages() {
		for _, rc := range e.To {
			if rc == "staff@glow.example" {
				alertMail++
			}
		}
	}
	if alertMail != 1 {
		t.Fatalf("alert emails to staff: %d", alertMail)
	}

	// STOP cancels the remaining texts; one confirmation goes out, however
	// many times the patient says stop.
	if code := h.webhook("/webhooks/twilio/inbound", stop, true); code != 200 {
		t.Fatalf("STOP: %d", code)
	}
	again := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "stop")
	if code := h.webhook("/webhooks/twilio/inbound", again, true); code != 200 {
		t.Fatalf("second STOP: %d", code)
	}
	v = h.enrollment(id)
	if v["patient"].(map[string]any)["sms_opt_out"] != true {
		t.Fatal("STOP did not opt the patient out")
	}
	for _, m := range messages(v) {
		if m["channel"] == "sms" && (m["status"] == "scheduled" || m["status"] == "sending") && m["step"] != "reply_opted_out" {
			t.Fatalf("text still pending after STOP: %v", m["step"])
		}
	}
	if n := len(byStep(v, "reply_opted_out", "sms")); n != 1 {
		t.Fatalf("opt-out confirmations: %d, want 1", n)
	}
	beforeConfirm := len(h.tw.Sent())
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.tw.Sent()[beforeConfirm:]; len(got) != 1 || !strings.Contains(got[0].Body, "no more") {
		t.Fatalf("after STOP: %d texts, want the one confirmation: %+v %v", len(got), got, byStep(h.enrollment(id), "reply_opted_out", "sms"))
	}

	// The email unsubscribe link opts out of email and cancels the rest.
	resp, err = http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "unsubscribed") {
		t.Fatalf("unsubscribe: %d %s", resp.StatusCode, page)
	}
	textsBefore, mailsBefore := len(h.tw.Sent()), len(h.mail.Messages())
	h.runUntil(treated.Add(60 * 24 * time.Hour))
	if len(h.tw.Sent()) != textsBefore || len(h.mail.Messages()) != mailsBefore {
		t.Fatalf("sent after opting out: texts %d->%d, emails %d->%d", textsBefore, len(h.tw.Sent()), mailsBefore, len(h.mail.Messages()))
	}

	// The delivery log shows every message with a final state and a reason
	// for everything not delivered.
	v = h.enrollment(id)
	for _, m := range messages(v) {
		st := m["status"].(string)
		switch st {
		case "delivered", "sent":
		case "cancelled", "skipped", "failed":
			if m["reason"] == "" || m["reason"] == nil {
				t.Errorf("%s %s %s without a reason", m["step"], m["channel"], st)
			}
		default:
			t.Errorf("%s %s still %s after 60 days", m["step"], m["channel"], st)
		}
		if evs, _ := m["events"].([]any); len(evs) == 0 {
			t.Errorf("%s without events", m["step"])
		}
	}
	if len(v["replies"].([]any)) != 3 {
		t.Errorf("replies in the log: %d, want the red flag and the two STOPs", len(v["replies"].([]any)))
	}
}

// hasMetrics fails t for each exposition line ("name{labels} value") that
// GET /metrics lacks.
func (h *harness) hasMetrics(t *testing.T, lines ...string) {
	t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range lines {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("metrics lack %s", line)
		}
	}
}
