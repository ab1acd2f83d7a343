package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ChildCommand is the hidden subcommand the bench re-executes itself with
// to measure the daemon's memory and start-up in a fresh process.
const ChildCommand = "__daemon-child"

// MemoryResult is the daemon's footprint with some number of messages
// pending.
type MemoryResult struct {
	Pending int `json:"pending"`
	// ReadySeconds is from starting the process to /readyz answering 200.
	ReadySeconds float64 `json:"ready_seconds"`
	// PeakRSS is VmHWM: the most resident memory the process ever had.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// PeakHeap is the most live Go heap seen (sampled every 10 ms).
	PeakHeap int64 `json:"peak_heap_bytes"`
	// HeapSys is the heap memory the Go runtime held from the OS at the end.
	HeapSys int64 `json:"heap_sys_bytes"`
	// DBBytes is the database file size.
	DBBytes int64 `json:"db_bytes"`
	// SeedSeconds is how long writing the pending messages took (bench setup).
	SeedSeconds float64 `json:"seed_seconds"`
}

// childReport is what the child prints as its last line.
type childReport struct {
	PeakRSS  int64  `json:"peak_rss_bytes"`
	PeakHeap int64  `json:"peak_heap_bytes"`
	HeapSys  int64  `json:"heap_sys_bytes"`
	Err      string `json:"error,omitempty"`
}

// runMemory builds a database with about n messages pending (copies of a
// real plan, all in the future), then starts the daemon on it in a child
// process and reports what it measured.
func runMemory(ctx context.Context, dir string, n int, hold time.Duration) (MemoryResult, error) {
	now := time.Now()
	path := filepath.Join(dir, fmt.Sprintf("memory-%d.db", n))
	b, err := newBase(ctx, path, now, now.Add(20*time.Hour))
	if err != nil {
		return MemoryResult{}, err
	}
	t0 := time.Now()
	sd, err := openSeeder(b, now)
	if err != nil {
		return MemoryResult{}, err
	}
	pending, err := sd.pending(ctx, n)
	if err != nil {
		sd.Close()
		return MemoryResult{}, err
	}
	if err := sd.Close(); err != nil {
		return MemoryResult{}, err
	}
	r := MemoryResult{Pending: pending, SeedSeconds: time.Since(t0).Seconds()}
	if r.DBBytes, err = fileSize(path); err != nil {
		return r, err
	}
	exe, err := os.Executable()
	if err != nil {
		return r, fmt.Errorf("find the bench binary: %w", err)
	}
	// Let the page cache hold the file, as it would for a daemon
	// restarted on a warm machine; the child is then measured, not the disk.
	_, _ = readAll(path)

	cmd := exec.CommandContext(ctx, exe, ChildCommand, "-db", path, "-hold", hold.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("start the daemon child: %w", err)
	}
	sc := bufio.NewScanner(out)
	var rep childReport
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "ready":
			r.ReadySeconds = time.Since(start).Seconds()
		case strings.HasPrefix(line, "{"):
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				return r, fmt.Errorf("read the child's report: %w", err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		return r, fmt.Errorf("daemon child: %w", err)
	}
	if rep.Err != "" {
		return r, fmt.Errorf("daemon child: %s", rep.Err)
	}
	if r.ReadySeconds == 0 {
		return r, errors.New("daemon child never reported ready")
	}
	r.PeakRSS, r.PeakHeap, r.HeapSys = rep.PeakRSS, rep.PeakHeap, rep.HeapSys
	return r, nil
}

func readAll(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(io.Discard, f)
}

// ChildMain is the child process: it starts the daemon on an existing
// database exactly as `aftercare serve` would (cron scheduler, HTTP API,
// console notifier since nothing is due), prints "ready" once /readyz
// answers 200, keeps it running for -hold (housekeeping and dispatch
// ticks run over the pending messages), then prints its peak resident
// memory and Go heap as one JSON line.
func ChildMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(ChildCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("db", "", "database file")
	hold := fs.Duration("hold", 3*time.Second, "how long to run after ready")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	heap := &heapSampler{}
	heap.start(10 * time.Millisecond)
	rep := childReport{}
	err := func() error {
		ctx := context.Background()
		d, err := startDaemonChild(*path)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := waitReady(ctx, d.base, 2*time.Millisecond); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "ready")
		time.Sleep(*hold)
		// The daemon must still be ready: its ticks ran over the pending messages.
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return waitReady(tctx, d.base, 10*time.Millisecond)
	}()
	rep.PeakHeap = heap.stop()
	if err != nil {
		rep.Err = err.Error()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapSys = int64(ms.HeapSys)
	if hwm, err := vmHWM(); err == nil {
		rep.PeakRSS = hwm
	} else if rep.Err == "" {
		rep.Err = err.Error()
	}
	b, _ := json.Marshal(rep)
	fmt.Fprintln(stdout, string(b))
	if rep.Err != "" {
		return 1
	}
	return 0
}

func startDaemonChild(path string) (*daemon, error) {
	return startDaemon(path, daemonOptions{Cron: true, Housekeeping: "@every 1s", NoProviders: true})
}

// vmHWM reads the peak resident set size of this process.
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := strings.Fields(string(v))
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024, nil
				}
			}
		}
	}
	return 0, errors.New("read peak RSS: no VmHWM in /proc/self/status")
}

// heapSampler records the largest live heap seen.
type heapSampler struct {
	mu   sync.Mutex
	peak int64
	done chan struct{}
	wg   sync.WaitGroup
}

func (h *heapSampler) start(every time.Duration) {
	h.done = make(chan struct{})
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			h.sample()
			select {
			case <-h.done:
				return
			case <-t.C:
			}
		}
	}()
}

func (h *heapSampler) sample() {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	v := int64(s[0].Value.Uint64())
	h.mu.Lock()
	h.peak = max(h.peak, v)
	h.mu.Unlock()
}

func (h *heapSampler) stop() int64 {
	close(h.done)
	h.wg.Wait()
	h.sample()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}
