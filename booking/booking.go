// Package booking acts on a clinic's booking system (issue 14 §3): an
// appointment completed enrolls the patient through the enroll service
// (no double entry at the front desk); an appointment booked cancels the
// patient's pending "book your next session" reminders; its cancellation
// brings them back while they are still useful. Each (clinic,
// appointment, event) is acted on once: a repeat gets the first outcome.
// Verifying the webhook's signature is the api package's job.
package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// Event is a booking system's event as it arrived (strings unparsed), so
// that every field's problem can be reported at once.
type Event struct {
	Event         string
	AppointmentID string
	OccurredAt    string
	Treatment     string
	StartsAt      string // appointment.booked and appointment.cancelled
	TreatedAt     string // appointment.completed
	SessionNumber int
	SeriesLength  int
	Patient       Patient
	Consent       Consent
}

// Patient is who the appointment is for.
type Patient struct {
	FirstName, LastName, Phone, Email, Timezone, Language string
}

// Consent is what the patient agreed to at the booking system, and the
// version of the wording they were shown.
type Consent struct {
	SMS, Email     bool
	WordingVersion string
}

// Store is what acting on booking events needs from storage.
type Store interface {
	ApplyBooking(ctx context.Context, c store.BookingChange) (store.BookingEvent, bool, error)
	RecordBookingEvent(ctx context.Context, ev store.BookingEvent) (store.BookingEvent, bool, error)
	BookingEvent(ctx context.Context, clinicID int64, appointmentID, event string) (store.BookingEvent, bool, error)
	HoldBookingReminders(ctx context.Context, clinicID, patientID int64, steps []string) (int, string, error)
}

// Enroller enrolls patients (enroll.Service).
type Enroller interface {
	Enroll(ctx context.Context, clinic aftercare.Clinic, req enroll.Request, idemKey string) (store.EnrollmentView, bool, error)
	Preview(ctx context.Context, clinic aftercare.Clinic, req enroll.Request) ([]aftercare.Message, protocol.Summary, error)
}

// Protocols gives the protocols a clinic plans with.
type Protocols interface {
	Library(ctx context.Context, clinicID int64) (*protocol.Library, error)
}

// Service acts on booking events.
type Service struct {
	Store     Store
	Enroller  Enroller
	Protocols Protocols
	// Observe, if set, is told the type of each event acted on (not
	// repeats, not invalid ones): metrics count them.
	Observe func(event string)
}

// Limits of an event's own fields.
const (
	maxAppointmentID = 200
	maxWording       = 100
)

// Handle validates ev for clinic and acts on it once. It returns the
// event's outcome (the first one for a repeat) and whether it is a
// repeat. Invalid input is EINVALID, every field's problem joined, named
// by its JSON path ("patient.phone"); nothing is written then. The
// context's actor is the audit trail's (aftercare.BookingActor).
func (s *Service) Handle(ctx context.Context, clinic aftercare.Clinic, ev Event) (store.BookingEvent, bool, error) {
	out, repeat, err := s.handle(ctx, clinic, ev)
	if err == nil && !repeat && s.Observe != nil {
		s.Observe(ev.Event)
	}
	return out, repeat, err
}

func (s *Service) handle(ctx context.Context, clinic aftercare.Clinic, ev Event) (store.BookingEvent, bool, error) {
	errs, occurred := s.check(ev)
	switch ev.Event {
	case aftercare.BookingCompleted:
		return s.completed(ctx, clinic, ev, occurred, errs)
	case aftercare.BookingBooked, aftercare.BookingCancelled:
		ch := store.BookingChange{ClinicID: clinic.ID, AppointmentID: strings.TrimSpace(ev.AppointmentID), Event: ev.Event,
			OccurredAt: occurred}
		if v := strings.TrimSpace(ev.StartsAt); v != "" || ev.Event == aftercare.BookingBooked {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				errs = append(errs, aftercare.FieldError("starts_at", "required: the appointment's time, RFC 3339 (e.g. 2026-12-24T10:00:00-05:00)"))
			}
			ch.StartsAt = t.UTC()
		}
		if strings.TrimSpace(ev.Patient.Phone) == "" && strings.TrimSpace(ev.Patient.Email) == "" {
			errs = append(errs, aftercare.FieldError("patient.phone", "required: the patient's phone or email, to find them"))
		}
		if strings.TrimSpace(ev.Patient.Phone) != "" {
			p, err := enroll.NormalizePhone(ev.Patient.Phone, enroll.RegionOf(clinic.Phone))
			errs = appendField(errs, err, "patient.")
			ch.Phone = p
		}
		e, err := enroll.NormalizeEmail(ev.Patient.Email)
		errs = appendField(errs, err, "patient.")
		ch.Email = e
		if len(errs) > 0 {
			return store.BookingEvent{}, false, errors.Join(errs...)
		}
		if ch.Steps, err = s.bookingSteps(ctx, clinic.ID); err != nil {
			return store.BookingEvent{}, false, err
		}
		return s.Store.ApplyBooking(ctx, ch)
	}
	return store.BookingEvent{}, false, errors.Join(errs...)
}

// check validates the fields every event has; it returns their problems
// and the time the event occurred.
func (s *Service) check(ev Event) ([]error, time.Time) {
	var errs []error
	if !slices.Contains(aftercare.BookingEvents, ev.Event) {
		if ev.Event == "" {
			errs = append(errs, aftercare.FieldError("event", "required: one of %s", strings.Join(aftercare.BookingEvents, ", ")))
		} else {
			errs = append(errs, aftercare.FieldError("event", "must be one of %s, not %q", strings.Join(aftercare.BookingEvents, ", "), clip(ev.Event)))
		}
	}
	id := strings.TrimSpace(ev.AppointmentID)
	switch {
	case id == "":
		errs = append(errs, aftercare.FieldError("appointment_id", "required: the booking system's id of the appointment"))
	case len(id) > maxAppointmentID || !utf8.ValidString(id) || strings.ContainsFunc(id, notPrintable):
		errs = append(errs, aftercare.FieldError("appointment_id", "must be printable text of at most %d bytes", maxAppointmentID))
	}
	occurred, err := time.Parse(time.RFC3339, strings.TrimSpace(ev.OccurredAt))
	if err != nil {
		errs = append(errs, aftercare.FieldError("occurred_at", "required: when the event happened, RFC 3339 (e.g. 2026-12-02T15:04:05Z)"))
	}
	return errs, occurred.UTC()
}

// completed enrolls the patient of a completed appointment.
func (s *Service) completed(ctx context.Context, clinic aftercare.Clinic, ev Event, occurred time.Time, errs []error) (store.BookingEvent, bool, error) {
	w := strings.TrimSpace(ev.Consent.WordingVersion)
	switch {
	case w == "":
		errs = append(errs, aftercare.FieldError("consent.wording_version", "required: the version of the consent wording the patient agreed to"))
	case len(w) > maxWording || !utf8.ValidString(w) || strings.ContainsFunc(w, notPrintable):
		errs = append(errs, aftercare.FieldError("consent.wording_version", "must be printable text of at most %d bytes", maxWording))
	}
	appt := strings.TrimSpace(ev.AppointmentID)
	req := enroll.Request{FirstName: ev.Patient.FirstName, LastName: ev.Patient.LastName, Phone: ev.Patient.Phone,
		Email: ev.Patient.Email, Timezone: ev.Patient.Timezone, Language: ev.Patient.Language,
		SMSConsent: ev.Consent.SMS, EmailConsent: ev.Consent.Email, Treatment: ev.Treatment, TreatedAt: ev.TreatedAt,
		SessionNumber: ev.SessionNumber, SeriesLength: ev.SeriesLength, ExternalRef: appt,
		Evidence: &enroll.Evidence{Method: aftercare.ConsentBookingSystem, WordingVersion: w,
			Detail: fmt.Sprintf("reported by the booking system of clinic %d (appointment %q)", clinic.ID, clip(appt))}}
	if len(errs) > 0 {
		// Every problem at once: the enrollment's own too.
		if _, _, err := s.Enroller.Preview(ctx, clinic, req); err != nil && aftercare.ErrorCode(err) == aftercare.EINVALID {
			errs = append(errs, renamed(err)...)
		}
		return store.BookingEvent{}, false, errors.Join(errs...)
	}
	if first, ok, err := s.Store.BookingEvent(ctx, clinic.ID, appt, aftercare.BookingCompleted); err != nil || ok {
		return first, ok, err
	}
	v, created, err := s.Enroller.Enroll(ctx, clinic, req, "")
	if err != nil {
		if aftercare.ErrorCode(err) == aftercare.EINVALID {
			return store.BookingEvent{}, false, errors.Join(renamed(err)...)
		}
		return store.BookingEvent{}, false, err
	}
	e := v.Enrollment
	detail := fmt.Sprintf("enrolled: enrollment %d, %s session %d of %d", e.ID, e.Treatment, e.SessionNumber, e.SeriesLength)
	if !created {
		detail = fmt.Sprintf("already enrolled for this appointment: enrollment %d", e.ID)
	}
	// A next appointment booked before this one was reported completed
	// holds the new plan's booking reminders.
	steps, err := s.bookingSteps(ctx, clinic.ID)
	if err != nil {
		return store.BookingEvent{}, false, err
	}
	held, standing, err := s.Store.HoldBookingReminders(ctx, clinic.ID, v.Patient.ID, steps)
	if err != nil {
		return store.BookingEvent{}, false, err
	}
	if held > 0 {
		detail += fmt.Sprintf("; %d booking reminder(s) held: appointment %q is booked", held, standing)
	}
	rec, _, err := s.Store.RecordBookingEvent(ctx, store.BookingEvent{ClinicID: clinic.ID, AppointmentID: appt,
		Event: aftercare.BookingCompleted, OccurredAt: occurred, PatientID: v.Patient.ID, EnrollmentID: e.ID,
		Outcome: store.BookingEnrolled, Detail: detail, Messages: held})
	return rec, false, err
}

// bookingSteps are the keys of the booking reminders of every protocol
// the clinic plans with.
func (s *Service) bookingSteps(ctx context.Context, clinicID int64) ([]string, error) {
	lib, err := s.Protocols.Library(ctx, clinicID)
	if err != nil {
		return nil, fmt.Errorf("booking: protocols of clinic %d: %w", clinicID, err)
	}
	var out []string
	for _, p := range lib.All() {
		for _, k := range p.BookingSteps() {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// enrollFields maps the enroll service's field names to the payload's.
var enrollFields = map[string]string{
	"first_name": "patient.first_name", "last_name": "patient.last_name", "phone": "patient.phone",
	"email": "patient.email", "timezone": "patient.timezone", "language": "patient.language",
	"sms_consent": "consent.sms", "email_consent": "consent.email", "external_ref": "appointment_id",
}

// renamed returns err's field problems named by the payload's fields.
func renamed(err error) []error {
	var out []error
	for _, e := range aftercare.AllErrors(err) {
		c := *e
		if f, ok := enrollFields[c.Field]; ok {
			c.Field = f
		}
		out = append(out, &c)
	}
	return out
}

// appendField appends err (a field error) under prefix.
func appendField(errs []error, err error, prefix string) []error {
	if err == nil {
		return errs
	}
	return append(errs, renamedWith(err, prefix)...)
}

func renamedWith(err error, prefix string) []error {
	var out []error
	for _, e := range aftercare.AllErrors(err) {
		c := *e
		c.Field = prefix + c.Field
		out = append(out, &c)
	}
	return out
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }

// clip shortens a value quoted back in an error.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
