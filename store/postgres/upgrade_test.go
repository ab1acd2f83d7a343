package postgres_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/storetest"
)

// Upgrading a database from before migration 0004 fills in existing rows
// as SQLite's 0014 does (TestMigration0014RecordsExistingEnrollmentsProtocol
// there): the clinic keeps the daemon's planning defaults, the patient no
// language of their own, and each enrollment records its treatment
// lower-cased as its protocol, in English, version 0. Afterwards the
// schema allows one active clinic protocol per treatment and language.
func TestMigration0004RecordsExistingEnrollmentsProtocol(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dsn := testsupport.PostgresDSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(q string, args ...any) error {
		_, err := conn.Exec(ctx, q, args...)
		return err
	}
	if err := exec(`CREATE TABLE schema_migrations (name TEXT COLLATE "C" PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	sort.Strings(files)
	applied := 0
	for _, f := range files {
		if filepath.Base(f) >= "0004" {
			break
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := exec(string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := exec(`INSERT INTO schema_migrations VALUES ($1, 0)`, "migrations/"+filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
		applied++
	}
	if applied != 3 {
		t.Fatalf("%d migrations before 0004", applied)
	}
	for _, q := range []string{
		`INSERT INTO clinics(id, name, phone, timezone, created_at, alert_email) VALUES (1, 'Glow', '+14155550100', 'UTC', 0, 'a@glow.example')`,
		`INSERT INTO patients(id, clinic_id, first_name, last_name, phone, timezone, created_at, updated_at)
			VALUES (1, 1, 'Ana', 'Diaz', '+14155550101', 'UTC', 0, 0)`,
		`INSERT INTO enrollments(id, clinic_id, patient_id, treatment, treated_at, session_number, series_length, created_at)
			VALUES (1, 1, 1, 'Microneedling', 0, 1, 3, 0), (2, 1, 1, 'microneedling', 0, 2, 3, 0)`,
	} {
		if err := exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckPlanningUpgrade(t, s)

	insert := `INSERT INTO clinic_protocols(clinic_id, treatment, language, version, source, sha256, created_at, active)
		VALUES (1, 'chemical peel', $1, $2, 'x', 'y', 0, $3)`
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
		err := exec(insert, r.lang, r.version, r.active)
		if (err == nil) != r.ok {
			t.Errorf("insert %s version %d active %d: err = %v, want ok %v", r.lang, r.version, r.active, err, r.ok)
		}
	}
}
