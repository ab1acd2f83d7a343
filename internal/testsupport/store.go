package testsupport

import (
	"context"
	"path/filepath"

	"github.com/aftercare/aftercare/store"
)

// DB returns the address of a new, empty database for one test: today a
// SQLite file in its own tb.TempDir(). Every database the tests and the
// harness make comes from here, so that running them on another database
// is a change to this one function.
func DB(tb TB) string {
	return filepath.Join(tb.TempDir(), "aftercare.db")
}

// OpenStore opens (and migrates) a new database from DB with o and closes
// it when the test ends.
func OpenStore(tb TB, o store.Options) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), DB(tb), o)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
