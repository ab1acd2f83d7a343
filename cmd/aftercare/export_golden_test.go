package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestPatientExportGolden pins the JSON `aftercare patient export` prints
// (field names, omitted fields, time formats, indentation) byte for byte,
// for a patient with consents, an enrollment and messages on both
// channels. Only exported_at, the time of the export, is masked. Run with
// -update only for a change of the format that is meant.
func TestPatientExportGolden(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	t.Setenv("AFTERCARE_DB", db)
	ctx := context.Background()
	at := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	s, err := store.Open(ctx, db, store.Options{Clock: fixedClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York", AlertEmail: "s@glow.example"})
	if err != nil {
		t.Fatal(err)
	}
	treated := at.Add(-90 * time.Minute)
	v, _, err := s.CreateEnrollment(ctx, store.NewEnrollment{
		Patient: aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: "+14155550123",
			Email: "ana@example.com", Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: treated, SessionNumber: 1, SeriesLength: 3,
			ExternalRef: "ehr-42"},
		Consents: []aftercare.Consent{
			{Channel: aftercare.SMS, Granted: true, At: treated, Method: aftercare.ConsentFrontDesk, WordingVersion: aftercare.ConsentWordingVersion},
			{Channel: aftercare.Email, Granted: true, At: treated, Method: aftercare.ConsentAPI, WordingVersion: aftercare.ConsentWordingVersion,
				Detail: "checkbox on the intake form"},
		},
		Plan: func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
			return []aftercare.Message{
				{Step: "welcome", Channel: aftercare.SMS, SendAt: at, StaleAt: at.Add(time.Hour),
					Status: aftercare.StatusScheduled, Body: "Hi Ana <3 & welcome"},
				{Step: "guide", Channel: aftercare.Email, SendAt: at.Add(time.Hour), StaleAt: at.Add(25 * time.Hour),
					Status: aftercare.StatusScheduled, Subject: "Your care guide", Body: "Hello Ana", HTMLBody: "<p>Hello Ana</p>"},
				{Step: "day", Occurrence: 2, Channel: aftercare.SMS, SendAt: at.Add(-time.Hour), StaleAt: at.Add(-time.Minute),
					Status: aftercare.StatusSkipped, Reason: "enrolled after this step was due", Body: "Day 2"},
			}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	var out, errb bytes.Buffer
	if code := run([]string{"patient", "export", itoa64(v.Patient.ID)}, &out, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	got := regexp.MustCompile(`"exported_at": "[^"]*"`).ReplaceAll(out.Bytes(), []byte(`"exported_at": "(masked)"`))
	path := filepath.Join("testdata", "patient-export.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to write it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("patient export differs from %s:\n got: %s\nwant: %s", path, got, want)
	}
}
