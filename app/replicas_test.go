package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// TestAnyReplicaAnswersAnyRequest: two daemons on one PostgreSQL database,
// as behind a load balancer without sticky sessions. What one replica
// starts, the other finishes: an enrollment retried with the same
// idempotency key on the other replica is the same enrollment; a webhook
// Twilio retries to the other replica is recognised as a replay; an
// unsubscribe link one replica signed works on the other.
func TestAnyReplicaAnswersAnyRequest(t *testing.T) {
	t.Parallel()
	dsn := testsupport.PostgresDSN(t)
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 14, 30, 0, 0, ny)
	a := newHarnessOn(t, treated.Add(5*time.Minute), dsn)
	b := newHarnessOn(t, treated.Add(5*time.Minute), dsn)
	// One clinic (a's) on both: b's key is a's.
	b.key, b.clinic = a.key, a.clinic

	post := func(h *harness, idem string) (int, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{
			"first_name": "Ana", "last_name": "Diaz", "phone": "+14155550123", "email": "ana@example.com",
			"timezone": "America/New_York", "sms_consent": true, "email_consent": true,
			"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
		})
		req, _ := http.NewRequest("POST", h.base+"/v1/enrollments", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idem)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, first := post(a, "front-desk-42")
	if status != 201 {
		t.Fatalf("enroll on replica a: %d %v", status, first)
	}
	status, again := post(b, "front-desk-42")
	if status != 200 {
		t.Fatalf("the same request retried on replica b: %d %v, want 200 (the same enrollment)", status, again)
	}
	id := first["enrollment"].(map[string]any)["id"]
	if again["enrollment"].(map[string]any)["id"] != id {
		t.Fatalf("replica b answered enrollment %v, replica a made %v", again["enrollment"].(map[string]any)["id"], id)
	}

	// Both replicas dispatch; each message goes out once, from one of them.
	a.runUntil(treated.Add(10 * time.Minute))
	b.runUntil(treated.Add(10 * time.Minute))
	texts := len(a.tw.Sent()) + len(b.tw.Sent())
	if texts == 0 || len(b.tw.Sent()) != 0 {
		t.Fatalf("texts: %d from a, %d from b; want the due ones once, from a (it ran first)", len(a.tw.Sent()), len(b.tw.Sent()))
	}

	// A reply reaches a; Twilio retries the same webhook to b.
	form := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "is redness normal?")
	if code := a.webhook("/webhooks/twilio/inbound", form, true); code != 200 {
		t.Fatalf("inbound on a: %d", code)
	}
	if code := b.webhook("/webhooks/twilio/inbound", form, true); code != 200 {
		t.Fatalf("the same inbound retried on b: %d", code)
	}
	v := b.enrollment(int64(id.(float64)))
	if replies, _ := v["replies"].([]any); len(replies) != 1 {
		t.Fatalf("replies after the same webhook on both replicas: %d, want 1", len(replies))
	}

	// The guide email's unsubscribe link, signed by a, opened on b.
	emails := a.mail.Messages()
	if len(emails) == 0 {
		t.Fatal("no guide email")
	}
	parsed, err := emails[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	link := strings.Trim(parsed.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(link, a.base+"/unsubscribe/") {
		t.Fatalf("unsubscribe link %q", link)
	}
	onB := b.base + strings.TrimPrefix(link, a.base)
	resp, err := http.Post(onB, "application/x-www-form-urlencoded", strings.NewReader(url.Values{"List-Unsubscribe": {"One-Click"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "unsubscribed") {
		t.Fatalf("a's link on b: %d %s", resp.StatusCode, page)
	}
	v = a.enrollment(int64(id.(float64)))
	if p := v["patient"].(map[string]any); p["email_opt_out"] != true {
		t.Fatalf("after unsubscribing on b, replica a sees email_opt_out %v", p["email_opt_out"])
	}
}
