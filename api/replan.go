package api

import (
	"net/http"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// replanRequest is the body of POST /v1/enrollments/{id}/replan.
type replanRequest struct {
	// DryRun is required: true shows the difference, false applies it.
	DryRun *bool `json:"dry_run"`
}

// ReplanDiff is the answer of POST /v1/enrollments/{id}/replan: what
// re-planning the enrollment's waiting messages with the clinic's current
// protocol changes (or, for a dry run, would change).
type ReplanDiff struct {
	EnrollmentID int64           `json:"enrollment_id"`
	DryRun       bool            `json:"dry_run"`
	From         ProtocolRef     `json:"from"`
	To           ProtocolRef     `json:"to"`
	Added        []ReplanMessage `json:"added"`
	Changed      []ReplanChange  `json:"changed"`
	Removed      []ReplanMessage `json:"removed"`
	Unchanged    int             `json:"unchanged"`
	Kept         int             `json:"kept"`
}

// ProtocolRef names a protocol version.
type ProtocolRef struct {
	Name     string `json:"name"`
	Version  int    `json:"version"`
	Language string `json:"language"`
}

// ReplanMessage is a message a re-plan adds (id 0 in a dry run) or
// cancels (with the reason).
type ReplanMessage struct {
	ID         int64     `json:"id,omitempty"`
	Step       string    `json:"step"`
	Channel    string    `json:"channel"`
	Occurrence int       `json:"occurrence"`
	SendAt     time.Time `json:"send_at"`
	Subject    string    `json:"subject,omitempty"`
	Body       string    `json:"body"`
	Reason     string    `json:"reason,omitempty"`
}

// ReplanChange is a waiting message whose texts or time change.
type ReplanChange struct {
	ID         int64     `json:"id"`
	Step       string    `json:"step"`
	Channel    string    `json:"channel"`
	Occurrence int       `json:"occurrence"`
	OldSendAt  time.Time `json:"old_send_at"`
	NewSendAt  time.Time `json:"new_send_at"`
	OldSubject string    `json:"old_subject,omitempty"`
	NewSubject string    `json:"new_subject,omitempty"`
	OldBody    string    `json:"old_body"`
	NewBody    string    `json:"new_body"`
}

func newReplanDiff(d store.ReplanDiff) ReplanDiff {
	ref := func(r store.ProtocolRef) ProtocolRef {
		return ProtocolRef{Name: r.Name, Version: r.Version, Language: r.Language}
	}
	msg := func(m store.ReplanMessage) ReplanMessage {
		return ReplanMessage{ID: m.ID, Step: m.Step, Channel: string(m.Channel), Occurrence: m.Occurrence, SendAt: m.SendAt,
			Subject: m.Subject, Body: m.Body, Reason: m.Reason}
	}
	change := func(c store.ReplanChange) ReplanChange {
		return ReplanChange{ID: c.ID, Step: c.Step, Channel: string(c.Channel), Occurrence: c.Occurrence, OldSendAt: c.OldSendAt,
			NewSendAt: c.NewSendAt, OldSubject: c.OldSubject, NewSubject: c.NewSubject, OldBody: c.OldBody, NewBody: c.NewBody}
	}
	// The lists are never null: an empty one says nothing of its kind.
	return ReplanDiff{EnrollmentID: d.EnrollmentID, DryRun: d.DryRun, From: ref(d.From), To: ref(d.To),
		Added: append([]ReplanMessage{}, mapSlice(d.Added, msg)...), Changed: append([]ReplanChange{}, mapSlice(d.Changed, change)...),
		Removed: append([]ReplanMessage{}, mapSlice(d.Removed, msg)...), Unchanged: d.Unchanged, Kept: d.Kept}
}

// replanEnrollment re-plans an enrollment's waiting messages with the
// clinic's current protocol: {"dry_run": true} shows the difference,
// {"dry_run": false} applies it. Another clinic's enrollment is 404, a
// cancelled one 409.
func (s *Server) replanEnrollment(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req replanRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.DryRun == nil {
		s.fail(w, r, aftercare.FieldError("dry_run", "required: true to see the difference, false to apply it"))
		return
	}
	done, err := s.admit(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.enroller.Replan(r.Context(), clinic, id, *req.DryRun)
	done()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !d.DryRun {
		s.log.InfoContext(r.Context(), "enrollment re-planned", "clinic_id", clinic.ID, "enrollment_id", id,
			"added", len(d.Added), "changed", len(d.Changed), "removed", len(d.Removed))
	}
	writeJSON(w, http.StatusOK, newReplanDiff(d))
}
