package enroll

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/protocol"
)

// NoAlertRoute is the message for a clinic without an alert route.
const NoAlertRoute = "a clinic needs an alert route for red-flag replies: an alert email, an on-call phone, or both"

var messagingServiceSID = regexp.MustCompile(`^MG[0-9a-f]{32}$`)

// CheckClinic normalizes a clinic's settings (phones to E.164, addresses
// trimmed, domains lower-cased) and reports every problem at once: an
// errors.Join of field errors named like the clinic's stored columns
// (name, phone, timezone, booking_url, alert_email, on_call_phone,
// after_hours_phone, sms_from, messaging_service_sid, email_from,
// reply_to, and the planning settings default_language, quiet_hours,
// daily_text_cap, weekly_text_cap, treatments; see CheckPlanning). A
// clinic needs a name, a phone, an IANA time zone, and at
// least one alert route (alert email or on-call phone) so that a red flag
// reaches someone.
func CheckClinic(c aftercare.Clinic) (aftercare.Clinic, error) {
	var errs []error
	add := func(field string, err error) {
		var e *aftercare.Error
		if errors.As(err, &e) {
			errs = append(errs, &aftercare.Error{Code: aftercare.EINVALID, Field: field, Message: e.Message})
			return
		}
		errs = append(errs, aftercare.FieldError(field, "%v", err))
	}
	c.Name = strings.TrimSpace(c.Name)
	switch {
	case c.Name == "":
		errs = append(errs, aftercare.FieldError("name", "required"))
	case utf8.RuneCountInString(c.Name) > 100 || strings.ContainsFunc(c.Name, invisible):
		errs = append(errs, aftercare.FieldError("name", "must be one line of at most 100 characters"))
	}
	region := "US"
	if p, err := NormalizePhone(c.Phone, "US"); err != nil {
		add("phone", err)
	} else {
		c.Phone, region = p, RegionOf(p)
	}
	c.Timezone = strings.TrimSpace(c.Timezone)
	if err := ValidTimezone(c.Timezone); err != nil {
		add("timezone", err)
	}
	c.BookingURL = strings.TrimSpace(c.BookingURL)
	if c.BookingURL != "" {
		u, err := url.Parse(c.BookingURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(c.BookingURL) > 500 {
			errs = append(errs, aftercare.FieldError("booking_url", "must be a web address starting with https://"))
		}
	}
	phone := func(field string, p *string) {
		*p = strings.TrimSpace(*p)
		if *p == "" {
			return
		}
		n, err := NormalizePhone(*p, region)
		if err != nil {
			add(field, err)
			return
		}
		*p = n
	}
	phone("on_call_phone", &c.OnCallPhone)
	phone("after_hours_phone", &c.AfterHoursPhone)
	phone("sms_from", &c.SMSFrom)
	email := func(field string, p *string) {
		n, err := NormalizeEmail(*p)
		if err != nil {
			add(field, err)
			return
		}
		*p = n
	}
	email("alert_email", &c.AlertEmail)
	email("email_from", &c.EmailFrom)
	email("reply_to", &c.ReplyTo)
	c.MessagingServiceSID = strings.TrimSpace(c.MessagingServiceSID)
	if c.MessagingServiceSID != "" && !messagingServiceSID.MatchString(c.MessagingServiceSID) {
		errs = append(errs, aftercare.FieldError("messaging_service_sid", "must be a Twilio Messaging Service SID: MG and 32 hex digits"))
	}
	if strings.TrimSpace(c.AlertEmail) == "" && strings.TrimSpace(c.OnCallPhone) == "" {
		errs = append(errs, aftercare.FieldError("alert_email", NoAlertRoute))
	}
	var err error
	c.ClinicPlanning, err = CheckPlanning(c.ClinicPlanning)
	if err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// Bounds of the planning settings.
const (
	// MaxWeeklyTextCap is the highest weekly text cap a clinic may set.
	MaxWeeklyTextCap = 50
	// MaxTreatments is how many treatments a clinic may list.
	MaxTreatments = 20
)

// CheckPlanning normalizes a clinic's planning settings and reports every
// problem at once, named by field:
//
//   - default_language: "en", "es" or empty (English); case and spaces
//     are forgiven.
//   - quiet_hours: empty (the daemon's) or "HH:MM-HH:MM", start and end
//     different; written back as "21:00-08:00".
//   - daily_text_cap: 0 (the default, aftercare.DefaultDailyTextCap) or
//     1..aftercare.MaxDailyTextCap (the consent wording's promise).
//   - weekly_text_cap: 0 (none) or from the daily cap up to
//     MaxWeeklyTextCap.
//   - treatments: each normalized with protocol.NormalizeTreatment, none
//     empty or given twice, at most MaxTreatments; an empty list is nil.
//
// Whether the treatments exist is for the caller to check against the
// protocols it has (UnknownTreatments).
func CheckPlanning(p aftercare.ClinicPlanning) (aftercare.ClinicPlanning, error) {
	var errs []error
	p.DefaultLanguage = strings.ToLower(strings.TrimSpace(p.DefaultLanguage))
	if p.DefaultLanguage != "" && !aftercare.ValidLanguage(p.DefaultLanguage) {
		errs = append(errs, aftercare.FieldError("default_language", "must be %s, or empty for English",
			strings.Join(aftercare.Languages, " or ")))
	}
	if q, err := ParseQuietHours(p.QuietHours); err != nil {
		errs = append(errs, aftercare.FieldError("quiet_hours", "%v", err))
	} else {
		p.QuietHours = q
	}
	if p.DailyTextCap < 0 || p.DailyTextCap > aftercare.MaxDailyTextCap {
		errs = append(errs, aftercare.FieldError("daily_text_cap", "must be between 1 and %d texts a day, the most the patients' consent allows (0 uses the default, %d)",
			aftercare.MaxDailyTextCap, aftercare.DefaultDailyTextCap))
	}
	daily := p.DailyTextCap
	if daily == 0 {
		daily = aftercare.DefaultDailyTextCap
	}
	if p.WeeklyTextCap != 0 && (p.WeeklyTextCap < min(daily, aftercare.MaxDailyTextCap) || p.WeeklyTextCap > MaxWeeklyTextCap) {
		errs = append(errs, aftercare.FieldError("weekly_text_cap", "must be 0 (no weekly cap) or between the daily cap (%d) and %d texts a week",
			min(daily, aftercare.MaxDailyTextCap), MaxWeeklyTextCap))
	}
	ts, err := normalizeTreatments(p.Treatments)
	if err != nil {
		errs = append(errs, err)
	}
	p.Treatments = ts
	return p, errors.Join(errs...)
}

// ParseQuietHours checks a clinic's quiet hours, "21:00-08:00" (an en
// dash or spaces around the dash are forgiven), and returns them in that
// form; empty stays empty (the daemon's quiet hours).
func ParseQuietHours(s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\u2013", "-"))
	if s == "" {
		return "", nil
	}
	start, end, ok := strings.Cut(s, "-")
	if !ok {
		return "", fmt.Errorf("must be a start and an end time like 21:00-08:00")
	}
	q, err := protocol.ParseQuietHours(start, end)
	if err != nil {
		// "quiet hours start: "25:00" is not a time of day between 00:00 and 23:59"
		return "", fmt.Errorf("%s (write them like 21:00-08:00)", strings.TrimPrefix(err.Error(), "quiet hours "))
	}
	if q.Start == q.End {
		return "", fmt.Errorf("start and end must differ (leave empty to use the daemon's quiet hours)")
	}
	return q.String(), nil
}

func normalizeTreatments(in []string) ([]string, error) {
	var out, empty, twice []string
	for _, t := range in {
		n := protocol.NormalizeTreatment(t)
		switch {
		case n == "":
			empty = append(empty, t)
		case slices.Contains(out, n):
			if !slices.Contains(twice, n) {
				twice = append(twice, n)
			}
		default:
			out = append(out, n)
		}
	}
	var problems []string
	if len(empty) > 0 {
		problems = append(problems, "a treatment name is empty")
	}
	if len(twice) > 0 {
		problems = append(problems, "lists "+quoteList(twice)+" twice")
	}
	if len(out) > MaxTreatments {
		problems = append(problems, fmt.Sprintf("lists %d treatments; at most %d", len(out), MaxTreatments))
	}
	if len(problems) > 0 {
		return out, aftercare.FieldError("treatments", "%s", strings.Join(problems, "; "))
	}
	return out, nil
}

// UnknownTreatments reports, as a treatments field error, the offered
// treatments that are not among known (the protocols the daemon and the
// clinic have), or nil when all are known. Both lists are compared
// normalized.
func UnknownTreatments(offered, known []string) error {
	have := make([]string, 0, len(known))
	for _, k := range known {
		have = append(have, protocol.NormalizeTreatment(k))
	}
	var unknown []string
	for _, t := range offered {
		if n := protocol.NormalizeTreatment(t); n != "" && !slices.Contains(have, n) && !slices.Contains(unknown, n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(have)
	have = slices.Compact(have)
	kinds := "no protocol for " + quoteList(unknown)
	if len(have) == 0 {
		return aftercare.FieldError("treatments", "%s (no protocols are loaded)", kinds)
	}
	return aftercare.FieldError("treatments", "%s; protocols exist for %s", kinds, quoteList(have))
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
