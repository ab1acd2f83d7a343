package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func testEnrollmentIsStoredWithPlanAndEvents(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	v := Enroll(t, s, c, "+14155550123", 1, 3)
	if len(v.Messages) != 3 || len(v.Consents) != 1 {
		t.Fatalf("got %d messages, %d consents", len(v.Messages), len(v.Consents))
	}
	for _, m := range v.Messages {
		if m.Status != aftercare.StatusScheduled || len(m.Events) != 1 || m.Events[0].To != aftercare.StatusScheduled {
			t.Errorf("message %d: status %s events %+v", m.ID, m.Status, m.Events)
		}
	}
	// Another clinic cannot see it.
	other, _, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550199", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrollment(context.Background(), other.ID, v.Enrollment.ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("cross-clinic read: err = %v, want not found", err)
	}
}

func testIdempotentEnrollment(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	in := store.NewEnrollment{
		Patient:        aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: "+14155550123", Timezone: "UTC"},
		Enrollment:     aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 3},
		IdempotencyKey: "k1", RequestHash: "h1", Plan: plan(2),
	}
	v1, created1, err := s.CreateEnrollment(context.Background(), in)
	if err != nil || !created1 {
		t.Fatal(created1, err)
	}
	v2, created2, err := s.CreateEnrollment(context.Background(), in)
	if err != nil || created2 || v2.Enrollment.ID != v1.Enrollment.ID {
		t.Fatalf("repeat: created=%v id=%d err=%v", created2, v2.Enrollment.ID, err)
	}
	in.RequestHash = "different"
	if _, _, err := s.CreateEnrollment(context.Background(), in); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Fatalf("same key, different body: err = %v, want conflict", err)
	}
	counts, _ := s.CountByStatus(context.Background())
	if counts[aftercare.StatusScheduled] != 2 {
		t.Fatalf("scheduled = %d, want 2 (no duplicate plan)", counts[aftercare.StatusScheduled])
	}
}

func testFailedPlanWritesNothing(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	_, _, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", Phone: "+14155550123", Timezone: "UTC"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 1},
		Plan: func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
			// Two rows with the same unique key: the second insert fails.
			m := aftercare.Message{Step: "x", Channel: aftercare.SMS, SendAt: t0, StaleAt: t0.Add(time.Hour), Status: aftercare.StatusScheduled}
			return []aftercare.Message{m, m}, nil
		},
	})
	if err == nil {
		t.Fatal("want error for duplicate planned message")
	}
	if ps, _ := s.SearchPatients(context.Background(), c.ID, "", 10); len(ps) != 0 {
		t.Fatalf("patient written despite failed enrollment: %+v", ps)
	}
}

func testClaimRecordAndTransitions(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	Enroll(t, s, c, "+14155550123", 1, 5)
	clock.Set(t0.Add(2*time.Minute + time.Second))
	batch, err := s.Claim(ctx, clock.Now(), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != 3 {
		t.Fatalf("claimed %d, want 3 due", len(batch))
	}
	for i, b := range batch {
		if b.Message.Occurrence != i || b.Message.Attempts != 1 || b.Patient.Phone != "+14155550123" || b.Clinic.Name != "Glow" {
			t.Fatalf("claim %d = %+v", i, b)
		}
	}
	// Nothing else is due: a second claim is empty (no double claim).
	if again, _ := s.Claim(ctx, clock.Now(), 10, time.Minute); len(again) != 0 {
		t.Fatalf("second claim got %d", len(again))
	}
	now := clock.Now()
	n, err := s.Record(ctx, []store.Outcome{
		{ID: batch[0].Message.ID, Kind: store.OutcomeSent, At: now, ProviderID: "SM1"},
		{ID: batch[1].Message.ID, Kind: store.OutcomeFailed, At: now, ErrorCode: "21211", Reason: "invalid number"},
		{ID: batch[2].Message.ID, Kind: store.OutcomeRetry, At: now, NextAttemptAt: now.Add(time.Minute), Error: "500", Ambiguous: true},
	})
	if err != nil || n != 3 {
		t.Fatalf("Record = %d, %v", n, err)
	}
	// A repeated outcome does not apply twice.
	if n, _ := s.Record(ctx, []store.Outcome{{ID: batch[0].Message.ID, Kind: store.OutcomeFailed, At: now}}); n != 0 {
		t.Fatalf("outcome for a message not in sending applied")
	}
	m0, _ := s.Message(ctx, batch[0].Message.ID)
	m1, _ := s.Message(ctx, batch[1].Message.ID)
	m2, _ := s.Message(ctx, batch[2].Message.ID)
	if m0.Status != aftercare.StatusSent || m0.ProviderID != "SM1" || len(m0.Events) != 3 {
		t.Errorf("sent message: %+v", m0)
	}
	if m1.Status != aftercare.StatusFailed || m1.ErrorCode != "21211" || m1.Reason != "invalid number" {
		t.Errorf("failed message: %+v", m1)
	}
	if m2.Status != aftercare.StatusScheduled || !m2.Ambiguous || !m2.NextAttemptAt.Equal(now.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("retried message: %+v", m2)
	}

	// Receipts move forward only.
	if _, changed, err := s.ApplyReceipt(ctx, store.Receipt{ProviderID: "SM1", Status: aftercare.StatusDelivered, At: now}); err != nil || !changed {
		t.Fatalf("delivered receipt: changed=%v err=%v", changed, err)
	}
	if _, changed, _ := s.ApplyReceipt(ctx, store.Receipt{ProviderID: "SM1", Status: aftercare.StatusFailed, At: now}); changed {
		t.Fatal("failed receipt after delivered changed the message")
	}
	if _, _, err := s.ApplyReceipt(ctx, store.Receipt{ProviderID: "nope", Status: aftercare.StatusDelivered, At: now}); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("unknown provider id: %v", err)
	}
}

func testLeaseRecoveryAfterCrash(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	Enroll(t, s, c, "+14155550123", 1, 1)
	batch, err := s.Claim(ctx, clock.Now(), 10, time.Minute)
	if err != nil || len(batch) != 1 {
		t.Fatal(len(batch), err)
	}
	// The process "crashes": no outcome is recorded.
	if n, _ := s.RecoverLeases(ctx, clock.Now().Add(30*time.Second)); n != 0 {
		t.Fatalf("recovered %d before the lease expired", n)
	}
	clock.Set(t0.Add(2 * time.Minute))
	if n, err := s.RecoverLeases(ctx, clock.Now()); err != nil || n != 1 {
		t.Fatalf("RecoverLeases = %d, %v", n, err)
	}
	m, _ := s.Message(ctx, batch[0].Message.ID)
	if m.Status != aftercare.StatusScheduled || !m.Ambiguous {
		t.Fatalf("recovered message: %+v", m)
	}
	again, _ := s.Claim(ctx, clock.Now(), 10, time.Minute)
	if len(again) != 1 || !again[0].Message.Ambiguous || again[0].Message.Attempts != 2 {
		t.Fatalf("reclaim: %+v", again)
	}
	// The late outcome of the crashed attempt cannot overwrite the new claim's state twice.
	if n, _ := s.Record(ctx, []store.Outcome{{ID: m.ID, Kind: store.OutcomeSent, At: clock.Now(), ProviderID: "SMx"}}); n != 1 {
		t.Fatal("outcome of the new attempt not applied")
	}
}

func testSkipStale(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	Enroll(t, s, c, "+14155550123", 1, 2)
	// Make one message an attempted-and-retrying one.
	b, _ := s.Claim(ctx, clock.Now(), 1, time.Minute)
	s.Record(ctx, []store.Outcome{{ID: b[0].Message.ID, Kind: store.OutcomeRetry, At: clock.Now(), NextAttemptAt: clock.Now().Add(48 * time.Hour), Error: "boom"}})
	clock.Set(t0.Add(25 * time.Hour))
	n, err := s.SkipStale(ctx, clock.Now())
	if err != nil || n != 2 {
		t.Fatalf("SkipStale = %d, %v", n, err)
	}
	counts, _ := s.CountByStatus(ctx)
	if counts[aftercare.StatusSkipped] != 1 || counts[aftercare.StatusFailed] != 1 {
		t.Fatalf("counts = %v, want 1 skipped (never tried) and 1 failed (retries ran out)", counts)
	}
}

func testOptOutAndSupersede(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	ctx := context.Background()
	v1 := Enroll(t, s, c, "+14155550123", 1, 3)
	v2 := Enroll(t, s, c, "+14155550123", 2, 3)
	if v1.Patient.ID != v2.Patient.ID {
		t.Fatalf("same phone made two patients")
	}
	old, _ := s.Enrollment(ctx, c.ID, v1.Enrollment.ID)
	for _, m := range old.Messages {
		if m.Status != aftercare.StatusCancelled {
			t.Errorf("session 1 message %d is %s after session 2 enrolled", m.ID, m.Status)
		}
	}
	n, err := s.SetOptOut(ctx, v2.Patient.ID, aftercare.SMS, true, aftercare.ConsentSMSReply, "STOP")
	if err != nil || n != 3 {
		t.Fatalf("SetOptOut = %d, %v", n, err)
	}
	p, _ := s.Patient(ctx, c.ID, v2.Patient.ID)
	if !p.SMSOptOut {
		t.Fatal("patient not opted out")
	}
	cons, _ := s.Consents(ctx, p.ID)
	last := cons[len(cons)-1]
	if last.Granted || last.Method != aftercare.ConsentSMSReply || last.Channel != aftercare.SMS {
		t.Fatalf("revocation evidence = %+v", last)
	}
	// Re-enrolling keeps the opt-out.
	v3 := Enroll(t, s, c, "+14155550123", 3, 1)
	if !v3.Patient.SMSOptOut {
		t.Fatal("opt-out lost on re-enrollment")
	}
}

func testCancelEnrollment(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	ctx := context.Background()
	v := Enroll(t, s, c, "+14155550123", 1, 4)
	other, _, _ := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550199", Timezone: "UTC"})
	if _, err := s.CancelEnrollment(ctx, other.ID, v.Enrollment.ID, ""); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("cross-clinic cancel: %v", err)
	}
	n, err := s.CancelEnrollment(ctx, c.ID, v.Enrollment.ID, "")
	if err != nil || n != 4 {
		t.Fatalf("cancel = %d, %v", n, err)
	}
	got, _ := s.Enrollment(ctx, c.ID, v.Enrollment.ID)
	if !got.Enrollment.Cancelled {
		t.Fatal("enrollment not marked cancelled")
	}
}

func testReopenKeepsData(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s := drv.Open(t, store.Options{})
	c, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "A", Phone: "+14155550100", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := drv.Reopen(t, s, store.Options{})
	if got, err := s2.Clinic(ctx, c.ID); err != nil || got.Name != "A" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if err := s2.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
