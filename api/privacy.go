package api

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// remoteIP is the address a request came from (the API does not trust
// forwarding headers).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// listAudit is the clinic's audit trail, newest first: filter by
// patient_id, actor (kind and id), action and a time range (since,
// until: RFC 3339 or a date); page with before (the last id seen) and
// limit.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	f, err := AuditFilterFromQuery(r.URL.Query().Get, clinic.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows, err := s.store.AuditLog(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := auditPage{Audit: make([]AuditEntry, len(rows))}
	for i, e := range rows {
		page.Audit[i] = newAuditEntry(e)
	}
	if len(rows) == f.Limit {
		page.NextBefore = &rows[len(rows)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

// AuditFilterFromQuery reads an audit filter from query parameters
// (patient_id, actor_kind, actor_id, action, since, until, before, limit),
// every problem at once. The console uses it too.
func AuditFilterFromQuery(get func(string) string, clinicID int64) (store.AuditFilter, error) {
	f := store.AuditFilter{ClinicID: clinicID, Limit: 100}
	var errs []error
	id := func(name string, dst *int64) {
		if v := get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				errs = append(errs, aftercare.FieldError(name, "must be a positive integer"))
				return
			}
			*dst = n
		}
	}
	id("patient_id", &f.PatientID)
	id("actor_id", &f.ActorID)
	id("before", &f.BeforeID)
	if v := get("actor_kind"); v != "" {
		switch k := aftercare.ActorKind(v); k {
		case aftercare.ActorStaff, aftercare.ActorAPIKey, aftercare.ActorDaemon, aftercare.ActorPatient, aftercare.ActorCLI:
			f.ActorKind = k
		default:
			errs = append(errs, aftercare.FieldError("actor_kind", "must be staff, api_key, daemon, patient or cli"))
		}
	}
	if v := get("action"); v != "" {
		if len(v) > 40 {
			errs = append(errs, aftercare.FieldError("action", "too long"))
		} else {
			f.Action = aftercare.AuditAction(v)
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := get(p.name); v != "" {
			t, err := ParseDay(v)
			if err != nil {
				errs = append(errs, aftercare.FieldError(p.name, "must be an RFC 3339 time or a date (2006-01-02)"))
				continue
			}
			*p.dst = t
		}
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			errs = append(errs, aftercare.FieldError("limit", "must be 1..1000"))
		} else {
			f.Limit = n
		}
	}
	if len(errs) > 0 {
		return f, errors.Join(errs...)
	}
	return f, nil
}

// ParseDay reads an RFC 3339 time or a date (midnight UTC).
func ParseDay(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

// exportPatient answers an access request: everything held about one of
// the clinic's patients, as one JSON document.
func (s *Server) exportPatient(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	x, err := s.store.ExportPatient(r.Context(), clinic.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	answers, err := s.store.CheckinAnswers(r.Context(), clinic.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="patient-`+strconv.FormatInt(id, 10)+`.json"`)
	writeJSON(w, http.StatusOK, NewPatientExport(x).WithCheckinAnswers(answers))
}

// erasePatient answers an erasure request (see store.ErasePatient).
func (s *Server) erasePatient(w http.ResponseWriter, r *http.Request) {
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
	out, err := s.store.ErasePatient(r.Context(), clinic.ID, id)
	done()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "patient erased", "clinic_id", clinic.ID, "patient_id", id, "cancelled_messages", out.CancelledMessages)
	writeJSON(w, http.StatusOK, newErasure(out))
}
