package faulttest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/store"
)

// TestProviderOutage takes the loopback Twilio API through an outage on
// virtual time: 500s, then 429s with Retry-After, then a stretch where it
// answers nothing, then recovery. Texts still fresh are all delivered after
// recovery, exactly once; those whose window closed are failed or skipped
// with the reason; retries back off (the attempt times at the server show
// it); the hang is cut by the client timeout; and no goroutine or
// connection is left behind.
//
// Not parallel: it counts the process's goroutines.
func TestProviderOutage(t *testing.T) {
	goroutinesBefore := runtime.NumGoroutine()
	const retryAfter = 5 * time.Minute
	h := newInproc(t, t0, func(c *config.Config) {
		// Per HTTP request: cuts the hang. Long enough that a request
		// Twilio answers never meets it on a loaded machine (that would
		// change the attempt counts below); only hung requests wait it out.
		c.Twilio.Timeout = 2 * time.Second
		c.Dispatch.SendTimeout = 10 * time.Second // a lookup and a create, each cut by the client
		c.Dispatch.Lease = time.Minute
	})
	ctx := context.Background()
	// 8 fresh texts and 4 with a 20-minute window, due now; 4 fresh texts
	// that first come due in the middle of the hang.
	fresh := seedStore(t, h.app.Store, plan{patients: 8, sms: 1, staleIn: 12 * time.Hour, tag: "fresh",
		at: func(int, int) time.Time { return t0 }}, t0, newYork)
	short := seedStore(t, h.app.Store, plan{patients: 4, sms: 1, staleIn: 20 * time.Minute, tag: "short", firstPhone: 100,
		at: func(int, int) time.Time { return t0 }}, t0, newYork)
	late := seedStore(t, h.app.Store, plan{patients: 4, sms: 1, staleIn: 12 * time.Hour, tag: "late", firstPhone: 200,
		at: func(int, int) time.Time { return t0.Add(15 * time.Minute) }}, t0, newYork)
	early := fresh.sms + short.sms

	// 500s: the request may have gone out, so the next attempt asks first.
	h.tw.FailNext(early, 500, 20500, "")
	if err := h.runOnce(); err != nil {
		t.Fatal(err)
	}
	// 429 with Retry-After for every message's second attempt.
	h.tw.RateLimitNext(early, retryAfter)
	// A 429 pauses the whole sender (all these texts share one), so the
	// scripted 429s are answered one pause after another; sends already in
	// flight when one arrives may go through.
	for i := 0; i < 50 && countStatus(h.tw.Attempts(), 429) < early; i++ {
		h.step(t)
	}
	if n5, n4 := countStatus(h.tw.Attempts(), 500), countStatus(h.tw.Attempts(), 429); n5 != early || n4 != early {
		t.Fatalf("create attempts answered 500: %d, 429: %d; want %d each", n5, n4, early)
	}
	sentBefore := len(h.tw.Sent())

	// Then nothing answers (sends and lookups alike) for 40 minutes of
	// virtual time, passes every 3 minutes.
	h.tw.SetHang(true)
	hangEnd := h.clock.Now().Add(40 * time.Minute)
	requestsBefore := h.tw.Requests()
	passes := 0
	for h.clock.Now().Before(hangEnd) {
		h.clock.Advance(3 * time.Minute)
		// Each pass must come back while the provider still hangs: the
		// client timeout, not the provider, ends every request.
		done := make(chan error, 1)
		go func() { done <- h.runOnce() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("a dispatcher pass did not return while Twilio hung: the hang was not cut by a timeout")
		}
		passes++
		if n, _ := h.app.Store.CountByStatus(ctx); n[aftercare.StatusSending] != 0 {
			t.Fatalf("messages left in sending after a pass: %v", n)
		}
	}
	hungRequests := h.tw.Requests() - requestsBefore
	if hungRequests < early {
		t.Fatalf("only %d requests reached Twilio during the hang", hungRequests)
	}
	testsupport.WaitFor(t, "hung requests given up", time.Minute, func() bool { return h.tw.Hanging() == 0 })
	if got := len(h.tw.Sent()) - sentBefore; got != 0 {
		t.Fatalf("Twilio stored %d texts during the outage", got)
	}
	// Lookups answer again, but the next creates still hang: each is cut
	// by the timeout and left ambiguous, never marked sent.
	h.tw.SetHang(false)
	h.tw.HangNext(late.sms)
	for i := 0; i < 50 && countStatus(h.tw.Attempts(), 0) < late.sms; i++ {
		h.step(t)
	}
	unanswered := countStatus(h.tw.Attempts(), 0)
	if unanswered != late.sms {
		t.Fatalf("%d create requests unanswered, want the %d scripted hangs", unanswered, late.sms)
	}
	testsupport.WaitFor(t, "hung creates given up", time.Minute, func() bool { return h.tw.Hanging() == 0 })
	if n, _ := h.app.Store.CountByStatus(ctx); n[aftercare.StatusSent] != sentBefore {
		t.Fatalf("messages marked sent while Twilio never answered: %v (sent before the outage: %d)", n, sentBefore)
	}

	// Recovery.
	h.runUntil(t0.Add(6 * time.Hour))

	view := openView(t, h.db)
	rows := view.rows()
	view.db.Close()
	bodies := textBodies(h.tw.Sent())
	for _, r := range rows {
		switch {
		case strings.Contains(r.body, " short ") && r.status == aftercare.StatusSent:
			// Sent while another send was being throttled, before the
			// outage: only ever inside its window.
			m, err := h.app.Store.Message(ctx, r.id)
			if err != nil {
				t.Fatal(err)
			}
			if !m.SentAt.Before(m.StaleAt) || bodies[r.body] != 1 {
				t.Errorf("message %d with a 20-minute window sent at %s (stale at %s), %d times", r.id, m.SentAt, m.StaleAt, bodies[r.body])
			}
		case strings.Contains(r.body, " short "):
			if r.status != aftercare.StatusFailed && r.status != aftercare.StatusSkipped || !strings.Contains(r.reason, "stale") {
				t.Errorf("message %d with a 20-minute window: %s %q, want failed or skipped because it went stale", r.id, r.status, r.reason)
			}
			if bodies[r.body] != 0 {
				t.Errorf("message %d sent after its window closed", r.id)
			}
		default:
			if r.status != aftercare.StatusSent {
				t.Errorf("fresh message %d: %s %q after recovery, want sent", r.id, r.status, r.reason)
			}
			if bodies[r.body] != 1 {
				t.Errorf("fresh message %d reached Twilio %d times, want once", r.id, bodies[r.body])
			}
		}
	}
	if len(rows) != early+late.sms {
		t.Fatalf("%d messages, seeded %d", len(rows), early+late.sms)
	}

	// Backoff, as the server saw it: per recipient, attempts never closer
	// than the first backoff (30 s less jitter), and the attempt after a
	// 429 no sooner than its Retry-After.
	byTo := map[string][]time.Time{}
	var statusOf = map[string][]int{}
	for _, a := range h.tw.Attempts() {
		byTo[a.To] = append(byTo[a.To], a.At)
		statusOf[a.To] = append(statusOf[a.To], a.Status)
	}
	for to, at := range byTo {
		for i := 1; i < len(at); i++ {
			gap := at[i].Sub(at[i-1])
			min := 24 * time.Second
			if statusOf[to][i-1] == 429 {
				min = retryAfter
			}
			if gap < min {
				t.Errorf("%s: attempt %d came %s after the previous one (status %d), want at least %s", to, i+1, gap, statusOf[to][i-1], min)
			}
		}
		if len(at) > 8 {
			t.Errorf("%s: %d create attempts; retries are not backing off", to, len(at))
		}
	}
	// And as the database recorded it: each retry waits at least the
	// backoff of its attempt number (exponential, 30 s base, ±20% jitter).
	checkBackoff(t, h.app.Store, rows)

	// Nothing left behind: connections to Twilio and goroutines.
	h.stop()
	h.tw.Close()
	h.mail.Close()
	testsupport.WaitFor(t, "connections to Twilio closed", time.Minute, func() bool { return h.dialer.open.Load() == 0 })
	t.Logf("outage: %d create attempts, %d connections opened, %d requests hung in %d passes, %d creates cut by the timeout",
		len(h.tw.Attempts()), h.dialer.total.Load(), hungRequests, passes, unanswered)
	testsupport.WaitGoroutines(t, goroutinesBefore, 10*time.Second)
}

func countStatus(as []twiliotest.Attempt, status int) int {
	n := 0
	for _, a := range as {
		if a.Status == status {
			n++
		}
	}
	return n
}

// step jumps to the next due message and runs one pass.
func (h *inproc) step(t *testing.T) {
	t.Helper()
	next, err := h.app.Store.NextDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if next.After(h.clock.Now()) {
		h.clock.Set(next)
	}
	if err := h.runOnce(); err != nil {
		t.Fatal(err)
	}
}

// checkBackoff reads each message's events: after attempt k fails, the
// retry is scheduled at least 0.8 x 30 s x 2^(k-1) later (capped at an
// hour), or at the Retry-After the provider asked for.
func checkBackoff(t *testing.T, st *store.Store, rows []row) {
	t.Helper()
	retries := 0
	for _, r := range rows {
		m, err := st.Message(context.Background(), r.id)
		if err != nil {
			t.Fatal(err)
		}
		attempt := 0
		for _, ev := range m.Events {
			if ev.To == aftercare.StatusSending {
				fmt.Sscanf(ev.Detail, "attempt %d", &attempt)
				continue
			}
			rest, ok := strings.CutPrefix(ev.Detail, "retry at ")
			if !ok {
				continue
			}
			retries++
			stamp, _, _ := strings.Cut(rest, ": ")
			at, err := time.Parse(time.RFC3339, stamp)
			if err != nil {
				t.Fatalf("event %q: %v", ev.Detail, err)
			}
			want := time.Duration(float64(30*time.Second) * float64(uint(1)<<(attempt-1)))
			want = time.Duration(float64(min(want, time.Hour)) * 0.8)
			if got := at.Sub(ev.At); got < want-time.Second {
				t.Errorf("message %d: retry after attempt %d scheduled %s later, want at least %s (%s)", r.id, attempt, got, want, ev.Detail)
			}
		}
	}
	if retries == 0 {
		t.Fatal("no retries recorded")
	}
}
