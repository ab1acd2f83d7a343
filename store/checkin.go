package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
)

// CheckinAnswer is a reply that answers an open check-in question, with
// what aftercare does about it: recorded with the reply in one
// transaction (see InboundReply.Checkin).
type CheckinAnswer struct {
	// Question is the question's text, from OpenQuestion.
	Question OpenQuestion
	// Day is the day after the treatment the question was asked on.
	Day int
	// Answer is "1", "2" or "3"; "" for free text.
	Answer string
	// Outcome is aftercare.CheckinHealing, CheckinNotHealing or CheckinRedFlag.
	Outcome string
	// FollowUp, if set, is the follow-up question to queue on the
	// question's enrollment (its Occurrence is set to the reply's id).
	FollowUp *aftercare.Message
}

// FollowUpStepSuffix ends the outbox step of a follow-up question
// (protocol.FollowUpSuffix): an answer queued it, not the planner, so a
// re-plan leaves it alone.
const FollowUpStepSuffix = "_follow_up"

// OpenQuestion is the question text a patient's reply may answer.
type OpenQuestion struct {
	MessageID, EnrollmentID int64
	Step                    string
	SentAt                  time.Time
	// TreatedAt is the enrollment's treatment time (for the day number).
	TreatedAt time.Time
}

// OpenQuestion returns the latest question text sent to the patient whose
// window has not passed at now. windows gives each question step's window
// (protocol.Protocol.Asks); a text of any other step is not a question.
func (s *Store) OpenQuestion(ctx context.Context, patientID int64, windows map[string]time.Duration, now time.Time) (OpenQuestion, bool, error) {
	var longest time.Duration
	for _, w := range windows {
		longest = max(longest, w)
	}
	if longest == 0 {
		return OpenQuestion{}, false, nil
	}
	rows, err := s.read.QueryContext(ctx, qRecentTextsToPatient, patientID, ms(now.Add(-longest)))
	if err != nil {
		return OpenQuestion{}, false, fmt.Errorf("open question of patient %d: %w", patientID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var q OpenQuestion
		var sent, treated int64
		if err := rows.Scan(&q.MessageID, &q.EnrollmentID, &q.Step, &sent, &treated); err != nil {
			return OpenQuestion{}, false, fmt.Errorf("open question of patient %d: %w", patientID, err)
		}
		q.SentAt, q.TreatedAt = fromMS(sent), fromMS(treated)
		w, ok := windows[q.Step]
		if ok && q.SentAt.Add(w).After(now) {
			return q, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return OpenQuestion{}, false, fmt.Errorf("open question of patient %d: %w", patientID, err)
	}
	return OpenQuestion{}, false, nil
}

// recordCheckin stores an answer in the reply's transaction and queues
// its follow-up question, if any, on the question's enrollment.
func (s *Store) recordCheckin(ctx context.Context, tx *sql.Tx, replyID int64, r aftercare.Reply, c *CheckinAnswer) error {
	var followUp int64
	if c.FollowUp != nil {
		m := *c.FollowUp
		m.Occurrence = int(replyID)
		e := aftercare.Enrollment{ID: c.Question.EnrollmentID, ClinicID: r.ClinicID, PatientID: r.PatientID}
		stored, err := s.insertMessages(ctx, tx, e, []aftercare.Message{m}, r.At)
		if err != nil {
			return fmt.Errorf("queue follow-up question: %w", err)
		}
		if len(stored) > 0 {
			followUp = stored[0].ID
		}
	}
	var id int64
	err := tx.QueryRowContext(ctx, qInsertCheckin, r.ClinicID, r.PatientID, c.Question.EnrollmentID, replyID, c.Question.MessageID,
		c.Question.Step, c.Day, c.Answer, c.Outcome, followUp, ms(r.At)).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("record check-in answer: %w", err)
	}
	return nil
}

// CheckinAnswers returns a patient's answers at a clinic, oldest first: the
// healing trend.
func (s *Store) CheckinAnswers(ctx context.Context, clinicID, patientID int64) ([]aftercare.CheckinAnswer, error) {
	return s.checkins(ctx, qPatientCheckins, clinicID, patientID)
}

// EnrollmentCheckinAnswers returns an enrollment's answers at a clinic,
// oldest first.
func (s *Store) EnrollmentCheckinAnswers(ctx context.Context, clinicID, enrollmentID int64) ([]aftercare.CheckinAnswer, error) {
	return s.checkins(ctx, qEnrollmentCheckins, clinicID, enrollmentID)
}

func (s *Store) checkins(ctx context.Context, q string, args ...any) ([]aftercare.CheckinAnswer, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("check-in answers: %w", err)
	}
	defer rows.Close()
	var out []aftercare.CheckinAnswer
	for rows.Next() {
		a, err := scanCheckin(rows)
		if err != nil {
			return nil, fmt.Errorf("check-in answers: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check-in answers: %w", err)
	}
	return out, nil
}

func scanCheckin(r scanner, more ...any) (aftercare.CheckinAnswer, error) {
	var a aftercare.CheckinAnswer
	var at int64
	dest := append([]any{&a.ID, &a.ClinicID, &a.PatientID, &a.EnrollmentID, &a.ReplyID, &a.MessageID, &a.Step, &a.Day,
		&a.Answer, &a.Outcome, &a.FollowUpID, &at}, more...)
	err := r.Scan(dest...)
	a.At = fromMS(at)
	return a, err
}

// NotHealingWindow is how far back the clinic's "not healing" list looks.
const NotHealingWindow = 14 * 24 * time.Hour

// NotHealingPatient is a patient whose latest check-in answer says they
// are not healing as expected (or named a red flag).
type NotHealingPatient struct {
	FirstName, LastName string
	// Latest is the patient's latest answer.
	Latest aftercare.CheckinAnswer
}

// NotHealing lists a clinic's patients whose latest answer in the last 14
// days (NotHealingWindow, before now) is not_healing or red_flag, most
// recent first.
func (s *Store) NotHealing(ctx context.Context, clinicID int64, now time.Time) ([]NotHealingPatient, error) {
	rows, err := s.read.QueryContext(ctx, qNotHealing, clinicID, ms(now.Add(-NotHealingWindow)), clinicID)
	if err != nil {
		return nil, fmt.Errorf("patients not healing: %w", err)
	}
	defer rows.Close()
	var out []NotHealingPatient
	for rows.Next() {
		var p NotHealingPatient
		if p.Latest, err = scanCheckin(rows, &p.FirstName, &p.LastName); err != nil {
			return nil, fmt.Errorf("patients not healing: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("patients not healing: %w", err)
	}
	return out, nil
}
