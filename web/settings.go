package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// The clinic's settings page. Admins edit what the clinic itself decides
// (name, phones, zone, booking link, alert routes, Reply-To); the sender
// settings (SMS number, Messaging Service, email From) must match the
// provider accounts the operator configured, so the page shows them
// read-only and names the command that changes them.

// settingsFields are the editable settings, in page order.
var settingsFields = []string{"name", "phone", "timezone", "booking_url", "after_hours_phone", "alert_email",
	"on_call_phone", "reply_to", "default_language", "quiet_hours", "daily_text_cap", "weekly_text_cap", "treatments"}

var settingsLabels = map[string]string{
	"name": "Clinic name", "phone": "Clinic phone", "timezone": "Time zone", "booking_url": "Booking link",
	"alert_email": "Alert email", "on_call_phone": "On-call mobile", "after_hours_phone": "After-hours phone",
	"reply_to": "Reply-To address", "default_language": "Patients' language", "quiet_hours": "Quiet hours",
	"daily_text_cap": "Texts a day", "weekly_text_cap": "Texts a week", "treatments": "Treatments offered",
}

var settingsHints = map[string]string{
	"phone":             "The number patients are told to call.",
	"timezone":          "An IANA zone such as America/New_York; the console shows times in it.",
	"booking_url":       "Where patients book their next session (https://…); leave empty for none.",
	"alert_email":       "Red-flag replies are sent here. The clinic needs an alert email, an on-call mobile, or both.",
	"on_call_phone":     "Red-flag replies are texted here.",
	"after_hours_phone": "The number patients are told to call outside opening hours; leave empty for none.",
	"reply_to":          "Patients' replies to emails go here; leave empty to use the sender address.",
	"default_language":  "Patients enrolled without a language of their own get texts and emails in this one.",
	"quiet_hours":       "No texts in this window of the patient's local time, such as 21:00-08:00; leave empty for the daemon's.",
	"daily_text_cap":    "The most scheduled texts a patient gets in one day, 1 to 3 (what patients consent to); leave empty for 2. Answers to a patient's own texts are never capped.",
	"weekly_text_cap":   "The most scheduled texts in any 7 days, from the daily cap up to 50; leave empty for no weekly cap.",
	"treatments":        "Tick the treatments the clinic offers; tick none to offer every treatment aftercare has a protocol for.",
}

// languageOptions are the patients' languages, by their names in their
// own language; the empty value is English, the default.
var languageOptions = []option{{Value: "", Label: "English"}, {Value: "es", Label: "Español"}}

// option is one choice of a select.
type option struct{ Value, Label string }

// treatmentChoice is one treatment checkbox of the settings page.
type treatmentChoice struct {
	Name    string
	Checked bool
	// Unknown marks a treatment the clinic offers that no protocol covers
	// any more.
	Unknown bool
}

// embeddedTreatments lists the treatments of the protocols built into the
// daemon, for a console given no Treatments.
func embeddedTreatments(context.Context, int64) ([]string, error) {
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		return nil, err
	}
	return lib.Treatments(), nil
}

// settingsForm is the data of the settings page.
type settingsForm struct {
	Values    map[string]string
	Errors    map[string]string
	FormError string
	Zones     []string
	// Treatments are the checkboxes: every treatment with a protocol, and
	// any the clinic offers without one.
	Treatments []treatmentChoice
	// Read-only sender settings.
	SMSFrom, MessagingServiceSID, EmailFrom string
	ClinicID                                int64
	// Booking is the booking webhook's secret, without it; NewBookingSecret
	// the one just made, shown on this response only.
	Booking          store.BookingSecretInfo
	NewBookingSecret string
	Zone             string
}

// Field returns an editable setting's input.
func (f settingsForm) Field(name string) field {
	fd := field{Name: name, Label: settingsLabels[name], Type: "text", Value: f.Values[name], Error: f.Errors[name],
		Hint: settingsHints[name], Autocomplete: "off"}
	switch name {
	case "name", "phone", "timezone":
		fd.Required = true
	}
	switch name {
	case "phone", "on_call_phone", "after_hours_phone":
		fd.Type, fd.InputMode = "tel", "tel"
	case "alert_email", "reply_to":
		fd.Type = "email"
	case "booking_url":
		fd.Type = "url"
	case "timezone":
		fd.List = "zones"
	case "quiet_hours":
		fd.Class = "narrow"
	case "daily_text_cap", "weekly_text_cap":
		fd.Type, fd.InputMode, fd.Min, fd.Class = "number", "numeric", "1", "narrow"
		fd.Max = strconv.Itoa(aftercare.MaxDailyTextCap)
		if name == "weekly_text_cap" {
			fd.Max = strconv.Itoa(enroll.MaxWeeklyTextCap)
		}
	}
	return fd
}

// Languages are the choices of the patients' language select.
func (f settingsForm) Languages() []option { return languageOptions }

// Fields lists the editable settings in page order.
func (f settingsForm) Fields() []string { return settingsFields }

// ErrorList returns the form's errors in page order.
func (f settingsForm) ErrorList() []fieldError {
	var out []fieldError
	for _, name := range settingsFields {
		if msg := f.Errors[name]; msg != "" {
			out = append(out, fieldError{Field: name, Message: msg})
		}
	}
	return out
}

func clinicValues(c aftercare.Clinic) map[string]string {
	capValue := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	lang := c.DefaultLanguage
	if lang == "en" {
		lang = ""
	}
	return map[string]string{"name": c.Name, "phone": c.Phone, "timezone": c.Timezone, "booking_url": c.BookingURL,
		"alert_email": c.AlertEmail, "on_call_phone": c.OnCallPhone, "after_hours_phone": c.AfterHoursPhone,
		"reply_to": c.ReplyTo, "default_language": lang, "quiet_hours": c.QuietHours,
		"daily_text_cap": capValue(c.DailyTextCap), "weekly_text_cap": capValue(c.WeeklyTextCap)}
}

// treatmentChoices are the checkboxes for the known treatments, ticked
// where offered, then the offered ones no protocol covers.
func treatmentChoices(known, offered []string) []treatmentChoice {
	var out []treatmentChoice
	for _, k := range known {
		out = append(out, treatmentChoice{Name: k, Checked: slices.Contains(offered, k)})
	}
	for _, o := range offered {
		if !slices.Contains(known, o) {
			out = append(out, treatmentChoice{Name: o, Checked: true, Unknown: true})
		}
	}
	return out
}

// knownTreatments lists the treatments the clinic may offer, normalized
// and sorted.
func (c *Console) knownTreatments(ctx context.Context, clinicID int64) ([]string, error) {
	ts, err := c.treatments(ctx, clinicID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, protocol.NormalizeTreatment(t))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (c *Console) settingsFormFor(cl aftercare.Clinic, known []string) settingsForm {
	return settingsForm{Values: clinicValues(cl), Errors: map[string]string{}, Zones: zones(cl.Timezone),
		Treatments: treatmentChoices(known, cl.Treatments),
		SMSFrom:    cl.SMSFrom, MessagingServiceSID: cl.MessagingServiceSID, EmailFrom: cl.EmailFrom, ClinicID: cl.ID,
		Zone: cl.Timezone}
}

// bookingSecret makes the clinic's booking webhook secret, or rotates it
// (the form says which it expects, so a second click does not rotate what
// was just made), and shows it once, in this response (no redirect: the
// secret is never put in a URL, and the page is not cached). Audited by
// the store; never logged.
func (c *Console) bookingSecret(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	ctx := r.Context()
	cl, err := c.store.Clinic(ctx, s.ClinicID)
	if err != nil {
		return err
	}
	known, err := c.knownTreatments(ctx, s.ClinicID)
	if err != nil {
		return err
	}
	rotate := r.PostForm.Get("rotate") == "1"
	secret, err := c.store.SetBookingSecret(c.staffContext(r, s), s.ClinicID, rotate)
	form := c.settingsFormFor(cl, known)
	status, flash := http.StatusOK, ""
	switch {
	case aftercare.ErrorCode(err) == aftercare.ECONFLICT:
		status, flash = http.StatusConflict, "The clinic already has a booking secret: rotate it to get a new one."
	case err != nil:
		return err
	default:
		form.NewBookingSecret = secret
		c.log.InfoContext(ctx, "console: booking secret set", "clinic_id", s.ClinicID, "user_id", s.UserID, "rotated", rotate)
	}
	if form.Booking, err = c.store.BookingSecretInfo(ctx, s.ClinicID); err != nil {
		return err
	}
	v := c.view(s, "Clinic settings", "settings", form)
	v.Flash = flash
	c.render(w, r, status, "settings", v)
	return nil
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	cl, err := c.store.Clinic(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	known, err := c.knownTreatments(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	form := c.settingsFormFor(cl, known)
	if form.Booking, err = c.store.BookingSecretInfo(r.Context(), s.ClinicID); err != nil {
		return err
	}
	v := c.view(s, "Clinic settings", "settings", form)
	if saved := r.URL.Query().Get("saved"); saved != "" {
		v.Flash = "Settings saved."
		if saved == "none" {
			v.Flash = "Nothing changed."
		}
	}
	c.render(w, r, http.StatusOK, "settings", v)
	return nil
}

// saveSettings checks the whole form, shows every problem at once and
// changes nothing unless all are fixed. The last alert route cannot be
// removed.
func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	old, err := c.store.Clinic(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	cl := old
	f := r.PostForm
	for _, p := range []struct {
		name string
		dst  *string
	}{
		{"name", &cl.Name}, {"phone", &cl.Phone}, {"timezone", &cl.Timezone}, {"booking_url", &cl.BookingURL},
		{"alert_email", &cl.AlertEmail}, {"on_call_phone", &cl.OnCallPhone}, {"after_hours_phone", &cl.AfterHoursPhone},
		{"reply_to", &cl.ReplyTo},
	} {
		*p.dst = strings.TrimSpace(f.Get(p.name))
	}
	cl.DefaultLanguage = strings.TrimSpace(f.Get("default_language"))
	if cl.DefaultLanguage == "" && old.DefaultLanguage == "en" {
		cl.DefaultLanguage = "en" // the select shows a stored "en" as English, the default: not a change
	}
	cl.QuietHours = strings.TrimSpace(f.Get("quiet_hours"))
	problems := map[string]string{}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"daily_text_cap", &cl.DailyTextCap}, {"weekly_text_cap", &cl.WeeklyTextCap}} {
		v := strings.TrimSpace(f.Get(p.name))
		if v == "" {
			*p.dst = 0
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			problems[p.name] = "must be a whole number, or empty for the default"
			continue
		}
		*p.dst = n
	}
	cl.Treatments = f["treatments"]
	known, err := c.knownTreatments(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	checked, err := enroll.CheckClinic(cl)
	if !slices.ContainsFunc(aftercare.AllErrors(err), func(e *aftercare.Error) bool { return e.Field == "treatments" }) &&
		!slices.Equal(checked.Treatments, old.Treatments) {
		err = errors.Join(err, enroll.UnknownTreatments(checked.Treatments, slices.Concat(known, old.Treatments)))
	}
	for name, msg := range problems {
		err = errors.Join(err, aftercare.FieldError(name, "%s", msg))
	}
	if err != nil {
		form := c.settingsFormFor(old, known)
		form.Values = clinicValues(cl)
		for name, v := range map[string]string{"daily_text_cap": f.Get("daily_text_cap"), "weekly_text_cap": f.Get("weekly_text_cap")} {
			form.Values[name] = strings.TrimSpace(v) // as typed, even when not a number
		}
		form.Treatments = treatmentChoices(known, normalized(cl.Treatments))
		for _, e := range aftercare.AllErrors(err) {
			msg := e.Message
			if e.Field == "alert_email" && msg == enroll.NoAlertRoute {
				msg = "the clinic needs an alert route for red-flag replies: keep an alert email, an on-call mobile, or both"
			}
			if _, ok := settingsLabels[e.Field]; !ok {
				// A sender setting stored before it was checked: only the
				// operator can fix it.
				form.FormError = "A sender setting (" + e.Field + ") " + msg + "; ask your operator to fix it with `aftercare clinic update`."
				continue
			}
			if problems[e.Field] != "" {
				msg = problems[e.Field] // a cap that is not a number: say so, not what it became
			}
			if form.Errors[e.Field] == "" {
				form.Errors[e.Field] = settingsLabels[e.Field] + ": " + msg
			}
		}
		if form.Booking, err = c.store.BookingSecretInfo(r.Context(), s.ClinicID); err != nil {
			return err
		}
		c.render(w, r, http.StatusUnprocessableEntity, "settings", c.view(s, "Clinic settings", "settings", form))
		return nil
	}
	changed := store.ChangedClinicFields(old, checked)
	if err := c.store.UpdateClinic(c.staffContext(r, s), checked); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "console: clinic settings saved", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"changed", strings.Join(changed, ","))
	to := "/console/settings?saved=1"
	if len(changed) == 0 {
		to = "/console/settings?saved=none"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// normalized returns the treatments normalized, without blanks.
func normalized(ts []string) []string {
	var out []string
	for _, t := range ts {
		if n := protocol.NormalizeTreatment(t); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
