package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/twilio"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
)

const (
	twAccount = "AC0123456789abcdef0123456789abcdef"
	twToken   = "0123456789abcdef0123456789abcdef"
)

// loopTwilio is the real Twilio sender talking to a loopback Twilio API.
func loopTwilio(t *testing.T, e *env) (*twiliotest.Server, notify.Sender) {
	t.Helper()
	tw := twiliotest.NewServer(t, twAccount, twToken)
	tw.SetClock(e.clock.Now)
	s, err := twilio.New(twilio.Config{AccountSID: twAccount, AuthToken: twToken, From: "+14155550100",
		BaseURL: tw.URL(), Timeout: 10 * time.Second, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return tw, s
}

// clinicTexts creates a clinic sending from its own number and one patient
// per text, each text due at the time at(k) returns.
func (e *env) clinicTexts(t *testing.T, from string, n int, at func(k int) time.Time) (aftercare.Clinic, []int64) {
	t.Helper()
	ctx := context.Background()
	c, _, err := e.store.CreateClinic(ctx, aftercare.Clinic{Name: "Clinic " + from, Phone: "+14155550199",
		Timezone: "America/New_York", SMSFrom: from, AlertEmail: "staff@glow.example"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for k := range n {
		send := at(k)
		v, _, err := e.store.CreateEnrollment(ctx, store.NewEnrollment{
			Patient: aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz",
				Phone: fmt.Sprintf("+1646555%s%02d", from[len(from)-2:], k), Timezone: "America/New_York"},
			Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 3},
			Plan: func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
				return []aftercare.Message{{Step: "s", Channel: aftercare.SMS, SendAt: send, StaleAt: send.Add(6 * time.Hour),
					Status: aftercare.StatusScheduled, Body: fmt.Sprintf("text %d from %s", k, from)}}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.Messages[0].ID)
	}
	return c, ids
}

func (e *env) limitedDispatcher(sms notify.Sender, cfg scheduler.Config) *scheduler.Dispatcher {
	cfg.Random = func() float64 { return 0.5 }
	return scheduler.NewDispatcher(e.store, map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, e.clock,
		slog.New(slog.NewTextHandler(io.Discard, nil)), cfg)
}

// bodiesFrom lists, in arrival order, the bodies of the texts the
// loopback API stored from one sender.
func bodiesFrom(tw *twiliotest.Server, from string) []string {
	var out []string
	for _, m := range tw.Sent() {
		if m.From == from {
			out = append(out, m.Body)
		}
	}
	return out
}

func wantBodies(from string, n int) []string {
	out := make([]string, n)
	for k := range out {
		out[k] = fmt.Sprintf("text %d from %s", k, from)
	}
	return out
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBusySenderDoesNotDelayOthers: a clinic whose sender is held back (by
// Twilio's 429s, or by its own configured rate) never holds up another
// clinic's texts, even though its texts are due first: in one pass, with
// the clock standing still, the other clinic's texts all go out in order
// and the held sender's are deferred (not failed, not lost) to when it may
// send; once it may, they go out, once each and in order.
func TestBusySenderDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	const busy, other = "+14155550001", "+14155550002"
	for _, tc := range []struct {
		name     string
		throttle bool
		limits   map[string]scheduler.SenderLimit
		minDefer time.Duration // the earliest deferred text waits at least this
	}{
		{name: "twilio 429 with retry-after", throttle: true, minDefer: 60 * time.Second},
		{name: "configured sender rate", limits: map[string]scheduler.SenderLimit{busy: {Rate: 0.5, Concurrency: 1}}, minDefer: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			tw, sms := loopTwilio(t, e)
			const n = 12
			// The busy clinic's texts are due first, each half a second
			// before the other clinic's.
			_, busyIDs := e.clinicTexts(t, busy, n, func(k int) time.Time { return t0.Add(time.Duration(k) * time.Second) })
			_, otherIDs := e.clinicTexts(t, other, n, func(k int) time.Time { return t0.Add(time.Duration(k)*time.Second + 500*time.Millisecond) })
			if tc.throttle {
				tw.ThrottleFrom(busy, 60*time.Second)
			}
			// One send at a time per sender, so that the arrival order at
			// Twilio is exactly the order the dispatcher sent in; two
			// senders, so two in flight.
			d := e.limitedDispatcher(sms, scheduler.Config{Concurrency: 4, Senders: tc.limits,
				SenderConcurrency: map[aftercare.Channel]int{aftercare.SMS: 1}})
			e.clock.Set(t0.Add(time.Minute))
			before := e.clock.Now()

			st, err := d.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := bodiesFrom(tw, other); !equal(got, wantBodies(other, n)) {
				t.Fatalf("other clinic's texts at Twilio: %q, want all %d in due order", got, n)
			}
			for _, id := range otherIDs {
				if m := e.message(t, id); m.Status != aftercare.StatusSent {
					t.Fatalf("other clinic's message %d is %s, want sent", id, m.Status)
				}
			}
			if tc.throttle && st.Throttled == 0 {
				t.Errorf("stats %+v: no 429 seen", st)
			}
			deferred := 0
			for _, id := range busyIDs {
				m := e.message(t, id)
				switch m.Status {
				case aftercare.StatusSent:
				case aftercare.StatusScheduled:
					deferred++
					if m.NextAttemptAt.Before(before.Add(tc.minDefer)) {
						t.Errorf("busy clinic's message %d deferred to %s, before its sender may send (%s)", id,
							m.NextAttemptAt.Format(time.RFC3339), before.Add(tc.minDefer).Format(time.RFC3339))
					}
				default:
					t.Fatalf("busy clinic's message %d is %s (%s); a held-back sender must not fail texts", id, m.Status, m.Reason)
				}
			}
			if deferred == 0 {
				t.Fatal("no text of the held-back sender was deferred: the test does not exercise its limit")
			}

			// The sender may send again: the rest go out, in order, once each.
			tw.ClearThrottleFrom(busy)
			for range 20 {
				left := 0
				for _, id := range busyIDs {
					if e.message(t, id).Status != aftercare.StatusSent {
						left++
					}
				}
				if left == 0 {
					break
				}
				e.clock.Advance(tc.minDefer)
				if _, err := d.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if got := bodiesFrom(tw, busy); !equal(got, wantBodies(busy, n)) {
				t.Fatalf("busy clinic's texts at Twilio: %q, want all %d once each in due order", got, n)
			}
		})
	}
}

// TestThrottleSlowsSenderAndRecovers: Twilio's 429 halves the sends in
// flight the sender is allowed and pauses it for Retry-After; accepted
// sends grow it back to the cap. 429s from two senders at once slow the
// whole account the same way.
func TestThrottleSlowsSenderAndRecovers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tw, sms := loopTwilio(t, e)
	const a, b, n = "+14155550011", "+14155550012", 30
	_, aIDs := e.clinicTexts(t, a, n, func(k int) time.Time { return t0.Add(time.Duration(k) * time.Second) })
	d := e.limitedDispatcher(sms, scheduler.Config{Concurrency: 8})
	e.clock.Set(t0.Add(time.Minute))
	ctx := context.Background()

	tw.ThrottleFrom(a, 5*time.Second)
	st, err := d.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Throttled == 0 || st.Sent != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v: want 429s, nothing sent or failed", st)
	}
	if s, c := d.InFlightAllowed(aftercare.SMS, a); s != 4 || c != 8 {
		t.Fatalf("after one sender's 429s: sender allowed %d in flight, account %d; want 4 (halved once) and 8", s, c)
	}
	if p := tw.PeakInFlight(a); p > 8 {
		t.Errorf("%d requests in flight from one sender, over the cap of 8", p)
	}
	for _, id := range aIDs {
		m := e.message(t, id)
		if m.Status != aftercare.StatusScheduled || m.NextAttemptAt.Before(e.clock.Now().Add(5*time.Second)) {
			t.Fatalf("message %d is %s next at %s; want scheduled no earlier than Retry-After", id, m.Status, m.NextAttemptAt)
		}
	}

	// Twilio accepts again: every text goes, and the window grows back.
	tw.ClearThrottleFrom(a)
	tw.ResetPeaks()
	e.clock.Advance(5 * time.Second)
	st, err = d.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != n {
		t.Fatalf("after the pause: stats %+v, want %d sent", st, n)
	}
	if s, _ := d.InFlightAllowed(aftercare.SMS, a); s != 8 {
		t.Errorf("after %d accepted sends the sender is allowed %d in flight, want back to 8", n, s)
	}
	// Eight in flight at once may reach Twilio in any order among them.
	if got := bodiesFrom(tw, a); !equal(sorted(got), sorted(wantBodies(a, n))) {
		t.Fatalf("texts at Twilio: %q, want all %d once each", got, n)
	}

	// Two senders answered 429 moments apart: the account's limit.
	_, _ = e.clinicTexts(t, b, n, func(k int) time.Time { return e.clock.Now().Add(-time.Duration(n-k) * time.Second) })
	_, _ = e.clinicTexts(t, "+14155550013", n, func(k int) time.Time { return e.clock.Now().Add(-time.Duration(n-k) * time.Second) })
	tw.ThrottleFrom(b, 0)
	tw.ThrottleFrom("+14155550013", 0)
	if _, err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, c := d.InFlightAllowed(aftercare.SMS, b); c != 4 {
		t.Errorf("after 429s from two senders the account is allowed %d in flight, want 4 (halved)", c)
	}
}

// TestEarliestDueFirstAcrossSenders: with one send at a time, texts of
// three clinics (three senders) whose due times interleave reach Twilio in
// exactly due order.
func TestEarliestDueFirstAcrossSenders(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tw, sms := loopTwilio(t, e)
	froms := []string{"+14155550021", "+14155550022", "+14155550023"}
	const n = 8
	for j, from := range froms {
		// Clinic j's k-th text is due at slot 3k + (2 - j): the last
		// clinic created has the earliest texts.
		e.clinicTexts(t, from, n, func(k int) time.Time { return t0.Add(time.Duration(3*k+2-j) * time.Second) })
	}
	d := e.limitedDispatcher(sms, scheduler.Config{Concurrency: 1})
	e.clock.Set(t0.Add(time.Hour))
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, m := range tw.Sent() {
		got = append(got, m.Body)
	}
	for slot := range 3 * n {
		k, j := slot/3, 2-slot%3
		want = append(want, fmt.Sprintf("text %d from %s", k, froms[j]))
	}
	if !equal(got, want) {
		t.Fatalf("arrival order:\n%q\nwant due order:\n%q", got, want)
	}
}

// TestPatientTextsArriveInOrder: a patient's texts due together reach
// Twilio in due order even with many sends in flight: the next waits for
// the previous answer.
func TestPatientTextsArriveInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tw, sms := loopTwilio(t, e)
	tw.SetDelay(5 * time.Millisecond) // answers take a moment: sends overlap
	const n = 12
	e.enroll(t, "+14155550123", aftercare.SMS, n, time.Hour)
	e.enroll(t, "+14155550124", aftercare.SMS, n, time.Hour)
	d := e.limitedDispatcher(sms, scheduler.Config{Concurrency: 16})
	e.clock.Set(t0.Add(30 * time.Minute))
	st, err := d.RunOnce(context.Background())
	if err != nil || st.Sent != 2*n {
		t.Fatalf("RunOnce: %+v, %v; want %d sent", st, err, 2*n)
	}
	for _, to := range []string{"+14155550123", "+14155550124"} {
		var got []time.Time
		for _, m := range tw.Sent() {
			if m.To == to {
				sent, err := e.store.MessageByProviderID(context.Background(), m.SID)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, sent.SendAt)
			}
		}
		if len(got) != n || !slices.IsSortedFunc(got, func(a, b time.Time) int { return a.Compare(b) }) {
			t.Fatalf("texts to %s reached Twilio with due times %v, want %d in due order", to, got, n)
		}
	}
}
