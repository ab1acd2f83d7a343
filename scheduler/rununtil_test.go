package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/scheduler"
)

// runningClock is t0 plus the real time elapsed since it was made.
type runningClock struct{ start time.Time }

func (c runningClock) Now() time.Time { return t0.Add(time.Since(c.start)) }

func TestRunUntilSendsWhatFallsDueBeforeUntil(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Three texts due 0, 1 and 2 seconds after t0, and the clock 1.7s
	// past t0: RunUntil sends two at once and must not wait for a tick to
	// send the third as it falls due.
	e.enroll(t, "+14155550123", aftercare.SMS, 3, time.Hour)
	sent, sms := counting(func(m notify.Message) (string, error) { return "SM" + string(rune('a'+m.ID)), nil })
	d := scheduler.NewDispatcher(e.store, map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, runningClock{time.Now().Add(-1700 * time.Millisecond)},
		slog.New(slog.NewTextHandler(io.Discard, nil)), scheduler.Config{})
	until := time.Now().Add(20 * time.Second)
	st, err := d.RunUntil(context.Background(), until)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 3 || sent.Load() != 3 {
		t.Fatalf("sent %d (stats %+v), want all 3 as each fell due", sent.Load(), st)
	}
	if !time.Now().Before(until) {
		t.Fatal("RunUntil waited for until although nothing was left to send")
	}
}

func TestRunUntilStopsWhenNothingFallsDueBeforeUntil(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enroll(t, "+14155550123", aftercare.SMS, 1, time.Hour) // due at t0; the clock says an hour earlier
	_, sms := counting(func(m notify.Message) (string, error) { return "SM1", nil })
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{})
	e.clock.Set(t0.Add(-time.Hour))
	// The message is an hour away and until half an hour of wall time: a
	// RunUntil that slept would fail here (or hit the test binary's
	// timeout) on any machine; one that returns at once passes on the
	// slowest.
	start := time.Now()
	st, err := d.RunUntil(context.Background(), start.Add(30*time.Minute))
	if err != nil || st.Claimed != 0 {
		t.Fatalf("RunUntil = %+v, %v; want nothing claimed", st, err)
	}
	if time.Since(start) > 15*time.Minute {
		t.Fatal("RunUntil slept although the next message falls due after until")
	}
}

func TestAtStartJobRunsWhenTheSchedulerStarts(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	s, err := scheduler.New(slog.New(slog.NewTextHandler(io.Discard, nil)), aftercare.SystemClock,
		scheduler.Job{Name: "now", Spec: "@every 1h", AtStart: true, Run: func(context.Context) error { runs.Add(1); return nil }},
		scheduler.Job{Name: "later", Spec: "@every 1h", Run: func(context.Context) error { runs.Add(100); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	testsupport.Eventually(time.Minute, func() bool { return runs.Load() != 0 })
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := runs.Load(); got != 1 {
		t.Fatalf("runs = %d, want exactly the at-start run of the first job (its tick is an hour away)", got)
	}
	if last, _ := s.LastRun("now"); last.IsZero() {
		t.Fatal("at-start run not recorded")
	}
}
