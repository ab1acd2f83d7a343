package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/storetest"
)

// TestStore runs the shared store suite on SQLite files.
func TestStore(t *testing.T) {
	storetest.Run(t, storetest.Driver{Open: open, Reopen: reopen})
}

// open opens a store on a new SQLite file in the test's own directory.
func open(tb testing.TB, opt store.Options) *store.Store {
	tb.Helper()
	return openPath(tb, filepath.Join(tb.TempDir(), "test.db"), opt)
}

// reopen opens another store on s's file.
func reopen(tb testing.TB, s *store.Store, opt store.Options) *store.Store {
	tb.Helper()
	return openPath(tb, s.Path(), opt)
}

// openPath opens a store on the SQLite file at path and closes it when tb
// ends.
func openPath(tb testing.TB, path string, opt store.Options) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), path, opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
