package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare/store"
)

// testRateLimitIsSharedThroughTheDatabase: Allow is a token bucket (a
// burst, then one request per interval) that a second process on the same
// database shares; refilled buckets are pruned.
func testRateLimitIsSharedThroughTheDatabase(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	a := drv.Open(t, store.Options{})
	b := drv.Reopen(t, a, store.Options{})
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

// testClaimsOfTwoProcessesAreDisjoint: two processes on one database
// (replicas) claiming at once never claim the same message, and between
// them claim every due message exactly once.
func testClaimsOfTwoProcessesAreDisjoint(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	a, clock, c := Setup(t, drv.Open)
	b := drv.Reopen(t, a, store.Options{Clock: clock})
	const n = 120
	Enroll(t, a, c, "+14155550123", 1, n) // due t0, t0+1m, …
	now := t0.Add(n * time.Minute)
	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, s := range []*store.Store{a, b} {
		wg.Add(1)
		go func(s *store.Store) {
			defer wg.Done()
			for i := 0; i < 2*n; i++ { // bounded: each round claims at least one or stops
				batch, err := s.Claim(ctx, now, 7, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(batch) == 0 {
					return
				}
				mu.Lock()
				for _, cl := range batch {
					claimed[cl.Message.ID]++
				}
				mu.Unlock()
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimed) != n {
		t.Fatalf("claimed %d distinct messages, want %d", len(claimed), n)
	}
	for id, times := range claimed {
		if times != 1 {
			t.Errorf("message %d claimed %d times", id, times)
		}
	}
}
