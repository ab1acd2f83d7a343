// Package twilio delivers aftercare SMS through Twilio's Programmable
// Messaging API and classifies Twilio's failures for the dispatcher.
//
// It uses twilio-go's client and rest/api/v2010 packages (not the root
// package, which compiles about seventy services). twilio-go has no
// context-aware calls and builds every request with context.Background(), so
// each Send, Find or Fetch builds a throwaway twilio-go client around a
// per-call http.RoundTripper that replaces the request's context with the
// caller's, bounded by Config.Timeout per HTTP request. The same RoundTripper
// rewrites the host for Config.BaseURL, remembers the status and Retry-After
// header that twilio-go's error values hide, and notes whether a connection
// was obtained, so Classify can tell "never sent" from "may have been sent".
//
// The package does not log; errors carry no phone numbers, bodies or secrets
// in their Reason.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultTimeout bounds each HTTP request to Twilio when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Twilio's limits on ValidityPeriod, in seconds.
const (
	minValidity = 1
	maxValidity = 36000
)

// findSkew is how far before `since` a message Twilio created still counts
// as ours in Find, to absorb clock differences between us and Twilio.
const findSkew = 2 * time.Minute

// Config configures a Sender.
type Config struct {
	// AccountSID (AC…) is always required; paths are built from it.
	AccountSID string
	// AuthToken authenticates, unless APIKey and APISecret are set.
	AuthToken string
	// APIKey (SK…) and APISecret authenticate instead of the auth token.
	APIKey, APISecret string
	// From is the default sender (E.164 number, short code or alphanumeric
	// sender ID), used when the clinic has no sender of its own.
	From string
	// MessagingServiceSID (MG…) is the default Messaging Service; it
	// overrides From when set.
	MessagingServiceSID string
	// BaseURL replaces scheme and host of every request ("" means Twilio's
	// own https://api.twilio.com). A path in it is prefixed to each request
	// path. For loopback fakes such as twiliotest.
	BaseURL string
	// StatusCallbackURL is the public URL Twilio posts delivery receipts to.
	StatusCallbackURL string
	// Timeout bounds each HTTP request (default 10s).
	Timeout time.Duration
	// HTTPClient optionally supplies the transport (its Transport field only;
	// its Timeout, redirect policy and jar are not used). Default
	// http.DefaultTransport.
	HTTPClient *http.Client
	// Clock tells the time for ValidityPeriod (default the wall clock).
	Clock aftercare.Clock
	// MaxConns sizes the connection pool when HTTPClient is nil: idle
	// connections kept to Twilio for reuse (default DefaultMaxConns).
	// http.DefaultTransport keeps two per host, so with a hundred sends
	// in flight nearly every request would open a new TLS connection.
	MaxConns int
}

// DefaultMaxConns is Twilio's default account concurrency: the most
// requests worth keeping in flight, and so connections worth keeping.
const DefaultMaxConns = 100

// NewTransport returns http.DefaultTransport's settings with an idle pool
// of maxConns connections to one host (Twilio's API), for as many sends
// in flight.
func NewTransport(maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxConns
	tr.MaxIdleConns = max(tr.MaxIdleConns, maxConns)
	return tr
}

// Sender sends SMS through Twilio. It implements notify.Sender and
// notify.Finder and is safe for concurrent use.
type Sender struct {
	cfg     Config
	user    string
	pass    string
	base    http.RoundTripper
	baseURL *url.URL
	timeout time.Duration
	clock   aftercare.Clock
}

var (
	_ notify.Sender = (*Sender)(nil)
	_ notify.Finder = (*Sender)(nil)
)

var (
	accountSIDRe = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	apiKeyRe     = regexp.MustCompile(`^SK[0-9a-fA-F]{32}$`)
	serviceSIDRe = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	secretRe     = regexp.MustCompile(`^[A-Za-z0-9]+$`) // twilio-go refuses anything else
	e164Re       = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	shortCodeRe  = regexp.MustCompile(`^[0-9]{3,8}$`)
	alphaIDRe    = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	lettersRe    = regexp.MustCompile(`[A-Za-z]`)
)

func validSender(from string) bool {
	return e164Re.MatchString(from) || shortCodeRe.MatchString(from) ||
		alphaIDRe.MatchString(from) && lettersRe.MatchString(from)
}

// New validates cfg and returns a Sender. Errors never quote secrets.
func New(cfg Config) (*Sender, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !accountSIDRe.MatchString(cfg.AccountSID) {
		bad("account SID must be AC followed by 32 hex digits")
	}
	user, pass := cfg.AccountSID, cfg.AuthToken
	switch {
	case cfg.APIKey != "" || cfg.APISecret != "":
		if !apiKeyRe.MatchString(cfg.APIKey) {
			bad("API key must be SK followed by 32 hex digits")
		}
		if !secretRe.MatchString(cfg.APISecret) {
			bad("API secret must be set and alphanumeric")
		}
		user, pass = cfg.APIKey, cfg.APISecret
	case !secretRe.MatchString(cfg.AuthToken):
		bad("auth token (or API key and secret) must be set and alphanumeric")
	}
	if cfg.From != "" && !validSender(cfg.From) {
		bad("from must be an E.164 number, a short code or an alphanumeric sender ID")
	}
	if cfg.MessagingServiceSID != "" && !serviceSIDRe.MatchString(cfg.MessagingServiceSID) {
		bad("messaging service SID must be MG followed by 32 hex digits")
	}
	var baseURL *url.URL
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("base URL must be an absolute http(s) URL without query")
		} else {
			baseURL = u
		}
	}
	if cfg.StatusCallbackURL != "" {
		u, err := url.Parse(cfg.StatusCallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("status callback URL must be an absolute http(s) URL")
		}
	}
	if cfg.Timeout < 0 {
		bad("timeout must not be negative")
	}
	if cfg.MaxConns < 0 {
		bad("max conns must not be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("twilio config: %w", err)
	}

	s := &Sender{
		cfg:     cfg,
		user:    user,
		pass:    pass,
		base:    NewTransport(cfg.MaxConns),
		baseURL: baseURL,
		timeout: cfg.Timeout,
		clock:   cfg.Clock,
	}
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		s.base = cfg.HTTPClient.Transport
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.clock == nil {
		s.clock = aftercare.SystemClock
	}
	return s, nil
}

// sender picks the sending identity: the clinic's own settings when it has
// any (its Messaging Service over its number), else the configured default.
func (s *Sender) sender(m notify.Message) (from, service string) {
	if m.MessagingServiceSID != "" || m.From != "" {
		if m.MessagingServiceSID != "" {
			return "", m.MessagingServiceSID
		}
		return m.From, ""
	}
	if s.cfg.MessagingServiceSID != "" {
		return "", s.cfg.MessagingServiceSID
	}
	return s.cfg.From, ""
}

// validityPeriod is the number of seconds until staleAt, clamped to
// Twilio's range; ok is false when the message is already stale.
func validityPeriod(now, staleAt time.Time) (seconds int, ok bool) {
	d := staleAt.Sub(now)
	if d <= 0 {
		return 0, false
	}
	secs := int64(d / time.Second) // round down: better dropped early than late
	return int(min(max(secs, minValidity), maxValidity)), true
}

// Send hands m to Twilio and returns the Message SID. Failures are
// *notify.Error values (see Classify). A message already stale fails
// permanently without calling Twilio; otherwise ValidityPeriod makes Twilio
// drop it if it is still queued when it goes stale (error 30036).
func (s *Sender) Send(ctx context.Context, m notify.Message) (string, error) {
	if m.Channel != "" && m.Channel != aftercare.SMS {
		return "", &notify.Error{Kind: notify.Permanent, Reason: fmt.Sprintf("Twilio sender cannot send %s messages", m.Channel)}
	}
	from, service := s.sender(m)
	if from == "" && service == "" {
		return "", &notify.Error{Kind: notify.Transient,
			Reason: "no SMS sender configured for this clinic (Twilio number or Messaging Service)"}
	}
	params := &api.CreateMessageParams{}
	params.SetTo(m.To)
	params.SetBody(m.Body)
	if service != "" {
		params.SetMessagingServiceSid(service)
	} else {
		params.SetFrom(from)
	}
	if s.cfg.StatusCallbackURL != "" {
		params.SetStatusCallback(s.cfg.StatusCallbackURL)
	}
	if !m.StaleAt.IsZero() {
		vp, ok := validityPeriod(s.clock.Now(), m.StaleAt)
		if !ok {
			return "", &notify.Error{Kind: notify.Permanent,
				Reason: "message went stale before it could be sent"}
		}
		params.SetValidityPeriod(vp)
	}

	var msg *api.ApiV2010Message
	err := s.do(ctx, func(svc *api.ApiService) error {
		var err error
		msg, err = svc.CreateMessage(params)
		return err
	})
	if err != nil {
		return "", err
	}
	if msg == nil || msg.Sid == nil || *msg.Sid == "" {
		return "", &notify.Error{Kind: notify.Ambiguous,
			Reason: "Twilio accepted the request but returned no message SID"}
	}
	return *msg.Sid, nil
}

// Find looks for m among the messages Twilio holds, for the dispatcher to
// call before re-sending after an ambiguous failure. It lists messages to
// m.To from the same sender (by From, or by Messaging Service when one is
// used), asks Twilio for those sent on or after since's GMT day (Twilio's
// DateSent filter is documented by day), then keeps outbound messages
// created no earlier than since minus two minutes of clock skew whose body
// equals m.Body. It returns the newest match's SID, or "" if none.
func (s *Sender) Find(ctx context.Context, m notify.Message, since time.Time) (string, error) {
	if m.To == "" {
		return "", &notify.Error{Kind: notify.Permanent, Reason: "message has no recipient"}
	}
	from, service := s.sender(m)
	params := &api.ListMessageParams{}
	params.SetTo(m.To)
	if service == "" && from != "" {
		params.SetFrom(from)
	}
	// No DateSent filter: a message Twilio accepted but still holds as
	// queued has no date_sent yet, and it is exactly the one we must not
	// send twice. Twilio lists newest first; the date_created check below
	// bounds the match to this attempt's window.
	params.SetPageSize(100)
	params.SetLimit(500) // a patient gets a handful of texts a day; this is plenty

	var list []api.ApiV2010Message
	err := s.do(ctx, func(svc *api.ApiService) error {
		var err error
		list, err = svc.ListMessage(params)
		return err
	})
	if err != nil {
		return "", err
	}
	for _, msg := range list {
		if msg.Sid == nil || deref(msg.To) != m.To || deref(msg.Body) != m.Body {
			continue
		}
		if d := deref(msg.Direction); d != "" && !strings.HasPrefix(d, "outbound") {
			continue
		}
		if service != "" && deref(msg.MessagingServiceSid) != service {
			continue
		}
		if service == "" && from != "" && deref(msg.From) != from {
			continue
		}
		if !since.IsZero() {
			if created, err := time.Parse(time.RFC1123Z, deref(msg.DateCreated)); err == nil && created.Before(since.Add(-findSkew)) {
				continue
			}
		}
		return *msg.Sid, nil
	}
	return "", nil
}

// Status is what Twilio currently says about a message.
type Status struct {
	Status       string // queued, accepted, sending, sent, delivered, undelivered, failed, read, canceled, …
	ErrorCode    int    // 0 if none
	ErrorMessage string
}

// Fetch returns the current status of a message, for the job that
// reconciles messages whose receipts never arrived. A message Twilio does
// not know (20404) is a permanent error; other failures are classified as
// by Classify.
func (s *Sender) Fetch(ctx context.Context, sid string) (Status, error) {
	if !validMessageSID(sid) {
		return Status{}, &notify.Error{Kind: notify.Permanent, Reason: "not a Twilio message SID"}
	}
	var msg *api.ApiV2010Message
	err := s.do(ctx, func(svc *api.ApiService) error {
		var err error
		msg, err = svc.FetchMessage(sid, nil)
		return err
	})
	if err != nil {
		var ne *notify.Error
		if errors.As(err, &ne) && ne.Code == "20404" {
			return Status{}, &notify.Error{Kind: notify.Permanent, Code: ne.Code,
				Reason: "Twilio has no such message", Err: ne.Err}
		}
		return Status{}, err
	}
	st := Status{Status: deref(msg.Status), ErrorMessage: deref(msg.ErrorMessage)}
	if msg.ErrorCode != nil {
		st.ErrorCode = *msg.ErrorCode
	}
	return st, nil
}

var messageSIDRe = regexp.MustCompile(`^(SM|MM)[0-9a-fA-F]{32}$`)

func validMessageSID(sid string) bool { return messageSIDRe.MatchString(sid) }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// do runs one twilio-go call with a client built for it: credentials, the
// account SID, and an http.Client whose transport carries ctx. Errors come
// back classified.
func (s *Sender) do(ctx context.Context, call func(*api.ApiService) error) error {
	if err := ctx.Err(); err != nil {
		return &notify.Error{Kind: notify.Transient, Reason: "not sent: " + err.Error(), Err: err}
	}
	t := &callTransport{
		base:    s.base,
		ctx:     ctx,
		timeout: s.timeout,
		baseURL: s.baseURL,
		now:     s.clock.Now,
	}
	c := &client.Client{
		Credentials: client.NewCredentials(s.user, s.pass),
		HTTPClient: &http.Client{
			Transport: t,
			// As twilio-go's default client: never follow redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(s.cfg.AccountSID)
	// The handler is built by hand rather than by client.NewRequestHandler,
	// which reads TWILIO_EDGE and TWILIO_REGION from the environment: config
	// is a value.
	err := call(api.NewApiService(&client.RequestHandler{Client: c}))
	if err == nil {
		return nil
	}
	return Classify(t.wrap(err))
}
