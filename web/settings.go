package web

import (
	"net/http"
	"strings"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/store"
)

// The clinic's settings page. Admins edit what the clinic itself decides
// (name, phones, zone, booking link, alert routes, Reply-To); the sender
// settings (SMS number, Messaging Service, email From) must match the
// provider accounts the operator configured, so the page shows them
// read-only and names the command that changes them.

// settingsFields are the editable settings, in page order.
var settingsFields = []string{"name", "phone", "timezone", "booking_url", "alert_email", "on_call_phone",
	"after_hours_phone", "reply_to"}

var settingsLabels = map[string]string{
	"name": "Clinic name", "phone": "Clinic phone", "timezone": "Time zone", "booking_url": "Booking link",
	"alert_email": "Alert email", "on_call_phone": "On-call mobile", "after_hours_phone": "After-hours phone",
	"reply_to": "Reply-To address",
}

var settingsHints = map[string]string{
	"phone":             "The number patients are told to call.",
	"timezone":          "An IANA zone such as America/New_York; the console shows times in it.",
	"booking_url":       "Where patients book their next session (https://…); leave empty for none.",
	"alert_email":       "Red-flag replies are sent here. The clinic needs an alert email, an on-call mobile, or both.",
	"on_call_phone":     "Red-flag replies are texted here.",
	"after_hours_phone": "The number patients are told to call outside opening hours; leave empty for none.",
	"reply_to":          "Patients' replies to emails go here; leave empty to use the sender address.",
}

// settingsForm is the data of the settings page.
type settingsForm struct {
	Values    map[string]string
	Errors    map[string]string
	FormError string
	Zones     []string
	// Read-only sender settings.
	SMSFrom, MessagingServiceSID, EmailFrom string
	ClinicID                                int64
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
	}
	return fd
}

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
	return map[string]string{"name": c.Name, "phone": c.Phone, "timezone": c.Timezone, "booking_url": c.BookingURL,
		"alert_email": c.AlertEmail, "on_call_phone": c.OnCallPhone, "after_hours_phone": c.AfterHoursPhone,
		"reply_to": c.ReplyTo}
}

func (c *Console) settingsFormFor(cl aftercare.Clinic) settingsForm {
	return settingsForm{Values: clinicValues(cl), Errors: map[string]string{}, Zones: zones(cl.Timezone),
		SMSFrom: cl.SMSFrom, MessagingServiceSID: cl.MessagingServiceSID, EmailFrom: cl.EmailFrom, ClinicID: cl.ID}
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	cl, err := c.store.Clinic(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	v := c.view(s, "Clinic settings", "settings", c.settingsFormFor(cl))
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
	checked, err := enroll.CheckClinic(cl)
	if err != nil {
		form := c.settingsFormFor(old)
		form.Values = clinicValues(cl)
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
			if form.Errors[e.Field] == "" {
				form.Errors[e.Field] = settingsLabels[e.Field] + ": " + msg
			}
		}
		c.render(w, r, http.StatusUnprocessableEntity, "settings", c.view(s, "Clinic settings", "settings", form))
		return nil
	}
	changed := store.ChangedClinicFields(old, checked)
	if err := c.store.UpdateClinic(c.staffActor(r, s), checked); err != nil {
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
