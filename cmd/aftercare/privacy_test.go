package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/store"
)

// The operator exports and erases a patient from the command line and
// reads both in the audit trail, as the CLI.
func TestPatientExportEraseAndAudit(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	t.Setenv("AFTERCARE_DB", db)
	ctx := context.Background()
	s, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York", AlertEmail: "s@glow.example"})
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := s.CreateEnrollment(ctx, store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: "+14155550123", Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: time.Now(), SessionNumber: 1, SeriesLength: 1},
		Plan: func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
			return []aftercare.Message{{Step: "welcome", Channel: aftercare.SMS, SendAt: time.Now(), StaleAt: time.Now().Add(time.Hour),
				Status: aftercare.StatusScheduled, Body: "Hi Ana"}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	id := itoa64(v.Patient.ID)

	var out, errb bytes.Buffer
	if code := run([]string{"patient", "export", id}, &out, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	var x api.PatientExport
	if err := json.Unmarshal(out.Bytes(), &x); err != nil || x.Patient.LastName != "Diaz" || len(x.Enrollments) != 1 || x.Enrollments[0].Messages[0].Body != "Hi Ana" {
		t.Fatalf("export: %v %.300s", err, out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"patient", "erase", id}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--yes") {
		t.Fatalf("erase without --yes: exit %d: %s", code, errb.String())
	}
	if code := run([]string{"patient", "erase", id, "--yes"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "1 pending messages cancelled") {
		t.Fatalf("erase: exit %d: %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"audit", "--patient", id, "--csv"}, &out, &errb); code != 0 {
		t.Fatalf("audit: exit %d: %s", code, errb.String())
	}
	csv := out.String()
	for _, want := range []string{",cli,", ",export,", ",erase,", ",enroll,"} {
		if !strings.Contains(csv, want) {
			t.Errorf("audit CSV lacks %q:\n%s", want, csv)
		}
	}
	if strings.Contains(csv, "Diaz") || strings.Contains(csv, "5550123") {
		t.Errorf("audit CSV names the erased patient:\n%s", csv)
	}
	if code := run([]string{"audit", "--since", "soon"}, &out, &errb); code == 0 {
		t.Error("audit --since soon accepted")
	}
}

func itoa64(n int64) string { b, _ := json.Marshal(n); return string(b) }
