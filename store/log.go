package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// The delivery log for operators (`aftercare log`): messages with the
// address they go to, and the event stream joined with its messages.

// TailFilter selects delivery log lines.
type TailFilter struct {
	ClinicID int64 // 0 = every clinic
	Status   aftercare.Status
	Channel  aftercare.Channel
	Step     string
	// From and To bound the planned send time, [From, To); zero = open.
	// They apply to messages, not to the event stream.
	From, To time.Time
	Limit    int // default 100, at most 10000
}

// TailEntry is a message (without its bodies) and the address it goes to:
// the patient's phone or email, or the staff recipient of an alert. Callers
// mask To before showing it.
type TailEntry struct {
	Message aftercare.Message
	To      string
}

// TailEvent is one transition of a message, with the message.
type TailEvent struct {
	Event aftercare.Event
	TailEntry
}

func (f TailFilter) limit() int {
	switch {
	case f.Limit <= 0:
		return 100
	case f.Limit > 10000:
		return 10000
	}
	return f.Limit
}

// where builds the shared conditions; statusCol is the column Status
// filters on (the message's status, or an event's new status).
func (f TailFilter) where(statusCol string, withTimes bool) (string, []any) {
	where := []string{"1 = 1"}
	var args []any
	if f.ClinicID != 0 {
		where, args = append(where, "m.clinic_id = ?"), append(args, f.ClinicID)
	}
	if f.Status != "" {
		where, args = append(where, statusCol+" = ?"), append(args, string(f.Status))
	}
	if f.Channel != "" {
		where, args = append(where, "m.channel = ?"), append(args, string(f.Channel))
	}
	if f.Step != "" {
		where, args = append(where, "m.step = ?"), append(args, f.Step)
	}
	if withTimes && !f.From.IsZero() {
		where, args = append(where, "m.send_at >= ?"), append(args, ms(f.From))
	}
	if withTimes && !f.To.IsZero() {
		where, args = append(where, "m.send_at < ?"), append(args, ms(f.To))
	}
	return strings.Join(where, " AND "), args
}

// TailMessages returns the newest f.Limit messages that match f, oldest
// first (so the newest is printed last).
func (s *Store) TailMessages(ctx context.Context, f TailFilter) ([]TailEntry, error) {
	where, args := f.where("m.status", true)
	rows, err := s.read.QueryContext(ctx, fmt.Sprintf(qTailMessages, where), append(args, f.limit())...)
	if err != nil {
		return nil, fmt.Errorf("read delivery log: %w", err)
	}
	defer rows.Close()
	var out []TailEntry
	for rows.Next() {
		e, err := scanTailEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("read delivery log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read delivery log: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// LastEventID returns the id of the newest event (0 if none), where
// following the log starts.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.read.QueryRowContext(ctx, qLastEventID).Scan(&id); err != nil {
		return 0, fmt.Errorf("read last event id: %w", err)
	}
	return id, nil
}

// EventsAfter returns events with id > afterID that match f (Status is the
// event's new status; From and To are ignored), oldest first, at most
// f.Limit, each with its message.
func (s *Store) EventsAfter(ctx context.Context, afterID int64, f TailFilter) ([]TailEvent, error) {
	where, args := f.where("e.to_status", false)
	args = append([]any{afterID}, args...)
	q := fmt.Sprintf(qTailEvents, "e.id > ? AND "+where)
	rows, err := s.read.QueryContext(ctx, q, append(args, f.limit())...)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", afterID, err)
	}
	defer rows.Close()
	var out []TailEvent
	for rows.Next() {
		var ev TailEvent
		var at int64
		var from, to string
		ev.TailEntry, err = scanTailEntry(rows, &ev.Event.ID, &at, &from, &to, &ev.Event.Detail)
		if err != nil {
			return nil, fmt.Errorf("read events after %d: %w", afterID, err)
		}
		ev.Event.MessageID, ev.Event.At = ev.Message.ID, fromMS(at)
		ev.Event.From, ev.Event.To = aftercare.Status(from), aftercare.Status(to)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events after %d: %w", afterID, err)
	}
	return out, nil
}

// scanTailEntry scans the columns of tailCols, after the lead destinations.
func scanTailEntry(rows *sql.Rows, lead ...any) (TailEntry, error) {
	var e TailEntry
	m := &e.Message
	var channel, status string
	var sendAt, staleAt, next, sent, updated int64
	var urgent int
	dest := append(lead, &m.ID, &m.EnrollmentID, &m.ClinicID, &m.PatientID, &m.Step, &m.Occurrence, &channel,
		&sendAt, &staleAt, &status, &m.Attempts, &next, &m.ProviderID, &m.ErrorCode, &m.LastError,
		&m.Reason, &sent, &updated, &m.Recipient, &urgent, &e.To)
	if err := rows.Scan(dest...); err != nil {
		return e, err
	}
	m.Channel, m.Status, m.Urgent = aftercare.Channel(channel), aftercare.Status(status), urgent != 0
	m.SendAt, m.StaleAt, m.NextAttemptAt = fromMS(sendAt), fromMS(staleAt), fromMS(next)
	m.SentAt, m.UpdatedAt = fromMS(sent), fromMS(updated)
	return e, nil
}
