package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// Concerns group a patient's replies that need someone at the clinic (see
// aftercare.Concern). Their rules live here, decided inside the reply's
// transaction, so two webhooks arriving together cannot both alert.

func scanConcern(r scanner) (aftercare.Concern, error) {
	var c aftercare.Concern
	var kind, status string
	var emergency int
	var opened, last, alerted, answered, acked, resolved, failed int64
	err := r.Scan(&c.ID, &c.ClinicID, &c.PatientID, &kind, &status, &emergency, &c.Signs, &opened, &last, &c.Replies,
		&alerted, &c.Alerts, &answered, &acked, &c.AcknowledgedBy, &resolved, &c.ResolvedBy, &failed, &c.AlertFailure)
	c.Kind, c.Status, c.Emergency = aftercare.ConcernKind(kind), aftercare.ConcernStatus(status), emergency != 0
	c.OpenedAt, c.LastReplyAt, c.AlertedAt, c.AnsweredAt = fromMS(opened), fromMS(last), optMS(alerted), optMS(answered)
	c.AcknowledgedAt, c.ResolvedAt, c.AlertFailedAt = optMS(acked), optMS(resolved), optMS(failed)
	return c, err
}

// optMS is fromMS with 0 meaning "never" (the zero time).
func optMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

// ConcernReply files a reply under the patient's concern.
type ConcernReply struct {
	// RedFlag: the reply reads like a complication; Emergency: one that
	// calls for emergency services first.
	RedFlag, Emergency bool
	// Signs explains the red flag (which sign matched which words).
	Signs string
	// Respond is called inside the reply's transaction with what the reply
	// means for its concern, and returns the texts and alerts to queue
	// (they are tied to the concern).
	Respond func(d ConcernDecision) ([]aftercare.Message, error)
}

// ConcernDecision is what one reply means for its concern.
type ConcernDecision struct {
	// Concern is the concern after this reply.
	Concern aftercare.Concern
	// New is set when this reply opened the concern.
	New bool
	// Alert: staff must be told now (a new red flag, a question turned red
	// flag, an emergency, or a red flag after staff acknowledged).
	Alert bool
	// Answer: the patient gets the red-flag (or emergency) answer now; once
	// per concern, again only when it turns into an emergency.
	Answer bool
	// QuestionAnswer: the patient gets the automatic "this number is not
	// watched around the clock" answer (at most once a day).
	QuestionAnswer bool
	// Replies are the patient's texts in this concern, oldest first (for
	// the alert).
	Replies []aftercare.Reply
}

// QuestionAnswerStep is the step of the automatic answer to an ordinary
// reply; the store uses it to send it at most once a day per patient.
const QuestionAnswerStep = "reply_question"

// questionAnswerEvery is how often a patient may get that answer.
const questionAnswerEvery = 24 * time.Hour

// fileConcern adds reply replyID to the patient's unresolved concern, or
// opens one, and decides what happens.
func (s *Store) fileConcern(ctx context.Context, tx *sql.Tx, replyID int64, r aftercare.Reply, in *ConcernReply) (ConcernDecision, error) {
	now := ms(r.At)
	var d ConcernDecision
	c, err := scanConcern(tx.QueryRowContext(ctx, qOpenConcern, r.PatientID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		kind := aftercare.ConcernQuestion
		if in.RedFlag {
			kind = aftercare.ConcernRedFlag
		}
		var id int64
		if err := tx.QueryRowContext(ctx, qInsertConcern, r.ClinicID, r.PatientID, string(kind), b2i(in.Emergency), in.Signs, now, now).Scan(&id); err != nil {
			return d, fmt.Errorf("open concern: %w", err)
		}
		d.New = true
		d.Alert, d.Answer = in.RedFlag, in.RedFlag
		c = aftercare.Concern{ID: id, ClinicID: r.ClinicID, PatientID: r.PatientID, Kind: kind, Status: aftercare.ConcernOpen,
			Emergency: in.Emergency, Signs: in.Signs, OpenedAt: fromMS(now), LastReplyAt: fromMS(now), Replies: 1}
	case err != nil:
		return d, fmt.Errorf("find concern: %w", err)
	default:
		if in.RedFlag {
			switch {
			case c.Kind == aftercare.ConcernQuestion:
				// A question that turned into a red flag.
				d.Alert, d.Answer = true, true
			case in.Emergency && !c.Emergency:
				d.Alert, d.Answer = true, true
			case c.Status == aftercare.ConcernAcknowledged:
				// New worrying words after staff looked: tell them again.
				d.Alert = true
			}
			c.Kind = aftercare.ConcernRedFlag
			c.Signs = joinSigns(c.Signs, in.Signs)
			c.Emergency = c.Emergency || in.Emergency
		}
		if d.Alert || c.Kind == aftercare.ConcernQuestion {
			// Needs someone again (a question the patient added to).
			c.Status = aftercare.ConcernOpen
		}
		c.Replies++
		c.LastReplyAt = fromMS(now)
		if _, err := tx.ExecContext(ctx, qConcernReply, string(c.Kind), string(c.Status), b2i(c.Emergency), c.Signs, now, c.ID); err != nil {
			return d, fmt.Errorf("update concern %d: %w", c.ID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, qFileReply, c.ID, replyID); err != nil {
		return d, fmt.Errorf("file reply under concern %d: %w", c.ID, err)
	}
	if c.Kind == aftercare.ConcernQuestion {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, qLastStepSend,
			r.PatientID, QuestionAnswerStep).Scan(&last); err != nil {
			return d, fmt.Errorf("last automatic answer: %w", err)
		}
		d.QuestionAnswer = !last.Valid || r.At.Sub(fromMS(last.Int64)) >= questionAnswerEvery
	}
	if d.Alert {
		c.AlertedAt = fromMS(now)
		c.Alerts++
	}
	if d.Answer || d.QuestionAnswer {
		c.AnsweredAt = fromMS(now)
	}
	if _, err := tx.ExecContext(ctx, qConcernAlerted,
		ms0(c.AlertedAt), c.Alerts, ms0(c.AnsweredAt), c.ID); err != nil {
		return d, fmt.Errorf("update concern %d: %w", c.ID, err)
	}
	d.Concern = c
	if d.Replies, err = concernReplies(ctx, tx, c.ID); err != nil {
		return d, err
	}
	return d, nil
}

// ms0 is ms with the zero time stored as 0.
func ms0(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

func joinSigns(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || strings.Contains(a, b):
		return a
	}
	return a + "; " + b
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func concernReplies(ctx context.Context, q queryer, concernID int64) ([]aftercare.Reply, error) {
	rows, err := q.QueryContext(ctx, qConcernReplies, concernID)
	if err != nil {
		return nil, fmt.Errorf("replies of concern %d: %w", concernID, err)
	}
	replies, err := scanReplies(rows)
	if err != nil {
		return nil, fmt.Errorf("replies of concern %d: %w", concernID, err)
	}
	return replies, nil
}

// ConcernReplies returns the patient's texts in a concern, oldest first.
func (s *Store) ConcernReplies(ctx context.Context, concernID int64) ([]aftercare.Reply, error) {
	return concernReplies(ctx, s.read, concernID)
}

// queueForPatient adds messages about a patient (answers, alerts) to their
// latest enrollment's outbox, tied to a concern (0 for none). Occurrences
// must be unique per step.
func (s *Store) queueForPatient(ctx context.Context, tx *sql.Tx, clinicID, patientID, concernID int64, msgs []aftercare.Message, now time.Time) ([]aftercare.Message, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	var enrollmentID int64
	if err := tx.QueryRowContext(ctx, qLatestEnrollment, patientID).Scan(&enrollmentID); err != nil {
		return nil, fmt.Errorf("find enrollment: %w", err)
	}
	e := aftercare.Enrollment{ID: enrollmentID, ClinicID: clinicID, PatientID: patientID}
	stored, err := s.insertMessages(ctx, tx, e, msgs, now)
	if err != nil {
		return nil, err
	}
	byKey := make(map[aftercare.MessageKey]aftercare.Message, len(msgs))
	for _, m := range msgs {
		byKey[m.Key()] = m
	}
	for i, m := range stored {
		in := byKey[m.Key()]
		if concernID == 0 && !in.Answer && in.SentBy == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, qTieMessage,
			concernID, b2i(in.Answer), in.SentBy, m.ID); err != nil {
			return nil, fmt.Errorf("tie message %d to concern: %w", m.ID, err)
		}
		stored[i].ConcernID, stored[i].Answer, stored[i].SentBy = concernID, in.Answer, in.SentBy
	}
	return stored, nil
}

// RealertAfter is how long an open red flag may go unacknowledged before
// staff are alerted again.
const RealertAfter = 15 * time.Minute

// MaxAlerts caps the alerts about one concern (the first and the repeats):
// after that the console banner and the log carry it.
const MaxAlerts = 8

// ConcernsToRealert returns the open red-flag concerns whose last alert is
// at least RealertAfter old and that nobody acknowledged.
func (s *Store) ConcernsToRealert(ctx context.Context, now time.Time) ([]aftercare.Concern, error) {
	return s.concerns(ctx, wRealert, ms(now.Add(-RealertAfter)), MaxAlerts)
}

func (s *Store) concerns(ctx context.Context, where string, args ...any) ([]aftercare.Concern, error) {
	rows, err := s.read.QueryContext(ctx, qConcerns+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list concerns: %w", err)
	}
	defer rows.Close()
	var out []aftercare.Concern
	for rows.Next() {
		c, err := scanConcern(rows)
		if err != nil {
			return nil, fmt.Errorf("list concerns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Realert queues a repeated alert about a concern, if it is still open and
// was last alerted at lastAlert (so two passes cannot both re-alert). It
// reports whether it did.
func (s *Store) Realert(ctx context.Context, c aftercare.Concern, msgs []aftercare.Message) (bool, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return false, fmt.Errorf("re-alert concern %d: %w", c.ID, err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	res, err := tx.ExecContext(ctx, qRealert, ms(now), c.ID, ms(c.AlertedAt))
	if err != nil {
		return false, fmt.Errorf("re-alert concern %d: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if _, err := s.queueForPatient(ctx, tx, c.ClinicID, c.PatientID, c.ID, msgs, now); err != nil {
		return false, fmt.Errorf("re-alert concern %d: %w", c.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("re-alert concern %d: %w", c.ID, err)
	}
	return true, nil
}

// AlertState is what became of the alerts about one concern.
type AlertState struct {
	Concern aftercare.Concern
	// Delivered is set when an alert reached (or is on its way to) staff:
	// sent or delivered; Pending when one is still queued.
	Delivered, Pending bool
	// Failed lists alerts that failed for good, by channel.
	Failed map[aftercare.Channel][]aftercare.Message
}

// AlertStates returns, for every unresolved red-flag concern alerted but
// not yet marked undeliverable, what became of its alerts.
func (s *Store) AlertStates(ctx context.Context) ([]AlertState, error) {
	cs, err := s.concerns(ctx, wAlerting)
	if err != nil {
		return nil, err
	}
	var out []AlertState
	for _, c := range cs {
		rows, err := s.read.QueryContext(ctx, qConcernAlerts, c.ID)
		if err != nil {
			return nil, fmt.Errorf("alerts of concern %d: %w", c.ID, err)
		}
		msgs, err := scanMessages(rows)
		if err != nil {
			return nil, fmt.Errorf("alerts of concern %d: %w", c.ID, err)
		}
		st := AlertState{Concern: c, Failed: map[aftercare.Channel][]aftercare.Message{}}
		for _, m := range msgs {
			switch m.Status {
			case aftercare.StatusSent, aftercare.StatusDelivered:
				st.Delivered = true
			case aftercare.StatusScheduled, aftercare.StatusSending:
				st.Pending = true
			default:
				st.Failed[m.Channel] = append(st.Failed[m.Channel], m)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// QueueAlerts adds alerts about a concern (a fallback by another route).
func (s *Store) QueueAlerts(ctx context.Context, c aftercare.Concern, msgs []aftercare.Message) error {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("queue alerts of concern %d: %w", c.ID, err)
	}
	defer tx.Rollback()
	if _, err := s.queueForPatient(ctx, tx, c.ClinicID, c.PatientID, c.ID, msgs, s.now().UTC()); err != nil {
		return fmt.Errorf("queue alerts of concern %d: %w", c.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("queue alerts of concern %d: %w", c.ID, err)
	}
	return nil
}

// MarkAlertUndeliverable records that no route could deliver an alert
// about a concern. It reports whether it changed anything (once).
func (s *Store) MarkAlertUndeliverable(ctx context.Context, concernID int64, why string) (bool, error) {
	res, err := s.write.ExecContext(ctx, qAlertUndeliverable,
		ms(s.now().UTC()), why, concernID)
	if err != nil {
		return false, fmt.Errorf("mark alert of concern %d undeliverable: %w", concernID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// LastTexted returns when aftercare last sent the patient a text (their
// own number, not staff alerts about them); zero if never.
func (s *Store) LastTexted(ctx context.Context, patientID int64) (time.Time, error) {
	var at sql.NullInt64
	err := s.read.QueryRowContext(ctx, qLastTexted, patientID).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("last text to patient %d: %w", patientID, err)
	}
	if !at.Valid {
		return time.Time{}, nil
	}
	return fromMS(at.Int64), nil
}

// UndeliverableAlerts counts the unresolved concerns whose alert no route
// could deliver, at one clinic (or every clinic for 0).
func (s *Store) UndeliverableAlerts(ctx context.Context, clinicID int64) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, qUndeliverableAlerts, clinicID, clinicID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count undeliverable alerts: %w", err)
	}
	return n, nil
}
