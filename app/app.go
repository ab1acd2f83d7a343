// Package app assembles aftercare from its configuration: store, protocol,
// notifiers, dispatcher, cron jobs and HTTP server. cmd/aftercare calls it;
// end-to-end tests run the whole daemon in-process through it.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/booking"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/metrics"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/console"
	"github.com/aftercare/aftercare/notify/smtp"
	"github.com/aftercare/aftercare/notify/twilio"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
)

// Options are what the caller provides beyond the configuration.
type Options struct {
	Config *config.Config
	// Clock defaults to the system clock; tests pass a virtual one.
	Clock aftercare.Clock
	// Log defaults to a discarding logger.
	Log *slog.Logger
	// Stdout receives the console notifier's lines when no file is set.
	Stdout io.Writer
	// HTTPClient is used by the Twilio client (tests may pass one).
	HTTPClient *http.Client
	// Listener, if set, is served instead of listening on Config.Listen
	// (tests listen first to learn the public URL).
	Listener net.Listener
	// ManualScheduling leaves cron off: the caller runs the dispatcher and
	// housekeeping itself (tests on a virtual clock, the demo).
	ManualScheduling bool
	// Synchronous overrides the database writer's synchronous setting
	// ("" = FULL, the durable default; "NORMAL" only to measure what
	// durability costs, as aftercare-bench does).
	Synchronous string
	// MetricsListener, if set, is served instead of listening on
	// Config.Metrics.Listen (when that is set).
	MetricsListener net.Listener
}

// App is a running aftercare daemon.
type App struct {
	Config     *config.Config
	Store      *store.Store
	Protocol   *protocol.Protocol
	Dispatcher *scheduler.Dispatcher
	Enroll     *enroll.Service
	// Booking acts on clinics' booking systems' events.
	Booking *booking.Service
	API     *api.Server
	Senders map[aftercare.Channel]notify.Sender
	// Metrics are the Prometheus collectors behind GET /metrics.
	Metrics *metrics.Metrics

	clock   aftercare.Clock
	log     *slog.Logger
	secret  []byte
	Inbound *inbound.Service
	quiet   protocol.QuietHours
	// protocols are the daemon's and the clinics' own protocols.
	protocols *protocols
	sched     *scheduler.Scheduler
	http      *http.Server
	ln        net.Listener
	closers   []func() error
	serveErr  chan error
	manual    bool

	metricsHTTP *http.Server
	metricsLn   net.Listener
}

// New builds the app: opens (and migrates) the database, loads the
// protocol, configures notifiers. It starts nothing.
func New(ctx context.Context, o Options) (*App, error) {
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default()
	}
	if o.Clock == nil {
		o.Clock = aftercare.SystemClock
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	a := &App{Config: cfg, clock: o.Clock, log: o.Log, ln: o.Listener, manual: o.ManualScheduling, metricsLn: o.MetricsListener}
	ok := false
	defer func() {
		if !ok {
			a.closeAll()
		}
	}()

	quiet, err := protocol.ParseQuietHours(cfg.QuietHours.Start, cfg.QuietHours.End)
	if err != nil {
		return nil, fmt.Errorf("quiet hours: %w", err)
	}
	a.quiet = quiet
	lib, err := LoadLibrary(cfg, o.Log)
	if err != nil {
		return nil, fmt.Errorf("load protocols: %w", err)
	}
	// Staff alerts and the console's step names come from the English
	// microneedling protocol (the daemon's own, when protocol: replaces
	// it).
	var ok1 bool
	if a.Protocol, ok1 = lib.Latest("microneedling", "en"); !ok1 {
		return nil, errors.New("load protocols: no English microneedling protocol")
	}
	if cfg.Protocol != "" {
		if a.Protocol, err = protocol.Load(cfg.Protocol); err != nil {
			return nil, fmt.Errorf("load protocol: %w", err)
		}
	}

	a.Store, err = store.Open(ctx, cfg.DB, store.Options{Clock: o.Clock, Synchronous: o.Synchronous})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.Store.Close)

	if a.secret, err = a.unsubscribeSecret(ctx); err != nil {
		return nil, err
	}
	if a.Senders, err = a.senders(o); err != nil {
		return nil, err
	}
	a.Dispatcher = scheduler.NewDispatcher(a.Store, a.Senders, o.Clock, o.Log, scheduler.Config{
		BatchSize:   cfg.Dispatch.BatchSize,
		Lease:       cfg.Dispatch.Lease,
		Concurrency: cfg.Dispatch.Concurrency,
		SendTimeout: cfg.Dispatch.SendTimeout,
		Rate:        map[aftercare.Channel]float64{aftercare.SMS: cfg.Dispatch.SMSRate, aftercare.Email: cfg.Dispatch.EmailRate},
		SenderRate:  map[aftercare.Channel]float64{aftercare.SMS: cfg.Dispatch.SenderRate},
		SenderConcurrency: map[aftercare.Channel]int{aftercare.Email: min(cmp.Or(cfg.Dispatch.EmailConcurrency,
			scheduler.DefaultEmailConcurrency), max(cfg.Dispatch.Concurrency, 1))},
		Senders:      senderLimits(cfg.Dispatch.Senders),
		Quiet:        quiet,
		Prepare:      a.prepare,
		OnBadAddress: a.onBadAddress,
	})
	a.protocols = &protocols{base: lib, store: a.Store, fallback: a.Protocol, log: o.Log}
	a.Enroll = &enroll.Service{Store: a.Store, Protocols: a.protocols, Clock: o.Clock, Quiet: quiet,
		LinkKey: a.linkKey(), PublicURL: cfg.PublicURL}
	a.API = api.New(api.Deps{
		Store: a.Store, Enroller: countingEnroller{a.Enroll, a, "api"}, Log: o.Log, Treatments: a.protocols.Treatments, Stats: a.Store,
		Ready: []api.Check{
			{Name: "database", Run: a.Store.Ping},
			{Name: "scheduler", Run: a.schedulerReady},
			{Name: "providers", Run: a.providersReady},
			{Name: "clinics", Run: a.clinicsReady},
		},
	})
	a.Inbound = &inbound.Service{Store: a.Store, Protocol: a.Protocol, Replies: a.protocols, Clock: o.Clock, Log: o.Log,
		DefaultFrom: cfg.Twilio.From, ClassifyReceipt: twilio.ClassifyStatusCallback,
		NoOptOutConfirmation: !cfg.SMS.ConfirmOptOut(), Quiet: quiet,
		Fallback: func(ctx context.Context, patientID int64, msgs []aftercare.Message) {
			a.fallbackToEmail(ctx, patientID, msgs)
		}}
	if err := a.mountMetrics(); err != nil {
		return nil, err
	}
	a.API.EnableWebhooks(api.Webhooks{TwilioAuthToken: cfg.Twilio.AuthToken, PublicURL: cfg.PublicURL,
		Inbound: a.Inbound, Unsubscriber: a, Rejected: a.webhookRejected})
	a.Booking = &booking.Service{Store: a.Store, Enroller: countingEnroller{a.Enroll, a, "booking_webhook"}, Protocols: a.protocols,
		Observe: a.Metrics.BookingEvent}
	a.API.EnableBooking(api.Booking{Secrets: a.Store.BookingSecrets, Handler: a.Booking, Clock: o.Clock,
		Rejected: a.webhookRejected})
	if err := a.mountConsole(ctx); err != nil {
		return nil, err
	}
	if err := a.mountPatientPage(); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// senders builds one notifier per channel: Twilio for SMS and SMTP for
// email when configured, the console notifier otherwise.
func (a *App) senders(o Options) (map[aftercare.Channel]notify.Sender, error) {
	cfg := a.Config
	out := make(map[aftercare.Channel]notify.Sender)
	var con *console.Sender
	consoleSender := func() (*console.Sender, error) {
		if con != nil {
			return con, nil
		}
		w := o.Stdout
		if cfg.Console.File != "" {
			f, err := os.OpenFile(cfg.Console.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, fmt.Errorf("open console notifier file: %w", err)
			}
			a.closers = append(a.closers, f.Close)
			// It holds patients' messages: private even if an older
			// version created it with the umask's mode.
			if err := f.Chmod(0o600); err != nil {
				return nil, fmt.Errorf("chmod console notifier file: %w", err)
			}
			w = f
		}
		con = console.New(w, cfg.Console.Format, a.clock.Now)
		return con, nil
	}
	if cfg.Twilio.Enabled() {
		hc := o.HTTPClient
		if hc == nil {
			hc = twilioHTTPClient(cfg.Dispatch.Concurrency)
			a.closers = append(a.closers, func() error { hc.CloseIdleConnections(); return nil })
		}
		tw, err := twilio.New(twilio.Config{
			AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken,
			APIKey: cfg.Twilio.APIKey, APISecret: cfg.Twilio.APISecret,
			From: cfg.Twilio.From, MessagingServiceSID: cfg.Twilio.MessagingServiceSID,
			BaseURL: cfg.Twilio.BaseURL, StatusCallbackURL: a.publicURL("/webhooks/twilio/status"),
			Timeout: cfg.Twilio.Timeout, HTTPClient: hc, Clock: a.clock,
		})
		if err != nil {
			return nil, fmt.Errorf("configure twilio: %w", err)
		}
		out[aftercare.SMS] = tw
	} else {
		c, err := consoleSender()
		if err != nil {
			return nil, err
		}
		out[aftercare.SMS] = c
	}
	if cfg.SMTP.Enabled() {
		sm, err := smtp.New(smtp.Config{
			Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, TLS: cfg.SMTP.TLS,
			Username: cfg.SMTP.Username, Password: cfg.SMTP.Password, From: cfg.SMTP.From,
			Timeout: cfg.SMTP.Timeout,
		})
		if err != nil {
			return nil, fmt.Errorf("configure smtp: %w", err)
		}
		a.closers = append(a.closers, sm.Close)
		out[aftercare.Email] = sm
	} else {
		c, err := consoleSender()
		if err != nil {
			return nil, err
		}
		out[aftercare.Email] = c
	}
	return out, nil
}

// twilioHTTPClient is the Twilio client's transport: http.DefaultTransport's
// settings, but keeping an idle connection for each concurrent send. The
// default keeps two per host, so with 16 sends in flight most requests
// opened a new connection (a TCP and TLS handshake each, and thousands of
// sockets left in TIME_WAIT during a burst).
func twilioHTTPClient(concurrency int) *http.Client {
	return &http.Client{Transport: twilio.NewTransport(max(concurrency, 2))}
}

// senderLimits converts the configured per-sender limits.
func senderLimits(in map[string]config.SenderLimit) map[string]scheduler.SenderLimit {
	out := make(map[string]scheduler.SenderLimit, len(in))
	for k, v := range in {
		out[k] = scheduler.SenderLimit{Rate: v.Rate, Concurrency: v.Concurrency}
	}
	return out
}

// publicURL joins the configured public base URL and path ("" when no
// public URL is set).
func (a *App) publicURL(path string) string {
	if a.Config.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(a.Config.PublicURL, "/") + path
}

// prepare adds deployment-specific parts to an outgoing message.
func (a *App) prepare(ctx context.Context, m *notify.Message, c store.Claimed) {
	if m.Channel != aftercare.Email || c.Message.Recipient != "" {
		return
	}
	m.UnsubscribeURL = a.UnsubscribeURL(c.Message.PatientID, c.Message.ClinicID)
	p := a.protocols.ForEnrollment(ctx, c.Enrollment)
	step, ok := p.Step(c.Message.Step)
	if !ok || !step.Calendar {
		return
	}
	ics, err := p.Invitation(protocol.Input{Patient: c.Patient, Clinic: c.Clinic, Enrollment: c.Enrollment}, c.Message)
	if err != nil {
		a.log.Warn("build calendar invitation", "message_id", c.Message.ID, "clinic_id", c.Message.ClinicID, "err", err)
		return
	}
	if ics == nil {
		return
	}
	m.Attachments = append(m.Attachments, notify.Attachment{Name: protocol.InvitationName,
		ContentType: protocol.InvitationType, Data: ics})
}

func (a *App) schedulerReady(ctx context.Context) error {
	if a.manual {
		return nil
	}
	if a.sched == nil {
		return errors.New("scheduler not started")
	}
	last, err := a.sched.LastRun("dispatch")
	if err != nil {
		return fmt.Errorf("last dispatch failed: %w", err)
	}
	if a.sched.Running("dispatch") {
		// A long pass (a backlog drained at the rate limit) is progress;
		// every send and query in it is bounded by a timeout.
		return nil
	}
	if last.IsZero() {
		return errors.New("scheduler has not ticked yet")
	}
	if age := a.clock.Now().Sub(last); age > 30*time.Second {
		return fmt.Errorf("scheduler last ticked %s ago", age.Round(time.Second))
	}
	return nil
}

// Jobs returns the cron jobs of the daemon.
func (a *App) Jobs() []scheduler.Job {
	var jobs []scheduler.Job
	jobs = append(jobs, scheduler.Housekeeping(a.Store, a.clock, a.log, a.Config.Dispatch.Housekeeping)...)
	spec := a.Config.Dispatch.Housekeeping
	if spec == "" {
		spec = "@every 15s"
	}
	// Re-alerts of unacknowledged red flags, alert fallbacks, undeliverable alerts.
	jobs = append(jobs, scheduler.Job{Name: "conversations", Spec: spec, Run: a.Inbound.RunOnce})
	jobs = append(jobs, a.privacyJob())
	if _, ok := a.Senders[aftercare.SMS].(statusFetcher); ok {
		jobs = append(jobs, a.reconcileJob())
	}
	// Every replica dispatches (claims skip each other's rows); the other
	// jobs run one round at a time across replicas (store.Lead), so a
	// red flag is re-alerted once, not once per replica.
	for i := range jobs {
		jobs[i] = a.leaderOnly(jobs[i])
	}
	return append([]scheduler.Job{scheduler.DispatchJob(a.Dispatcher, a.Config.Dispatch.Tick)}, jobs...)
}

// leaderOnly makes j run only in the replica that leads its round.
func (a *App) leaderOnly(j scheduler.Job) scheduler.Job {
	run, name := j.Run, j.Name
	j.Run = func(ctx context.Context) error {
		_, err := a.Store.Lead(ctx, name, run)
		return err
	}
	return j
}

// Start listens on the configured address and starts serving and
// scheduling.
func (a *App) Start(ctx context.Context) error {
	if !a.manual && !a.Store.Shared() {
		release, err := lockDB(a.Config.DB)
		if err != nil {
			return err
		}
		a.closers = append(a.closers, release)
	}
	ln := a.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.Config.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", a.Config.Listen, err)
		}
		a.ln = ln
	}
	a.http = &http.Server{
		Handler:           a.securityHeaders(a.API.Handler()),
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	// The scheduler exists before the first request (readiness reads it);
	// it starts once leases are recovered.
	if !a.manual {
		sched, err := scheduler.New(a.log, a.clock, a.Jobs()...)
		if err != nil {
			return err
		}
		a.sched = sched
	}
	a.serveErr = make(chan error, 2)
	if err := a.startMetrics(); err != nil {
		return err
	}
	go func() { a.serveErr <- a.http.Serve(ln) }()

	if a.manual {
		return nil
	}
	// On SQLite a message still in sending belongs to a previous run that
	// died (one daemon per database, by lockDB): recover it now, due at
	// once, rather than after its lease. Replicas sharing PostgreSQL leave
	// each other's sends alone: expired leases are recovered by
	// housekeeping.
	if !a.Store.Shared() {
		if n, err := a.Store.RecoverAbandoned(ctx, a.clock.Now()); err != nil {
			a.log.Error("recover leases at start", "err", err)
		} else if n > 0 {
			a.log.Warn("recovered messages left mid-send by the previous run", "count", n)
		}
	}
	a.sched.Start()
	a.log.Info("aftercare started", "listen", ln.Addr().String(), "sms", senderName(a.Senders[aftercare.SMS]),
		"email", senderName(a.Senders[aftercare.Email]), "db", store.RedactDSN(a.Config.DB), "driver", a.Store.DriverName())
	return nil
}

func senderName(s notify.Sender) string {
	switch s.(type) {
	case *twilio.Sender:
		return "twilio"
	case *smtp.Sender:
		return "smtp"
	case *console.Sender:
		return "console"
	}
	return fmt.Sprintf("%T", s)
}

// Addr returns the address the HTTP server listens on.
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// ServeErr reports a fatal HTTP serving error.
func (a *App) ServeErr() <-chan error { return a.serveErr }

// Shutdown stops in order: stop accepting HTTP, let running jobs finish
// (in-flight sends complete, claimed-but-unsent messages are released),
// then close notifiers and the database.
func (a *App) Shutdown(ctx context.Context) error {
	var errs []error
	if a.http != nil {
		if err := a.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http: %w", err))
		}
	}
	if a.metricsHTTP != nil {
		if err := a.metricsHTTP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop metrics http: %w", err))
		}
	}
	if a.sched != nil {
		if err := a.sched.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.closeAll())
	return errors.Join(errs...)
}

func (a *App) closeAll() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}
