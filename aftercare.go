// Package aftercare holds the domain of the aftercare daemon: clinics,
// patients, enrollments, the messages planned for them and the events that
// record each message's fate. It imports only the standard library and does
// no I/O; every other package builds on these types.
package aftercare

import (
	"slices"
	"time"
)

// Channel is a delivery channel for a message.
type Channel string

// The channels aftercare delivers on.
const (
	SMS   Channel = "sms"
	Email Channel = "email"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == SMS || c == Email }

// Status is the state of one message in the outbox. A message is always in
// exactly one state.
type Status string

// The message states. Scheduled and Sending are pending; Sent is accepted by
// the provider and awaiting a receipt; Delivered, Failed, Skipped and
// Cancelled are final.
const (
	StatusScheduled Status = "scheduled"
	StatusSending   Status = "sending"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusScheduled, StatusSending, StatusSent, StatusDelivered, StatusFailed, StatusSkipped, StatusCancelled}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Final reports whether the daemon will move s no further on its own. Sent
// is not final: a delivery receipt may still move it to delivered or
// failed. Only a person's act takes an ending back (store/machine.go):
// staff resending a failed message, or a patient opting back in after an
// opt-out cancelled their messages.
func (s Status) Final() bool {
	switch s {
	case StatusDelivered, StatusFailed, StatusSkipped, StatusCancelled:
		return true
	}
	return false
}

// Pending reports whether s is waiting to be sent.
func (s Status) Pending() bool { return s == StatusScheduled || s == StatusSending }

// Clock tells the time. Everything that schedules takes one so tests can
// move time without sleeping.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to a Clock.
type ClockFunc func() time.Time

// Now returns f().
func (f ClockFunc) Now() time.Time { return f() }

// SystemClock is the wall clock.
var SystemClock Clock = ClockFunc(time.Now)

// Clinic is a tenant: an aesthetic clinic with its own patients, staff, API
// key and sender settings.
type Clinic struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`    // E.164, given to patients to call
	Timezone string `json:"timezone"` // IANA zone, the default for its patients
	// BookingURL is where patients book their next session (optional).
	BookingURL string `json:"booking_url,omitempty"`
	// AlertEmail receives red-flag alerts from patient replies.
	AlertEmail string `json:"alert_email,omitempty"`
	// OnCallPhone receives red-flag alerts by SMS when set. A clinic has
	// at least one alert route: AlertEmail or OnCallPhone.
	OnCallPhone string `json:"on_call_phone,omitempty"`
	// AfterHoursPhone is the number patients are given to call outside
	// opening hours (optional; E.164).
	AfterHoursPhone string `json:"after_hours_phone,omitempty"`
	// SMSFrom is the clinic's Twilio number; MessagingServiceSID overrides it.
	SMSFrom             string `json:"sms_from,omitempty"`
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
	EmailFrom           string `json:"email_from,omitempty"`
	ReplyTo             string `json:"reply_to,omitempty"`

	// The settings planning uses (see ClinicPlanning).
	ClinicPlanning

	CreatedAt time.Time `json:"created_at"`
}

// ClinicPlanning holds a clinic's settings that shape its patients' plans.
// Zero values mean the daemon's defaults.
type ClinicPlanning struct {
	// DefaultLanguage is the language of patients enrolled without one
	// ("en" or "es"; "" means English).
	DefaultLanguage string `json:"default_language,omitempty"`
	// QuietHours is the clinic's window without texts, "21:00-08:00" in
	// the patient's local time; "" uses the daemon's quiet_hours.
	QuietHours string `json:"quiet_hours,omitempty"`
	// DailyTextCap is the most scheduled texts a patient gets in one local
	// day (0 means DefaultDailyTextCap; at most MaxDailyTextCap). Answers to a patient's own texts
	// are never capped.
	DailyTextCap int `json:"daily_text_cap,omitempty"`
	// WeeklyTextCap is the most scheduled texts in any 7 local days (0
	// means no weekly cap beyond the daily one).
	WeeklyTextCap int `json:"weekly_text_cap,omitempty"`
	// Treatments lists the treatments the clinic offers (protocol
	// treatment names); empty offers every treatment the daemon has a
	// protocol for.
	Treatments []string `json:"treatments,omitempty"`
}

// DefaultDailyTextCap is a clinic's daily text cap when it sets none.
const DefaultDailyTextCap = 2

// MaxDailyTextCap is the highest daily cap a clinic may set: the consent
// wording patients agree to promises at most 3 texts in a day.
const MaxDailyTextCap = 3

// Languages patients can be written to in; the first is the default.
var Languages = []string{"en", "es"}

// ValidLanguage reports whether lang is one of Languages.
func ValidLanguage(lang string) bool { return slices.Contains(Languages, lang) }

// FirstLanguage returns the first of candidates that is one of Languages,
// else the default (English): how a patient's language is settled from
// their own, the clinic's, and what else the caller knows, in its order.
func FirstLanguage(candidates ...string) string {
	for _, l := range candidates {
		if ValidLanguage(l) {
			return l
		}
	}
	return Languages[0]
}

// Patient is a person treated at a clinic. Phone and email are normalized
// (E.164, lower-case domain). Opt-outs outlive enrollments.
type Patient struct {
	ID        int64  `json:"id"`
	ClinicID  int64  `json:"clinic_id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	Email     string `json:"email,omitempty"`
	Timezone  string `json:"timezone"`
	// Language is the language the patient is written to in ("en", "es";
	// "" means the clinic's default language).
	Language    string    `json:"language,omitempty"`
	SMSOptOut   bool      `json:"sms_opt_out"`
	EmailOptOut bool      `json:"email_opt_out"`
	PhoneBad    string    `json:"phone_bad,omitempty"` // why the number cannot take texts, if known
	EmailBad    string    `json:"email_bad,omitempty"` // why the address cannot take mail, if known
	CreatedAt   time.Time `json:"created_at"`
}

// ConsentMethod says how consent was given or revoked.
type ConsentMethod string

// Consent methods.
const (
	ConsentFrontDesk ConsentMethod = "front_desk"
	ConsentWebForm   ConsentMethod = "web_form"
	ConsentAPI       ConsentMethod = "api"
	ConsentSMSReply  ConsentMethod = "sms_reply"
	ConsentLink      ConsentMethod = "unsubscribe_link"
	ConsentProvider  ConsentMethod = "provider"
)

// ConsentWordingVersion is the version of the consent wording shown to
// patients by this release; recorded with each consent as evidence. Bump
// it whenever the wording changes meaning, and keep the old wording in
// consentWordings.
const ConsentWordingVersion = "2026-12-v2"

// ConsentWording is what a patient is told they agree to, per channel, in
// one version. The numbers in it are the default protocol's (a test plans
// enrollments and checks them).
type ConsentWording struct {
	Version string `json:"version"`
	// Intro introduces both channels ("The patient agrees to ...").
	Intro string `json:"intro"`
	// SMS and Email are the words for each channel's consent.
	SMS   string `json:"sms"`
	Email string `json:"email"`
	// Note says where an old version's words come from, when they were
	// not stored as such at the time.
	Note string `json:"note,omitempty"`
}

// consentWordings holds every consent wording a release has shown, newest
// first: consent records name a version, and the words behind it stay
// retrievable as evidence.
var consentWordings = []ConsentWording{
	{
		Version: "2026-12-v2",
		Intro:   "The patient agrees to receive aftercare advice from the clinic after this treatment:",
		SMS: "By text message: up to 23 texts over about 6 weeks, most of them in the first 2 weeks, " +
			"and at most 3 in a day; after the last session of a series, one more about 6 months later. " +
			"Message and data rates may apply. Reply STOP at any time to end them, or HELP for help.",
		Email: "By email: up to 4 emails over about 6 weeks, the first with the full care guide; " +
			"after the last session of a series, one more about 6 months later. " +
			"Every email has an unsubscribe link that ends them.",
	},
	{
		Version: "2026-11-v1",
		Intro:   "Consent: the patient agrees to receive aftercare advice by",
		SMS:     "Text message (SMS)",
		Email:   "Email",
		Note: "Version 2026-11-v1 stored no wording of its own; these are the words the enroll form showed " +
			"beside its checkboxes, with the hint \"Recorded as consent given at the front desk, with today's date. " +
			"Patients can reply STOP or unsubscribe at any time.\" It did not say how many messages to expect.",
	},
}

// ConsentWordingFor returns the wording of a consent version; ok is false
// for a version no release has shown.
func ConsentWordingFor(version string) (w ConsentWording, ok bool) {
	for _, w := range consentWordings {
		if w.Version == version {
			return w, true
		}
	}
	return ConsentWording{}, false
}

// ConsentWordings returns every consent wording, newest first.
func ConsentWordings() []ConsentWording {
	return append([]ConsentWording(nil), consentWordings...)
}

// For returns the words for one channel.
func (w ConsentWording) For(ch Channel) string {
	if ch == Email {
		return w.Email
	}
	return w.SMS
}

// Consent is evidence of a patient granting or revoking one channel.
type Consent struct {
	ID             int64         `json:"id"`
	PatientID      int64         `json:"patient_id"`
	Channel        Channel       `json:"channel"`
	Granted        bool          `json:"granted"`
	At             time.Time     `json:"at"`
	Method         ConsentMethod `json:"method"`
	WordingVersion string        `json:"wording_version"`
	Detail         string        `json:"detail,omitempty"`
}

// Enrollment is one treatment session of a patient, from which the aftercare
// plan is built.
type Enrollment struct {
	ID            int64     `json:"id"`
	ClinicID      int64     `json:"clinic_id"`
	PatientID     int64     `json:"patient_id"`
	Treatment     string    `json:"treatment"`
	TreatedAt     time.Time `json:"treated_at"`
	SessionNumber int       `json:"session_number"`
	SeriesLength  int       `json:"series_length"`
	ExternalRef   string    `json:"external_ref,omitempty"`
	Cancelled     bool      `json:"cancelled"`
	// Protocol, ProtocolVersion and Language record the protocol the
	// enrollment was planned with; editing the protocol later never
	// changes a plan already made. Empty for enrollments made before
	// protocols were recorded (they used the default microneedling
	// protocol in English).
	Protocol        string    `json:"protocol,omitempty"`
	ProtocolVersion int       `json:"protocol_version,omitempty"`
	Language        string    `json:"language,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// SeriesFinished reports whether this is the last session of its series.
func (e Enrollment) SeriesFinished() bool { return e.SessionNumber >= e.SeriesLength }

// MessageKey names a message within its enrollment, as the outbox does
// (one row per step, channel and occurrence).
type MessageKey struct {
	Step       string
	Channel    Channel
	Occurrence int
}

// Key returns the message's outbox key within its enrollment.
func (m Message) Key() MessageKey { return MessageKey{m.Step, m.Channel, m.Occurrence} }

// Message is one planned delivery on one channel: a row of the outbox.
type Message struct {
	ID           int64     `json:"id"`
	EnrollmentID int64     `json:"enrollment_id"`
	ClinicID     int64     `json:"clinic_id"`
	PatientID    int64     `json:"patient_id"`
	Step         string    `json:"step"`
	Occurrence   int       `json:"occurrence"` // day number for daily steps, else 0
	Channel      Channel   `json:"channel"`
	SendAt       time.Time `json:"send_at"`
	StaleAt      time.Time `json:"stale_at"`
	Status       Status    `json:"status"`
	Attempts     int       `json:"attempts"`
	// NextAttemptAt is when a scheduled message may next be claimed.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	ProviderID    string    `json:"provider_id,omitempty"`
	ErrorCode     string    `json:"error_code,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	// Reason says why a message was skipped, cancelled or failed.
	Reason   string `json:"reason,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Body     string `json:"body"`
	HTMLBody string `json:"html_body,omitempty"`
	// Ambiguous is set when an attempt may or may not have reached the
	// provider (a crash or a timeout mid-send); the next attempt must look
	// the message up before sending again.
	Ambiguous bool `json:"ambiguous,omitempty"`
	// Recipient overrides the patient's own phone or email (alerts to
	// clinic staff about this patient).
	Recipient string `json:"recipient,omitempty"`
	// Urgent messages (replies to a patient's text, red-flag alerts) are
	// exempt from quiet hours: someone is waiting for them.
	Urgent bool `json:"urgent,omitempty"`
	// Answer marks a text answering a message the patient sent: it may
	// reach a patient who opted out of texts (they wrote to us); nothing
	// else may.
	Answer bool `json:"answer,omitempty"`
	// ConcernID is the concern (see Concern) an alert or answer is about.
	ConcernID int64 `json:"concern_id,omitempty"`
	// SentBy names the staff member who wrote a text from the console.
	SentBy    string    `json:"sent_by,omitempty"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
	Events    []Event   `json:"events,omitempty"`
}

// Event records one transition of a message (or a note on it).
type Event struct {
	ID        int64     `json:"id"`
	MessageID int64     `json:"message_id"`
	At        time.Time `json:"at"`
	From      Status    `json:"from,omitempty"`
	To        Status    `json:"to"`
	Detail    string    `json:"detail,omitempty"`
}

// HasAlertRoute reports whether the clinic can be told about a red flag:
// by alert email or by text to an on-call phone.
func (c Clinic) HasAlertRoute() bool { return c.AlertEmail != "" || c.OnCallPhone != "" }

// ConcernKind says why a concern needs the clinic.
type ConcernKind string

// Concern kinds.
const (
	// ConcernQuestion is an ordinary reply nobody at the clinic answered yet.
	ConcernQuestion ConcernKind = "question"
	// ConcernRedFlag is a reply that reads like a complication.
	ConcernRedFlag ConcernKind = "red_flag"
)

// ConcernStatus is where a concern stands.
type ConcernStatus string

// Concern statuses.
const (
	ConcernOpen         ConcernStatus = "open"
	ConcernAcknowledged ConcernStatus = "acknowledged"
	ConcernResolved     ConcernStatus = "resolved"
)

// Concern groups a patient's replies that need someone at the clinic: one
// per patient until it is resolved. Staff are alerted once per concern
// (again only if nobody acknowledged it in time) and the patient gets one
// answer per concern, however many texts they send.
type Concern struct {
	ID             int64         `json:"id"`
	ClinicID       int64         `json:"clinic_id"`
	PatientID      int64         `json:"patient_id"`
	Kind           ConcernKind   `json:"kind"`
	Status         ConcernStatus `json:"status"`
	Emergency      bool          `json:"emergency,omitempty"`
	Signs          string        `json:"signs,omitempty"` // which sign matched which words
	OpenedAt       time.Time     `json:"opened_at"`
	LastReplyAt    time.Time     `json:"last_reply_at"`
	Replies        int           `json:"replies"`
	AlertedAt      time.Time     `json:"alerted_at,omitzero"`
	Alerts         int           `json:"alerts"`
	AnsweredAt     time.Time     `json:"answered_at,omitzero"`
	AcknowledgedAt time.Time     `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string        `json:"acknowledged_by,omitempty"`
	ResolvedAt     time.Time     `json:"resolved_at,omitzero"`
	ResolvedBy     string        `json:"resolved_by,omitempty"`
	// AlertFailedAt is set when no route could deliver an alert about it.
	AlertFailedAt time.Time `json:"alert_failed_at,omitzero"`
	AlertFailure  string    `json:"alert_failure,omitempty"`
}

// Reply is an inbound SMS from a patient.
type Reply struct {
	ID         int64     `json:"id"`
	ClinicID   int64     `json:"clinic_id"`
	PatientID  int64     `json:"patient_id"`
	ProviderID string    `json:"provider_id"`
	Body       string    `json:"body"`
	Kind       string    `json:"kind"` // stop, start, help, red_flag, other
	At         time.Time `json:"at"`
}
