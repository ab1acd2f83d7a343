package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func newEnrollment(c aftercare.Clinic, phone, email string, session int) store.NewEnrollment {
	return store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: phone, Email: email, Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: session, SeriesLength: 3},
		Plan:       plan(3),
	}
}

// TestDuplicateEnrollmentRefused: a second active enrollment of the same
// patient, treatment and session (two form submits, two API calls without
// an Idempotency-Key) is refused with the existing one named, and writes
// nothing; with Replace it cancels the first one's pending messages in the
// same transaction.
func testDuplicateEnrollmentRefused(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	for _, id := range []struct{ name, phone, email string }{
		{"by phone", "+14155550123", "ana@example.com"},
		{"by email, no phone", "", "Ana@Example.com"},
	} {
		t.Run(id.name, func(t *testing.T) {
			s, _, c := Setup(t, drv.Open)
			first, created, err := s.CreateEnrollment(ctx, newEnrollment(c, id.phone, id.email, 1))
			if err != nil || !created {
				t.Fatal(created, err)
			}
			before, _ := s.CountByStatus(ctx)
			again := newEnrollment(c, id.phone, strings.ToLower(id.email), 1)
			again.Patient.FirstName = "Ana María" // a retyped form differs a little
			_, _, err = s.CreateEnrollment(ctx, again)
			var dup *store.DuplicateEnrollmentError
			if !errors.As(err, &dup) || dup.Existing.ID != first.Enrollment.ID || aftercare.ErrorCode(err) != aftercare.ECONFLICT {
				t.Fatalf("second enrollment: err = %v, want a duplicate of enrollment %d", err, first.Enrollment.ID)
			}
			if after, _ := s.CountByStatus(ctx); after[aftercare.StatusScheduled] != before[aftercare.StatusScheduled] {
				t.Fatalf("refused duplicate changed the outbox: %v -> %v", before, after)
			}
			if p, _ := s.Patient(ctx, c.ID, first.Patient.ID); p.FirstName != "Ana" {
				t.Fatalf("refused duplicate updated the patient: %q", p.FirstName)
			}

			// The next session is not a duplicate.
			if _, _, err := s.CreateEnrollment(ctx, newEnrollment(c, id.phone, id.email, 2)); err != nil {
				t.Fatalf("session 2: %v", err)
			}
			// Session 2 again, replacing: the first session-2 enrollment is
			// cancelled with a reason, the new one scheduled.
			s2, err := s.Enrollments(ctx, c.ID, first.Patient.ID)
			if err != nil || len(s2) != 2 {
				t.Fatalf("enrollments: %v %v", s2, err)
			}
			old := s2[0]
			repl := newEnrollment(c, id.phone, id.email, 2)
			repl.Replace = true
			v, created, err := s.CreateEnrollment(ctx, repl)
			if err != nil || !created || v.Enrollment.ID == old.ID {
				t.Fatalf("replace: %v %v", created, err)
			}
			ov, err := s.Enrollment(ctx, c.ID, old.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !ov.Enrollment.Cancelled {
				t.Error("replaced enrollment not cancelled")
			}
			for _, m := range ov.Messages {
				if m.Status != aftercare.StatusCancelled || !strings.Contains(m.Reason, "replaced") {
					t.Errorf("replaced enrollment's message %d: %s %q", m.ID, m.Status, m.Reason)
				}
			}
			if pv, _ := s.Enrollments(ctx, c.ID, first.Patient.ID); len(pv) != 3 {
				t.Errorf("%d enrollments, want 3 (one patient throughout)", len(pv))
			}
		})
	}
}

// TestFinishedSessionIsNotADuplicate: an enrollment with nothing left to
// send (a series finished long ago, a new series starts at session 1) or a
// cancelled one does not block a new one.
func testFinishedSessionIsNotADuplicate(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	first, _, err := s.CreateEnrollment(ctx, newEnrollment(c, "+14155550123", "", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelEnrollment(ctx, c.ID, first.Enrollment.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, created, err := s.CreateEnrollment(ctx, newEnrollment(c, "+14155550123", "", 1)); err != nil || !created {
		t.Fatalf("after cancelling: %v %v", created, err)
	}
}

// TestEmailOnlyAndPhoneOnlyPatients: patients without a phone are told
// apart by their email address, and a phone added later joins the same
// patient.
func testEmailOnlyAndPhoneOnlyPatients(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	a, _, err := s.CreateEnrollment(ctx, newEnrollment(c, "", "ana@example.com", 1))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.CreateEnrollment(ctx, newEnrollment(c, "", "bea@example.com", 1))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := s.CreateEnrollment(ctx, newEnrollment(c, "+14155550123", "", 1))
	if err != nil {
		t.Fatal(err)
	}
	if a.Patient.ID == b.Patient.ID || a.Patient.ID == p.Patient.ID || a.Patient.Phone != "" || p.Patient.Email != "" {
		t.Fatalf("patients %+v %+v %+v", a.Patient, b.Patient, p.Patient)
	}
	// Ana comes back with a phone for session 2: the same patient.
	v, _, err := s.CreateEnrollment(ctx, newEnrollment(c, "+14155550124", "ana@example.com", 2))
	if err != nil {
		t.Fatal(err)
	}
	if v.Patient.ID != a.Patient.ID || v.Patient.Phone != "+14155550124" {
		t.Fatalf("Ana with a phone: patient %d %q, want %d", v.Patient.ID, v.Patient.Phone, a.Patient.ID)
	}
}
