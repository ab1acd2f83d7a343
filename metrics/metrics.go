// Package metrics exposes aftercare's Prometheus metrics: what the
// dispatcher did with each message, how long provider calls took, how late
// messages went out against their plan, how many messages sit in each
// status, provider errors, refused webhooks and delivery receipts. It owns
// its own registry (no global state) and serves it in the Prometheus text
// format.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// Metric names, for dashboards, alerts and tests.
const (
	MessagesHandled     = "aftercare_messages_handled_total"
	SendDuration        = "aftercare_send_duration_seconds"
	DispatchLateness    = "aftercare_dispatch_lateness_seconds"
	OutboxMessages      = "aftercare_outbox_messages"
	OutboxCountErrors   = "aftercare_outbox_count_errors_total"
	ProviderErrors      = "aftercare_provider_errors_total"
	WebhookRejections   = "aftercare_webhook_rejections_total"
	Receipts            = "aftercare_receipts_total"
	DispatchLastSuccess = "aftercare_dispatch_last_success_timestamp_seconds"
	// AlertsUndeliverable counts red-flag alerts no route (alert email,
	// on-call text) could deliver to clinic staff.
	AlertsUndeliverable = "aftercare_alerts_undeliverable_total"
	// Enrollments counts enrollments created, by treatment and source
	// (api, console; booking_webhook once the booking webhook enrolls).
	Enrollments = "aftercare_enrollments_total"
	// OptOuts counts the opt-outs recorded in the database, by channel
	// and how the patient opted out, read at scrape time.
	OptOuts = "aftercare_opt_outs_total"
	// CheckInAnswers counts patients' answers to check-in questions, by
	// outcome.
	CheckInAnswers = "aftercare_checkin_answers_total"
	// BookingLinkClicks counts visits of the signed booking redirect.
	BookingLinkClicks = "aftercare_booking_link_clicks_total"
	// BookingEvents counts accepted booking-system webhook events, by
	// event type.
	BookingEvents = "aftercare_booking_events_total"
)

// maxLabelValues caps the distinct values a free-form label (treatment,
// check-in outcome, booking event) takes; later values become "other".
const maxLabelValues = 50

const (
	defaultCountTimeout = 2 * time.Second
	maxLabelLength      = 64 // longer endpoint/reason values become "other"
	maxCodeLength       = 8  // provider codes are short digit strings
	otherLabel          = "other"
	noCodeLabel         = "none"
)

// LatenessBuckets are the dispatch lateness histogram's upper bounds in
// seconds: from 50 ms (on time) to an hour (a long outage or backlog).
var LatenessBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// SendBuckets are the provider call duration histogram's upper bounds in
// seconds (SMTP and Twilio calls take from tens of milliseconds to the
// send timeout).
var SendBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Counter counts messages by status; *store.Store implements it.
type Counter interface {
	CountByStatus(ctx context.Context) (map[aftercare.Status]int, error)
}

// OptOutCounter counts opt-outs by channel and method; *store.Store
// implements it.
type OptOutCounter interface {
	CountOptOuts(ctx context.Context) ([]store.OptOutCount, error)
}

// Options configure New. All are optional.
type Options struct {
	// OptOuts is queried at scrape time for the opt-outs recorded;
	// without it the opt-out counter is absent.
	OptOuts OptOutCounter
	// Outbox is queried at scrape time for the number of messages in each
	// status; without it the outbox gauge is absent.
	Outbox Counter
	// CountTimeout bounds that query (default 2s).
	CountTimeout time.Duration
	// LastDispatch returns when the dispatcher last completed a pass
	// without a store error (scheduler.Dispatcher.LastRun); zero if never.
	LastDispatch func() time.Time
	// Log receives errors met while collecting; default discards.
	Log *slog.Logger
}

// Metrics holds aftercare's collectors and their registry.
type Metrics struct {
	reg        *prometheus.Registry
	log        *slog.Logger
	handled    *prometheus.CounterVec
	sendDur    *prometheus.HistogramVec
	lateness   *prometheus.HistogramVec
	provErrs   *prometheus.CounterVec
	rejections *prometheus.CounterVec
	receipts   *prometheus.CounterVec
	undeliv    prometheus.Counter
	enrolled   *prometheus.CounterVec
	checkIns   *prometheus.CounterVec
	clicks     prometheus.Counter
	bookings   *prometheus.CounterVec
	// Free-form label values seen, capped at maxLabelValues each.
	treatments, outcomes, events *labelSet
}

// New builds the metrics and registers them, with the Go runtime and
// process collectors, on a registry of their own.
func New(o Options) *Metrics {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.CountTimeout <= 0 {
		o.CountTimeout = defaultCountTimeout
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: o.Log,
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MessagesHandled,
			Help: "Claimed messages handled by the dispatcher, by channel and outcome (sent, failed, retry, skipped, deferred).",
		}, []string{"channel", "outcome"}),
		sendDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    SendDuration,
			Help:    "Duration of provider send calls, by channel.",
			Buckets: SendBuckets,
		}, []string{"channel"}),
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    DispatchLateness,
			Help:    "How long after its planned send time a message was handed to the provider, by channel.",
			Buckets: LatenessBuckets,
		}, []string{"channel"}),
		provErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ProviderErrors,
			Help: "Failed provider calls (retried or final), by channel and provider error code (none when the provider gave no code).",
		}, []string{"channel", "code"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: WebhookRejections,
			Help: "Webhook requests refused, by endpoint and reason.",
		}, []string{"endpoint", "reason"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Receipts,
			Help: "Delivery receipts received (provider retries included), by the status they report: delivered, failed, sent (intermediate states), cancelled, unknown.",
		}, []string{"status"}),
		undeliv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: AlertsUndeliverable,
			Help: "Red-flag alerts that no route (alert email, on-call text) could deliver to clinic staff.",
		}),
		enrolled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: Enrollments,
			Help: "Enrollments created, by treatment (lower-case; other past 50 treatments) and source (api, console, booking_webhook).",
		}, []string{"treatment", "source"}),
		checkIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: CheckInAnswers,
			Help: "Answers to check-in questions, by outcome.",
		}, []string{"outcome"}),
		clicks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: BookingLinkClicks,
			Help: "Visits of the signed booking-link redirect.",
		}),
		bookings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: BookingEvents,
			Help: "Booking-system webhook events accepted, by event type.",
		}, []string{"event"}),
		treatments: newLabelSet(), outcomes: newLabelSet(), events: newLabelSet(),
	}
	m.reg.MustRegister(m.undeliv, m.enrolled, m.checkIns, m.clicks, m.bookings,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.handled, m.sendDur, m.lateness, m.provErrs, m.rejections, m.receipts,
	)
	// Pre-create the series dashboards and alerts look for, so they read 0
	// rather than "no data" before the first message.
	for _, ch := range []aftercare.Channel{aftercare.SMS, aftercare.Email} {
		for _, k := range []store.OutcomeKind{store.OutcomeSent, store.OutcomeFailed, store.OutcomeRetry, store.OutcomeSkipped, store.OutcomeDeferred} {
			m.handled.WithLabelValues(string(ch), string(k))
		}
		m.sendDur.WithLabelValues(string(ch))
		m.lateness.WithLabelValues(string(ch))
	}
	for _, st := range []aftercare.Status{aftercare.StatusDelivered, aftercare.StatusFailed} {
		m.receipts.WithLabelValues(string(st))
	}
	if o.Outbox != nil {
		m.reg.MustRegister(newOutboxCollector(o.Outbox, o.CountTimeout, o.Log))
	}
	if o.OptOuts != nil {
		m.reg.MustRegister(newOptOutCollector(o.OptOuts, o.CountTimeout, o.Log))
	}
	if o.LastDispatch != nil {
		last := o.LastDispatch
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: DispatchLastSuccess,
			Help: "Unix time of the dispatcher's last pass that completed without a store error (0 if none yet).",
		}, func() float64 {
			t := last()
			if t.IsZero() {
				return 0
			}
			return float64(t.UnixNano()) / 1e9
		}))
	}
	return m
}

// AlertUndeliverable counts a red-flag alert that reached no one at the
// clinic. The clinic is not a label: the log line and the console banner
// name it.
func (m *Metrics) AlertUndeliverable(clinicID int64) { m.undeliv.Inc() }

// Enrolled counts an enrollment created for treatment from source (api,
// console, booking_webhook). Treatments are lower-cased; past 50 distinct
// ones, or an odd value, the label is "other". Neither patient nor clinic
// is a label.
func (m *Metrics) Enrolled(treatment, source string) {
	m.enrolled.WithLabelValues(m.treatments.label(strings.ToLower(strings.TrimSpace(treatment))), boundedLabel(source)).Inc()
}

// CheckInAnswered counts a patient's answer to a check-in question by
// its outcome (a short word such as healing, not_healing, red_flag,
// free_text, expired).
func (m *Metrics) CheckInAnswered(outcome string) {
	m.checkIns.WithLabelValues(m.outcomes.label(outcome)).Inc()
}

// BookingLinkClicked counts a visit of the signed booking redirect.
func (m *Metrics) BookingLinkClicked() { m.clicks.Inc() }

// BookingEvent counts an accepted booking webhook event by its type
// (completed, booked, cancelled).
func (m *Metrics) BookingEvent(event string) {
	m.bookings.WithLabelValues(m.events.label(event)).Inc()
}

// Registry returns the registry, to register more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition formats. A
// collector that fails is logged and left out; the rest are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slogErrorLog{m.log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Handled records one dispatcher outcome; it implements
// scheduler.Observer. sendLatency is observed when a provider was called,
// lateness for sent messages, and an error code for failed and retried
// ones (both come from a provider error).
func (m *Metrics) Handled(ch aftercare.Channel, kind store.OutcomeKind, code string, sendLatency, lateness time.Duration) {
	c := channelLabel(ch)
	m.handled.WithLabelValues(c, outcomeLabel(kind)).Inc()
	if sendLatency > 0 {
		m.sendDur.WithLabelValues(c).Observe(sendLatency.Seconds())
	}
	switch kind {
	case store.OutcomeSent:
		if lateness < 0 {
			lateness = 0
		}
		m.lateness.WithLabelValues(c).Observe(lateness.Seconds())
	case store.OutcomeFailed, store.OutcomeRetry:
		m.provErrs.WithLabelValues(c, codeLabel(code)).Inc()
	}
}

// WebhookRejected counts a refused webhook. endpoint and reason should be
// short fixed strings; longer or odd ones are folded into "other" so a
// caller's mistake cannot explode the series count.
func (m *Metrics) WebhookRejected(endpoint, reason string) {
	m.rejections.WithLabelValues(boundedLabel(endpoint), boundedLabel(reason)).Inc()
}

// Receipt counts a delivery receipt by the aftercare status it reports.
func (m *Metrics) Receipt(status string) {
	switch aftercare.Status(status) {
	case aftercare.StatusDelivered, aftercare.StatusFailed, aftercare.StatusSent, aftercare.StatusCancelled:
	default:
		status = "unknown"
	}
	m.receipts.WithLabelValues(status).Inc()
}

func channelLabel(ch aftercare.Channel) string {
	if ch.Valid() {
		return string(ch)
	}
	return otherLabel
}

func outcomeLabel(k store.OutcomeKind) string {
	switch k {
	case store.OutcomeSent, store.OutcomeFailed, store.OutcomeRetry, store.OutcomeSkipped, store.OutcomeDeferred:
		return string(k)
	}
	return otherLabel
}

// codeLabel keeps provider codes (Twilio's 5-digit codes, SMTP's 3-digit
// replies) and folds anything else into "other".
func codeLabel(code string) string {
	if code == "" {
		return noCodeLabel
	}
	if len(code) > maxCodeLength {
		return otherLabel
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return otherLabel
		}
	}
	return code
}

// boundedLabel passes short printable ASCII through and folds anything
// else into "other".
func boundedLabel(s string) string {
	if s == "" || len(s) > maxLabelLength {
		return otherLabel
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return otherLabel
		}
	}
	return s
}

// labelSet admits up to maxLabelValues distinct label values of a
// free-form label, each short and of lower-case ASCII letters, digits,
// spaces, '_', '-' and '.'; anything else is "other".
type labelSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func newLabelSet() *labelSet { return &labelSet{seen: map[string]bool{}} }

func (l *labelSet) label(v string) string {
	v = strings.ToLower(v)
	if v == "" || len(v) > maxLabelLength || strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ' ' || r == '_' || r == '-' || r == '.')
	}) {
		return otherLabel
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.seen[v] {
		if len(l.seen) >= maxLabelValues {
			return otherLabel
		}
		l.seen[v] = true
	}
	return v
}

// optOutCollector reports the opt-outs recorded, counted when scraped.
type optOutCollector struct {
	counter OptOutCounter
	timeout time.Duration
	log     *slog.Logger
	desc    *prometheus.Desc
}

func newOptOutCollector(c OptOutCounter, timeout time.Duration, log *slog.Logger) *optOutCollector {
	return &optOutCollector{counter: c, timeout: timeout, log: log,
		desc: prometheus.NewDesc(OptOuts, "Opt-outs patients made themselves, by channel and method (sms_reply, unsubscribe_link, provider), counted in the database at scrape time.",
			[]string{"channel", "method"}, nil)}
}

func (c *optOutCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *optOutCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.counter.CountOptOuts(ctx)
	if err != nil {
		c.log.Warn("metrics: count opt-outs", "err", err)
		return
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n.Count),
			channelLabel(n.Channel), boundedLabel(string(n.Method)))
	}
}

// outboxCollector reports the number of messages in each status, counted
// when scraped.
type outboxCollector struct {
	counter Counter
	timeout time.Duration
	log     *slog.Logger
	desc    *prometheus.Desc
	errs    prometheus.Counter
}

func newOutboxCollector(c Counter, timeout time.Duration, log *slog.Logger) *outboxCollector {
	return &outboxCollector{
		counter: c, timeout: timeout, log: log,
		desc: prometheus.NewDesc(OutboxMessages, "Messages in the outbox by status, counted at scrape time.", []string{"status"}, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: OutboxCountErrors,
			Help: "Scrapes whose outbox count failed or timed out (the outbox gauge is absent from those scrapes).",
		}),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	c.errs.Describe(ch)
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	counts, err := c.counter.CountByStatus(ctx)
	if err != nil {
		c.errs.Inc()
		c.log.Warn("metrics: count outbox messages", "err", err)
	} else {
		for _, st := range aftercare.Statuses {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[st]), string(st))
		}
	}
	c.errs.Collect(ch)
}

// slogErrorLog adapts slog to promhttp's error logger.
type slogErrorLog struct{ l *slog.Logger }

func (s slogErrorLog) Println(v ...any) {
	s.l.Warn("metrics: serve", "err", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
