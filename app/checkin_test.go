package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// enrollAs enrolls a patient named first in language ("" for the clinic's).
func (h *harness) enrollAs(treated time.Time, first, phone, language string) int64 {
	h.t.Helper()
	body := map[string]any{
		"first_name": first, "last_name": "Diaz", "phone": phone,
		"timezone": "America/New_York", "sms_consent": true,
		"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	}
	if language != "" {
		body["language"] = language
	}
	status, out := h.api("POST", "/v1/enrollments", body)
	if status != 201 {
		h.t.Fatalf("enroll: %d %v", status, out)
	}
	return int64(out["patient"].(map[string]any)["id"].(float64))
}

// lastTextTo returns the last text sent to a number after the first n.
func (h *harness) lastTextTo(n int, to string) string {
	h.t.Helper()
	got := h.textsTo(n, to)
	if len(got) == 0 {
		h.t.Fatalf("no text to %s", to)
	}
	return got[len(got)-1].Body
}

// Check-ins that branch, end to end on the virtual clock: the day 1
// question goes out at 09:00; "2" is reassured and asked again the next
// morning at 09:00 local; "1" is thanked; the trend reads "day 1: 2, day 2:
// 1"; "3" reaches staff and gets the red-flag answer; "2" after the window
// is an ordinary reply (a "3" then still reaches staff); a Spanish patient
// is answered in Spanish.
func TestCheckinsBranchEndToEnd(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(time.Minute))
	ctx := context.Background()
	const (
		ana, bea, cal, dora = "+14155550123", "+14155550124", "+14155550125", "+14155550126"
	)
	patients := map[string]int64{}
	for _, p := range []struct{ name, phone, lang string }{{"Ana", ana, ""}, {"Bea", bea, ""}, {"Cal", cal, ""}, {"Dora", dora, "es"}} {
		patients[p.phone] = h.enrollAs(treated, p.name, p.phone, p.lang)
	}
	day1 := time.Date(2026, 11, 26, 9, 0, 0, 0, ny)
	h.runUntil(day1.Add(-time.Minute))
	n := len(h.tw.Sent())
	h.runUntil(day1.Add(time.Minute))
	for phone, want := range map[string]string{ana: "How is your skin? Reply 1", bea: "How is your skin?", cal: "How is your skin?", dora: "Como va tu piel? Responde 1"} {
		if got := h.lastTextTo(n, phone); !strings.Contains(got, want) {
			t.Fatalf("day 1 09:00 text to %s: %q, want the question", phone, got)
		}
	}

	// Ana: "2" is reassured and a follow-up is planned for 09:00 tomorrow.
	h.clock.Set(day1.Add(30 * time.Minute))
	n, mails := len(h.tw.Sent()), len(h.mail.Messages())
	h.text(ana, fromNumber, " 2 ")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.lastTextTo(n, ana); !strings.Contains(got, "48-72 hours") || !strings.Contains(got, "check in tomorrow morning") {
		t.Fatalf("answer to 2: %q", got)
	}
	follow, err := h.app.Store.Messages(ctx, store.MessageFilter{ClinicID: h.clinic.ID, Step: "day1_checkin_follow_up"})
	day2 := time.Date(2026, 11, 27, 9, 0, 0, 0, ny)
	if err != nil || len(follow) != 1 || follow[0].PatientID != patients[ana] || !follow[0].SendAt.Equal(day2) {
		t.Fatalf("follow-up questions %+v, %v; want one for Ana at %s", follow, err, day2)
	}

	// Bea: "3" reaches staff at once and gets the red-flag answer.
	n = len(h.tw.Sent())
	h.text(bea, fromNumber, "3")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.textsTo(n, onCallPhone); len(got) != 1 || !strings.Contains(got[0].Body, "Bea") {
		t.Fatalf("on-call texts after a 3: %+v", got)
	}
	if got := h.mailsTo(mails, staffEmail); len(got) != 1 || !strings.Contains(got[0], "check-in answer 3") {
		t.Fatalf("alert emails after a 3: %q", got)
	}
	if got := h.lastTextTo(n, bea); !strings.Contains(got, "call") || !strings.Contains(got, "911") {
		t.Fatalf("answer to 3: %q, want the red-flag answer", got)
	}

	// Dora, in Spanish.
	n = len(h.tw.Sent())
	h.text(dora, fromNumber, "2.")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.lastTextTo(n, dora); !strings.Contains(got, "48-72 horas") {
		t.Fatalf("Spanish answer to 2: %q", got)
	}

	// The next morning: Ana's follow-up goes out at 09:00 and "1" is thanked.
	h.runUntil(day2.Add(-time.Minute))
	n = len(h.tw.Sent())
	h.runUntil(day2.Add(time.Minute))
	if got := h.lastTextTo(n, ana); !strings.Contains(got, "Good morning") || !strings.Contains(got, "Reply 1 if better") {
		t.Fatalf("follow-up: %q", got)
	}
	if got := h.lastTextTo(n, dora); !strings.Contains(got, "Buenos dias") {
		t.Fatalf("Spanish follow-up: %q", got)
	}
	h.clock.Set(day2.Add(20 * time.Minute))
	n = len(h.tw.Sent())
	h.text(ana, fromNumber, "1!")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.lastTextTo(n, ana); !strings.Contains(got, "Thank you") {
		t.Fatalf("answer to 1: %q", got)
	}
	answers, err := h.app.Store.CheckinAnswers(ctx, h.clinic.ID, patients[ana])
	if err != nil {
		t.Fatal(err)
	}
	if got := aftercare.CheckinTrend(answers); got != "day 1: 2, day 2: 1" {
		t.Fatalf("Ana's trend %q", got)
	}

	// Cal answers "2" after the question's 24 hours: an ordinary reply.
	h.clock.Set(day1.Add(25 * time.Hour))
	n = len(h.tw.Sent())
	h.text(cal, fromNumber, "2")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.lastTextTo(n, cal); !strings.Contains(got, "not watched around the clock") {
		t.Fatalf("late 2: %q, want the ordinary answer", got)
	}
	if got, _ := h.app.Store.CheckinAnswers(ctx, h.clinic.ID, patients[cal]); len(got) != 0 {
		t.Fatalf("late 2 recorded as an answer: %+v", got)
	}
	// A "3" after the window is not an answer, but still reaches staff.
	n = len(h.tw.Sent())
	h.advance(time.Minute)
	h.text(cal, fromNumber, "3")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.textsTo(n, onCallPhone); len(got) != 1 || !strings.Contains(got[0].Body, "Cal") {
		t.Fatalf("on-call texts after a late 3: %+v", got)
	}
	follow, _ = h.app.Store.Messages(ctx, store.MessageFilter{ClinicID: h.clinic.ID, Step: "day1_checkin_follow_up"})
	if len(follow) != 2 { // Ana's and Dora's
		t.Fatalf("follow-ups %d, want Ana's and Dora's only", len(follow))
	}
	list, err := h.app.Store.NotHealing(ctx, h.clinic.ID, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list {
		names = append(names, p.FirstName)
	}
	if strings.Join(names, ",") != "Dora,Bea" {
		t.Fatalf("not healing: %v, want Dora (2) and Bea (3), not Ana (1 since) or Cal (no answer in the window)", names)
	}
	// Ops count the answers recorded (Cal's late 3 is not one); the
	// clinic's outcomes count them for the week of the treatment.
	h.hasMetrics(t, `aftercare_checkin_answers_total{outcome="healing"} 1`,
		`aftercare_checkin_answers_total{outcome="not_healing"} 2`,
		`aftercare_checkin_answers_total{outcome="red_flag"} 1`)
	if status, st := h.api("GET", "/v1/stats?from=2026-11-23&to=2026-11-29", nil); status != 200 ||
		fmt.Sprint(st["total"].(map[string]any)["checkins"]) != "map[enrollments_answered:3 enrollments_not_healing:3 healing:1 not_healing:2 red_flag:1]" {
		t.Errorf("stats: %d %v", status, st["total"])
	}
}
