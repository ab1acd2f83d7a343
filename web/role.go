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

// requestIP is the client address the audit trail and the reset limits
// record.
func (c *Console) requestIP(r *http.Request) string { return c.clientIP(r) }

// staffContext returns the request's context carrying the signed-in user
// as the audit trail's actor.
func (c *Console) staffContext(r *http.Request, s *store.Session) context.Context {
	return aftercare.WithActor(r.Context(), c.staffActor(r, s))
}
