package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
)

// 15:00 UTC is 10:00 in New York: outside quiet hours.
var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

type env struct {
	store  *store.Store
	clock  *testsupport.Clock
	clinic aftercare.Clinic
}

func setup(t *testing.T) *env {
	t.Helper()
	clock := testsupport.NewClock(t0)
	s := testsupport.OpenStore(t, store.Options{Clock: clock})
	c, _, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{store: s, clock: clock, clinic: c}
}

// enroll plans n messages on ch due at t0+i seconds, stale after staleIn.
func (e *env) enroll(t *testing.T, phone string, ch aftercare.Channel, n int, staleIn time.Duration) store.EnrollmentView {
	t.Helper()
	v, _, err := e.store.CreateEnrollment(context.Background(), store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: e.clinic.ID, FirstName: "Ana", LastName: "Diaz", Phone: phone, Email: "ana@example.com", Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 3},
		Plan: func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
			var out []aftercare.Message
			for i := 0; i < n; i++ {
				at := t0.Add(time.Duration(i) * time.Second)
				out = append(out, aftercare.Message{Step: "s", Occurrence: i, Channel: ch, SendAt: at, StaleAt: at.Add(staleIn),
					Status: aftercare.StatusScheduled, Body: "hello"})
			}
			return out, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) dispatcher(senders map[aftercare.Channel]notify.Sender, cfg scheduler.Config) *scheduler.Dispatcher {
	if cfg.Random == nil {
		cfg.Random = func() float64 { return 0.5 } // jitter factor exactly 1.0
	}
	return scheduler.NewDispatcher(e.store, senders, e.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg)
}

func (e *env) message(t *testing.T, id int64) aftercare.Message {
	t.Helper()
	m, err := e.store.Message(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func counting(fn func(m notify.Message) (string, error)) (*atomic.Int64, notify.Sender) {
	var n atomic.Int64
	return &n, notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) {
		n.Add(1)
		return fn(m)
	})
}

func TestDueMessagesAreSentOnceInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enroll(t, "+14155550123", aftercare.SMS, 10, time.Hour)
	var mu sync.Mutex
	var order []int64
	sms := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) {
		mu.Lock()
		order = append(order, m.ID)
		mu.Unlock()
		return "SM" + string(rune('a'+m.ID)), nil
	})
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{Concurrency: 1, BatchSize: 3})
	e.clock.Set(t0.Add(4 * time.Second))
	st, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 5 || len(order) != 5 {
		t.Fatalf("sent %d (%v), want the 5 due messages", st.Sent, order)
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("sent out of due order: %v", order)
		}
	}
	// Running again at the same instant sends nothing twice.
	if st, _ := d.RunOnce(context.Background()); st.Claimed != 0 {
		t.Fatalf("second pass claimed %d", st.Claimed)
	}
	e.clock.Set(t0.Add(time.Minute))
	if st, _ := d.RunOnce(context.Background()); st.Sent != 5 {
		t.Fatalf("later pass sent %d, want the other 5", st.Sent)
	}
	counts, _ := e.store.CountByStatus(context.Background())
	if counts[aftercare.StatusSent] != 10 {
		t.Fatalf("counts %v", counts)
	}
}

func TestTransientFailureRetriesWithBackoffUntilSent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.SMS, 1, 6*time.Hour)
	fails := 3
	calls, sms := counting(func(m notify.Message) (string, error) {
		if fails > 0 {
			fails--
			return "", &notify.Error{Kind: notify.Transient, Code: "20429", Reason: "too many requests"}
		}
		return "SM1", nil
	})
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{BackoffBase: 30 * time.Second, BackoffMax: time.Hour})
	id := v.Messages[0].ID
	var waits []time.Duration
	for i := 0; i < 10 && e.message(t, id).Status != aftercare.StatusSent; i++ {
		before := e.clock.Now()
		if _, err := d.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		m := e.message(t, id)
		if m.Status == aftercare.StatusScheduled {
			waits = append(waits, m.NextAttemptAt.Sub(before))
			// Before the retry time nothing is claimed.
			e.clock.Set(m.NextAttemptAt.Add(-time.Second))
			if st, _ := d.RunOnce(context.Background()); st.Claimed != 0 {
				t.Fatal("claimed before next_attempt_at")
			}
			e.clock.Set(m.NextAttemptAt)
		}
	}
	m := e.message(t, id)
	if m.Status != aftercare.StatusSent || calls.Load() != 4 || m.Attempts != 4 {
		t.Fatalf("status %s after %d calls, %d attempts", m.Status, calls.Load(), m.Attempts)
	}
	want := []time.Duration{30 * time.Second, 60 * time.Second, 120 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v", waits)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("retry %d after %s, want %s (exponential)", i+1, waits[i], want[i])
		}
	}
}

func TestBackoffJitterAndCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0.5, 30 * time.Second},
		{1, 0, 24 * time.Second},
		{1, 0.999999, 36 * time.Second},
		{2, 0.5, time.Minute},
		{10, 0.5, 10 * time.Minute},
		{10, 0.99, 10 * time.Minute},
		{0, 0.5, 30 * time.Second},
	}
	for _, tt := range tests {
		got := scheduler.Backoff(tt.attempt, 30*time.Second, 10*time.Minute, tt.r)
		if got.Round(time.Second) != tt.want {
			t.Errorf("Backoff(%d, r=%v) = %s, want %s", tt.attempt, tt.r, got, tt.want)
		}
	}
}

func TestPermanentFailureFailsAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.SMS, 1, time.Hour)
	calls, sms := counting(func(m notify.Message) (string, error) {
		return "", &notify.Error{Kind: notify.Permanent, Code: "21211", Reason: "invalid 'To' phone number"}
	})
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{})
	st, err := d.RunOnce(context.Background())
	if err != nil || st.Failed != 1 {
		t.Fatalf("stats %+v err %v", st, err)
	}
	e.clock.Advance(10 * time.Minute)
	d.RunOnce(context.Background())
	m := e.message(t, v.Messages[0].ID)
	if m.Status != aftercare.StatusFailed || m.ErrorCode != "21211" || m.Reason == "" || calls.Load() != 1 {
		t.Fatalf("message %+v after %d calls", m, calls.Load())
	}
}

func TestOptOutActionCancelsRemainingTexts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.SMS, 3, 24*time.Hour)
	_, sms := counting(func(m notify.Message) (string, error) {
		return "", &notify.Error{Kind: notify.Permanent, Code: "21610", Reason: "unsubscribed recipient", Action: notify.ActionOptOut}
	})
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{})
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, _ := e.store.Patient(context.Background(), e.clinic.ID, v.Patient.ID)
	if !p.SMSOptOut {
		t.Fatal("patient not opted out after 21610")
	}
	got, _ := e.store.Enrollment(context.Background(), e.clinic.ID, v.Enrollment.ID)
	if got.Messages[0].Status != aftercare.StatusFailed || got.Messages[1].Status != aftercare.StatusCancelled || got.Messages[2].Status != aftercare.StatusCancelled {
		t.Fatalf("statuses %s %s %s", got.Messages[0].Status, got.Messages[1].Status, got.Messages[2].Status)
	}
}

// TestUnreachableHandsetIsRetriedOnce: the dispatcher follows
// notify.Decide for ActionRetryOnce (Twilio 30003): one retry, after half
// the time left before stale but at most notify.UnreachableRetryDelay,
// then the message fails. A step with a 30-day window is retried within
// the half hour, not in 15 days.
func TestUnreachableHandsetIsRetriedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		staleIn time.Duration
		wait    time.Duration
	}{
		{"40-minute window", 40 * time.Minute, 20 * time.Minute},
		{"30-day window", 30 * 24 * time.Hour, notify.UnreachableRetryDelay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			v := e.enroll(t, "+14155550123", aftercare.SMS, 1, tt.staleIn)
			calls, sms := counting(func(m notify.Message) (string, error) {
				return "", &notify.Error{Kind: notify.Transient, Code: "30003", Reason: "phone unreachable", Action: notify.ActionRetryOnce}
			})
			d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{})
			id := v.Messages[0].ID
			if _, err := d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			m := e.message(t, id)
			if m.Status != aftercare.StatusScheduled || !m.NextAttemptAt.Equal(t0.Add(tt.wait)) {
				t.Fatalf("after the first send: %s, next at %v; want a retry at %v", m.Status, m.NextAttemptAt, t0.Add(tt.wait))
			}
			e.clock.Set(m.NextAttemptAt)
			if _, err := d.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tt.staleIn)
			d.RunOnce(context.Background())
			m = e.message(t, id)
			if m.Status != aftercare.StatusFailed || calls.Load() != notify.UnreachableSends || m.Reason == "" {
				t.Fatalf("after the retry: %s after %d sends (reason %q); want failed after %d", m.Status, calls.Load(), m.Reason, notify.UnreachableSends)
			}
		})
	}
}

func TestStaleMessagesAreSkippedNotSentLate(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.SMS, 2, time.Hour)
	calls, sms := counting(func(m notify.Message) (string, error) { return "SM", nil })
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{})
	// The daemon was down for two hours: both messages are past stale.
	e.clock.Advance(2 * time.Hour)
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Fatalf("sent %d stale messages", calls.Load())
	}
	m := e.message(t, v.Messages[0].ID)
	if m.Status != aftercare.StatusSkipped || m.Reason == "" {
		t.Fatalf("message %+v", m)
	}
}

func TestRetriesStopWhenTheStepGoesStale(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.SMS, 1, 2*time.Minute)
	_, sms := counting(func(m notify.Message) (string, error) {
		return "", &notify.Error{Kind: notify.Transient, Code: "500", Reason: "server error"}
	})
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{BackoffBase: time.Minute})
	for i := 0; i < 5; i++ {
		d.RunOnce(context.Background())
		e.clock.Advance(time.Minute)
	}
	m := e.message(t, v.Messages[0].ID)
	if m.Status != aftercare.StatusFailed || m.Attempts > 2 {
		t.Fatalf("message %s after %d attempts, reason %q", m.Status, m.Attempts, m.Reason)
	}
}

func TestQuietHoursDeferSMS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.SMS, 1, 48*time.Hour)
	calls, sms := counting(func(m notify.Message) (string, error) { return "SM", nil })
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{})
	// 03:00 in New York (08:00 UTC next day).
	e.clock.Set(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	d.RunOnce(context.Background())
	m := e.message(t, v.Messages[0].ID)
	want := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC) // 08:00 New York
	if calls.Load() != 0 || m.Status != aftercare.StatusScheduled || !m.NextAttemptAt.Equal(want) || m.Attempts != 0 {
		t.Fatalf("in quiet hours: calls=%d status=%s next=%s attempts=%d", calls.Load(), m.Status, m.NextAttemptAt, m.Attempts)
	}
	e.clock.Set(want)
	d.RunOnce(context.Background())
	if calls.Load() != 1 {
		t.Fatal("not sent after quiet hours")
	}
}

func TestAmbiguousAttemptIsLookedUpBeforeResend(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.SMS, 2, time.Hour)
	var sends atomic.Int64
	found := map[int64]string{v.Messages[0].ID: "SMfound"}
	sender := &finderSender{
		send: func(m notify.Message) (string, error) {
			sends.Add(1)
			return "SMnew", nil
		},
		find: func(m notify.Message) (string, error) { return found[m.ID], nil },
	}
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sender}, scheduler.Config{Lease: time.Minute})
	// Simulate a crash mid-send: claim, then never record.
	e.clock.Set(t0.Add(2 * time.Second))
	if b, err := e.store.Claim(context.Background(), e.clock.Now(), 10, time.Minute); err != nil || len(b) != 2 {
		t.Fatal(len(b), err)
	}
	e.clock.Advance(2 * time.Minute)
	if n, err := e.store.RecoverLeases(context.Background(), e.clock.Now()); err != nil || n != 2 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	m0, m1 := e.message(t, v.Messages[0].ID), e.message(t, v.Messages[1].ID)
	if m0.Status != aftercare.StatusSent || m0.ProviderID != "SMfound" {
		t.Errorf("message found at provider: %s %q", m0.Status, m0.ProviderID)
	}
	if m1.Status != aftercare.StatusSent || m1.ProviderID != "SMnew" {
		t.Errorf("message not found at provider: %s %q", m1.Status, m1.ProviderID)
	}
	if sends.Load() != 1 {
		t.Fatalf("sends = %d, want 1 (the one the provider did not have)", sends.Load())
	}
}

type finderSender struct {
	send func(notify.Message) (string, error)
	find func(notify.Message) (string, error)
}

func (f *finderSender) Send(ctx context.Context, m notify.Message) (string, error) { return f.send(m) }
func (f *finderSender) Find(ctx context.Context, m notify.Message, since time.Time) (string, error) {
	return f.find(m)
}

func TestGracefulShutdownFinishesInFlightAndReleasesTheRest(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Four patients: a patient's next text waits for the previous one.
	for _, phone := range []string{"+14155550123", "+14155550124", "+14155550125", "+14155550126"} {
		e.enroll(t, phone, aftercare.SMS, 5, time.Hour)
	}
	e.clock.Set(t0.Add(time.Minute))
	started := make(chan struct{}, 20)
	release := make(chan struct{})
	var done atomic.Int64
	sms := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) {
		started <- struct{}{}
		<-release
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		done.Add(1)
		return "SM", nil
	})
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{Concurrency: 4})
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := d.RunOnce(ctx)
		result <- err
	}()
	for i := 0; i < 4; i++ {
		<-started
	}
	cancel() // SIGTERM: stop claiming; the 4 in flight must finish.
	close(release)
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	counts, _ := e.store.CountByStatus(context.Background())
	if int64(counts[aftercare.StatusSent]) != done.Load() || done.Load() != 4 {
		t.Fatalf("sent %d recorded vs %d done; counts %v", counts[aftercare.StatusSent], done.Load(), counts)
	}
	if counts[aftercare.StatusScheduled] != 16 || counts[aftercare.StatusSending] != 0 {
		t.Fatalf("the rest must be back in scheduled, not stuck: %v", counts)
	}
	// Released messages were not counted as attempts.
	list, _ := e.store.Messages(context.Background(), store.MessageFilter{ClinicID: e.clinic.ID, Status: aftercare.StatusScheduled, Limit: 100})
	for _, m := range list {
		if m.Attempts != 0 {
			t.Fatalf("released message %d has %d attempts", m.ID, m.Attempts)
		}
	}
}

func TestChannelWithoutProviderWaits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	v := e.enroll(t, "+14155550123", aftercare.Email, 1, time.Hour)
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{}, scheduler.Config{})
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := e.message(t, v.Messages[0].ID); m.Status != aftercare.StatusScheduled || m.Attempts != 0 {
		t.Fatalf("message %s attempts %d", m.Status, m.Attempts)
	}
}

func TestRecordFailureLeavesMessagesRecoverable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enroll(t, "+14155550123", aftercare.SMS, 1, time.Hour)
	sms := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) { return "SM", nil })
	d := scheduler.NewDispatcher(failingRecord{e.store}, map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, e.clock,
		slog.New(slog.NewTextHandler(io.Discard, nil)), scheduler.Config{})
	if _, err := d.RunOnce(context.Background()); err == nil {
		t.Fatal("want the record error surfaced")
	}
	counts, _ := e.store.CountByStatus(context.Background())
	if counts[aftercare.StatusSending] != 1 || counts[aftercare.StatusSent] != 0 {
		t.Fatalf("counts %v: a message must never be marked sent when the record failed", counts)
	}
}

type failingRecord struct{ *store.Store }

func (failingRecord) Record(context.Context, []store.Outcome) (int, error) {
	return 0, errors.New("disk I/O error")
}

// unavailableRecord fails its first n Records as a database that cannot be
// reached (a PostgreSQL restart) would.
type unavailableRecord struct {
	*store.Store
	mu    sync.Mutex
	fails int
}

func (u *unavailableRecord) Record(ctx context.Context, outs []store.Outcome) (int, error) {
	u.mu.Lock()
	fail := u.fails > 0
	if fail {
		u.fails--
	}
	u.mu.Unlock()
	if fail {
		return 0, fmt.Errorf("record outcomes: %w: connection refused", store.ErrUnavailable)
	}
	return u.Store.Record(ctx, outs)
}

// TestOutcomesWaitForTheDatabaseToComeBack: while the database cannot be
// reached, an outcome is recorded again (with backoff) rather than given
// up: a send that happened is recorded as sent, not left in sending for
// its lease to expire (when an email would go out twice).
func TestOutcomesWaitForTheDatabaseToComeBack(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enroll(t, "+14155550123", aftercare.SMS, 1, time.Hour)
	var sends atomic.Int32
	sms := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) { sends.Add(1); return "SM1", nil })
	out := &unavailableRecord{Store: e.store, fails: 3}
	d := scheduler.NewDispatcher(out, map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, e.clock,
		slog.New(slog.NewTextHandler(io.Discard, nil)), scheduler.Config{Lease: time.Hour})
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatalf("run with a database back after three failures: %v", err)
	}
	counts, _ := e.store.CountByStatus(context.Background())
	if counts[aftercare.StatusSent] != 1 || counts[aftercare.StatusSending] != 0 || sends.Load() != 1 {
		t.Fatalf("counts %v after %d sends: want the one message sent once and recorded", counts, sends.Load())
	}
	if out.fails != 0 {
		t.Fatalf("%d failures left: the outcome was not retried", out.fails)
	}
}

// A clinic's own quiet hours hold at send time too: 08:30 in New York is
// outside the daemon's 21:00-08:00 but inside the clinic's 20:00-09:00.
func TestClinicQuietHoursDeferSMS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.clinic.QuietHours = "20:00-09:00"
	if err := e.store.UpdateClinic(context.Background(), e.clinic); err != nil {
		t.Fatal(err)
	}
	v := e.enroll(t, "+14155550123", aftercare.SMS, 1, 48*time.Hour)
	calls, sms := counting(func(m notify.Message) (string, error) { return "SM", nil })
	d := e.dispatcher(map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, scheduler.Config{})
	e.clock.Set(time.Date(2026, 11, 26, 13, 30, 0, 0, time.UTC)) // 08:30 New York
	d.RunOnce(context.Background())
	m := e.message(t, v.Messages[0].ID)
	want := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC) // 09:00 New York
	if calls.Load() != 0 || m.Status != aftercare.StatusScheduled || !m.NextAttemptAt.Equal(want) {
		t.Fatalf("in the clinic's quiet hours: calls=%d status=%s next=%s", calls.Load(), m.Status, m.NextAttemptAt)
	}
	e.clock.Set(want)
	d.RunOnce(context.Background())
	if calls.Load() != 1 {
		t.Fatal("not sent after the clinic's quiet hours")
	}
}
