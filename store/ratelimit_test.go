package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aftercare/aftercare/store"
)

// TestAllowIsATokenBucketSharedThroughTheDatabase: a burst, then one
// request per interval; another process (a second store on the same
// database) sees the same bucket; refilled buckets are pruned.
func TestAllowIsATokenBucketSharedThroughTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rate.db")
	a, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	every := 20 * time.Minute
	allow := func(s *store.Store, key string, at time.Time) bool {
		t.Helper()
		ok, err := s.Allow(ctx, key, at, every, 3)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// A burst of three, alternating between the two processes.
	for i, s := range []*store.Store{a, b, a} {
		if !allow(s, "k", now) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if allow(b, "k", now) || allow(a, "k", now.Add(every-time.Second)) {
		t.Fatal("a fourth request within the interval was allowed")
	}
	if !allow(b, "k", now.Add(every)) {
		t.Fatal("one request after an interval was refused")
	}
	if allow(a, "k", now.Add(every)) {
		t.Fatal("two requests after one interval were allowed")
	}
	if !allow(a, "other", now) {
		t.Fatal("another key shares the bucket")
	}
	if n, err := a.PruneRateLimits(ctx, now.Add(4*every)); err != nil || n != 2 {
		t.Fatalf("prune after every bucket refilled: %d, %v; want 2", n, err)
	}
	for i := 0; i < 3; i++ {
		if !allow(b, "k", now.Add(4*every)) {
			t.Fatalf("request %d after a full refill refused", i+1)
		}
	}
}
