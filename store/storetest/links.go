package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// enrollWithLink enrolls a patient at clinic c with a page link whose
// token hash is hash.
func enrollWithLink(t *testing.T, s *store.Store, c aftercare.Clinic, phone, hash string) store.EnrollmentView {
	t.Helper()
	v, _, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", Phone: phone, Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 3},
		Consents:   []aftercare.Consent{{Channel: aftercare.SMS, Granted: true, Method: aftercare.ConsentAPI, WordingVersion: aftercare.ConsentWordingVersion}},
		Plan:       plan(1),
		Link:       &store.NewLink{TokenHash: hash, ExpiresAt: t0.Add(90 * 24 * time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testPatientLinkLifecycle(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	v := enrollWithLink(t, s, c, "+14155550123", "hash-a")
	l, err := s.LinkByHash(ctx, "hash-a")
	if err != nil {
		t.Fatal(err)
	}
	if l.EnrollmentID != v.Enrollment.ID || l.ClinicID != c.ID || l.PatientID != v.Patient.ID || !l.ExpiresAt.Equal(t0.Add(90*24*time.Hour)) {
		t.Errorf("link %+v for enrollment %d", l, v.Enrollment.ID)
	}
	tests := []struct {
		at   time.Time
		want store.LinkState
	}{{t0, store.LinkActive}, {t0.Add(90*24*time.Hour - time.Millisecond), store.LinkActive}, {t0.Add(90 * 24 * time.Hour), store.LinkExpired}}
	for _, tc := range tests {
		if got := l.State(tc.at); got != tc.want {
			t.Errorf("state at %v = %s, want %s", tc.at, got, tc.want)
		}
	}
	if _, err := s.LinkByHash(ctx, "hash-unknown"); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("unknown hash: %v", err)
	}

	// Another clinic can neither see nor revoke it.
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "x@other.example", Name: "Other", Phone: "+14155550101", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.EnrollmentLink(ctx, other.ID, v.Enrollment.ID); ok || err != nil {
		t.Errorf("other clinic sees the link: %v %v", ok, err)
	}
	if _, err := s.RevokeLink(ctx, other.ID, v.Enrollment.ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("other clinic revokes: %v", err)
	}

	clock.Set(t0.Add(time.Hour))
	actx := aftercare.WithActor(ctx, aftercare.Actor{Kind: aftercare.ActorStaff, ID: 7, Label: "ana@glow"})
	if ok, err := s.RevokeLink(actx, c.ID, v.Enrollment.ID); !ok || err != nil {
		t.Fatalf("revoke = %v, %v", ok, err)
	}
	if ok, err := s.RevokeLink(actx, c.ID, v.Enrollment.ID); ok || err != nil {
		t.Errorf("second revoke = %v, %v", ok, err)
	}
	l, ok, err := s.EnrollmentLink(ctx, c.ID, v.Enrollment.ID)
	if !ok || err != nil || l.State(t0) != store.LinkRevoked || !l.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after revoke: %+v %v %v", l, ok, err)
	}
	log, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditLinkRevoked})
	if err != nil || len(log) != 1 || log[0].Actor.ID != 7 || log[0].EnrollmentID != v.Enrollment.ID {
		t.Errorf("audit of the revocation: %+v %v", log, err)
	}

	// Cancelling an enrollment revokes its link; erasing the patient
	// deletes it.
	w := enrollWithLink(t, s, c, "+14155550124", "hash-b")
	if _, err := s.CancelEnrollment(ctx, c.ID, w.Enrollment.ID, ""); err != nil {
		t.Fatal(err)
	}
	if l, err := s.LinkByHash(ctx, "hash-b"); err != nil || l.State(t0) != store.LinkRevoked {
		t.Errorf("after cancel: %+v %v", l, err)
	}
	x := enrollWithLink(t, s, c, "+14155550125", "hash-c")
	if err := s.RecordBookingClick(ctx, c.ID, x.Enrollment.ID, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ErasePatient(ctx, c.ID, x.Patient.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LinkByHash(ctx, "hash-c"); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("after erasure: %v", err)
	}
	if n, err := s.EnrollmentBookingClicks(ctx, c.ID, x.Enrollment.ID); n != 0 || err != nil {
		t.Errorf("clicks after erasure: %d %v", n, err)
	}
}

func testBookingClicksAndPhotos(t *testing.T, drv Driver) {
	t.Parallel()
	s, _, c := Setup(t, drv.Open)
	ctx := context.Background()
	v := enrollWithLink(t, s, c, "+14155550123", "hash-a")
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "x@other.example", Name: "Other", Phone: "+14155550101", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	ov := enrollWithLink(t, s, other, "+14155550199", "hash-o")
	for _, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(8 * 24 * time.Hour)} {
		if err := s.RecordBookingClick(ctx, c.ID, v.Enrollment.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordBookingClick(ctx, other.ID, ov.Enrollment.ID, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EnrollmentBookingClicks(ctx, c.ID, v.Enrollment.ID); n != 3 || err != nil {
		t.Errorf("enrollment clicks = %d, %v", n, err)
	}
	if n, _ := s.EnrollmentBookingClicks(ctx, other.ID, v.Enrollment.ID); n != 0 {
		t.Errorf("another clinic counts %d clicks of this enrollment", n)
	}

	// A concern's photo is stored with its reply, for its clinic only.
	img := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1, 0, 255}, 1000)...)
	out, err := s.RecordReplyOutcome(ctx, store.InboundReply{
		Reply: aftercare.Reply{ClinicID: c.ID, PatientID: v.Patient.ID, ProviderID: "page:1", Body: "swollen", Kind: "red_flag", At: t0},
		Photo: &store.Photo{ContentType: "image/png", Data: img},
	})
	if err != nil || !out.Fresh || out.ReplyID == 0 {
		t.Fatalf("record = %+v, %v", out, err)
	}
	p, err := s.ReplyPhoto(ctx, c.ID, out.ReplyID)
	if err != nil || p.ContentType != "image/png" || !bytes.Equal(p.Data, img) || p.PatientID != v.Patient.ID {
		t.Errorf("photo = %s %d bytes, %v", p.ContentType, len(p.Data), err)
	}
	if _, err := s.ReplyPhoto(ctx, other.ID, out.ReplyID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("another clinic's photo: %v", err)
	}
	if _, err := s.ErasePatient(ctx, c.ID, v.Patient.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplyPhoto(ctx, c.ID, out.ReplyID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("photo after erasure: %v", err)
	}
}

func testConcernPhotosFollowRetention(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	v := enrollWithLink(t, s, c, "+14155550123", "hash-a")
	out, err := s.RecordReplyOutcome(ctx, store.InboundReply{
		Reply: aftercare.Reply{ClinicID: c.ID, PatientID: v.Patient.ID, ProviderID: "page-photo:1", Body: "look", Kind: "other", At: t0},
		Photo: &store.Photo{ContentType: "image/jpeg", Data: []byte("\xff\xd8\xff photo")},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Kept while the enrollment's bodies are.
	if _, _, err := s.PurgeBodies(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplyPhoto(ctx, c.ID, out.ReplyID); err != nil {
		t.Fatalf("photo purged while the enrollment is active: %v", err)
	}
	if _, err := s.CancelEnrollment(ctx, c.ID, v.Enrollment.ID, ""); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * time.Hour))
	if _, _, err := s.PurgeBodies(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplyPhoto(ctx, c.ID, out.ReplyID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("photo after the retention purge: %v", err)
	}
}
