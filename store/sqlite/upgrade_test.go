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
)

// Upgrading a database from before migration 0008: every existing user
// becomes an admin (they all had every power), old sessions (without an
// idle deadline) end, and new users default to staff.
func TestMigration0008MakesExistingUsersAdmins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
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
	for _, f := range files {
		if filepath.Base(f) >= "0008" {
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
	}
	for _, q := range []string{
		`INSERT INTO clinics(id, name, phone, timezone, created_at) VALUES (1, 'Glow', '+14155550100', 'UTC', 0)`,
		`INSERT INTO users(id, clinic_id, email, password_hash, created_at) VALUES (1, 1, 'a@glow.example', 'h', 0), (2, 1, 'b@glow.example', 'h', 0)`,
		`INSERT INTO sessions VALUES ('old', 1, 1, 'c', 0, 99999999999999)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	// An old database made by hand: private, as the store requires.
	side, _ := filepath.Glob(path + "*")
	for _, f := range side {
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
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
