package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/postgres"
)

// migT0 is the treatment time of the migrated enrollments.
var migT0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

// migEnroll enrolls a patient at phone with n SMS messages.
func migEnroll(t *testing.T, s *store.Store, c aftercare.Clinic, phone string, session, n int) store.EnrollmentView {
	t.Helper()
	v, created, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Díaz", Phone: phone, Email: "ana@example.com", Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: migT0, SessionNumber: session, SeriesLength: 3},
		Consents:   []aftercare.Consent{{Channel: aftercare.SMS, Granted: true, Method: aftercare.ConsentAPI, WordingVersion: aftercare.ConsentWordingVersion}},
		Plan: func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
			var out []aftercare.Message
			for i := range n {
				send := migT0.Add(time.Duration(i) * time.Hour)
				out = append(out, aftercare.Message{Step: "step", Occurrence: i, Channel: aftercare.SMS, SendAt: send,
					StaleAt: send.Add(24 * time.Hour), Status: aftercare.StatusScheduled, Body: "hello ✨"})
			}
			return out, nil
		},
	})
	if err != nil || !created {
		t.Fatalf("CreateEnrollment = %v, %v", created, err)
	}
	return v
}

func TestMigrateSQLiteToPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dst := testsupport.PostgresDSN(t)
	srcPath := filepath.Join(t.TempDir(), "aftercare.db")

	src, err := store.Open(ctx, srcPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c, _, err := src.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	v1 := migEnroll(t, src, c, "+14155550123", 1, 3)
	v2 := migEnroll(t, src, c, "+14155550124", 1, 4)
	v3 := migEnroll(t, src, c, "+14155550123", 2, 2) // supersedes v1
	if _, err := src.SetOptOut(ctx, v2.Patient.ID, aftercare.SMS, true, aftercare.ConsentSMSReply, "STOP"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.RecordReply(ctx, store.InboundReply{Reply: aftercare.Reply{ClinicID: c.ID, PatientID: v3.Patient.ID,
		ProviderID: "SM1", Body: "thanks!", Kind: "other", At: migT0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}

	// The source stays open, as a running daemon's would.
	var out bytes.Buffer
	if err := app.Migrate(ctx, &out, "sqlite:"+srcPath, dst); err != nil {
		t.Fatalf("Migrate: %v\n%s", err, out.String())
	}
	for _, want := range []string{"clinics", "patients", "enrollments", "messages", "replies", "copied "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	pg, err := store.Open(ctx, dst, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	for _, v := range []store.EnrollmentView{v1, v2, v3} {
		want, err := src.Enrollment(ctx, c.ID, v.Enrollment.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pg.Enrollment(ctx, c.ID, v.Enrollment.ID)
		if err != nil {
			t.Fatalf("PostgreSQL Enrollment(%d): %v", v.Enrollment.ID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("enrollment %d differs:\nsqlite:   %+v\npostgres: %+v", v.Enrollment.ID, want, got)
		}
		wp, _ := src.Patient(ctx, c.ID, v.Patient.ID)
		gp, err := pg.Patient(ctx, c.ID, v.Patient.ID)
		if err != nil || !reflect.DeepEqual(gp, wp) {
			t.Errorf("patient %d: postgres %+v, %v; sqlite %+v", v.Patient.ID, gp, err, wp)
		}
	}
	wm, _ := src.Messages(ctx, store.MessageFilter{ClinicID: c.ID})
	gm, err := pg.Messages(ctx, store.MessageFilter{ClinicID: c.ID})
	if err != nil || len(wm) != 9 || !reflect.DeepEqual(gm, wm) {
		t.Errorf("messages: postgres %d (%v), sqlite %d; equal %v", len(gm), err, len(wm), reflect.DeepEqual(gm, wm))
	}
	wr, _ := src.Replies(ctx, v3.Patient.ID)
	gr, err := pg.Replies(ctx, v3.Patient.ID)
	if err != nil || len(wr) != 1 || !reflect.DeepEqual(gr, wr) {
		t.Errorf("replies: postgres %+v (%v), sqlite %+v", gr, err, wr)
	}

	// Identities moved past the copied ids: a new enrollment gets fresh ones.
	v4 := migEnroll(t, pg, c, "+14155550125", 1, 1)
	if v4.Enrollment.ID <= v3.Enrollment.ID || v4.Patient.ID <= v2.Patient.ID {
		t.Errorf("new enrollment %d / patient %d after copied ones up to %d / %d", v4.Enrollment.ID, v4.Patient.ID, v3.Enrollment.ID, v2.Patient.ID)
	}

	// A second migrate into the same target is refused and changes nothing.
	before, _ := pg.Messages(ctx, store.MessageFilter{ClinicID: c.ID})
	out.Reset()
	err = app.Migrate(ctx, &out, srcPath, dst)
	if !errors.Is(err, postgres.ErrNotEmpty) || !strings.Contains(err.Error(), "refusing to migrate into a non-empty database") {
		t.Fatalf("second Migrate = %v, want ErrNotEmpty", err)
	}
	after, _ := pg.Messages(ctx, store.MessageFilter{ClinicID: c.ID})
	if !reflect.DeepEqual(after, before) || len(after) != 10 {
		t.Errorf("refused migrate changed the target: %d messages, then %d", len(before), len(after))
	}
}

func TestMigrateRefusesWrongDatabases(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a.db")
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"postgres source", "postgres://u:secret@h/db", "postgres://h/db", "--from must be a SQLite database"},
		{"sqlite target", path, "sqlite:" + path, "--to must be a PostgreSQL database"},
		{"file target", path, "/tmp/x.db", "--to must be a PostgreSQL database"},
		{"missing source", path, "postgres://h/db", "snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := app.Migrate(context.Background(), &bytes.Buffer{}, tc.from, tc.to)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Migrate = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows a password: %v", err)
			}
		})
	}
}

func TestMigrateNamesAColumnPostgresLacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dst := testsupport.PostgresDSN(t)
	srcPath := filepath.Join(t.TempDir(), "aftercare.db")
	s, err := store.Open(ctx, srcPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+srcPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE patients ADD COLUMN nickname TEXT`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	err = app.Migrate(ctx, &bytes.Buffer{}, srcPath, dst)
	if err == nil || !strings.Contains(err.Error(), "patients has a column nickname") {
		t.Fatalf("Migrate = %v, want an error naming patients.nickname", err)
	}
	// Nothing was copied: a corrected source may still go in.
	pg, err := store.Open(ctx, dst, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if cs, err := pg.Clinics(ctx); err != nil || len(cs) != 0 {
		t.Errorf("target after a failed migrate holds clinics %v, %v", cs, err)
	}
}
