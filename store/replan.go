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

// Re-planning. An enrollment keeps the plan it was made with: editing or
// switching a protocol never changes it. A clinic may choose to re-plan
// an active enrollment's pending messages with its current protocol
// (Replan), seeing the difference first (DryRun).
//
// Messages are compared by their outbox key (step, channel, occurrence).
// Only a message the planner made and that is still waiting is re-planned:
// scheduled, never tried (no attempt, not ambiguous), to the patient and
// not an answer, alert or staff text. Everything else (sending, sent,
// delivered, final, tried, ad hoc) is left alone and its counterpart in
// the new plan ignored: the unique key keeps one row per key, and a text
// that may have reached the patient is never rewritten. An email that
// stands in for a text (the same step and occurrence planned on another
// channel only, as the email fallback adds) is also left alone.

// ReplanInput is one enrollment to re-plan.
type ReplanInput struct {
	ClinicID     int64
	EnrollmentID int64
	// Protocol, ProtocolVersion and Language name the protocol the new
	// plan is made with; the enrollment records them.
	Protocol        string
	ProtocolVersion int
	Language        string
	// Plan returns the enrollment's new plan. It is called inside the
	// transaction with the stored patient, enrollment and consent evidence
	// and must not do I/O.
	Plan func(p aftercare.Patient, e aftercare.Enrollment, consents []aftercare.Consent) ([]aftercare.Message, error)
	// DryRun computes the difference and writes nothing.
	DryRun bool
}

// ReplanDiff is what a re-plan changes (or, for a dry run, would change).
type ReplanDiff struct {
	EnrollmentID int64
	PatientID    int64
	Treatment    string
	// From and To are the protocols before and after.
	From, To ProtocolRef
	DryRun   bool
	// Added are new messages (no row with their key yet).
	Added []ReplanMessage
	// Changed are waiting messages whose texts or times change in place.
	Changed []ReplanChange
	// Removed are waiting messages the new plan drops or skips: they are
	// cancelled with Reason.
	Removed []ReplanMessage
	// Unchanged counts waiting messages the new plan leaves as they are;
	// Kept counts the messages a re-plan does not touch (sent, final,
	// tried, or not the planner's).
	Unchanged, Kept int
}

// Empty reports whether the re-plan changes no message.
func (d ReplanDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Changed) == 0 && len(d.Removed) == 0
}

// ProtocolRef names a protocol version.
type ProtocolRef struct {
	Name     string
	Version  int
	Language string
}

// String is "name vN (language)".
func (r ProtocolRef) String() string {
	if r.Name == "" {
		return "(unrecorded protocol)"
	}
	return fmt.Sprintf("%s v%d (%s)", r.Name, r.Version, r.Language)
}

// ReplanMessage is one message added or removed by a re-plan.
type ReplanMessage struct {
	ID         int64 // 0 for a message a dry run would add
	Step       string
	Channel    aftercare.Channel
	Occurrence int
	SendAt     time.Time
	Subject    string
	Body       string
	// Reason says why a removed message is cancelled.
	Reason string
}

// ReplanChange is one waiting message changed in place.
type ReplanChange struct {
	ID                     int64
	Step                   string
	Channel                aftercare.Channel
	Occurrence             int
	OldSendAt, NewSendAt   time.Time
	OldSubject, NewSubject string
	OldBody, NewBody       string
}

// replannable reports whether a stored message is the planner's and still
// waiting untried.
func replannable(m aftercare.Message) bool {
	return m.Status == aftercare.StatusScheduled && m.Attempts == 0 && !m.Ambiguous && m.Recipient == "" &&
		!m.Urgent && !m.Answer && m.ConcernID == 0 && m.SentBy == "" &&
		m.Step != StaffReplyStep && m.Step != QuestionAnswerStep && !strings.HasSuffix(m.Step, FollowUpStepSuffix)
}

// Replan re-plans an active enrollment's waiting messages with a new plan
// (see the comment above), records the new protocol on the enrollment and
// writes one audit row, in one exclusive transaction; a dry run rolls
// back. Another clinic's or a missing enrollment is ENOTFOUND; a
// cancelled one ECONFLICT.
func (s *Store) Replan(ctx context.Context, in ReplanInput) (ReplanDiff, error) {
	diff, err := s.replan(ctx, in)
	if err != nil {
		return ReplanDiff{}, fmt.Errorf("re-plan enrollment %d: %w", in.EnrollmentID, err)
	}
	return diff, nil
}

func (s *Store) replan(ctx context.Context, in ReplanInput) (ReplanDiff, error) {
	if in.Plan == nil || in.Protocol == "" {
		return ReplanDiff{}, errors.New("no plan or protocol")
	}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return ReplanDiff{}, err
	}
	defer tx.Rollback()
	e, err := scanEnrollment(tx.QueryRowContext(ctx, qSelectEnrollment, in.EnrollmentID, in.ClinicID))
	if errors.Is(err, sql.ErrNoRows) {
		return ReplanDiff{}, notFound("enrollment", in.EnrollmentID)
	}
	if err != nil {
		return ReplanDiff{}, err
	}
	if e.Cancelled {
		return ReplanDiff{}, aftercare.Errorf(aftercare.ECONFLICT, "enrollment %d is cancelled: there is nothing to re-plan", e.ID)
	}
	p, err := scanPatient(tx.QueryRowContext(ctx, qSelectPatient, e.PatientID, in.ClinicID))
	if err != nil {
		return ReplanDiff{}, fmt.Errorf("load patient: %w", err)
	}
	crows, err := tx.QueryContext(ctx, qSelectConsents, e.PatientID)
	if err != nil {
		return ReplanDiff{}, fmt.Errorf("load consents: %w", err)
	}
	consents, err := scanConsents(crows)
	if err != nil {
		return ReplanDiff{}, fmt.Errorf("load consents: %w", err)
	}
	mrows, err := tx.QueryContext(ctx, qMessagesByEnrollment, e.ID)
	if err != nil {
		return ReplanDiff{}, fmt.Errorf("load messages: %w", err)
	}
	old, err := scanMessages(mrows)
	if err != nil {
		return ReplanDiff{}, fmt.Errorf("load messages: %w", err)
	}
	planned, err := in.Plan(p, e, consents)
	if err != nil {
		return ReplanDiff{}, fmt.Errorf("plan: %w", err)
	}
	to := ProtocolRef{Name: in.Protocol, Version: in.ProtocolVersion, Language: in.Language}
	diff, adds, changes := compareReplan(old, planned, to, s.now().UTC())
	diff.EnrollmentID, diff.PatientID, diff.Treatment, diff.DryRun = e.ID, e.PatientID, e.Treatment, in.DryRun
	diff.From = ProtocolRef{Name: e.Protocol, Version: e.ProtocolVersion, Language: e.Language}
	diff.To = to
	if in.DryRun {
		return diff, nil
	}

	now := s.now().UTC()
	note := fmt.Sprintf("re-planned with %s v%d", in.Protocol, in.ProtocolVersion)
	for _, c := range changes {
		res, err := tx.ExecContext(ctx, qReplanMessage, c.new.Subject, c.new.Body, c.new.HTMLBody, ms(c.new.SendAt),
			ms(c.new.StaleAt), ms(c.next), ms(now), c.old.ID)
		if err != nil {
			return ReplanDiff{}, fmt.Errorf("update message %d: %w", c.old.ID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ReplanDiff{}, fmt.Errorf("update message %d: no longer waiting", c.old.ID)
		}
		// A note, not a transition: the message stays scheduled.
		if err := insertEvent(ctx, tx, c.old.ID, now, aftercare.StatusScheduled, aftercare.StatusScheduled, note); err != nil {
			return ReplanDiff{}, err
		}
	}
	for _, r := range diff.Removed {
		ok, err := endOne(ctx, tx, now, r.ID, aftercare.StatusScheduled, aftercare.StatusCancelled, CauseNone, r.Reason)
		if err != nil {
			return ReplanDiff{}, fmt.Errorf("cancel message %d: %w", r.ID, err)
		}
		if !ok {
			return ReplanDiff{}, fmt.Errorf("cancel message %d: no longer waiting", r.ID)
		}
	}
	if len(adds) > 0 {
		stored, err := s.insertMessages(ctx, tx, e, adds, now)
		if err != nil {
			return ReplanDiff{}, err
		}
		byKey := make(map[aftercare.MessageKey]int64, len(stored))
		for _, m := range stored {
			byKey[m.Key()] = m.ID
		}
		for i := range diff.Added {
			a := &diff.Added[i]
			a.ID = byKey[aftercare.MessageKey{Step: a.Step, Channel: a.Channel, Occurrence: a.Occurrence}]
		}
	}
	if _, err := tx.ExecContext(ctx, qSetEnrollmentProtocol, in.Protocol, in.ProtocolVersion, in.Language, e.ID, in.ClinicID); err != nil {
		return ReplanDiff{}, fmt.Errorf("record protocol: %w", err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: in.ClinicID, Action: aftercare.AuditReplan,
		PatientID: e.PatientID, EnrollmentID: e.ID, Detail: fmt.Sprintf("from %s to %s: %d added, %d changed, %d cancelled, %d unchanged",
			diff.From, diff.To, len(diff.Added), len(diff.Changed), len(diff.Removed), diff.Unchanged)}); err != nil {
		return ReplanDiff{}, err
	}
	if err := tx.Commit(); err != nil {
		return ReplanDiff{}, fmt.Errorf("commit: %w", err)
	}
	return diff, nil
}

// replanChange is a change with the rows it is made of.
type replanChange struct {
	old, new aftercare.Message
	next     time.Time // the new next_attempt_at
}

// compareReplan compares the stored messages with a new plan made with
// protocol to. It returns the difference, the messages to insert and the
// changes to make in place. A message already due at now whose texts do
// not change is left to go out as it is (a plan made now times it at now).
func compareReplan(old, planned []aftercare.Message, to ProtocolRef, now time.Time) (ReplanDiff, []aftercare.Message, []replanChange) {
	var d ReplanDiff
	byKey := make(map[aftercare.MessageKey]aftercare.Message, len(planned))
	channels := map[aftercare.MessageKey]bool{} // (step, occurrence) planned scheduled on some channel
	for _, m := range planned {
		byKey[m.Key()] = m
		if m.Status == aftercare.StatusScheduled {
			channels[aftercare.MessageKey{Step: m.Step, Occurrence: m.Occurrence}] = true
		}
	}
	note := fmt.Sprintf("re-planned with %s v%d", to.Name, to.Version)
	stored := make(map[aftercare.MessageKey]bool, len(old))
	var changes []replanChange
	for _, o := range old {
		k := o.Key()
		stored[k] = true
		if !replannable(o) {
			d.Kept++
			continue
		}
		n, ok := byKey[k]
		switch {
		case !ok && channels[aftercare.MessageKey{Step: o.Step, Occurrence: o.Occurrence}]:
			// It stands in for the step on another channel (a fallback).
			d.Kept++
		case !ok || n.Status != aftercare.StatusScheduled:
			reason := note + ": the new plan has no such message"
			if ok && n.Reason != "" {
				reason = note + ": " + n.Reason
			}
			d.Removed = append(d.Removed, ReplanMessage{ID: o.ID, Step: o.Step, Channel: o.Channel, Occurrence: o.Occurrence,
				SendAt: o.SendAt, Subject: o.Subject, Body: o.Body, Reason: reason})
		default:
			next := n.NextAttemptAt
			if next.IsZero() {
				next = n.SendAt
			}
			// A deferral the dispatcher made (rate limit, quiet hours) is kept.
			if o.NextAttemptAt.After(o.SendAt) && o.NextAttemptAt.After(next) {
				next = o.NextAttemptAt
			}
			sameTexts := o.Subject == n.Subject && o.Body == n.Body && o.HTMLBody == n.HTMLBody
			if sameTexts && (!o.SendAt.After(now) || ms(o.SendAt) == ms(n.SendAt) && ms(o.StaleAt) == ms(n.StaleAt) &&
				ms(o.NextAttemptAt) == ms(next)) {
				d.Unchanged++
				continue
			}
			changes = append(changes, replanChange{old: o, new: n, next: next})
			d.Changed = append(d.Changed, ReplanChange{ID: o.ID, Step: o.Step, Channel: o.Channel, Occurrence: o.Occurrence,
				OldSendAt: o.SendAt, NewSendAt: fromMS(ms(n.SendAt)), OldSubject: o.Subject, NewSubject: n.Subject,
				OldBody: o.Body, NewBody: n.Body})
		}
	}
	var adds []aftercare.Message
	for _, n := range planned {
		if n.Status != aftercare.StatusScheduled || stored[n.Key()] {
			continue
		}
		stored[n.Key()] = true
		n.ID, n.Reason = 0, ""
		adds = append(adds, n)
		d.Added = append(d.Added, ReplanMessage{Step: n.Step, Channel: n.Channel, Occurrence: n.Occurrence,
			SendAt: fromMS(ms(n.SendAt)), Subject: n.Subject, Body: n.Body})
	}
	return d, adds, changes
}

// ActiveEnrollments lists a clinic's active enrollments (not cancelled,
// with messages still to send), of one treatment unless treatment is
// empty, oldest first.
func (s *Store) ActiveEnrollments(ctx context.Context, clinicID int64, treatment string) ([]aftercare.Enrollment, error) {
	rows, err := s.read.QueryContext(ctx, qActiveEnrollments, clinicID, treatment, treatment)
	if err != nil {
		return nil, fmt.Errorf("list active enrollments of clinic %d: %w", clinicID, err)
	}
	defer rows.Close()
	var out []aftercare.Enrollment
	for rows.Next() {
		e, err := scanEnrollment(rows)
		if err != nil {
			return nil, fmt.Errorf("list active enrollments of clinic %d: %w", clinicID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list active enrollments of clinic %d: %w", clinicID, err)
	}
	return out, nil
}
