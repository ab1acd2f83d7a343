package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aftercare/aftercare/store"
)

func TestOpenSaysWhenTheDatabaseIsNotWritable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("permissions do not stop root; faulttest covers a read-only mount")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ro.db")
	s, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(f, 0o444)
	}
	_, err = store.Open(context.Background(), path, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("Open on a read-only database: %v, want an error saying it is not writable", err)
	}
}
