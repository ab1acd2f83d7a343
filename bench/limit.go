package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/twilio"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// LimitResult is the ceiling: twilio-go sends to the loopback API with the
// dispatcher's concurrency and no database.
type LimitResult struct {
	Sends   int     `json:"sends"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
	// CPUMicros is the process's CPU time per send (client and server).
	CPUMicros float64 `json:"cpu_us_per_msg"`
}

// runLimit sends n texts through notify/twilio (the real twilio-go client,
// as the daemon uses it) with concurrency workers, over a transport that
// keeps one idle connection per worker, and nothing else.
func runLimit(ctx context.Context, n, concurrency int, bodies []string) (LimitResult, error) {
	srv := twiliotest.NewServer(nil, testsupport.AccountSID, testsupport.AuthToken)
	defer srv.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency
	defer tr.CloseIdleConnections()
	tw, err := twilio.New(twilio.Config{AccountSID: testsupport.AccountSID, AuthToken: testsupport.AuthToken, From: testsupport.FromNumber,
		BaseURL: srv.URL(), StatusCallbackURL: "http://127.0.0.1:1/webhooks/twilio/status",
		Timeout: 10 * time.Second, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return LimitResult{}, err
	}
	msgs := make([]notify.Message, n)
	stale := time.Now().Add(time.Hour)
	for i := range msgs {
		msgs[i] = notify.Message{ID: int64(i + 1), Channel: aftercare.SMS, Step: "bench", To: benchPhone(i / messagesPerPatient),
			Body: bodies[i%len(bodies)], StaleAt: stale, Attempt: 1, ClinicName: "Glow Skin Clinic", ToName: "Ana Diaz"}
	}
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	c0 := cpuTime()
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := tw.Send(ctx, msgs[i]); err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	cpu := cpuTime() - c0
	if err := ctx.Err(); err != nil {
		return LimitResult{}, err
	}
	if f := failed.Load(); f > 0 {
		return LimitResult{}, fmt.Errorf("limit: %d of %d sends failed, first: %w", f, n, firstErr)
	}
	if got := len(srv.Sent()); got != n {
		return LimitResult{}, fmt.Errorf("limit: the loopback API stored %d messages, want %d", got, n)
	}
	return LimitResult{Sends: n, Seconds: el.Seconds(), PerSec: float64(n) / el.Seconds(),
		CPUMicros: float64(cpu.Microseconds()) / float64(n)}, nil
}
