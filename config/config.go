// Package config loads aftercare's settings: a YAML file (optional) with
// environment overrides, secrets from the environment or *_FILE variables,
// validated once at start. Unknown keys are errors.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration. The zero value plus Defaults() runs.
type Config struct {
	// DB names the database: a SQLite file path (or "sqlite:PATH"), or a
	// PostgreSQL DSN ("postgres://user@host:5432/db?sslmode=…") for
	// several replicas on one server. A password is better given through
	// PGPASSWORD or ~/.pgpass than in the DSN.
	DB string `yaml:"db"`
	// Listen is the HTTP address.
	Listen string `yaml:"listen"`
	// PublicURL is the base of webhook and unsubscribe links as the outside
	// world reaches this daemon.
	PublicURL string `yaml:"public_url"`
	// Protocol is a clinic's own protocol YAML; empty uses the embedded one.
	// It joins the library like a file of ProtocolsDir (same treatment,
	// language and version as an embedded protocol: it replaces that one).
	Protocol string `yaml:"protocol"`
	// ProtocolsDir holds more protocol files (*.yaml), one per treatment,
	// language and version, on top of the embedded ones (microneedling in
	// English and Spanish).
	ProtocolsDir string `yaml:"protocols_dir"`
	// Secret signs unsubscribe links; empty means one generated and kept in
	// the database.
	Secret     string     `yaml:"secret"`
	QuietHours QuietHours `yaml:"quiet_hours"`
	Log        Log        `yaml:"log"`
	Console    Console    `yaml:"console"`
	Dispatch   Dispatch   `yaml:"dispatch"`
	Twilio     Twilio     `yaml:"twilio"`
	SMTP       SMTP       `yaml:"smtp"`
	SMS        SMS        `yaml:"sms"`
	Web        Web        `yaml:"web"`
	Metrics    Metrics    `yaml:"metrics"`
	Privacy    Privacy    `yaml:"privacy"`
	// SMSSegmentPrice is what one SMS segment costs, in US dollars, for
	// the console's estimate of a protocol's monthly text cost. The
	// default, 0.0083, is Twilio's US list price when this was written:
	// the operator should set what their account actually pays
	// (AFTERCARE_SMS_SEGMENT_PRICE). It changes no sending.
	SMSSegmentPrice float64 `yaml:"sms_segment_price"`
}

// DefaultSMSSegmentPrice is SMSSegmentPrice when the operator sets none:
// a US list price in dollars, not a quote.
const DefaultSMSSegmentPrice = 0.0083

// Privacy sets how long aftercare keeps what it holds about patients.
type Privacy struct {
	// AuditRetention is how many days audit rows are kept (default 2190:
	// six years, HIPAA's documentation period). 0 keeps them forever.
	AuditRetention int `yaml:"audit_retention"`
	// BodyRetentionDays is how many days after an enrollment ends its
	// message bodies and its patient's reply texts are purged, leaving the
	// delivery log's metadata (default 400). 0 keeps them forever.
	BodyRetentionDays int `yaml:"body_retention_days"`
}

// Web configures the web console's sign-in.
type Web struct {
	// TrustedProxyHeader names the header in which the reverse proxy in
	// front of the daemon passes the client's address (e.g.
	// X-Forwarded-For, X-Real-IP). Sign-in limits count per client address;
	// set this only when every request comes through that proxy (else
	// clients could name their own address). Empty: the connection's
	// address.
	TrustedProxyHeader string `yaml:"trusted_proxy_header"`
	// SessionIdle ends a console session unused this long (default 30m).
	SessionIdle time.Duration `yaml:"session_idle"`
	// SessionLifetime ends a console session this long after sign-in,
	// however busy (default 12h).
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// PasswordResetTTL is how long a "forgot password" link works (default
	// 30m, at most 24h).
	PasswordResetTTL time.Duration `yaml:"password_reset_ttl"`
}

// Metrics configures GET /metrics.
type Metrics struct {
	// Listen, if set, serves /metrics on this address only (e.g.
	// 127.0.0.1:9090 for a local Prometheus), not on the main listener.
	Listen string `yaml:"listen"`
	// Token, if set, is required as "Authorization: Bearer TOKEN" on
	// /metrics wherever it is served.
	Token string `yaml:"token"`
}

// SMS tunes how aftercare answers patients' texts.
type SMS struct {
	// OptOutConfirmation sends the one text the FCC rule allows after an
	// opt-out ("you will get no more texts"). Turn it off (false) when
	// Twilio Advanced Opt-Out already sends one. Default true.
	OptOutConfirmation *bool `yaml:"opt_out_confirmation"`
}

// ConfirmOptOut reports whether aftercare sends the opt-out confirmation.
func (s SMS) ConfirmOptOut() bool { return s.OptOutConfirmation == nil || *s.OptOutConfirmation }

// QuietHours is the local-time window in which no SMS goes out.
type QuietHours struct {
	Start string `yaml:"start"` // "21:00"
	End   string `yaml:"end"`   // "08:00"
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (JSON unless a terminal), json, text
}

// Console configures the log notifier used when no provider is set.
type Console struct {
	File   string `yaml:"file"`   // "" = stdout; else a file appended to
	Format string `yaml:"format"` // text or json (JSON lines)
}

// Dispatch tunes delivery.
type Dispatch struct {
	Tick         string        `yaml:"tick"`         // cron spec of the dispatcher, default "@every 1s"
	Housekeeping string        `yaml:"housekeeping"` // cron spec of lease recovery and stale skipping
	BatchSize    int           `yaml:"batch_size"`
	Concurrency  int           `yaml:"concurrency"`
	Lease        time.Duration `yaml:"lease"`
	SendTimeout  time.Duration `yaml:"send_timeout"`
	// SMSRate caps texts/s across the whole Twilio account, 0 = no cap
	// (the default: Twilio queues each sender's texts itself).
	SMSRate float64 `yaml:"sms_rate"`
	// EmailRate caps emails/s through the SMTP account, 0 = no cap.
	EmailRate float64 `yaml:"email_rate"`
	// EmailConcurrency caps emails in flight (SMTP connections); it is
	// also the most emails a crash can send twice. 0 (the default) means
	// 16, or concurrency if that is smaller.
	EmailConcurrency int `yaml:"email_concurrency"`
	// SenderRate is each SMS sender's texts/s (a clinic's number or
	// Messaging Service, or the default from), 0 = no cap (the default).
	SenderRate float64 `yaml:"sender_rate"`
	// Senders override the limits of single senders, keyed by the E.164
	// number, short code, alphanumeric ID or Messaging Service SID (MG…)
	// a clinic sends from.
	Senders map[string]SenderLimit `yaml:"senders"`
}

// SenderLimit limits one sender.
type SenderLimit struct {
	Rate        float64 `yaml:"rate"`        // texts/s, 0 = no cap
	Concurrency int     `yaml:"concurrency"` // sends in flight, 0 = only the account's cap
}

// Twilio holds SMS provider settings.
type Twilio struct {
	AccountSID          string        `yaml:"account_sid"`
	AuthToken           string        `yaml:"auth_token"`
	APIKey              string        `yaml:"api_key"`
	APISecret           string        `yaml:"api_secret"`
	From                string        `yaml:"from"`
	MessagingServiceSID string        `yaml:"messaging_service_sid"`
	BaseURL             string        `yaml:"base_url"`
	Timeout             time.Duration `yaml:"timeout"`
}

// Enabled reports whether Twilio is configured.
func (t Twilio) Enabled() bool { return t.AccountSID != "" }

// SMTP holds email provider settings.
type SMTP struct {
	Host     string        `yaml:"host"`
	Port     int           `yaml:"port"`
	TLS      string        `yaml:"tls"` // none, starttls, tls
	Username string        `yaml:"username"`
	Password string        `yaml:"password"`
	From     string        `yaml:"from"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Enabled reports whether SMTP is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

// Default returns the embedded defaults: a SQLite file in the working
// directory, loopback HTTP, console notifier.
func Default() *Config {
	return &Config{
		DB:         "aftercare.db",
		Listen:     "127.0.0.1:8080",
		QuietHours: QuietHours{Start: "21:00", End: "08:00"},
		Log:        Log{Level: "info", Format: "auto"},
		Console:    Console{Format: "text"},
		Dispatch: Dispatch{
			Tick: "@every 1s", Housekeeping: "@every 15s",
			BatchSize: 500, Concurrency: 100, Lease: 2 * time.Minute, SendTimeout: 30 * time.Second,
			SMSRate: 0, EmailRate: 10,
		},
		SMTP:            SMTP{Port: 587, TLS: "starttls", Timeout: 15 * time.Second},
		Twilio:          Twilio{Timeout: 10 * time.Second},
		Web:             Web{SessionIdle: 30 * time.Minute, SessionLifetime: 12 * time.Hour, PasswordResetTTL: 30 * time.Minute},
		Privacy:         Privacy{AuditRetention: 2190, BodyRetentionDays: 400},
		SMSSegmentPrice: DefaultSMSSegmentPrice,
	}
}

// Load reads the YAML file at path (if path is not empty), applies the
// environment (getenv, usually os.Getenv) and validates the result.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := Parse(data, c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes YAML into c, rejecting unknown keys.
func Parse(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse yaml: %w", err)
	}
	return nil
}

// envVar binds an environment variable to a setting.
type envVar struct {
	name   string
	secret bool // also read NAME_FILE
	set    func(string) error
}

func str(p *string) func(string) error { return func(v string) error { *p = v; return nil } }

func duration(p *time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration like 30m or 12h: %q", v)
		}
		*p = d
		return nil
	}
}

func (c *Config) env() []envVar {
	return []envVar{
		{"AFTERCARE_DB", true, str(&c.DB)}, // a DSN may hold a password: AFTERCARE_DB_FILE
		{"AFTERCARE_LISTEN", false, str(&c.Listen)},
		{"AFTERCARE_PUBLIC_URL", false, str(&c.PublicURL)},
		{"AFTERCARE_PROTOCOL", false, str(&c.Protocol)},
		{"AFTERCARE_PROTOCOLS_DIR", false, str(&c.ProtocolsDir)},
		{"AFTERCARE_SECRET", true, str(&c.Secret)},
		{"AFTERCARE_LOG_LEVEL", false, str(&c.Log.Level)},
		{"AFTERCARE_LOG_FORMAT", false, str(&c.Log.Format)},
		{"AFTERCARE_CONSOLE_FILE", false, str(&c.Console.File)},
		{"TWILIO_ACCOUNT_SID", false, str(&c.Twilio.AccountSID)},
		{"TWILIO_AUTH_TOKEN", true, str(&c.Twilio.AuthToken)},
		{"TWILIO_API_KEY", false, str(&c.Twilio.APIKey)},
		{"TWILIO_API_SECRET", true, str(&c.Twilio.APISecret)},
		{"TWILIO_FROM", false, str(&c.Twilio.From)},
		{"TWILIO_MESSAGING_SERVICE_SID", false, str(&c.Twilio.MessagingServiceSID)},
		{"TWILIO_BASE_URL", false, str(&c.Twilio.BaseURL)},
		{"AFTERCARE_PASSWORD_RESET_TTL", false, func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("not a duration like 30m: %q", v)
			}
			c.Web.PasswordResetTTL = d
			return nil
		}},
		{"SMTP_HOST", false, str(&c.SMTP.Host)},
		{"SMTP_PORT", false, func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("not a port number: %q", v)
			}
			c.SMTP.Port = n
			return nil
		}},
		{"SMTP_TLS", false, str(&c.SMTP.TLS)},
		{"SMTP_USERNAME", false, str(&c.SMTP.Username)},
		{"SMTP_PASSWORD", true, str(&c.SMTP.Password)},
		{"SMTP_FROM", false, str(&c.SMTP.From)},
		{"AFTERCARE_SMS_OPT_OUT_CONFIRMATION", false, func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("not true or false: %q", v)
			}
			c.SMS.OptOutConfirmation = &b
			return nil
		}},
		{"AFTERCARE_TRUSTED_PROXY_HEADER", false, str(&c.Web.TrustedProxyHeader)},
		{"AFTERCARE_SESSION_IDLE", false, duration(&c.Web.SessionIdle)},
		{"AFTERCARE_SESSION_LIFETIME", false, duration(&c.Web.SessionLifetime)},
		{"AFTERCARE_METRICS_LISTEN", false, str(&c.Metrics.Listen)},
		{"AFTERCARE_METRICS_TOKEN", true, str(&c.Metrics.Token)},
		{"AFTERCARE_SMS_SEGMENT_PRICE", false, func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("not a price in dollars like 0.0083: %q", v)
			}
			c.SMSSegmentPrice = f
			return nil
		}},
	}
}

// EnvNames lists the environment variables Load reads (secrets also as
// NAME_FILE), for documentation and `aftercare check`.
func EnvNames() []string {
	var out []string
	for _, e := range (&Config{}).env() {
		out = append(out, e.name)
		if e.secret {
			out = append(out, e.name+"_FILE")
		}
	}
	return out
}

func (c *Config) applyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	for _, e := range c.env() {
		v := getenv(e.name)
		if e.secret {
			if f := getenv(e.name + "_FILE"); f != "" {
				if v != "" {
					return fmt.Errorf("config: both %s and %s_FILE are set; use one", e.name, e.name)
				}
				data, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("config: read %s_FILE: %w", e.name, err)
				}
				v = strings.TrimSpace(string(data))
				if v == "" {
					return fmt.Errorf("config: %s_FILE names an empty file", e.name)
				}
			}
		}
		if v == "" {
			continue
		}
		if err := e.set(v); err != nil {
			return fmt.Errorf("config: %s: %w", e.name, err)
		}
	}
	return nil
}

// Validate checks every setting and reports all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.DB == "" {
		bad("db", "must name the SQLite file")
	}
	if c.Privacy.AuditRetention < 0 {
		bad("privacy.audit_retention", "must be a number of days (0 keeps the audit trail forever)")
	}
	if c.Privacy.BodyRetentionDays < 0 {
		bad("privacy.body_retention_days", "must be a number of days (0 keeps message bodies forever)")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "must be host:port, got %q", c.Listen)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("public_url", "must be an absolute http(s) URL, got %q", c.PublicURL)
		}
	}
	if !validClock(c.QuietHours.Start) {
		bad("quiet_hours.start", "must be HH:MM, got %q", c.QuietHours.Start)
	}
	if !validClock(c.QuietHours.End) {
		bad("quiet_hours.end", "must be HH:MM, got %q", c.QuietHours.End)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		bad("log.format", "must be auto, json or text, got %q", c.Log.Format)
	}
	switch c.Console.Format {
	case "text", "json":
	default:
		bad("console.format", "must be text or json, got %q", c.Console.Format)
	}
	d := c.Dispatch
	if d.BatchSize < 1 || d.BatchSize > 10000 {
		bad("dispatch.batch_size", "must be 1..10000, got %d", d.BatchSize)
	}
	if d.Concurrency < 1 || d.Concurrency > 1000 {
		bad("dispatch.concurrency", "must be 1..1000, got %d", d.Concurrency)
	}
	if d.SendTimeout <= 0 {
		bad("dispatch.send_timeout", "must be positive")
	}
	if d.Lease <= d.SendTimeout {
		bad("dispatch.lease", "must be longer than send_timeout (%s), got %s", d.SendTimeout, d.Lease)
	}
	if d.SMSRate < 0 || d.EmailRate < 0 {
		bad("dispatch.sms_rate/email_rate", "must not be negative")
	}
	if d.EmailConcurrency < 0 || d.EmailConcurrency > d.Concurrency {
		bad("dispatch.email_concurrency", "must be 0..concurrency (%d), got %d", d.Concurrency, d.EmailConcurrency)
	}
	if d.SenderRate < 0 {
		bad("dispatch.sender_rate", "must not be negative")
	}
	for _, k := range slices.Sorted(maps.Keys(d.Senders)) {
		l := d.Senders[k]
		if k == "" {
			bad("dispatch.senders", "a sender must be named")
		}
		if l.Rate < 0 || l.Concurrency < 0 || l.Concurrency > d.Concurrency {
			bad("dispatch.senders."+k, "rate must not be negative and concurrency must be 0..%d", d.Concurrency)
		}
	}
	if t := c.Twilio; t.Enabled() || t.AuthToken != "" || t.From != "" {
		if t.AccountSID == "" {
			bad("twilio.account_sid", "is required when Twilio is configured (TWILIO_ACCOUNT_SID)")
		}
		if t.AuthToken == "" && (t.APIKey == "" || t.APISecret == "") {
			bad("twilio.auth_token", "is required (TWILIO_AUTH_TOKEN), or api_key and api_secret")
		}
		if t.From == "" && t.MessagingServiceSID == "" {
			bad("twilio.from", "a sending number (E.164) or messaging_service_sid is required")
		}
		if t.From != "" && !validE164(t.From) {
			bad("twilio.from", "must be an E.164 number like +14155550100, got %q", t.From)
		}
		if t.BaseURL != "" {
			if u, err := url.Parse(t.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
				bad("twilio.base_url", "must be an absolute URL, got %q", t.BaseURL)
			}
		}
		if t.Timeout <= 0 {
			bad("twilio.timeout", "must be positive")
		}
	}
	if s := c.SMTP; s.Enabled() {
		if s.Port < 1 || s.Port > 65535 {
			bad("smtp.port", "must be 1..65535, got %d", s.Port)
		}
		switch s.TLS {
		case "starttls", "tls":
		case "none":
			if !isLoopback(s.Host) {
				bad("smtp.tls", "none is only allowed for a loopback host, not %q", s.Host)
			}
		default:
			bad("smtp.tls", "must be none, starttls or tls, got %q", s.TLS)
		}
		if s.From == "" {
			bad("smtp.from", "is required (e.g. \"Clinic <care@example.com>\")")
		} else if _, err := mail.ParseAddress(s.From); err != nil {
			bad("smtp.from", "is not an email address: %v", err)
		}
		if (s.Username == "") != (s.Password == "") {
			bad("smtp.username/password", "set both or neither")
		}
		if s.Timeout <= 0 {
			bad("smtp.timeout", "must be positive")
		}
	}
	if h := c.Web.TrustedProxyHeader; h != "" && !validHeaderName(h) {
		bad("web.trusted_proxy_header", "must be a header name like X-Forwarded-For, got %q", h)
	}
	if c.Web.SessionIdle < time.Minute {
		bad("web.session_idle", "must be at least 1m, got %s", c.Web.SessionIdle)
	}
	if c.Web.SessionLifetime < c.Web.SessionIdle || c.Web.SessionLifetime > 30*24*time.Hour {
		bad("web.session_lifetime", "must be from session_idle (%s) to 720h, got %s", c.Web.SessionIdle, c.Web.SessionLifetime)
	}
	if m := c.Metrics; m.Listen != "" {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			bad("metrics.listen", "must be host:port, got %q", m.Listen)
		} else if m.Listen == c.Listen {
			bad("metrics.listen", "must differ from listen (%s)", c.Listen)
		}
	}
	if t := c.Metrics.Token; t != "" && len(t) < 16 {
		bad("metrics.token", "must be at least 16 characters (AFTERCARE_METRICS_TOKEN)")
	}
	if c.Web.PasswordResetTTL < time.Minute || c.Web.PasswordResetTTL > 24*time.Hour {
		bad("web.password_reset_ttl", "must be between 1m and 24h, got %s", c.Web.PasswordResetTTL)
	}
	if c.SMSSegmentPrice < 0 || c.SMSSegmentPrice > 1 || math.IsNaN(c.SMSSegmentPrice) {
		bad("sms_segment_price", "must be a price in US dollars from 0 to 1, like 0.0083, got %v", c.SMSSegmentPrice)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// validHeaderName reports whether s is an HTTP header name (RFC 9110
// token characters).
func validHeaderName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return s != ""
}

func validClock(s string) bool {
	t, err := time.Parse("15:04", s)
	return err == nil && t.Format("15:04") == s
}

func validE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Redacted returns a copy with secrets replaced, safe to print.
func (c *Config) Redacted() Config {
	r := *c
	mask := func(s *string) {
		if *s != "" {
			*s = "[redacted]"
		}
	}
	mask(&r.Secret)
	mask(&r.Twilio.AuthToken)
	mask(&r.Twilio.APISecret)
	mask(&r.SMTP.Password)
	mask(&r.Metrics.Token)
	return r
}
