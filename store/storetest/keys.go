package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// openTwo opens two Stores on one database, as two daemons would.
func openTwo(t *testing.T, drv Driver) (*store.Store, *store.Store, *Clock, aftercare.Clinic) {
	t.Helper()
	clock := NewClock(t0)
	opt := store.Options{Clock: clock}
	a := drv.Open(t, opt)
	b := drv.Reopen(t, a, opt)
	c, _, err := a.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	return a, b, clock, c
}

func testAPIKeyLifecycle(t *testing.T, drv Driver) {
	a, b, clock, c := openTwo(t, drv)
	admin := aftercare.WithActor(context.Background(), aftercare.Actor{Kind: aftercare.ActorCLI, Label: "ops"})

	k, secret, err := a.CreateAPIKey(admin, c.ID, "  EHR integration ")
	if err != nil {
		t.Fatal(err)
	}
	if k.Label != "EHR integration" || !strings.HasPrefix(secret, store.APIKeyPrefix) || !strings.HasPrefix(secret, k.Prefix) {
		t.Fatalf("key = %+v, secret prefix %q", k, secret[:7])
	}
	// Both daemons accept the key, and know which key it is.
	for i, s := range []*store.Store{a, b} {
		got, id, label, err := s.AuthenticateAPIKey(context.Background(), secret)
		if err != nil || got.ID != c.ID || id != k.ID || label != "EHR integration" {
			t.Fatalf("store %d: AuthenticateAPIKey = %d, %d, %q, %v", i, got.ID, id, label, err)
		}
	}

	// Last used: written on first use, then at most once a minute.
	keys, err := a.APIKeys(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys = %+v, want the clinic's default key and the new one", keys)
	}
	byID := func(keys []store.APIKey, id int64) store.APIKey {
		for _, k := range keys {
			if k.ID == id {
				return k
			}
		}
		t.Fatalf("key %d not listed in %+v", id, keys)
		return store.APIKey{}
	}
	if got := byID(keys, k.ID).LastUsedAt; !got.Equal(t0) {
		t.Fatalf("last used = %v, want %v", got, t0)
	}
	if def := keys[0]; def.Label != store.DefaultKeyLabel || !def.LastUsedAt.IsZero() {
		t.Fatalf("default key = %+v", def)
	}
	clock.Set(t0.Add(30 * time.Second))
	if _, _, _, err := b.AuthenticateAPIKey(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	keys, _ = a.APIKeys(context.Background(), c.ID)
	if got := byID(keys, k.ID).LastUsedAt; !got.Equal(t0) {
		t.Fatalf("last used after 30 s = %v, want still %v (written at most once a minute)", got, t0)
	}
	clock.Set(t0.Add(61 * time.Second))
	if _, _, _, err := b.AuthenticateAPIKey(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	keys, _ = a.APIKeys(context.Background(), c.ID)
	if got := byID(keys, k.ID).LastUsedAt; !got.Equal(t0.Add(61 * time.Second)) {
		t.Fatalf("last used after 61 s = %v", got)
	}

	// Revoked on one daemon: refused on the next call on both.
	if err := a.RevokeAPIKey(admin, c.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*store.Store{a, b} {
		if _, _, _, err := s.AuthenticateAPIKey(context.Background(), secret); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
			t.Fatalf("store %d: revoked key: err = %v, want EUNAUTHORIZED", i, err)
		}
		if _, err := s.ClinicByAPIKey(context.Background(), secret); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
			t.Fatalf("store %d: ClinicByAPIKey with a revoked key: err = %v", i, err)
		}
	}
	if err := a.RevokeAPIKey(admin, c.ID, k.ID); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Fatalf("revoke twice: err = %v, want ECONFLICT", err)
	}
	if err := a.RevokeAPIKey(admin, c.ID+1, keys[0].ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("revoke another clinic's key: err = %v, want ENOTFOUND", err)
	}
	keys, _ = a.APIKeys(context.Background(), c.ID)
	if last := keys[len(keys)-1]; last.ID != k.ID || !last.Revoked() {
		t.Fatalf("revoked key should be listed last and revoked: %+v", keys)
	}

	// Audit: created and revoked, by the CLI actor, without the secret.
	rows, err := a.AuditLog(context.Background(), store.AuditFilter{ClinicID: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []aftercare.AuditAction
	for _, r := range rows {
		actions = append(actions, r.Action)
		if r.Actor.Kind != aftercare.ActorCLI || r.Actor.Label != "ops" {
			t.Errorf("audit actor = %+v", r.Actor)
		}
		if strings.Contains(r.Detail, secret[len(k.Prefix):len(k.Prefix)+8]) {
			t.Errorf("audit detail holds the secret: %q", r.Detail)
		}
		if !strings.Contains(r.Detail, "EHR integration") {
			t.Errorf("audit detail does not name the key: %q", r.Detail)
		}
	}
	if want := []aftercare.AuditAction{aftercare.AuditKeyRevoked, aftercare.AuditKeyCreated}; !equalActions(actions, want) {
		t.Fatalf("audit actions = %v, want %v", actions, want)
	}
}

func equalActions(a, b []aftercare.AuditAction) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testAPIKeyLabelChecked(t *testing.T, drv Driver) {
	s, _, c := Setup(t, drv.Open)
	for _, label := range []string{"", "   ", strings.Repeat("x", 81), "two\nlines"} {
		if _, _, err := s.CreateAPIKey(context.Background(), c.ID, label); aftercare.ErrorCode(err) != aftercare.EINVALID {
			t.Errorf("label %q: err = %v, want EINVALID", label, err)
		}
	}
	if _, _, err := s.CreateAPIKey(context.Background(), c.ID+9, "x"); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("unknown clinic: err = %v, want ENOTFOUND", err)
	}
}

func testUpdateClinicAuditsChangedFieldsOnly(t *testing.T, drv Driver) {
	s, _, c := Setup(t, drv.Open)
	ctx := aftercare.WithActor(context.Background(), aftercare.Actor{Kind: aftercare.ActorStaff, ID: 3})
	c2 := c
	c2.Name, c2.AlertEmail, c2.OnCallPhone = "Glow Skin", "new@clinic.example", "+14155550111"
	if err := s.UpdateClinic(ctx, c2); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateClinic(ctx, c2); err != nil { // no change: no row
		t.Fatal(err)
	}
	c3 := c2
	c3.AlertEmail, c3.OnCallPhone = "", ""
	if err := s.UpdateClinic(ctx, c3); aftercare.ErrorCode(err) != aftercare.EINVALID {
		t.Fatalf("removing the last alert route: err = %v", err)
	}
	rows, err := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditSettings})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Detail != "changed name, alert_email, on_call_phone" || rows[0].Actor.ID != 3 {
		t.Fatalf("settings audit rows = %+v", rows)
	}
	if strings.Contains(rows[0].Detail, "new@clinic.example") {
		t.Fatal("audit detail holds a value")
	}
	got, _ := s.Clinic(context.Background(), c.ID)
	if got.Name != "Glow Skin" || got.AlertEmail != "new@clinic.example" {
		t.Fatalf("clinic = %+v", got)
	}
}

func testPasswordResetOnceAndExpires(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, c.ID, "ana@clinic.example", "old-hash")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"s1", "s2"} {
		if err := s.CreateSession(ctx, store.Session{TokenHash: tok, UserID: u.ID, ClinicID: c.ID, CSRF: "x",
			CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreatePasswordReset(ctx, u, "h1", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PasswordResetUser(ctx, "h1"); err != nil || got.ID != u.ID {
		t.Fatalf("PasswordResetUser = %+v, %v", got, err)
	}
	got, ended, err := s.ResetPassword(ctx, "h1", "new-hash")
	if err != nil || got.ID != u.ID || ended != 2 {
		t.Fatalf("ResetPassword = %+v, %d, %v", got, ended, err)
	}
	if _, err := s.SessionByToken(ctx, "s1"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Fatalf("session after reset: %v", err)
	}
	users, _ := s.UsersByEmail(ctx, "ana@clinic.example")
	if len(users) != 1 || users[0].PasswordHash != "new-hash" {
		t.Fatalf("users = %+v", users)
	}
	if _, _, err := s.ResetPassword(ctx, "h1", "third-hash"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Fatalf("second use: err = %v", err)
	}

	// A newer link retires the older one; an expired one is refused.
	if err := s.CreatePasswordReset(ctx, u, "h2", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePasswordReset(ctx, u, "h3", 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PasswordResetUser(ctx, "h2"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Fatalf("older link after a newer one: err = %v", err)
	}
	clock.Set(t0.Add(30 * time.Minute))
	if _, _, err := s.ResetPassword(ctx, "h3", "late-hash"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Fatalf("expired link: err = %v", err)
	}
	users, _ = s.UsersByEmail(ctx, "ana@clinic.example")
	if users[0].PasswordHash != "new-hash" {
		t.Fatalf("an expired link changed the password")
	}
	rows, _ := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditPasswordReset})
	if len(rows) != 4 || !strings.Contains(rows[2].Detail, "2 sessions ended") || rows[2].Actor.ID != u.ID {
		t.Fatalf("password reset audit rows = %+v", rows)
	}
}
