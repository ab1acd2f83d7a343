package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
)

// The message state machine. Every change of a message's status goes
// through this file's rules: which transitions are legal (Legal), what a
// stale message becomes (staleEnd), and how an ended message is followed
// by a new one (follow). Each transition is one guarded statement (it
// applies only if the message is still in the state it leaves) and writes
// one event row in the same transaction.
//
//	scheduled ─claim─▶ sending ─accepted─▶ sent ─receipt─▶ delivered
//	    │  ▲              │ │ │                  └─receipt─▶ failed
//	    │  └─retry/lease──┘ │ └─permanent error──────────▶ failed
//	    │                   └─nothing to send────────────▶ skipped
//	    ├─stale (never tried)─▶ skipped   ├─stale (tried)─▶ failed
//	    └─cancel/supersede/opt-out/erase─▶ cancelled      └─address bad─▶ skipped
//
// Delivered, failed, skipped and cancelled are final for the machine:
// nothing the daemon does on its own moves a message out of them
// (aftercare.Status.Final). Two acts of a person can take an ending back,
// and only these (reopen): staff resending a failed message (or a
// receipt saying the handset was unreachable, which earns one more try),
// and a patient opting back in, which brings back the messages their
// opt-out cancelled (end_cause 'opt_out') whose time is still ahead. Both
// are recorded as events from the final state, so the log shows them.
// (A resend as a new row was tried and dropped: the outbox keys messages
// by (enrollment, step, channel, occurrence), and a repeated step's
// occurrence is its day.)

// legal lists the statuses each status may move to.
var legal = map[aftercare.Status][]aftercare.Status{
	aftercare.StatusScheduled: {aftercare.StatusSending, aftercare.StatusCancelled, aftercare.StatusSkipped, aftercare.StatusFailed},
	aftercare.StatusSending:   {aftercare.StatusSent, aftercare.StatusFailed, aftercare.StatusSkipped, aftercare.StatusScheduled},
	aftercare.StatusSent:      {aftercare.StatusDelivered, aftercare.StatusFailed},
	// Reopened by a person only (see reopen).
	aftercare.StatusFailed:    {aftercare.StatusScheduled},
	aftercare.StatusCancelled: {aftercare.StatusScheduled},
}

// Legal reports whether a message may move from one status to another. A
// message's first event (planned, from "") is legal into scheduled,
// skipped or cancelled (a step planned for a channel the patient cannot
// receive is recorded as skipped at once).
func Legal(from, to aftercare.Status) bool {
	if from == "" {
		return to == aftercare.StatusScheduled || to == aftercare.StatusSkipped || to == aftercare.StatusCancelled
	}
	if from == to {
		// A note on a message that stays where it is (a restore flagging
		// it ambiguous, an ended message naming the one that follows it)
		// is an event, not a transition.
		return true
	}
	for _, s := range legal[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Cause says, for the machine, why a message ended (its end_cause).
type Cause string

// The causes the machine acts on later.
const (
	// CauseNone: nothing acts on how the message ended.
	CauseNone Cause = ""
	// CauseOptOut: cancelled because the patient opted out of the
	// channel; opting back in brings back the ones still ahead.
	CauseOptOut Cause = "opt_out"
	// CauseBooked: a "book your next session" reminder cancelled because
	// the patient booked (a booking system's appointment.booked); the
	// appointment's cancellation brings it back while it is still useful
	// (reopenBooked).
	CauseBooked Cause = "booked"
)

// staleEnd is the stale rule: a scheduled message whose stale time has
// passed is skipped if it was never attempted, and failed (with the last
// error) if its retries ran out: a late text is worse than none.
func staleEnd(attempts int, lastError string) (aftercare.Status, string) {
	if attempts > 0 {
		return aftercare.StatusFailed, fmt.Sprintf("gave up: step went stale after %d attempt(s); last error: %s", attempts, lastError)
	}
	return aftercare.StatusSkipped, "stale: not sent before its window closed"
}

// skipStale ends every scheduled message whose stale time has passed, by
// staleEnd, one guarded statement and event each.
func skipStale(ctx context.Context, tx *sql.Tx, now time.Time) (int, error) {
	type stale struct {
		id       int64
		attempts int
		lastErr  string
	}
	rows, err := tx.QueryContext(ctx, qStaleMessages, ms(now))
	if err != nil {
		return 0, err
	}
	var all []stale
	for rows.Next() {
		var m stale
		if err := rows.Scan(&m.id, &m.attempts, &m.lastErr); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, m := range all {
		to, reason := staleEnd(m.attempts, m.lastErr)
		ok, err := endOne(ctx, tx, now, m.id, aftercare.StatusScheduled, to, CauseNone, reason)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// endOne moves one message from a pending status to a final one, with its
// reason and cause, and writes the event. It reports whether the message
// was still in from.
func endOne(ctx context.Context, tx *sql.Tx, now time.Time, id int64, from, to aftercare.Status, cause Cause, reason string) (bool, error) {
	if !Legal(from, to) || !to.Final() {
		return false, fmt.Errorf("message %d: %s to %s is not an ending", id, from, to)
	}
	res, err := tx.ExecContext(ctx, qEndMessage, string(to), reason, string(cause), ms(now), id, string(from))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	return true, insertEvent(ctx, tx, id, now, from, to, reason)
}

// reopen takes back the ending of a message: from failed (staff resend it,
// or a handset that was unreachable gets one more try) or from cancelled
// by an opt-out (the patient opted back in); nothing else reopens. The
// message becomes scheduled, due at due, stale at stale; fresh (a resend)
// also gives it a fresh attempt count and no provider id or error (the
// event keeps them), while one more try keeps counting its sends (the
// retry budget of notify.Decide). It reports whether the message was still
// where it was.
func reopen(ctx context.Context, tx *sql.Tx, now time.Time, id int64, from aftercare.Status, due, stale time.Time, fresh bool, detail string) (bool, error) {
	if !Legal(from, aftercare.StatusScheduled) {
		return false, fmt.Errorf("message %d: %s cannot be reopened", id, from)
	}
	cause := ""
	if from == aftercare.StatusCancelled {
		cause = string(CauseOptOut)
	}
	q := qReopenMessage
	if fresh {
		q = qReopenFresh
	}
	res, err := tx.ExecContext(ctx, q, ms(due), ms(stale), ms(now), id, string(from), cause)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	return true, insertEvent(ctx, tx, id, now, from, aftercare.StatusScheduled, detail)
}

// reopenBooked schedules again a reminder a booking cancelled (end_cause
// booked): the booked appointment was cancelled. It is a third act that
// takes an ending back, beside the two of reopen: the booking system acts
// for a person (the patient cancelling). It reports whether the message
// was still cancelled by a booking.
func reopenBooked(ctx context.Context, tx *sql.Tx, now time.Time, id int64, due, stale time.Time, detail string) (bool, error) {
	res, err := tx.ExecContext(ctx, qReopenMessage, ms(due), ms(stale), ms(now), id, string(aftercare.StatusCancelled), string(CauseBooked))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	return true, insertEvent(ctx, tx, id, now, aftercare.StatusCancelled, aftercare.StatusScheduled, detail)
}

// CheckTransitions reads every event and reports the first that records an
// illegal transition (by Legal), and any message whose status is not where
// its last transition left it. Tests run it after each scenario; ops can
// run it on a copy of a live database.
func (s *Store) CheckTransitions(ctx context.Context) error {
	rows, err := s.read.QueryContext(ctx, qAllEvents)
	if err != nil {
		return fmt.Errorf("check transitions: %w", err)
	}
	defer rows.Close()
	last := map[int64]aftercare.Status{}
	status := map[int64]aftercare.Status{}
	for rows.Next() {
		var id, msg int64
		var from, to, now string
		if err := rows.Scan(&id, &msg, &from, &to, &now); err != nil {
			return fmt.Errorf("check transitions: %w", err)
		}
		if !Legal(aftercare.Status(from), aftercare.Status(to)) {
			return fmt.Errorf("check transitions: event %d of message %d moves it from %q to %q", id, msg, from, to)
		}
		if prev, ok := last[msg]; ok && aftercare.Status(from) != prev {
			return fmt.Errorf("check transitions: event %d of message %d leaves %q but the message was %q", id, msg, from, prev)
		}
		last[msg], status[msg] = aftercare.Status(to), aftercare.Status(now)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check transitions: %w", err)
	}
	for msg, to := range last {
		if status[msg] != to {
			return fmt.Errorf("check transitions: message %d is %q but its last event left it %q", msg, status[msg], to)
		}
	}
	return nil
}
