package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestPatientsRebuildKeepsData: a database made before migration 0006
// (patients with a table-level UNIQUE (clinic_id, phone)) is upgraded in
// place: every patient keeps its id and columns, references hold, the
// phone stays unique per clinic, and email-only patients can be stored.
func TestPatientsRebuildKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	if err := secureFiles(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	for _, name := range names {
		if name >= "migrations/0006" {
			break
		}
		body, _ := migrations.ReadFile(name)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		db.Exec(`INSERT INTO schema_migrations VALUES (?, 1)`, name)
	}
	for _, q := range []string{
		`INSERT INTO clinics(id, name, phone, timezone, created_at) VALUES (1, 'Glow', '+14155550100', 'America/New_York', 1)`,
		`INSERT INTO patients(id, clinic_id, first_name, last_name, phone, email, timezone, sms_opt_out, created_at, updated_at)
			VALUES (7, 1, 'Ana', 'Diaz', '+14155550123', 'ana@example.com', 'America/New_York', 1, 1, 1)`,
		`INSERT INTO consents(patient_id, channel, granted, at, method, wording_version) VALUES (7, 'sms', 1, 1, 'api', 'v1')`,
		`INSERT INTO enrollments(id, clinic_id, patient_id, treatment, treated_at, session_number, series_length, created_at)
			VALUES (3, 1, 7, 'microneedling', 1, 1, 3, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var ddl string
	if err := s.read.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'patients'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ddl, "UNIQUE") {
		t.Errorf("patients still has its table-level UNIQUE:\n%s", ddl)
	}
	var phone, email string
	var optOut int
	if err := s.read.QueryRow(`SELECT phone, email, sms_opt_out FROM patients WHERE id = 7 AND clinic_id = 1`).Scan(&phone, &email, &optOut); err != nil ||
		phone != "+14155550123" || optOut != 1 || email != "ana@example.com" {
		t.Fatalf("patient 7 after the rebuild: %s %s %d %v", phone, email, optOut, err)
	}
	var enrolled, consents int
	if err := s.read.QueryRow(`SELECT (SELECT patient_id FROM enrollments WHERE id = 3), (SELECT count(*) FROM consents WHERE patient_id = 7)`).Scan(&enrolled, &consents); err != nil ||
		enrolled != 7 || consents != 1 {
		t.Fatalf("enrollment 3 after the rebuild: patient %d, %d consents, %v", enrolled, consents, err)
	}
	var fk int
	if err := s.read.QueryRow(`SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fk); err != nil || fk != 0 {
		t.Fatalf("foreign key check: %d %v", fk, err)
	}
	var on int
	if err := s.write.QueryRow(`PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
		t.Fatalf("foreign keys on the writer after migrating: %d %v", on, err)
	}
	ins := `INSERT INTO patients(clinic_id, first_name, last_name, phone, email, timezone, created_at, updated_at) VALUES (1, 'X', '', ?, ?, 'UTC', 1, 1)`
	if _, err := s.write.Exec(ins, "+14155550123", ""); err == nil {
		t.Error("a second patient with the same phone was stored")
	}
	for _, email := range []string{"a@example.com", "b@example.com"} {
		if _, err := s.write.Exec(ins, "", email); err != nil {
			t.Errorf("email-only patient %s: %v", email, err)
		}
	}
	if _, err := s.write.Exec(ins, "", "A@example.com"); err == nil {
		t.Error("a second email-only patient with the same address was stored")
	}
	// A violated reference is still refused (foreign keys are back on).
	if _, err := s.write.Exec(`INSERT INTO consents(patient_id, channel, granted, at, method, wording_version) VALUES (999, 'sms', 1, 1, 'api', 'v1')`); err == nil {
		t.Error("a consent for a missing patient was stored")
	}
}
