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

// AdminStore is what the clinic admin's pages (API keys, settings) and the
// "forgot password" pages need from the store.
type AdminStore interface {
	APIKeys(ctx context.Context, clinicID int64) ([]store.APIKey, error)
	CreateAPIKey(ctx context.Context, clinicID int64, label string) (store.APIKey, string, error)
	RevokeAPIKey(ctx context.Context, clinicID, keyID int64) error
	UpdateClinic(ctx context.Context, c aftercare.Clinic) error
	// BookingSecretInfo and SetBookingSecret serve the booking webhook's
	// secret on the settings page.
	BookingSecretInfo(ctx context.Context, clinicID int64) (store.BookingSecretInfo, error)
	SetBookingSecret(ctx context.Context, clinicID int64, rotate bool) (string, error)

	CreatePasswordReset(ctx context.Context, u store.User, tokenHash string, ttl time.Duration) error
	PasswordResetUser(ctx context.Context, tokenHash string) (store.User, error)
	ResetPassword(ctx context.Context, tokenHash, passwordHash string) (store.User, int, error)
}

// registerAdmin adds the admin's pages and the password reset pages.
func (c *Console) registerAdmin(h func(string, http.HandlerFunc)) {
	h("GET /console/keys", c.get(c.adminOnly("manage its API keys", c.keysPage)))
	h("POST /console/keys", c.post(c.adminOnly("manage its API keys", c.addKey)))
	h("POST /console/keys/{id}/revoke", c.post(c.adminOnly("manage its API keys", c.revokeKey)))
	h("GET /console/settings", c.get(c.adminOnly("change its settings", c.settingsPage)))
	h("POST /console/settings", c.post(c.adminOnly("change its settings", c.saveSettings)))
	h("POST /console/settings/booking-secret", c.post(c.adminOnly("change its settings", c.bookingSecret)))

	h("GET /console/forgot", c.forgotPage)
	h("POST /console/forgot", c.forgot)
	h("GET /console/reset", c.resetPage)
	h("POST /console/reset", c.reset)
}

// keysView is the data of the API keys page.
type keysView struct {
	Keys  []store.APIKey
	Zone  string
	Label string
	Error string
	// NewKey is the key just made, shown on this response only.
	NewKey   string
	NewLabel string
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	v := keysView{}
	if id := r.URL.Query().Get("revoked"); id != "" {
		if _, err := strconv.ParseInt(id, 10, 64); err == nil {
			return c.renderKeys(w, r, s, http.StatusOK, v, "Key "+id+" revoked: requests with it are refused from now on.")
		}
	}
	return c.renderKeys(w, r, s, http.StatusOK, v, "")
}

func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, s *store.Session, status int, v keysView, flash string) error {
	keys, err := c.store.APIKeys(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	v.Keys, v.Zone = keys, s.Clinic.Timezone
	pv := c.view(s, "API keys", "settings", v)
	pv.Flash = flash
	c.render(w, r, status, "keys", pv)
	return nil
}

// addKey makes a key and shows it once, in this response (no redirect: the
// key is never put in a URL, and the page is not cached).
func (c *Console) addKey(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	label := r.PostForm.Get("label")
	k, secret, err := c.store.CreateAPIKey(c.staffContext(r, s), s.ClinicID, label)
	if aftercare.ErrorCode(err) == aftercare.EINVALID {
		return c.renderKeys(w, r, s, http.StatusUnprocessableEntity, keysView{Label: label, Error: "Label " + aftercare.AllErrors(err)[0].Message + "."}, "")
	}
	if err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "console: api key created", "clinic_id", s.ClinicID, "user_id", s.UserID, "key_id", k.ID)
	return c.renderKeys(w, r, s, http.StatusOK, keysView{NewKey: secret, NewLabel: k.Label}, "")
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := c.store.RevokeAPIKey(c.staffContext(r, s), s.ClinicID, id); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "console: api key revoked", "clinic_id", s.ClinicID, "user_id", s.UserID, "key_id", id)
	http.Redirect(w, r, fmt.Sprintf("/console/keys?revoked=%d", id), http.StatusSeeOther)
	return nil
}
