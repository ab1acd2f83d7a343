package api

import (
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// The API's JSON shapes. They are the API's contract with the clinics'
// systems, so they are defined here and filled from the domain and store
// types by the new* functions below, never by serialising those types:
// a field added to or renamed in a row type does not reach the wire until
// it is added here. testdata/golden pins every byte.

// Patient is a patient as the API shows one.
type Patient struct {
	ID        int64  `json:"id"`
	ClinicID  int64  `json:"clinic_id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	Email     string `json:"email,omitempty"`
	Timezone  string `json:"timezone"`
	// Language is the language the patient is written to in ("en",
	// "es"); empty means the clinic's default language.
	Language    string    `json:"language,omitempty"`
	SMSOptOut   bool      `json:"sms_opt_out"`
	EmailOptOut bool      `json:"email_opt_out"`
	PhoneBad    string    `json:"phone_bad,omitempty"`
	EmailBad    string    `json:"email_bad,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Consent is the evidence of a patient granting or revoking one channel.
type Consent struct {
	ID             int64     `json:"id"`
	PatientID      int64     `json:"patient_id"`
	Channel        string    `json:"channel"`
	Granted        bool      `json:"granted"`
	At             time.Time `json:"at"`
	Method         string    `json:"method"`
	WordingVersion string    `json:"wording_version"`
	Detail         string    `json:"detail,omitempty"`
}

// Enrollment is one treatment session of a patient.
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
	// Protocol, ProtocolVersion and Language name the protocol the
	// enrollment was planned with (empty for enrollments made before
	// they were recorded).
	Protocol        string    `json:"protocol,omitempty"`
	ProtocolVersion int       `json:"protocol_version,omitempty"`
	Language        string    `json:"language,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// ClinicSettings is the calling clinic's settings as GET and PATCH
// /v1/clinic show them. It holds no secrets and none of the alert routes
// or sender settings (those are changed in the console or by the
// operator). An empty string or 0 means the daemon's default: English,
// the daemon's quiet hours, aftercare.DefaultDailyTextCap texts a day, no
// weekly cap, every treatment the daemon has a protocol for.
type ClinicSettings struct {
	ID              int64    `json:"id"`
	Name            string   `json:"name"`
	Phone           string   `json:"phone"`
	Timezone        string   `json:"timezone"`
	BookingURL      string   `json:"booking_url"`
	AfterHoursPhone string   `json:"after_hours_phone"`
	DefaultLanguage string   `json:"default_language"`
	QuietHours      string   `json:"quiet_hours"`
	DailyTextCap    int      `json:"daily_text_cap"`
	WeeklyTextCap   int      `json:"weekly_text_cap"`
	Treatments      []string `json:"treatments"`
}

// Message is one planned delivery on one channel, with its events when
// the answer includes them.
type Message struct {
	ID            int64     `json:"id"`
	EnrollmentID  int64     `json:"enrollment_id"`
	ClinicID      int64     `json:"clinic_id"`
	PatientID     int64     `json:"patient_id"`
	Step          string    `json:"step"`
	Occurrence    int       `json:"occurrence"`
	Channel       string    `json:"channel"`
	SendAt        time.Time `json:"send_at"`
	StaleAt       time.Time `json:"stale_at"`
	Status        string    `json:"status"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	ProviderID    string    `json:"provider_id,omitempty"`
	ErrorCode     string    `json:"error_code,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Subject       string    `json:"subject,omitempty"`
	Body          string    `json:"body"`
	HTMLBody      string    `json:"html_body,omitempty"`
	Ambiguous     bool      `json:"ambiguous,omitempty"`
	Recipient     string    `json:"recipient,omitempty"`
	Urgent        bool      `json:"urgent,omitempty"`
	Answer        bool      `json:"answer,omitempty"`
	ConcernID     int64     `json:"concern_id,omitempty"`
	SentBy        string    `json:"sent_by,omitempty"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at"`
	Events        []Event   `json:"events,omitempty"`
}

// Event is one transition of a message (or a note on it).
type Event struct {
	ID        int64     `json:"id"`
	MessageID int64     `json:"message_id"`
	At        time.Time `json:"at"`
	From      string    `json:"from,omitempty"`
	To        string    `json:"to"`
	Detail    string    `json:"detail,omitempty"`
}

// Reply is a text a patient sent.
type Reply struct {
	ID         int64     `json:"id"`
	ClinicID   int64     `json:"clinic_id"`
	PatientID  int64     `json:"patient_id"`
	ProviderID string    `json:"provider_id"`
	Body       string    `json:"body"`
	Kind       string    `json:"kind"`
	At         time.Time `json:"at"`
}

// Concern is a patient's replies that need someone at the clinic, and
// what the clinic did about them.
type Concern struct {
	ID             int64     `json:"id"`
	ClinicID       int64     `json:"clinic_id"`
	PatientID      int64     `json:"patient_id"`
	Kind           string    `json:"kind"`
	Status         string    `json:"status"`
	Emergency      bool      `json:"emergency,omitempty"`
	Signs          string    `json:"signs,omitempty"`
	OpenedAt       time.Time `json:"opened_at"`
	LastReplyAt    time.Time `json:"last_reply_at"`
	Replies        int       `json:"replies"`
	AlertedAt      time.Time `json:"alerted_at,omitzero"`
	Alerts         int       `json:"alerts"`
	AnsweredAt     time.Time `json:"answered_at,omitzero"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	ResolvedBy     string    `json:"resolved_by,omitempty"`
	AlertFailedAt  time.Time `json:"alert_failed_at,omitzero"`
	AlertFailure   string    `json:"alert_failure,omitempty"`
}

// AuditEntry is one row of the audit trail.
type AuditEntry struct {
	ID           int64     `json:"id"`
	ClinicID     int64     `json:"clinic_id,omitempty"`
	At           time.Time `json:"at"`
	Actor        Actor     `json:"actor"`
	Action       string    `json:"action"`
	PatientID    int64     `json:"patient_id,omitempty"`
	EnrollmentID int64     `json:"enrollment_id,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

// Actor is who did what an audit row records.
type Actor struct {
	Kind  string `json:"kind"`
	ID    int64  `json:"id,omitempty"`
	Label string `json:"label,omitempty"`
	IP    string `json:"ip,omitempty"`
}

// EnrollmentView is an enrollment with its patient, the patient's
// consents, its messages and the patient's replies: the answer to reading
// an enrollment.
type EnrollmentView struct {
	Enrollment Enrollment `json:"enrollment"`
	Patient    Patient    `json:"patient"`
	Consents   []Consent  `json:"consents"`
	Messages   []Message  `json:"messages"`
	Replies    []Reply    `json:"replies,omitempty"`
}

// PatientExport is everything aftercare holds about one patient, the
// document that answers an access request. The API, the console and the
// command line (`aftercare patient export`) all hand out this one shape.
type PatientExport struct {
	ExportedAt  time.Time            `json:"exported_at"`
	Patient     Patient              `json:"patient"`
	ErasedAt    time.Time            `json:"erased_at,omitzero"`
	Consents    []Consent            `json:"consents"`
	Enrollments []ExportedEnrollment `json:"enrollments"`
	Replies     []Reply              `json:"replies"`
	Concerns    []Concern            `json:"concerns"`
	Audit       []AuditEntry         `json:"audit"`
	Notes       []string             `json:"notes,omitempty"`
	// CheckinAnswers are the patient's answers to check-in questions
	// (absent when there are none).
	CheckinAnswers []CheckinAnswer `json:"checkin_answers,omitempty"`
}

// CheckinAnswer is a patient's answer to a check-in question: the day
// after the treatment it was asked on, "1", "2" or "3" ("" for free text)
// and what it means (healing, not_healing, red_flag).
type CheckinAnswer struct {
	ID           int64     `json:"id"`
	EnrollmentID int64     `json:"enrollment_id"`
	ReplyID      int64     `json:"reply_id"`
	MessageID    int64     `json:"message_id"`
	Step         string    `json:"step"`
	Day          int       `json:"day"`
	Answer       string    `json:"answer"`
	Outcome      string    `json:"outcome"`
	FollowUpID   int64     `json:"follow_up_id,omitempty"`
	At           time.Time `json:"at"`
}

// WithCheckinAnswers adds a patient's check-in answers to their export.
func (x PatientExport) WithCheckinAnswers(as []aftercare.CheckinAnswer) PatientExport {
	x.CheckinAnswers = nil
	for _, a := range as {
		x.CheckinAnswers = append(x.CheckinAnswers, CheckinAnswer{ID: a.ID, EnrollmentID: a.EnrollmentID, ReplyID: a.ReplyID,
			MessageID: a.MessageID, Step: a.Step, Day: a.Day, Answer: a.Answer, Outcome: a.Outcome, FollowUpID: a.FollowUpID, At: a.At})
	}
	return x
}

// ExportedEnrollment is an enrollment in a PatientExport, with every
// message (bodies and events) planned or sent for it.
type ExportedEnrollment struct {
	Enrollment
	BodiesPurgedAt time.Time `json:"bodies_purged_at,omitzero"`
	Messages       []Message `json:"messages"`
}

// Erasure is the answer to erasing a patient: what was removed and kept.
type Erasure struct {
	PatientID          int64 `json:"patient_id"`
	CancelledMessages  int   `json:"cancelled_messages"`
	ScrubbedMessages   int   `json:"scrubbed_messages"`
	ScrubbedReplies    int   `json:"scrubbed_replies"`
	KeptOptOuts        int   `json:"kept_opt_outs"`
	CheckpointComplete bool  `json:"checkpoint_complete"`
}

// enrollmentAnswer is the answer to an enrollment: the stored enrollment
// and what in the request looks like a mistake (warnings, e.g. an email
// domain typo), which did not stop it.
type enrollmentAnswer struct {
	EnrollmentView
	Warnings []inputWarning `json:"warnings,omitempty"`
}

// inputWarning is a likely mistake in a request that did not stop it.
type inputWarning struct {
	Field      string `json:"field"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion,omitempty"`
}

// cancelAnswer is the answer to cancelling an enrollment.
type cancelAnswer struct {
	CancelledMessages int            `json:"cancelled_messages"`
	Enrollment        EnrollmentView `json:"enrollment"`
}

// messagesPage is a page of the delivery log; NextAfter, when the page is
// full, is the after= that reads the next one.
type messagesPage struct {
	Messages  []Message `json:"messages"`
	NextAfter *int64    `json:"next_after,omitempty"`
}

// auditPage is a page of the audit trail; NextBefore, when the page is
// full, is the before= that reads the next one.
type auditPage struct {
	Audit      []AuditEntry `json:"audit"`
	NextBefore *int64       `json:"next_before,omitempty"`
}

// previewAnswer is the plan an enrollment would get, stored nowhere.
type previewAnswer struct {
	Messages []previewMessage `json:"messages"`
	Summary  planSummary      `json:"summary"`
	Warnings []inputWarning   `json:"warnings,omitempty"`
}

// previewMessage is a previewed message with what a text costs: its SMS
// segments and encoding ("gsm-7", or "ucs-2" for a name outside GSM-7).
type previewMessage struct {
	Message
	Segments int    `json:"segments,omitempty"`
	Encoding string `json:"encoding,omitempty"`
}

// planSummary sums up a previewed plan for staff (see protocol.Summary).
type planSummary struct {
	Texts        int        `json:"texts"`
	Emails       int        `json:"emails"`
	Segments     int        `json:"segments"`
	UnicodeTexts int        `json:"unicode_texts"`
	Late         bool       `json:"late"`
	LateBy       string     `json:"late_by,omitempty"`
	Skipped      []planSkip `json:"skipped"`
	Notes        []string   `json:"notes"`
}

// planSkip is one message of a previewed plan that will not be sent.
type planSkip struct {
	Step       string `json:"step"`
	Title      string `json:"title"`
	Channel    string `json:"channel"`
	Occurrence int    `json:"occurrence,omitempty"`
	Reason     string `json:"reason"`
}

// mapSlice maps each element of in with f, keeping a nil list nil (null
// on the wire) and an empty one empty ([]).
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// cloneStrings copies a list of strings, keeping nil nil.
func cloneStrings(in []string) []string {
	if in == nil {
		return nil
	}
	return append([]string{}, in...)
}

func newPatient(p aftercare.Patient) Patient {
	return Patient{ID: p.ID, ClinicID: p.ClinicID, FirstName: p.FirstName, LastName: p.LastName, Phone: p.Phone,
		Email: p.Email, Timezone: p.Timezone, Language: p.Language, SMSOptOut: p.SMSOptOut, EmailOptOut: p.EmailOptOut,
		PhoneBad: p.PhoneBad, EmailBad: p.EmailBad, CreatedAt: p.CreatedAt}
}

func newConsent(c aftercare.Consent) Consent {
	return Consent{ID: c.ID, PatientID: c.PatientID, Channel: string(c.Channel), Granted: c.Granted, At: c.At,
		Method: string(c.Method), WordingVersion: c.WordingVersion, Detail: c.Detail}
}

func newEnrollment(e aftercare.Enrollment) Enrollment {
	return Enrollment{ID: e.ID, ClinicID: e.ClinicID, PatientID: e.PatientID, Treatment: e.Treatment,
		TreatedAt: e.TreatedAt, SessionNumber: e.SessionNumber, SeriesLength: e.SeriesLength,
		ExternalRef: e.ExternalRef, Cancelled: e.Cancelled, Protocol: e.Protocol, ProtocolVersion: e.ProtocolVersion,
		Language: e.Language, CreatedAt: e.CreatedAt}
}

// newClinicSettings shows a clinic's settings; treatments is always a
// list ([] for every treatment), never null.
func newClinicSettings(c aftercare.Clinic) ClinicSettings {
	ts := append([]string{}, c.Treatments...)
	return ClinicSettings{ID: c.ID, Name: c.Name, Phone: c.Phone, Timezone: c.Timezone, BookingURL: c.BookingURL,
		AfterHoursPhone: c.AfterHoursPhone, DefaultLanguage: c.DefaultLanguage, QuietHours: c.QuietHours,
		DailyTextCap: c.DailyTextCap, WeeklyTextCap: c.WeeklyTextCap, Treatments: ts}
}

func newMessage(m aftercare.Message) Message {
	return Message{ID: m.ID, EnrollmentID: m.EnrollmentID, ClinicID: m.ClinicID, PatientID: m.PatientID,
		Step: m.Step, Occurrence: m.Occurrence, Channel: string(m.Channel), SendAt: m.SendAt, StaleAt: m.StaleAt,
		Status: string(m.Status), Attempts: m.Attempts, NextAttemptAt: m.NextAttemptAt, ProviderID: m.ProviderID,
		ErrorCode: m.ErrorCode, LastError: m.LastError, Reason: m.Reason, Subject: m.Subject, Body: m.Body,
		HTMLBody: m.HTMLBody, Ambiguous: m.Ambiguous, Recipient: m.Recipient, Urgent: m.Urgent, Answer: m.Answer,
		ConcernID: m.ConcernID, SentBy: m.SentBy, SentAt: m.SentAt, UpdatedAt: m.UpdatedAt,
		Events: mapSlice(m.Events, newEvent)}
}

func newEvent(e aftercare.Event) Event {
	return Event{ID: e.ID, MessageID: e.MessageID, At: e.At, From: string(e.From), To: string(e.To), Detail: e.Detail}
}

func newReply(r aftercare.Reply) Reply {
	return Reply{ID: r.ID, ClinicID: r.ClinicID, PatientID: r.PatientID, ProviderID: r.ProviderID, Body: r.Body,
		Kind: r.Kind, At: r.At}
}

func newConcern(c aftercare.Concern) Concern {
	return Concern{ID: c.ID, ClinicID: c.ClinicID, PatientID: c.PatientID, Kind: string(c.Kind),
		Status: string(c.Status), Emergency: c.Emergency, Signs: c.Signs, OpenedAt: c.OpenedAt,
		LastReplyAt: c.LastReplyAt, Replies: c.Replies, AlertedAt: c.AlertedAt, Alerts: c.Alerts,
		AnsweredAt: c.AnsweredAt, AcknowledgedAt: c.AcknowledgedAt, AcknowledgedBy: c.AcknowledgedBy,
		ResolvedAt: c.ResolvedAt, ResolvedBy: c.ResolvedBy, AlertFailedAt: c.AlertFailedAt,
		AlertFailure: c.AlertFailure}
}

func newAuditEntry(e aftercare.AuditEntry) AuditEntry {
	return AuditEntry{ID: e.ID, ClinicID: e.ClinicID, At: e.At,
		Actor:  Actor{Kind: string(e.Actor.Kind), ID: e.Actor.ID, Label: e.Actor.Label, IP: e.Actor.IP},
		Action: string(e.Action), PatientID: e.PatientID, EnrollmentID: e.EnrollmentID, Detail: e.Detail}
}

func newEnrollmentView(v store.EnrollmentView) EnrollmentView {
	return EnrollmentView{Enrollment: newEnrollment(v.Enrollment), Patient: newPatient(v.Patient),
		Consents: mapSlice(v.Consents, newConsent), Messages: mapSlice(v.Messages, newMessage),
		Replies: mapSlice(v.Replies, newReply)}
}

// NewPatientExport is the export document of a store.PatientExport: what
// the API, the console and the command line hand out.
func NewPatientExport(x store.PatientExport) PatientExport {
	return PatientExport{ExportedAt: x.ExportedAt, Patient: newPatient(x.Patient), ErasedAt: x.ErasedAt,
		Consents: mapSlice(x.Consents, newConsent),
		Enrollments: mapSlice(x.Enrollments, func(e store.ExportedEnrollment) ExportedEnrollment {
			return ExportedEnrollment{Enrollment: newEnrollment(e.Enrollment), BodiesPurgedAt: e.BodiesPurgedAt,
				Messages: mapSlice(e.Messages, newMessage)}
		}),
		Replies: mapSlice(x.Replies, newReply), Concerns: mapSlice(x.Concerns, newConcern),
		Audit: mapSlice(x.Audit, newAuditEntry), Notes: cloneStrings(x.Notes)}
}

func newErasure(e store.Erasure) Erasure {
	return Erasure{PatientID: e.PatientID, CancelledMessages: e.CancelledMessages, ScrubbedMessages: e.ScrubbedMessages,
		ScrubbedReplies: e.ScrubbedReplies, KeptOptOuts: e.KeptOptOuts, CheckpointComplete: e.CheckpointComplete}
}

func newInputWarning(w enroll.Warning) inputWarning {
	return inputWarning{Field: w.Field, Message: w.Message, Suggestion: w.Suggestion}
}

func newPlanSummary(s protocol.Summary) planSummary {
	return planSummary{Texts: s.Texts, Emails: s.Emails, Segments: s.Segments, UnicodeTexts: s.UnicodeTexts,
		Late: s.Late, LateBy: s.LateBy, Notes: cloneStrings(s.Notes),
		Skipped: mapSlice(s.Skipped, func(k protocol.Skip) planSkip {
			return planSkip{Step: k.Step, Title: k.Title, Channel: string(k.Channel), Occurrence: k.Occurrence, Reason: k.Reason}
		})}
}

// StatsPage is GET /v1/stats: a clinic's outcomes for the enrollments
// treated from From to To (local dates in Timezone), per week (Monday to
// Sunday) and treatment. Each row is a cohort: the enrollments treated that
// week, and what has happened to them since. Rates are percentages
// rounded to one decimal, null when there is nothing to divide by.
//
// Check-in answers by outcome, booking-link clicks and booking events
// join StatsRow as fields of their own when those sources exist.
type StatsPage struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Timezone  string `json:"timezone"`
	Treatment string `json:"treatment,omitempty"`
	// RebookWindowDays is how soon the next session must be treated to
	// count as a rebooking.
	RebookWindowDays int `json:"rebook_window_days"`
	// Weeks has every week of the range in order (over the treatments
	// kept), with or without enrollments; Rows only weeks and treatments
	// with enrollments; Total the whole range.
	Weeks []StatsRow `json:"weeks"`
	Rows  []StatsRow `json:"rows"`
	Total StatsRow   `json:"total"`
}

// StatsRow is the outcome of one week's (or a range's) enrollments.
type StatsRow struct {
	// Week is the Monday (YYYY-MM-DD), absent in the total.
	Week string `json:"week,omitempty"`
	// Treatment is absent in weeks and the total.
	Treatment   string         `json:"treatment,omitempty"`
	Enrollments int            `json:"enrollments"`
	Patients    int            `json:"patients"`
	SMS         ChannelStats   `json:"sms"`
	Email       ChannelStats   `json:"email"`
	OptOuts     StatsOptOuts   `json:"opt_outs"`
	Replies     int            `json:"replies"`
	RedFlags    StatsRedFlags  `json:"red_flags"`
	Rebooking   StatsRebooking `json:"rebooking"`
	Booking     StatsBooking   `json:"booking"`
	Checkins    StatsCheckins  `json:"checkins"`
}

// ChannelStats counts one channel's messages. DeliveredPct is delivered
// over the messages that left the outbox (sent, delivered, failed); an
// email accepted by the mail server counts as delivered.
type ChannelStats struct {
	Planned      int             `json:"planned"`
	Sent         int             `json:"sent"`
	Delivered    int             `json:"delivered"`
	Failed       int             `json:"failed"`
	Cancelled    int             `json:"cancelled"`
	DeliveredPct *float64        `json:"delivered_pct"`
	Failures     []FailureReason `json:"failures"`
}

// FailureReason is how many messages failed for one reason.
type FailureReason struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// StatsOptOuts counts patients who opted out of each channel themselves,
// and their share of the row's patients.
type StatsOptOuts struct {
	SMS      int      `json:"sms"`
	SMSPct   *float64 `json:"sms_pct"`
	Email    int      `json:"email"`
	EmailPct *float64 `json:"email_pct"`
}

// StatsRedFlags counts red-flag concerns and how long staff took to
// acknowledge them (seconds; null with none acknowledged).
type StatsRedFlags struct {
	Opened           int    `json:"opened"`
	Acknowledged     int    `json:"acknowledged"`
	Unacknowledged   int    `json:"unacknowledged"`
	AckMedianSeconds *int64 `json:"ack_median_seconds"`
	AckWorstSeconds  *int64 `json:"ack_worst_seconds"`
}

// StatsRebooking is rebooking within the window: of the enrollments of an
// unfinished series, those whose patient has a later enrollment treated
// within RebookWindowDays; Pending are not rebooked yet with the window
// still open.
type StatsRebooking struct {
	SeriesOpen int      `json:"series_open"`
	Rebooked   int      `json:"rebooked"`
	Pending    int      `json:"pending"`
	Pct        *float64 `json:"pct"`
}

// StatsBooking is what the enrollments' patients did about their next
// session: clicks on the booking link in their texts and emails (and the
// enrollments clicked, with their share of the enrollments), and the
// appointments the clinic's booking system said they booked or cancelled.
type StatsBooking struct {
	LinkClicks            int      `json:"link_clicks"`
	EnrollmentsClicked    int      `json:"enrollments_clicked"`
	EnrollmentsClickedPct *float64 `json:"enrollments_clicked_pct"`
	AppointmentsBooked    int      `json:"appointments_booked"`
	AppointmentsCancelled int      `json:"appointments_cancelled"`
}

// StatsCheckins counts the answers to the enrollments' check-in questions
// by what they mean, the enrollments that answered, and those whose
// answers said at least once "not healing as expected" or named a red
// flag.
type StatsCheckins struct {
	Healing               int `json:"healing"`
	NotHealing            int `json:"not_healing"`
	RedFlag               int `json:"red_flag"`
	EnrollmentsAnswered   int `json:"enrollments_answered"`
	EnrollmentsNotHealing int `json:"enrollments_not_healing"`
}

// BookingEvent is the payload a clinic's booking system posts to
// /v1/webhooks/booking/{clinic_id} (README: Booking systems). Fields an
// event does not use are left out; unknown fields are ignored, so a
// booking system may send more.
type BookingEvent struct {
	// Event is appointment.completed, appointment.booked or
	// appointment.cancelled.
	Event         string `json:"event"`
	AppointmentID string `json:"appointment_id"`
	OccurredAt    string `json:"occurred_at"`
	Treatment     string `json:"treatment,omitempty"`
	// StartsAt is the appointment's time (booked and cancelled).
	StartsAt string `json:"starts_at,omitempty"`
	// TreatedAt, SessionNumber and SeriesLength describe a completed
	// appointment's session.
	TreatedAt     string         `json:"treated_at,omitempty"`
	SessionNumber int            `json:"session_number,omitempty"`
	SeriesLength  int            `json:"series_length,omitempty"`
	Patient       BookingPatient `json:"patient"`
	Consent       BookingConsent `json:"consent"`
}

// BookingPatient is the patient of a booking event.
type BookingPatient struct {
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
	Timezone  string `json:"timezone,omitempty"`
	Language  string `json:"language,omitempty"`
}

// BookingConsent is the consent a booking system collected.
type BookingConsent struct {
	SMS            bool   `json:"sms"`
	Email          bool   `json:"email"`
	WordingVersion string `json:"wording_version,omitempty"`
}

// BookingResult answers a booking event: what aftercare did with it (the
// same answer, with Aftercare-Repeat: true, for a repeat).
type BookingResult struct {
	Event         string    `json:"event"`
	AppointmentID string    `json:"appointment_id"`
	Outcome       string    `json:"outcome"`
	Detail        string    `json:"detail,omitempty"`
	PatientID     int64     `json:"patient_id,omitempty"`
	EnrollmentID  int64     `json:"enrollment_id,omitempty"`
	Messages      int       `json:"messages"`
	ReceivedAt    time.Time `json:"received_at"`
}

func newBookingResult(e store.BookingEvent) BookingResult {
	return BookingResult{Event: e.Event, AppointmentID: e.AppointmentID, Outcome: e.Outcome, Detail: e.Detail,
		PatientID: e.PatientID, EnrollmentID: e.EnrollmentID, Messages: e.Messages, ReceivedAt: e.ReceivedAt}
}
