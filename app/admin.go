package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
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

// CLIContext returns a context that carries the operator at the command
// line (CLIActor) for the audit trail.
func CLIContext(ctx context.Context) context.Context {
	return aftercare.WithActor(ctx, CLIActor())
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
		{"default-language", orDefault(c.DefaultLanguage, "en (default)")},
		{"quiet-hours", orDefault(c.QuietHours, "the daemon's quiet_hours")},
		{"daily-text-cap", orDefault(capString(c.DailyTextCap), fmt.Sprintf("%d (default)", aftercare.DefaultDailyTextCap))},
		{"weekly-text-cap", orDefault(capString(c.WeeklyTextCap), "none")},
		{"treatments", orDefault(strings.Join(c.Treatments, ", "), "every treatment with a protocol")},
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

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func capString(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// ClinicFlags maps the settings' stored names to the flags of `clinic add`
// and `clinic update`.
var ClinicFlags = map[string]string{
	"name": "name", "phone": "phone", "timezone": "tz", "booking_url": "booking-url",
	"alert_email": "alert-email", "on_call_phone": "on-call-phone", "after_hours_phone": "after-hours-phone",
	"sms_from": "sms-from", "messaging_service_sid": "messaging-service-sid", "email_from": "email-from",
	"reply_to": "reply-to", "default_language": "default-language", "quiet_hours": "quiet-hours",
	"daily_text_cap": "daily-text-cap", "weekly_text_cap": "weekly-text-cap", "treatments": "treatments",
}

// KnownTreatments lists the treatments a clinic may offer from the
// command line: those of the daemon's library (embedded protocols,
// protocols_dir, protocol:). A clinic's own uploaded protocols are added
// by the daemon (the API and the console) through protocols.Treatments.
func KnownTreatments(cfg *config.Config) ([]string, error) {
	lib, err := LoadLibrary(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	return lib.Treatments(), nil
}

// unknownTreatments is the treatments field error for treatments no
// protocol of KnownTreatments covers, or nil.
func unknownTreatments(cfg *config.Config, ts []string) (error, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	known, err := KnownTreatments(cfg)
	if err != nil {
		return nil, err
	}
	return enroll.UnknownTreatments(ts, known), nil
}

// CheckPlanningFlags checks the planning settings given to `clinic add`
// (enroll.CheckPlanning, and treatments against KnownTreatments): the
// settings normalized, or every problem at once, one line per flag.
func CheckPlanningFlags(cfg *config.Config, p aftercare.ClinicPlanning) (aftercare.ClinicPlanning, error) {
	p, err := enroll.CheckPlanning(p)
	if !hasFieldError(err, "treatments") {
		unknown, kerr := unknownTreatments(cfg, p.Treatments)
		if kerr != nil {
			return p, kerr
		}
		err = errors.Join(err, unknown)
	}
	if err != nil {
		return p, flagErrors(err)
	}
	return p, nil
}

// SplitTreatments reads a --treatments value: names separated by commas
// ("microneedling, chemical peel"); blanks between commas are dropped, so
// "" is no list (every treatment).
func SplitTreatments(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// capFlag reads a text cap flag: a whole number, "" for the default (0).
func capFlag(flag, v string, dst *int) error {
	v = strings.TrimSpace(v)
	if v == "" {
		*dst = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return aftercare.FieldError(flag, "must be a whole number, or empty for the default")
	}
	*dst = n
	return nil
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
		var bad []error
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
			case "default-language":
				c.DefaultLanguage = v
			case "quiet-hours":
				c.QuietHours = v
			case "daily-text-cap":
				if err := capFlag("daily_text_cap", v, &c.DailyTextCap); err != nil {
					bad = append(bad, err)
				}
			case "weekly-text-cap":
				if err := capFlag("weekly_text_cap", v, &c.WeeklyTextCap); err != nil {
					bad = append(bad, err)
				}
			case "treatments":
				c.Treatments = SplitTreatments(v)
			default:
				return result{}, aftercare.FieldError(flag, "is not a clinic setting")
			}
		}
		c, err = enroll.CheckClinic(c)
		if _, ok := changes["treatments"]; ok && !hasFieldError(err, "treatments") {
			unknown, kerr := unknownTreatments(cfg, c.Treatments)
			if kerr != nil {
				return result{}, kerr
			}
			err = errors.Join(err, unknown)
		}
		for _, b := range bad { // a cap that is not a number replaces CheckClinic's word on it
			var fe *aftercare.Error
			if errors.As(b, &fe) && !hasFieldError(err, fe.Field) {
				err = errors.Join(err, b)
			}
		}
		if err != nil {
			return result{}, flagErrors(err)
		}
		if err := s.UpdateClinic(CLIContext(ctx), c); err != nil {
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

func hasFieldError(err error, field string) bool {
	for _, e := range aftercare.AllErrors(err) {
		if e.Field == field {
			return true
		}
	}
	return false
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
		k, secret, err := s.CreateAPIKey(CLIContext(ctx), clinicID, label)
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
		return struct{}{}, s.RevokeAPIKey(CLIContext(ctx), clinicID, keyID)
	})
	return err
}
