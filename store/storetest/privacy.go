package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// Every change to a patient's record writes its audit row with the actor
// the context carries; reads record theirs through RecordAudit (tested in
// api and app).
func testEveryChangeWritesItsAuditRow(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	staff := aftercare.Actor{Kind: aftercare.ActorStaff, ID: 7, Label: "ana@glow.example", IP: "203.0.113.9"}
	ctx := aftercare.WithActor(context.Background(), staff)
	v := Enroll(t, s, c, "+14155550123", 1, 2)
	p := v.Patient
	d := file(t, s, p, 1, "swollen", true, false, clock.Now())
	ids := failAll(t, s, t0.Add(time.Hour))
	tests := []struct {
		action aftercare.AuditAction
		do     func() error
	}{
		{aftercare.AuditResend, func() error { _, err := s.ResendMessage(ctx, c.ID, ids[0], "ana"); return err }},
		{aftercare.AuditConcern, func() error { return s.AcknowledgeConcern(ctx, c.ID, d.Concern.ID, "ana") }},
		{aftercare.AuditStaffReply, func() error { _, err := s.StaffReply(ctx, c.ID, d.Concern.ID, "ana", "call us"); return err }},
		{aftercare.AuditOptOut, func() error {
			_, err := s.SetOptOut(ctx, p.ID, aftercare.SMS, true, aftercare.ConsentSMSReply, "STOP")
			return err
		}},
		{aftercare.AuditOptIn, func() error { return s.OptIn(ctx, p.ID, aftercare.SMS, aftercare.ConsentSMSReply, "START") }},
		{aftercare.AuditCancel, func() error { _, err := s.CancelEnrollment(ctx, c.ID, v.Enrollment.ID, ""); return err }},
		{aftercare.AuditExport, func() error { _, err := s.ExportPatient(ctx, c.ID, p.ID); return err }},
		{aftercare.AuditErase, func() error { _, err := s.ErasePatient(ctx, c.ID, p.ID); return err }},
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			before, _ := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: c.ID, Action: tt.action})
			if err := tt.do(); err != nil {
				t.Fatal(err)
			}
			rows, err := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: c.ID, Action: tt.action})
			if err != nil || len(rows) != len(before)+1 {
				t.Fatalf("%s rows: %d after, %d before (%v)", tt.action, len(rows), len(before), err)
			}
			if r := rows[0]; r.Actor != staff || r.PatientID != p.ID {
				t.Fatalf("row %+v, want actor %+v and patient %d", r, staff, p.ID)
			}
		})
	}
	// The enrollment itself (no actor in enroll's context: the daemon).
	rows, _ := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditEnroll})
	if len(rows) != 1 || rows[0].EnrollmentID != v.Enrollment.ID || rows[0].Actor.Kind != aftercare.ActorDaemon {
		t.Fatalf("enroll rows: %+v", rows)
	}
	// Nothing in the trail names the patient.
	all, _ := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: c.ID})
	for _, r := range all {
		if strings.Contains(r.Detail, "Diaz") || strings.Contains(r.Detail, "555") || strings.Contains(r.Detail, "swollen") {
			t.Fatalf("audit row holds identity: %+v", r)
		}
	}
}

func testExportHoldsEverythingAndIsClinicScoped(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	v := Enroll(t, s, c, "+14155550123", 1, 2)
	file(t, s, v.Patient, 1, "it is swollen", true, false, clock.Now())
	x, err := s.ExportPatient(ctx, c.ID, v.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if x.Patient.Phone != "+14155550123" || len(x.Consents) == 0 || x.Consents[0].WordingVersion == "" ||
		len(x.Enrollments) != 1 || len(x.Enrollments[0].Messages) < 2 || x.Enrollments[0].Messages[0].Body == "" ||
		len(x.Enrollments[0].Messages[0].Events) == 0 || len(x.Replies) != 1 || x.Replies[0].Body != "it is swollen" ||
		len(x.Concerns) != 1 || len(x.Audit) == 0 {
		t.Fatalf("export incomplete: %+v", x)
	}
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "x@o.example", Name: "Other", Phone: "+14155550177", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ExportPatient(ctx, other.ID, v.Patient.ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("another clinic's export: %v, want not found", err)
	}
	if _, err := s.ErasePatient(ctx, other.ID, v.Patient.ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("another clinic's erasure: %v, want not found", err)
	}
	if p, err := s.Patient(ctx, c.ID, v.Patient.ID); err != nil || p.LastName != "Diaz" {
		t.Fatalf("patient after another clinic's erasure attempt: %+v %v", p, err)
	}
}

func testRetentionPurgesBodiesAfterTheEnrollmentEnds(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	old := Enroll(t, s, c, "+14155550123", 1, 2)
	file(t, s, old.Patient, 1, "it is swollen", false, false, clock.Now())
	if _, err := s.CancelEnrollment(ctx, c.ID, old.Enrollment.ID, ""); err != nil {
		t.Fatal(err)
	}
	active := Enroll(t, s, c, "+14155550124", 1, 2)

	// 399 days later: nothing yet.
	clock.Set(t0.AddDate(0, 0, 399))
	if e, r, err := s.PurgeBodies(ctx, clock.Now().AddDate(0, 0, -400)); err != nil || e != 0 || r != 0 {
		t.Fatalf("purge before 400 days: %d %d %v", e, r, err)
	}
	clock.Set(t0.AddDate(0, 0, 401))
	e, r, err := s.PurgeBodies(ctx, clock.Now().AddDate(0, 0, -400))
	if err != nil || e != 1 || r != 1 {
		t.Fatalf("purge after 401 days: %d enrollments, %d replies, %v; want 1 and 1", e, r, err)
	}
	x, err := s.ExportPatient(ctx, c.ID, old.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range x.Enrollments[0].Messages {
		if m.Body != "" || m.Status == "" || len(m.Events) == 0 {
			t.Fatalf("purged message %+v: want no body, its status and events kept", m)
		}
	}
	if x.Replies[0].Body != "" || x.Enrollments[0].BodiesPurgedAt.IsZero() {
		t.Fatalf("reply %+v / enrollment %+v after purge", x.Replies[0], x.Enrollments[0])
	}
	// The active enrollment (messages still scheduled) keeps its bodies.
	v, err := s.Enrollment(ctx, c.ID, active.Enrollment.ID)
	if err != nil || v.Messages[0].Body == "" {
		t.Fatalf("active enrollment purged: %+v %v", v.Messages, err)
	}
}

func testUserChangesAreAudited(t *testing.T, drv Driver) {
	s, _, c := Setup(t, drv.Open)
	admin := aftercare.Actor{Kind: aftercare.ActorStaff, ID: 1, Label: "boss@glow.example", IP: "198.51.100.7"}
	ctx := aftercare.WithActor(context.Background(), admin)
	u, err := s.CreateUserWithRole(ctx, c.ID, "new@glow.example", "x", store.RoleStaff)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, c.ID, u.ID, "y"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableUser(ctx, c.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	rows, err := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: c.ID, ActorKind: aftercare.ActorStaff, ActorID: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []aftercare.AuditAction
	for _, r := range rows {
		got = append(got, r.Action)
		if r.Actor != admin {
			t.Errorf("row %+v: actor %+v", r, r.Actor)
		}
	}
	want := []aftercare.AuditAction{aftercare.AuditUserDisabled, aftercare.AuditPasswordReset, aftercare.AuditUserAdded}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("audit %v, want %v", got, want)
	}
}
