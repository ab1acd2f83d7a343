package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// replanPlan is a new plan for Enroll's five texts: the two already sent
// reworded (to be ignored), the third as it was, the fourth reworded and
// later, the fifth skipped by the new plan, and a sixth added.
func replanPlan(p aftercare.Patient, e aftercare.Enrollment, consents []aftercare.Consent) ([]aftercare.Message, error) {
	var out []aftercare.Message
	for i := 0; i < 6; i++ {
		send := t0.Add(time.Duration(i) * time.Minute)
		m := aftercare.Message{Step: "step", Occurrence: i, Channel: aftercare.SMS, SendAt: send, NextAttemptAt: send,
			StaleAt: send.Add(24 * time.Hour), Status: aftercare.StatusScheduled, Body: "hello"}
		switch i {
		case 0, 1:
			m.Body = "reworded, but already sent"
		case 3:
			m.Body, m.SendAt, m.NextAttemptAt = "hi there", send.Add(time.Hour), send.Add(time.Hour)
		case 4:
			m.Status, m.Reason = aftercare.StatusSkipped, "frequency cap"
		case 5:
			m.Body = "a new text"
		}
		if len(consents) == 0 || p.ID != e.PatientID {
			m.Body = "the plan was not given the stored patient and consents"
		}
		out = append(out, m)
	}
	return out, nil
}

func testReplanPendingMessages(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	v := Enroll(t, s, c, "+14155550123", 1, 5)
	id := v.Enrollment.ID

	// The first two texts go out.
	clock.Set(t0.Add(time.Minute + time.Second))
	batch, err := s.Claim(ctx, clock.Now(), 10, time.Minute)
	if err != nil || len(batch) != 2 {
		t.Fatalf("claim = %d, %v", len(batch), err)
	}
	var outs []store.Outcome
	for _, b := range batch {
		outs = append(outs, store.Outcome{ID: b.Message.ID, Kind: store.OutcomeSent, At: clock.Now(), ProviderID: "SM" + b.Message.Step})
	}
	if _, err := s.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	before, err := s.Enrollment(ctx, c.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	in := store.ReplanInput{ClinicID: c.ID, EnrollmentID: id, Protocol: "glow-care", ProtocolVersion: 2, Language: "en",
		Plan: replanPlan, DryRun: true}

	// Another clinic's enrollment is not found.
	other, _, _ := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550199", Timezone: "UTC"})
	cross := in
	cross.ClinicID, cross.DryRun = other.ID, false
	if _, err := s.Replan(ctx, cross); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Fatalf("cross-clinic re-plan: %v", err)
	}

	// The dry run shows the difference and writes nothing.
	dry, err := s.Replan(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || len(dry.Added) != 1 || len(dry.Changed) != 1 || len(dry.Removed) != 1 || dry.Unchanged != 1 || dry.Kept != 2 {
		t.Fatalf("dry run = %+v", dry)
	}
	if a := dry.Added[0]; a.Occurrence != 5 || a.Body != "a new text" || a.ID != 0 {
		t.Fatalf("added = %+v", a)
	}
	if ch := dry.Changed[0]; ch.Occurrence != 3 || ch.OldBody != "hello" || ch.NewBody != "hi there" ||
		!ch.OldSendAt.Equal(t0.Add(3*time.Minute)) || !ch.NewSendAt.Equal(t0.Add(3*time.Minute+time.Hour)) {
		t.Fatalf("changed = %+v", ch)
	}
	if r := dry.Removed[0]; r.Occurrence != 4 || !strings.Contains(r.Reason, "re-planned with glow-care v2") || !strings.Contains(r.Reason, "frequency cap") {
		t.Fatalf("removed = %+v", r)
	}
	if dry.From.Name != v.Enrollment.Protocol || dry.To != (store.ProtocolRef{Name: "glow-care", Version: 2, Language: "en"}) {
		t.Fatalf("from %v to %v", dry.From, dry.To)
	}
	after, err := s.Enrollment(ctx, c.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a dry run wrote:\nbefore %+v\nafter  %+v", before, after)
	}
	if log, _ := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditReplan}); len(log) != 0 {
		t.Fatalf("a dry run was audited: %+v", log)
	}

	// Applying does what the dry run showed.
	clock.Set(t0.Add(90 * time.Second))
	in.DryRun = false
	applied, err := s.Replan(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if applied.Added[0].ID == 0 {
		t.Fatal("the added message has no id")
	}
	applied.Added[0].ID, applied.DryRun = 0, true
	if !reflect.DeepEqual(dry, applied) {
		t.Fatalf("applied differs from the dry run:\ndry     %+v\napplied %+v", dry, applied)
	}
	got, err := s.Enrollment(ctx, c.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if e := got.Enrollment; e.Protocol != "glow-care" || e.ProtocolVersion != 2 || e.Language != "en" {
		t.Fatalf("enrollment records %s v%d %s", e.Protocol, e.ProtocolVersion, e.Language)
	}
	byOcc := map[int]aftercare.Message{}
	for _, m := range got.Messages {
		byOcc[m.Occurrence] = m
	}
	if len(byOcc) != 6 {
		t.Fatalf("%d messages after the re-plan, want 6", len(byOcc))
	}
	for occ := 0; occ < 2; occ++ {
		if m := byOcc[occ]; m.Status != aftercare.StatusSent || m.Body != "hello" {
			t.Fatalf("sent message %d touched: %s %q", occ, m.Status, m.Body)
		}
	}
	if m := byOcc[2]; m.Status != aftercare.StatusScheduled || len(m.Events) != 1 {
		t.Fatalf("unchanged message: %s, %d events", m.Status, len(m.Events))
	}
	m3 := byOcc[3]
	if m3.Status != aftercare.StatusScheduled || m3.Body != "hi there" || !m3.SendAt.Equal(t0.Add(3*time.Minute+time.Hour)) ||
		!m3.NextAttemptAt.Equal(m3.SendAt) || len(m3.Events) != 2 {
		t.Fatalf("changed message = %+v", m3)
	}
	if ev := m3.Events[1]; ev.From != aftercare.StatusScheduled || ev.To != aftercare.StatusScheduled || !strings.Contains(ev.Detail, "re-planned") {
		t.Fatalf("re-plan note = %+v", ev)
	}
	if m := byOcc[4]; m.Status != aftercare.StatusCancelled || !strings.Contains(m.Reason, "frequency cap") {
		t.Fatalf("removed message: %s %q", m.Status, m.Reason)
	}
	if m := byOcc[5]; m.Status != aftercare.StatusScheduled || m.Body != "a new text" {
		t.Fatalf("added message: %s %q", m.Status, m.Body)
	}
	log, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: c.ID, Action: aftercare.AuditReplan})
	if err != nil || len(log) != 1 || log[0].EnrollmentID != id || !strings.Contains(log[0].Detail, "1 added") {
		t.Fatalf("audit = %+v, %v", log, err)
	}
	if err := s.CheckTransitions(ctx); err != nil {
		t.Fatal(err)
	}

	// Re-planning again with the same plan changes nothing.
	again, err := s.Replan(ctx, in)
	if err != nil || !again.Empty() || again.Unchanged != 3 {
		t.Fatalf("second re-plan = %+v, %v", again, err)
	}

	// The enrollment is active; once cancelled it is refused.
	if act, err := s.ActiveEnrollments(ctx, c.ID, ""); err != nil || len(act) != 1 || act[0].ID != id {
		t.Fatalf("active = %+v, %v", act, err)
	}
	if act, err := s.ActiveEnrollments(ctx, c.ID, "chemical peel"); err != nil || len(act) != 0 {
		t.Fatalf("active chemical peels = %+v, %v", act, err)
	}
	if _, err := s.CancelEnrollment(ctx, c.ID, id, ""); err != nil {
		t.Fatal(err)
	}
	for _, dryRun := range []bool{true, false} {
		in.DryRun = dryRun
		if _, err := s.Replan(ctx, in); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
			t.Fatalf("re-plan of a cancelled enrollment (dry run %v): %v", dryRun, err)
		}
	}
	if act, _ := s.ActiveEnrollments(ctx, c.ID, ""); len(act) != 0 {
		t.Fatalf("a cancelled enrollment is active: %+v", act)
	}
}
