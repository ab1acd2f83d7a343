package faulttest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// t0 is 10:00 in New York: outside quiet hours, with a day ahead.
var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

const newYork = "America/New_York"

// vclock is a virtual clock that tests move by hand, forward or back.
type vclock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *vclock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *vclock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func (c *vclock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// countingDialer counts the TCP connections the Twilio client opens and
// how many are still open.
type countingDialer struct {
	open, total atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.open.Add(1)
	d.total.Add(1)
	return &countedConn{Conn: c, d: d}, nil
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.d.open.Add(-1) })
	return c.Conn.Close()
}

// inproc is the whole daemon in this process on a virtual clock, with the
// scheduler driven by hand (as app/e2e_test.go does).
type inproc struct {
	t         *testing.T
	app       *app.App
	clock     *vclock
	tw        *twiliotest.Server
	mail      *smtptest.Server
	dialer    *countingDialer
	transport *http.Transport
	db        string
}

// newInproc starts the daemon in-process at start; tune adjusts the
// configuration (timeouts, concurrency) before it is validated.
func newInproc(t *testing.T, start time.Time, tune func(*config.Config)) *inproc {
	t.Helper()
	tw := twiliotest.NewServer(t, accountSID, authToken)
	mail := smtptest.NewServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DB = filepath.Join(t.TempDir(), "inproc.db")
	cfg.PublicURL = "http://" + ln.Addr().String()
	cfg.Twilio = config.Twilio{AccountSID: accountSID, AuthToken: authToken, From: fromNumber, BaseURL: tw.URL(), Timeout: 5 * time.Second}
	cfg.SMTP = config.SMTP{Host: mail.Host(), Port: mail.Port(), TLS: "none", From: emailFrom, Timeout: 5 * time.Second}
	cfg.Dispatch.SMSRate, cfg.Dispatch.EmailRate = 0, 0
	if tune != nil {
		tune(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := &vclock{t: start}
	tw.SetClock(clock.Now)
	dialer := &countingDialer{}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}
	a, err := app.New(context.Background(), app.Options{Config: cfg, Clock: clock, Listener: ln, ManualScheduling: true,
		HTTPClient: &http.Client{Transport: tr}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &inproc{t: t, app: a, clock: clock, tw: tw, mail: mail, dialer: dialer, transport: tr, db: cfg.DB}
	t.Cleanup(h.stop)
	return h
}

// stop shuts the daemon down (idempotent).
func (h *inproc) stop() {
	if h.app == nil {
		return
	}
	h.app.Shutdown(context.Background())
	h.app = nil
	h.transport.CloseIdleConnections()
}

// runOnce runs one dispatcher pass and the housekeeping at the current
// virtual time.
func (h *inproc) runOnce() error {
	ctx := context.Background()
	now := h.clock.Now()
	if _, err := h.app.Store.RecoverLeases(ctx, now); err != nil {
		return err
	}
	_, err := h.app.Dispatcher.RunOnce(ctx)
	if _, serr := h.app.Store.SkipStale(ctx, h.clock.Now()); serr != nil && err == nil {
		err = serr
	}
	return err
}

// runUntil jumps the clock from one due message to the next up to end,
// running the dispatcher at each.
func (h *inproc) runUntil(end time.Time) {
	h.t.Helper()
	for i := 0; i < 10000; i++ {
		next, err := h.app.Store.NextDue(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if next.IsZero() || next.After(end) {
			break
		}
		if next.After(h.clock.Now()) {
			h.clock.Set(next)
		}
		if err := h.runOnce(); err != nil {
			h.t.Fatal(err)
		}
	}
	if end.After(h.clock.Now()) {
		h.clock.Set(end)
	}
	if err := h.runOnce(); err != nil {
		h.t.Fatal(err)
	}
}
