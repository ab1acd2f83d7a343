package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// EnrollResult is enrollments through the HTTP API.
type EnrollResult struct {
	Enrollments int     `json:"enrollments"`
	Clients     int     `json:"clients"`
	Seconds     float64 `json:"seconds"`
	PerSec      float64 `json:"per_sec"`
	// Messages is how many messages the enrollments planned in all.
	Messages int `json:"messages"`
	// CPUMicros is the process's CPU time per enrollment (clients
	// included; on PostgreSQL, the server's work is not).
	CPUMicros float64 `json:"cpu_us_per_enrollment"`
	// MachineCPUMicros is the whole machine's busy CPU time per
	// enrollment (see DrainResult.MachineCPUMicros).
	MachineCPUMicros float64 `json:"machine_cpu_us_per_enrollment,omitempty"`
	P50MS            float64 `json:"p50_ms"`
	P99MS            float64 `json:"p99_ms"`
	MaxMS            float64 `json:"max_ms"`
}

// runEnroll posts n enrollments of distinct patients to POST
// /v1/enrollments from clients concurrent clients, each request
// validated, planned (about 25 messages) and stored by the daemon, and
// answered with the stored enrollment. db is a new database: a SQLite
// file or a PostgreSQL DSN.
func runEnroll(ctx context.Context, db string, n, clients int, o daemonOptions, prof *profiler) (EnrollResult, error) {
	now := time.Now()
	b, err := newBase(ctx, db, now, now.Add(20*time.Hour))
	if err != nil {
		return EnrollResult{}, err
	}
	o.Cron = false // the API alone: the welcome messages stay due
	d, err := startDaemon(b.path, o)
	if err != nil {
		return EnrollResult{}, err
	}
	defer d.Close()

	bodies := make([][]byte, n)
	for i := range bodies {
		// Treated an hour ago: the plan has due and future messages.
		bodies[i], _ = json.Marshal(enrollRequest(i+1, b.zone, now.Add(-time.Hour)))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	lat := make([]time.Duration, n)
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	var wg sync.WaitGroup
	stop := prof.start(profileName("enroll", db))
	c0, m0 := cpuTime(), machineCPU()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/v1/enrollments", bytes.NewReader(bodies[i]))
				if err != nil {
					fail(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+b.key)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", i))
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					fail(fmt.Errorf("enroll %d: %w", i, err))
					return
				}
				buf.Reset()
				_, err = io.Copy(&buf, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("enroll %d: read answer: %w", i, err))
					return
				}
				if resp.StatusCode != http.StatusCreated {
					fail(fmt.Errorf("enroll %d: %s: %.300s", i, resp.Status, buf.Bytes()))
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	cpu, mcpu := cpuTime()-c0, machineCPU()-m0
	stop()
	if firstErr != nil {
		return EnrollResult{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return EnrollResult{}, err
	}
	r := EnrollResult{Enrollments: n, Clients: clients, Seconds: el.Seconds(), PerSec: float64(n) / el.Seconds(),
		CPUMicros: float64(cpu.Microseconds()) / float64(n), MachineCPUMicros: float64(mcpu.Microseconds()) / float64(n)}
	// What the answers said is checked in the database: every enrollment
	// stored with its plan (decoding each answer here would put the
	// client's work on the server's two cores).
	c, err := openCounter(b.path)
	if err != nil {
		return r, err
	}
	defer c.Close()
	var enrollments int
	if err := c.db.QueryRowContext(ctx, c.q(`SELECT count(*), (SELECT count(*) FROM messages WHERE enrollment_id <> ?)
		FROM enrollments WHERE id <> ?`), b.template, b.template).Scan(&enrollments, &r.Messages); err != nil {
		return r, fmt.Errorf("enroll: count: %w", err)
	}
	if enrollments != n || r.Messages < 10*n {
		return r, fmt.Errorf("enroll: %d enrollments with %d messages stored, want %d with about 25 each", enrollments, r.Messages, n)
	}
	q := quantiles(lat)
	r.P50MS, r.P99MS, r.MaxMS = ms(q.p50), ms(q.p99), ms(q.max)
	return r, nil
}
