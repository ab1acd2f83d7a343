package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

// TestEnrollmentsWaitingTogetherShareOneTransaction holds the writer with
// one enrollment while three more queue up, so that those three are
// written as one group: a failing one is rolled back alone, and a repeat
// of an earlier one in the same group finds it.
func TestEnrollmentsWaitingTogetherShareOneTransaction(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "group.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	plan := func(n int, dup bool) func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
		return func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
			var out []aftercare.Message
			for i := 0; i < n; i++ {
				occ := i
				if dup {
					occ = 0 // the same unique key twice: the insert fails
				}
				out = append(out, aftercare.Message{Step: "s", Occurrence: occ, Channel: aftercare.SMS, SendAt: t0,
					StaleAt: t0.Add(time.Hour), Status: aftercare.StatusScheduled, Body: "hi"})
			}
			return out, nil
		}
	}
	in := func(phone, key string, p func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error)) NewEnrollment {
		return NewEnrollment{
			Patient:        aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", Phone: phone, Timezone: "UTC"},
			Enrollment:     aftercare.Enrollment{ClinicID: c.ID, Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 1},
			IdempotencyKey: key, RequestHash: "h-" + key, Plan: p,
		}
	}
	type result struct {
		v       EnrollmentView
		created bool
		err     error
	}
	run := func(ne NewEnrollment) chan result {
		ch := make(chan result, 1)
		go func() {
			v, created, err := s.CreateEnrollment(context.Background(), ne)
			ch <- result{v, created, err}
		}()
		return ch
	}

	// A plans inside the transaction (its plan outside fails) and waits
	// there until B, C and D are queued behind it.
	entered, release := make(chan struct{}), make(chan struct{})
	a := run(in("+14155550001", "a", func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
		if p.ID == 0 {
			return nil, errors.New("plan inside the transaction")
		}
		close(entered)
		<-release
		return plan(3, false)(p, e)
	}))
	<-entered
	waitPending := func(n int) {
		t.Helper()
		for i := 0; i < 1000; i++ {
			s.enrolls.mu.Lock()
			got := len(s.enrolls.pending)
			s.enrolls.mu.Unlock()
			if got == n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("never saw %d enrollments waiting", n)
	}
	b := run(in("+14155550002", "b", plan(2, false)))
	waitPending(1)
	cc := run(in("+14155550003", "c", plan(2, true)))
	waitPending(2)
	d := run(in("+14155550002", "b", plan(2, false))) // a repeat of B
	waitPending(3)
	close(release)

	ra, rb, rc, rd := <-a, <-b, <-cc, <-d
	if ra.err != nil || !ra.created || len(ra.v.Messages) != 3 {
		t.Fatalf("A = created %v, %d messages, %v", ra.created, len(ra.v.Messages), ra.err)
	}
	if rb.err != nil || !rb.created || len(rb.v.Messages) != 2 {
		t.Fatalf("B = created %v, %d messages, %v", rb.created, len(rb.v.Messages), rb.err)
	}
	if rc.err == nil {
		t.Fatal("C (a plan with a duplicate message) did not fail")
	}
	if rd.err != nil || rd.created || rd.v.Enrollment.ID != rb.v.Enrollment.ID {
		t.Fatalf("D (repeat of B) = created %v, enrollment %d (B is %d), %v", rd.created, rd.v.Enrollment.ID, rb.v.Enrollment.ID, rd.err)
	}
	ps, err := s.SearchPatients(context.Background(), c.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Phone == "+14155550003" {
			t.Fatal("C's patient was stored although its enrollment failed")
		}
	}
	if len(ps) != 2 {
		t.Fatalf("%d patients, want A's and B's", len(ps))
	}
	counts, err := s.CountByStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts[aftercare.StatusScheduled] != 5 {
		t.Fatalf("scheduled = %d, want A's 3 and B's 2", counts[aftercare.StatusScheduled])
	}
}
