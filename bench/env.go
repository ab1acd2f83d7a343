package bench

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// daemon is the whole aftercare app, built by app.New exactly as `aftercare
// serve` builds it, listening on 127.0.0.1 and talking to the loopback
// Twilio API and a real SMTP server of its own (testsupport's harness). Each
// phase gets fresh ones, so what the fakes remember of one phase does not
// weigh on the next.
type daemon struct {
	app  *app.App
	db   string // the database: a SQLite file or a PostgreSQL DSN
	base string // http://127.0.0.1:port
	tw   *twiliotest.Server
	mail *smtptest.Server
	r    *testsupport.Runner
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
	// NoProviders sends both channels to the (discarded) console
	// notifier instead of loopback providers.
	NoProviders bool
	// Twilio, if set, is a loopback Twilio API the daemon shares with
	// others (replicas): texts go there, emails to the console notifier.
	Twilio *twiliotest.Server
}

// startDaemon starts the daemon on the database at path.
func startDaemon(path string, o daemonOptions) (*daemon, error) {
	w := o.Log
	if w == nil {
		w = io.Discard
	}
	do := testsupport.DaemonOptions{DB: path, Scheduled: o.Cron, NoProviders: o.NoProviders || o.Twilio != nil, Log: w,
		Synchronous: o.Synchronous, Configure: func(cfg *config.Config) {
			if o.Defaults {
				d := config.Default().Dispatch
				cfg.Dispatch.SMSRate, cfg.Dispatch.EmailRate = d.SMSRate, d.EmailRate
			} else { // no provider rate limit: the machine is the limit
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
			switch {
			case o.Twilio != nil:
				cfg.Twilio = config.Twilio{AccountSID: testsupport.AccountSID, AuthToken: testsupport.AuthToken,
					From: testsupport.FromNumber, BaseURL: o.Twilio.URL(), Timeout: 10 * time.Second}
			case !o.NoProviders:
				cfg.Twilio.Timeout, cfg.SMTP.Timeout = 10*time.Second, 10*time.Second
			}
		}}
	r := &testsupport.Runner{}
	var h *testsupport.Daemon
	if err := r.Do(func() { h = testsupport.StartDaemon(r, do) }); err != nil {
		return nil, errors.Join(err, r.Close())
	}
	d := &daemon{app: h.App, db: path, base: h.Base, tw: h.Twilio, mail: h.Mail, r: r}
	if o.Twilio != nil {
		d.tw = o.Twilio
	}
	return d, nil
}

// Close shuts the daemon down, then its providers.
func (d *daemon) Close() error { return d.r.Close() }

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
