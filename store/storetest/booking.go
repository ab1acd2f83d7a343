package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// bookingSteps are the booking reminders of bookingPlan.
var bookingSteps = []string{"book_next", "last_call"}

// bookingPlan plans a welcome at t0, book_next on day 28 (stale day 35)
// and last_call on day 42 (stale day 45).
func bookingPlan(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
	day := 24 * time.Hour
	return []aftercare.Message{
		{Step: "welcome", Channel: aftercare.SMS, SendAt: t0, StaleAt: t0.Add(day), Status: aftercare.StatusScheduled, Body: "hi"},
		{Step: "book_next", Channel: aftercare.SMS, SendAt: t0.Add(28 * day), StaleAt: t0.Add(35 * day), Status: aftercare.StatusScheduled, Body: "book"},
		{Step: "last_call", Channel: aftercare.SMS, SendAt: t0.Add(42 * day), StaleAt: t0.Add(45 * day), Status: aftercare.StatusScheduled, Body: "last"},
	}, nil
}

func bookingEnroll(t *testing.T, s *store.Store, c aftercare.Clinic, phone, email string, session int) store.EnrollmentView {
	t.Helper()
	v, created, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: phone, Email: email, Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: session, SeriesLength: 3},
		Consents:   []aftercare.Consent{{Channel: aftercare.SMS, Granted: true, Method: aftercare.ConsentAPI, WordingVersion: aftercare.ConsentWordingVersion}},
		Plan:       bookingPlan,
	})
	if err != nil || !created {
		t.Fatalf("CreateEnrollment = %v, %v", created, err)
	}
	return v
}

// stepStatus returns the status of an enrollment's message of a step.
func stepStatus(t *testing.T, s *store.Store, clinicID, enrollmentID int64) map[string]aftercare.Message {
	t.Helper()
	v, err := s.Enrollment(context.Background(), clinicID, enrollmentID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]aftercare.Message{}
	for _, m := range v.Messages {
		out[m.Step] = m
	}
	return out
}

func wantSteps(t *testing.T, label string, got map[string]aftercare.Message, want map[string]aftercare.Status) {
	t.Helper()
	for step, st := range want {
		if got[step].Status != st {
			t.Errorf("%s: %s is %s, want %s", label, step, got[step].Status, st)
		}
	}
}

func booking(c aftercare.Clinic, appt, event, phone, email string, starts time.Time) store.BookingChange {
	return store.BookingChange{ClinicID: c.ID, AppointmentID: appt, Event: event, OccurredAt: t0, StartsAt: starts,
		Phone: phone, Email: email, Steps: bookingSteps}
}

func apply(t *testing.T, s *store.Store, ch store.BookingChange, wantOutcome string, wantRepeat bool) store.BookingEvent {
	t.Helper()
	ev, repeat, err := s.ApplyBooking(context.Background(), ch)
	if err != nil {
		t.Fatalf("ApplyBooking(%s %s) = %v", ch.Event, ch.AppointmentID, err)
	}
	if ev.Outcome != wantOutcome || repeat != wantRepeat {
		t.Fatalf("ApplyBooking(%s %s) = %s (%s), repeat %v; want %s, repeat %v", ch.Event, ch.AppointmentID,
			ev.Outcome, ev.Detail, repeat, wantOutcome, wantRepeat)
	}
	return ev
}

// testBookingSecretRotation: a clinic's booking secret is made once
// (again only by rotating), the rotated-out one verifies for 24 hours and
// no longer, another clinic sees none of them, and each change is audited
// without the secret.
func testBookingSecretRotation(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@other.example", Name: "Other", Phone: "+14155550199", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.BookingSecrets(ctx, c.ID); err != nil || len(got) != 0 {
		t.Fatalf("BookingSecrets before any = %v, %v", got, err)
	}
	first, err := s.SetBookingSecret(ctx, c.ID, false)
	if err != nil || !strings.HasPrefix(first, store.BookingSecretPrefix) || len(first) != len(store.BookingSecretPrefix)+64 {
		t.Fatalf("SetBookingSecret = %q, %v", first, err)
	}
	if _, err := s.SetBookingSecret(ctx, c.ID, false); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Fatalf("second SetBookingSecret without rotate = %v, want ECONFLICT", err)
	}
	if _, err := s.SetBookingSecret(ctx, 9999, false); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("SetBookingSecret of a missing clinic = %v, want ENOTFOUND", err)
	}
	clock.Advance(time.Hour)
	second, err := s.SetBookingSecret(ctx, c.ID, true)
	if err != nil || second == first {
		t.Fatalf("rotate = %q, %v", second, err)
	}
	got, err := s.BookingSecrets(ctx, c.ID)
	if err != nil || len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("BookingSecrets after rotation = %d secrets, %v; want the new one, then the old one", len(got), err)
	}
	info, err := s.BookingSecretInfo(ctx, c.ID)
	if err != nil || !info.Has() || !info.PreviousUntil.Equal(clock.Now().Add(store.BookingSecretOverlap).Truncate(time.Millisecond)) {
		t.Fatalf("BookingSecretInfo = %+v, %v", info, err)
	}
	if got, _ := s.BookingSecrets(ctx, other.ID); len(got) != 0 {
		t.Fatalf("the other clinic sees %d secrets", len(got))
	}
	clock.Advance(store.BookingSecretOverlap + time.Second)
	if got, _ := s.BookingSecrets(ctx, c.ID); len(got) != 1 || got[0] != second {
		t.Fatalf("BookingSecrets a day after rotation = %d secrets, want only the new one", len(got))
	}
	rows, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditBookingSecret})
	if err != nil || len(rows) != 2 {
		t.Fatalf("audit rows = %d, %v; want 2", len(rows), err)
	}
	for _, r := range rows {
		if strings.Contains(r.Detail, first[len(store.BookingSecretPrefix):20]) || strings.Contains(r.Detail, second[len(store.BookingSecretPrefix):20]) {
			t.Errorf("audit detail holds the secret: %q", r.Detail)
		}
	}
}

// testBookingCancelsAndReopensReminders: a booking cancels the patient's
// pending booking reminders (only those) with a reason naming the
// appointment; a repeat changes nothing; its cancellation brings back the
// ones still useful and says why not for the others.
func testBookingCancelsAndReopensReminders(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	const phone = "+14155550123"
	v := bookingEnroll(t, s, c, phone, "ana@example.com", 1)
	day := 24 * time.Hour

	ev := apply(t, s, booking(c, "A-1", aftercare.BookingBooked, phone, "", t0.Add(30*day)), store.BookingRemindersCancelled, false)
	if ev.PatientID != v.Patient.ID || ev.Messages != 2 {
		t.Fatalf("booked = %+v; want patient %d, 2 messages", ev, v.Patient.ID)
	}
	got := stepStatus(t, s, c.ID, v.Enrollment.ID)
	wantSteps(t, "after booking", got, map[string]aftercare.Status{"welcome": aftercare.StatusScheduled,
		"book_next": aftercare.StatusCancelled, "last_call": aftercare.StatusCancelled})
	if r := got["book_next"].Reason; !strings.Contains(r, `"A-1"`) {
		t.Errorf("cancel reason %q does not name the appointment", r)
	}
	// A repeat answers the first outcome and changes nothing.
	again := apply(t, s, booking(c, "A-1", aftercare.BookingBooked, phone, "", t0.Add(31*day)), store.BookingRemindersCancelled, true)
	if again.ID != ev.ID || !again.StartsAt.Equal(ev.StartsAt) {
		t.Fatalf("repeat = %+v, want the first event %+v", again, ev)
	}
	rows, _ := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditBookingEvent})
	if len(rows) != 1 || rows[0].PatientID != v.Patient.ID {
		t.Fatalf("audit rows of the booking = %+v, want one for the patient", rows)
	}

	apply(t, s, booking(c, "A-1", aftercare.BookingCancelled, phone, "", time.Time{}), store.BookingRemindersReopened, false)
	wantSteps(t, "after cancellation", stepStatus(t, s, c.ID, v.Enrollment.ID), map[string]aftercare.Status{
		"book_next": aftercare.StatusScheduled, "last_call": aftercare.StatusScheduled})
	apply(t, s, booking(c, "A-1", aftercare.BookingCancelled, phone, "", time.Time{}), store.BookingRemindersReopened, true)

	// Booked again on day 36, cancelled on day 37: book_next is past its
	// stale time and stays cancelled; last_call comes back.
	clock.Set(t0.Add(36 * day))
	apply(t, s, booking(c, "A-2", aftercare.BookingBooked, "", "ANA@example.com", t0.Add(50*day)), store.BookingRemindersCancelled, false)
	clock.Set(t0.Add(37 * day))
	ev = apply(t, s, booking(c, "A-2", aftercare.BookingCancelled, "", "", time.Time{}), store.BookingRemindersReopened, false)
	if ev.Messages != 1 || !strings.Contains(ev.Detail, "1 not reopened: past the time") {
		t.Fatalf("late cancellation = %+v; want 1 reopened, 1 stale", ev)
	}
	wantSteps(t, "after a late cancellation", stepStatus(t, s, c.ID, v.Enrollment.ID), map[string]aftercare.Status{
		"book_next": aftercare.StatusCancelled, "last_call": aftercare.StatusScheduled})

	// A later session enrolled: the series moved on, nothing comes back.
	apply(t, s, booking(c, "A-3", aftercare.BookingBooked, phone, "", t0.Add(40*day)), store.BookingRemindersCancelled, false)
	bookingEnroll(t, s, c, phone, "ana@example.com", 2)
	ev = apply(t, s, booking(c, "A-3", aftercare.BookingCancelled, phone, "", time.Time{}), store.BookingNotReopened, false)
	if !strings.Contains(ev.Detail, "a later session was enrolled") {
		t.Errorf("detail %q does not say the series moved on", ev.Detail)
	}
	wantSteps(t, "after the next session", stepStatus(t, s, c.ID, v.Enrollment.ID), map[string]aftercare.Status{
		"last_call": aftercare.StatusCancelled})

	counts, err := s.BookingEventCounts(ctx, c.ID, t0, t0.Add(time.Minute))
	if err != nil || counts[aftercare.BookingBooked] != 3 || counts[aftercare.BookingCancelled] != 3 || len(counts) != 2 {
		t.Fatalf("BookingEventCounts = %v, %v; want 3 booked, 3 cancelled", counts, err)
	}
	if counts, _ := s.BookingEventCounts(ctx, c.ID, t0.Add(time.Minute), t0.Add(time.Hour)); len(counts) != 0 {
		t.Fatalf("BookingEventCounts outside the range = %v", counts)
	}
}

// testBookingEventsOutOfOrder: a cancellation that arrives before its
// booking leaves the reminders pending when the booking comes; another
// standing booking keeps them cancelled; patients are matched within the
// clinic only.
func testBookingEventsOutOfOrder(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	ctx := context.Background()
	const phone = "+14155550123"
	v := bookingEnroll(t, s, c, phone, "ana@example.com", 1)
	ahead := t0.Add(30 * 24 * time.Hour)
	pending := map[string]aftercare.Status{"book_next": aftercare.StatusScheduled, "last_call": aftercare.StatusScheduled}
	cancelled := map[string]aftercare.Status{"book_next": aftercare.StatusCancelled, "last_call": aftercare.StatusCancelled}

	apply(t, s, booking(c, "B-1", aftercare.BookingCancelled, phone, "", ahead), store.BookingNotBooked, false)
	apply(t, s, booking(c, "B-1", aftercare.BookingBooked, phone, "", ahead), store.BookingAlreadyCancelled, false)
	wantSteps(t, "cancelled before booked", stepStatus(t, s, c.ID, v.Enrollment.ID), pending)

	// Two bookings: cancelling one keeps the reminders cancelled.
	apply(t, s, booking(c, "B-2", aftercare.BookingBooked, phone, "", ahead), store.BookingRemindersCancelled, false)
	apply(t, s, booking(c, "B-3", aftercare.BookingBooked, phone, "", ahead), store.BookingNothingPending, false)
	ev := apply(t, s, booking(c, "B-2", aftercare.BookingCancelled, phone, "", ahead), store.BookingNotReopened, false)
	if !strings.Contains(ev.Detail, `"B-3"`) {
		t.Errorf("detail %q does not name the standing booking", ev.Detail)
	}
	wantSteps(t, "one of two bookings cancelled", stepStatus(t, s, c.ID, v.Enrollment.ID), cancelled)
	apply(t, s, booking(c, "B-3", aftercare.BookingCancelled, phone, "", ahead), store.BookingRemindersReopened, false)
	wantSteps(t, "both cancelled", stepStatus(t, s, c.ID, v.Enrollment.ID), pending)

	// A time already past changes nothing.
	apply(t, s, booking(c, "B-4", aftercare.BookingBooked, phone, "", t0.Add(-time.Hour)), store.BookingPast, false)

	// Another clinic's booking system cannot reach this clinic's patient,
	// even with the same phone and appointment id.
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@other.example", Name: "Other", Phone: "+14155550199", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, booking(other, "B-5", aftercare.BookingBooked, phone, "ana@example.com", ahead), store.BookingNoPatient, false)
	apply(t, s, booking(other, "B-3", aftercare.BookingCancelled, phone, "", ahead), store.BookingNotBooked, false)
	wantSteps(t, "other clinic's events", stepStatus(t, s, c.ID, v.Enrollment.ID), pending)

	// An appointment.completed recorded elsewhere is kept once.
	rec := store.BookingEvent{ClinicID: c.ID, AppointmentID: "B-6", Event: aftercare.BookingCompleted, OccurredAt: t0,
		PatientID: v.Patient.ID, EnrollmentID: v.Enrollment.ID, Outcome: store.BookingEnrolled}
	first, created, err := s.RecordBookingEvent(ctx, rec)
	if err != nil || !created || first.ID == 0 {
		t.Fatalf("RecordBookingEvent = %+v, %v, %v", first, created, err)
	}
	rec.Outcome = "something else"
	again, created, err := s.RecordBookingEvent(ctx, rec)
	if err != nil || created || again.ID != first.ID || again.Outcome != store.BookingEnrolled {
		t.Fatalf("repeat RecordBookingEvent = %+v, %v, %v; want the first", again, created, err)
	}
	if got, ok, err := s.BookingEvent(ctx, c.ID, "B-6", aftercare.BookingCompleted); err != nil || !ok || got.EnrollmentID != v.Enrollment.ID {
		t.Fatalf("BookingEvent = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := s.BookingEvent(ctx, other.ID, "B-6", aftercare.BookingCompleted); ok {
		t.Fatal("another clinic reads this clinic's booking event")
	}
}

// testBookingHoldsLaterEnrollments: an enrollment made while an
// appointment stands (the next session booked before the last one was
// reported completed) has its booking reminders held, and the
// appointment's cancellation brings back only the new plan's.
func testBookingHoldsLaterEnrollments(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	ctx := context.Background()
	const phone = "+14155550123"
	v1 := bookingEnroll(t, s, c, phone, "", 1)
	if n, appt, err := s.HoldBookingReminders(ctx, c.ID, v1.Patient.ID, bookingSteps); err != nil || n != 0 || appt != "" {
		t.Fatalf("HoldBookingReminders with nothing booked = %d, %q, %v", n, appt, err)
	}
	apply(t, s, booking(c, "H-1", aftercare.BookingBooked, phone, "", t0.Add(30*24*time.Hour)), store.BookingRemindersCancelled, false)
	v2 := bookingEnroll(t, s, c, phone, "", 2)
	n, appt, err := s.HoldBookingReminders(ctx, c.ID, v2.Patient.ID, bookingSteps)
	if err != nil || n != 2 || appt != "H-1" {
		t.Fatalf("HoldBookingReminders = %d, %q, %v; want 2 held by H-1", n, appt, err)
	}
	got := stepStatus(t, s, c.ID, v2.Enrollment.ID)
	wantSteps(t, "held", got, map[string]aftercare.Status{"welcome": aftercare.StatusScheduled,
		"book_next": aftercare.StatusCancelled, "last_call": aftercare.StatusCancelled})
	if !strings.Contains(got["book_next"].Reason, `"H-1"`) {
		t.Errorf("held reason %q does not name the appointment", got["book_next"].Reason)
	}
	ev := apply(t, s, booking(c, "H-1", aftercare.BookingCancelled, phone, "", time.Time{}), store.BookingRemindersReopened, false)
	if ev.Messages != 2 || !strings.Contains(ev.Detail, "2 not reopened: a later session was enrolled") {
		t.Fatalf("cancellation = %+v; want session 2's two back, session 1's not", ev)
	}
	wantSteps(t, "session 2 after the cancellation", stepStatus(t, s, c.ID, v2.Enrollment.ID), map[string]aftercare.Status{
		"book_next": aftercare.StatusScheduled, "last_call": aftercare.StatusScheduled})
	wantSteps(t, "session 1 after the cancellation", stepStatus(t, s, c.ID, v1.Enrollment.ID), map[string]aftercare.Status{
		"book_next": aftercare.StatusCancelled, "last_call": aftercare.StatusCancelled})
}
