package testsupport

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// DaemonOptions say how StartDaemon runs the daemon. The zero value is a
// daemon on a new database and the system clock, talking to fresh
// loopback providers, with dispatch left to the caller.
type DaemonOptions struct {
	// DB is the database to run on; "" makes a new one (see DB).
	DB string
	// Start, if set, puts the daemon (and the loopback Twilio API) on a
	// virtual Clock standing at Start; otherwise it runs on the system
	// clock.
	Start time.Time
	// Scheduled runs the real cron scheduler (dispatch every second,
	// housekeeping); otherwise the caller dispatches (RunUntil, Pass).
	Scheduled bool
	// Housekeeping makes every RunUntil pass a Pass: expired leases
	// returned and stale messages skipped at each step, as the cron jobs
	// would, instead of stale messages skipped once at the end.
	Housekeeping bool
	// Providers shapes the loopback providers.
	Providers ProviderOptions
	// NoProviders starts no providers and leaves Twilio and SMTP
	// unconfigured: both channels go to the console notifier (discarded).
	NoProviders bool
	// Configure, if set, adjusts the configuration after the harness has
	// filled it in (database, public URL, providers, no rate limits) and
	// before it is validated.
	Configure func(*config.Config)
	// Log receives the daemon's JSON logs; nil keeps them in Daemon.Logs.
	Log io.Writer
	// LogLevel is the daemon's log level (the zero value is info).
	LogLevel slog.Level
	// HTTPClient is the Twilio client's (nil: the default).
	HTTPClient *http.Client
	// Synchronous is app.Options.Synchronous.
	Synchronous string
	// MetricsListener is app.Options.MetricsListener.
	MetricsListener net.Listener
}

// Daemon is the whole aftercare daemon in this process, built by app.New
// as `aftercare serve` builds it, serving HTTP on 127.0.0.1. It is shut
// down when the test ends.
type Daemon struct {
	App *app.App
	// Clock is the virtual clock (nil on the system clock).
	Clock *Clock
	// Twilio and Mail are the loopback providers (nil with NoProviders).
	Twilio *twiliotest.Server
	Mail   *smtptest.Server
	// Base is http:// and the daemon's address; it is also the public URL
	// unless Configure changed that.
	Base string
	// Logs holds the daemon's logs, unless DaemonOptions.Log was set.
	Logs *LogBuffer

	housekeeping bool
	stopOnce     sync.Once
	stopErr      error
}

// StartDaemon starts the daemon, failing the test if it does not start.
func StartDaemon(tb TB, o DaemonOptions) *Daemon {
	tb.Helper()
	d := &Daemon{housekeeping: o.Housekeeping}
	cfg := config.Default()
	cfg.DB = o.DB
	if cfg.DB == "" {
		cfg.DB = DB(tb)
	}
	cfg.Dispatch.SMSRate, cfg.Dispatch.EmailRate = 0, 0 // no provider rate limit unless a test sets one
	if !o.NoProviders {
		p := NewProviders(tb, o.Providers)
		p.Configure(cfg)
		d.Twilio, d.Mail = p.Twilio, p.Mail
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	d.Base = "http://" + ln.Addr().String()
	cfg.PublicURL = d.Base
	if o.Configure != nil {
		o.Configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		tb.Fatalf("daemon config: %v", err)
	}
	var clock aftercare.Clock = aftercare.SystemClock
	if !o.Start.IsZero() {
		d.Clock = NewClock(o.Start)
		clock = d.Clock
		if d.Twilio != nil {
			d.Twilio.SetClock(d.Clock.Now)
		}
	}
	w := o.Log
	if w == nil {
		d.Logs = &LogBuffer{}
		w = d.Logs
	}
	ctx := context.Background()
	a, err := app.New(ctx, app.Options{Config: cfg, Clock: clock, Listener: ln, ManualScheduling: !o.Scheduled,
		Log: slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: o.LogLevel})), Stdout: io.Discard,
		HTTPClient: o.HTTPClient, Synchronous: o.Synchronous, MetricsListener: o.MetricsListener})
	if err != nil {
		ln.Close()
		tb.Fatalf("build daemon: %v", err)
	}
	d.App = a
	tb.Cleanup(func() {
		if err := d.Stop(); err != nil {
			tb.Errorf("shut the daemon down: %v", err)
		}
	})
	if err := a.Start(ctx); err != nil {
		tb.Fatalf("start daemon: %v", err)
	}
	return d
}

// stopTimeout bounds a shutdown: in-flight requests and sends finish
// well within it on a loaded machine.
const stopTimeout = 30 * time.Second

// Stop shuts the daemon down and returns what that reported. It may be
// called more than once (the later calls return the first one's error)
// and runs at the end of the test anyway.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		d.stopErr = d.App.Shutdown(ctx)
	})
	return d.stopErr
}

// now is the daemon's time.
func (d *Daemon) now() time.Time {
	if d.Clock != nil {
		return d.Clock.Now()
	}
	return time.Now()
}

// Pass runs one dispatcher pass at the daemon's time with the
// housekeeping the cron jobs do around it: expired leases go back to
// scheduled first, messages past their window are skipped after.
func (d *Daemon) Pass(ctx context.Context) error {
	if _, err := d.App.Store.RecoverLeases(ctx, d.now()); err != nil {
		return err
	}
	_, err := d.App.Dispatcher.RunOnce(ctx)
	if _, serr := d.App.Store.SkipStale(ctx, d.now()); serr != nil && err == nil {
		err = serr
	}
	return err
}

// RunUntil delivers everything due up to end with the real dispatcher,
// jumping the virtual clock from one due message to the next (see
// RunDue), then skips what went stale by end (or, with Housekeeping, runs
// one last Pass at end).
func (d *Daemon) RunUntil(tb TB, end time.Time) {
	tb.Helper()
	if d.Clock == nil {
		tb.Fatalf("RunUntil needs a daemon on a virtual clock (DaemonOptions.Start)")
	}
	ctx := context.Background()
	pass := func(ctx context.Context) error {
		_, err := d.App.Dispatcher.RunOnce(ctx)
		return err
	}
	if d.housekeeping {
		pass = d.Pass
	}
	RunDue(tb, d.Clock, d.App.Store.NextDue, pass, end)
	if d.housekeeping {
		if err := d.Pass(ctx); err != nil {
			tb.Fatalf("pass at %s: %v", end, err)
		}
		return
	}
	if _, err := d.App.Store.SkipStale(ctx, end); err != nil {
		tb.Fatalf("skip stale messages: %v", err)
	}
}

// maxPasses bounds RunDue: ten times the passes of the longest test.
const maxPasses = 10000

// RunDue jumps clock from one due time to the next up to end, calling
// pass at each (next reports the earliest due time, zero when nothing is
// due), then moves the clock to end. The clock never moves back: a
// message already due is run at the clock's time. It fails the test if
// something is still due after maxPasses passes (a message no pass moves).
func RunDue(tb TB, clock *Clock, next func(context.Context) (time.Time, error), pass func(context.Context) error, end time.Time) {
	tb.Helper()
	ctx := context.Background()
	for range maxPasses {
		at, err := next(ctx)
		if err != nil {
			tb.Fatalf("next due time: %v", err)
		}
		if at.IsZero() || at.After(end) {
			clock.AdvanceTo(end)
			return
		}
		clock.AdvanceTo(at)
		if err := pass(ctx); err != nil {
			tb.Fatalf("pass at %s: %v", clock.Now(), err)
		}
	}
	tb.Fatalf("still due after %d passes up to %s: a message no pass moves", maxPasses, end)
}

// AddClinic creates clinic c and returns it with its API key.
func (d *Daemon) AddClinic(tb TB, c aftercare.Clinic) (aftercare.Clinic, string) {
	tb.Helper()
	c, key, err := d.App.Store.CreateClinic(context.Background(), c)
	if err != nil {
		tb.Fatalf("create clinic %q: %v", c.Name, err)
	}
	return c, key
}

// GlowClinic is the clinic the end-to-end tests enroll patients with: in
// New York, with a booking link and both alert routes.
func GlowClinic() aftercare.Clinic {
	return aftercare.Clinic{Name: "Glow Clinic", Phone: "+14155550111", Timezone: "America/New_York",
		BookingURL: "https://glow.example/book", AlertEmail: "staff@glow.example", OnCallPhone: "+14155550199"}
}
