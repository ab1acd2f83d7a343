package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/storetest"
)

// TestStore runs the shared store suite on a real PostgreSQL server, each
// behaviour in a fresh schema (testsupport.PostgresDSN).
func TestStore(t *testing.T) {
	var mu sync.Mutex
	dsns := map[*store.Store]string{}
	open := func(tb testing.TB, dsn string, opt store.Options) *store.Store {
		tb.Helper()
		s, err := store.Open(context.Background(), dsn, opt)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		mu.Lock()
		dsns[s] = dsn
		mu.Unlock()
		return s
	}
	storetest.Run(t, storetest.Driver{
		Open: func(tb testing.TB, opt store.Options) *store.Store {
			tb.Helper()
			return open(tb, testsupport.PostgresDSN(tb), opt)
		},
		Reopen: func(tb testing.TB, s *store.Store, opt store.Options) *store.Store {
			tb.Helper()
			mu.Lock()
			dsn, ok := dsns[s]
			mu.Unlock()
			if !ok {
				tb.Fatal("reopen: a store this suite did not open")
			}
			return open(tb, dsn, opt)
		},
	})
}
