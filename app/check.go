package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/notify/smtp"
	"github.com/aftercare/aftercare/notify/twilio"
)

// Check verifies the configuration as deployed: credentials present, SMTP
// reachable and accepting auth, public URL set for webhooks. It prints one
// line per item and returns an error if anything needed is missing.
func Check(ctx context.Context, w io.Writer, cfg *config.Config) error {
	problems := 0
	ok := func(format string, args ...any) { fmt.Fprintf(w, "ok      "+format+"\n", args...) }
	warn := func(format string, args ...any) { fmt.Fprintf(w, "note    "+format+"\n", args...) }
	bad := func(format string, args ...any) {
		problems++
		fmt.Fprintf(w, "MISSING "+format+"\n", args...)
	}
	ok("database file: %s", cfg.DB)
	if cfg.PublicURL == "" {
		if cfg.Twilio.Enabled() {
			bad("public_url (AFTERCARE_PUBLIC_URL): Twilio needs it for delivery receipts and replies (%s/webhooks/twilio/status, /webhooks/twilio/inbound)", "https://your-host")
		} else {
			warn("public_url is not set: unsubscribe links and webhooks need it once providers are configured")
		}
	} else {
		ok("public url: %s (Twilio status callback %s/webhooks/twilio/status, inbound %s/webhooks/twilio/inbound)", cfg.PublicURL, cfg.PublicURL, cfg.PublicURL)
	}
	if !cfg.Twilio.Enabled() {
		warn("SMS: Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM): texts go to the console notifier")
	} else if _, err := twilio.New(twilio.Config{AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken,
		APIKey: cfg.Twilio.APIKey, APISecret: cfg.Twilio.APISecret, From: cfg.Twilio.From,
		MessagingServiceSID: cfg.Twilio.MessagingServiceSID, BaseURL: cfg.Twilio.BaseURL}); err != nil {
		bad("SMS: Twilio settings rejected: %v", err)
	} else {
		sender := cfg.Twilio.From
		if cfg.Twilio.MessagingServiceSID != "" {
			sender = "messaging service " + cfg.Twilio.MessagingServiceSID
		}
		ok("SMS: Twilio account %s, sending from %s", cfg.Twilio.AccountSID, sender)
	}
	if !cfg.SMTP.Enabled() {
		warn("email: SMTP is not configured (SMTP_HOST, SMTP_FROM, ...): emails go to the console notifier")
	} else {
		s, err := smtp.New(smtp.Config{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, TLS: cfg.SMTP.TLS,
			Username: cfg.SMTP.Username, Password: cfg.SMTP.Password, From: cfg.SMTP.From, Timeout: cfg.SMTP.Timeout})
		if err != nil {
			bad("email: SMTP settings rejected: %v", err)
		} else {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := s.Check(cctx)
			cancel()
			s.Close()
			if err != nil {
				bad("email: SMTP server %s:%d not usable: %v", cfg.SMTP.Host, cfg.SMTP.Port, err)
			} else {
				auth := "no auth"
				if cfg.SMTP.Username != "" {
					auth = "auth accepted"
				}
				ok("email: SMTP %s:%d reachable (%s, %s), from %s", cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.TLS, auth, cfg.SMTP.From)
			}
		}
	}
	if problems > 0 {
		return errors.New("configuration incomplete: see MISSING lines above")
	}
	fmt.Fprintln(w, "configuration looks good")
	return nil
}
