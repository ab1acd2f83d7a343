package testsupport_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
)

var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

func TestClock(t *testing.T) {
	t.Parallel()
	var _ aftercare.Clock = testsupport.NewClock(t0)
	tests := []struct {
		name string
		move func(*testsupport.Clock)
		want time.Time
	}{
		{"set forward", func(c *testsupport.Clock) { c.Set(t0.Add(time.Hour)) }, t0.Add(time.Hour)},
		{"set back", func(c *testsupport.Clock) { c.Set(t0.Add(-time.Hour)) }, t0.Add(-time.Hour)},
		{"advance", func(c *testsupport.Clock) { c.Advance(time.Minute); c.Advance(time.Minute) }, t0.Add(2 * time.Minute)},
		{"advance to a later time", func(c *testsupport.Clock) { c.AdvanceTo(t0.Add(time.Second)) }, t0.Add(time.Second)},
		{"advance to an earlier time stays", func(c *testsupport.Clock) { c.AdvanceTo(t0.Add(-time.Second)) }, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testsupport.NewClock(t0)
			tt.move(c)
			if got := c.Now(); !got.Equal(tt.want) {
				t.Fatalf("Now = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestClockConcurrent is for the race detector: the daemon reads the clock
// while a test moves it.
func TestClockConcurrent(t *testing.T) {
	t.Parallel()
	c := testsupport.NewClock(t0)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(t0.Add(400 * time.Second)) {
		t.Fatalf("Now = %s after 400 advances of a second", got)
	}
}

func TestEventually(t *testing.T) {
	t.Parallel()
	calls := 0
	if !testsupport.Eventually(time.Minute, func() bool { calls++; return calls == 3 }) || calls != 3 {
		t.Fatalf("Eventually with a condition true at the third call: %d calls", calls)
	}
	if testsupport.Eventually(10*time.Millisecond, func() bool { return false }) {
		t.Fatal("Eventually reported a condition that never held")
	}
}

func TestRunnerFatalfEndsDoAndCloseRunsCleanupsLastFirst(t *testing.T) {
	t.Parallel()
	r := &testsupport.Runner{}
	var order []string
	dir := ""
	err := r.Do(func() {
		r.Cleanup(func() { order = append(order, "first") })
		r.Cleanup(func() { order = append(order, "second") })
		dir = r.TempDir()
		r.Errorf("noted %d", 1)
		r.Fatalf("stopped at %d", 2)
		order = append(order, "after Fatalf")
	})
	if err == nil || err.Error() != "stopped at 2" {
		t.Fatalf("Do = %v, want the Fatalf's error", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temp dir gone before Close: %v", err)
	}
	if err := r.Close(); err == nil || err.Error() != "noted 1" {
		t.Fatalf("Close = %v, want the Errorf's error", err)
	}
	if strings.Join(order, ",") != "second,first" {
		t.Fatalf("cleanups ran %v, want second,first and nothing after Fatalf", order)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp dir after Close: %v", err)
	}
	if err := r.Do(func() {}); err != nil {
		t.Fatalf("Do without Fatalf = %v", err)
	}
}

func TestRunDue(t *testing.T) {
	t.Parallel()
	due := []time.Time{t0.Add(-time.Hour), t0.Add(time.Minute), t0.Add(2 * time.Hour)}
	clock := testsupport.NewClock(t0)
	var passes []time.Time
	next := func(context.Context) (time.Time, error) {
		if len(due) == 0 {
			return time.Time{}, nil
		}
		return due[0], nil
	}
	pass := func(context.Context) error {
		passes = append(passes, clock.Now())
		due = due[1:]
		return nil
	}
	testsupport.RunDue(t, clock, next, pass, t0.Add(time.Hour))
	// The overdue one at the clock's time (never back), the next at its
	// own; the one after end is left, and the clock stops at end.
	if len(passes) != 2 || !passes[0].Equal(t0) || !passes[1].Equal(t0.Add(time.Minute)) {
		t.Fatalf("passes at %v", passes)
	}
	if !clock.Now().Equal(t0.Add(time.Hour)) || len(due) != 1 {
		t.Fatalf("clock at %s with %d left due", clock.Now(), len(due))
	}
}

func TestOpenStoreIsNewAndMigrated(t *testing.T) {
	t.Parallel()
	a := testsupport.OpenStore(t, store.Options{})
	b := testsupport.OpenStore(t, store.Options{})
	if a.Path() == b.Path() {
		t.Fatalf("two tests' stores share %s", a.Path())
	}
	if _, _, err := a.CreateClinic(context.Background(), testsupport.GlowClinic()); err != nil {
		t.Fatal(err)
	}
}

// TestDaemonSendsThroughTheLoopbackProviders: a patient enrolled through
// the harness' daemon gets the welcome text at the loopback Twilio API and
// the guide at the SMTP server, on the virtual clock.
func TestDaemonSendsThroughTheLoopbackProviders(t *testing.T) {
	t.Parallel()
	d := testsupport.StartDaemon(t, testsupport.DaemonOptions{Start: t0})
	clinic, _ := d.AddClinic(t, testsupport.GlowClinic())
	ctx := context.Background()
	if _, _, err := d.App.Enroll.Enroll(ctx, clinic, enrollRequest(t0.Add(-30*time.Minute)), ""); err != nil {
		t.Fatal(err)
	}
	d.RunUntil(t, t0.Add(time.Minute))
	if len(d.Twilio.Sent()) == 0 || len(d.Mail.Messages()) == 0 {
		t.Fatalf("%d texts, %d emails", len(d.Twilio.Sent()), len(d.Mail.Messages()))
	}
	if got := d.Twilio.Sent()[0]; got.From != testsupport.FromNumber || !got.DateCreated.Equal(t0) {
		t.Fatalf("text from %s at %s, want from %s at the virtual %s", got.From, got.DateCreated, testsupport.FromNumber, t0)
	}
	if !d.Clock.Now().Equal(t0.Add(time.Minute)) {
		t.Fatalf("clock at %s after RunUntil", d.Clock.Now())
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func enrollRequest(treated time.Time) enroll.Request {
	return enroll.Request{FirstName: "Ana", LastName: "Diaz", Phone: "+14155550123", Email: "ana@example.com",
		Timezone: "America/New_York", SMSConsent: true, EmailConsent: true, Treatment: "microneedling",
		TreatedAt: treated.Format(time.RFC3339), SessionNumber: 1, SeriesLength: 3}
}

// TestRunDueFailsOnAMessageNoPassMoves: a message that stays due would
// loop forever; RunDue gives up with a failure instead of going on.
func TestRunDueFailsOnAMessageNoPassMoves(t *testing.T) {
	t.Parallel()
	r := &testsupport.Runner{}
	defer r.Close()
	passes := 0
	err := r.Do(func() {
		testsupport.RunDue(r, testsupport.NewClock(t0), func(context.Context) (time.Time, error) { return t0, nil },
			func(context.Context) error { passes++; return nil }, t0.Add(time.Hour))
	})
	if err == nil || !strings.Contains(err.Error(), "still due") || passes == 0 {
		t.Fatalf("RunDue over a message that never leaves: %v after %d passes", err, passes)
	}
}
