package api

import (
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
	writeJSON(w, status, enrollmentAnswer{EnrollmentView: v, Warnings: warnings})
}

// enrollmentAnswer is the answer to an enrollment: the stored enrollment
// and what in the request looks like a mistake (warnings, e.g. an email
// domain typo), which did not stop it.
type enrollmentAnswer struct {
	store.EnrollmentView
	Warnings []enroll.Warning `json:"warnings,omitempty"`
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
	msgs, err := s.enroller.Preview(clinic, req)
	warnings := enroll.Warnings(req)
	if err != nil {
		s.fail(w, r, withWarnings(err, warnings))
		return
	}
	out := make([]previewMessage, len(msgs))
	for i, m := range msgs {
		out[i].Message = m
		out[i].Segments, out[i].Encoding = protocol.TextCost(m)
	}
	resp := map[string]any{"messages": out, "summary": s.enroller.Summarize(clinic, req, msgs)}
	if len(warnings) > 0 {
		resp["warnings"] = warnings
	}
	writeJSON(w, http.StatusOK, resp)
}

// previewMessage is a previewed message with what a text costs: its SMS
// segments and encoding ("gsm-7", or "ucs-2" for a name outside GSM-7).
type previewMessage struct {
	aftercare.Message
	Segments int    `json:"segments,omitempty"`
	Encoding string `json:"encoding,omitempty"`
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
	writeJSON(w, http.StatusOK, v)
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
	writeJSON(w, http.StatusOK, map[string]any{"cancelled_messages": n, "enrollment": v})
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
	if msgs == nil {
		msgs = []aftercare.Message{}
	}
	resp := map[string]any{"messages": msgs}
	if len(msgs) == f.Limit {
		resp["next_after"] = msgs[len(msgs)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
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
