package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/booking"
	"github.com/aftercare/aftercare/store"
)

// The booking webhook: POST /v1/webhooks/booking/{clinic_id}, signed with
// the clinic's booking secret.

// Signature headers of the booking webhook.
const (
	HeaderBookingTimestamp = "Aftercare-Timestamp"
	HeaderBookingSignature = "Aftercare-Signature"
	// HeaderBookingRepeat is "true" on the answer to an event received
	// before.
	HeaderBookingRepeat = "Aftercare-Repeat"
)

// BookingWindow is how far a request's timestamp may be from now.
const BookingWindow = 5 * time.Minute

// BookingHandler acts on a verified booking event (booking.Service).
type BookingHandler interface {
	Handle(ctx context.Context, clinic aftercare.Clinic, ev booking.Event) (store.BookingEvent, bool, error)
}

// Booking configures the booking webhook.
type Booking struct {
	// Secrets returns the secrets that verify a clinic's requests now
	// (store.Store.BookingSecrets).
	Secrets func(ctx context.Context, clinicID int64) ([]string, error)
	Handler BookingHandler
	// Clock is the time the timestamps are checked against.
	Clock aftercare.Clock
	// Rejected is told about each refused request (metrics); optional.
	Rejected func(endpoint, reason string)
}

// EnableBooking adds the booking webhook.
func (s *Server) EnableBooking(b Booking) {
	if b.Rejected == nil {
		b.Rejected = func(string, string) {}
	}
	s.mux.HandleFunc("POST /v1/webhooks/booking/{clinic_id}", func(w http.ResponseWriter, r *http.Request) {
		s.bookingWebhook(w, r, b)
	})
}

// errBadSignature is the one answer to every signature problem: which one
// it was is not told.
var errBadSignature = &httpError{status: http.StatusUnauthorized, code: "bad_signature",
	msg: "invalid signature or timestamp: sign with the clinic's booking secret (see README, Booking systems)"}

func (s *Server) bookingWebhook(w http.ResponseWriter, r *http.Request, b Booking) {
	ctx := r.Context()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			b.Rejected("booking", "too_large")
			s.fail(w, r, &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("body exceeds %d bytes", MaxBodyBytes)})
			return
		}
		s.fail(w, r, &httpError{status: http.StatusBadRequest, code: "bad_body", msg: "could not read the request body"})
		return
	}
	clinicID, err := strconv.ParseInt(r.PathValue("clinic_id"), 10, 64)
	if err != nil || clinicID <= 0 {
		b.Rejected("booking", "bad signature")
		s.fail(w, r, errBadSignature)
		return
	}
	secrets, err := b.Secrets(ctx, clinicID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !verifyBooking(secrets, r.Header.Get(HeaderBookingTimestamp), r.Header.Get(HeaderBookingSignature), body, b.Clock.Now()) {
		b.Rejected("booking", "bad signature")
		s.fail(w, r, errBadSignature)
		return
	}
	clinic, err := s.store.Clinic(ctx, clinicID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ev, err := decodeBooking(r, body)
	if err != nil {
		b.Rejected("booking", "invalid")
		s.fail(w, r, err)
		return
	}
	ctx = aftercare.WithActor(ctx, aftercare.BookingActor(clinicID, remoteIP(r)))
	done, err := s.admit(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, repeat, err := b.Handler.Handle(ctx, clinic, booking.Event{Event: ev.Event, AppointmentID: ev.AppointmentID,
		OccurredAt: ev.OccurredAt, Treatment: ev.Treatment, StartsAt: ev.StartsAt, TreatedAt: ev.TreatedAt,
		SessionNumber: ev.SessionNumber, SeriesLength: ev.SeriesLength,
		Patient: booking.Patient{FirstName: ev.Patient.FirstName, LastName: ev.Patient.LastName, Phone: ev.Patient.Phone,
			Email: ev.Patient.Email, Timezone: ev.Patient.Timezone, Language: ev.Patient.Language},
		Consent: booking.Consent{SMS: ev.Consent.SMS, Email: ev.Consent.Email, WordingVersion: ev.Consent.WordingVersion}})
	done()
	if err != nil {
		if aftercare.ErrorCode(err) == aftercare.EINVALID {
			b.Rejected("booking", "invalid")
		}
		s.writeError(w, r, err)
		return
	}
	// Ids and words only: not the appointment id (the booking system's
	// own text) nor anything about the patient.
	s.log.InfoContext(ctx, "booking event", "clinic_id", clinicID, "event", out.Event, "outcome", out.Outcome,
		"repeat", repeat, "patient_id", out.PatientID, "enrollment_id", out.EnrollmentID, "messages", out.Messages)
	if repeat {
		w.Header().Set(HeaderBookingRepeat, "true")
	}
	writeJSON(w, http.StatusOK, newBookingResult(out))
}

// decodeBooking reads a booking event's JSON (application/json, valid
// UTF-8, one object).
func decodeBooking(r *http.Request, body []byte) (BookingEvent, error) {
	var ev BookingEvent
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		return ev, &httpError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "Content-Type must be application/json"}
	}
	if !utf8.Valid(body) {
		return ev, &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&ev); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute) && ute.Field == "":
			return ev, aftercare.Errorf(aftercare.EINVALID, "body must be a JSON object")
		case errors.As(err, &ute):
			return ev, aftercare.FieldError(ute.Field, "must be a %s", ute.Type.String())
		case errors.As(err, &se):
			return ev, &httpError{status: http.StatusBadRequest, code: "bad_json", msg: fmt.Sprintf("malformed JSON at byte %d", se.Offset)}
		}
		return ev, &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "malformed JSON body"}
	}
	if dec.More() {
		return ev, &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "trailing data after the JSON object"}
	}
	return ev, nil
}

// verifyBooking checks a booking request's signature: the timestamp (unix
// seconds) within BookingWindow of now, and one of the header's v1=
// values the hex HMAC-SHA256 of timestamp + "." + body under one of the
// secrets, compared in constant time.
func verifyBooking(secrets []string, timestamp, header string, body []byte, now time.Time) bool {
	timestamp = strings.TrimSpace(timestamp)
	if len(secrets) == 0 || timestamp == "" || len(timestamp) > 12 || len(header) > 1024 {
		return false
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > BookingWindow || d < -BookingWindow {
		return false
	}
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
			sigs = append(sigs, sig)
		}
	}
	ok := false
	for _, secret := range secrets {
		want := SignBooking(secret, timestamp, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				ok = true
			}
		}
	}
	return ok
}

// SignBooking returns the HMAC-SHA256 of timestamp + "." + body under
// secret: what a booking system sends, hex-encoded, as
// "Aftercare-Signature: v1=<hex>".
func SignBooking(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}
