package faulttest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// TestClockJumps moves the wall clock the way a laptop lid or an NTP fix
// does. Forward a day: what came due meanwhile is sent if still fresh and
// skipped with the reason if stale, never sent late. Back an hour after
// sending: nothing is sent again, and what comes due afterwards goes out
// once. A jump in the middle of a pass does not let a claimed message go
// out after its window.
func TestClockJumps(t *testing.T) {
	t.Parallel()
	h := newInproc(t, t0, func(c *config.Config) { c.Dispatch.Concurrency = 1 })
	// Per patient: due now (fresh 1h), due in 2h (stale after 1h), due in
	// 6h (fresh for 30h), due in 24h30m (fresh 1h).
	offsets := []struct{ at, stale time.Duration }{
		{0, time.Hour}, {2 * time.Hour, time.Hour}, {6 * time.Hour, 30 * time.Hour}, {24*time.Hour + 30*time.Minute, time.Hour},
	}
	const patients = 5
	seedStore(t, h.app.Store, plan{patients: patients, sms: len(offsets), tag: "jump",
		at:      func(_, k int) time.Time { return t0.Add(offsets[k].at) },
		staleIn: 0}, t0, newYork)
	// seedStore gives every message the same window; set each one's own.
	w := testsupport.OpenWriter(t, h.db)
	for k, o := range offsets {
		if _, err := w.Exec(`UPDATE messages SET stale_at = send_at + ? WHERE occurrence = ?`, o.stale.Milliseconds(), k); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	view := openView(t, h.db)

	h.runOnce()
	if got := len(h.tw.Sent()); got != patients {
		t.Fatalf("sent %d at start, want %d", got, patients)
	}

	// Forward a day (10:00 the next morning in New York).
	h.clock.Set(t0.Add(24 * time.Hour))
	if err := h.runOnce(); err != nil {
		t.Fatal(err)
	}
	for _, r := range view.rows() {
		k := occurrence(r.body)
		switch k {
		case 1: // due at +2h, stale at +3h: the window closed during the jump
			if r.status != aftercare.StatusSkipped || !strings.Contains(r.reason, "stale") {
				t.Errorf("message due during the jump and stale now: %s %q, want skipped as stale", r.status, r.reason)
			}
		case 0, 2: // sent before the jump, or still fresh after it
			if r.status != aftercare.StatusSent {
				t.Errorf("message %d (occurrence %d): %s %q, want sent", r.id, k, r.status, r.reason)
			}
		case 3:
			if r.status != aftercare.StatusScheduled {
				t.Errorf("message due tomorrow at 10:30 is %s", r.status)
			}
		}
	}
	afterForward := len(h.tw.Sent())

	// Back an hour: nothing fires again.
	h.clock.Set(t0.Add(23 * time.Hour))
	for i := 0; i < 3; i++ {
		if err := h.runOnce(); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(10 * time.Minute)
	}
	if got := len(h.tw.Sent()); got != afterForward {
		t.Fatalf("texts after jumping back an hour: %d, want still %d", got, afterForward)
	}
	// Time goes on: the next message goes out once, at its time.
	h.runUntil(t0.Add(26 * time.Hour))
	bodies := textBodies(h.tw.Sent())
	for body, n := range bodies {
		if n != 1 {
			t.Errorf("%q sent %d times", body, n)
		}
	}
	if want := 3 * patients; len(bodies) != want {
		t.Errorf("%d distinct texts sent, want %d (all but the stale ones)", len(bodies), want)
	}
	for _, a := range h.tw.Sent() {
		if occurrence(a.Body) == 3 && a.DateCreated.Before(t0.Add(24*time.Hour+30*time.Minute).Truncate(time.Second)) {
			t.Errorf("message due at +24h30m sent early at %s", a.DateCreated)
		}
	}
}

// TestClockJumpMidPass jumps the clock a day forward while a pass is
// sending: the message in flight finishes, the claimed ones behind it are
// not sent (their lease no longer covers a send) and, their window closed,
// end skipped instead of going out late.
func TestClockJumpMidPass(t *testing.T) {
	t.Parallel()
	h := newInproc(t, t0, func(c *config.Config) { c.Dispatch.Concurrency = 1 })
	s := seedStore(t, h.app.Store, plan{patients: 4, sms: 1, staleIn: 2 * time.Hour, tag: "midpass",
		at: func(int, int) time.Time { return t0 }}, t0, newYork)
	// Twilio holds the first send until the clock has jumped, so the jump
	// lands inside it however slowly the machine gets there.
	h.tw.HangNext(1)
	done := make(chan error, 1)
	go func() { _, err := h.app.Dispatcher.RunOnce(context.Background()); done <- err }()
	testsupport.WaitFor(t, "first send held at Twilio", time.Minute, func() bool { return h.tw.Hanging() == 1 })
	h.clock.Advance(24 * time.Hour)
	h.tw.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := h.app.Store.SkipStale(context.Background(), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.app.Dispatcher.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	view := openView(t, h.db)
	sent, skipped := view.count(aftercare.SMS, aftercare.StatusSent), view.count(aftercare.SMS, aftercare.StatusSkipped)
	if sent != 1 || skipped != s.sms-1 || len(h.tw.Sent()) != 1 {
		t.Fatalf("after a day's jump mid-pass: %d sent, %d skipped, %d at Twilio; want 1, %d, 1", sent, skipped, len(h.tw.Sent()), s.sms-1)
	}
}

// occurrence reads k back from a seeded body "... pN mK: ...".
func occurrence(body string) int {
	i := strings.Index(body, " m")
	if i < 0 {
		return -1
	}
	k := 0
	for _, r := range body[i+2:] {
		if r < '0' || r > '9' {
			break
		}
		k = k*10 + int(r-'0')
	}
	return k
}
