package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// localInput is the layout of an <input type="datetime-local"> value.
const localInput = "2006-01-02T15:04"

// zones offered in the time zone list (any IANA name may be typed).
var zoneChoices = []string{
	"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/Toronto", "America/Vancouver",
	"America/Halifax", "America/Mexico_City", "America/Sao_Paulo", "Europe/London", "Europe/Dublin",
	"Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam",
	"Europe/Stockholm", "Europe/Athens", "Europe/Istanbul", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore",
	"Asia/Tokyo", "Australia/Perth", "Australia/Sydney", "Pacific/Auckland",
}

// enrollForm is the enroll page: what was typed (kept as typed), errors
// next to their fields, and the previewed plan.
type enrollForm struct {
	FirstName, LastName, Phone, Email, Timezone string
	// Language is the patient's language ("en", "es"): the clinic's
	// default language on a new form, the patient's own for a known one.
	Language                 string
	SMSConsent, EmailConsent bool
	TreatedAt                string // datetime-local, clinic's zone
	Session, Series          string
	IdemKey                  string
	// PatientID is set when enrolling the next session of a known patient.
	PatientID int64

	ClinicZone string
	Zones      []string
	Errors     map[string]string
	FormError  string
	// Warnings are likely mistakes that do not stop an enrollment (an
	// email domain typo), by field.
	Warnings map[string]enroll.Warning
	// Duplicate is the patient's active enrollment of the same session
	// that a save would repeat: the page offers to view or replace it.
	Duplicate *aftercare.Enrollment
	// Plan is the previewed plan (nil before a preview), shown in PlanZone;
	// Summary counts its texts, segments and emails and says whether the
	// enrollment is late and what will be skipped.
	Plan     []aftercare.Message
	PlanZone string
	Summary  *protocol.Summary
	Previous *aftercare.Enrollment
}

func (c *Console) newEnrollForm(s *store.Session) (enrollForm, error) {
	key, err := randomToken()
	if err != nil {
		return enrollForm{}, err
	}
	zone := s.Clinic.Timezone
	return enrollForm{Timezone: zone, Language: aftercare.FirstLanguage(s.Clinic.DefaultLanguage), ClinicZone: zone, Zones: zones(zone), Session: "1", Series: "3",
		TreatedAt: c.now().In(loadZone(zone)).Format(localInput), IdemKey: "console-" + key,
		Errors: map[string]string{}, Warnings: map[string]enroll.Warning{}}, nil
}

func zones(clinic string) []string {
	out := []string{clinic}
	for _, z := range zoneChoices {
		if z != clinic {
			out = append(out, z)
		}
	}
	return out
}

// enrollPage shows an empty enroll form, or with ?patient=ID one prefilled
// for the patient's next session.
func (c *Console) enrollPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	f, err := c.newEnrollForm(s)
	if err != nil {
		return err
	}
	if p := r.URL.Query().Get("patient"); p != "" {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return aftercare.Errorf(aftercare.ENOTFOUND, "no such patient")
		}
		pv, err := c.store.PatientView(r.Context(), s.ClinicID, id)
		if err != nil {
			return err
		}
		prefill(&f, pv)
	}
	c.render(w, r, http.StatusOK, "enroll", c.view(s, "Enroll a patient", "enroll", f))
	return nil
}

// prefill fills the form for a known patient's next session: the patient's
// details, the channels they still consent to, and the session after their
// latest one (or session 1 of a new series when the last one finished).
func prefill(f *enrollForm, pv store.PatientView) {
	p := pv.Patient
	f.PatientID, f.FirstName, f.LastName, f.Phone, f.Email, f.Timezone = p.ID, p.FirstName, p.LastName, p.Phone, p.Email, p.Timezone
	if p.Language != "" {
		f.Language = p.Language
	}
	granted := map[aftercare.Channel]bool{}
	for _, c := range pv.Consents {
		granted[c.Channel] = c.Granted
	}
	f.SMSConsent = granted[aftercare.SMS] && !p.SMSOptOut
	f.EmailConsent = granted[aftercare.Email] && !p.EmailOptOut && p.Email != ""
	if len(pv.Enrollments) > 0 {
		e := pv.Enrollments[0].Enrollment
		f.Previous = &e
		next := e.SessionNumber + 1
		if next > e.SeriesLength {
			next = 1
		}
		f.Session, f.Series = strconv.Itoa(next), strconv.Itoa(e.SeriesLength)
	}
}

// enrollSubmit previews (action=preview) or saves (action=save) the form.
// Errors are shown next to their fields with everything typed kept. A save
// redirects to the stored plan; the form's idempotency key makes a double
// submit return the first enrollment instead of enrolling twice.
func (c *Console) enrollSubmit(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	fv := r.PostForm
	f, err := c.newEnrollForm(s)
	if err != nil {
		return err
	}
	f.FirstName, f.LastName = fv.Get("first_name"), fv.Get("last_name")
	f.Phone, f.Email, f.Timezone = fv.Get("phone"), fv.Get("email"), strings.TrimSpace(fv.Get("timezone"))
	f.Language = strings.TrimSpace(fv.Get("language"))
	f.SMSConsent, f.EmailConsent = fv.Get("sms_consent") != "", fv.Get("email_consent") != ""
	f.TreatedAt, f.Session, f.Series = fv.Get("treated_at"), fv.Get("session_number"), fv.Get("series_length")
	f.PatientID, _ = strconv.ParseInt(fv.Get("patient_id"), 10, 64)
	if k := fv.Get("idempotency_key"); k != "" && len(k) <= 100 {
		f.IdemKey = k
	}

	req, ok := c.enrollRequest(&f, s)
	for _, w := range enroll.Warnings(req) {
		f.Warnings[w.Field] = w
	}
	action := fv.Get("action")
	if ok && (action == "save" || action == "replace") {
		// "replace" is the button the page offers when the patient already
		// has an active enrollment of this session.
		req.Replace = action == "replace"
		v, created, err := c.enroller.Enroll(r.Context(), s.Clinic, req, f.IdemKey)
		if err == nil {
			if created {
				c.log.InfoContext(r.Context(), "patient enrolled from the console", "clinic_id", s.ClinicID,
					"user_id", s.UserID, "enrollment_id", v.Enrollment.ID, "patient_id", v.Patient.ID, "messages", len(v.Messages))
			}
			done := "saved"
			if !created {
				done = "repeat"
			}
			http.Redirect(w, r, "/console/enrollments/"+strconv.FormatInt(v.Enrollment.ID, 10)+"?done="+done, http.StatusSeeOther)
			return nil
		}
		if !formErrors(&f, err) {
			return err
		}
	} else if ok {
		msgs, sum, err := c.enroller.Preview(r.Context(), s.Clinic, req)
		if err != nil && !formErrors(&f, err) {
			return err
		}
		if err == nil {
			f.Plan, f.PlanZone, f.Summary = msgs, f.Timezone, &sum
			if f.PlanZone == "" {
				f.PlanZone = s.Clinic.Timezone
			}
		}
	}
	status := http.StatusOK
	if len(f.Errors) > 0 || f.FormError != "" {
		status = http.StatusUnprocessableEntity
	}
	if f.Duplicate != nil {
		status = http.StatusConflict
	}
	c.render(w, r, status, "enroll", c.view(s, "Enroll a patient", "enroll", f))
	return nil
}

// enrollRequest turns the form into an enroll.Request, recording the
// errors enroll.Validate cannot see (numbers, the local treatment time).
func (c *Console) enrollRequest(f *enrollForm, s *store.Session) (enroll.Request, bool) {
	req := enroll.Request{FirstName: f.FirstName, LastName: f.LastName, Phone: f.Phone, Email: f.Email,
		Timezone: f.Timezone, Language: f.Language, SMSConsent: f.SMSConsent, EmailConsent: f.EmailConsent,
		ConsentMethod: aftercare.ConsentFrontDesk}
	var err error
	if req.SessionNumber, err = strconv.Atoi(strings.TrimSpace(f.Session)); err != nil {
		f.Errors["session_number"] = "Session number must be a whole number."
	}
	if req.SeriesLength, err = strconv.Atoi(strings.TrimSpace(f.Series)); err != nil {
		f.Errors["series_length"] = "Series length must be a whole number."
	}
	if t := strings.TrimSpace(f.TreatedAt); t != "" {
		loc := loadZone(s.Clinic.Timezone)
		at, err := time.ParseInLocation(localInput, t, loc)
		if err != nil {
			at, err = time.ParseInLocation(localInput+":05", t, loc)
		}
		if err != nil {
			f.Errors["treated_at"] = "Treatment time must be a date and time, e.g. 2026-11-25 14:30."
		} else {
			req.TreatedAt = at.Format(time.RFC3339)
		}
	}
	return req, len(f.Errors) == 0
}

// fieldLabels name the form's fields in error messages.
var fieldLabels = map[string]string{
	"first_name": "First name", "last_name": "Last name", "phone": "Mobile phone", "email": "Email",
	"timezone": "Time zone", "treated_at": "Treatment time", "session_number": "Session number",
	"series_length": "Series length", "sms_consent": "Consent", "email_consent": "Consent", "language": "Language",
}

// Languages are the choices of the patient's language: each language by
// its own name, and the form's value when it is none of them (so a
// refused value stays visible next to its error).
func (f enrollForm) Languages() []option {
	out := []option{{Value: "en", Label: "English"}, {Value: "es", Label: "Español"}}
	if f.Language != "" && !aftercare.ValidLanguage(f.Language) {
		out = append(out, option{Value: f.Language, Label: f.Language})
	}
	return out
}

// staffWords rewrites API field names in enroll's messages into the words
// on the form.
var staffWords = strings.NewReplacer(
	"when email_consent is true", "when the patient consents to email",
	" (sms_consent or email_consent)", "",
	"series_length", "the series length",
	"session_number", "the session number",
)

// formErrors puts every problem of a domain error on the form (see
// formError); a duplicate enrollment becomes the offer to view or replace
// the existing one. It reports false for errors that are not about the
// input (those become an error page).
func formErrors(f *enrollForm, err error) bool {
	var dup *store.DuplicateEnrollmentError
	if errors.As(err, &dup) {
		e := dup.Existing
		f.Duplicate = &e
		return true
	}
	all := aftercare.AllErrors(err)
	if len(all) == 0 {
		return false
	}
	for _, de := range all {
		if !formError(f, de) {
			return false
		}
	}
	return true
}

// formError puts a domain error on the form: next to its field when it
// names one, at the top otherwise. It reports false for errors that are not
// about the input (those become an error page).
func formError(f *enrollForm, err error) bool {
	var de *aftercare.Error
	if !errors.As(err, &de) || (de.Code != aftercare.EINVALID && de.Code != aftercare.ECONFLICT) {
		return false
	}
	if de.Code == aftercare.ECONFLICT && de.Field == "Idempotency-Key" {
		f.FormError = "This form was already used to enroll a patient with different details. Open a new enroll form to enroll another patient."
		return true
	}
	msg := staffWords.Replace(de.Message)
	label, ok := fieldLabels[de.Field]
	if !ok {
		f.FormError = upperFirst(msg) + "."
		return true
	}
	field := de.Field
	if field == "email_consent" {
		field = "sms_consent"
	}
	if f.Errors[field] != "" {
		return true // one message per field: the first
	}
	switch {
	case msg == "required":
		msg = label + " is required."
	case strings.HasPrefix(msg, "the patient") || strings.HasPrefix(msg, "\""):
		msg = upperFirst(msg) + "."
	default:
		msg = label + " " + msg + "."
	}
	f.Errors[field] = msg
	return true
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// enrollmentView is the stored plan page.
type enrollmentView struct {
	V     store.EnrollmentView
	Done  string
	Zone  string
	CanGo bool // not cancelled yet
	// Link is the enrollment's patient page link (nil: none, or no Links).
	Link *linkView
	// Trend is the enrollment's check-in answers.
	Trend checkinTrend
}

func (c *Console) enrollmentPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := c.store.Enrollment(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	if err := c.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: s.ClinicID, Action: aftercare.AuditViewEnrollment,
		PatientID: v.Patient.ID, EnrollmentID: id}); err != nil {
		return err
	}
	d := enrollmentView{V: v, Zone: v.Patient.Timezone, CanGo: !v.Enrollment.Cancelled}
	if d.Link, err = c.linkView(r.Context(), s.ClinicID, id); err != nil {
		return err
	}
	answers, err := c.store.EnrollmentCheckinAnswers(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	d.Trend = newCheckinTrend(answers)
	switch r.URL.Query().Get("done") {
	case "revoked":
		d.Done = "The patient's page link is revoked: it now shows a plain page that says it no longer works."
	case "saved":
		d.Done = "Enrolled. The plan below is stored and will be sent on schedule."
	case "repeat":
		d.Done = "This form had already been submitted: here is the enrollment it created (nothing was enrolled twice)."
	}
	c.render(w, r, http.StatusOK, "enrollment", c.view(s, "Plan for "+fullName(v.Patient), "patients", d))
	return nil
}

func fullName(p aftercare.Patient) string {
	return strings.TrimSpace(p.FirstName + " " + p.LastName)
}

// textCost says what a previewed text costs, for the plan table: "1
// segment", "2 segments, Unicode"; empty for an email.
func textCost(m aftercare.Message) string {
	n, enc := protocol.TextCost(m)
	if n == 0 {
		return ""
	}
	s := plural(n, "segment")
	if enc == "ucs-2" {
		s += ", Unicode"
	}
	return s
}

// consentWording returns the consent wording of a version ("" for the
// current one); a version with no stored wording gives an empty wording.
func consentWording(version string) aftercare.ConsentWording {
	if version == "" {
		version = aftercare.ConsentWordingVersion
	}
	w, _ := aftercare.ConsentWordingFor(version)
	return w
}

// field is one input of a form, for the "input" template.
type field struct {
	Name, Label, Type, Value, Error, Hint string
	// Warning is a likely mistake that does not stop the form.
	Warning                       string
	Autocomplete, InputMode, List string
	Min, Max, Class               string
	Required                      bool
}

// Field returns the named input of the enroll form with its value and
// error. Patient fields turn the browser's autofill off: the front desk
// tablet is shared, and one patient's details must not be offered for the
// next.
func (f enrollForm) Field(name string) field {
	fd := field{Name: name, Label: fieldLabels[name], Type: "text", Error: f.Errors[name], Autocomplete: "off"}
	switch name {
	case "first_name":
		fd.Value, fd.Required = f.FirstName, true
	case "last_name":
		fd.Value = f.LastName
	case "phone":
		fd.Type, fd.Value, fd.InputMode = "tel", f.Phone, "tel"
		fd.Hint = "A mobile number, needed for texts; leave empty for a patient reached by email only. Without a country code it is read as a number of the clinic's country."
	case "email":
		fd.Type, fd.Value = "email", f.Email
		fd.Hint = "Needed for the email guide; leave empty if the patient has none."
		if w, ok := f.Warnings["email"]; ok {
			fd.Warning = upperFirst(w.Message)
		}
	case "timezone":
		fd.Value, fd.List, fd.Required = f.Timezone, "zones", true
		fd.Hint = "Where the patient will be over the next weeks; messages follow their local time."
	case "treated_at":
		fd.Type, fd.Value, fd.Required = "datetime-local", f.TreatedAt, true
		fd.Hint = "In the clinic's time zone (" + f.ClinicZone + "); defaults to now."
	case "session_number":
		fd.Type, fd.Value, fd.Min, fd.Max, fd.Required, fd.Class = "number", f.Session, "1", "20", true, "narrow"
		fd.Label, fd.InputMode = "Session number", "numeric"
	case "series_length":
		fd.Type, fd.Value, fd.Min, fd.Max, fd.Required, fd.Class = "number", f.Series, "1", "20", true, "narrow"
		fd.Label, fd.InputMode = "Sessions in the series", "numeric"
		fd.Hint = "Session 1 of 3, 2 of 3, …"
	}
	return fd
}

// formFields are the enroll form's fields in page order (for the error
// summary).
var formFields = []string{"first_name", "last_name", "phone", "email", "timezone", "language", "sms_consent", "treated_at",
	"session_number", "series_length"}

// fieldError is one entry of the error summary.
type fieldError struct {
	Field, Message string
}

// ErrorList returns the form's errors in page order.
func (f enrollForm) ErrorList() []fieldError {
	var out []fieldError
	for _, name := range formFields {
		if msg := f.Errors[name]; msg != "" {
			out = append(out, fieldError{Field: name, Message: msg})
		}
	}
	return out
}
