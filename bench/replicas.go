package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// ReplicasResult is the replicas phase: the same N due texts drained by
// 1, 2 and 3 daemons on one PostgreSQL database, each with the same
// dispatch settings, against one loopback Twilio API that answers each
// text after APIDelayMS.
type ReplicasResult struct {
	Messages    int          `json:"messages"`
	APIDelayMS  float64      `json:"api_delay_ms"`
	BatchSize   int          `json:"batch_size"`
	Concurrency int          `json:"concurrency"`
	Runs        []ReplicaRun `json:"runs"`
}

// ReplicaRun is one drain by Replicas daemons.
type ReplicaRun struct {
	Replicas int     `json:"replicas"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_sec"`
	// Sent is how many texts each replica sent: every one must take part.
	Sent []int `json:"sent_by_replica"`
	// Duplicates are texts the Twilio API received more than once for one
	// recipient (each patient is due exactly one text), or that no
	// committed outcome accounts for.
	Duplicates int `json:"duplicates"`
	// Lost are due texts not sent, or sent without reaching the API.
	Lost int `json:"lost"`
	// CPUMicros is this process's CPU time per text (all replicas; the
	// PostgreSQL server's work is in MachineCPUMicros).
	CPUMicros        float64 `json:"cpu_us_per_msg"`
	MachineCPUMicros float64 `json:"machine_cpu_us_per_msg,omitempty"`
}

// run returns the drain by k replicas, if there was one.
func (r *ReplicasResult) run(k int) (ReplicaRun, bool) {
	for _, x := range r.Runs {
		if x.Replicas == k {
			return x, true
		}
	}
	return ReplicaRun{}, false
}

// runReplicas seeds n texts, due over the last ten minutes, each to its
// own patient (the dispatcher keeps one text per patient in flight, so
// that is what lets sends overlap), in a fresh schema of the run's
// PostgreSQL database, starts k daemons on it (app.New, as k `aftercare
// serve` processes would be, here in one process) sharing one loopback
// Twilio API that answers after delay, and lets every replica's
// dispatcher drain at once, as their cron ticks would; it times the drain
// from the start until the last replica has nothing left to claim.
func runReplicas(ctx context.Context, pg *pgRun, n, k int, delay time.Duration, o daemonOptions, prof *profiler) (ReplicaRun, error) {
	r := ReplicaRun{Replicas: k}
	db, err := pg.schema(ctx, fmt.Sprintf("replicas-%d", k))
	if err != nil {
		return r, err
	}
	now := time.Now()
	b, err := newBase(ctx, db, now, now.Add(20*time.Hour))
	if err != nil {
		return r, err
	}
	if err := seedDue(ctx, b, now, n, 1, "sms", now.Add(-10*time.Minute), 10*time.Minute/time.Duration(n)); err != nil {
		return r, err
	}
	tw := twiliotest.NewServer(nil, testsupport.AccountSID, testsupport.AuthToken)
	defer tw.Close()
	tw.SetDelay(delay)
	o.Cron, o.Twilio = false, tw
	var ds []*daemon
	defer func() {
		for _, d := range ds {
			d.Close()
		}
	}()
	for range k {
		d, err := startDaemon(db, o)
		if err != nil {
			return r, err
		}
		ds = append(ds, d)
	}

	r.Sent = make([]int, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	stop := prof.start(fmt.Sprintf("replicas-%d", k))
	c0, m0 := cpuTime(), machineCPU()
	t0 := time.Now()
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := d.app.Dispatcher.RunOnce(ctx)
			r.Sent[i], errs[i] = st.Sent, err
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	cpu, mcpu := cpuTime()-c0, machineCPU()-m0
	stop()
	if err := errors.Join(errs...); err != nil {
		return r, fmt.Errorf("%d replicas: %w", k, err)
	}
	r.Seconds, r.PerSec = el.Seconds(), float64(n)/el.Seconds()
	r.CPUMicros = float64(cpu.Microseconds()) / float64(n)
	r.MachineCPUMicros = float64(mcpu.Microseconds()) / float64(n)

	seen := map[string]bool{}
	for _, m := range tw.Sent() {
		if seen[m.To] {
			r.Duplicates++
		}
		seen[m.To] = true
	}
	v, err := verifyAt(ctx, db, tw, n)
	r.Lost = v.Lost
	r.Duplicates = max(r.Duplicates, v.Doubled)
	if err != nil {
		return r, fmt.Errorf("%d replicas: %w", k, err)
	}
	return r, nil
}
