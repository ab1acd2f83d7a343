package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
)

// Secret returns the named secret, generating and storing a random 32-byte
// one the first time (e.g. the unsubscribe link signing key when none is
// configured).
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var v string
	err := s.read.QueryRowContext(ctx, qSetting, "secret:"+name).Scan(&v)
	if err == nil {
		return hex.DecodeString(v)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate secret %s: %w", name, err)
	}
	if _, err := s.write.ExecContext(ctx, qInsertSetting,
		"secret:"+name, hex.EncodeToString(b)); err != nil {
		return nil, fmt.Errorf("store secret %s: %w", name, err)
	}
	// Another process may have won the race: read back what is stored.
	if err := s.write.QueryRowContext(ctx, qSetting, "secret:"+name).Scan(&v); err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	return hex.DecodeString(v)
}

// LatestEnrollment returns the id of the patient's most recent enrollment.
func (s *Store) LatestEnrollment(ctx context.Context, patientID int64) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, qLatestEnrollment, patientID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("enrollment of patient", patientID)
	}
	if err != nil {
		return 0, fmt.Errorf("latest enrollment of patient %d: %w", patientID, err)
	}
	return id, nil
}

// InboundReply is an SMS a patient sent, with what aftercare does about it.
type InboundReply struct {
	Reply aftercare.Reply
	// Messages are outbox rows to add in the same transaction (an answer to
	// HELP). EnrollmentID, ClinicID and PatientID are filled in.
	Messages []aftercare.Message
	// OptOut / OptIn change the patient's SMS consent (STOP / START).
	OptOut, OptIn bool
	// Confirm is queued only when OptOut or OptIn changed the patient's
	// consent: one confirmation per change, however many STOPs arrive.
	Confirm []aftercare.Message
	// Concern, if set, files the reply under the patient's concern (see
	// ConcernReply) and queues what its Respond returns.
	Concern *ConcernReply
	// Photo, if set, is stored with the reply (a concern sent from the
	// patient's page).
	Photo *Photo
	// Checkin, if set, records the reply as the answer to a check-in
	// question (and queues its follow-up question).
	Checkin *CheckinAnswer
}

// ReplyOutcome is what recording a reply did.
type ReplyOutcome struct {
	// Fresh is false for a reply already recorded (a webhook retried).
	Fresh bool
	// Changed is set when OptOut or OptIn changed the patient's consent.
	Changed bool
	// Decision is the concern decision (zero without a Concern).
	Decision ConcernDecision
	// Queued counts the messages added.
	Queued int
	// ReplyID is the stored reply's id (0 for a repeat).
	ReplyID int64
}

// RecordReply stores a patient's reply and its consequences in one
// transaction. A reply already recorded (same provider id: providers retry
// webhooks) changes nothing and returns false.
func (s *Store) RecordReply(ctx context.Context, in InboundReply) (bool, error) {
	out, err := s.RecordReplyOutcome(ctx, in)
	return out.Fresh, err
}

// RecordReplyOutcome is RecordReply, saying what it did.
func (s *Store) RecordReplyOutcome(ctx context.Context, in InboundReply) (ReplyOutcome, error) {
	var out ReplyOutcome
	r := in.Reply
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return out, fmt.Errorf("record reply: %w", err)
	}
	defer tx.Rollback()
	var replyID int64
	err = tx.QueryRowContext(ctx, qInsertReply, r.ClinicID, r.PatientID, r.ProviderID, r.Body, r.Kind, ms(r.At)).Scan(&replyID)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil // seen before (ON CONFLICT DO NOTHING)
	}
	if err != nil {
		return out, fmt.Errorf("record reply: %w", err)
	}
	out.Fresh = true
	out.ReplyID = replyID
	now := r.At
	if in.Photo != nil {
		if _, err := tx.ExecContext(ctx, qInsertReplyPhoto, replyID, r.ClinicID, r.PatientID, in.Photo.ContentType, in.Photo.Data, ms(now)); err != nil {
			return out, fmt.Errorf("record reply: photo: %w", err)
		}
	}
	if in.OptOut || in.OptIn {
		var was int
		if err := tx.QueryRowContext(ctx, qSMSOptOut, r.PatientID).Scan(&was); err != nil {
			return out, fmt.Errorf("record reply: read consent: %w", err)
		}
		out.Changed = (was != 0) != in.OptOut
	}
	switch {
	case in.OptOut:
		if _, err := setOptOut(ctx, tx, now, r.PatientID, aftercare.SMS, true, aftercare.ConsentSMSReply, "patient replied "+r.Kind); err != nil {
			return out, fmt.Errorf("record reply: opt out: %w", err)
		}
	case in.OptIn:
		if err := optIn(ctx, tx, now, r.PatientID, aftercare.SMS, aftercare.ConsentSMSReply, "patient replied START"); err != nil {
			return out, fmt.Errorf("record reply: opt in: %w", err)
		}
	}
	var concernID int64
	msgs := append([]aftercare.Message(nil), in.Messages...)
	if out.Changed {
		msgs = append(msgs, in.Confirm...)
	}
	if in.Concern != nil {
		d, err := s.fileConcern(ctx, tx, replyID, r, in.Concern)
		if err != nil {
			return out, fmt.Errorf("record reply: %w", err)
		}
		out.Decision, concernID = d, d.Concern.ID
		if in.Concern.Respond != nil {
			more, err := in.Concern.Respond(d)
			if err != nil {
				return out, fmt.Errorf("record reply: %w", err)
			}
			msgs = append(msgs, more...)
		}
	}
	if in.Checkin != nil {
		if err := s.recordCheckin(ctx, tx, replyID, r, in.Checkin); err != nil {
			return out, fmt.Errorf("record reply: %w", err)
		}
	}
	if len(msgs) > 0 {
		for i := range msgs {
			msgs[i].Occurrence = int(replyID)*10 + i // unique per reply
		}
		if _, err := s.queueForPatient(ctx, tx, r.ClinicID, r.PatientID, concernID, msgs, now); err != nil {
			return out, fmt.Errorf("record reply: %w", err)
		}
		out.Queued = len(msgs)
	}
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("record reply: commit: %w", err)
	}
	return out, nil
}

// optIn records a patient opting back in to a channel and schedules again
// the messages the opt-out cancelled whose time has not come yet (see
// reopen). Steps whose time passed while opted out stay cancelled: nothing
// stale is resent.
func optIn(ctx context.Context, tx *sql.Tx, now time.Time, patientID int64, ch aftercare.Channel, method aftercare.ConsentMethod, detail string) error {
	if _, err := setOptOut(ctx, tx, now, patientID, ch, false, method, detail); err != nil {
		return err
	}
	type ended struct {
		id           int64
		due, staleAt int64
	}
	rows, err := tx.QueryContext(ctx, qOptedOutAhead, patientID, string(ch), string(CauseOptOut), ms(now), ms(now))
	if err != nil {
		return err
	}
	var back []ended
	for rows.Next() {
		var e ended
		if err := rows.Scan(&e.id, &e.due, &e.staleAt); err != nil {
			rows.Close()
			return err
		}
		back = append(back, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range back {
		if _, err := reopen(ctx, tx, now, e.id, aftercare.StatusCancelled, fromMS(e.due), fromMS(e.staleAt), false, "patient opted back in: "+detail); err != nil {
			return err
		}
	}
	return nil
}

// OptIn records a patient opting back in to a channel (see optIn).
func (s *Store) OptIn(ctx context.Context, patientID int64, ch aftercare.Channel, method aftercare.ConsentMethod, detail string) error {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("opt in patient %d: %w", patientID, err)
	}
	defer tx.Rollback()
	if err := optIn(ctx, tx, s.now().UTC(), patientID, ch, method, detail); err != nil {
		return fmt.Errorf("opt in patient %d: %w", patientID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("opt in patient %d: %w", patientID, err)
	}
	return nil
}

// AddMessages adds ad-hoc messages (fallbacks, resends) to an enrollment's
// outbox in one transaction.
func (s *Store) AddMessages(ctx context.Context, enrollmentID int64, msgs []aftercare.Message) error {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("add messages: %w", err)
	}
	defer tx.Rollback()
	var e aftercare.Enrollment
	if err := tx.QueryRowContext(ctx, qEnrollmentOwner, enrollmentID).Scan(&e.ID, &e.ClinicID, &e.PatientID); err != nil {
		return fmt.Errorf("add messages: find enrollment %d: %w", enrollmentID, err)
	}
	if _, err := s.insertMessages(ctx, tx, e, msgs, s.now().UTC()); err != nil {
		return fmt.Errorf("add messages: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add messages: commit: %w", err)
	}
	return nil
}

// Requeue schedules one more attempt at at of a failed message (a handset
// that was unreachable), if it is still failed and fresh (see reopen).
func (s *Store) Requeue(ctx context.Context, id int64, at time.Time, detail string) (bool, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return false, fmt.Errorf("requeue message %d: %w", id, err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	var staleAt int64
	err = tx.QueryRowContext(ctx, qFailedStaleAt, id).Scan(&staleAt)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // not failed
	}
	if err != nil {
		return false, fmt.Errorf("requeue message %d: %w", id, err)
	}
	if staleAt <= ms(at) {
		return false, nil // too late
	}
	if _, err := reopen(ctx, tx, now, id, aftercare.StatusFailed, at, fromMS(staleAt), false, detail); err != nil {
		return false, fmt.Errorf("requeue message %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("requeue message %d: %w", id, err)
	}
	return true, nil
}
