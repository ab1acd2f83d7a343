package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func testAuditTrailRecordsActorAndFilters(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	staff := aftercare.WithActor(ctx, aftercare.Actor{Kind: aftercare.ActorStaff, ID: 7, Label: "ana@clinic.example", IP: "203.0.113.9"})
	if err := s.RecordAudit(staff, aftercare.AuditEntry{ClinicID: c.ID, Action: aftercare.AuditViewPatient, PatientID: 3}); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(time.Hour))
	if err := s.RecordAudit(ctx, aftercare.AuditEntry{ClinicID: c.ID, Action: aftercare.AuditCancel, PatientID: 4, EnrollmentID: 9}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAudit(ctx, aftercare.AuditEntry{ClinicID: c.ID + 1, Action: aftercare.AuditViewPatient, PatientID: 5}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want []aftercare.AuditAction
	}{
		{"clinic, newest first", store.AuditFilter{ClinicID: c.ID}, []aftercare.AuditAction{aftercare.AuditCancel, aftercare.AuditViewPatient}},
		{"patient", store.AuditFilter{ClinicID: c.ID, PatientID: 3}, []aftercare.AuditAction{aftercare.AuditViewPatient}},
		{"actor", store.AuditFilter{ClinicID: c.ID, ActorKind: aftercare.ActorStaff, ActorID: 7}, []aftercare.AuditAction{aftercare.AuditViewPatient}},
		{"action", store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditCancel}, []aftercare.AuditAction{aftercare.AuditCancel}},
		{"since", store.AuditFilter{ClinicID: c.ID, Since: clock.Now()}, []aftercare.AuditAction{aftercare.AuditCancel}},
		{"other clinic unseen", store.AuditFilter{ClinicID: c.ID + 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.AuditLog(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []aftercare.AuditAction
			for _, r := range rows {
				got = append(got, r.Action)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	rows, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, PatientID: 3})
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %v err %v", rows, err)
	}
	if a := rows[0].Actor; a.Kind != aftercare.ActorStaff || a.ID != 7 || a.IP != "203.0.113.9" {
		t.Fatalf("actor not kept: %+v", a)
	}
	if rows, _ := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditCancel}); rows[0].Actor.Kind != aftercare.ActorDaemon {
		t.Fatalf("a context without an actor is the daemon: %+v", rows[0].Actor)
	}
	n, err := s.PurgeAudit(ctx, clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
}
