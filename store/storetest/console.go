package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func testUsersAreScopedByClinicAndUnique(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550101", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, c.ID, "staff@glow.example", "hash1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, c.ID, "staff@glow.example", "hash2"); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Errorf("same email twice at one clinic: err = %v, want conflict", err)
	}
	if _, err := s.CreateUser(ctx, other.ID, "staff@glow.example", "hash3"); err != nil {
		t.Errorf("same email at another clinic: %v", err)
	}
	if _, err := s.CreateUser(ctx, 999, "x@glow.example", "h"); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("unknown clinic: err = %v, want not found", err)
	}
	us, err := s.UsersByEmail(ctx, "staff@glow.example")
	if err != nil || len(us) != 2 || us[0].ClinicID != c.ID || us[1].ClinicID != other.ID || us[0].PasswordHash != "hash1" {
		t.Fatalf("UsersByEmail = %+v, %v", us, err)
	}
	if us, _ := s.UsersByEmail(ctx, "nobody@glow.example"); len(us) != 0 {
		t.Errorf("unknown email found %d users", len(us))
	}
}

func testSessionsExpire(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, clock, c := Setup(t, drv.Open)
	u, err := s.CreateUser(ctx, c.ID, "staff@glow.example", "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{TokenHash: "abc", UserID: u.ID, ClinicID: c.ID, CSRF: "tok",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	se, err := s.SessionByToken(ctx, "abc")
	if err != nil || se.Email != "staff@glow.example" || se.Clinic.ID != c.ID || se.Clinic.Name != "Glow" || se.CSRF != "tok" {
		t.Fatalf("SessionByToken = %+v, %v", se, err)
	}
	if _, err := s.SessionByToken(ctx, "nope"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Errorf("unknown token: %v", err)
	}
	clock.Set(t0.Add(time.Hour))
	if _, err := s.SessionByToken(ctx, "abc"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Errorf("expired session still valid: %v", err)
	}
	if n, err := s.DeleteExpiredSessions(ctx); err != nil || n != 1 {
		t.Errorf("DeleteExpiredSessions = %d, %v", n, err)
	}
	clock.Set(t0)
	if _, err := s.SessionByToken(ctx, "abc"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Errorf("deleted session still valid: %v", err)
	}
}

// fail claims and fails every due message of the store.
func failAll(t *testing.T, s *store.Store, at time.Time) []int64 {
	t.Helper()
	ctx := context.Background()
	cl, err := s.Claim(ctx, at, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var outs []store.Outcome
	var ids []int64
	for _, c := range cl {
		outs = append(outs, store.Outcome{ID: c.Message.ID, Kind: store.OutcomeFailed, At: at, ProviderID: "SM1",
			ErrorCode: "21211", Error: "invalid To", Reason: "the number is not valid"})
		ids = append(ids, c.Message.ID)
	}
	if _, err := s.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func testResendFailedMessage(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, clock, c := Setup(t, drv.Open)
	v := Enroll(t, s, c, "+14155550123", 1, 2)
	ids := failAll(t, s, t0)
	if len(ids) != 1 {
		t.Fatalf("failed %d messages, want 1 (only the first is due)", len(ids))
	}
	id := ids[0]
	other, _, _ := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550101", Timezone: "UTC"})

	if _, err := s.ResendMessage(ctx, other.ID, id, "x"); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("another clinic's message: %v, want not found", err)
	}
	if _, err := s.ResendMessage(ctx, c.ID, v.Messages[1].ID, "x"); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Errorf("a scheduled message: %v, want conflict", err)
	}

	now := t0.Add(3 * time.Hour)
	clock.Set(now)
	m, err := s.ResendMessage(ctx, c.ID, id, "staff@glow.example")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != aftercare.StatusScheduled || m.Attempts != 0 || m.ProviderID != "" || m.ErrorCode != "" || m.Reason != "" {
		t.Errorf("after resend: %+v", m)
	}
	if !m.NextAttemptAt.Equal(now) || !m.SendAt.Equal(t0) {
		t.Errorf("next attempt %v (want %v), send_at %v (want kept %v)", m.NextAttemptAt, now, m.SendAt, t0)
	}
	if want := now.Add(24 * time.Hour); !m.StaleAt.Equal(want) {
		t.Errorf("stale at %v, want %v (the original 24h window from now)", m.StaleAt, want)
	}
	last := m.Events[len(m.Events)-1]
	if last.From != aftercare.StatusFailed || last.To != aftercare.StatusScheduled ||
		!strings.Contains(last.Detail, "staff@glow.example") || !strings.Contains(last.Detail, "21211") {
		t.Errorf("resend event = %+v", last)
	}
	if _, err := s.ResendMessage(ctx, c.ID, id, "x"); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Errorf("resending twice: %v, want conflict", err)
	}
	// It is due now: the dispatcher claims it again.
	cl, err := s.Claim(ctx, now, 10, time.Minute)
	if err != nil || len(cl) != 2 || cl[1].Message.ID != id {
		t.Errorf("claim after resend = %d, %v", len(cl), err)
	}
}

func testResendRefusedAfterOptOutOrCancel(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	v := Enroll(t, s, c, "+14155550123", 1, 1)
	id := failAll(t, s, t0)[0]
	if _, err := s.SetOptOut(ctx, v.Patient.ID, aftercare.SMS, true, aftercare.ConsentSMSReply, "STOP"); err != nil {
		t.Fatal(err)
	}
	_, err := s.ResendMessage(ctx, c.ID, id, "x")
	if aftercare.ErrorCode(err) != aftercare.ECONFLICT || !strings.Contains(err.Error(), "opted out") {
		t.Errorf("opted out: %v", err)
	}
	if _, err := s.SetOptOut(ctx, v.Patient.ID, aftercare.SMS, false, aftercare.ConsentSMSReply, "START"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelEnrollment(ctx, c.ID, v.Enrollment.ID, ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.ResendMessage(ctx, c.ID, id, "x")
	if aftercare.ErrorCode(err) != aftercare.ECONFLICT || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancelled enrollment: %v", err)
	}
}

func testDeliveryLogFailuresFirstAndFilters(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	Enroll(t, s, c, "+14155550123", 1, 5) // due t0, t0+1m, ... t0+4m
	failed := failAll(t, s, t0.Add(90*time.Second))
	if len(failed) != 2 {
		t.Fatalf("failed %d", len(failed))
	}
	other, _, _ := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550101", Timezone: "UTC"})
	Enroll(t, s, other, "+14155550124", 1, 3)

	all, more, err := s.DeliveryLog(ctx, store.LogFilter{ClinicID: c.ID})
	if err != nil || more || len(all) != 5 {
		t.Fatalf("log = %d entries, more %v, %v", len(all), more, err)
	}
	for i, e := range all {
		wantFailed := i < 2
		if (e.Message.Status == aftercare.StatusFailed) != wantFailed {
			t.Errorf("entry %d is %s: failures must come first", i, e.Message.Status)
		}
		if e.Message.ClinicID != c.ID || e.PatientName != "Ana Diaz" {
			t.Errorf("entry %d: clinic %d name %q", i, e.Message.ClinicID, e.PatientName)
		}
	}
	// Then what was planned up to now, newest first, then what is coming, soonest first.
	split, _, err := s.DeliveryLog(ctx, store.LogFilter{ClinicID: c.ID, Now: t0.Add(3 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var order []time.Duration
	for _, e := range split[2:] {
		order = append(order, e.Message.SendAt.Sub(t0))
	}
	if want := []time.Duration{3 * time.Minute, 2 * time.Minute, 4 * time.Minute}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("after failures: %v, want %v", order, want)
	}
	page, more, err := s.DeliveryLog(ctx, store.LogFilter{ClinicID: c.ID, Limit: 2, Offset: 2})
	if err != nil || !more || len(page) != 2 || page[0].Message.ID != all[2].Message.ID {
		t.Errorf("page 2 = %d entries more %v: %v", len(page), more, err)
	}
	got, _, _ := s.DeliveryLog(ctx, store.LogFilter{ClinicID: c.ID, Status: aftercare.StatusScheduled,
		From: t0.Add(2 * time.Minute), To: t0.Add(4 * time.Minute)})
	if len(got) != 2 {
		t.Errorf("scheduled in [t0+2m, t0+4m) = %d, want 2", len(got))
	}
	if got, _, _ := s.DeliveryLog(ctx, store.LogFilter{ClinicID: c.ID, Channel: aftercare.Email}); len(got) != 0 {
		t.Errorf("email filter = %d, want 0", len(got))
	}
	if got, _, _ := s.DeliveryLog(ctx, store.LogFilter{ClinicID: c.ID, Step: "nope"}); len(got) != 0 {
		t.Errorf("step filter = %d, want 0", len(got))
	}

	day, week, err := s.StatusCounts(ctx, c.ID, t0.Add(time.Minute), t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if week[aftercare.StatusFailed] != 2 || week[aftercare.StatusScheduled] != 3 || day[aftercare.StatusFailed] != 1 || day[aftercare.StatusScheduled] != 3 {
		t.Errorf("counts: day %v week %v", day, week)
	}
}

func testDailyCountsByLocalDayAcrossDST(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	ny, _ := time.LoadLocation("America/New_York")
	// 2026-11-01 is 25 hours long in New York (DST ends).
	d1 := time.Date(2026, 11, 1, 0, 0, 0, 0, ny)
	d2 := time.Date(2026, 11, 2, 0, 0, 0, 0, ny)
	d3 := time.Date(2026, 11, 3, 0, 0, 0, 0, ny)
	sends := []time.Time{
		time.Date(2026, 11, 1, 23, 30, 0, 0, ny), // 25th hour of Nov 1: still Nov 1
		time.Date(2026, 11, 2, 0, 30, 0, 0, ny),
	}
	_, _, err := s.CreateEnrollment(ctx, store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", Phone: "+14155550123", Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: d1, SessionNumber: 1, SeriesLength: 1},
		Plan: func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
			var out []aftercare.Message
			for i, at := range sends {
				out = append(out, aftercare.Message{Step: "s", Occurrence: i, Channel: aftercare.SMS, SendAt: at,
					StaleAt: at.Add(time.Hour), Status: aftercare.StatusScheduled, Body: "x"})
			}
			return out, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Send the first, fail the second.
	cl, err := s.Claim(ctx, d3, 10, time.Minute)
	if err != nil || len(cl) != 2 {
		t.Fatalf("claim = %d, %v", len(cl), err)
	}
	if _, err := s.Record(ctx, []store.Outcome{
		{ID: cl[0].Message.ID, Kind: store.OutcomeSent, At: d3, ProviderID: "SM1"},
		{ID: cl[1].Message.ID, Kind: store.OutcomeFailed, At: d3, Reason: "boom"},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DailyCounts(ctx, c.ID, []store.DayRange{{Start: d1, End: d2}, {Start: d2, End: d3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Sent != 1 || got[0].Failed != 0 || got[1].Sent != 0 || got[1].Failed != 1 {
		t.Errorf("daily counts = %+v", got)
	}
}

func testPatientViewIsScopedByClinic(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	Enroll(t, s, c, "+14155550123", 1, 2)
	v2 := Enroll(t, s, c, "+14155550123", 2, 1)
	pv, err := s.PatientView(ctx, c.ID, v2.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.Enrollments) != 2 || pv.Enrollments[0].Enrollment.SessionNumber != 2 || len(pv.Enrollments[1].Messages) != 2 ||
		len(pv.Enrollments[1].Messages[0].Events) == 0 || len(pv.Consents) != 2 {
		t.Errorf("patient view: %d enrollments, consents %d", len(pv.Enrollments), len(pv.Consents))
	}
	other, _, _ := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550101", Timezone: "UTC"})
	if _, err := s.PatientView(ctx, other.ID, v2.Patient.ID); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("another clinic's patient: %v", err)
	}
}
