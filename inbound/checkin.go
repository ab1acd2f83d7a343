package inbound

import (
	"context"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/replies"
	"github.com/aftercare/aftercare/store"
)

// stepCheckinAnswer is the step of the text answering a check-in answer.
const stepCheckinAnswer = "reply_checkin"

// checkinReading is a reply read as the answer to an open check-in
// question.
type checkinReading struct {
	// answer is recorded; nil for a late red-flag digit (see checkin).
	answer *store.CheckinAnswer
	// digit is the answer's digit ("" for free text).
	digit string
	// redFlag: the answer takes the red-flag path.
	redFlag bool
	// messages answer a healing or not-healing answer.
	messages []aftercare.Message
}

// checkin reads a reply as the answer to the patient's open check-in
// question. Only a bare digit the question offers is an answer ("2",
// " 2 ", "2.", "2!"); free text is the classifier's: red-flag words are a
// red-flag answer (and take the red-flag path as any red flag does),
// anything else is an ordinary reply. It returns nil when the reply is
// not an answer, or no question is open (none was asked, or its window
// passed; see lateRedFlag for the one exception).
func (s *Service) checkin(ctx context.Context, pr *protocol.Protocol, c aftercare.Clinic, p aftercare.Patient, body string, res replies.Result, now time.Time) (*checkinReading, error) {
	if res.Kind != replies.Other && res.Kind != replies.RedFlag {
		return nil, nil // STOP, START, HELP: exactly as before
	}
	asks := pr.Asks()
	if len(asks) == 0 {
		return nil, nil
	}
	windows := make(map[string]time.Duration, len(asks))
	for k, a := range asks {
		windows[k] = a.Window
	}
	q, open, err := s.Store.OpenQuestion(ctx, p.ID, windows, now)
	if err != nil {
		return nil, err
	}
	if !open {
		return s.lateRedFlag(ctx, asks, p, body, now)
	}
	ask := asks[q.Step]
	in := protocol.Input{Enrollment: aftercare.Enrollment{TreatedAt: q.TreatedAt}, Patient: p, Clinic: c}
	rec := &store.CheckinAnswer{Question: q, Day: protocol.DayNumber(in, q.SentAt)}
	if res.Kind == replies.RedFlag {
		// Red-flag words, whatever digit the text also holds.
		rec.Outcome = aftercare.CheckinRedFlag
		return &checkinReading{answer: rec, redFlag: true}, nil
	}
	digit, ok := protocol.AnswerDigit(body)
	if !ok {
		return nil, nil
	}
	a, ok := ask.Answers[digit]
	if !ok {
		return nil, nil
	}
	rec.Answer, rec.Outcome = digit, string(a.Meaning)
	if a.Meaning == protocol.RedFlag {
		return &checkinReading{answer: rec, digit: digit, redFlag: true}, nil
	}
	d := data(p, c, "")
	text, err := a.Render(pr.Language, d)
	if err != nil {
		return nil, fmt.Errorf("check-in answer: %w", err)
	}
	out := &checkinReading{answer: rec, digit: digit, messages: []aftercare.Message{{Step: stepCheckinAnswer, Channel: aftercare.SMS, SendAt: now,
		StaleAt: now.Add(6 * time.Hour), NextAttemptAt: now, Status: aftercare.StatusScheduled, Body: text, Urgent: true, Answer: true}}}
	if f := a.FollowUp; f != nil && !ask.FollowUp {
		text, err := f.Render(pr.Language, d)
		if err != nil {
			return nil, fmt.Errorf("check-in follow-up: %w", err)
		}
		send := f.SendAt(now, protocol.Location(in), s.quiet(c))
		rec.FollowUp = &aftercare.Message{Step: q.Step + protocol.FollowUpSuffix, Channel: aftercare.SMS, SendAt: send,
			NextAttemptAt: send, StaleAt: send.Add(12 * time.Hour), Status: aftercare.StatusScheduled, Body: text}
	}
	return out, nil
}

// lateRedFlagLookback is how long after a question a bare digit that was
// its red_flag answer still takes the red-flag path.
const lateRedFlagLookback = 7 * 24 * time.Hour

// lateRedFlag reads a bare digit after its question's window: an ordinary
// reply, not an answer, except that the digit the question's red_flag
// answer was ("3" for pus, fever, hives or bleeding) still takes the
// red-flag path, unrecorded, for a week: patient safety outranks the
// window.
func (s *Service) lateRedFlag(ctx context.Context, asks map[string]protocol.Ask, p aftercare.Patient, body string, now time.Time) (*checkinReading, error) {
	digit, ok := protocol.AnswerDigit(body)
	if !ok {
		return nil, nil
	}
	windows := make(map[string]time.Duration, len(asks))
	for k := range asks {
		windows[k] = lateRedFlagLookback
	}
	q, asked, err := s.Store.OpenQuestion(ctx, p.ID, windows, now)
	if err != nil || !asked {
		return nil, err
	}
	if asks[q.Step].Answers[digit].Meaning != protocol.RedFlag {
		return nil, nil
	}
	return &checkinReading{digit: digit, redFlag: true}, nil
}

// quiet is the clinic's quiet hours, else the daemon's.
func (s *Service) quiet(c aftercare.Clinic) protocol.QuietHours {
	if c.QuietHours != "" {
		if q, err := protocol.ParseQuietWindow(c.QuietHours); err == nil {
			return q
		}
	}
	return s.Quiet
}
