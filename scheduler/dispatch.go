// Package scheduler delivers the outbox: a dispatcher claims due messages in
// batches with a lease, hands them to the channel's notifier with bounded
// concurrency and a per-channel rate limit, and records every outcome;
// housekeeping recovers expired leases and ends stale messages. robfig/cron
// only triggers the loops; all state lives in the database.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// Outbox is what the dispatcher needs from the store.
type Outbox interface {
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Claimed, error)
	Record(ctx context.Context, outs []store.Outcome) (int, error)
	RecoverLeases(ctx context.Context, now time.Time) (int, error)
	SkipStale(ctx context.Context, now time.Time) (int, error)
	NextDue(ctx context.Context) (time.Time, error)
	SetOptOut(ctx context.Context, patientID int64, ch aftercare.Channel, optOut bool, method aftercare.ConsentMethod, detail string) (int, error)
	MarkAddressBad(ctx context.Context, patientID int64, ch aftercare.Channel, reason string) ([]aftercare.Message, error)
}

// Observer is told about every handled message (metrics hook).
type Observer interface {
	// Handled reports one outcome. sendLatency is the provider call's
	// duration (zero if none was made); lateness is how long after its
	// planned time the message went out (only for sent).
	Handled(ch aftercare.Channel, kind store.OutcomeKind, code string, sendLatency, lateness time.Duration)
}

// Config tunes the dispatcher. Zero values take the defaults.
type Config struct {
	BatchSize int           // messages claimed per query (default 500)
	Lease     time.Duration // how long a claim holds a message (default 2m; longer than SendTimeout)
	// Concurrency caps sends in flight at once across every sender
	// (default 100, Twilio's default account concurrency): enough that a
	// provider answering in 150 ms is not the bottleneck.
	Concurrency int
	// Window caps messages handed to a provider whose outcome is not yet
	// durable (default 2 × Concurrency). A send's slot is freed when the
	// provider answers, so sends go on while the recorder makes a group
	// durable; Window bounds how far they run ahead. A sender without a
	// lookup (SMTP) keeps its slot until the outcome is durable instead.
	Window      int
	SendTimeout time.Duration // per provider call (default 30s)
	// Rate caps a channel's sends across the whole account (messages/s);
	// 0 means no cap.
	Rate map[aftercare.Channel]float64
	// SenderRate and SenderConcurrency are each sender's limits by
	// channel (0: none of its own). A sender is a clinic's Messaging
	// Service or number (or the default from) for SMS, the SMTP account
	// for email. Email's concurrency defaults to DefaultEmailConcurrency.
	SenderRate        map[aftercare.Channel]float64
	SenderConcurrency map[aftercare.Channel]int
	// Senders override the limits of single senders, keyed by number,
	// short code, alphanumeric ID or Messaging Service SID.
	Senders map[string]SenderLimit
	Quiet   protocol.QuietHours // SMS quiet hours; zero value = protocol default
	// Backoff for transient failures: Base * 2^(attempt-1), jittered ±20%,
	// capped at Max.
	BackoffBase time.Duration // default 30s
	BackoffMax  time.Duration // default 1h
	// Prepare fills in what depends on deployment (unsubscribe links,
	// calendar attachments) before a message is sent. Optional.
	Prepare func(ctx context.Context, m *notify.Message, c store.Claimed)
	// Random returns a float in [0,1) for jitter; default math/rand/v2.
	Random func() float64
	// OnBadAddress is told when a patient's number or address turns out
	// unable to receive, with the failed message and the pending ones it
	// skipped (e.g. to fall back to email). Optional.
	OnBadAddress func(ctx context.Context, patientID int64, ch aftercare.Channel, msgs []aftercare.Message)
}

func (c *Config) defaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 100
	}
	if c.Window < c.Concurrency {
		c.Window = 2 * c.Concurrency
	}
	if _, ok := c.SenderConcurrency[aftercare.Email]; !ok {
		sc := map[aftercare.Channel]int{aftercare.Email: DefaultEmailConcurrency}
		for ch, n := range c.SenderConcurrency {
			sc[ch] = n
		}
		c.SenderConcurrency = sc
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.Quiet == (protocol.QuietHours{}) {
		c.Quiet = protocol.DefaultQuietHours
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 30 * time.Second
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = time.Hour
	}
	if c.Random == nil {
		c.Random = rand.Float64
	}
}

// Dispatcher moves due messages from the outbox to the providers.
type Dispatcher struct {
	outbox   Outbox
	senders  map[aftercare.Channel]notify.Sender
	clock    aftercare.Clock
	log      *slog.Logger
	cfg      Config
	observer Observer

	// Sender and channel states (limits, AIMD), used by one batch at a
	// time (RunOnce is not reentrant); limMu guards the adaptive windows
	// against InFlightAllowed, and the maps.
	limMu        sync.Mutex
	limBase      time.Time // the injected clock when built (see limNow)
	limWall      time.Time // the wall clock then
	sendersByKey map[string]*sender
	channels     map[aftercare.Channel]*sender

	locMu sync.Mutex
	locs  map[string]*time.Location

	lastRun atomicTime
}

// NewDispatcher builds a dispatcher. senders maps each channel to its
// provider; a channel without one is left scheduled.
func NewDispatcher(outbox Outbox, senders map[aftercare.Channel]notify.Sender, clock aftercare.Clock, log *slog.Logger, cfg Config) *Dispatcher {
	cfg.defaults()
	return &Dispatcher{
		outbox: outbox, senders: senders, clock: clock, log: log, cfg: cfg,
		limBase: clock.Now(), limWall: time.Now(),
		sendersByKey: make(map[string]*sender),
		channels:     make(map[aftercare.Channel]*sender),
		locs:         make(map[string]*time.Location),
	}
}

// SetObserver installs a metrics hook.
func (d *Dispatcher) SetObserver(o Observer) { d.observer = o }

// LastRun returns when RunOnce last completed a pass without a store error.
func (d *Dispatcher) LastRun() time.Time { return d.lastRun.Load() }

// Stats counts what one RunOnce did.
type Stats struct {
	Claimed  int
	Sent     int
	Failed   int
	Retried  int
	Skipped  int
	Deferred int
	// Throttled counts provider answers "too many requests" (429): the
	// message went back to its sender's queue, nothing was recorded.
	Throttled int
}

func (s *Stats) merge(o Stats) {
	s.Claimed += o.Claimed
	s.Sent += o.Sent
	s.Failed += o.Failed
	s.Retried += o.Retried
	s.Skipped += o.Skipped
	s.Deferred += o.Deferred
	s.Throttled += o.Throttled
}

func (s *Stats) add(k store.OutcomeKind) {
	switch k {
	case store.OutcomeSent:
		s.Sent++
	case store.OutcomeFailed:
		s.Failed++
	case store.OutcomeRetry:
		s.Retried++
	case store.OutcomeSkipped:
		s.Skipped++
	case store.OutcomeDeferred:
		s.Deferred++
	}
}

// RunOnce claims and handles due messages, batch after batch, until none is
// due or ctx is cancelled. Cancelling ctx stops new claims; sends already
// started finish (bounded by SendTimeout) and claimed messages not yet
// started are released, so nothing is lost on shutdown.
//
// Outcomes are committed as sends complete (see recorder), not once per
// batch: a crash leaves at most Window messages handed to a provider with
// no durable outcome, and of those at most the email sender's concurrency
// are emails (see handleBatch).
func (d *Dispatcher) RunOnce(ctx context.Context) (Stats, error) {
	var st Stats
	for ctx.Err() == nil {
		now := d.clock.Now()
		batch, err := d.outbox.Claim(ctx, now, d.cfg.BatchSize, d.cfg.Lease)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return st, fmt.Errorf("dispatch: %w", err)
		}
		st.Claimed += len(batch)
		if len(batch) == 0 {
			break
		}
		bst, err := d.handleBatch(ctx, now, batch)
		st.merge(bst)
		if err != nil {
			// The messages whose outcome could not be committed stay in
			// sending; their lease expires and recovery marks them
			// ambiguous, so the provider is asked before any resend.
			return st, fmt.Errorf("dispatch: %w", err)
		}
		if len(batch) < d.cfg.BatchSize {
			break
		}
	}
	d.lastRun.Store(d.clock.Now())
	return st, nil
}

// minWait is the shortest pause of RunUntil between two passes: messages
// falling due faster than that are claimed together.
const minWait = 10 * time.Millisecond

// RunUntil runs passes (see RunOnce) until the wall clock reaches until:
// after each pass it sleeps until the next message falls due (at least
// minWait), and returns once that would be after until, or when ctx is
// cancelled.
func (d *Dispatcher) RunUntil(ctx context.Context, until time.Time) (Stats, error) {
	var st Stats
	for {
		s, err := d.RunOnce(ctx)
		st.merge(s)
		if err != nil || ctx.Err() != nil {
			return st, err
		}
		next, err := d.outbox.NextDue(ctx)
		if err != nil {
			return st, fmt.Errorf("dispatch: %w", err)
		}
		if next.IsZero() {
			return st, nil
		}
		wait := max(next.Sub(d.clock.Now()), minWait)
		if !time.Now().Add(wait).Before(until) {
			return st, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return st, nil
		case <-t.C:
		}
	}
}

func (d *Dispatcher) release(c store.Claimed, reason string) result {
	now := d.clock.Now()
	return result{out: store.Outcome{ID: c.Message.ID, Kind: store.OutcomeDeferred, At: now, NextAttemptAt: now, Reason: reason}}
}

// quiet is the clinic's quiet hours, else the daemon's. A setting that
// does not parse (CheckClinic refuses them) falls back to the daemon's.
func (d *Dispatcher) quiet(c aftercare.Clinic) protocol.QuietHours {
	if c.QuietHours == "" {
		return d.cfg.Quiet
	}
	q, err := protocol.ParseQuietWindow(c.QuietHours)
	if err != nil || !q.Valid() {
		d.log.Warn("clinic quiet hours unreadable; using the daemon's", "clinic_id", c.ID, "err", err)
		return d.cfg.Quiet
	}
	return q
}

// precheck ends or defers a message without calling a provider when it is
// stale, unwanted or inside quiet hours.
func (d *Dispatcher) precheck(c store.Claimed) (result, bool) {
	m, p := c.Message, c.Patient
	now := d.clock.Now()
	skip := func(reason string) (result, bool) {
		return result{out: store.Outcome{ID: m.ID, Kind: store.OutcomeSkipped, At: now, Reason: reason}}, true
	}
	if !now.Before(m.StaleAt) {
		return skip(fmt.Sprintf("stale: window closed at %s before it could be sent", m.StaleAt.UTC().Format(time.RFC3339)))
	}
	if m.Recipient != "" {
		// To clinic staff, not the patient: the patient's opt-outs don't apply.
		return d.noProvider(m, now)
	}
	switch m.Channel {
	case aftercare.SMS:
		if p.SMSOptOut && !m.Answer {
			// An answer to a text the patient sent may still reach them
			// (they wrote to us); nothing else may.
			return skip("patient opted out of sms")
		}
		if p.PhoneBad != "" {
			return skip("phone number cannot receive texts: " + p.PhoneBad)
		}
		loc := d.location(p.Timezone)
		local := now.In(loc)
		quiet := d.quiet(c.Clinic)
		if !m.Urgent && quiet.Contains(local) {
			next := quiet.Next(local)
			if !next.Before(m.StaleAt) {
				return skip("quiet hours last until after the step goes stale")
			}
			return result{out: store.Outcome{ID: m.ID, Kind: store.OutcomeDeferred, At: now, NextAttemptAt: next.UTC(),
				Reason: "quiet hours in the patient's time zone"}}, true
		}
	case aftercare.Email:
		if p.EmailOptOut {
			return skip("patient unsubscribed from email")
		}
		if p.Email == "" {
			return skip("no email address")
		}
		if p.EmailBad != "" {
			return skip("email address cannot receive mail: " + p.EmailBad)
		}
	}
	return d.noProvider(m, now)
}

// noProvider defers a message whose channel has no provider.
func (d *Dispatcher) noProvider(m aftercare.Message, now time.Time) (result, bool) {
	if d.senders[m.Channel] == nil {
		return result{out: store.Outcome{ID: m.ID, Kind: store.OutcomeDeferred, At: now, NextAttemptAt: now.Add(time.Minute),
			Reason: "no " + string(m.Channel) + " provider configured"}}, true
	}
	return result{}, false
}

func (d *Dispatcher) location(name string) *time.Location {
	d.locMu.Lock()
	defer d.locMu.Unlock()
	if loc, ok := d.locs[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC // validated at enrollment; never expected
	}
	d.locs[name] = loc
	return loc
}

// NotifyMessage builds the provider's view of a claimed message.
func NotifyMessage(c store.Claimed) notify.Message {
	m, p, cl := c.Message, c.Patient, c.Clinic
	nm := notify.Message{
		ID: m.ID, ClinicID: m.ClinicID, Channel: m.Channel, Step: m.Step,
		Subject: m.Subject, Body: m.Body, HTMLBody: m.HTMLBody, StaleAt: m.StaleAt, Attempt: m.Attempts,
		ClinicName: cl.Name, ReplyTo: cl.ReplyTo, ToName: p.FirstName + " " + p.LastName,
	}
	if m.Channel == aftercare.SMS {
		nm.To, nm.From, nm.MessagingServiceSID = p.Phone, cl.SMSFrom, cl.MessagingServiceSID
	} else {
		nm.To, nm.From = p.Email, cl.EmailFrom
	}
	if m.Recipient != "" {
		nm.To, nm.ToName = m.Recipient, cl.Name+" staff"
	}
	return nm
}

func (d *Dispatcher) send(ctx context.Context, c store.Claimed) result {
	m := c.Message
	sender := d.senders[m.Channel]
	nm := NotifyMessage(c)
	if d.cfg.Prepare != nil {
		d.cfg.Prepare(ctx, &nm, c)
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	log := d.log.With("message_id", m.ID, "clinic_id", m.ClinicID, "channel", string(m.Channel), "step", m.Step, "attempt", m.Attempts)

	if m.Ambiguous {
		if f, ok := sender.(notify.Finder); ok {
			since := m.SendAt.Add(-10 * time.Minute)
			id, err := f.Find(ctx, nm, since)
			now := d.clock.Now()
			if err != nil {
				log.Warn("look up ambiguous attempt", "err", err)
				return d.failure(c, err, now, 0)
			}
			if id != "" {
				log.Info("earlier attempt reached the provider; not resending", "provider_id", id)
				return result{out: store.Outcome{ID: m.ID, Kind: store.OutcomeSent, At: now, ProviderID: id,
					Reason: "found at provider after an ambiguous attempt; not resent"}, lateness: now.Sub(m.SendAt)}
			}
		}
	}
	start := d.clock.Now()
	wallStart := time.Now()
	id, err := sender.Send(ctx, nm)
	latency := time.Since(wallStart)
	now := d.clock.Now()
	if err != nil {
		r := d.failure(c, err, now, latency)
		log.Warn("send failed", "outcome", string(r.out.Kind), "code", r.out.ErrorCode, "reason", r.out.Reason)
		return r
	}
	log.Info("sent", "provider_id", id)
	return result{out: store.Outcome{ID: m.ID, Kind: store.OutcomeSent, At: now, ProviderID: id},
		latency: latency, lateness: start.Sub(m.SendAt)}
}

// failure turns a send error into a retry or a final failure. What the
// error's Action asks for is notify.Decide's to say (the same policy
// applies to failed receipts); the error's Kind decides the rest:
// permanent fails at once, transient and ambiguous back off until the
// step goes stale.
func (d *Dispatcher) failure(c store.Claimed, err error, now time.Time, latency time.Duration) result {
	m := c.Message
	e := notify.Classify(err)
	out := store.Outcome{ID: m.ID, At: now, ErrorCode: e.Code, Error: e.Error(), Reason: e.Reason}
	r := result{action: e.Action, latency: latency, err: e}
	switch dec := decide(m, e.Action, now); dec.Effect {
	case notify.EffectGiveUp:
		out.Kind = store.OutcomeFailed
		out.Reason = dec.Reason + ": " + e.Reason
		r.out = out
		return r
	case notify.EffectRetry:
		next := dec.RetryAt
		if e.RetryAfter > 0 && now.Add(e.RetryAfter).After(next) {
			next = now.Add(e.RetryAfter)
		}
		return retry(r, out, m, e, next)
	}
	if e.Kind == notify.Permanent {
		out.Kind = store.OutcomeFailed
		r.out = out
		return r
	}
	next := d.nextAttempt(now, m.Attempts)
	if e.RetryAfter > 0 && now.Add(e.RetryAfter).After(next) {
		next = now.Add(e.RetryAfter)
	}
	return retry(r, out, m, e, next)
}

// retry schedules the message again at next, or fails it when next is not
// before the step goes stale.
func retry(r result, out store.Outcome, m aftercare.Message, e *notify.Error, next time.Time) result {
	if !next.Before(m.StaleAt) {
		out.Kind = store.OutcomeFailed
		out.Reason = fmt.Sprintf("gave up after %d attempt(s): the next retry would be after the step goes stale; last error: %s", m.Attempts, e.Error())
		r.out = out
		return r
	}
	out.Kind = store.OutcomeRetry
	out.NextAttemptAt = next
	out.Ambiguous = e.Kind == notify.Ambiguous || m.Ambiguous
	r.out = out
	return r
}

// decide asks notify.Decide about a failed send of m (its attempts
// include the failed one).
func decide(m aftercare.Message, action notify.Action, now time.Time) notify.Decision {
	return notify.Decide(notify.Failure{Action: action, Staff: m.Recipient != "", Sends: m.Attempts, Now: now, StaleAt: m.StaleAt})
}

// nextAttempt returns when to retry after the given attempt number:
// exponential from BackoffBase, jittered ±20%, capped at BackoffMax.
func (d *Dispatcher) nextAttempt(now time.Time, attempt int) time.Time {
	return now.Add(Backoff(attempt, d.cfg.BackoffBase, d.cfg.BackoffMax, d.cfg.Random()))
}

// Backoff is the delay before retry number attempt (1-based): base *
// 2^(attempt-1) scaled by a jitter factor in [0.8, 1.2) from r in [0,1),
// capped at max.
func Backoff(attempt int, base, max time.Duration, r float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	exp := float64(base) * math.Pow(2, float64(attempt-1))
	if exp > float64(max) {
		exp = float64(max)
	}
	jittered := time.Duration(exp * (0.8 + 0.4*r))
	if jittered > max {
		jittered = max
	}
	return jittered
}

// afterRecord applies the side effects an outcome asks for (see
// notify.Decide), once the outcome itself is committed.
func (d *Dispatcher) afterRecord(ctx context.Context, c store.Claimed, r result) {
	o, m := r.out, c.Message
	log := d.log.With("message_id", m.ID, "clinic_id", m.ClinicID, "channel", string(m.Channel))
	dec := decide(m, r.action, o.At)
	switch dec.Effect {
	case notify.EffectOptOut:
		n, err := d.outbox.SetOptOut(ctx, m.PatientID, m.Channel, true, aftercare.ConsentProvider, dec.Reason+" ("+o.ErrorCode+")")
		if err != nil {
			log.Error("record provider opt-out", "err", err)
			return
		}
		log.Info("patient opted out at provider; pending messages cancelled", "patient_id", m.PatientID, "cancelled", n)
	case notify.EffectMarkBad:
		skipped, err := d.outbox.MarkAddressBad(ctx, m.PatientID, m.Channel, o.Reason)
		if err != nil {
			log.Error("flag bad address", "err", err)
			return
		}
		log.Warn("address cannot receive; flagged for the clinic", "patient_id", m.PatientID, "skipped", len(skipped))
		if d.cfg.OnBadAddress != nil {
			failed := m
			failed.Status = aftercare.StatusFailed
			d.cfg.OnBadAddress(ctx, m.PatientID, m.Channel, append([]aftercare.Message{failed}, skipped...))
		}
	case notify.EffectCheckClinic:
		// An alert to clinic staff: the patient's own record is fine.
		log.Error("staff alert route unusable; check the clinic's alert_email and on_call_phone",
			"why", dec.Reason, "code", o.ErrorCode, "reason", o.Reason)
	case notify.EffectAlertOps:
		log.Error("provider filtered a message; ops attention needed", "code", o.ErrorCode, "reason", o.Reason)
	}
}

type atomicTime struct {
	mu sync.Mutex
	t  time.Time
}

func (a *atomicTime) Load() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.t
}

func (a *atomicTime) Store(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.t = t
}
