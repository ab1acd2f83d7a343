package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// Claimed is a message claimed for sending, with what a provider needs.
type Claimed struct {
	Message    aftercare.Message
	Patient    aftercare.Patient
	Clinic     aftercare.Clinic
	Enrollment aftercare.Enrollment // id, session and series numbers, treatment time
}

// Claim moves up to limit due messages (next_attempt_at <= now, oldest
// first) from scheduled to sending with a lease until now+lease, and records
// the intent (attempt count and an event) before any provider is called.
// Its statements are prepared once and each runs once per batch, whatever
// its size: the claim returns the messages, and their patients, clinics
// and enrollments are read once each.
func (s *Store) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Claimed, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Shared: claims of several replicas run at once (each claims rows the
	// others have not locked); only an exclusive transaction waits for it.
	tx, err := s.d.BeginWrite(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("claim due messages: %w", err)
	}
	defer tx.Rollback()
	out, err := claimMessages(ctx, tx.StmtContext(ctx, s.stmts.claim), now, limit, lease)
	if err != nil {
		return nil, fmt.Errorf("claim due messages: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := s.claimedDetails(ctx, tx, out); err != nil {
		return nil, fmt.Errorf("claim due messages: %w", err)
	}
	ids := make([]int64, len(out))
	for i, c := range out {
		ids[i] = c.Message.ID
	}
	if _, err := tx.StmtContext(ctx, s.stmts.claimEvents).ExecContext(ctx, ms(now), jsonIDs(ids)); err != nil {
		return nil, fmt.Errorf("claim due messages: record events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim due messages: commit: %w", err)
	}
	// Keep due-time order (RETURNING does not promise one).
	sortClaimed(out)
	return out, nil
}

// jsonIDs formats ids as a JSON array, the one parameter of the claim's
// "id IN ({{ids}})".
func jsonIDs(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

func claimMessages(ctx context.Context, st *sql.Stmt, now time.Time, limit int, lease time.Duration) ([]Claimed, error) {
	rows, err := st.QueryContext(ctx, ms(now.Add(lease)), ms(now), ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]Claimed, 0, min(limit, 1024))
	for rows.Next() {
		var c Claimed
		m := &c.Message
		var channel string
		var sendAt, staleAt, next int64
		var amb, urgent, answer int
		if err := rows.Scan(&m.ID, &m.EnrollmentID, &m.ClinicID, &m.PatientID, &m.Step, &m.Occurrence, &channel,
			&sendAt, &staleAt, &m.Attempts, &next, &amb, &m.ProviderID, &m.Subject, &m.Body, &m.HTMLBody,
			&m.Recipient, &urgent, &answer); err != nil {
			return nil, err
		}
		m.Channel, m.Status = aftercare.Channel(channel), aftercare.StatusSending
		m.SendAt, m.StaleAt, m.NextAttemptAt, m.Ambiguous, m.Urgent = fromMS(sendAt), fromMS(staleAt), fromMS(next), amb != 0, urgent != 0
		m.Answer = answer != 0
		out = append(out, c)
	}
	return out, rows.Err()
}

// claimedDetails fills in the patient, clinic and enrollment of claimed
// messages, reading each once.
func (s *Store) claimedDetails(ctx context.Context, tx *sql.Tx, cs []Claimed) error {
	patients := map[int64]aftercare.Patient{}
	clinics := map[int64]aftercare.Clinic{}
	enrollments := map[int64]aftercare.Enrollment{}
	var pids, cids, eids []int64
	for _, c := range cs {
		m := c.Message
		if _, ok := patients[m.PatientID]; !ok {
			patients[m.PatientID] = aftercare.Patient{}
			pids = append(pids, m.PatientID)
		}
		if _, ok := clinics[m.ClinicID]; !ok {
			clinics[m.ClinicID] = aftercare.Clinic{}
			cids = append(cids, m.ClinicID)
		}
		if _, ok := enrollments[m.EnrollmentID]; !ok {
			enrollments[m.EnrollmentID] = aftercare.Enrollment{}
			eids = append(eids, m.EnrollmentID)
		}
	}
	read := func(st *sql.Stmt, ids []int64, scan func(*sql.Rows) error) error {
		rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, jsonIDs(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	if err := read(s.stmts.claimPatients, pids, func(r *sql.Rows) error {
		var p aftercare.Patient
		var smsOut, emailOut int
		if err := r.Scan(&p.ID, &p.FirstName, &p.LastName, &p.Phone, &p.Email, &p.Timezone, &smsOut, &emailOut,
			&p.PhoneBad, &p.EmailBad, &p.Language); err != nil {
			return err
		}
		p.SMSOptOut, p.EmailOptOut = smsOut != 0, emailOut != 0
		patients[p.ID] = p
		return nil
	}); err != nil {
		return fmt.Errorf("read patients: %w", err)
	}
	if err := read(s.stmts.claimClinics, cids, func(r *sql.Rows) error {
		var c aftercare.Clinic
		if err := r.Scan(&c.ID, &c.Name, &c.Phone, &c.SMSFrom, &c.MessagingServiceSID, &c.EmailFrom, &c.ReplyTo, &c.BookingURL,
			&c.DefaultLanguage, &c.QuietHours); err != nil {
			return err
		}
		clinics[c.ID] = c
		return nil
	}); err != nil {
		return fmt.Errorf("read clinics: %w", err)
	}
	if err := read(s.stmts.claimEnrollments, eids, func(r *sql.Rows) error {
		var e aftercare.Enrollment
		var treated int64
		if err := r.Scan(&e.ID, &e.SessionNumber, &e.SeriesLength, &treated, &e.Treatment, &e.Protocol, &e.ProtocolVersion,
			&e.Language); err != nil {
			return err
		}
		e.TreatedAt = fromMS(treated)
		enrollments[e.ID] = e
		return nil
	}); err != nil {
		return fmt.Errorf("read enrollments: %w", err)
	}
	for i := range cs {
		c := &cs[i]
		m := c.Message
		c.Patient, c.Clinic, c.Enrollment = patients[m.PatientID], clinics[m.ClinicID], enrollments[m.EnrollmentID]
		c.Patient.ID, c.Patient.ClinicID = m.PatientID, m.ClinicID
		c.Clinic.ID = m.ClinicID
		c.Enrollment.ID, c.Enrollment.ClinicID, c.Enrollment.PatientID = m.EnrollmentID, m.ClinicID, m.PatientID
	}
	return nil
}

func sortClaimed(cs []Claimed) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i].Message, cs[j].Message
		if !a.NextAttemptAt.Equal(b.NextAttemptAt) {
			return a.NextAttemptAt.Before(b.NextAttemptAt)
		}
		return a.ID < b.ID
	})
}

// OutcomeKind says what happened to a claimed message.
type OutcomeKind string

// Outcome kinds.
const (
	// OutcomeSent: the provider accepted the message.
	OutcomeSent OutcomeKind = "sent"
	// OutcomeFailed: a permanent failure; the message will not be retried.
	OutcomeFailed OutcomeKind = "failed"
	// OutcomeRetry: a transient or ambiguous failure; try again at NextAttemptAt.
	OutcomeRetry OutcomeKind = "retry"
	// OutcomeSkipped: not sent on purpose (stale, opted out, no consent).
	OutcomeSkipped OutcomeKind = "skipped"
	// OutcomeDeferred: not attempted (quiet hours, shutting down); back to
	// scheduled at NextAttemptAt without counting an attempt.
	OutcomeDeferred OutcomeKind = "deferred"
)

// Outcome is the result of handling one claimed message.
type Outcome struct {
	ID            int64
	Kind          OutcomeKind
	At            time.Time
	ProviderID    string
	ErrorCode     string
	Error         string
	Reason        string
	NextAttemptAt time.Time
	Ambiguous     bool
}

// Record commits a batch of outcomes in one transaction. Each applies only
// to a message still in sending (a lease that expired and was recovered is
// not overwritten); it returns how many applied. Sent outcomes (nearly all
// of them) and the events are written a group of rows per statement.
func (s *Store) Record(ctx context.Context, outs []Outcome) (int, error) {
	if len(outs) == 0 {
		return 0, nil
	}
	// Shared: each outcome is one statement guarded by the state it
	// leaves, on a message this process claimed.
	// An error that says the database could not be reached wraps
	// ErrUnavailable: the dispatcher records the same outcomes again when
	// it is back (each is guarded, so a commit that did land changes
	// nothing the second time).
	tx, err := s.d.BeginWrite(ctx, false)
	if err != nil {
		return 0, fmt.Errorf("record outcomes: %w", s.unavailable(err))
	}
	defer tx.Rollback()
	applied, err := s.record(ctx, tx, outs)
	if err != nil {
		return 0, s.unavailable(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record outcomes: commit: %w", s.unavailable(err))
	}
	return applied, nil
}

// eventRow is one event to insert.
type eventRow struct {
	msgID    int64
	at       int64
	from, to aftercare.Status
	detail   string
}

func (s *Store) record(ctx context.Context, tx *sql.Tx, outs []Outcome) (int, error) {
	// A message named twice goes row by row, in order, so that only its
	// first outcome applies, as it always has.
	bulk := true
	seen := make(map[int64]struct{}, len(outs))
	var sent []Outcome
	for _, o := range outs {
		if _, dup := seen[o.ID]; dup {
			bulk = false
		}
		seen[o.ID] = struct{}{}
		if o.Kind == OutcomeSent {
			sent = append(sent, o)
		}
	}
	var sentApplied map[int64]bool
	if bulk && len(sent) > 0 {
		var err error
		if sentApplied, err = s.markSent(ctx, tx, sent); err != nil {
			return 0, err
		}
	}
	events := make([]eventRow, 0, len(outs))
	var one *txStmts
	for _, o := range outs {
		if bulk && o.Kind == OutcomeSent {
			if sentApplied[o.ID] {
				events = append(events, eventRow{o.ID, ms(o.At), aftercare.StatusSending, aftercare.StatusSent, sentDetail(o)})
			}
			continue
		}
		if one == nil {
			one = &txStmts{ctx: ctx, tx: tx, p: s.stmts}
		}
		ok, to, detail, err := one.recordOne(o)
		if err != nil {
			return 0, fmt.Errorf("record outcome of message %d: %w", o.ID, err)
		}
		if ok {
			events = append(events, eventRow{o.ID, ms(o.At), aftercare.StatusSending, to, detail})
		}
	}
	if err := s.insertEvents(ctx, tx, events); err != nil {
		return 0, fmt.Errorf("record outcomes: %w", err)
	}
	return len(events), nil
}

func sentDetail(o Outcome) string {
	detail := "accepted by provider as " + o.ProviderID
	if o.Reason != "" {
		detail += "; " + o.Reason
	}
	return detail
}

// markSent applies sent outcomes (distinct ids) a group per statement and
// returns the ids it changed.
func (s *Store) markSent(ctx context.Context, tx *sql.Tx, sent []Outcome) (map[int64]bool, error) {
	applied := make(map[int64]bool, len(sent))
	args := make([]any, 0, 3*min(len(sent), rowSizes[0]))
	for _, n := range chunks(len(sent)) {
		if n == 1 {
			o := sent[0]
			sent = sent[1:]
			res, err := tx.StmtContext(ctx, s.stmts.sent).ExecContext(ctx, o.ProviderID, ms(o.At), ms(o.At), o.ID)
			if err != nil {
				return nil, fmt.Errorf("record sent outcome: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				applied[o.ID] = true
			}
			continue
		}
		args = args[:0]
		for _, o := range sent[:n] {
			args = append(args, o.ID, o.ProviderID, ms(o.At))
		}
		sent = sent[n:]
		rows, err := tx.StmtContext(ctx, s.stmts.markSent[n]).QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("record sent outcomes: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("record sent outcomes: %w", err)
			}
			applied[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("record sent outcomes: %w", err)
		}
	}
	return applied, nil
}

// insertEvents writes events a group of rows per statement, in order.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, evs []eventRow) error {
	args := make([]any, 0, 5*min(len(evs), rowSizes[0]))
	for _, n := range chunks(len(evs)) {
		args = args[:0]
		for _, e := range evs[:n] {
			args = append(args, e.msgID, e.at, string(e.from), string(e.to), e.detail)
		}
		evs = evs[n:]
		if _, err := tx.StmtContext(ctx, s.stmts.events[n]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("record events: %w", err)
		}
	}
	return nil
}

// insertEventsReturning writes events like insertEvents (one per message)
// and returns each one's id by message id.
func (s *Store) insertEventsReturning(ctx context.Context, tx *sql.Tx, evs []eventRow) (map[int64]int64, error) {
	ids := make(map[int64]int64, len(evs))
	args := make([]any, 0, 5*min(len(evs), rowSizes[0]))
	for _, n := range chunks(len(evs)) {
		args = args[:0]
		for _, e := range evs[:n] {
			args = append(args, e.msgID, e.at, string(e.from), string(e.to), e.detail)
		}
		evs = evs[n:]
		rows, err := tx.StmtContext(ctx, s.stmts.eventsReturning[n]).QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("record events: %w", err)
		}
		for rows.Next() {
			var id, msgID int64
			if err := rows.Scan(&id, &msgID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("record events: %w", err)
			}
			ids[msgID] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("record events: %w", err)
		}
	}
	return ids, nil
}

// txStmts runs the prepared single-row statements in one transaction.
type txStmts struct {
	ctx context.Context
	tx  *sql.Tx
	p   *prepared
}

func (t *txStmts) exec(st *sql.Stmt, args ...any) (sql.Result, error) {
	return t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
}

// recordOne applies one outcome and says whether it applied, and the
// event to write if it did.
func (t *txStmts) recordOne(o Outcome) (bool, aftercare.Status, string, error) {
	at := ms(o.At)
	var res sql.Result
	var err error
	var to aftercare.Status
	var detail string
	switch o.Kind {
	case OutcomeSent:
		to, detail = aftercare.StatusSent, sentDetail(o)
		res, err = t.exec(t.p.sent, o.ProviderID, at, at, o.ID)
	case OutcomeFailed:
		to, detail = aftercare.StatusFailed, joinDetail(o.ErrorCode, o.Reason, o.Error)
		res, err = t.exec(t.p.failed, o.ErrorCode, o.Error, o.Reason, at, o.ID)
	case OutcomeRetry:
		to = aftercare.StatusScheduled
		detail = fmt.Sprintf("retry at %s: %s", o.NextAttemptAt.UTC().Format(time.RFC3339), joinDetail(o.ErrorCode, o.Reason, o.Error))
		if o.Ambiguous {
			detail += " (ambiguous: provider will be checked first)"
		}
		res, err = t.exec(t.p.retry, ms(o.NextAttemptAt), o.ErrorCode, o.Error, b2i(o.Ambiguous), at, o.ID)
	case OutcomeSkipped:
		to, detail = aftercare.StatusSkipped, o.Reason
		res, err = t.exec(t.p.skipped, o.Reason, at, o.ID)
	case OutcomeDeferred:
		to = aftercare.StatusScheduled
		detail = fmt.Sprintf("deferred to %s: %s", o.NextAttemptAt.UTC().Format(time.RFC3339), o.Reason)
		res, err = t.exec(t.p.released, ms(o.NextAttemptAt), o.Reason, at, o.ID)
	default:
		return false, "", "", fmt.Errorf("unknown outcome kind %q", o.Kind)
	}
	if err != nil {
		return false, "", "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, "", "", nil
	}
	return true, to, detail, nil
}

func joinDetail(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ": ")
}

// RecoverLeases returns messages left in sending past their lease (a crash
// or a hang) to scheduled, flagged ambiguous so the provider is asked before
// any resend. It returns how many it recovered.
func (s *Store) RecoverLeases(ctx context.Context, now time.Time) (int, error) {
	return s.bulk(ctx, "recover expired leases",
		stmt{qExpiredLeaseEvents, []any{ms(now), ms(now)}},
		stmt{qRecoverLeases, []any{ms(now), ms(now), ms(now), ms(now)}})
}

// RecoverAbandoned returns every message in sending to scheduled, due now
// and flagged ambiguous, whatever its lease: at start (one daemon per
// database) they were all claimed by a run that died. It returns how many
// it recovered.
func (s *Store) RecoverAbandoned(ctx context.Context, now time.Time) (int, error) {
	const anyLease = math.MaxInt64
	return s.bulk(ctx, "recover messages left mid-send",
		stmt{qExpiredLeaseEvents, []any{ms(now), anyLease}},
		stmt{qRecoverLeases, []any{ms(now), ms(now), ms(now), anyLease}})
}

// SkipStale ends scheduled messages whose stale time has passed: skipped if
// never attempted, failed (with the last error) if retries ran out.
func (s *Store) SkipStale(ctx context.Context, now time.Time) (int, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("skip stale messages: %w", err)
	}
	defer tx.Rollback()
	n, err := skipStale(ctx, tx, now)
	if err != nil {
		return 0, fmt.Errorf("skip stale messages: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("skip stale messages: commit: %w", err)
	}
	return n, nil
}

type stmt struct {
	q    string
	args []any
}

// bulk runs statements in one transaction and returns the rows the last
// one changed.
func (s *Store) bulk(ctx context.Context, what string, stmts ...stmt) (int, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	var n int64
	for _, st := range stmts {
		res, err := tx.ExecContext(ctx, st.q, st.args...)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		n, _ = res.RowsAffected()
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%s: commit: %w", what, err)
	}
	return int(n), nil
}

// FlagRestored flags every message that could have gone out after a
// backup was taken (scheduled or sending, due by now, not yet ambiguous)
// as ambiguous, so that the provider is asked before any send. It returns
// how many it flagged.
func (s *Store) FlagRestored(ctx context.Context, now time.Time) (int, error) {
	return s.bulk(ctx, "flag messages after a restore",
		stmt{qRestoredEvents, []any{ms(now), ms(now)}},
		stmt{qFlagRestored, []any{ms(now), ms(now)}})
}

// NextDue returns when the earliest scheduled message is due, or the zero
// time if none is.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var v sql.NullInt64
	if err := s.read.QueryRowContext(ctx, qNextDue).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("next due message: %w", err)
	}
	return fromMS(v.Int64), nil
}

// Message returns one message with its events, across clinics (for
// internal use by the dispatcher and webhooks).
func (s *Store) Message(ctx context.Context, id int64) (aftercare.Message, error) {
	m, err := scanMessage(s.read.QueryRowContext(ctx, qSelectMessage, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, notFound("message", id)
	}
	if err != nil {
		return m, fmt.Errorf("get message %d: %w", id, err)
	}
	rows, err := s.read.QueryContext(ctx, qEventsByMessage, id)
	if err != nil {
		return m, fmt.Errorf("get events of message %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return m, fmt.Errorf("get events of message %d: %w", id, err)
		}
		m.Events = append(m.Events, ev)
	}
	return m, rows.Err()
}

// MessageByProviderID finds a message by the provider's id for it.
func (s *Store) MessageByProviderID(ctx context.Context, providerID string) (aftercare.Message, error) {
	m, err := scanMessage(s.read.QueryRowContext(ctx, qMessageByProvider, providerID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, aftercare.Errorf(aftercare.ENOTFOUND, "no message with provider id %s", providerID)
	}
	if err != nil {
		return m, fmt.Errorf("find message by provider id: %w", err)
	}
	return m, nil
}

// CountByStatus returns how many messages are in each status.
func (s *Store) CountByStatus(ctx context.Context) (map[aftercare.Status]int, error) {
	rows, err := s.read.QueryContext(ctx, qCountByStatus)
	if err != nil {
		return nil, fmt.Errorf("count messages by status: %w", err)
	}
	defer rows.Close()
	out := make(map[aftercare.Status]int)
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count messages by status: %w", err)
		}
		out[aftercare.Status(st)] = n
	}
	return out, rows.Err()
}

// MessageFilter selects messages for the delivery log.
type MessageFilter struct {
	ClinicID  int64
	PatientID int64
	Status    aftercare.Status
	Channel   aftercare.Channel
	Step      string
	From, To  time.Time // planned send time range [From, To)
	// AfterID pages: only messages with id > AfterID (ordered by id).
	AfterID int64
	Limit   int
}

// Messages lists a clinic's messages oldest id first, for the delivery log.
func (s *Store) Messages(ctx context.Context, f MessageFilter) ([]aftercare.Message, error) {
	var where []string
	var args []any
	where = append(where, "clinic_id = ?")
	args = append(args, f.ClinicID)
	if f.PatientID != 0 {
		where, args = append(where, "patient_id = ?"), append(args, f.PatientID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.Channel != "" {
		where, args = append(where, "channel = ?"), append(args, string(f.Channel))
	}
	if f.Step != "" {
		where, args = append(where, "step = ?"), append(args, f.Step)
	}
	if !f.From.IsZero() {
		where, args = append(where, "send_at >= ?"), append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "send_at < ?"), append(args, ms(f.To))
	}
	if f.AfterID > 0 {
		where, args = append(where, "id > ?"), append(args, f.AfterID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	args = append(args, f.Limit)
	q := fmt.Sprintf(qListMessages, strings.Join(where, " AND "))
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return msgs, nil
}

// Receipt is a delivery report from a provider.
type Receipt struct {
	ProviderID string
	Status     aftercare.Status // sent, delivered or failed
	ErrorCode  string
	Error      string
	Reason     string
	At         time.Time
}

// ApplyReceipt moves the message with the receipt's provider id forward:
// sent to delivered or failed. A receipt never moves a message backwards (a
// late "sent" after "delivered" changes nothing). It returns the message
// and whether the receipt changed it.
func (s *Store) ApplyReceipt(ctx context.Context, r Receipt) (aftercare.Message, bool, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return aftercare.Message{}, false, fmt.Errorf("apply receipt: %w", err)
	}
	defer tx.Rollback()
	m, err := scanMessage(tx.QueryRowContext(ctx, qMessageByProvider, r.ProviderID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, aftercare.Errorf(aftercare.ENOTFOUND, "no message with provider id %s", r.ProviderID)
	}
	if err != nil {
		return m, false, fmt.Errorf("apply receipt: %w", err)
	}
	if !receiptMoves(m.Status, r.Status) {
		return m, false, nil
	}
	reason := r.Reason
	if reason == "" {
		reason = m.Reason
	}
	res, err := tx.ExecContext(ctx, qReceipt, string(r.Status), r.ErrorCode, r.Error, reason, ms(r.At), m.ID, string(m.Status))
	if err != nil {
		return m, false, fmt.Errorf("apply receipt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return m, false, nil
	}
	detail := "receipt: " + string(r.Status)
	if d := joinDetail(r.ErrorCode, r.Reason, r.Error); d != "" {
		detail += ": " + d
	}
	if err := insertEvent(ctx, tx, m.ID, r.At, m.Status, r.Status, detail); err != nil {
		return m, false, err
	}
	if err := tx.Commit(); err != nil {
		return m, false, fmt.Errorf("apply receipt: commit: %w", err)
	}
	m.Status, m.ErrorCode, m.LastError, m.Reason = r.Status, r.ErrorCode, r.Error, reason
	return m, true, nil
}

// receiptMoves says whether a receipt may move a message from one status to
// another: only forward, from sent (or a send not yet recorded) to a final
// delivery state.
func receiptMoves(from, to aftercare.Status) bool {
	if to != aftercare.StatusDelivered && to != aftercare.StatusFailed {
		return false
	}
	return from == aftercare.StatusSent || from == aftercare.StatusSending
}

// SentBefore returns messages accepted by a provider before t that have
// had no final receipt, oldest first (for the reconcile job).
func (s *Store) SentBefore(ctx context.Context, t time.Time, channel aftercare.Channel, limit int) ([]aftercare.Message, error) {
	rows, err := s.read.QueryContext(ctx, qSentBefore, ms(t), string(channel), limit)
	if err != nil {
		return nil, fmt.Errorf("list unconfirmed messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list unconfirmed messages: %w", err)
	}
	return msgs, nil
}
