package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// patientsView is the patient search page.
type patientsView struct {
	Q        string
	Patients []aftercare.Patient
	Searched bool
	// Concerns are the unresolved concerns by patient id (a marker).
	Concerns map[int64]aftercare.Concern
}

// searchTerm turns what staff typed into what the store matches: a phone
// number typed with spaces, dashes or brackets becomes its digits (stored
// numbers are E.164), anything else is a name fragment.
func searchTerm(q string) string {
	q = strings.TrimSpace(q)
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q)
	if len(digits) >= 3 && strings.Trim(q, "0123456789+-(). ") == "" {
		return digits
	}
	return q
}

func (c *Console) patientsPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	q := r.URL.Query().Get("q")
	if len(q) > 100 {
		q = q[:100]
	}
	ps, err := c.store.SearchPatients(r.Context(), s.ClinicID, searchTerm(q), 100)
	if err != nil {
		return err
	}
	concerns, err := c.store.UnresolvedConcerns(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	// A search is recorded (its size, never the words: they may be a name).
	if err := c.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: s.ClinicID, Action: aftercare.AuditSearch,
		Detail: fmt.Sprintf("console patient list, query of %d characters: %d patients", len([]rune(q)), len(ps))}); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "patients", c.view(s, "Patients", "patients",
		patientsView{Q: q, Patients: ps, Searched: strings.TrimSpace(q) != "", Concerns: concerns}))
	return nil
}

// patientView is a patient's page.
type patientView struct {
	P           store.PatientView
	Zone        string
	Done        string
	Enrollments []enrollmentBlock
	// NextSession labels the "enroll next session" action ("2 of 3").
	NextSession string
	// Concerns are the patient's unresolved concerns (at most one).
	Concerns []aftercare.Concern
	// Trend is the patient's check-in answers.
	Trend checkinTrend
}

// enrollmentBlock is one enrollment's timeline on the patient page.
type enrollmentBlock struct {
	store.EnrollmentTimeline
	CanCancel bool
	Counts    string // e.g. "12 delivered, 1 failed, 20 scheduled"
}

func (c *Console) patientPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	pv, err := c.store.PatientView(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	if err := c.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: s.ClinicID, Action: aftercare.AuditViewPatient,
		PatientID: pv.Patient.ID}); err != nil {
		return err
	}
	d := patientView{P: pv, Zone: pv.Patient.Timezone}
	concerns, err := c.store.UnresolvedConcerns(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	if con, ok := concerns[pv.Patient.ID]; ok {
		d.Concerns = append(d.Concerns, con)
	}
	answers, err := c.store.CheckinAnswers(r.Context(), s.ClinicID, pv.Patient.ID)
	if err != nil {
		return err
	}
	d.Trend = newCheckinTrend(answers)
	for _, e := range pv.Enrollments {
		d.Enrollments = append(d.Enrollments, enrollmentBlock{EnrollmentTimeline: e,
			CanCancel: !e.Enrollment.Cancelled, Counts: statusSummary(e.Messages)})
	}
	if len(pv.Enrollments) > 0 {
		var f enrollForm
		prefill(&f, pv)
		d.NextSession = f.Session + " of " + f.Series
	}
	switch r.URL.Query().Get("done") {
	case "cancelled":
		d.Done = "The enrollment is cancelled: its pending messages will not be sent."
	case "acknowledged":
		d.Done = "Acknowledged: staff will not be alerted again about it."
	case "resent":
		d.Done = "The message is scheduled again and will be sent shortly."
	case "erased":
		d.Done = "The patient is erased: their identity, messages' text and replies are gone."
	}
	c.render(w, r, http.StatusOK, "patient", c.view(s, fullName(pv.Patient), "patients", d))
	return nil
}

// statusSummary counts messages per status in lifecycle order.
func statusSummary(msgs []aftercare.Message) string {
	n := map[aftercare.Status]int{}
	for _, m := range msgs {
		n[m.Status]++
	}
	var parts []string
	for _, st := range aftercare.Statuses {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	return strings.Join(parts, ", ")
}

func (c *Console) cancelEnrollment(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := c.store.Enrollment(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	n, err := c.store.CancelEnrollment(r.Context(), s.ClinicID, id, "enrollment cancelled in the console by "+s.Email)
	if err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "enrollment cancelled from the console", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"enrollment_id", id, "cancelled_messages", n)
	http.Redirect(w, r, fmt.Sprintf("/console/patients/%d?done=cancelled#enrollment-%d", v.Patient.ID, id), http.StatusSeeOther)
	return nil
}

func (c *Console) resendMessage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	m, err := c.store.ResendMessage(r.Context(), s.ClinicID, id, s.Email)
	if err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "failed message resent from the console", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"message_id", id)
	http.Redirect(w, r, "/console/patients/"+strconv.FormatInt(m.PatientID, 10)+"?done=resent#message-"+strconv.FormatInt(id, 10),
		http.StatusSeeOther)
	return nil
}
