package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// sendAll claims and records as sent every message due at the clock's time.
func sendAll(t *testing.T, s *store.Store, now time.Time) []aftercare.Message {
	t.Helper()
	ctx := context.Background()
	batch, err := s.Claim(ctx, now, 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var outs []store.Outcome
	var msgs []aftercare.Message
	for _, b := range batch {
		outs = append(outs, store.Outcome{ID: b.Message.ID, Kind: store.OutcomeSent, At: now, ProviderID: fmt.Sprintf("SMout%d", b.Message.ID)})
		msgs = append(msgs, b.Message)
	}
	if _, err := s.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// A question is open for its window after its text was sent; an answer is
// recorded once however often the provider repeats the webhook, with its
// follow-up question in the same transaction; the trend, the clinic's
// "not healing" list and the counts read them, each clinic only its own.
func testCheckinAnswers(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	ctx := context.Background()
	v := Enroll(t, s, c, "+14155550123", 1, 1)
	p := v.Patient
	windows := map[string]time.Duration{"step": 24 * time.Hour}
	if _, ok, err := s.OpenQuestion(ctx, p.ID, windows, t0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("open question before any text went out: %v, %v", ok, err)
	}
	sent := sendAll(t, s, t0)
	if len(sent) != 1 {
		t.Fatalf("sent %d", len(sent))
	}
	for _, tc := range []struct {
		name    string
		windows map[string]time.Duration
		at      time.Time
		open    bool
	}{
		{"within the window", windows, t0.Add(23 * time.Hour), true},
		{"at the window's end", windows, t0.Add(24 * time.Hour), false},
		{"after it", windows, t0.Add(30 * time.Hour), false},
		{"a step that asks nothing", map[string]time.Duration{"other": 24 * time.Hour}, t0.Add(time.Hour), false},
	} {
		q, ok, err := s.OpenQuestion(ctx, p.ID, tc.windows, tc.at)
		if err != nil || ok != tc.open || ok && (q.MessageID != sent[0].ID || q.EnrollmentID != v.Enrollment.ID || q.Step != "step") {
			t.Errorf("%s: OpenQuestion = %+v, %v, %v", tc.name, q, ok, err)
		}
	}
	q, _, _ := s.OpenQuestion(ctx, p.ID, windows, t0.Add(time.Hour))
	answer := func(provider, digit, outcome string, at time.Time, followUp bool) store.ReplyOutcome {
		t.Helper()
		in := store.InboundReply{
			Reply:   aftercare.Reply{ClinicID: c.ID, PatientID: p.ID, ProviderID: provider, Body: digit, Kind: "other", At: at},
			Checkin: &store.CheckinAnswer{Question: q, Day: 1, Answer: digit, Outcome: outcome},
		}
		if followUp {
			next := at.Add(20 * time.Hour)
			in.Checkin.FollowUp = &aftercare.Message{Step: "step_follow_up", Channel: aftercare.SMS, SendAt: next, NextAttemptAt: next,
				StaleAt: next.Add(12 * time.Hour), Status: aftercare.StatusScheduled, Body: "how is it today?"}
		}
		out, err := s.RecordReplyOutcome(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	at := t0.Add(time.Hour)
	clock.Set(at)
	if out := answer("SMin1", "2", aftercare.CheckinNotHealing, at, true); !out.Fresh {
		t.Fatal("first answer not fresh")
	}
	if out := answer("SMin1", "2", aftercare.CheckinNotHealing, at, true); out.Fresh {
		t.Fatal("a repeated webhook recorded again")
	}
	got, err := s.CheckinAnswers(ctx, c.ID, p.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("CheckinAnswers = %+v, %v", got, err)
	}
	a := got[0]
	if a.Answer != "2" || a.Outcome != aftercare.CheckinNotHealing || a.Day != 1 || a.MessageID != sent[0].ID || a.EnrollmentID != v.Enrollment.ID ||
		a.Step != "step" || a.FollowUpID == 0 || !a.At.Equal(at) {
		t.Errorf("answer %+v", a)
	}
	follow, err := s.Messages(ctx, store.MessageFilter{ClinicID: c.ID, Step: "step_follow_up"})
	if err != nil || len(follow) != 1 || follow[0].ID != a.FollowUpID || follow[0].Status != aftercare.StatusScheduled ||
		!follow[0].SendAt.Equal(at.Add(20*time.Hour)) || follow[0].EnrollmentID != v.Enrollment.ID {
		t.Fatalf("follow-up questions %+v, %v", follow, err)
	}
	// A re-plan leaves the follow-up alone: an answer queued it, not the
	// planner.
	diff, err := s.Replan(ctx, store.ReplanInput{ClinicID: c.ID, EnrollmentID: v.Enrollment.ID, Protocol: "microneedling", ProtocolVersion: 9, Language: "en",
		Plan: func(aftercare.Patient, aftercare.Enrollment, []aftercare.Consent) ([]aftercare.Message, error) {
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Message(ctx, a.FollowUpID); err != nil || m.Status != aftercare.StatusScheduled || len(diff.Removed) != 0 {
		t.Errorf("after a re-plan the follow-up is %s (%v), removed %+v", m.Status, err, diff.Removed)
	}
	if e, err := s.EnrollmentCheckinAnswers(ctx, c.ID, v.Enrollment.ID); err != nil || len(e) != 1 {
		t.Errorf("EnrollmentCheckinAnswers = %+v, %v", e, err)
	}

	// Clinic B sees none of it.
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Other", Phone: "+14155550199", AlertEmail: "staff@other.example", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.CheckinAnswers(ctx, other.ID, p.ID); err != nil || len(got) != 0 {
		t.Errorf("clinic B sees clinic A's answers: %+v, %v", got, err)
	}
	if got, err := s.NotHealing(ctx, other.ID, at); err != nil || len(got) != 0 {
		t.Errorf("clinic B's not-healing list: %+v, %v", got, err)
	}

	list, err := s.NotHealing(ctx, c.ID, at)
	if err != nil || len(list) != 1 || list[0].Latest.PatientID != p.ID || list[0].FirstName != "Ana" {
		t.Fatalf("NotHealing = %+v, %v", list, err)
	}
	if list, _ := s.NotHealing(ctx, c.ID, at.Add(store.NotHealingWindow+time.Minute)); len(list) != 0 {
		t.Errorf("an answer older than 14 days still listed: %+v", list)
	}
	// A later "1" takes the patient off the list; the trend keeps both.
	later := at.Add(21 * time.Hour)
	answer("SMin2", "1", aftercare.CheckinHealing, later, false)
	if list, _ := s.NotHealing(ctx, c.ID, later); len(list) != 0 {
		t.Errorf("healing patient still listed: %+v", list)
	}
	if got, _ := s.CheckinAnswers(ctx, c.ID, p.ID); len(got) != 2 || got[1].Answer != "1" || got[1].FollowUpID != 0 {
		t.Errorf("trend %+v", got)
	}
}
