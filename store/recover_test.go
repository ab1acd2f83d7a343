package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func TestRecoverAbandonedMakesEverySendingMessageDueNow(t *testing.T) {
	t.Parallel()
	s, clock, c := setup(t)
	v := enroll(t, s, c, "+14155550123", 1, 2)
	ctx := context.Background()
	clock.Set(t0.Add(5 * time.Minute))
	if b, err := s.Claim(ctx, clock.Now(), 10, 2*time.Minute); err != nil || len(b) != 2 {
		t.Fatalf("claim: %d, %v", len(b), err)
	}
	// A restart a second later: the leases have not expired, but the run
	// that claimed them is gone.
	clock.Set(t0.Add(5*time.Minute + time.Second))
	if n, err := s.RecoverLeases(ctx, clock.Now()); err != nil || n != 0 {
		t.Fatalf("RecoverLeases before expiry recovered %d, %v", n, err)
	}
	n, err := s.RecoverAbandoned(ctx, clock.Now())
	if err != nil || n != 2 {
		t.Fatalf("RecoverAbandoned = %d, %v", n, err)
	}
	for _, m := range v.Messages {
		got, err := s.Message(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != aftercare.StatusScheduled || !got.Ambiguous || got.NextAttemptAt.After(clock.Now()) {
			t.Errorf("message %d: %s ambiguous=%v next=%s, want scheduled, ambiguous, due now", m.ID, got.Status, got.Ambiguous, got.NextAttemptAt)
		}
		last := got.Events[len(got.Events)-1]
		if !last.At.Equal(clock.Now().Truncate(time.Millisecond)) || last.To != aftercare.StatusScheduled {
			t.Errorf("message %d: recovery event %+v", m.ID, last)
		}
	}
	if b, err := s.Claim(ctx, clock.Now(), 10, 2*time.Minute); err != nil || len(b) != 2 {
		t.Fatalf("claim after recovery: %d, %v (want both due at once)", len(b), err)
	}
}

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
