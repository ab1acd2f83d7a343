package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/storetest"
)

// Upgrading a database from before migration 0008: every existing user
// becomes an admin (they all had every power), old sessions (without an
// idle deadline) end, and new users default to staff.
func TestMigration0008MakesExistingUsersAdmins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, db := oldDatabase(t, "0008")
	for _, q := range []string{
		`INSERT INTO clinics(id, name, phone, timezone, created_at) VALUES (1, 'Glow', '+14155550100', 'UTC', 0)`,
		`INSERT INTO users(id, clinic_id, email, password_hash, created_at) VALUES (1, 1, 'a@glow.example', 'h', 0), (2, 1, 'b@glow.example', 'h', 0)`,
		`INSERT INTO sessions VALUES ('old', 1, 1, 'c', 0, 99999999999999)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	closePrivate(t, path, db)
	s, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	us, err := s.Users(ctx, 1)
	if err != nil || len(us) != 2 || us[0].Role != store.RoleAdmin || us[1].Role != store.RoleAdmin {
		t.Fatalf("users after the upgrade: %+v, %v", us, err)
	}
	if _, err := s.SessionByToken(ctx, "old"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Errorf("a session from before the upgrade: %v", err)
	}
	if u, err := s.CreateUser(ctx, 1, "c@glow.example", "h"); err != nil || u.Role != store.RoleStaff {
		t.Errorf("new user after the upgrade: %+v, %v", u, err)
	}
}

// oldDatabase makes a database as a release before migration first made
// it: every migration before that one applied and recorded.
func oldDatabase(t *testing.T, first string) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	sort.Strings(files)
	applied := 0
	for _, f := range files {
		if filepath.Base(f) >= first {
			break
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, "migrations/"+filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
		applied++
	}
	if applied == 0 || applied == len(files) {
		t.Fatalf("%d of %d migrations come before %s", applied, len(files), first)
	}
	return path, db
}

// closePrivate closes an old database made by hand and makes its files
// private, as the store requires.
func closePrivate(t *testing.T, path string, db *sql.DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	side, _ := filepath.Glob(path + "*")
	for _, f := range side {
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Upgrading a database from before migration 0014: clinics keep the
// daemon's planning defaults, patients keep no language of their own (the
// clinic's default, English), and every enrollment records the protocol it
// was planned with as its treatment lower-cased, in English, version 0
// (not recorded then). Afterwards at most one of a clinic's protocols per
// treatment and language can be active, in the schema itself.
func TestMigration0014RecordsExistingEnrollmentsProtocol(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, db := oldDatabase(t, "0014")
	for _, q := range []string{
		`INSERT INTO clinics(id, name, phone, timezone, created_at, alert_email) VALUES (1, 'Glow', '+14155550100', 'UTC', 0, 'a@glow.example')`,
		`INSERT INTO patients(id, clinic_id, first_name, last_name, phone, timezone, created_at, updated_at)
			VALUES (1, 1, 'Ana', 'Diaz', '+14155550101', 'UTC', 0, 0)`,
		`INSERT INTO enrollments(id, clinic_id, patient_id, treatment, treated_at, session_number, series_length, created_at)
			VALUES (1, 1, 1, 'Microneedling', 0, 1, 3, 0), (2, 1, 1, 'microneedling', 0, 2, 3, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	closePrivate(t, path, db)
	s, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckPlanningUpgrade(t, s)
	s.Close()

	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	insert := `INSERT INTO clinic_protocols(clinic_id, treatment, language, version, source, sha256, created_at, active)
		VALUES (1, 'chemical peel', ?, ?, 'x', 'y', 0, ?)`
	for _, r := range []struct {
		lang    string
		version int
		active  int
		ok      bool
	}{
		{"en", 1, 1, true},
		{"en", 2, 0, true},
		{"es", 1, 1, true},  // another language: its own active one
		{"en", 3, 1, false}, // a second active English one
		{"en", 2, 0, false}, // a version twice
	} {
		_, err := raw.Exec(insert, r.lang, r.version, r.active)
		if (err == nil) != r.ok {
			t.Errorf("insert %s version %d active %d: err = %v, want ok %v", r.lang, r.version, r.active, err, r.ok)
		}
	}
}
