package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/aftercare/aftercare"
)

// Job is a named periodic job.
type Job struct {
	Name string
	Spec string // cron spec, e.g. "@every 1s"
	Run  func(ctx context.Context) error
	// AtStart also runs the job as soon as the scheduler starts, rather
	// than only at its first tick (never alongside itself).
	AtStart bool
}

// Scheduler runs the dispatcher and housekeeping jobs on cron triggers.
// Each job is wrapped in SkipIfStillRunning, so a slow pass never piles up
// behind itself; a missed tick only delays work, because what is due is
// read from the database on every pass.
type Scheduler struct {
	cron   *cron.Cron
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	lastRun map[string]time.Time
	lastErr map[string]error
	running map[string]bool
	clock   aftercare.Clock
}

// New builds a scheduler for jobs. It does not start them.
func New(log *slog.Logger, clock aftercare.Clock, jobs ...Job) (*Scheduler, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		cron:    cron.New(cron.WithLogger(cronLogger{log})),
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		lastRun: make(map[string]time.Time),
		lastErr: make(map[string]error),
		running: make(map[string]bool),
		clock:   clock,
	}
	for _, j := range jobs {
		j := j
		wrapped := cron.NewChain(cron.Recover(cronLogger{log}), cron.SkipIfStillRunning(cronLogger{log})).Then(cron.FuncJob(func() {
			s.mu.Lock()
			s.running[j.Name] = true
			s.mu.Unlock()
			err := j.Run(s.ctx)
			s.mu.Lock()
			s.running[j.Name] = false
			s.lastRun[j.Name] = s.clock.Now()
			s.lastErr[j.Name] = err
			s.mu.Unlock()
			if err != nil && s.ctx.Err() == nil {
				log.Error("job failed", "job", j.Name, "err", err)
			}
		}))
		if _, err := s.cron.AddJob(j.Spec, wrapped); err != nil {
			cancel()
			return nil, fmt.Errorf("schedule job %s (%q): %w", j.Name, j.Spec, err)
		}
		if j.AtStart {
			// The same wrapped job, so SkipIfStillRunning keeps the two
			// entries from overlapping; cron tracks the run, so Stop waits
			// for it.
			s.cron.Schedule(&atStart{}, wrapped)
		}
	}
	return s, nil
}

// atStart is a cron schedule that fires once, when the scheduler starts.
type atStart struct{ fired atomic.Bool }

func (a *atStart) Next(t time.Time) time.Time {
	if a.fired.Swap(true) {
		return time.Time{} // never again
	}
	return t
}

// Start starts the cron triggers.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops triggering jobs, tells running ones to wind down (the
// dispatcher stops claiming; in-flight sends finish) and waits for them
// until ctx is done.
func (s *Scheduler) Stop(ctx context.Context) error {
	done := s.cron.Stop()
	s.cancel()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop scheduler: %w", ctx.Err())
	}
}

// LastRun returns when the named job last finished and its error.
func (s *Scheduler) LastRun(name string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastRun[name], s.lastErr[name]
}

// Running reports whether the named job is running now. A long pass (a
// backlog drained at a rate limit) is progress, not a stall.
func (s *Scheduler) Running(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[name]
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}

// Housekeeping returns the jobs that keep the outbox honest: lease recovery
// and ending stale messages.
func Housekeeping(o Outbox, clock aftercare.Clock, log *slog.Logger, spec string) []Job {
	if spec == "" {
		spec = "@every 15s"
	}
	return []Job{
		{Name: "recover_leases", Spec: spec, Run: func(ctx context.Context) error {
			n, err := o.RecoverLeases(ctx, clock.Now())
			if n > 0 {
				log.Warn("recovered messages from expired leases", "count", n)
			}
			return err
		}},
		{Name: "skip_stale", Spec: spec, Run: func(ctx context.Context) error {
			n, err := o.SkipStale(ctx, clock.Now())
			if n > 0 {
				log.Info("ended stale messages", "count", n)
			}
			return err
		}},
	}
}

// tickMargin is how long before the next tick a dispatch pass stops
// waiting for messages to fall due, so that the tick finds it finished
// (SkipIfStillRunning would skip the tick otherwise).
const tickMargin = 50 * time.Millisecond

// DispatchJob is the dispatcher's trigger: it runs at start and on every
// tick (default every second), and between ticks it does not sit idle
// while messages fall due: each pass runs until shortly before the next
// tick, sleeping until the next message is due (see RunUntil). A message
// then goes out within tens of milliseconds of its time, not up to a
// whole tick late.
func DispatchJob(d *Dispatcher, spec string) Job {
	if spec == "" {
		spec = "@every 1s"
	}
	sched, err := cron.ParseStandard(spec)
	return Job{Name: "dispatch", Spec: spec, AtStart: true, Run: func(ctx context.Context) error {
		if err != nil {
			_, err := d.RunOnce(ctx) // New reports the bad spec
			return err
		}
		_, err := d.RunUntil(ctx, sched.Next(time.Now()).Add(-tickMargin))
		return err
	}}
}
