package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"

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
	problems += checkClinics(ctx, w, cfg)
	if problems > 0 {
		return errors.New("configuration incomplete: see MISSING lines above")
	}
	fmt.Fprintln(w, "configuration looks good")
	return nil
}

// checkClinics reads the clinics of an existing database: it names every
// clinic without an alert route (a problem: a red flag there reaches
// nobody) and warns when several clinics send from one number (a reply
// then goes to the clinic that last texted the patient). It returns the
// number of problems.
func checkClinics(ctx context.Context, w io.Writer, cfg *config.Config) int {
	if _, err := os.Stat(cfg.DB); err != nil {
		fmt.Fprintf(w, "note    database %s does not exist yet: no clinics to check\n", cfg.DB)
		return 0
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		fmt.Fprintf(w, "MISSING database %s cannot be opened: %v\n", cfg.DB, err)
		return 1
	}
	defer s.Close()
	clinics, err := s.Clinics(ctx)
	if err != nil {
		fmt.Fprintf(w, "MISSING clinics cannot be read: %v\n", err)
		return 1
	}
	problems := 0
	for _, line := range NoAlertRoute(clinics) {
		problems++
		fmt.Fprintf(w, "MISSING %s\n", line)
	}
	for _, line := range SharedSenders(clinics, cfg) {
		fmt.Fprintf(w, "note    %s\n", line)
	}
	if problems == 0 && len(clinics) > 0 {
		fmt.Fprintf(w, "ok      %d clinic(s), each with an alert route for red-flag replies\n", len(clinics))
	}
	return problems
}

// NoAlertRoute names each clinic without an alert route, one line each.
func NoAlertRoute(clinics []aftercare.Clinic) []string {
	var out []string
	for _, c := range clinics {
		if !c.HasAlertRoute() {
			out = append(out, fmt.Sprintf("clinic %d %q has no alert route: red-flag replies reach nobody; set its alert_email or on_call_phone", c.ID, c.Name))
		}
	}
	return out
}

// Sender is the number or Messaging Service a clinic's texts go out from.
func Sender(c aftercare.Clinic, cfg *config.Config) string {
	switch {
	case c.MessagingServiceSID != "":
		return c.MessagingServiceSID
	case c.SMSFrom != "":
		return c.SMSFrom
	case cfg.Twilio.MessagingServiceSID != "":
		return cfg.Twilio.MessagingServiceSID
	}
	return cfg.Twilio.From
}

// SharedSenders describes each sender several clinics share, one line each.
func SharedSenders(clinics []aftercare.Clinic, cfg *config.Config) []string {
	by := map[string][]string{}
	for _, c := range clinics {
		k := Sender(c, cfg)
		if k == "" {
			k = "the default sender"
		}
		by[k] = append(by[k], fmt.Sprintf("%d %q", c.ID, c.Name))
	}
	var out []string
	for sender, names := range by {
		if len(names) > 1 {
			out = append(out, fmt.Sprintf("clinics %s share the sender %s: a patient's reply goes to the clinic that last texted them, and STOP stops all of them; give each clinic its own number (--sms-from) or Messaging Service", strings.Join(names, ", "), sender))
		}
	}
	sort.Strings(out)
	return out
}
