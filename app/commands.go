package app

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/logmask"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// NewLogger builds the daemon's logger: JSON unless format is text, or
// auto on a terminal. Phone numbers and email addresses are masked in every
// line (logmask), a safety net under the rule that logs carry only ids.
func NewLogger(c config.Log, w *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	text := c.Format == "text" || (c.Format == "auto" && term.IsTerminal(int(w.Fd())))
	if text {
		return slog.New(logmask.Wrap(slog.NewTextHandler(w, opts)))
	}
	return slog.New(logmask.Wrap(slog.NewJSONHandler(w, opts)))
}

// PreviewOptions describe a hypothetical enrollment to preview.
type PreviewOptions struct {
	TreatedAt    string
	Timezone     string
	Session      int
	Series       int
	FirstName    string
	ClinicName   string
	ClinicPhone  string
	BookingURL   string
	SMSConsent   bool
	EmailConsent bool
	// Treatment and Language pick the protocol from the daemon's library.
	Treatment, Language string
	// DailyCap and WeeklyCap are the clinic's text caps (0: the defaults).
	DailyCap, WeeklyCap int
	JSON                bool
	Now                 time.Time // enrollment instant; zero = the treatment time
}

// PreviewItem is one line of a previewed plan.
type PreviewItem struct {
	Step    string `json:"step"`
	Channel string `json:"channel"`
	Day     int    `json:"occurrence,omitempty"`
	SendAt  string `json:"send_at"`
	StaleAt string `json:"stale_at"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Subject string `json:"subject,omitempty"`
	Body    string `json:"body"`
	// Segments is what a text costs in SMS segments.
	Segments int `json:"segments,omitempty"`
}

// Preview prints the plan an enrollment would get, storing nothing.
func Preview(w io.Writer, cfg *config.Config, o PreviewOptions) error {
	lib, err := LoadLibrary(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fmt.Errorf("load protocols: %w", err)
	}
	choice, err := lib.Pick(cmp.Or(o.Treatment, "microneedling"), o.Language, "")
	if err != nil {
		return err
	}
	if choice.Note != "" {
		fmt.Fprintln(w, "Note: "+choice.Note)
	}
	p := choice.Protocol
	quiet, err := protocol.ParseQuietHours(cfg.QuietHours.Start, cfg.QuietHours.End)
	if err != nil {
		return err
	}
	if err := enroll.ValidTimezone(o.Timezone); err != nil {
		return err
	}
	loc, _ := time.LoadLocation(o.Timezone)
	treated, err := time.Parse(time.RFC3339, o.TreatedAt)
	if err != nil {
		return aftercare.FieldError("treated-at", "must be an RFC 3339 time, e.g. 2026-11-25T14:30:00-05:00")
	}
	now := o.Now
	if now.IsZero() {
		now = treated
	}
	msgs, err := p.Plan(protocol.Input{
		Enrollment: aftercare.Enrollment{TreatedAt: treated, SessionNumber: o.Session, SeriesLength: o.Series},
		Patient:    aftercare.Patient{FirstName: o.FirstName, Timezone: o.Timezone, Phone: "+14155550123", Email: "patient@example.com"},
		Clinic:     aftercare.Clinic{Name: o.ClinicName, Phone: o.ClinicPhone, BookingURL: o.BookingURL, Timezone: o.Timezone},
		SMSConsent: o.SMSConsent, EmailConsent: o.EmailConsent,
	}, protocol.Options{Quiet: quiet, DailyCap: o.DailyCap, WeeklyCap: o.WeeklyCap}, now)
	if err != nil {
		return err
	}
	items := make([]PreviewItem, len(msgs))
	for i, m := range msgs {
		items[i] = PreviewItem{Step: m.Step, Channel: string(m.Channel), Day: m.Occurrence,
			SendAt: m.SendAt.In(loc).Format(time.RFC3339), StaleAt: m.StaleAt.In(loc).Format(time.RFC3339),
			Status: string(m.Status), Reason: m.Reason, Subject: m.Subject, Body: m.Body}
		items[i].Segments, _ = protocol.TextCost(m)
	}
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEND AT (LOCAL)\tCHANNEL\tSEGMENTS\tSTEP\tSTATUS\tTEXT")
	for i, it := range items {
		text := it.Body
		if it.Subject != "" {
			text = "Subject: " + it.Subject
		}
		if it.Status == string(aftercare.StatusSkipped) {
			text = "(" + it.Reason + ")"
		}
		segs := ""
		if it.Segments > 0 {
			segs = fmt.Sprint(it.Segments)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", msgs[i].SendAt.In(loc).Format("Mon 02 Jan 15:04 MST"), it.Channel, segs, it.Step, it.Status, oneLine(text, 70))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	sum := p.Summarize(msgs, treated, now)
	fmt.Fprintf(w, "\n%d texts (%d SMS segments", sum.Texts, sum.Segments)
	if sum.UnicodeTexts > 0 {
		fmt.Fprintf(w, "; %d as Unicode", sum.UnicodeTexts)
	}
	fmt.Fprintf(w, "), %d emails.\n", sum.Emails)
	for _, n := range sum.Notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// ValidClinic normalizes a clinic's phones and addresses and reports every
// problem at once (one line each): name, phone, time zone, and at least
// one alert route (alert email or on-call phone) so a red flag reaches
// someone.
func ValidClinic(c aftercare.Clinic) (aftercare.Clinic, error) {
	var errs []string
	phone, err := enroll.NormalizePhone(c.Phone, "US")
	if err != nil {
		errs = append(errs, "phone: "+err.Error())
	} else {
		c.Phone = phone
	}
	region := "US"
	if err == nil {
		region = enroll.RegionOf(phone)
	}
	if err := enroll.ValidTimezone(c.Timezone); err != nil {
		errs = append(errs, "tz: "+err.Error())
	}
	if strings.TrimSpace(c.Name) == "" {
		errs = append(errs, "name: required")
	}
	if c.OnCallPhone != "" {
		if c.OnCallPhone, err = enroll.NormalizePhone(c.OnCallPhone, region); err != nil {
			errs = append(errs, "on-call-phone: "+err.Error())
		}
	}
	if c.AfterHoursPhone != "" {
		if c.AfterHoursPhone, err = enroll.NormalizePhone(c.AfterHoursPhone, region); err != nil {
			errs = append(errs, "after-hours-phone: "+err.Error())
		}
	}
	if c.AlertEmail != "" {
		if c.AlertEmail, err = enroll.NormalizeEmail(c.AlertEmail); err != nil {
			errs = append(errs, "alert-email: "+err.Error())
		}
	}
	if c.AlertEmail == "" && c.OnCallPhone == "" && !slices.ContainsFunc(errs, func(e string) bool {
		return strings.HasPrefix(e, "alert-email") || strings.HasPrefix(e, "on-call-phone")
	}) {
		errs = append(errs, "alert-email / on-call-phone: "+store.ErrNoAlertRoute+" (--alert-email, --on-call-phone)")
	}
	if len(errs) > 0 {
		return c, aftercare.Errorf(aftercare.EINVALID, "%s", strings.Join(errs, "\n"))
	}
	return c, nil
}

// AddClinic creates a clinic in the configured database and returns it with
// its API key (shown once).
func AddClinic(ctx context.Context, cfg *config.Config, c aftercare.Clinic) (aftercare.Clinic, string, error) {
	c, err := ValidClinic(c)
	var perr error
	c.ClinicPlanning, perr = CheckPlanningFlags(cfg, c.ClinicPlanning)
	switch {
	case err != nil && aftercare.ErrorCode(perr) == aftercare.EINVALID:
		return c, "", aftercare.Errorf(aftercare.EINVALID, "%s\n%s", aftercare.ErrorMessage(err), aftercare.ErrorMessage(perr))
	case err != nil:
		return c, "", err
	case perr != nil:
		return c, "", perr
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return c, "", err
	}
	defer s.Close()
	return s.CreateClinic(ctx, c)
}
