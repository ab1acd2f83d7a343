package web

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/store"
)

// staffActor is the signed-in user, for the audit trail.
func (c *Console) staffActor(r *http.Request, s *store.Session) aftercare.Actor {
	return aftercare.Actor{Kind: aftercare.ActorStaff, ID: s.UserID, Label: s.Email, IP: c.clientIP(r)}
}

// auditView is the audit page.
type auditView struct {
	Rows    []aftercare.AuditEntry
	Q       url.Values
	CSVURL  string
	NextURL string
	Zone    string
	Actions []aftercare.AuditAction
}

// auditActions are the actions offered in the audit page's filter.
var auditActions = []aftercare.AuditAction{
	aftercare.AuditViewPatient, aftercare.AuditViewEnrollment, aftercare.AuditSearch, aftercare.AuditEnroll,
	aftercare.AuditCancel, aftercare.AuditResend, aftercare.AuditStaffReply, aftercare.AuditConcern,
	aftercare.AuditOptOut, aftercare.AuditOptIn, aftercare.AuditExport, aftercare.AuditErase,
	aftercare.AuditSignIn, aftercare.AuditSignInFailed, aftercare.AuditKeyCreated, aftercare.AuditKeyRevoked,
	aftercare.AuditUserAdded, aftercare.AuditUserDisabled, aftercare.AuditSettings,
}

// auditPage shows the clinic's audit trail with filters (patient, user,
// action, dates) and a CSV export (format=csv), to the clinic's admins.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	q := r.URL.Query()
	get := func(k string) string {
		v := strings.TrimSpace(q.Get(k))
		if k == "actor_id" && v != "" && q.Get("actor_kind") == "" {
			q.Set("actor_kind", string(aftercare.ActorStaff))
		}
		return v
	}
	f, err := api.AuditFilterFromQuery(get, s.ClinicID)
	if err != nil {
		return err
	}
	if f.ActorID != 0 && f.ActorKind == "" {
		f.ActorKind = aftercare.ActorStaff
	}
	if q.Get("format") == "csv" {
		f.Limit = 100000
		rows, err := c.store.AuditLog(r.Context(), f)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
		return writeAuditCSV(w, rows)
	}
	rows, err := c.store.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	v := auditView{Rows: rows, Q: q, Zone: s.Clinic.Timezone, Actions: auditActions}
	csvQ := url.Values{}
	for k, vs := range q {
		if k != "before" && len(vs) > 0 && vs[0] != "" {
			csvQ.Set(k, vs[0])
		}
	}
	csvQ.Set("format", "csv")
	v.CSVURL = "/console/audit?" + csvQ.Encode()
	if len(rows) == f.Limit {
		next := url.Values{}
		for k, vs := range q {
			if len(vs) > 0 {
				next.Set(k, vs[0])
			}
		}
		next.Set("before", strconv.FormatInt(rows[len(rows)-1].ID, 10))
		v.NextURL = "/console/audit?" + next.Encode()
	}
	c.render(w, r, http.StatusOK, "audit", c.view(s, "Audit trail", "audit", v))
	return nil
}

// exportPatient downloads everything held about a patient (JSON).
func (c *Console) exportPatient(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, err := c.store.ExportPatient(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	answers, err := c.store.CheckinAnswers(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="patient-%d.json"`, id))
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(api.NewPatientExport(x).WithCheckinAnswers(answers))
}

// erasePatient erases a patient once staff typed the patient's full name
// to confirm.
func (c *Console) erasePatient(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	pv, err := c.store.PatientView(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	name := fullName(pv.Patient)
	if typed := strings.Join(strings.Fields(r.PostForm.Get("confirm")), " "); !strings.EqualFold(typed, name) {
		return aftercare.FieldError("confirm", "type the patient's full name exactly (%s) to erase them", name)
	}
	out, err := c.store.ErasePatient(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "patient erased from the console", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"patient_id", id, "cancelled_messages", out.CancelledMessages)
	http.Redirect(w, r, fmt.Sprintf("/console/patients/%d?done=erased", id), http.StatusSeeOther)
	return nil
}

// WriteAuditCSV writes audit rows as CSV (one header line), with cells
// that a spreadsheet would read as formulas quoted.
func WriteAuditCSV(w io.Writer, rows []aftercare.AuditEntry) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "at", "clinic_id", "actor_kind", "actor_id", "actor_label", "ip", "action", "patient_id", "enrollment_id", "detail"})
	for _, e := range rows {
		cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), id0(e.ClinicID), string(e.Actor.Kind),
			id0(e.Actor.ID), csvSafe(e.Actor.Label), csvSafe(e.Actor.IP), string(e.Action), id0(e.PatientID), id0(e.EnrollmentID), csvSafe(e.Detail)})
	}
	cw.Flush()
	return cw.Error()
}

func writeAuditCSV(w io.Writer, rows []aftercare.AuditEntry) error { return WriteAuditCSV(w, rows) }

func id0(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// auditSignInFailed records a refused sign-in with the client IP: against
// each account with that email (in its clinic), or, for an unknown email,
// as a row of no clinic (the operator's `aftercare audit` shows it).
func (c *Console) auditSignInFailed(r *http.Request, users []store.User) {
	ip := c.clientIP(r)
	entries := []aftercare.AuditEntry{{Action: aftercare.AuditSignInFailed, Actor: aftercare.Actor{Kind: aftercare.ActorStaff, IP: ip},
		Detail: "unknown email"}}
	if len(users) > 0 {
		entries = entries[:0]
		for _, u := range users {
			entries = append(entries, aftercare.AuditEntry{ClinicID: u.ClinicID, Action: aftercare.AuditSignInFailed,
				Actor: aftercare.Actor{Kind: aftercare.ActorStaff, ID: u.ID, Label: u.Email, IP: ip}, Detail: "wrong password"})
		}
	}
	for _, e := range entries {
		if err := c.store.RecordAudit(r.Context(), e); err != nil {
			c.log.ErrorContext(r.Context(), "audit failed sign-in", "err", err)
		}
	}
}

// adminOnly lets only the clinic's admins do what (audit, erasure).
func (c *Console) adminOnly(what string, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, s *store.Session) error {
		if s.Role != store.RoleAdmin {
			return aftercare.Errorf(aftercare.EFORBIDDEN, "only the clinic's admins can %s", what)
		}
		return h(w, r, s)
	}
}
