package abuse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare/enroll"
)

// loadDuration is how long the load test enrolls: 8 s in CI, 30 s with
// AFTERCARE_SOAK=1, or AFTERCARE_LOAD_SECONDS.
func loadDuration() time.Duration {
	if s := os.Getenv("AFTERCARE_LOAD_SECONDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	if os.Getenv("AFTERCARE_SOAK") == "1" {
		return 30 * time.Second
	}
	return 8 * time.Second
}

// clientResult is what one load client saw.
type clientResult struct {
	latencies []time.Duration // of accepted enrollments
	accepted  []int64         // enrollment ids
	statuses  map[int]int
	errs      []string // transport errors and bad answers
	reads     int
}

// TestLoadConcurrentEnrollments runs 200 API clients enrolling patients
// against the real HTTP server while the real scheduler dispatches the
// welcome messages they create: no 5xx, no "database is locked", every
// accepted enrollment stored with its whole plan.
func TestLoadConcurrentEnrollments(t *testing.T) {
	const clients = 200
	const maxPerClient = 10000 // bound on each client's loop besides time
	dur := loadDuration()
	h := newHarness(t, harnessOptions{scheduled: true, logLevel: slog.LevelDebug})

	// Every request has the same shape, so the same plan length.
	var req enroll.Request
	b, _ := json.Marshal(enrollBody("Load", "+14152000000", "load@example.com"))
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	plan, _, err := h.app.Enroll.Preview(context.Background(), h.clinicA, req)
	if err != nil {
		t.Fatal(err)
	}
	planLen := len(plan)

	tr := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	// Only a bound against a hung server: on a loaded machine 200 requests
	// at once can wait minutes for their answers without anything being
	// wrong (the test binary's timeout still ends a real hang).
	client := &http.Client{Transport: tr, Timeout: 5 * time.Minute}

	results := make([]clientResult, clients)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[c]
			res.statuses = map[int]int{}
			var last int64
			// Every client makes at least one request, however late a
			// busy machine starts it.
			for i := 0; i < maxPerClient && (i == 0 || time.Now().Before(deadline)); i++ {
				phone := fmt.Sprintf("+1415%03d%04d", 200+c, i)
				body, _ := json.Marshal(enrollBody(fmt.Sprintf("Load%d", i), phone, fmt.Sprintf("p%d.%d@example.com", c, i)))
				r, _ := http.NewRequest("POST", h.base+"/v1/enrollments", bytes.NewReader(body))
				r.Header.Set("Authorization", "Bearer "+h.keyA)
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Idempotency-Key", fmt.Sprintf("load-%d-%d", c, i))
				t0 := time.Now()
				resp, err := client.Do(r)
				if err != nil {
					res.errs = append(res.errs, err.Error())
					continue
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat := time.Since(t0)
				res.statuses[resp.StatusCode]++
				if err != nil {
					res.errs = append(res.errs, "read body: "+err.Error())
					continue
				}
				if resp.StatusCode != http.StatusCreated {
					res.errs = append(res.errs, fmt.Sprintf("status %d: %.300s", resp.StatusCode, raw))
					continue
				}
				var out struct {
					Enrollment struct{ ID int64 } `json:"enrollment"`
					Messages   []json.RawMessage  `json:"messages"`
				}
				if err := json.Unmarshal(raw, &out); err != nil || out.Enrollment.ID == 0 {
					res.errs = append(res.errs, fmt.Sprintf("bad 201 body (%v): %.200s", err, raw))
					continue
				}
				if len(out.Messages) != planLen {
					res.errs = append(res.errs, fmt.Sprintf("enrollment %d answered with %d messages, plan has %d", out.Enrollment.ID, len(out.Messages), planLen))
				}
				res.latencies = append(res.latencies, lat)
				res.accepted = append(res.accepted, out.Enrollment.ID)
				last = out.Enrollment.ID
				// Every fourth round, read an enrollment back (readers
				// alongside the writers).
				if i%4 == 3 && last != 0 {
					r, _ := http.NewRequest("GET", h.base+"/v1/enrollments/"+strconv.FormatInt(last, 10), nil)
					r.Header.Set("Authorization", "Bearer "+h.keyA)
					resp, err := client.Do(r)
					if err != nil {
						res.errs = append(res.errs, "read back: "+err.Error())
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					res.statuses[resp.StatusCode]++
					if resp.StatusCode != http.StatusOK {
						res.errs = append(res.errs, fmt.Sprintf("read back: status %d", resp.StatusCode))
					}
					res.reads++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	var lats []time.Duration
	var ids []int64
	statuses := map[int]int{}
	var errs []string
	reads := 0
	for _, r := range results {
		lats = append(lats, r.latencies...)
		ids = append(ids, r.accepted...)
		for s, n := range r.statuses {
			statuses[s] += n
		}
		errs = append(errs, r.errs...)
		reads += r.reads
	}
	fivexx := 0
	for s, n := range statuses {
		if s >= 500 {
			fivexx += n
		}
	}
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(float64(len(lats))*p))]
	}
	t.Logf("load: %d clients for %s: %d enrollments accepted (%.1f/s), %d reads; latency p50 %s p90 %s p99 %s max %s; statuses %v; 5xx %d; errors %d",
		clients, elapsed.Round(time.Millisecond), len(ids), float64(len(ids))/elapsed.Seconds(), reads,
		pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond), pct(0.99).Round(time.Millisecond),
		pct(1).Round(time.Millisecond), statuses, fivexx, len(errs))
	for i, e := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-10)
			break
		}
		t.Errorf("client error: %s", e)
	}
	if fivexx > 0 {
		t.Errorf("%d responses were 5xx", fivexx)
	}
	if len(ids) < clients {
		t.Fatalf("only %d enrollments accepted: every client should get at least one through", len(ids))
	}

	// Every accepted enrollment is stored with its whole plan, once.
	rows, err := h.db.Query(`SELECT e.id, count(m.id) FROM enrollments e LEFT JOIN messages m ON m.enrollment_id = e.id GROUP BY e.id`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		stored[id] = n
	}
	rows.Close()
	if len(stored) != len(ids) {
		t.Errorf("%d enrollments stored, %d accepted", len(stored), len(ids))
	}
	bad := 0
	for _, id := range ids {
		if n, ok := stored[id]; !ok || n != planLen {
			if bad < 5 {
				t.Errorf("enrollment %d: %d messages stored (present %v), plan has %d", id, n, ok, planLen)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d accepted enrollments not fully planned", bad)
	}

	// Let the scheduler finish the welcome messages, then stop it; nothing
	// it did may have hit a locked database either. The wait is for
	// progress, not a budget for the whole drain (a loaded machine drains
	// more slowly without anything being wrong): it gives up only when no
	// message has gone out for a minute.
	want := 2 * len(ids) // the welcome text and email of each enrollment
	sent, before := 0, -1
	var stalled time.Time
	for {
		if sent = h.count(`SELECT count(*) FROM messages WHERE status = 'sent'`); sent >= want {
			break
		}
		if sent > before {
			before, stalled = sent, time.Now().Add(time.Minute)
		} else if time.Now().After(stalled) {
			t.Fatalf("dispatch stopped: %d of %d sent, none for a minute", sent, want)
		}
		time.Sleep(100 * time.Millisecond) // polling; what is checked is the count
	}
	t.Logf("load: dispatch caught up %s after the clients stopped", time.Since(start.Add(elapsed)).Round(time.Millisecond))
	t.Logf("load: the scheduler sent %d welcome messages meanwhile (%d texts at Twilio, %d emails at SMTP)",
		sent, len(h.tw.Sent()), len(h.mail.Messages()))
	if sent != want {
		t.Errorf("%d messages sent, want the welcome text and email of each of %d enrollments", sent, len(ids))
	}
	logs := strings.ToLower(h.logs.String())
	for _, bad := range []string{"database is locked", "sqlite_busy", "database table is locked"} {
		if strings.Contains(logs, bad) {
			i := strings.Index(logs, bad)
			t.Errorf("logs mention %q: %.300s", bad, logs[max(0, i-200):])
		}
	}
	if n := strings.Count(logs, `"level":"error"`); n > 0 {
		i := strings.Index(logs, `"level":"error"`)
		t.Errorf("%d error lines in the logs, first: %.400s", n, logs[max(0, i-20):])
	}
}
