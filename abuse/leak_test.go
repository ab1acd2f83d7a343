package abuse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare/notify/twiliotest"
)

// TestLogsLeakNothing runs a full end-to-end flow with the daemon logging
// JSON at debug level, then searches every line for the phone numbers,
// email addresses, message bodies and secrets the run used. Nothing may
// appear at debug or info; secrets may appear at no level at all.
func TestLogsLeakNothing(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 9, 30, 0, 0, ny)
	h := newHarness(t, harnessOptions{start: treated.Add(5 * time.Minute), logLevel: slog.LevelDebug, smtpAuth: true})
	ctx := context.Background()

	type patient struct{ first, phone, email string }
	patients := []patient{
		{"Ana", "+14155550123", "ana.diaz@example.com"},
		{"Bruno", "+14155550124", "bruno.costa@example.org"},
		{"Chloe", "+14155550125", "chloe@example.net"}, // her number turns out to be a landline
	}
	h.tw.FailFor("+14155550125", 400, 21614) // "not a mobile number": flags it, falls back to email
	for _, p := range patients {
		b := enrollBody(p.first, p.phone, p.email)
		b["treated_at"] = treated.Format(time.RFC3339)
		b["external_ref"] = "visit-" + p.first
		if r := h.post("/v1/enrollments", b); r.status != 201 {
			t.Fatalf("enroll %s: %d %s", p.first, r.status, r.body)
		}
	}
	// Things that fail: a wrong key, a forged webhook, an invalid enrollment.
	h.do(request{method: "GET", path: "/v1/messages", key: "ak_wrong"})
	stop := twiliotest.InboundForm(accountSID, "+14155550124", fromNumber, "STOP")
	h.webhook("/webhooks/twilio/inbound", stop, "0000000000000000000000000000dead")
	bad := enrollBody("Dora", "+14155550126", "dora@example")
	h.post("/v1/enrollments", bad)

	// Day 0 and 1: texts, emails (SMTP with AUTH), receipts.
	h.runUntil(treated.Add(27 * time.Hour))
	if err := h.tw.DeliverAll(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.tw.Sent()) < 4 || len(h.mail.Messages()) < 3 {
		t.Fatalf("sent %d texts and %d emails by day 1", len(h.tw.Sent()), len(h.mail.Messages()))
	}
	// A red flag, HELP, STOP, and the unsubscribe link of an email.
	replies := []string{"my cheek is swollen and oozing yellow stuff since last night", "HELP", "STOP"}
	for _, body := range replies {
		f := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, body)
		if r := h.webhook("/webhooks/twilio/inbound", f, authToken); r.status != 200 {
			t.Fatalf("reply %q: %d", body, r.status)
		}
	}
	// An ordinary question (answered automatically, into the inbox), a
	// symptom texted to a number no clinic sends from, and the red flag
	// left unacknowledged long enough to be alerted again.
	question := "is it normal to be this red on day two of healing?"
	for _, in := range []struct{ from, to, body string }{
		{"+14155550124", fromNumber, question},
		{"+14155550125", "+14155550998", "weird stranger number rash message"},
	} {
		f := twiliotest.InboundForm(accountSID, in.from, in.to, in.body)
		if r := h.webhook("/webhooks/twilio/inbound", f, authToken); r.status != 200 {
			t.Fatalf("reply %q: %d", in.body, r.status)
		}
	}
	h.runUntil(h.clock.Now().Add(20 * time.Minute))
	if err := h.app.Inbound.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	unsub := ""
	for _, m := range h.mail.Messages() {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if u := strings.Trim(p.Get("List-Unsubscribe"), "<>"); u != "" && strings.Contains(strings.Join(m.To, ","), "bruno") {
			unsub = u
		}
	}
	if unsub == "" {
		t.Fatal("no unsubscribe link in Bruno's emails")
	}
	resp, err := http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("unsubscribe: %d", resp.StatusCode)
	}
	h.do(request{method: "GET", path: "/readyz"})
	h.runUntil(treated.Add(60 * 24 * time.Hour))
	if err := h.tw.DeliverAll(ctx); err != nil {
		t.Fatal(err)
	}

	// What must not be logged.
	type needle struct{ what, s string }
	var personal, secrets []needle
	phones := []string{"+14155550111", "+14155550199"} // the clinic's phone and its on-call number
	emails := []string{"staff@glow.example", "care@glow.example"}
	for _, p := range patients {
		phones = append(phones, p.phone)
		emails = append(emails, p.email)
	}
	for _, p := range phones {
		personal = append(personal, needle{"phone " + p, p}, needle{"phone digits " + p, p[1:]}, needle{"national number " + p, p[2:]})
	}
	for _, e := range emails {
		personal = append(personal, needle{"email " + e, e})
	}
	for _, r := range append(replies[:1:1], question, "weird stranger number rash message") {
		personal = append(personal, needle{"reply body", r[5:30]})
	}
	personal = append(personal, needle{"unknown number", "+14155550998"}, needle{"unknown number digits", "4155550998"})
	rows, err := h.db.Query(`SELECT id, body, html_body, subject FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	bodies := 0
	for rows.Next() {
		var id int64
		var body, html, subject string
		if err := rows.Scan(&id, &body, &html, &subject); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{body, html, subject} {
			if s := distinctive(b); s != "" {
				personal = append(personal, needle{"body of message " + itoa(id), s})
				bodies++
			}
		}
	}
	rows.Close()
	secrets = append(secrets, needle{"clinic API key", h.keyA}, needle{"clinic B API key", h.keyB}, needle{"Twilio auth token", authToken},
		needle{"SMTP password", smtpPassword}, needle{"unsubscribe secret", unsubSecret},
		needle{"unsubscribe token", unsub[strings.LastIndex(unsub, "/")+1:]})

	logs := h.logs.String()
	lines, byLevel := 0, map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		var rec map[string]any
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			t.Fatalf("log line is not JSON (%v): %.200s", err, raw)
		}
		// Search the values as logged (unescaped) as well as the raw line.
		line := raw + "\n" + strings.Join(flatten(rec), "\n")
		level, _ := rec["level"].(string)
		lines++
		byLevel[level]++
		for _, n := range secrets {
			if strings.Contains(line, n.s) {
				t.Errorf("%s in a %s log line: %.400s", n.what, level, line)
			}
		}
		for _, n := range personal {
			if !strings.Contains(line, n.s) {
				continue
			}
			if level == "DEBUG" || level == "INFO" {
				t.Errorf("%s in a %s log line: %.400s", n.what, level, line)
			} else {
				t.Logf("note: %s in a %s log line: %.300s", n.what, level, line)
			}
		}
	}
	if byLevel["INFO"] == 0 || byLevel["DEBUG"] == 0 {
		t.Fatalf("the run logged %v: the search would prove nothing", byLevel)
	}
	t.Logf("leaks: searched %d log lines %v for %d phone/email/body needles (%d message bodies) and %d secrets",
		lines, byLevel, len(personal), bodies, len(secrets))
}

// distinctive returns a 24-character stretch from the middle of a
// message text that is unlikely to occur anywhere else ("" for short
// texts).
func distinctive(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) < 40 {
		return ""
	}
	r := []rune(s)
	mid := len(r) / 2
	return string(r[mid-12 : mid+12])
}

// flatten returns every key and string value of a decoded JSON value.
func flatten(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case map[string]any:
		var out []string
		for k, x := range v {
			out = append(out, k)
			out = append(out, flatten(x)...)
		}
		return out
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, flatten(x)...)
		}
		return out
	}
	return nil
}
