package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// The loopback Twilio account. twilio-go refuses non-alphanumeric secrets.
const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
	fromNumber = "+14155550100"
)

// runnerTB lets the bench start smtptest's real SMTP server outside a test
// (smtptest.TB: Helper, Fatalf and Cleanup), without importing testing.
type runnerTB struct {
	mu       sync.Mutex
	cleanups []func()
}

// fatal is what runnerTB.Fatalf panics with; newProviders recovers it.
type fatal struct{ err error }

func (t *runnerTB) Helper() {}

func (t *runnerTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *runnerTB) Fatalf(format string, args ...any) {
	panic(fatal{fmt.Errorf(format, args...)})
}

func (t *runnerTB) close() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// providers are the loopback Twilio API and the real SMTP server one phase
// talks to. Each phase gets fresh ones, so what the fakes remember of one
// phase does not weigh on the next.
type providers struct {
	tw   *twiliotest.Server
	mail *smtptest.Server
	tb   *runnerTB
}

func newProviders() (p *providers, err error) {
	tb := &runnerTB{}
	defer func() {
		if v := recover(); v != nil {
			f, ok := v.(fatal)
			if !ok {
				panic(v)
			}
			tb.close()
			p, err = nil, fmt.Errorf("start smtp server: %w", f.err)
		}
	}()
	tw := twiliotest.NewServer(nil, accountSID, authToken)
	tb.Cleanup(tw.Close)
	mail := smtptest.NewServer(tb)
	return &providers{tw: tw, mail: mail, tb: tb}, nil
}

func (p *providers) Close() { p.tb.close() }

// daemon is the whole aftercare app, built by app.New exactly as `aftercare
// serve` builds it, listening on 127.0.0.1 and talking to the providers.
type daemon struct {
	app  *app.App
	base string // http://127.0.0.1:port
}

// daemonOptions say how a phase runs the daemon.
type daemonOptions struct {
	// Cron starts the real cron-driven scheduler; otherwise the phase
	// calls the dispatcher itself.
	Cron        bool
	BatchSize   int
	Concurrency int
	// Housekeeping overrides the housekeeping jobs' cron spec.
	Housekeeping string
	// Log receives the daemon's JSON logs at info level (production's
	// format and level); nil discards them after formatting.
	Log io.Writer
	// Defaults keeps the shipped dispatch settings (rates, concurrency,
	// batch size) instead of the bench's "no rate limit" ones.
	Defaults bool
	// Synchronous is the database's synchronous setting ("" = FULL).
	Synchronous string
}

func startDaemon(ctx context.Context, path string, p *providers, o daemonOptions) (*daemon, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	cfg := config.Default()
	cfg.DB = path
	cfg.Listen = ln.Addr().String()
	cfg.PublicURL = base
	if !o.Defaults {
		cfg.Dispatch.SMSRate, cfg.Dispatch.EmailRate = 0, 0 // no provider rate limit: the machine is the limit
		if o.BatchSize > 0 {
			cfg.Dispatch.BatchSize = o.BatchSize
		}
		if o.Concurrency > 0 {
			cfg.Dispatch.Concurrency = o.Concurrency
			cfg.Dispatch.EmailConcurrency = min(cfg.Dispatch.EmailConcurrency, o.Concurrency)
		}
	}
	if o.Housekeeping != "" {
		cfg.Dispatch.Housekeeping = o.Housekeeping
	}
	if p != nil {
		cfg.Twilio = config.Twilio{AccountSID: accountSID, AuthToken: authToken, From: fromNumber,
			BaseURL: p.tw.URL(), Timeout: 10 * time.Second}
		cfg.SMTP = config.SMTP{Host: p.mail.Host(), Port: p.mail.Port(), TLS: "none",
			From: "Glow Clinic <care@glow.example>", Timeout: 10 * time.Second}
	}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("bench config: %w", err)
	}
	w := o.Log
	if w == nil {
		w = io.Discard
	}
	log := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := app.New(ctx, app.Options{Config: cfg, Log: log, Listener: ln, Stdout: io.Discard, ManualScheduling: !o.Cron,
		Synchronous: o.Synchronous})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("build daemon: %w", err)
	}
	if err := a.Start(ctx); err != nil {
		a.Shutdown(context.Background())
		return nil, fmt.Errorf("start daemon: %w", err)
	}
	return &daemon{app: a, base: base}, nil
}

func (d *daemon) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.app.Shutdown(ctx)
}

// waitReady polls /readyz until it answers 200.
func waitReady(ctx context.Context, base string, every time.Duration) error {
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("daemon never became ready"), ctx.Err())
		case <-time.After(every):
		}
	}
}
