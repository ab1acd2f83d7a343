package inbound_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/twilio"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
	"github.com/twilio/twilio-go/client"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// 15:00 UTC is 10:00 in New York: outside quiet hours.
var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

// path is one way a Twilio error code reaches aftercare: as an error from
// the API while sending (the dispatcher), or in a failed delivery receipt
// after Twilio accepted the text (inbound).
type path struct {
	store    *store.Store
	clock    *clock
	d        *scheduler.Dispatcher
	in       *inbound.Service
	target   aftercare.Message // the text that fails
	pending  aftercare.Message // a later text to the same patient
	fellBack atomic.Int64      // messages handed to the email fallback
}

// newPath enrolls a patient with two texts: one due at t0 (to clinic staff
// when staff is set) and one an hour later. When receipts is false the
// API refuses the due text with code; otherwise it accepts every text and
// the test reports code in a receipt.
func newPath(t *testing.T, code int, staff, receipts bool) *path {
	t.Helper()
	ctx := context.Background()
	p := &path{clock: &clock{t: t0}}
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "d.db"), store.Options{Clock: p.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p.store = s
	c, _, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York",
		AlertEmail: "staff@glow.example", OnCallPhone: "+14155550199"})
	if err != nil {
		t.Fatal(err)
	}
	recipient := ""
	if staff {
		recipient = c.OnCallPhone
	}
	v, _, err := s.CreateEnrollment(ctx, store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: "+14155550123", Email: "ana@example.com", Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 3},
		Plan: func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
			return []aftercare.Message{
				{Step: "now", Channel: aftercare.SMS, SendAt: t0, StaleAt: t0.Add(24 * time.Hour), NextAttemptAt: t0,
					Status: aftercare.StatusScheduled, Body: "hello", Recipient: recipient},
				{Step: "later", Channel: aftercare.SMS, SendAt: t0.Add(time.Hour), StaleAt: t0.Add(25 * time.Hour), NextAttemptAt: t0.Add(time.Hour),
					Status: aftercare.StatusScheduled, Body: "later"},
			}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.target, p.pending = v.Messages[0], v.Messages[1]
	if p.target.Step != "now" {
		p.target, p.pending = p.pending, p.target
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sms := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) {
		if !receipts && m.ID == p.target.ID {
			return "", twilio.Classify(&client.TwilioRestError{Status: 400, Code: code, Message: "refused"})
		}
		return fmt.Sprintf("SM%d-%d", m.ID, m.Attempt), nil
	})
	fallback := func(_ context.Context, _ int64, msgs []aftercare.Message) { p.fellBack.Add(int64(len(msgs))) }
	p.d = scheduler.NewDispatcher(s, map[aftercare.Channel]notify.Sender{aftercare.SMS: sms}, p.clock, log, scheduler.Config{
		Random: func() float64 { return 0.5 },
		OnBadAddress: func(ctx context.Context, patientID int64, ch aftercare.Channel, msgs []aftercare.Message) {
			if ch == aftercare.SMS {
				fallback(ctx, patientID, msgs)
			}
		},
	})
	p.in = &inbound.Service{Store: s, Clock: p.clock, Log: log, ClassifyReceipt: twilio.ClassifyStatusCallback, Fallback: fallback}
	return p
}

// attempt runs the dispatcher at the path's clock and, on the receipt
// path, reports code for the send it made.
func (p *path) attempt(t *testing.T, code int, receipts bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := p.d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !receipts {
		return
	}
	m, err := p.store.Message(ctx, p.target.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.ProviderID == "" {
		t.Fatalf("target not sent: %s %s", m.Status, m.Reason)
	}
	if err := p.in.HandleReceipt(ctx, inbound.Receipt{ProviderID: m.ProviderID, Status: "undelivered", ErrorCode: strconv.Itoa(code)}); err != nil {
		t.Fatal(err)
	}
}

// outcome is what the action policy decided, as the store shows it.
type outcome struct {
	Status        aftercare.Status // of the failing text
	NextAttemptAt time.Time        // when it is retried, if it is
	Attempts      int
	Pending       aftercare.Status // of the later text
	OptedOut      bool
	PhoneBad      bool
	FellBack      int
}

func (p *path) outcome(t *testing.T, withStatus bool) outcome {
	t.Helper()
	ctx := context.Background()
	m, err := p.store.Message(ctx, p.target.ID)
	if err != nil {
		t.Fatal(err)
	}
	pend, err := p.store.Message(ctx, p.pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := p.store.Patient(ctx, m.ClinicID, m.PatientID)
	if err != nil {
		t.Fatal(err)
	}
	o := outcome{Pending: pend.Status, OptedOut: pt.SMSOptOut, PhoneBad: pt.PhoneBad != "", FellBack: int(p.fellBack.Load())}
	if withStatus {
		o.Status, o.Attempts = m.Status, m.Attempts
		if m.Status == aftercare.StatusScheduled {
			o.NextAttemptAt = m.NextAttemptAt.UTC()
		}
	}
	return o
}

// TestSendAndReceiptPathsAgree fails when the dispatcher and inbound
// disagree about what a Twilio code means: the same code, refused by the
// API while sending or reported in a failed receipt, must opt the patient
// out, flag the number, fall back to email, leave a staff alert's
// patient alone, and retry an unreachable handset at the same time and
// as often, on both paths (both ask notify.Decide).
//
// Only the Kind is allowed to differ: a transient code from the API (an
// account or rate problem: nothing was sent) is retried with backoff,
// while a failed receipt is final. For those codes the failing text's own
// status is left out of the comparison.
func TestSendAndReceiptPathsAgree(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code  int
		staff bool
		want  outcome // after the first failure, on both paths
		// after a second failure at the retry time (retry-once codes)
		second *outcome
	}{
		{code: 21610, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusCancelled, OptedOut: true}},
		{code: 21211, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusSkipped, PhoneBad: true, FellBack: 2}},
		{code: 21614, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusSkipped, PhoneBad: true, FellBack: 2}},
		{code: 30006, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusSkipped, PhoneBad: true, FellBack: 2}},
		{code: 30005, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusScheduled}},
		{code: 30007, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusScheduled}},
		{code: 30036, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusScheduled}},
		{code: 21408, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusScheduled}},
		{code: 30008, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusScheduled}},
		{code: 20003, want: outcome{Pending: aftercare.StatusScheduled}}, // transient on the send path
		{code: 30003,
			want: outcome{Status: aftercare.StatusScheduled, Attempts: 1, NextAttemptAt: t0.Add(notify.UnreachableRetryDelay),
				Pending: aftercare.StatusScheduled},
			second: &outcome{Status: aftercare.StatusFailed, Attempts: notify.UnreachableSends, Pending: aftercare.StatusScheduled}},
		// Staff alerts: the patient's record is never touched.
		{code: 21610, staff: true, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusScheduled}},
		{code: 21614, staff: true, want: outcome{Status: aftercare.StatusFailed, Attempts: 1, Pending: aftercare.StatusScheduled}},
		{code: 30003, staff: true,
			want: outcome{Status: aftercare.StatusScheduled, Attempts: 1, NextAttemptAt: t0.Add(notify.UnreachableRetryDelay),
				Pending: aftercare.StatusScheduled},
			second: &outcome{Status: aftercare.StatusFailed, Attempts: notify.UnreachableSends, Pending: aftercare.StatusScheduled}},
	}
	for _, tt := range tests {
		name := strconv.Itoa(tt.code)
		if tt.staff {
			name += "/staff"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			withStatus := tt.want.Status != ""
			send, receipt := newPath(t, tt.code, tt.staff, false), newPath(t, tt.code, tt.staff, true)
			send.attempt(t, tt.code, false)
			receipt.attempt(t, tt.code, true)
			a, b := send.outcome(t, withStatus), receipt.outcome(t, withStatus)
			if a != b {
				t.Fatalf("the paths disagree:\nsend    %+v\nreceipt %+v", a, b)
			}
			if a != tt.want {
				t.Fatalf("both paths: %+v\nwant       %+v", a, tt.want)
			}
			if tt.second == nil {
				return
			}
			send.clock.Set(a.NextAttemptAt)
			receipt.clock.Set(a.NextAttemptAt)
			send.attempt(t, tt.code, false)
			receipt.attempt(t, tt.code, true)
			a, b = send.outcome(t, true), receipt.outcome(t, true)
			if a != b {
				t.Fatalf("after the retry the paths disagree:\nsend    %+v\nreceipt %+v", a, b)
			}
			if a != *tt.second {
				t.Fatalf("after the retry: %+v\nwant             %+v", a, *tt.second)
			}
		})
	}
}
