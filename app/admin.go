package app

import (
	"context"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/store"
)

// The operator's commands for clinics and API keys: `clinic list/show/
// update` and `key add/list/revoke`. Each opens the configured database,
// acts as the CLI actor (the OS user) for the audit trail, and closes it.

// CLIActor returns a context that carries the operator at the command line
// (their OS user name) for the audit trail.
func CLIActor(ctx context.Context) context.Context {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return aftercare.WithActor(ctx, aftercare.Actor{Kind: aftercare.ActorCLI, Label: name})
}

func withStore[T any](ctx context.Context, cfg *config.Config, f func(s *store.Store) (T, error)) (T, error) {
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		var zero T
		return zero, err
	}
	defer s.Close()
	return f(s)
}

// ListClinics prints every clinic: id, name, phone, zone and alert routes.
func ListClinics(ctx context.Context, w io.Writer, cfg *config.Config) error {
	cs, err := withStore(ctx, cfg, func(s *store.Store) ([]aftercare.Clinic, error) { return s.Clinics(ctx) })
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPHONE\tTIME ZONE\tALERTS TO")
	for _, c := range cs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Phone, c.Timezone, alertRoutes(c))
	}
	return tw.Flush()
}

func alertRoutes(c aftercare.Clinic) string {
	var r []string
	if c.AlertEmail != "" {
		r = append(r, c.AlertEmail)
	}
	if c.OnCallPhone != "" {
		r = append(r, c.OnCallPhone)
	}
	if len(r) == 0 {
		return "NONE"
	}
	return strings.Join(r, ", ")
}

// ShowClinic prints one clinic's settings, one per line, named by the
// flags of `clinic update`, and its API keys (never their secrets).
func ShowClinic(ctx context.Context, w io.Writer, cfg *config.Config, id int64) error {
	type shown struct {
		c    aftercare.Clinic
		keys []store.APIKey
	}
	v, err := withStore(ctx, cfg, func(s *store.Store) (shown, error) {
		c, err := s.Clinic(ctx, id)
		if err != nil {
			return shown{}, err
		}
		keys, err := s.APIKeys(ctx, id)
		return shown{c, keys}, err
	})
	if err != nil {
		return err
	}
	c := v.c
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range []struct{ k, v string }{
		{"id", fmt.Sprint(c.ID)}, {"name", c.Name}, {"phone", c.Phone}, {"tz", c.Timezone},
		{"booking-url", c.BookingURL}, {"alert-email", c.AlertEmail}, {"on-call-phone", c.OnCallPhone},
		{"after-hours-phone", c.AfterHoursPhone}, {"sms-from", c.SMSFrom},
		{"messaging-service-sid", c.MessagingServiceSID}, {"email-from", c.EmailFrom}, {"reply-to", c.ReplyTo},
		{"created", c.CreatedAt.Format(time.RFC3339)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f.k, f.v)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	working := 0
	for _, k := range v.keys {
		if !k.Revoked() {
			working++
		}
	}
	_, err = fmt.Fprintf(w, "api keys: %d working, %d revoked (aftercare key list --clinic %d)\n", working, len(v.keys)-working, c.ID)
	return err
}

// ClinicFlags maps the settings' stored names to the flags of `clinic add`
// and `clinic update`.
var ClinicFlags = map[string]string{
	"name": "name", "phone": "phone", "timezone": "tz", "booking_url": "booking-url",
	"alert_email": "alert-email", "on_call_phone": "on-call-phone", "after_hours_phone": "after-hours-phone",
	"sms_from": "sms-from", "messaging_service_sid": "messaging-service-sid", "email_from": "email-from",
	"reply_to": "reply-to",
}

// UpdateClinic applies changes (flag name to new value; "" clears an
// optional setting) to a clinic, checks the result whole and reports every
// problem at once, one line per flag. Removing the last alert route is
// refused. It returns the clinic as stored and the settings that changed.
func UpdateClinic(ctx context.Context, cfg *config.Config, id int64, changes map[string]string) (aftercare.Clinic, []string, error) {
	type result struct {
		c       aftercare.Clinic
		changed []string
	}
	r, err := withStore(ctx, cfg, func(s *store.Store) (result, error) {
		old, err := s.Clinic(ctx, id)
		if err != nil {
			return result{}, err
		}
		c := old
		for flag, v := range changes {
			switch flag {
			case "name":
				c.Name = v
			case "phone":
				c.Phone = v
			case "tz":
				c.Timezone = v
			case "booking-url":
				c.BookingURL = v
			case "alert-email":
				c.AlertEmail = v
			case "on-call-phone":
				c.OnCallPhone = v
			case "after-hours-phone":
				c.AfterHoursPhone = v
			case "sms-from":
				c.SMSFrom = v
			case "messaging-service-sid":
				c.MessagingServiceSID = v
			case "email-from":
				c.EmailFrom = v
			case "reply-to":
				c.ReplyTo = v
			default:
				return result{}, aftercare.FieldError(flag, "is not a clinic setting")
			}
		}
		c, err = enroll.CheckClinic(c)
		if err != nil {
			return result{}, flagErrors(err)
		}
		if err := s.UpdateClinic(CLIActor(ctx), c); err != nil {
			return result{}, err
		}
		var changed []string
		for _, f := range store.ChangedClinicFields(old, c) {
			changed = append(changed, ClinicFlags[f])
		}
		return result{c, changed}, nil
	})
	return r.c, r.changed, err
}

// flagErrors rewrites CheckClinic's field errors as one EINVALID error
// with a line per problem, named by flag.
func flagErrors(err error) error {
	var lines []string
	for _, e := range aftercare.AllErrors(err) {
		name := ClinicFlags[e.Field]
		if name == "" {
			name = e.Field
		}
		msg := e.Message
		if e.Field == "alert_email" && msg == enroll.NoAlertRoute {
			name, msg = "alert-email / on-call-phone", msg+" (--alert-email, --on-call-phone); the last alert route cannot be removed"
		}
		lines = append(lines, "--"+name+": "+msg)
	}
	return aftercare.Errorf(aftercare.EINVALID, "%s", strings.Join(lines, "\n"))
}

// AddKey makes a new API key for a clinic; the key is returned once.
func AddKey(ctx context.Context, cfg *config.Config, clinicID int64, label string) (store.APIKey, string, error) {
	type made struct {
		k      store.APIKey
		secret string
	}
	m, err := withStore(ctx, cfg, func(s *store.Store) (made, error) {
		k, secret, err := s.CreateAPIKey(CLIActor(ctx), clinicID, label)
		return made{k, secret}, err
	})
	return m.k, m.secret, err
}

// ListKeys prints a clinic's API keys: id, label, prefix, created, last
// used, revoked. Never the keys themselves (only their hashes are kept).
func ListKeys(ctx context.Context, w io.Writer, cfg *config.Config, clinicID int64) error {
	keys, err := withStore(ctx, cfg, func(s *store.Store) ([]store.APIKey, error) {
		if _, err := s.Clinic(ctx, clinicID); err != nil {
			return nil, err
		}
		return s.APIKeys(ctx, clinicID)
	})
	if err != nil {
		return err
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tKEY\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Label, k.Prefix, when(k.CreatedAt), when(k.LastUsedAt), when(k.RevokedAt))
	}
	return tw.Flush()
}

// RevokeKey revokes one of a clinic's API keys; every daemon refuses it
// from the next request on.
func RevokeKey(ctx context.Context, cfg *config.Config, clinicID, keyID int64) error {
	_, err := withStore(ctx, cfg, func(s *store.Store) (struct{}, error) {
		return struct{}{}, s.RevokeAPIKey(CLIActor(ctx), clinicID, keyID)
	})
	return err
}
