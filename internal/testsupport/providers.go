package testsupport

import (
	"strconv"
	"time"

	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// ProviderOptions shape the loopback providers.
type ProviderOptions struct {
	// SMTPUsername and SMTPPassword, if set, make the SMTP server require
	// them (AUTH PLAIN) and the daemon log in with them.
	SMTPUsername, SMTPPassword string
}

// Providers are the loopback Twilio API (for AccountSID and AuthToken)
// and the real SMTP server a daemon talks to, both on 127.0.0.1 and
// closed when the test ends.
type Providers struct {
	Twilio *twiliotest.Server
	Mail   *smtptest.Server

	smtpUsername, smtpPassword string
}

// NewProviders starts the Twilio API and the SMTP server.
func NewProviders(tb TB, o ProviderOptions) *Providers {
	tb.Helper()
	p := &Providers{smtpUsername: o.SMTPUsername, smtpPassword: o.SMTPPassword}
	p.Twilio = twiliotest.NewServer(tb, AccountSID, AuthToken)
	var opts []smtptest.Option
	if o.SMTPUsername != "" {
		opts = append(opts, smtptest.WithAuth(o.SMTPUsername, o.SMTPPassword))
	}
	p.Mail = smtptest.NewServer(tb, opts...)
	return p
}

// providerTimeout is the daemon's per-request timeout towards the
// providers (tests that cut hangs set their own).
const providerTimeout = 5 * time.Second

// Configure points cfg's Twilio and SMTP settings at the providers.
func (p *Providers) Configure(cfg *config.Config) {
	cfg.Twilio = config.Twilio{AccountSID: AccountSID, AuthToken: AuthToken, From: FromNumber,
		BaseURL: p.Twilio.URL(), Timeout: providerTimeout}
	cfg.SMTP = config.SMTP{Host: p.Mail.Host(), Port: p.Mail.Port(), TLS: "none", From: EmailFrom,
		Username: p.smtpUsername, Password: p.smtpPassword, Timeout: providerTimeout}
}

// Env is the environment that points an `aftercare serve` process at the
// providers (what Configure does for a daemon in this process).
func (p *Providers) Env() []string {
	env := []string{
		"TWILIO_ACCOUNT_SID=" + AccountSID,
		"TWILIO_AUTH_TOKEN=" + AuthToken,
		"TWILIO_FROM=" + FromNumber,
		"TWILIO_BASE_URL=" + p.Twilio.URL(),
		"SMTP_HOST=" + p.Mail.Host(),
		"SMTP_PORT=" + strconv.Itoa(p.Mail.Port()),
		"SMTP_TLS=none",
		"SMTP_FROM=" + EmailFrom,
	}
	if p.smtpUsername != "" {
		env = append(env, "SMTP_USERNAME="+p.smtpUsername, "SMTP_PASSWORD="+p.smtpPassword)
	}
	return env
}
