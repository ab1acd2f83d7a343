package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/storetest"
)

// TestWriterIsSynchronousFull: every commit on the writer is synced before
// it returns (PRAGMA synchronous = 2), so an acknowledged write survives a
// power cut; NORMAL is only there for the bench to measure the cost.
func TestWriterIsSynchronousFull(t *testing.T) {
	t.Parallel()
	s, _, _ := storetest.Setup(t, open)
	got, err := s.Synchronous(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != 2 {
		t.Fatalf("writer PRAGMA synchronous = %d, want 2 (FULL)", got)
	}
	n := open(t, store.Options{Synchronous: "normal"})
	if got, err := n.Synchronous(context.Background()); err != nil || got != 1 {
		t.Fatalf("with Synchronous NORMAL: PRAGMA synchronous = %d, %v; want 1", got, err)
	}
}

// TestBackup: a backup taken while the store is open holds every committed
// row, is created 0600 whatever the umask, and never overwrites a file.
func TestBackup(t *testing.T) {
	t.Parallel()
	s, _, c := storetest.Setup(t, open)
	storetest.Enroll(t, s, c, "+14155550123", 1, 5)
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := store.Backup(ctx, s.Path(), dest); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("backup mode %o, want 600", mode)
	}
	matches, _ := filepath.Glob(dest + ".partial-*")
	if len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
	if err := store.Backup(ctx, s.Path(), dest); err == nil {
		t.Error("a second backup to the same file succeeded; it must refuse to overwrite")
	}

	// The copy opens as a store and has the same messages.
	r := openPath(t, dest, store.Options{})
	want, err := s.CountByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.CountByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("restored counts %v, original %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("restored %s = %d, original %d", k, got[k], v)
		}
	}
	db, err := sql.Open("sqlite", "file:"+dest+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check = %q, %v", ok, err)
	}
}

// TestRestoreFlagsWhatMayHaveGoneOut: a restored backup replaces the
// database (moved aside, not deleted), is 0600, and every message due by
// the restore that the backup still holds as scheduled is flagged
// ambiguous (looked up at the provider before any send); later ones are
// left alone.
func TestRestoreFlagsWhatMayHaveGoneOut(t *testing.T) {
	t.Parallel()
	s, clock, c := storetest.Setup(t, open)
	t0 := clock.Now()
	storetest.Enroll(t, s, c, "+14155550123", 1, 5) // due t0, t0+1m, ... t0+4m
	ctx := context.Background()
	bak := filepath.Join(t.TempDir(), "b.db")
	if err := store.Backup(ctx, s.Path(), bak); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "live.db")
	if err := os.WriteFile(dbPath, []byte("the damaged database"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, moved, err := store.Restore(ctx, bak, dbPath, t0.Add(150*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("flagged %d messages, want the 3 due by the restore", n)
	}
	if b, err := os.ReadFile(moved); err != nil || string(b) != "the damaged database" {
		t.Errorf("replaced database not kept at %q: %q, %v", moved, b, err)
	}
	if fi, err := os.Stat(dbPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("restored file: %v, %v; want mode 600", fi, err)
	}
	r := openPath(t, dbPath, store.Options{})
	msgs, err := r.Messages(ctx, store.MessageFilter{ClinicID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	amb := 0
	for _, m := range msgs {
		if m.Ambiguous {
			amb++
			if m.NextAttemptAt.After(t0.Add(150 * time.Second)) {
				t.Errorf("message %d due %s flagged though not due by the restore", m.ID, m.NextAttemptAt)
			}
		}
	}
	if amb != 3 || len(msgs) != 5 {
		t.Fatalf("%d of %d messages flagged ambiguous, want 3 of 5", amb, len(msgs))
	}
}
