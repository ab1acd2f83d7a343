package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

func (s *Server) createEnrollment(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	var req enroll.Request
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	done, err := s.admit(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, created, err := s.enroller.Enroll(r.Context(), clinic, req, r.Header.Get("Idempotency-Key"))
	done()
	warnings := enroll.Warnings(req)
	if err != nil {
		s.fail(w, r, withWarnings(err, warnings))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/enrollments/"+strconv.FormatInt(v.Enrollment.ID, 10))
		s.log.InfoContext(r.Context(), "patient enrolled", "clinic_id", clinic.ID, "enrollment_id", v.Enrollment.ID,
			"patient_id", v.Patient.ID, "messages", len(v.Messages))
	}
	writeJSON(w, status, enrollmentAnswer{EnrollmentView: newEnrollmentView(v), Warnings: mapSlice(warnings, newInputWarning)})
}

// warned carries a request's warnings with its error to the error body.
type warned struct {
	error
	warnings []enroll.Warning
}

func (w *warned) Unwrap() error { return w.error }

func withWarnings(err error, ws []enroll.Warning) error {
	if len(ws) == 0 {
		return err
	}
	return &warned{error: err, warnings: ws}
}

func (s *Server) previewEnrollment(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	var req enroll.Request
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	msgs, sum, err := s.enroller.Preview(r.Context(), clinic, req)
	warnings := enroll.Warnings(req)
	if err != nil {
		s.fail(w, r, withWarnings(err, warnings))
		return
	}
	out := make([]previewMessage, len(msgs))
	for i, m := range msgs {
		out[i].Message = newMessage(m)
		out[i].Segments, out[i].Encoding = protocol.TextCost(m)
	}
	writeJSON(w, http.StatusOK, previewAnswer{Messages: out, Summary: newPlanSummary(sum),
		Warnings: mapSlice(warnings, newInputWarning)})
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, aftercare.FieldError("id", "must be a positive integer")
	}
	return id, nil
}

func (s *Server) getEnrollment(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.store.Enrollment(r.Context(), clinic.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: clinic.ID, Action: aftercare.AuditViewEnrollment,
		PatientID: v.Patient.ID, EnrollmentID: id}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newEnrollmentView(v))
}

func (s *Server) cancelEnrollment(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done, err := s.admit(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.store.CancelEnrollment(r.Context(), clinic.ID, id, "")
	done()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "enrollment cancelled", "clinic_id", clinic.ID, "enrollment_id", id, "cancelled_messages", n)
	v, err := s.store.Enrollment(r.Context(), clinic.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cancelAnswer{CancelledMessages: n, Enrollment: newEnrollmentView(v)})
}

// listMessages is the delivery log: filter by status, channel, step and a
// send-time range; page with after (the last id seen) and limit.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	f, err := messageFilter(r, clinic.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msgs, err := s.store.Messages(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: clinic.ID, Action: aftercare.AuditSearch,
		PatientID: f.PatientID, Detail: fmt.Sprintf("API delivery log: %d messages", len(msgs))}); err != nil {
		s.fail(w, r, err)
		return
	}
	page := messagesPage{Messages: make([]Message, len(msgs))}
	for i, m := range msgs {
		page.Messages[i] = newMessage(m)
	}
	if len(msgs) == f.Limit {
		page.NextAfter = &msgs[len(msgs)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

func messageFilter(r *http.Request, clinicID int64) (store.MessageFilter, error) {
	q := r.URL.Query()
	f := store.MessageFilter{ClinicID: clinicID, Limit: 100}
	if v := q.Get("status"); v != "" {
		if !aftercare.Status(v).Valid() {
			return f, aftercare.FieldError("status", "unknown status %q", v)
		}
		f.Status = aftercare.Status(v)
	}
	if v := q.Get("channel"); v != "" {
		if !aftercare.Channel(v).Valid() {
			return f, aftercare.FieldError("channel", "must be sms or email")
		}
		f.Channel = aftercare.Channel(v)
	}
	if v := q.Get("step"); v != "" {
		if len(v) > 64 {
			return f, aftercare.FieldError("step", "too long")
		}
		f.Step = v
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, aftercare.FieldError(p.name, "must be an RFC 3339 time")
			}
			*p.dst = t
		}
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return f, aftercare.FieldError("after", "must be a message id")
		}
		f.AfterID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, aftercare.FieldError("limit", "must be 1..1000")
		}
		f.Limit = n
	}
	if v := q.Get("patient_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, aftercare.FieldError("patient_id", "must be a patient id")
		}
		f.PatientID = n
	}
	return f, nil
}
