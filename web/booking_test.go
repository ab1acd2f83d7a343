package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// TestSettingsBookingSecret: an admin makes the clinic's booking secret
// on the settings page and sees it once; a second click does not replace
// it; rotating keeps the previous one working; each is audited as the
// admin, and staff and other clinics cannot touch it.
func TestSettingsBookingSecret(t *testing.T) {
	w := newWorld(t, options{})
	u := w.addAdmin(w.clinic.ID, "admin@glow.example")
	w.addUser(w.clinic.ID, "desk@glow.example")
	ctx := context.Background()
	c := w.client()
	csrf := c.signIn("admin@glow.example")
	if p := c.get("/console/settings"); p.status != http.StatusOK || !strings.Contains(p.body, "No secret yet") {
		t.Fatalf("settings page: %d", p.status)
	}
	if r := c.post("/console/settings/booking-secret", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", r.status)
	}
	secretRe := regexp.MustCompile(`<code id="new-booking-secret">(bks_[0-9a-f]+)</code>`)
	r := c.post("/console/settings/booking-secret", url.Values{"csrf_token": {csrf}})
	m := secretRe.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("make secret: %d (cache %q)", r.status, r.header.Get("Cache-Control"))
	}
	first := m[1]
	page := c.get("/console/settings")
	if strings.Contains(page.body, first) || !strings.Contains(page.body, "Rotate secret") {
		t.Fatal("the settings page shows the secret again, or offers no rotation")
	}
	// A second "make" (a double click) does not replace it.
	if r := c.post("/console/settings/booking-secret", url.Values{"csrf_token": {csrf}}); r.status != http.StatusConflict || secretRe.MatchString(r.body) {
		t.Fatalf("second make: %d", r.status)
	}
	r = c.post("/console/settings/booking-secret", url.Values{"csrf_token": {csrf}, "rotate": {"1"}})
	m = secretRe.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil || m[1] == first || !strings.Contains(r.body, "previous secret keeps working until") {
		t.Fatalf("rotate: %d", r.status)
	}
	if got, _ := w.store.BookingSecrets(ctx, w.clinic.ID); len(got) != 2 || got[0] != m[1] || got[1] != first {
		t.Fatalf("stored secrets = %d", len(got))
	}
	rows, _ := w.store.AuditLog(ctx, store.AuditFilter{ClinicID: w.clinic.ID, Action: aftercare.AuditBookingSecret})
	if len(rows) != 2 || rows[0].Actor.Kind != aftercare.ActorStaff || rows[0].Actor.ID != u.ID {
		t.Fatalf("audit rows = %+v", rows)
	}

	// Staff of the clinic may not; the other clinic's secret is its own.
	desk := w.client()
	deskCSRF := desk.signIn("desk@glow.example")
	if r := desk.post("/console/settings/booking-secret", url.Values{"csrf_token": {deskCSRF}, "rotate": {"1"}}); r.status != http.StatusForbidden {
		t.Fatalf("staff rotating: %d", r.status)
	}
	if got, _ := w.store.BookingSecrets(ctx, w.other.ID); len(got) != 0 {
		t.Fatalf("the other clinic has %d secrets", len(got))
	}
	for _, secret := range []string{first, m[1]} {
		if strings.Contains(w.logs.String(), secret) {
			t.Fatal("a booking secret reached the logs")
		}
	}
}
