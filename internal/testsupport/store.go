package testsupport

import (
	"context"
	"os"
	"path/filepath"

	"github.com/aftercare/aftercare/store"
)

// DB returns the address of a new, empty database for one test: a SQLite
// file in its own tb.TempDir(), or, when AFTERCARE_TEST_DB=postgres, a
// fresh schema on the test PostgreSQL server (PostgresDSN). Every database
// the tests and the harness make comes from here. Tests about SQLite's
// file itself use SQLiteDB.
func DB(tb TB) string {
	if os.Getenv("AFTERCARE_TEST_DB") == "postgres" {
		if s, ok := tb.(SkipTB); ok {
			return PostgresDSN(s)
		}
		tb.Fatalf("AFTERCARE_TEST_DB=postgres needs a test (a %T cannot skip)", tb)
	}
	return SQLiteDB(tb)
}

// SQLiteDB returns the path of a new SQLite file in tb.TempDir(), for
// tests about the file itself (modes, backups, what an erasure leaves).
func SQLiteDB(tb TB) string {
	return filepath.Join(tb.TempDir(), "aftercare.db")
}

// OpenStore opens (and migrates) a new database from DB with o and closes
// it when the test ends.
func OpenStore(tb TB, o store.Options) *store.Store {
	tb.Helper()
	return OpenStoreAt(tb, DB(tb), o)
}

// OpenStoreAt opens (and migrates) the database dsn names with o and
// closes it when the test ends.
func OpenStoreAt(tb TB, dsn string, o store.Options) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), dsn, o)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
