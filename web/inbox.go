package web

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// The needs-attention inbox: patients' texts that need someone at the
// clinic, grouped in concerns (see aftercare.Concern). Open red flags come
// first, then unanswered questions; staff acknowledge (re-alerts stop),
// resolve, and reply from the clinic's number through the outbox.

// maxStaffReply bounds a reply typed in the inbox (three SMS segments).
const maxStaffReply = 450

// inboxView is the inbox page.
type inboxView struct {
	Items []store.InboxItem
	All   bool
	Zone  string
	Done  string
	// Clinic is the signed-in clinic (its phones and alert routes).
	Clinic aftercare.Clinic
}

func (c *Console) inboxPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	all := r.URL.Query().Get("all") == "1"
	items, err := c.store.Inbox(r.Context(), s.ClinicID, all, 200)
	if err != nil {
		return err
	}
	d := inboxView{Items: items, All: all, Zone: s.Clinic.Timezone, Clinic: s.Clinic}
	switch r.URL.Query().Get("done") {
	case "acknowledged":
		d.Done = "Acknowledged: staff will not be alerted again about it."
	case "resolved":
		d.Done = "Resolved. The patient's next text opens a new item."
	case "replied":
		d.Done = "Your reply is queued and will be texted from the clinic's number shortly."
	}
	c.render(w, r, http.StatusOK, "inbox", c.view(s, "Inbox", "inbox", d))
	return nil
}

func (c *Console) acknowledgeConcern(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.store.AcknowledgeConcern(r.Context(), s.ClinicID, id, s.Email); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "concern acknowledged in the console", "clinic_id", s.ClinicID, "user_id", s.UserID, "concern_id", id)
	http.Redirect(w, r, fmt.Sprintf("%s?done=acknowledged#concern-%d", back(r), id), http.StatusSeeOther)
	return nil
}

func (c *Console) resolveConcern(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.store.ResolveConcern(r.Context(), s.ClinicID, id, s.Email); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "concern resolved in the console", "clinic_id", s.ClinicID, "user_id", s.UserID, "concern_id", id)
	http.Redirect(w, r, fmt.Sprintf("%s?done=resolved#concern-%d", back(r), id), http.StatusSeeOther)
	return nil
}

func (c *Console) replyToConcern(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	body := strings.TrimSpace(strings.ReplaceAll(r.PostForm.Get("body"), "\r\n", "\n"))
	switch {
	case body == "":
		return aftercare.FieldError("body", "the reply is empty: type what to text the patient")
	case !utf8.ValidString(body):
		return aftercare.FieldError("body", "the reply is not valid text")
	}
	// Say who is texting: the patient's phone shows only a number.
	if name := s.Clinic.Name; name != "" && !strings.HasPrefix(body, name) {
		body = name + ": " + body
	}
	if n := utf8.RuneCountInString(body); n > maxStaffReply {
		return aftercare.FieldError("body", "the reply is %d characters; keep it under %d (call the patient for more)", n, maxStaffReply)
	}
	m, err := c.store.StaffReply(r.Context(), s.ClinicID, id, s.Email, body)
	if err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "staff reply queued from the console", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"concern_id", id, "message_id", m.ID, "answer", m.Answer)
	http.Redirect(w, r, fmt.Sprintf("/console/inbox?done=replied#concern-%d", id), http.StatusSeeOther)
	return nil
}

// back is where an inbox action returns: the patient page it came from, or
// the inbox.
func back(r *http.Request) string {
	if p := r.PostForm.Get("back"); strings.HasPrefix(p, "/console/patients/") && !strings.ContainsAny(p, "?#\\") && !strings.Contains(p, "//") {
		return p
	}
	return "/console/inbox"
}
