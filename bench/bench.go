// Package bench measures aftercare on the machine it runs on, in one
// process and one go: the ceiling of the Twilio client and the loopback
// Twilio API together (limit), the real dispatcher draining due texts
// (dispatch) and a burst falling due at one instant (burst), enrollments
// through the HTTP API (enroll), dispatch and enroll again on PostgreSQL
// beside the SQLite figures (postgres), 1, 2 and 3 replicas draining one
// PostgreSQL database against a Twilio API that answers after 150 ms
// (replicas), how late a steady stream of due messages goes out
// (lateness), and the daemon's memory and start-up time with a thousand
// and a million messages pending (in a child process). Every phase runs
// the daemon as app.New builds it, against a temp SQLite file (or a fresh
// schema in a PostgreSQL database the run creates and drops),
// notify/twiliotest driven by twilio-go and a real SMTP server on
// 127.0.0.1 (notify/smtptest). cmd/aftercare-bench wires it to flags.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// Phases, in the order they run.
const (
	PhaseLimit    = "limit"
	PhaseDispatch = "dispatch"
	PhaseBurst    = "burst"
	PhaseMorning  = "morning"
	PhaseEnroll   = "enroll"
	// PhasePostgres is dispatch and enroll on PostgreSQL, with the
	// dispatch and enroll phases' settings, next to the SQLite figures.
	PhasePostgres = "postgres"
	// PhaseReplicas is 1, 2 and 3 replicas draining one PostgreSQL
	// database against a Twilio API answering after APIDelay.
	PhaseReplicas = "replicas"
	// PhaseDurability is enrollments at synchronous=FULL and NORMAL, back
	// to back: what durable acknowledgements cost.
	PhaseDurability = "durability"
	PhaseLateness   = "lateness"
	PhaseMemory     = "memory"
)

// AllPhases lists every phase in running order.
var AllPhases = []string{PhaseLimit, PhaseDispatch, PhaseBurst, PhaseMorning, PhaseDurability, PhaseEnroll,
	PhasePostgres, PhaseReplicas, PhaseLateness, PhaseMemory}

// postgresPhases need a PostgreSQL server.
var postgresPhases = []string{PhasePostgres, PhaseReplicas}

// Config sizes a run.
type Config struct {
	// N texts for limit, dispatch and burst.
	N int
	// BatchSize and Concurrency of the dispatcher (and the limit's
	// concurrency); zero takes the daemon's defaults.
	BatchSize, Concurrency int
	// Enrollments posted by EnrollClients concurrent clients.
	Enrollments, EnrollClients int
	// MorningClinics × MorningPatients texts fall due at once in the
	// morning phase, against a Twilio API answering after APIDelay (the
	// replicas phase's API answers after it too).
	MorningClinics, MorningPatients int
	APIDelay                        time.Duration
	// Postgres is the DSN of a PostgreSQL server where the run may CREATE
	// DATABASE (see FindPostgres); "" skips the PostgreSQL phases, saying
	// so, or fails them with RequirePostgres (CI).
	Postgres        string
	RequirePostgres bool
	// ReplicaN texts are drained by 1, 2 and 3 replicas, each with
	// ReplicaBatch and ReplicaConcurrency.
	ReplicaN, ReplicaBatch, ReplicaConcurrency int
	// Rate (due messages/s) and Duration of the lateness stream.
	Rate     float64
	Duration time.Duration
	// MemSmall and MemLarge pending messages for the memory phase; Hold is
	// how long the daemon child runs once ready.
	MemSmall, MemLarge int
	Hold               time.Duration
	// Phases to run; empty runs all.
	Phases []string
	// ProfileDir, if set, receives CPU and allocation profiles of each
	// measured phase (PHASE.cpu.pprof; PHASE.allocs.pprof with
	// PHASE.allocs-base.pprof to pass to pprof -base).
	ProfileDir string
	// Dir is where the temp databases go ("" = the system temp dir).
	Dir string
	// Progress receives one line per finished phase (nil: none).
	Progress io.Writer
}

// Default is the full run the README's table comes from (about two
// minutes on two cores).
func Default() Config {
	d := config.Default().Dispatch
	return Config{
		N: 100_000, BatchSize: d.BatchSize, Concurrency: d.Concurrency,
		Enrollments: 10_000, EnrollClients: 32,
		MorningClinics: 100, MorningPatients: 100, APIDelay: 150 * time.Millisecond,
		ReplicaN: 3_000, ReplicaBatch: 100, ReplicaConcurrency: 20,
		Rate: 500, Duration: 20 * time.Second,
		MemSmall: 1_000, MemLarge: 1_000_000, Hold: 3 * time.Second,
	}
}

// Quick is a small run that keeps the bench from rotting in CI.
func Quick() Config {
	c := Default()
	c.N, c.Enrollments = 5_000, 500
	c.MorningClinics, c.MorningPatients = 10, 50
	c.ReplicaN = 600
	c.Duration = 3 * time.Second
	c.MemLarge, c.Hold = 50_000, time.Second
	return c
}

// Machine describes where the figures were measured.
type Machine struct {
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPU        string `json:"cpu,omitempty"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	// LoadAvg is the 1-minute load average when the run started and
	// ended: other work on the machine skews every figure.
	LoadAvg [2]float64 `json:"load_avg"`
}

// Figure is one measured number with its target.
type Figure struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target,omitempty"`
	// Pass is nil for a figure without a target.
	Pass *bool `json:"pass,omitempty"`
}

// Report is everything one run measured.
type Report struct {
	Machine  Machine        `json:"machine"`
	Config   ReportConfig   `json:"config"`
	Limit    *LimitResult   `json:"limit,omitempty"`
	Dispatch *DrainResult   `json:"dispatch,omitempty"`
	Burst    *DrainResult   `json:"burst,omitempty"`
	Morning  *MorningResult `json:"morning,omitempty"`
	Enroll   *EnrollResult  `json:"enroll,omitempty"`
	// EnrollFull and EnrollNormal are the durability phase's enrollments
	// at synchronous=FULL (shipped) and NORMAL.
	EnrollFull   *EnrollResult `json:"enroll_full,omitempty"`
	EnrollNormal *EnrollResult `json:"enroll_normal,omitempty"`
	// PostgresServer is the server of the PostgreSQL phases (no
	// password), or why they did not run.
	PostgresServer string `json:"postgres_server,omitempty"`
	// PGDispatch and PGEnroll are the dispatch and enroll phases on
	// PostgreSQL.
	PGDispatch *DrainResult    `json:"postgres_dispatch,omitempty"`
	PGEnroll   *EnrollResult   `json:"postgres_enroll,omitempty"`
	Replicas   *ReplicasResult `json:"replicas,omitempty"`
	// NotRun are phases that were asked for but could not run here (no
	// PostgreSQL server), with why.
	NotRun   []string        `json:"not_run,omitempty"`
	Lateness *LatenessResult `json:"lateness,omitempty"`
	Memory   []MemoryResult  `json:"memory,omitempty"`
	// BytesPerMessage is the database growth per pending message between
	// the memory phase's two sizes (rows, indexes and events included).
	BytesPerMessage float64  `json:"db_bytes_per_message,omitempty"`
	Figures         []Figure `json:"figures"`
	// Errors are phases that failed (a crash, or messages lost or doubled).
	Errors  []string `json:"errors,omitempty"`
	Seconds float64  `json:"seconds"`
}

// ReportConfig is the part of Config that shapes the figures.
type ReportConfig struct {
	N             int     `json:"n"`
	BatchSize     int     `json:"batch_size"`
	Concurrency   int     `json:"concurrency"`
	Enrollments   int     `json:"enrollments"`
	EnrollClients int     `json:"enroll_clients"`
	Rate          float64 `json:"lateness_rate"`
	DurationSec   float64 `json:"lateness_seconds"`
	MemSmall      int     `json:"mem_small"`
	MemLarge      int     `json:"mem_large"`
	ReplicaN      int     `json:"replica_n"`
	ReplicaBatch  int     `json:"replica_batch_size"`
	ReplicaConc   int     `json:"replica_concurrency"`
	APIDelayMS    float64 `json:"api_delay_ms"`
}

// Run runs the configured phases and returns what they measured. A phase
// that fails is recorded in Report.Errors and the others still run; the
// error returned joins them.
func Run(ctx context.Context, c Config) (*Report, error) {
	def := Default()
	if c.BatchSize <= 0 {
		c.BatchSize = def.BatchSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = def.Concurrency
	}
	if c.ReplicaBatch <= 0 {
		c.ReplicaBatch = def.ReplicaBatch
	}
	if c.ReplicaConcurrency <= 0 {
		c.ReplicaConcurrency = def.ReplicaConcurrency
	}
	if len(c.Phases) == 0 {
		c.Phases = AllPhases
	}
	for _, p := range c.Phases {
		if !slices.Contains(AllPhases, p) {
			return nil, fmt.Errorf("unknown phase %q (phases: %s)", p, strings.Join(AllPhases, ", "))
		}
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	dir, err := os.MkdirTemp(c.Dir, "aftercare-bench-")
	if err != nil {
		return nil, fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	prof := &profiler{dir: c.ProfileDir}
	if c.ProfileDir != "" {
		if err := os.MkdirAll(c.ProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("make profile dir: %w", err)
		}
	}

	r := &Report{Machine: machine(), Config: ReportConfig{N: c.N, BatchSize: c.BatchSize, Concurrency: c.Concurrency,
		Enrollments: c.Enrollments, EnrollClients: c.EnrollClients, Rate: c.Rate, DurationSec: c.Duration.Seconds(),
		MemSmall: c.MemSmall, MemLarge: c.MemLarge, ReplicaN: c.ReplicaN, ReplicaBatch: c.ReplicaBatch,
		ReplicaConc: c.ReplicaConcurrency, APIDelayMS: ms(c.APIDelay)}}
	o := daemonOptions{BatchSize: c.BatchSize, Concurrency: c.Concurrency}
	start := time.Now()
	var errs []error
	pg := &pgRun{server: c.Postgres}
	defer func() {
		if err := pg.Close(); err != nil {
			fmt.Fprintf(c.Progress, "aftercare-bench: %v\n", err)
		}
	}()
	if c.Postgres != "" {
		r.PostgresServer = store.RedactDSN(c.Postgres)
	} else {
		r.PostgresServer = "none configured: set " + PostgresEnv + " or run .ci/deps"
	}
	phase := func(name string, f func() (string, error)) {
		if !slices.Contains(c.Phases, name) || ctx.Err() != nil {
			return
		}
		if c.Postgres == "" && slices.Contains(postgresPhases, name) {
			why := "no PostgreSQL server configured (set " + PostgresEnv + " to a DSN where the bench may CREATE DATABASE, or run .ci/deps)"
			if c.RequirePostgres {
				errs = append(errs, fmt.Errorf("%s: %s, and CI must measure PostgreSQL", name, why))
				r.Errors = append(r.Errors, fmt.Sprintf("%s: %s, and CI must measure PostgreSQL", name, why))
				fmt.Fprintf(c.Progress, "%-9s FAILED: %s, and CI must measure PostgreSQL\n", name, why)
				return
			}
			r.NotRun = append(r.NotRun, fmt.Sprintf("%s: %s", name, why))
			fmt.Fprintf(c.Progress, "%-9s NOT RUN: %s\n", name, why)
			return
		}
		t0 := time.Now()
		line, err := f()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", name, err))
			fmt.Fprintf(c.Progress, "%-9s FAILED after %.1fs: %v\n", name, time.Since(t0).Seconds(), err)
			return
		}
		fmt.Fprintf(c.Progress, "%-9s %s (phase %.1fs)\n", name, line, time.Since(t0).Seconds())
	}

	phase(PhaseLimit, func() (string, error) {
		bodies, err := smsBodies(time.Now())
		if err != nil {
			return "", err
		}
		l, err := runLimit(ctx, c.N, c.Concurrency, bodies)
		if err != nil {
			return "", err
		}
		r.Limit = &l
		return fmt.Sprintf("%d sends in %.2fs: %.0f/s, %.0fµs CPU each", l.Sends, l.Seconds, l.PerSec, l.CPUMicros), nil
	})
	phase(PhaseDispatch, func() (string, error) {
		d, err := runDispatch(ctx, filepath.Join(dir, "dispatch.db"), c.N, o, prof)
		if err != nil {
			return "", err
		}
		r.Dispatch = &d
		return fmt.Sprintf("%d texts in %.2fs: %.0f/s, %.0fµs CPU each, max displacement %d", d.Messages, d.Seconds, d.PerSec, d.CPUMicros, d.MaxDisplacement), nil
	})
	phase(PhaseBurst, func() (string, error) {
		b, err := runBurst(ctx, dir, c.N, o, prof)
		if err != nil {
			return "", err
		}
		r.Burst = &b
		return fmt.Sprintf("%d texts drained in %.2fs (first sent %.3fs after due): %.0f/s, %.0fµs CPU each, max displacement %d",
			b.Messages, b.Seconds, b.StartLatency, b.PerSec, b.CPUMicros, b.MaxDisplacement), nil
	})
	phase(PhaseMorning, func() (string, error) {
		m, err := runMorning(ctx, dir, c.MorningClinics, c.MorningPatients, c.APIDelay, o, prof)
		if err != nil {
			return "", err
		}
		r.Morning = &m
		return fmt.Sprintf("%d clinics × %d texts due at once, API %.0fms, concurrency %d: last handed to Twilio after %.2fs (%.0f/s), lateness p50 %.0fms p99 %.0fms, per-sender displacement %d",
			m.Clinics, m.Patients, m.APIDelayMS, m.Concurrency, m.LastHandedSeconds, m.PerSec, m.P50MS, m.P99MS, m.SenderDisplacement), nil
	})
	phase(PhaseDurability, func() (string, error) {
		full, err := runEnroll(ctx, sqliteDB(dir, "enroll-full"), c.Enrollments, c.EnrollClients, o, nil)
		if err != nil {
			return "", err
		}
		on := o
		on.Synchronous = "NORMAL"
		normal, err := runEnroll(ctx, sqliteDB(dir, "enroll-normal"), c.Enrollments, c.EnrollClients, on, nil)
		if err != nil {
			return "", err
		}
		r.EnrollFull, r.EnrollNormal = &full, &normal
		return fmt.Sprintf("enroll at FULL %.0f/s p99 %.1fms; at NORMAL %.0f/s p99 %.1fms",
			full.PerSec, full.P99MS, normal.PerSec, normal.P99MS), nil
	})
	phase(PhaseEnroll, func() (string, error) {
		e, err := runEnroll(ctx, sqliteDB(dir, "enroll"), c.Enrollments, c.EnrollClients, o, prof)
		if err != nil {
			return "", err
		}
		r.Enroll = &e
		return fmt.Sprintf("%d enrollments (%d messages) in %.2fs: %.0f/s, %.0fµs CPU each, p50 %.1fms p99 %.1fms",
			e.Enrollments, e.Messages, e.Seconds, e.PerSec, e.CPUMicros, e.P50MS, e.P99MS), nil
	})
	phase(PhasePostgres, func() (string, error) {
		// The SQLite figures to compare with, measured now if their
		// phases did not run.
		if r.Dispatch == nil {
			d, err := runDispatch(ctx, filepath.Join(dir, "dispatch.db"), c.N, o, prof)
			if err != nil {
				return "", fmt.Errorf("sqlite dispatch: %w", err)
			}
			r.Dispatch = &d
		}
		if r.Enroll == nil {
			e, err := runEnroll(ctx, sqliteDB(dir, "enroll"), c.Enrollments, c.EnrollClients, o, prof)
			if err != nil {
				return "", fmt.Errorf("sqlite enroll: %w", err)
			}
			r.Enroll = &e
		}
		db, err := pg.schema(ctx, "dispatch")
		if err != nil {
			return "", err
		}
		d, err := runDispatch(ctx, db, c.N, o, prof)
		if err != nil {
			return "", fmt.Errorf("dispatch: %w", err)
		}
		r.PGDispatch = &d
		if db, err = pg.schema(ctx, "enroll"); err != nil {
			return "", err
		}
		e, err := runEnroll(ctx, db, c.Enrollments, c.EnrollClients, o, prof)
		if err != nil {
			return "", fmt.Errorf("enroll: %w", err)
		}
		r.PGEnroll = &e
		sd, se := r.Dispatch, r.Enroll
		return fmt.Sprintf("dispatch %d texts: %.0f/s (SQLite %.0f/s, %.2f×), CPU per text %.0fµs here + %.0fµs machine (SQLite %.0f + %.0f); "+
			"enroll %d: %.0f/s p99 %.1fms (SQLite %.0f/s, %.2f×)",
			d.Messages, d.PerSec, sd.PerSec, d.PerSec/sd.PerSec, d.CPUMicros, d.MachineCPUMicros, sd.CPUMicros, sd.MachineCPUMicros,
			e.Enrollments, e.PerSec, e.P99MS, se.PerSec, e.PerSec/se.PerSec), nil
	})
	phase(PhaseReplicas, func() (string, error) {
		r.Replicas = &ReplicasResult{Messages: c.ReplicaN, APIDelayMS: ms(c.APIDelay), BatchSize: c.ReplicaBatch, Concurrency: c.ReplicaConcurrency}
		ro := daemonOptions{BatchSize: c.ReplicaBatch, Concurrency: c.ReplicaConcurrency}
		var lines []string
		for k := 1; k <= 3; k++ {
			x, err := runReplicas(ctx, pg, c.ReplicaN, k, c.APIDelay, ro, prof)
			if x.Seconds > 0 || x.Lost > 0 || x.Duplicates > 0 {
				r.Replicas.Runs = append(r.Replicas.Runs, x)
			}
			if err != nil {
				return "", err
			}
			lines = append(lines, fmt.Sprintf("%d: %.0f/s (sent %v, %d duplicates, %d lost)", k, x.PerSec, x.Sent, x.Duplicates, x.Lost))
		}
		one, _ := r.Replicas.run(1)
		three, _ := r.Replicas.run(3)
		return fmt.Sprintf("%d texts, API %.0fms, batch %d, concurrency %d per replica: %s; 3 vs 1: %.2f×",
			c.ReplicaN, ms(c.APIDelay), c.ReplicaBatch, c.ReplicaConcurrency, strings.Join(lines, "; "), three.PerSec/one.PerSec), nil
	})
	phase(PhaseLateness, func() (string, error) {
		l, err := runLateness(ctx, dir, c.Rate, c.Duration, o, prof)
		if err != nil {
			return "", err
		}
		r.Lateness = &l
		return fmt.Sprintf("%d messages (%d sms, %d email) at %.0f/s: p50 %.0fms p99 %.0fms max %.0fms",
			l.Messages, l.SMS, l.Email, l.Rate, l.P50MS, l.P99MS, l.MaxMS), nil
	})
	phase(PhaseMemory, func() (string, error) {
		var lines []string
		for _, n := range []int{c.MemSmall, c.MemLarge} {
			m, err := runMemory(ctx, dir, n, c.Hold)
			if err != nil {
				return "", err
			}
			r.Memory = append(r.Memory, m)
			lines = append(lines, fmt.Sprintf("%d pending: ready %.3fs, peak RSS %.1f MB, peak heap %.1f MB, db %.1f MB (seeded in %.1fs)",
				m.Pending, m.ReadySeconds, mb(m.PeakRSS), mb(m.PeakHeap), mb(m.DBBytes), m.SeedSeconds))
		}
		if len(r.Memory) == 2 && r.Memory[1].Pending > r.Memory[0].Pending {
			a, b := r.Memory[0], r.Memory[1]
			r.BytesPerMessage = float64(b.DBBytes-a.DBBytes) / float64(b.Pending-a.Pending)
		}
		return strings.Join(lines, "; "), nil
	})
	r.Seconds = time.Since(start).Seconds()
	r.Machine.LoadAvg[1] = loadAvg()
	r.Figures = figures(r)
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// sqliteDB is a new SQLite file in dir for what.
func sqliteDB(dir, what string) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d.db", what, time.Now().UnixNano()))
}

// smsBodies are the texts of a real plan.
func smsBodies(now time.Time) ([]string, error) {
	p, err := protocol.Default()
	if err != nil {
		return nil, err
	}
	zone := daytimeZone(now)
	msgs, err := p.Plan(protocol.Input{
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: now, SessionNumber: 1, SeriesLength: 3},
		Patient:    aftercare.Patient{FirstName: "Ana", LastName: "Diaz", Phone: testsupport.FromNumber, Email: "ana@example.com", Timezone: zone},
		Clinic:     aftercare.Clinic{Name: "Glow Skin Clinic", Phone: "+14155550111", Timezone: zone, BookingURL: "https://glow.example/book"},
		SMSConsent: true, EmailConsent: true,
	}, protocol.Options{}, now)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	var out []string
	for _, m := range msgs {
		if m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled {
			out = append(out, m.Body)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("plan: no texts")
	}
	return out, nil
}

func figures(r *Report) []Figure {
	var fs []Figure
	add := func(name string, v float64, unit, target string, pass *bool) {
		fs = append(fs, Figure{Name: name, Value: v, Unit: unit, Target: target, Pass: pass})
	}
	check := func(ok bool) *bool { return &ok }
	n := r.Config.N
	var limit float64
	if r.Limit != nil {
		limit = r.Limit.PerSec
		add("limit: twilio-go → loopback API, no DB", limit, "msg/s", "the ceiling", nil)
		add("limit: CPU per send (client + server)", r.Limit.CPUMicros, "µs", "", nil)
	}
	if d := r.Dispatch; d != nil {
		if limit > 0 {
			add(fmt.Sprintf("dispatch: %s due texts drained, synchronous=FULL", count(n)), d.PerSec, "msg/s",
				fmt.Sprintf("≥ 0.6 × limit = %.0f", 0.6*limit), check(d.PerSec >= 0.6*limit))
			add("dispatch / limit", d.PerSec/limit, "×", "≥ 0.6", check(d.PerSec >= 0.6*limit))
		} else {
			add(fmt.Sprintf("dispatch: %s due texts drained", count(n)), d.PerSec, "msg/s", "", nil)
		}
		add("dispatch: CPU per text (all of it)", d.CPUMicros, "µs", "", nil)
		add("dispatch: order (max displacement)", float64(d.MaxDisplacement), "msgs",
			fmt.Sprintf("≤ %d (one batch)", r.Config.BatchSize), check(d.MaxDisplacement <= r.Config.BatchSize))
	}
	if b := r.Burst; b != nil {
		if limit > 0 {
			want := 1.25 * float64(n) / limit
			add(fmt.Sprintf("burst: %s texts due at once, drain", count(n)), b.Seconds, "s",
				fmt.Sprintf("≤ 1.25 × N/limit = %.2f", want), check(b.Seconds <= want))
		} else {
			add(fmt.Sprintf("burst: %s texts due at once, drain", count(n)), b.Seconds, "s", "", nil)
		}
		add("burst: first text out after due", b.StartLatency, "s", "", nil)
		add("burst: order (max displacement)", float64(b.MaxDisplacement), "msgs",
			fmt.Sprintf("≤ %d (one batch)", r.Config.BatchSize), check(b.MaxDisplacement <= r.Config.BatchSize))
		add("burst: lost + doubled", float64(b.Lost+b.Doubled), "msgs", "0", check(b.Lost+b.Doubled == 0))
	}
	if m := r.Morning; m != nil {
		name := fmt.Sprintf("morning: %d clinics × %d texts due at once, API %.0f ms, defaults: last handed to Twilio", m.Clinics, m.Patients, m.APIDelayMS)
		if m.Messages >= 10_000 {
			// The target, for 100 clinics × 100 patients.
			add(name, m.LastHandedSeconds, "s", fmt.Sprintf("≤ %.0f (≥ 333/s)", float64(m.Messages)/333), check(m.PerSec >= 333))
		} else {
			add(name, m.LastHandedSeconds, "s", "", nil)
		}
		add("morning: texts handed to Twilio per second", m.PerSec, "msg/s", "", nil)
		add("morning: lateness p50", m.P50MS, "ms", "", nil)
		add("morning: lateness p99", m.P99MS, "ms", "", nil)
		add("morning: per-sender order (max displacement)", float64(m.SenderDisplacement), "msgs",
			fmt.Sprintf("≤ %d (sends in flight)", m.Concurrency), check(m.SenderDisplacement <= m.Concurrency))
		add("morning: lost + doubled", float64(m.Lost+m.Doubled), "msgs", "0", check(m.Lost+m.Doubled == 0))
	}
	if f, n := r.EnrollFull, r.EnrollNormal; f != nil && n != nil {
		add("enroll at synchronous=FULL (shipped)", f.PerSec, "enrollments/s", "", nil)
		add("enroll at synchronous=NORMAL", n.PerSec, "enrollments/s", "", nil)
		add("enroll FULL / NORMAL", f.PerSec/n.PerSec, "×", "", nil)
		add("enroll p99 at FULL", f.P99MS, "ms", "", nil)
		add("enroll p99 at NORMAL", n.P99MS, "ms", "", nil)
	}
	if e := r.Enroll; e != nil {
		add(fmt.Sprintf("enroll: %d clients, HTTP API", e.Clients), e.PerSec, "enrollments/s", "≥ 1000", check(e.PerSec >= 1000))
		add("enroll: CPU per enrollment (server + clients)", e.CPUMicros, "µs", "", nil)
		add("enroll: p50 latency", e.P50MS, "ms", "", nil)
		add("enroll: p99 latency", e.P99MS, "ms", "≤ 100", check(e.P99MS <= 100))
	}
	if p, d := r.PGDispatch, r.Dispatch; p != nil && d != nil {
		add(fmt.Sprintf("postgres: dispatch, %s due texts drained (same settings)", count(p.Messages)), p.PerSec, "msg/s",
			fmt.Sprintf("≥ 0.5 × SQLite = %.0f", 0.5*d.PerSec), check(p.PerSec >= 0.5*d.PerSec))
		add("postgres / SQLite dispatch", p.PerSec/d.PerSec, "×", "≥ 0.5", check(p.PerSec >= 0.5*d.PerSec))
		add("dispatch CPU per text, SQLite: this process", d.CPUMicros, "µs", "", nil)
		add("dispatch CPU per text, PostgreSQL: this process", p.CPUMicros, "µs", "", nil)
		if d.MachineCPUMicros > 0 && p.MachineCPUMicros > 0 {
			add("dispatch CPU per text, SQLite: whole machine", d.MachineCPUMicros, "µs", "", nil)
			add("dispatch CPU per text, PostgreSQL: whole machine (server included)", p.MachineCPUMicros, "µs", "", nil)
		}
		add("postgres dispatch: lost + doubled", float64(p.Lost+p.Doubled), "msgs", "0", check(p.Lost+p.Doubled == 0))
	}
	if p, e := r.PGEnroll, r.Enroll; p != nil && e != nil {
		add(fmt.Sprintf("postgres: enroll, %d clients, HTTP API", p.Clients), p.PerSec, "enrollments/s", "", nil)
		add("postgres / SQLite enroll", p.PerSec/e.PerSec, "×", "", nil)
		add("postgres enroll: p99 latency", p.P99MS, "ms", "", nil)
		add("enroll CPU per enrollment, SQLite: this process", e.CPUMicros, "µs", "", nil)
		add("enroll CPU per enrollment, PostgreSQL: this process", p.CPUMicros, "µs", "", nil)
		if e.MachineCPUMicros > 0 && p.MachineCPUMicros > 0 {
			add("enroll CPU per enrollment, SQLite: whole machine", e.MachineCPUMicros, "µs", "", nil)
			add("enroll CPU per enrollment, PostgreSQL: whole machine (server included)", p.MachineCPUMicros, "µs", "", nil)
		}
	}
	if rp := r.Replicas; rp != nil && len(rp.Runs) > 0 {
		for _, x := range rp.Runs {
			add(fmt.Sprintf("replicas: %d on one PostgreSQL, %s texts, API %.0f ms, batch %d, concurrency %d each",
				x.Replicas, count(rp.Messages), rp.APIDelayMS, rp.BatchSize, rp.Concurrency), x.PerSec, "msg/s", "", nil)
		}
		one, ok1 := rp.run(1)
		if three, ok3 := rp.run(3); ok1 && ok3 {
			add("replicas: 3 / 1", three.PerSec/one.PerSec, "×", "≥ 2.5", check(three.PerSec >= 2.5*one.PerSec))
			add("replicas: CPU per text, 3 replicas: this process", three.CPUMicros, "µs", "", nil)
		}
		var dup, lost int
		for _, x := range rp.Runs {
			dup += x.Duplicates
			lost += x.Lost
		}
		add("replicas: duplicate texts at the Twilio API", float64(dup), "msgs", "0", check(dup == 0))
		add("replicas: texts lost", float64(lost), "msgs", "0", check(lost == 0))
	}
	if l := r.Lateness; l != nil {
		add(fmt.Sprintf("lateness at %.0f due msg/s: p50", l.Rate), l.P50MS, "ms", "", nil)
		add("lateness: p99", l.P99MS, "ms", "≤ 1000", check(l.P99MS <= 1000))
		add("lateness: max", l.MaxMS, "ms", "≤ 2000", check(l.MaxMS <= 2000))
	}
	if len(r.Memory) == 2 {
		s, b := r.Memory[0], r.Memory[1]
		add(fmt.Sprintf("peak RSS, %s pending", count(s.Pending)), mb(s.PeakRSS), "MB", "", nil)
		add(fmt.Sprintf("peak RSS, %s pending", count(b.Pending)), mb(b.PeakRSS), "MB",
			fmt.Sprintf("≤ 1.2 × %.1f and < 100", mb(s.PeakRSS)),
			check(float64(b.PeakRSS) <= 1.2*float64(s.PeakRSS) && b.PeakRSS < 100<<20))
		add(fmt.Sprintf("peak Go heap, %s pending", count(s.Pending)), mb(s.PeakHeap), "MB", "", nil)
		add(fmt.Sprintf("peak Go heap, %s pending", count(b.Pending)), mb(b.PeakHeap), "MB", "", nil)
		add(fmt.Sprintf("ready, %s pending", count(s.Pending)), s.ReadySeconds, "s", "", nil)
		add(fmt.Sprintf("ready, %s pending", count(b.Pending)), b.ReadySeconds, "s", "≤ 1", check(b.ReadySeconds <= 1))
		add("database bytes per scheduled message", r.BytesPerMessage, "B", "", nil)
	}
	return fs
}

// Passed reports whether every figure with a target met it.
func (r *Report) Passed() bool {
	for _, f := range r.Figures {
		if f.Pass != nil && !*f.Pass {
			return false
		}
	}
	return true
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "aftercare-bench: %d cores (GOMAXPROCS %d), %s, %s %s/%s, load average %.2f at start, %.2f at end\n",
		m.Cores, m.GOMAXPROCS, m.CPU, m.GoVersion, m.OS, m.Arch, m.LoadAvg[0], m.LoadAvg[1])
	c := r.Config
	fmt.Fprintf(w, "N=%d batch=%d concurrency=%d enroll=%d×%d clients replicas=%d texts (batch %d, concurrency %d, API %.0fms) lateness=%.0f/s×%.0fs memory=%d/%d pending; %.0fs in all\n",
		c.N, c.BatchSize, c.Concurrency, c.Enrollments, c.EnrollClients, c.ReplicaN, c.ReplicaBatch, c.ReplicaConc, c.APIDelayMS,
		c.Rate, c.DurationSec, c.MemSmall, c.MemLarge, r.Seconds)
	fmt.Fprintf(w, "PostgreSQL: %s\n\n", r.PostgresServer)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget\t")
	for _, f := range r.Figures {
		res := ""
		if f.Pass != nil {
			res = "pass"
			if !*f.Pass {
				res = "MISS"
			}
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", f.Name, num(f.Value), f.Unit, f.Target, res)
	}
	tw.Flush()
	for _, e := range r.NotRun {
		fmt.Fprintf(w, "NOT RUN %s\n", e)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR %s\n", e)
	}
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 < 50_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 < 50:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return fmt.Sprint(n)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		LoadAvg: [2]float64{loadAvg(), 0}}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg is the 1-minute load average (0 if unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	fmt.Sscan(string(b), &v)
	return v
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the busy CPU time of the whole machine so far, every
// process and core together (the first line of /proc/stat: all but idle
// and iowait); 0 where unknown.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// profileName names the profile of phase on the database db.
func profileName(phase, db string) string {
	if isPostgres(db) {
		return phase + "-postgres"
	}
	return phase
}

type quants struct{ p50, p99, max time.Duration }

func quantiles(ds []time.Duration) quants {
	if len(ds) == 0 {
		return quants{}
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return quants{p50: at(0.50), p99: at(0.99), max: s[len(s)-1]}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// profiler writes a CPU profile of a phase and the allocations it made.
type profiler struct{ dir string }

// start begins profiling phase name; the returned func ends it.
func (p *profiler) start(name string) func() {
	if p == nil || p.dir == "" {
		return func() {}
	}
	path := func(suffix string) string { return p.dir + "/" + name + suffix }
	writeAllocs := func(file string) {
		runtime.GC() // the allocs profile is as of the last GC
		if f, err := os.Create(path(file)); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	writeAllocs(".allocs-base.pprof")
	f, err := os.Create(path(".cpu.pprof"))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		writeAllocs(".allocs.pprof")
	}
}
