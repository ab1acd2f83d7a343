package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// file records a reply under the patient's concern and returns the decision.
func file(t *testing.T, s *store.Store, p aftercare.Patient, n int, body string, redFlag, emergency bool, at time.Time) store.ConcernDecision {
	t.Helper()
	out, err := s.RecordReplyOutcome(context.Background(), store.InboundReply{
		Reply: aftercare.Reply{ClinicID: p.ClinicID, PatientID: p.ID, ProviderID: fmt.Sprintf("SM%d", n), Body: body, Kind: "x", At: at},
		Concern: &store.ConcernReply{RedFlag: redFlag, Emergency: emergency, Signs: body,
			Respond: func(d store.ConcernDecision) ([]aftercare.Message, error) {
				if !d.QuestionAnswer {
					return nil, nil
				}
				return []aftercare.Message{{Step: store.QuestionAnswerStep, Channel: aftercare.SMS, SendAt: at, StaleAt: at.Add(time.Hour),
					Status: aftercare.StatusScheduled, Body: "not watched around the clock", Answer: true}}, nil
			}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Decision
}

func testConcernRules(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	p := Enroll(t, s, c, "+14155550123", 1, 2).Patient
	at := clock.Now()
	type want struct{ alert, answer, question bool }
	check := func(name string, d store.ConcernDecision, w want) {
		t.Helper()
		if d.Alert != w.alert || d.Answer != w.answer || d.QuestionAnswer != w.question {
			t.Errorf("%s: alert %v answer %v question answer %v, want %+v", name, d.Alert, d.Answer, d.QuestionAnswer, w)
		}
	}
	check("a question", file(t, s, p, 1, "is this normal?", false, false, at), want{question: true})
	check("a second question the same day", file(t, s, p, 2, "and retinol?", false, false, at.Add(time.Hour)), want{})
	d := file(t, s, p, 3, "now it is swollen", true, false, at.Add(2*time.Hour))
	check("the question turns into a red flag", d, want{alert: true, answer: true})
	if d.Concern.Kind != aftercare.ConcernRedFlag || d.Concern.Replies != 3 || len(d.Replies) != 3 {
		t.Errorf("concern after escalation: %+v (%d replies)", d.Concern, len(d.Replies))
	}
	check("more red-flag words while open", file(t, s, p, 4, "very swollen", true, false, at.Add(2*time.Hour+time.Minute)), want{})
	check("an ordinary text in a red-flag concern", file(t, s, p, 5, "thanks", false, false, at.Add(2*time.Hour+2*time.Minute)), want{})
	check("it becomes an emergency", file(t, s, p, 6, "cannot breathe", true, true, at.Add(2*time.Hour+3*time.Minute)), want{alert: true, answer: true})
	if err := s.AcknowledgeConcern(context.Background(), c.ID, d.Concern.ID, "nurse@glow.example"); err != nil {
		t.Fatal(err)
	}
	check("new red-flag words after acknowledgment", file(t, s, p, 7, "pus now", true, false, at.Add(3*time.Hour)), want{alert: true})
	if err := s.ResolveConcern(context.Background(), c.ID, d.Concern.ID, "nurse@glow.example"); err != nil {
		t.Fatal(err)
	}
	d2 := file(t, s, p, 8, "swollen again", true, false, at.Add(4*time.Hour))
	check("a red flag after resolution opens a new concern", d2, want{alert: true, answer: true})
	if !d2.New || d2.Concern.ID == d.Concern.ID {
		t.Errorf("not a new concern: %+v", d2.Concern)
	}
}

// Concurrent red flags (webhooks arriving together) alert once.
func testConcurrentRedFlagsAlertOnce(t *testing.T, drv Driver) {
	s, clock, c := Setup(t, drv.Open)
	p := Enroll(t, s, c, "+14155550123", 1, 2).Patient
	var wg sync.WaitGroup
	var mu sync.Mutex
	alerts := 0
	for i := range 7 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := s.RecordReplyOutcome(context.Background(), store.InboundReply{
				Reply:   aftercare.Reply{ClinicID: c.ID, PatientID: p.ID, ProviderID: fmt.Sprintf("SM%d", i), Body: "swollen", Kind: "red_flag", At: clock.Now()},
				Concern: &store.ConcernReply{RedFlag: true},
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if out.Decision.Alert {
				alerts++
			}
		}()
	}
	wg.Wait()
	if alerts != 1 {
		t.Fatalf("alerts for 7 concurrent red flags: %d, want 1", alerts)
	}
}
