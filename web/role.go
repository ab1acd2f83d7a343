package web

import (
	"context"
	"net/http"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// The clinic admin's pages (API keys, settings) are gated by adminOnly and
// shown in the navigation when isAdmin: only a user whose role is admin
// sees or uses them; staff get 403.

// isAdmin reports whether the session's user may manage the clinic's keys
// and settings.
func (c *Console) isAdmin(s *store.Session) bool { return s != nil && s.Role == store.RoleAdmin }

// adminOnly refuses a handler to users who are not the clinic's admins.
func (c *Console) adminOnly(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, s *store.Session) error {
		if !c.isAdmin(s) {
			return aftercare.Errorf(aftercare.EFORBIDDEN, "only the clinic's admins can manage its API keys and settings")
		}
		return h(w, r, s)
	}
}

// requestIP is the client address the audit trail and the reset limits
// record.
func (c *Console) requestIP(r *http.Request) string { return c.clientIP(r) }

// staffActor returns the request's context carrying the signed-in user as
// the audit trail's actor.
func (c *Console) staffActor(r *http.Request, s *store.Session) context.Context {
	return aftercare.WithActor(r.Context(), aftercare.Actor{Kind: aftercare.ActorStaff, ID: s.UserID, Label: s.Email, IP: c.requestIP(r)})
}
