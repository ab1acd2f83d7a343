package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// Booking systems (issue 14 §3): each clinic's booking webhook secret, and
// the booking events it sent, each acted on once.

// BookingSecretPrefix starts every booking webhook secret, so one is
// recognised in a config file (and is not mistaken for an API key).
const BookingSecretPrefix = "bks_"

// BookingSecretOverlap is how long a rotated-out secret keeps verifying,
// so a booking system can switch to the new one.
const BookingSecretOverlap = 24 * time.Hour

// BookingSecretInfo describes a clinic's booking webhook secrets without
// them.
type BookingSecretInfo struct {
	// CreatedAt is when the current secret was made; zero if none.
	CreatedAt time.Time
	// PreviousUntil is when the secret rotated out stops verifying; zero
	// if there is none still verifying.
	PreviousUntil time.Time
}

// Has reports whether the clinic has a booking webhook secret.
func (i BookingSecretInfo) Has() bool { return !i.CreatedAt.IsZero() }

// SetBookingSecret makes a clinic's booking webhook secret and returns it,
// to be shown once. A clinic that has one gets an ECONFLICT error unless
// rotate is set; rotating keeps the current secret verifying for
// BookingSecretOverlap (and forgets any older one). An audit row
// (booking_secret) is written in the same transaction, without the secret.
func (s *Store) SetBookingSecret(ctx context.Context, clinicID int64, rotate bool) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate booking secret: %w", err)
	}
	secret := BookingSecretPrefix + hex.EncodeToString(b)
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return "", fmt.Errorf("set booking secret: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, qClinicExists, clinicID).Scan(&n); err != nil {
		return "", fmt.Errorf("set booking secret: %w", err)
	}
	if n == 0 {
		return "", notFound("clinic", clinicID)
	}
	now := s.now().UTC()
	info, err := bookingSecretInfo(ctx, tx, clinicID, now)
	if err != nil {
		return "", err
	}
	detail := "booking webhook secret created"
	if info.Has() {
		if !rotate {
			return "", aftercare.Errorf(aftercare.ECONFLICT,
				"clinic %d already has a booking webhook secret (made %s); rotate it to get a new one", clinicID,
				info.CreatedAt.Format(time.RFC3339))
		}
		until := now.Add(BookingSecretOverlap)
		if _, err := tx.ExecContext(ctx, qDeleteOldBookingSecrets, clinicID); err != nil {
			return "", fmt.Errorf("set booking secret: %w", err)
		}
		if _, err := tx.ExecContext(ctx, qExpireBookingSecret, ms(until), clinicID); err != nil {
			return "", fmt.Errorf("set booking secret: %w", err)
		}
		detail = "booking webhook secret rotated; the previous one verifies until " + until.Format(time.RFC3339)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, qInsertBookingSecret, clinicID, secret, ms(now)).Scan(&id); err != nil {
		return "", fmt.Errorf("set booking secret: %w", err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: clinicID, At: now, Action: aftercare.AuditBookingSecret,
		Detail: fmt.Sprintf("%s (secret %d)", detail, id)}); err != nil {
		return "", err
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("set booking secret: %w", err)
	}
	return secret, nil
}

// BookingSecrets returns the secrets that verify a clinic's booking
// webhook now: the current one first, then the one rotated out while it
// still verifies. None is not an error.
func (s *Store) BookingSecrets(ctx context.Context, clinicID int64) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, qBookingSecrets, clinicID, ms(s.now()))
	if err != nil {
		return nil, fmt.Errorf("read booking secrets: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read booking secrets: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read booking secrets: %w", err)
	}
	return out, nil
}

// BookingSecretInfo says whether a clinic has a booking webhook secret,
// since when, and until when a rotated-out one verifies.
func (s *Store) BookingSecretInfo(ctx context.Context, clinicID int64) (BookingSecretInfo, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return BookingSecretInfo{}, fmt.Errorf("read booking secret: %w", err)
	}
	defer tx.Rollback()
	return bookingSecretInfo(ctx, tx, clinicID, s.now())
}

func bookingSecretInfo(ctx context.Context, tx *sql.Tx, clinicID int64, now time.Time) (BookingSecretInfo, error) {
	rows, err := tx.QueryContext(ctx, qBookingSecretHeads, clinicID, ms(now))
	if err != nil {
		return BookingSecretInfo{}, fmt.Errorf("read booking secret: %w", err)
	}
	defer rows.Close()
	var info BookingSecretInfo
	for rows.Next() {
		var id, created, expires int64
		if err := rows.Scan(&id, &created, &expires); err != nil {
			return info, fmt.Errorf("read booking secret: %w", err)
		}
		if expires == 0 {
			info.CreatedAt = fromMS(created)
		} else if t := fromMS(expires); t.After(info.PreviousUntil) {
			info.PreviousUntil = t
		}
	}
	if err := rows.Err(); err != nil {
		return info, fmt.Errorf("read booking secret: %w", err)
	}
	return info, nil
}

// Outcomes of booking events (BookingEvent.Outcome).
const (
	BookingEnrolled           = "enrolled"            // appointment.completed: the patient was enrolled
	BookingRemindersCancelled = "reminders_cancelled" // appointment.booked: pending reminders cancelled
	BookingNothingPending     = "nothing_pending"     // appointment.booked: the patient had no pending reminder
	BookingRemindersReopened  = "reminders_reopened"  // appointment.cancelled: reminders scheduled again
	BookingNotReopened        = "not_reopened"        // appointment.cancelled: nothing was brought back (Detail says why)
	BookingNotBooked          = "not_booked"          // appointment.cancelled before (or without) its booking
	BookingAlreadyCancelled   = "already_cancelled"   // appointment.booked after its own cancellation: nothing to do
	BookingPast               = "not_ahead"           // appointment.booked for a time already past: nothing to do
	BookingNoPatient          = "no_patient"          // no patient of the clinic has that phone or email
)

// BookingEvent is a booking event as it was acted on.
type BookingEvent struct {
	ID            int64
	ClinicID      int64
	AppointmentID string
	Event         string
	ReceivedAt    time.Time
	OccurredAt    time.Time
	// StartsAt is the appointment's time (booked and cancelled events).
	StartsAt time.Time
	// PatientID and EnrollmentID are the patient matched and the
	// enrollment made or found; 0 for none.
	PatientID    int64
	EnrollmentID int64
	// Outcome is one of the Booking* outcomes; Detail says it in words.
	Outcome string
	Detail  string
	// Messages is how many reminders the event cancelled or reopened.
	Messages int
}

func scanBookingEvent(r scanner) (BookingEvent, error) {
	var e BookingEvent
	var received, occurred, starts int64
	err := r.Scan(&e.ID, &e.ClinicID, &e.AppointmentID, &e.Event, &received, &occurred, &starts, &e.PatientID,
		&e.EnrollmentID, &e.Outcome, &e.Detail, &e.Messages)
	e.ReceivedAt, e.OccurredAt, e.StartsAt = fromMS(received), fromMS(occurred), fromMS(starts)
	return e, err
}

// BookingEvent returns a clinic's appointment event as first acted on;
// ok is false if it was never received.
func (s *Store) BookingEvent(ctx context.Context, clinicID int64, appointmentID, event string) (BookingEvent, bool, error) {
	e, err := scanBookingEvent(s.read.QueryRowContext(ctx, qBookingEvent, clinicID, appointmentID, event))
	if errors.Is(err, sql.ErrNoRows) {
		return BookingEvent{}, false, nil
	}
	if err != nil {
		return BookingEvent{}, false, fmt.Errorf("read booking event: %w", err)
	}
	return e, true, nil
}

// RecordBookingEvent records an event acted on elsewhere (an
// appointment.completed, enrolled through the enroll service, whose
// external reference makes a repeat safe). It returns the event as first
// recorded and whether this call recorded it.
func (s *Store) RecordBookingEvent(ctx context.Context, ev BookingEvent) (BookingEvent, bool, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return BookingEvent{}, false, fmt.Errorf("record booking event: %w", err)
	}
	defer tx.Rollback()
	first, seen, err := s.insertBookingEvent(ctx, tx, ev)
	if err != nil || seen {
		return first, false, err
	}
	if err := tx.Commit(); err != nil {
		return BookingEvent{}, false, fmt.Errorf("record booking event: %w", err)
	}
	return first, true, nil
}

// insertBookingEvent inserts ev unless its appointment's event is there;
// it returns the stored event and whether it was there before.
func (s *Store) insertBookingEvent(ctx context.Context, tx *sql.Tx, ev BookingEvent) (BookingEvent, bool, error) {
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = s.now().UTC()
	}
	var id int64
	err := tx.QueryRowContext(ctx, qInsertBookingEvent, ev.ClinicID, ev.AppointmentID, ev.Event, ms(ev.ReceivedAt),
		ms(ev.OccurredAt), ms(ev.StartsAt), nullID(ev.PatientID), nullID(ev.EnrollmentID), ev.Outcome, ev.Detail,
		ev.Messages).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		first, err := scanBookingEvent(tx.QueryRowContext(ctx, qBookingEvent, ev.ClinicID, ev.AppointmentID, ev.Event))
		if err != nil {
			return BookingEvent{}, false, fmt.Errorf("read booking event: %w", err)
		}
		return first, true, nil
	}
	if err != nil {
		return BookingEvent{}, false, fmt.Errorf("record booking event: %w", err)
	}
	ev.ID = id
	ev.ReceivedAt, ev.OccurredAt, ev.StartsAt = fromMS(ms(ev.ReceivedAt)), fromMS(ms(ev.OccurredAt)), fromMS(ms(ev.StartsAt))
	return ev, false, nil
}

// BookingChange is an appointment.booked or appointment.cancelled event,
// validated, to act on.
type BookingChange struct {
	ClinicID      int64
	AppointmentID string
	Event         string // aftercare.BookingBooked or aftercare.BookingCancelled
	OccurredAt    time.Time
	StartsAt      time.Time
	// Phone (E.164) and Email find the patient among the clinic's own:
	// by phone first, else the one patient with that email.
	Phone, Email string
	// Steps are the keys of the booking reminders (protocol steps marked
	// booking: true) of the clinic's protocols.
	Steps []string
}

// ApplyBooking acts on a booked or cancelled appointment in one
// transaction, once: a repeat of the same (clinic, appointment, event)
// returns the first outcome, with repeat true, and changes nothing.
//
// Booked, for an appointment still ahead and not already cancelled (a
// cancellation that arrived first), cancels the patient's pending
// booking reminders at the clinic, each through the message state machine
// with a reason naming the appointment (end cause booked). Cancelled
// brings them back (reopenBooked) unless another booked appointment of
// the patient stands; a reminder comes back only while it is still useful
// (before its stale time, its enrollment not cancelled, no later session
// enrolled), otherwise the event's detail records why not. The patient's
// changes are audited with the actor the context carries.
func (s *Store) ApplyBooking(ctx context.Context, c BookingChange) (BookingEvent, bool, error) {
	if c.Event != aftercare.BookingBooked && c.Event != aftercare.BookingCancelled {
		return BookingEvent{}, false, fmt.Errorf("apply booking: unknown event %q", c.Event)
	}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return BookingEvent{}, false, fmt.Errorf("apply booking: %w", err)
	}
	defer tx.Rollback()
	first, err := scanBookingEvent(tx.QueryRowContext(ctx, qBookingEvent, c.ClinicID, c.AppointmentID, c.Event))
	if err == nil {
		return first, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return BookingEvent{}, false, fmt.Errorf("apply booking: %w", err)
	}
	now := s.now().UTC()
	ev := BookingEvent{ClinicID: c.ClinicID, AppointmentID: c.AppointmentID, Event: c.Event, ReceivedAt: now,
		OccurredAt: c.OccurredAt, StartsAt: c.StartsAt}
	if c.Event == aftercare.BookingBooked {
		err = s.applyBooked(ctx, tx, c, &ev, now)
	} else {
		err = s.applyCancelled(ctx, tx, c, &ev, now)
	}
	if err != nil {
		return BookingEvent{}, false, fmt.Errorf("apply booking: %w", err)
	}
	stored, seen, err := s.insertBookingEvent(ctx, tx, ev)
	if err != nil || seen {
		return stored, seen, err
	}
	if ev.PatientID != 0 {
		if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: c.ClinicID, At: now, Action: aftercare.AuditBookingEvent,
			PatientID: ev.PatientID, Detail: fmt.Sprintf("%s %q: %s", c.Event, c.AppointmentID, ev.Detail)}); err != nil {
			return BookingEvent{}, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return BookingEvent{}, false, fmt.Errorf("apply booking: %w", err)
	}
	return stored, false, nil
}

func (s *Store) applyBooked(ctx context.Context, tx *sql.Tx, c BookingChange, ev *BookingEvent, now time.Time) error {
	var err error
	if ev.PatientID, err = bookingPatient(ctx, tx, c); err != nil {
		return err
	}
	_, err = scanBookingEvent(tx.QueryRowContext(ctx, qBookingEvent, c.ClinicID, c.AppointmentID, aftercare.BookingCancelled))
	switch {
	case err == nil:
		ev.Outcome, ev.Detail = BookingAlreadyCancelled, "the appointment's cancellation arrived first: nothing to cancel"
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return err
	case ev.PatientID == 0:
		ev.Outcome, ev.Detail = BookingNoPatient, "no patient of the clinic has this phone or email"
		return nil
	case !c.StartsAt.After(now):
		ev.Outcome, ev.Detail = BookingPast, "the appointment's time has passed: reminders left as they are"
		return nil
	}
	if len(c.Steps) == 0 {
		ev.Outcome, ev.Detail = BookingNothingPending, "the clinic's protocols have no booking reminder"
		return nil
	}
	ids, err := queryIDs(ctx, tx, fmt.Sprintf(qPendingBookingReminders, placeholders(len(c.Steps))),
		append([]any{ev.PatientID, c.ClinicID}, stringArgs(c.Steps)...)...)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("booked: appointment %q on %s", c.AppointmentID, c.StartsAt.UTC().Format("2006-01-02 15:04 MST"))
	for _, id := range ids {
		ok, err := endOne(ctx, tx, now, id, aftercare.StatusScheduled, aftercare.StatusCancelled, CauseBooked, reason)
		if err != nil {
			return err
		}
		if ok {
			ev.Messages++
		}
	}
	if ev.Messages == 0 {
		ev.Outcome, ev.Detail = BookingNothingPending, "no booking reminder was pending"
		return nil
	}
	ev.Outcome, ev.Detail = BookingRemindersCancelled, fmt.Sprintf("%d booking reminder(s) cancelled", ev.Messages)
	return nil
}

func (s *Store) applyCancelled(ctx context.Context, tx *sql.Tx, c BookingChange, ev *BookingEvent, now time.Time) error {
	booked, err := scanBookingEvent(tx.QueryRowContext(ctx, qBookingEvent, c.ClinicID, c.AppointmentID, aftercare.BookingBooked))
	if errors.Is(err, sql.ErrNoRows) {
		if ev.PatientID, err = bookingPatient(ctx, tx, c); err != nil {
			return err
		}
		ev.Outcome, ev.Detail = BookingNotBooked, "no booking of this appointment was received: nothing to reopen (its booking, if it comes, will change nothing)"
		return nil
	}
	if err != nil {
		return err
	}
	ev.PatientID = booked.PatientID
	if ev.StartsAt.IsZero() {
		ev.StartsAt = booked.StartsAt
	}
	if ev.PatientID == 0 {
		ev.Outcome, ev.Detail = BookingNoPatient, "the booking matched no patient of the clinic: nothing to reopen"
		return nil
	}
	others, err := queryStrings(ctx, tx, qOtherBookings, c.ClinicID, ev.PatientID, c.AppointmentID, ms(now))
	if err != nil {
		return err
	}
	if len(others) > 0 {
		ev.Outcome, ev.Detail = BookingNotReopened, fmt.Sprintf("appointment %q is still booked", others[0])
		return nil
	}
	if len(c.Steps) == 0 {
		ev.Outcome, ev.Detail = BookingNotReopened, "the clinic's protocols have no booking reminder"
		return nil
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(qBookedReminders, placeholders(len(c.Steps))),
		append([]any{ev.PatientID, c.ClinicID}, stringArgs(c.Steps)...)...)
	if err != nil {
		return err
	}
	type reminder struct {
		id, send, stale   int64
		enrCancelled, mov int
	}
	var all []reminder
	for rows.Next() {
		var r reminder
		if err := rows.Scan(&r.id, &r.send, &r.stale, &r.enrCancelled, &r.mov); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var stale, ended, movedOn int
	detail := fmt.Sprintf("reopened: appointment %q cancelled", c.AppointmentID)
	for _, r := range all {
		switch {
		case r.enrCancelled != 0:
			ended++
		case r.mov != 0:
			movedOn++
		case r.stale <= ms(now):
			stale++
		default:
			due := fromMS(max(r.send, ms(now)))
			ok, err := reopenBooked(ctx, tx, now, r.id, due, fromMS(r.stale), detail)
			if err != nil {
				return err
			}
			if ok {
				ev.Messages++
			}
		}
	}
	if ev.Messages > 0 {
		ev.Outcome, ev.Detail = BookingRemindersReopened, fmt.Sprintf("%d booking reminder(s) scheduled again", ev.Messages)
	} else {
		ev.Outcome = BookingNotReopened
	}
	var why []string
	for _, w := range []struct {
		n    int
		what string
	}{{stale, "past the time it was worth sending"}, {movedOn, "a later session was enrolled"}, {ended, "its enrollment was cancelled"}} {
		if w.n > 0 {
			why = append(why, fmt.Sprintf("%d not reopened: %s", w.n, w.what))
		}
	}
	switch {
	case len(why) > 0 && ev.Messages > 0:
		ev.Detail += "; " + strings.Join(why, "; ")
	case len(why) > 0:
		ev.Detail = strings.Join(why, "; ")
	case ev.Messages == 0:
		ev.Detail = "no reminder was cancelled by a booking"
	}
	return nil
}

// HoldBookingReminders cancels a patient's pending booking reminders
// while an appointment of theirs stands (booked, not cancelled, still
// ahead): an enrollment made after its booking (its plan has reminders to
// book) must not remind a patient who has booked. It returns how many
// were cancelled and the standing appointment ("" for none); the
// appointment's cancellation brings them back like any other.
func (s *Store) HoldBookingReminders(ctx context.Context, clinicID, patientID int64, steps []string) (int, string, error) {
	if len(steps) == 0 || patientID == 0 {
		return 0, "", nil
	}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return 0, "", fmt.Errorf("hold booking reminders: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	standing, err := queryStrings(ctx, tx, qOtherBookings, clinicID, patientID, "", ms(now))
	if err != nil || len(standing) == 0 {
		return 0, "", err
	}
	ids, err := queryIDs(ctx, tx, fmt.Sprintf(qPendingBookingReminders, placeholders(len(steps))),
		append([]any{patientID, clinicID}, stringArgs(steps)...)...)
	if err != nil {
		return 0, "", fmt.Errorf("hold booking reminders: %w", err)
	}
	n := 0
	reason := fmt.Sprintf("booked: appointment %q", standing[0])
	for _, id := range ids {
		ok, err := endOne(ctx, tx, now, id, aftercare.StatusScheduled, aftercare.StatusCancelled, CauseBooked, reason)
		if err != nil {
			return 0, "", fmt.Errorf("hold booking reminders: %w", err)
		}
		if ok {
			n++
		}
	}
	if n == 0 {
		return 0, standing[0], nil
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: clinicID, At: now, Action: aftercare.AuditBookingEvent,
		PatientID: patientID, Detail: fmt.Sprintf("%d booking reminder(s) held: appointment %q is booked", n, standing[0])}); err != nil {
		return 0, "", err
	}
	if err := tx.Commit(); err != nil {
		return 0, "", fmt.Errorf("hold booking reminders: %w", err)
	}
	return n, standing[0], nil
}

// bookingPatient finds the patient of a booking event among the clinic's
// own: the one with its phone, else the one patient with its email; 0 for
// none (two patients sharing an email are not guessed between).
func bookingPatient(ctx context.Context, tx *sql.Tx, c BookingChange) (int64, error) {
	if c.Phone != "" {
		ids, err := queryIDs(ctx, tx, qBookingPatientsByPhone, c.ClinicID, c.Phone)
		if err != nil || len(ids) > 0 {
			if len(ids) > 0 {
				return ids[0], err
			}
			return 0, err
		}
	}
	if c.Email != "" {
		ids, err := queryIDs(ctx, tx, qBookingPatientsByEmail, c.ClinicID, c.Email)
		if err != nil || len(ids) != 1 {
			return 0, err
		}
		return ids[0], nil
	}
	return 0, nil
}

// BookingEventCounts counts a clinic's booking events by event
// (aftercare.BookingCompleted, ...) that occurred in [from, to), for
// statistics. Every event is counted once, however often it was sent.
func (s *Store) BookingEventCounts(ctx context.Context, clinicID int64, from, to time.Time) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, qBookingEventCounts, clinicID, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("count booking events: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var ev string
		var n int
		if err := rows.Scan(&ev, &n); err != nil {
			return nil, fmt.Errorf("count booking events: %w", err)
		}
		out[ev] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count booking events: %w", err)
	}
	return out, nil
}

func stringArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func queryStrings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
