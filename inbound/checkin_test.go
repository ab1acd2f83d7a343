package inbound_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/replies"
	"github.com/aftercare/aftercare/store"
)

// A reply while a check-in question is open: a bare digit branches as the
// protocol says, red-flag words always take the red-flag path, anything
// else is an ordinary reply; after the window a digit is ordinary too.
func TestCheckinReplies(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	asked := time.Date(2026, 11, 26, 9, 0, 0, 0, ny) // day 1 at 09:00
	nextMorning := time.Date(2026, 11, 27, 9, 0, 0, 0, ny)
	type want struct {
		kind     replies.Kind
		answer   string // "-" for none recorded
		outcome  string
		steps    []string // queued in answer, by step
		followUp bool
		redFlags int
		optedOut bool
	}
	for _, tc := range []struct {
		name  string
		body  string
		after time.Duration
		want  want
	}{
		{"1 thanks", "1", time.Hour, want{replies.Other, "1", aftercare.CheckinHealing, []string{"reply_checkin"}, false, 0, false}},
		{"2 reassures and follows up", "2", time.Hour, want{replies.Other, "2", aftercare.CheckinNotHealing, []string{"reply_checkin"}, true, 0, false}},
		{"2 with spaces", " 2 ", time.Hour, want{replies.Other, "2", aftercare.CheckinNotHealing, []string{"reply_checkin"}, true, 0, false}},
		{"2 with a full stop", "2.", time.Hour, want{replies.Other, "2", aftercare.CheckinNotHealing, []string{"reply_checkin"}, true, 0, false}},
		{"2 with an exclamation mark", "2!", time.Hour, want{replies.Other, "2", aftercare.CheckinNotHealing, []string{"reply_checkin"}, true, 0, false}},
		{"3 reaches staff", "3", time.Hour, want{replies.RedFlag, "3", aftercare.CheckinRedFlag, []string{"alert_staff", "alert_staff", "reply_red_flag"}, false, 1, false}},
		{"1 with red-flag words", "1 but there is pus", time.Hour, want{replies.RedFlag, "", aftercare.CheckinRedFlag, []string{"alert_staff", "alert_staff", "reply_red_flag"}, false, 1, false}},
		{"free text", "2 but it itches a bit", time.Hour, want{replies.Other, "-", "", []string{store.QuestionAnswerStep}, false, 0, false}},
		{"a number it does not offer", "5", time.Hour, want{replies.Other, "-", "", []string{store.QuestionAnswerStep}, false, 0, false}},
		{"STOP as before", "STOP", time.Hour, want{replies.Stop, "-", "", []string{"reply_opted_out"}, false, 0, true}},
		{"2 after the window", "2", 25 * time.Hour, want{replies.Other, "-", "", []string{store.QuestionAnswerStep}, false, 0, false}},
		{"3 after the window still reaches staff", "3", 25 * time.Hour, want{replies.RedFlag, "-", "", []string{"alert_staff", "alert_staff", "reply_red_flag"}, false, 1, false}},
		{"3 a week after the question is ordinary", "3", 8 * 24 * time.Hour, want{replies.Other, "-", "", []string{store.QuestionAnswerStep}, false, 0, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := &clock{t: asked.UTC()}
			s, err := store.Open(ctx, filepath.Join(t.TempDir(), "d.db"), store.Options{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			c, _, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York",
				AlertEmail: "staff@glow.example", OnCallPhone: "+14155550199"})
			if err != nil {
				t.Fatal(err)
			}
			treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
			v, _, err := s.CreateEnrollment(ctx, store.NewEnrollment{
				Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: "+14155550123", Timezone: "America/New_York"},
				Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: treated, SessionNumber: 1, SeriesLength: 3},
				Consents:   []aftercare.Consent{{Channel: aftercare.SMS, Granted: true, Method: aftercare.ConsentAPI, WordingVersion: aftercare.ConsentWordingVersion}},
				Plan: func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
					return []aftercare.Message{{Step: "day1_checkin", Channel: aftercare.SMS, SendAt: asked, StaleAt: asked.Add(9 * time.Hour),
						NextAttemptAt: asked, Status: aftercare.StatusScheduled, Body: "How is your skin? Reply 1, 2 or 3"}}, nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			batch, err := s.Claim(ctx, asked, 10, time.Minute)
			if err != nil || len(batch) != 1 {
				t.Fatalf("claim %d, %v", len(batch), err)
			}
			if _, err := s.Record(ctx, []store.Outcome{{ID: batch[0].Message.ID, Kind: store.OutcomeSent, At: asked, ProviderID: "SMq"}}); err != nil {
				t.Fatal(err)
			}
			p, err := protocol.Default()
			if err != nil {
				t.Fatal(err)
			}
			in := &inbound.Service{Store: s, Protocol: p, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			at := asked.Add(tc.after)
			clk.Set(at.UTC())
			before, _ := s.Messages(ctx, store.MessageFilter{ClinicID: c.ID})
			kind, err := in.HandleReply(ctx, inbound.Reply{ProviderID: "SMr1", From: "+14155550123", Body: tc.body})
			if err != nil {
				t.Fatal(err)
			}
			// The provider repeats its webhook: nothing changes.
			if _, err := in.HandleReply(ctx, inbound.Reply{ProviderID: "SMr1", From: "+14155550123", Body: tc.body}); err != nil {
				t.Fatal(err)
			}
			if kind != tc.want.kind {
				t.Errorf("kind %s, want %s", kind, tc.want.kind)
			}
			answers, err := s.CheckinAnswers(ctx, c.ID, v.Patient.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.answer == "-" {
				if len(answers) != 0 {
					t.Errorf("answer recorded: %+v", answers)
				}
			} else if len(answers) != 1 || answers[0].Answer != tc.want.answer || answers[0].Outcome != tc.want.outcome || answers[0].Day != 1 {
				t.Errorf("answers %+v, want %q %s on day 1", answers, tc.want.answer, tc.want.outcome)
			}
			after, _ := s.Messages(ctx, store.MessageFilter{ClinicID: c.ID})
			var steps []string
			var follow []aftercare.Message
			for _, m := range after[len(before):] {
				if m.Step == "day1_checkin"+protocol.FollowUpSuffix {
					follow = append(follow, m)
					continue
				}
				steps = append(steps, m.Step)
			}
			slices.Sort(steps)
			if !slices.Equal(steps, tc.want.steps) {
				t.Errorf("queued %v, want %v", steps, tc.want.steps)
			}
			if tc.want.followUp != (len(follow) == 1) || len(follow) > 1 {
				t.Fatalf("follow-ups %+v", follow)
			}
			if len(follow) == 1 && (!follow[0].SendAt.Equal(nextMorning) || follow[0].Urgent || follow[0].EnrollmentID != v.Enrollment.ID) {
				t.Errorf("follow-up at %s (urgent %v), want %s", follow[0].SendAt.In(ny), follow[0].Urgent, nextMorning)
			}
			counts, err := s.InboxCounts(ctx, c.ID)
			if err != nil || counts.RedFlags != tc.want.redFlags {
				t.Errorf("open red flags %d, want %d (%v)", counts.RedFlags, tc.want.redFlags, err)
			}
			pat, _ := s.Patient(ctx, c.ID, v.Patient.ID)
			if pat.SMSOptOut != tc.want.optedOut {
				t.Errorf("opted out %v", pat.SMSOptOut)
			}
		})
	}
}
