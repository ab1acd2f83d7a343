package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/storetest"
)

// t0 is when the benchmarks' texts are due.
var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

// benchStore is a store with n texts due at t0 (spread over patients of
// 25 messages each, like real plans), its clock at t0 + a day.
func benchStore(b *testing.B, n int) *store.Store {
	b.Helper()
	s, c := openBench(b)
	addDue(b, s, c, 0, n)
	return s
}

func openBench(b *testing.B) (*store.Store, aftercare.Clinic) {
	b.Helper()
	clock := storetest.NewClock(t0.Add(24 * time.Hour))
	s, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Options{Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c, _, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		b.Fatal(err)
	}
	return s, c
}

// addDue adds n due texts for new patients numbered from first.
func addDue(b *testing.B, s *store.Store, c aftercare.Clinic, first, n int) {
	b.Helper()
	body := "Evening care: rinse with lukewarm water, pat dry, apply the calming serum. No makeup, no actives tonight. Reply STOP to opt out."
	for p := 0; p*25 < n; p++ {
		_, _, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
			Patient: aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: fmt.Sprintf("+1415%07d", first/25+p),
				Email: "ana@example.com", Timezone: "America/New_York"},
			Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: t0, SessionNumber: 1, SeriesLength: 3},
			Plan: func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
				var out []aftercare.Message
				for i := 0; i < 25 && p*25+i < n; i++ {
					at := t0.Add(time.Duration(p*25+i) * time.Millisecond)
					out = append(out, aftercare.Message{Step: "step", Occurrence: i, Channel: aftercare.SMS, SendAt: at,
						StaleAt: at.Add(48 * time.Hour), Status: aftercare.StatusScheduled, Body: body})
				}
				return out, nil
			},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaim is one claim of a batch of 500 due texts (the default
// batch size) out of 20,000 due: the UPDATE … RETURNING, the details
// query and the claim events, in one transaction. The batch is released
// (untimed) so that every iteration claims a full batch.
func BenchmarkClaim(b *testing.B) {
	const batch = 500
	s := benchStore(b, 20_000)
	ctx := context.Background()
	now := t0.Add(24 * time.Hour)
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		c0 := cpuTime()
		cs, err := s.Claim(ctx, now, batch, 2*time.Minute)
		cpu += cpuTime() - c0
		if err != nil || len(cs) != batch {
			b.Fatalf("Claim: %d, %v", len(cs), err)
		}
		b.StopTimer()
		outs := make([]store.Outcome, len(cs))
		for i, c := range cs {
			outs[i] = store.Outcome{ID: c.Message.ID, Kind: store.OutcomeDeferred, At: now, NextAttemptAt: c.Message.NextAttemptAt, Reason: "bench"}
		}
		if n, err := s.Record(ctx, outs); err != nil || n != batch {
			b.Fatalf("Record: %d, %v", n, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*batch), "cpu-ns/msg")
}

// cpuTime is the CPU time this process has used: unlike wall time, it
// hardly moves when other processes share the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecordSent commits the "sent" outcomes of claimed texts in
// groups, as the dispatcher's recorder does.
func BenchmarkRecordSent(b *testing.B) {
	for _, group := range []int{1, 16, 500} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			const chunk = 5000
			s, c := openBench(b)
			ctx := context.Background()
			now := t0.Add(24 * time.Hour)
			var claimed []store.Claimed
			seq, added := 0, 0
			var cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				if len(claimed) < group {
					b.StopTimer()
					addDue(b, s, c, added, chunk)
					added += chunk
					cs, err := s.Claim(ctx, now, chunk, 2*time.Minute)
					if err != nil || len(cs) < group {
						b.Fatalf("Claim: %d, %v", len(cs), err)
					}
					claimed = cs
					b.StartTimer()
				}
				outs := make([]store.Outcome, group)
				for i := range outs {
					seq++
					outs[i] = store.Outcome{ID: claimed[i].Message.ID, Kind: store.OutcomeSent, At: now,
						ProviderID: fmt.Sprintf("SM%032x", seq)}
				}
				claimed = claimed[group:]
				c0 := cpuTime()
				n, err := s.Record(ctx, outs)
				cpu += cpuTime() - c0
				if err != nil || n != group {
					b.Fatalf("Record: %d, %v", n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/msg")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*group), "cpu-ns/msg")
		})
	}
}

// BenchmarkStats100k: a clinic's outcome statistics over a quarter, with
// 100,000 messages planned (4,000 enrollments).
func BenchmarkStats100k(b *testing.B) {
	s, c := openBench(b)
	addDue(b, s, c, 0, 100_000)
	ctx := context.Background()
	from, to := t0.AddDate(0, 0, -45), t0.AddDate(0, 0, 45)
	b.ResetTimer()
	for b.Loop() {
		st, err := s.Stats(ctx, c.ID, from, to)
		if err != nil {
			b.Fatal(err)
		}
		if got := store.Total(st.Rows).SMS.Planned; got != 100_000 {
			b.Fatalf("planned = %d", got)
		}
	}
}
