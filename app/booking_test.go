package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/store"
)

// booking posts a booking system's event to the clinic's webhook, signed
// with secret at the virtual clock's time, and returns the status and
// answer.
func (h *harness) booking(secret string, ev map[string]any) (int, api.BookingResult) {
	h.t.Helper()
	body, _ := json.Marshal(ev)
	ts := strconv.FormatInt(h.clock.Now().Unix(), 10)
	req, _ := http.NewRequest("POST", h.base+"/v1/webhooks/booking/"+itoa(h.clinic.ID), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderBookingTimestamp, ts)
	req.Header.Set(api.HeaderBookingSignature, "v1="+hex.EncodeToString(api.SignBooking(secret, ts, body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out api.BookingResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("booking answer %s: %v", raw, err)
		}
	} else {
		h.t.Logf("booking answer %d: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// stepTexts returns each step's text of an enrollment.
func (h *harness) stepTexts(enrollmentID int64) map[string]aftercare.Message {
	h.t.Helper()
	v, err := h.app.Store.Enrollment(context.Background(), h.clinic.ID, enrollmentID)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]aftercare.Message{}
	for _, m := range v.Messages {
		if m.Channel == aftercare.SMS {
			out[m.Step] = m
		}
	}
	return out
}

// bookingTexts counts the texts the loopback Twilio API took for phone whose
// body holds part.
func (h *harness) bookingTexts(phone, part string) int {
	n := 0
	for _, m := range h.tw.Sent() {
		if m.To == phone && strings.Contains(m.Body, part) {
			n++
		}
	}
	return n
}

// TestEndToEndBookingSystem: on the virtual clock, a booking system's
// appointment.completed enrolls the patient (audited as the booking
// system) and the welcome text goes out; appointment.booked cancels the
// "book your next session" reminders, which are not sent on day 28;
// appointment.cancelled brings them back and the reminder is sent.
func TestEndToEndBookingSystem(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 14, 30, 0, 0, ny)
	h := newHarness(t, treated.Add(5*time.Minute))
	ctx := context.Background()
	secret, err := h.app.Store.SetBookingSecret(ctx, h.clinic.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	const phone = "+14155550123"
	patient := map[string]any{"first_name": "Ana", "last_name": "Diaz", "phone": phone, "email": "ana@example.com",
		"timezone": "America/New_York"}

	status, res := h.booking(secret, map[string]any{"event": "appointment.completed", "appointment_id": "apt-100",
		"occurred_at": h.clock.Now().Format(time.RFC3339), "treatment": "microneedling",
		"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3, "patient": patient,
		"consent": map[string]any{"sms": true, "email": true, "wording_version": "frontdesk-v3"}})
	if status != http.StatusOK || res.Outcome != store.BookingEnrolled || res.EnrollmentID == 0 {
		t.Fatalf("completed: %d %+v", status, res)
	}
	enrollment := res.EnrollmentID
	h.runUntil(treated.Add(time.Hour))
	if got := h.stepTexts(enrollment)["welcome"].Status; got != aftercare.StatusSent && got != aftercare.StatusDelivered {
		t.Fatalf("welcome text is %s an hour after the appointment completed", got)
	}
	if h.bookingTexts(phone, "Glow Clinic") == 0 {
		t.Fatal("no text reached the patient")
	}
	rows, err := h.app.Store.AuditLog(ctx, store.AuditFilter{ClinicID: h.clinic.ID, Action: aftercare.AuditEnroll})
	if err != nil || len(rows) != 1 || rows[0].Actor.Kind != aftercare.ActorBookingSystem || rows[0].Actor.ID != h.clinic.ID {
		t.Fatalf("enroll audit = %+v, %v; want one row by the booking system of clinic %d", rows, err, h.clinic.ID)
	}

	// Day 20: the patient books session 2 for day 33.
	h.runUntil(treated.AddDate(0, 0, 20))
	status, res = h.booking(secret, map[string]any{"event": "appointment.booked", "appointment_id": "apt-200",
		"occurred_at": h.clock.Now().Format(time.RFC3339), "starts_at": treated.AddDate(0, 0, 33).Format(time.RFC3339),
		"patient": map[string]any{"phone": phone}})
	if status != http.StatusOK || res.Outcome != store.BookingRemindersCancelled {
		t.Fatalf("booked: %d %+v", status, res)
	}
	texts := h.stepTexts(enrollment)
	for _, step := range []string{"book_next", "last_call"} {
		if m := texts[step]; m.Status != aftercare.StatusCancelled || !strings.Contains(m.Reason, "apt-200") {
			t.Errorf("%s after booking: %s %q", step, m.Status, m.Reason)
		}
	}
	// Day 28 passes: no "book your next session" text.
	h.runUntil(treated.AddDate(0, 0, 29))
	if n := h.bookingTexts(phone, "time to book"); n != 0 {
		t.Fatalf("%d booking reminders sent while the appointment stood", n)
	}

	// Day 30, 10:00: the appointment is cancelled; the reminder (worth
	// sending until day 35) comes back and goes out.
	h.runUntil(time.Date(2026, 12, 25, 10, 0, 0, 0, ny))
	status, res = h.booking(secret, map[string]any{"event": "appointment.cancelled", "appointment_id": "apt-200",
		"occurred_at": h.clock.Now().Format(time.RFC3339), "patient": map[string]any{"phone": phone}})
	if status != http.StatusOK || res.Outcome != store.BookingRemindersReopened {
		t.Fatalf("cancelled: %d %+v", status, res)
	}
	h.runUntil(time.Date(2026, 12, 25, 12, 0, 0, 0, ny))
	if n := h.bookingTexts(phone, "time to book"); n != 1 {
		t.Fatalf("%d booking reminders sent after the cancellation, want 1", n)
	}
	if got := h.stepTexts(enrollment)["book_next"].Status; got != aftercare.StatusSent && got != aftercare.StatusDelivered {
		t.Fatalf("book_next is %s after the cancellation", got)
	}
	if err := h.app.Store.CheckTransitions(ctx); err != nil {
		t.Fatal(err)
	}
	h.hasMetrics(t, `aftercare_enrollments_total{source="booking_webhook",treatment="microneedling"} 1`,
		`aftercare_booking_events_total{event="appointment.booked"} 1`,
		`aftercare_booking_events_total{event="appointment.cancelled"} 1`,
		`aftercare_booking_events_total{event="appointment.completed"} 1`)
	// The daemon logged each booking event, and neither the secret nor
	// who the patient is.
	logs := h.logs.String()
	if strings.Count(logs, `"msg":"booking event"`) != 3 {
		t.Fatalf("no log line of the booking webhook:\n%s", logs)
	}
	for _, leak := range []string{secret, phone, "ana@example.com", "Diaz"} {
		if strings.Contains(logs, leak) {
			t.Fatalf("the logs hold %q", leak)
		}
	}
}
