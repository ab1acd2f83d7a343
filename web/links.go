package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// PatientLinks is what the console needs of patients' page links and
// what was sent through them.
type PatientLinks interface {
	EnrollmentLink(ctx context.Context, clinicID, enrollmentID int64) (store.PatientLink, bool, error)
	RevokeLink(ctx context.Context, clinicID, enrollmentID int64) (bool, error)
	EnrollmentBookingClicks(ctx context.Context, clinicID, enrollmentID int64) (int, error)
	ReplyPhoto(ctx context.Context, clinicID, replyID int64) (store.Photo, error)
}

// linkView is an enrollment's link on its console page.
type linkView struct {
	State     store.LinkState
	ExpiresAt time.Time
	RevokedAt time.Time
	Clicks    int
}

func (c *Console) registerLinks(h func(pattern string, f http.HandlerFunc)) {
	if c.links == nil {
		return
	}
	h("POST /console/enrollments/{id}/revoke-link", c.post(c.revokeLink))
	h("GET /console/replies/{id}/photo", c.get(c.replyPhoto))
}

// linkView returns an enrollment's link, nil when it has none.
func (c *Console) linkView(ctx context.Context, clinicID, enrollmentID int64) (*linkView, error) {
	if c.links == nil {
		return nil, nil
	}
	l, ok, err := c.links.EnrollmentLink(ctx, clinicID, enrollmentID)
	if err != nil || !ok {
		return nil, err
	}
	n, err := c.links.EnrollmentBookingClicks(ctx, clinicID, enrollmentID)
	if err != nil {
		return nil, err
	}
	return &linkView{State: l.State(c.clock.Now()), ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt, Clicks: n}, nil
}

// revokeLink turns an enrollment's page link off (audited by the store
// with the signed-in user as actor).
func (c *Console) revokeLink(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ok, err := c.links.RevokeLink(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "patient page link revoked in the console", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"enrollment_id", id, "was_active", ok)
	http.Redirect(w, r, fmt.Sprintf("/console/enrollments/%d?done=revoked", id), http.StatusSeeOther)
	return nil
}

// replyPhoto shows a photo a patient sent with a concern, to the staff of
// the patient's clinic only (another clinic's is "not found"); viewing it
// is audited as a look at the patient's record.
func (c *Console) replyPhoto(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := c.links.ReplyPhoto(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	if err := c.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: s.ClinicID, Action: aftercare.AuditViewPatient,
		PatientID: p.PatientID, Detail: "concern photo of reply " + strconv.FormatInt(id, 10)}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", p.ContentType)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
	w.Header().Set("Content-Disposition", "inline")
	w.Write(p.Data)
	return nil
}
