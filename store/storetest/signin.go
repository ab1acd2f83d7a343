package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func testSessionIdleDeadlineMovesButNotPastExpiry(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, clock, c := Setup(t, drv.Open)
	u, err := s.CreateUserWithRole(ctx, c.ID, "boss@glow.example", "h", store.RoleAdmin)
	if err != nil || u.Role != store.RoleAdmin {
		t.Fatalf("CreateUserWithRole = %+v, %v", u, err)
	}
	if _, err := s.CreateUserWithRole(ctx, c.ID, "x@glow.example", "h", "owner"); aftercare.ErrorCode(err) != aftercare.EINVALID {
		t.Errorf("unknown role: %v", err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "t", UserID: u.ID, ClinicID: c.ID, CSRF: "c",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), IdleUntil: t0.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	se, err := s.SessionByToken(ctx, "t")
	if err != nil || se.Role != store.RoleAdmin || !se.IdleUntil.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("SessionByToken = %+v, %v", se, err)
	}
	clock.Set(t0.Add(10 * time.Minute))
	if _, err := s.SessionByToken(ctx, "t"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Fatalf("idle session: %v", err)
	}
	clock.Set(t0.Add(9 * time.Minute))
	if err := s.TouchSession(ctx, "t", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if se, err := s.SessionByToken(ctx, "t"); err != nil || !se.IdleUntil.Equal(t0.Add(time.Hour)) {
		t.Errorf("touched past expiry: %+v, %v", se.IdleUntil, err)
	}
	if err := s.TouchSession(ctx, "t", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if se, _ := s.SessionByToken(ctx, "t"); !se.IdleUntil.Equal(t0.Add(time.Hour)) {
		t.Errorf("touch moved the idle deadline backwards: %v", se.IdleUntil)
	}
	if n, err := s.DeleteUserSessions(ctx, u.ID); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions = %d, %v", n, err)
	}
}

func testLoginThrottleCountsBlocksResetsAndPrunes(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := Setup(t, drv.Open)
	block := func(n int) time.Duration {
		if n >= 3 {
			return time.Duration(n) * time.Minute
		}
		return 0
	}
	for i, want := range []int{1, 2, 3} {
		n, until, err := s.LoginFailure(ctx, "account:a", t0.Add(time.Duration(i)*time.Second), time.Hour, block)
		if err != nil || n != want {
			t.Fatalf("failure %d: n=%d %v", i, n, err)
		}
		if (want < 3) != until.IsZero() {
			t.Errorf("failure %d: blocked until %v", i, until)
		}
	}
	at := t0.Add(time.Minute)
	until, err := s.LoginBlockedUntil(ctx, at, "account:a", "ip:1.2.3.4")
	if err != nil || !until.Equal(t0.Add(2*time.Second+3*time.Minute)) {
		t.Errorf("LoginBlockedUntil = %v, %v", until, err)
	}
	if until, _ := s.LoginBlockedUntil(ctx, at, "account:b", "ip:1.2.3.4"); !until.IsZero() {
		t.Errorf("another account blocked until %v", until)
	}
	if until, _ := s.LoginBlockedUntil(ctx, t0.Add(4*time.Minute), "account:a", "ip:1.2.3.4"); !until.IsZero() {
		t.Errorf("blocked after the block ended: %v", until)
	}
	// An hour and more without failures: the count starts again.
	if n, _, _ := s.LoginFailure(ctx, "account:a", t0.Add(2*time.Hour), time.Hour, block); n != 1 {
		t.Errorf("after a quiet hour the count is %d, want 1", n)
	}
	if err := s.ClearLoginFailures(ctx, "account:a"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.LoginFailure(ctx, "account:a", t0.Add(2*time.Hour), time.Hour, block); n != 1 {
		t.Errorf("after clearing the count is %d, want 1", n)
	}
	s.LoginFailure(ctx, "ip:9.9.9.9", t0, time.Hour, block)
	if n, err := s.PruneLoginThrottles(ctx, t0.Add(3*time.Hour), t0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PruneLoginThrottles = %d, %v (want the stale ip row only)", n, err)
	}
}

func testDisableUserEndsSessionsAndKeepsAnAdmin(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	boss, _ := s.CreateUserWithRole(ctx, c.ID, "boss@glow.example", "h", store.RoleAdmin)
	desk, _ := s.CreateUser(ctx, c.ID, "desk@glow.example", "h")
	if desk.Role != store.RoleStaff {
		t.Errorf("CreateUser role = %q, want staff", desk.Role)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "d", UserID: desk.ID, ClinicID: c.ID, CSRF: "c",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u, err := s.DisableUser(ctx, c.ID, desk.ID)
	if err != nil || u.DisabledAt.IsZero() {
		t.Fatalf("DisableUser = %+v, %v", u, err)
	}
	if _, err := s.SessionByToken(ctx, "d"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Errorf("disabled user's session: %v", err)
	}
	if _, err := s.DisableUser(ctx, c.ID, boss.ID); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Errorf("last admin disabled: %v", err)
	}
	us, err := s.Users(ctx, c.ID)
	if err != nil || len(us) != 2 || us[0].ID != boss.ID || us[1].DisabledAt.IsZero() {
		t.Errorf("Users = %+v, %v", us, err)
	}
	if err := s.SetPassword(ctx, c.ID, 999, "h2"); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("SetPassword of a missing user: %v", err)
	}
}
