//go:build unix

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aftercare/aftercare/store"
)

// TestDatabaseFilesArePrivate: with the common umask 022 (which leaves
// new files world-readable), the database, its -wal and its -shm are
// created 0600: they hold patients' names, numbers and replies, and the
// key that signs unsubscribe links.
func TestDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "aftercare.db")
	s, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A write makes sure the WAL and the shared-memory index exist.
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s is mode %04o, want 0600", filepath.Base(name), perm)
		}
	}
}

// TestOpenRefusesReadableDatabase: a database (or its WAL) that other users
// can read is refused with the command that fixes it, and opening changes
// nothing: after the chmod it opens.
func TestOpenRefusesReadableDatabase(t *testing.T) {
	for _, suffix := range []string{"", "-wal"} {
		t.Run("file"+suffix, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "aftercare.db")
			s, err := store.Open(context.Background(), path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			s.Close()
			// A crashed daemon leaves its WAL behind; an older version left
			// it with the umask's mode.
			name := path + suffix
			if suffix == "-wal" {
				if err := os.WriteFile(name, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(name, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = store.Open(context.Background(), path, store.Options{})
			if err == nil {
				t.Fatal("opened a database other users can read")
			}
			want := "chmod 600 " + path + "*"
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "aftercare.db"+suffix+" is mode 06") {
				t.Fatalf("error %q does not say what is wrong and %q", err, want)
			}
			for _, name := range []string{path, path + "-wal", path + "-shm"} {
				os.Chmod(name, 0o600)
			}
			s, err = store.Open(context.Background(), path, store.Options{})
			if err != nil {
				t.Fatalf("after chmod: %v", err)
			}
			s.Close()
		})
	}
}
