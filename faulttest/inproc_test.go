package faulttest

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// t0 is 10:00 in New York: outside quiet hours, with a day ahead.
var t0 = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

const newYork = "America/New_York"

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
// scheduler driven by hand and housekeeping at every pass.
type inproc struct {
	t         *testing.T
	d         *testsupport.Daemon
	app       *app.App
	clock     *testsupport.Clock
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
	dialer := &countingDialer{}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}
	d := testsupport.StartDaemon(t, testsupport.DaemonOptions{Start: start, Housekeeping: true, Configure: tune,
		HTTPClient: &http.Client{Transport: tr}, Log: io.Discard})
	h := &inproc{t: t, d: d, app: d.App, clock: d.Clock, tw: d.Twilio, mail: d.Mail, dialer: dialer, transport: tr, db: d.App.Config.DB}
	t.Cleanup(h.stop)
	return h
}

// stop shuts the daemon down (idempotent) and closes the Twilio client's
// idle connections.
func (h *inproc) stop() {
	h.d.Stop()
	h.transport.CloseIdleConnections()
}

// runOnce runs one dispatcher pass and the housekeeping at the current
// virtual time.
func (h *inproc) runOnce() error {
	return h.d.Pass(context.Background())
}

// runUntil jumps the clock from one due message to the next up to end,
// running the dispatcher and the housekeeping at each.
func (h *inproc) runUntil(end time.Time) {
	h.t.Helper()
	h.d.RunUntil(h.t, end)
}
