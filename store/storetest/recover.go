package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

func testRecoverAbandonedMakesEverySendingMessageDueNow(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	v := Enroll(t, s, c, "+14155550123", 1, 2)
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
