package enroll

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
)

// NoAlertRoute is the message for a clinic without an alert route.
const NoAlertRoute = "a clinic needs an alert route for red-flag replies: an alert email, an on-call phone, or both"

var messagingServiceSID = regexp.MustCompile(`^MG[0-9a-f]{32}$`)

// CheckClinic normalizes a clinic's settings (phones to E.164, addresses
// trimmed, domains lower-cased) and reports every problem at once: an
// errors.Join of field errors named like the clinic's stored columns
// (name, phone, timezone, booking_url, alert_email, on_call_phone,
// after_hours_phone, sms_from, messaging_service_sid, email_from,
// reply_to). A clinic needs a name, a phone, an IANA time zone, and at
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
	return c, errors.Join(errs...)
}
