// Package smtp delivers aftercare emails through an SMTP relay with
// go-mail: multipart text and HTML, attachments such as calendar invites, a
// stable Message-ID per outbox message, RFC 8058 one-click unsubscribe
// headers, and a small pool of connections reused across sends. Failures
// come back as *notify.Error, classified by Classify.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gmsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/aftercare/aftercare/notify"
)

// TLS modes of Config.TLS.
const (
	TLSNone     = "none"     // plain TCP; only for loopback hosts
	TLSStartTLS = "starttls" // STARTTLS is required (port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
)

// Defaults applied by New.
const (
	DefaultTimeout     = 15 * time.Second
	DefaultPoolSize    = 2
	DefaultIdleTimeout = 30 * time.Second
)

// Config says how to reach the SMTP relay.
type Config struct {
	Host string
	// Port defaults to 465 for "tls", 587 for "starttls" and 25 for "none".
	Port int
	// TLS is "none", "starttls" (the default) or "tls". "none" is only
	// allowed for loopback hosts.
	TLS string
	// Username and Password enable AUTH (PLAIN or LOGIN, as the server
	// offers).
	Username, Password string
	// From is the default sender, e.g. "Clinic <care@example.com>"; a
	// message's own From overrides it.
	From string
	// HeloName is sent with EHLO; defaults to the machine's host name.
	HeloName string
	// Timeout bounds dialing (connect, greeting, EHLO, STARTTLS, AUTH) and
	// each send on a connection; defaults to 15s.
	Timeout time.Duration
	// PoolSize is how many idle connections are kept for reuse; 0 means 2
	// and a negative value disables reuse.
	PoolSize int
	// IdleTimeout closes a pooled connection unused for this long; defaults
	// to 30s, below the 5 minutes servers must wait (RFC 5321 4.5.3.2.7).
	IdleTimeout time.Duration
	// TLSConfig optionally overrides the TLS client settings, e.g. to trust
	// a private CA. ServerName defaults to Host.
	TLSConfig *tls.Config
}

// Sender sends email through one SMTP relay. It is safe for concurrent use.
type Sender struct {
	cfg     Config
	from    *mail.Address // nil if Config.From is empty
	tls     *tls.Config
	options []gomail.Option

	mu     sync.Mutex
	idle   []*conn // most recently used last
	timer  *time.Timer
	closed bool
}

// conn is one connected SMTP session. Each has its own go-mail client, so
// per-session state (such as the AUTH exchange) is never shared.
type conn struct {
	client *gomail.Client
	smtp   *gmsmtp.Client
	raw    net.Conn
	since  time.Time // when it was last returned to the pool
}

// New validates cfg, applies defaults and returns a Sender. It does not
// connect; use Check for that.
func New(cfg Config) (*Sender, error) {
	cfg.Host = strings.TrimSpace(cfg.Host)
	if cfg.Host == "" {
		return nil, errors.New("smtp: host is required")
	}
	cfg.TLS = strings.ToLower(strings.TrimSpace(cfg.TLS))
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	switch cfg.TLS {
	case TLSNone:
		if !isLoopback(cfg.Host) {
			return nil, fmt.Errorf("smtp: tls %q is only allowed for a loopback host, not %q", TLSNone, cfg.Host)
		}
	case TLSStartTLS, TLSImplicit:
	default:
		return nil, fmt.Errorf("smtp: tls must be %q, %q or %q, not %q", TLSNone, TLSStartTLS, TLSImplicit, cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d out of range", cfg.Port)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("smtp: username and password go together")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	s := &Sender{cfg: cfg}
	if cfg.From != "" {
		from, err := mail.ParseAddress(cfg.From)
		if err != nil {
			return nil, fmt.Errorf("smtp: from %q: %w", cfg.From, err)
		}
		s.from = from
	}

	s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		s.tls = cfg.TLSConfig.Clone()
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = cfg.Host
	}
	s.options = []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(s.tls),
	}
	switch cfg.TLS {
	case TLSNone:
		s.options = append(s.options, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		s.options = append(s.options, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// Our dialer does the TLS handshake; WithSSL stops go-mail from
		// trying STARTTLS on top.
		s.options = append(s.options, gomail.WithSSL())
	}
	if cfg.HeloName != "" {
		s.options = append(s.options, gomail.WithHELO(cfg.HeloName))
	}
	if cfg.Username != "" {
		plain, login := gomail.SMTPAuthPlain, gomail.SMTPAuthLogin
		if cfg.TLS == TLSNone {
			plain, login = gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc
		}
		s.options = append(s.options,
			gomail.WithOpportunisticSMTPAuth(plain, login),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password))
	}
	// Fail on a bad option now rather than at the first send.
	if _, err := gomail.NewClient(cfg.Host, s.options...); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return s, nil
}

// Check dials the relay as Send would (connect, EHLO, STARTTLS or TLS, AUTH
// if configured) and says goodbye with QUIT. It is for `aftercare check`.
func (s *Sender) Check(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("smtp check: %w", Classify(err))
	}
	if err := s.quit(c); err != nil {
		return fmt.Errorf("smtp check: quit: %w", Classify(&opError{op: opDial, err: err}))
	}
	return nil
}

// Close closes the pooled connections. Sends in flight finish, but their
// connections are closed instead of pooled. A closed Sender cannot send.
func (s *Sender) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	var errs []error
	for _, c := range idle {
		if err := s.quit(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close smtp connections: %w", err)
	}
	return nil
}

var errClosed = errors.New("smtp: sender closed")

// get returns a pooled connection (reused = true) or dials a new one.
func (s *Sender) get(ctx context.Context) (c *conn, reused bool, err error) {
	var expired []*conn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, errClosed
	}
	now := time.Now()
	for len(s.idle) > 0 && c == nil {
		last := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if now.Sub(last.since) >= s.cfg.IdleTimeout {
			expired = append(expired, last)
			continue
		}
		c = last
	}
	s.mu.Unlock()
	for _, e := range expired {
		drop(e) // no QUIT: do not make this send wait on a connection the server may have dropped
	}
	if c != nil {
		return c, true, nil
	}
	c, err = s.dial(ctx)
	return c, false, err
}

// put returns a healthy connection to the pool, or closes it if the pool is
// full or the Sender closed.
func (s *Sender) put(c *conn) {
	s.mu.Lock()
	if s.closed || len(s.idle) >= s.cfg.PoolSize {
		s.mu.Unlock()
		_ = s.quit(c)
		return
	}
	c.since = time.Now()
	s.idle = append(s.idle, c)
	if s.timer == nil {
		s.timer = time.AfterFunc(s.cfg.IdleTimeout, s.sweep)
	}
	s.mu.Unlock()
}

// sweep closes connections idle for IdleTimeout and re-arms itself while
// any remain.
func (s *Sender) sweep() {
	var expired []*conn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	now := time.Now()
	keep := s.idle[:0]
	for _, c := range s.idle {
		if now.Sub(c.since) >= s.cfg.IdleTimeout {
			expired = append(expired, c)
		} else {
			keep = append(keep, c)
		}
	}
	clear(s.idle[len(keep):])
	s.idle = keep
	s.timer = nil
	if len(keep) > 0 {
		s.timer = time.AfterFunc(s.cfg.IdleTimeout-now.Sub(keep[0].since), s.sweep)
	}
	s.mu.Unlock()
	for _, c := range expired {
		_ = s.quit(c)
	}
}

// quit says QUIT on c, waiting a short while for the reply, and closes it.
func (s *Sender) quit(c *conn) error {
	_ = c.smtp.UpdateDeadline(min(s.cfg.Timeout, 2*time.Second))
	err := c.smtp.Quit()
	_ = c.raw.Close()
	return err
}

// drop closes c without ceremony: after an error its state is unknown.
func drop(c *conn) { _ = c.raw.Close() }

// dial connects, greets, secures and authenticates a new session. The
// whole exchange, not only the TCP connect, ends when ctx does.
func (s *Sender) dial(ctx context.Context) (*conn, error) {
	var (
		mu      sync.Mutex
		raw     net.Conn
		aborted bool
	)
	dialer := func(dctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{}
		var (
			c   net.Conn
			err error
		)
		if s.cfg.TLS == TLSImplicit {
			c, err = (&tls.Dialer{NetDialer: nd, Config: s.tls}).DialContext(dctx, network, addr)
		} else {
			c, err = nd.DialContext(dctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if aborted {
			_ = c.Close()
			return nil, context.Cause(ctx)
		}
		raw = c
		return c, nil
	}
	opts := append(slices.Clip(s.options), gomail.WithDialContextFunc(dialer)) // never share the backing array
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, &opError{op: opDial, err: err}
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		aborted = true
		if raw != nil {
			_ = raw.Close()
		}
	})
	sc, err := client.DialToSMTPClientWithContext(ctx)
	stopped := stop()
	mu.Lock()
	c := raw
	mu.Unlock()
	if err == nil && !stopped {
		err = context.Cause(ctx) // ctx ended just as the dial succeeded
	}
	if err != nil {
		if c != nil {
			_ = c.Close() // go-mail leaves the connection open when EHLO or AUTH fail
		}
		if ctx.Err() != nil {
			err = errors.Join(context.Cause(ctx), err)
		}
		return nil, &opError{op: opDial, err: err}
	}
	return &conn{client: client, smtp: sc, raw: c}, nil
}

// Send delivers m as an email and returns its Message-ID, which is derived
// from m.ID and so the same on every attempt (random if m.ID is zero: not
// an outbox message). It returns once the server has accepted the message
// with its reply to the final ".". A pooled connection that has
// gone stale is replaced transparently; any other failure drops the
// connection and is returned as a *notify.Error (see Classify).
func (s *Sender) Send(ctx context.Context, m notify.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", Classify(&opError{op: opDial, err: context.Cause(ctx)})
	}
	msg, id, err := s.build(m)
	if err != nil {
		return "", err
	}
	for {
		c, reused, err := s.get(ctx)
		if err != nil {
			return "", Classify(err)
		}
		err = s.sendOn(ctx, c, msg)
		if err == nil {
			s.put(c)
			return id, nil
		}
		drop(c)
		if msg.IsDelivered() {
			// The server accepted the data; only the RSET after it failed.
			return id, nil
		}
		if reused && isStale(err) {
			continue // nothing was sent on the stale connection
		}
		if ctx.Err() != nil {
			err = &opError{op: opSend, err: errors.Join(context.Cause(ctx), err)}
		}
		return "", Classify(err)
	}
}

// sendOn sends msg on c. If ctx ends meanwhile, the connection is closed
// under the exchange, which then fails.
func (s *Sender) sendOn(ctx context.Context, c *conn, msg *gomail.Msg) error {
	stop := context.AfterFunc(ctx, func() { _ = c.raw.Close() })
	err := c.client.SendWithSMTPClient(c.smtp, msg)
	if !stop() && err == nil {
		// Delivered, but ctx ended at the same moment and closed the
		// connection: it must not go back to the pool.
		return errClosedByContext
	}
	return err
}

var errClosedByContext = errors.New("smtp: connection closed as the context ended")

// isStale reports whether err says a pooled connection was dead before
// anything of the message was sent (go-mail's NOOP check failed).
func isStale(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrConnCheck
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
