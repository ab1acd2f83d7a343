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

// InboxItem is one concern in the console's needs-attention inbox.
type InboxItem struct {
	Concern     aftercare.Concern
	PatientName string
	Phone       string
	SMSOptOut   bool
	// Replies are the patient's texts in the concern, oldest first.
	Replies []aftercare.Reply
	// StaffReplies are the texts staff sent about it from the inbox.
	StaffReplies []aftercare.Message
}

// InboxCounts are the inbox's counts for the console's navigation.
type InboxCounts struct {
	// RedFlags and Questions count open (unacknowledged) concerns.
	RedFlags, Questions int
	// Undeliverable counts unresolved concerns whose alert reached nobody.
	Undeliverable int
}

// Total is what needs someone now.
func (c InboxCounts) Total() int { return c.RedFlags + c.Questions }

// Inbox lists a clinic's concerns that need attention: open red flags
// first, then open questions, then acknowledged ones, newest first within
// each; resolved ones too when all is set (last). At most limit.
func (s *Store) Inbox(ctx context.Context, clinicID int64, all bool, limit int) ([]InboxItem, error) {
	rows, err := s.read.QueryContext(ctx, qInbox(), clinicID, all, limit)
	if err != nil {
		return nil, fmt.Errorf("list inbox: %w", err)
	}
	var items []InboxItem
	for rows.Next() {
		var it InboxItem
		var first, last string
		var optOut int
		c, err := scanConcern(extraCols{rows, []any{&first, &last, &it.Phone, &optOut}})
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list inbox: %w", err)
		}
		it.Concern, it.PatientName, it.SMSOptOut = c, strings.TrimSpace(first+" "+last), optOut != 0
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list inbox: %w", err)
	}
	for i := range items {
		if items[i].Replies, err = concernReplies(ctx, s.read, items[i].Concern.ID); err != nil {
			return nil, err
		}
		r, err := s.read.QueryContext(ctx, qConcernStepMessages, items[i].Concern.ID, StaffReplyStep)
		if err != nil {
			return nil, fmt.Errorf("list inbox: %w", err)
		}
		if items[i].StaffReplies, err = scanMessages(r); err != nil {
			return nil, fmt.Errorf("list inbox: %w", err)
		}
	}
	return items, nil
}

// InboxCounts counts what needs attention at a clinic.
func (s *Store) InboxCounts(ctx context.Context, clinicID int64) (InboxCounts, error) {
	var c InboxCounts
	err := s.read.QueryRowContext(ctx, qInboxCounts, clinicID).Scan(&c.RedFlags, &c.Questions, &c.Undeliverable)
	if err != nil {
		return c, fmt.Errorf("count inbox: %w", err)
	}
	return c, nil
}

// UnresolvedConcerns returns a clinic's unresolved concerns by patient id
// (the patient list marks them).
func (s *Store) UnresolvedConcerns(ctx context.Context, clinicID int64) (map[int64]aftercare.Concern, error) {
	cs, err := s.concerns(ctx, wUnresolved, clinicID)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]aftercare.Concern, len(cs))
	for _, c := range cs {
		out[c.PatientID] = c
	}
	return out, nil
}

// ConcernAt returns one of a clinic's concerns; another clinic's is not found.
func (s *Store) ConcernAt(ctx context.Context, clinicID, id int64) (aftercare.Concern, error) {
	c, err := scanConcern(s.read.QueryRowContext(ctx, qConcernAt, id, clinicID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("concern", id)
	}
	if err != nil {
		return c, fmt.Errorf("get concern %d: %w", id, err)
	}
	return c, nil
}

// AcknowledgeConcern records that a staff member (by) has seen an open
// concern: re-alerts stop. Acknowledging twice keeps the first.
func (s *Store) AcknowledgeConcern(ctx context.Context, clinicID, id int64, by string) error {
	if _, err := s.ConcernAt(ctx, clinicID, id); err != nil {
		return err
	}
	return s.concernChange(ctx, id, "acknowledged", qAcknowledgeConcern, ms(s.now().UTC()), by, id, clinicID)
}

// ResolveConcern closes a concern (by a staff member): the patient's next
// text opens a new one.
func (s *Store) ResolveConcern(ctx context.Context, clinicID, id int64, by string) error {
	if _, err := s.ConcernAt(ctx, clinicID, id); err != nil {
		return err
	}
	now := ms(s.now().UTC())
	return s.concernChange(ctx, id, "resolved", qResolveConcern, now, by, now, by, id, clinicID)
}

// concernChange runs one update of a concern and, when it changed the
// concern, its audit row, in one transaction.
func (s *Store) concernChange(ctx context.Context, id int64, what, q string, args ...any) error {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("%s concern %d: %w", what, id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s concern %d: %w", what, id, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		var patientID int64
		if err := tx.QueryRowContext(ctx, qConcernPatient, id).Scan(&patientID); err != nil {
			return fmt.Errorf("%s concern %d: %w", what, id, err)
		}
		if err := auditPatient(ctx, tx, s.now().UTC(), aftercare.AuditConcern, patientID, 0, fmt.Sprintf("concern %d %s", id, what)); err != nil {
			return fmt.Errorf("%s concern %d: %w", what, id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s concern %d: %w", what, id, err)
	}
	return nil
}

// StaffReplyStep is the step of a text staff write from the inbox.
const StaffReplyStep = "staff_reply"

// AnswerWindow is how long after a patient's text staff may still answer
// it even though the patient opted out (an answer to what they wrote).
const AnswerWindow = 24 * time.Hour

// StaffReply queues a text from the clinic's number to the patient of a
// concern, written by a staff member (by), and records who sent it; the
// concern counts as acknowledged. Within AnswerWindow of the patient's
// last text it is an answer (it reaches a patient who opted out, at any
// hour); later it is an ordinary text.
func (s *Store) StaffReply(ctx context.Context, clinicID, concernID int64, by, body string) (aftercare.Message, error) {
	c, err := s.ConcernAt(ctx, clinicID, concernID)
	if err != nil {
		return aftercare.Message{}, err
	}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return aftercare.Message{}, fmt.Errorf("staff reply: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	answer := now.Sub(c.LastReplyAt) < AnswerWindow
	var enrollmentID int64
	if err := tx.QueryRowContext(ctx, qLatestEnrollment, c.PatientID).Scan(&enrollmentID); err != nil {
		return aftercare.Message{}, fmt.Errorf("staff reply: find enrollment: %w", err)
	}
	var occ int
	if err := tx.QueryRowContext(ctx, qNextOccurrence,
		enrollmentID, StaffReplyStep).Scan(&occ); err != nil {
		return aftercare.Message{}, fmt.Errorf("staff reply: %w", err)
	}
	m := aftercare.Message{Step: StaffReplyStep, Occurrence: occ, Channel: aftercare.SMS, SendAt: now, StaleAt: now.Add(6 * time.Hour),
		NextAttemptAt: now, Status: aftercare.StatusScheduled, Body: body, Urgent: answer, Answer: answer, SentBy: by}
	stored, err := s.queueForPatient(ctx, tx, c.ClinicID, c.PatientID, c.ID, []aftercare.Message{m}, now)
	if err != nil {
		return aftercare.Message{}, fmt.Errorf("staff reply: %w", err)
	}
	if _, err := tx.ExecContext(ctx, qStaffAnswered, ms(now), ms(now), by, c.ID); err != nil {
		return aftercare.Message{}, fmt.Errorf("staff reply: %w", err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: c.ClinicID, Action: aftercare.AuditStaffReply,
		PatientID: c.PatientID, EnrollmentID: enrollmentID, Detail: fmt.Sprintf("concern %d, message %d", c.ID, stored[0].ID)}); err != nil {
		return aftercare.Message{}, fmt.Errorf("staff reply: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return aftercare.Message{}, fmt.Errorf("staff reply: commit: %w", err)
	}
	return stored[0], nil
}
