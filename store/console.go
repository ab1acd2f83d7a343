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

// What the web console needs: staff users and their sessions, a patient's
// whole timeline, resending a failed message and the delivery log. The SQL
// of these lives here, next to its only user.

// User is a clinic's staff member who signs in to the web console.
type User struct {
	ID       int64
	ClinicID int64
	// Email is stored lower-cased; it is unique within a clinic.
	Email string
	// PasswordHash is a bcrypt hash.
	PasswordHash string
	CreatedAt    time.Time
	// Role is RoleAdmin or RoleStaff.
	Role Role
	// DisabledAt is when the user was disabled; zero while active.
	DisabledAt time.Time
}

// CreateUser adds a staff user to a clinic. email must already be
// normalized (lower-case); passwordHash is a bcrypt hash. An existing user
// with this email at this clinic is an ECONFLICT error; an unknown clinic is
// ENOTFOUND.
func (s *Store) CreateUser(ctx context.Context, clinicID int64, email, passwordHash string) (User, error) {
	return s.CreateUserWithRole(ctx, clinicID, email, passwordHash, RoleStaff)
}

// CreateUserWithRole is CreateUser for a user with the given role.
func (s *Store) CreateUserWithRole(ctx context.Context, clinicID int64, email, passwordHash string, role Role) (User, error) {
	if !role.Valid() {
		return User{}, aftercare.FieldError("role", "must be admin or staff, got %q", string(role))
	}
	u := User{ClinicID: clinicID, Email: email, PasswordHash: passwordHash, Role: role}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, qClinicExists, clinicID).Scan(&n); err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	if n == 0 {
		return u, notFound("clinic", clinicID)
	}
	if err := tx.QueryRowContext(ctx, qUserExists, clinicID, email).Scan(&n); err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	if n > 0 {
		return u, &aftercare.Error{Code: aftercare.ECONFLICT, Field: "email",
			Message: fmt.Sprintf("a user with this email already exists at clinic %d", clinicID)}
	}
	now := s.now().UTC()
	if err := tx.QueryRowContext(ctx, qInsertUser, clinicID, email, passwordHash, ms(now), string(role)).Scan(&u.ID); err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	u.CreatedAt = now.Truncate(time.Millisecond)
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: clinicID, Action: aftercare.AuditUserAdded,
		Detail: fmt.Sprintf("user %d %s as %s", u.ID, email, role)}); err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return u, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// UsersByEmail returns the active users with this (lower-case) email,
// across clinics: a sign-in names an address, and the password tells which
// clinic's account it is.
func (s *Store) UsersByEmail(ctx context.Context, email string) ([]User, error) {
	rows, err := s.read.QueryContext(ctx, qUsersByEmail, email)
	if err != nil {
		return nil, fmt.Errorf("find users by email: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.ID, &u.ClinicID, &u.Email, &u.PasswordHash, &created, &u.Role); err != nil {
			return nil, fmt.Errorf("find users by email: %w", err)
		}
		u.CreatedAt = fromMS(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

// Session is a signed-in browser of a staff user.
type Session struct {
	// TokenHash is the SHA-256 (hex) of the token in the browser's cookie.
	TokenHash string
	UserID    int64
	ClinicID  int64
	// CSRF is the session's anti-forgery token.
	CSRF      string
	CreatedAt time.Time
	// ExpiresAt is the end of the session's absolute lifetime.
	ExpiresAt time.Time
	// IdleUntil is when the session ends unless used (see TouchSession);
	// zero at creation means ExpiresAt.
	IdleUntil time.Time

	// Filled in by SessionByToken.
	Email  string
	Role   Role
	Clinic aftercare.Clinic
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, se Session) error {
	if se.IdleUntil.IsZero() || se.IdleUntil.After(se.ExpiresAt) {
		se.IdleUntil = se.ExpiresAt
	}
	if _, err := s.write.ExecContext(ctx, qInsertSession, se.TokenHash, se.UserID, se.ClinicID, se.CSRF,
		ms(se.CreatedAt), ms(se.ExpiresAt), ms(se.IdleUntil)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByToken returns the unexpired session with this token hash, with
// its user's email, role and clinic. A missing, expired or idle session, or
// one whose user was disabled, is an EUNAUTHORIZED error. It reads the
// database on every call, so a disabled user is refused at once.
func (s *Store) SessionByToken(ctx context.Context, tokenHash string) (Session, error) {
	var se Session
	var created, expires, idle int64
	var row clinicRow
	now := ms(s.now())
	err := s.read.QueryRowContext(ctx, qSessionByToken, tokenHash, now, now).Scan(append([]any{&se.TokenHash, &se.UserID,
		&se.ClinicID, &se.CSRF, &created, &expires, &idle, &se.Email, &se.Role}, row.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, aftercare.Errorf(aftercare.EUNAUTHORIZED, "not signed in or session expired")
	}
	if err != nil {
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt, se.IdleUntil, se.Clinic = fromMS(created), fromMS(expires), fromMS(idle), row.clinic()
	return se, nil
}

// DeleteSession ends a session (sign-out). Deleting a missing session is
// not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := s.write.ExecContext(ctx, qDeleteSession, tokenHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions that expired by now and returns
// how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int, error) {
	res, err := s.write.ExecContext(ctx, qDeleteExpiredSessions, ms(s.now()), ms(s.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// PatientView is everything the console shows about one patient.
type PatientView struct {
	Patient  aftercare.Patient
	Consents []aftercare.Consent
	Replies  []aftercare.Reply
	// Enrollments, newest first, each with its messages and their events.
	Enrollments []EnrollmentTimeline
}

// EnrollmentTimeline is one enrollment with its messages (send time order)
// and their events.
type EnrollmentTimeline struct {
	Enrollment aftercare.Enrollment
	Messages   []aftercare.Message
}

// PatientView returns a clinic's patient with consent evidence, replies and
// every enrollment's messages with their events. Another clinic's patient
// is ENOTFOUND, exactly like a missing one.
func (s *Store) PatientView(ctx context.Context, clinicID, patientID int64) (PatientView, error) {
	var v PatientView
	var err error
	if v.Patient, err = s.Patient(ctx, clinicID, patientID); err != nil {
		return v, err
	}
	if v.Consents, err = s.Consents(ctx, patientID); err != nil {
		return v, err
	}
	if v.Replies, err = s.Replies(ctx, patientID); err != nil {
		return v, err
	}
	es, err := s.Enrollments(ctx, clinicID, patientID)
	if err != nil {
		return v, err
	}
	for _, e := range es {
		msgs, err := s.messagesWithEvents(ctx, e.ID)
		if err != nil {
			return v, err
		}
		v.Enrollments = append(v.Enrollments, EnrollmentTimeline{Enrollment: e, Messages: msgs})
	}
	return v, nil
}

// Resend windows: a resent message may go out until now plus the
// original step's window, but never less than MinResendWindow (a text
// resent at 20:55 still goes out after the night's quiet hours) and never
// more than MaxResendWindow.
const (
	MinResendWindow = 12 * time.Hour
	MaxResendWindow = 48 * time.Hour
)

// ResendMessage gives a failed message of a clinic another chance, on
// staff's request. It reschedules the same row rather than inserting a
// copy: the outbox keeps one row per (enrollment, step, channel,
// occurrence), the row's events keep the whole history (the failure, who
// asked for the resend, the new attempts), and a late receipt for the old
// provider id no longer matches it. The message becomes scheduled, due now,
// with its attempts reset and a fresh stale window (see MinResendWindow);
// its planned send time stays as it was. by names who asked (recorded in
// the event).
//
// Another clinic's or a missing message is ENOTFOUND. A message that is not
// failed, belongs to a cancelled enrollment, or goes to a channel the
// patient opted out of or cannot receive on is ECONFLICT, with a message
// for staff.
func (s *Store) ResendMessage(ctx context.Context, clinicID, id int64, by string) (aftercare.Message, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return aftercare.Message{}, fmt.Errorf("resend message %d: %w", id, err)
	}
	defer tx.Rollback()
	var status, channel, recipient, providerID, code, lastErr, reason, phoneBad, emailBad, email string
	var sendAt, staleAt int64
	var cancelled bool
	var smsOut, emailOut int
	err = tx.QueryRowContext(ctx, qResendInfo, id, clinicID).Scan(&status, &sendAt, &staleAt, &channel, &recipient,
		&providerID, &code, &lastErr, &reason, &cancelled, &smsOut, &emailOut, &phoneBad, &emailBad, &email)
	if errors.Is(err, sql.ErrNoRows) {
		return aftercare.Message{}, notFound("message", id)
	}
	if err != nil {
		return aftercare.Message{}, fmt.Errorf("resend message %d: %w", id, err)
	}
	conflict := func(format string, args ...any) (aftercare.Message, error) {
		return aftercare.Message{}, aftercare.Errorf(aftercare.ECONFLICT, format, args...)
	}
	if aftercare.Status(status) != aftercare.StatusFailed {
		return conflict("only a failed message can be resent; this one is %s", status)
	}
	if cancelled {
		return conflict("the enrollment was cancelled; enroll the patient again instead")
	}
	if recipient == "" {
		switch aftercare.Channel(channel) {
		case aftercare.SMS:
			if smsOut != 0 {
				return conflict("the patient opted out of texts")
			}
			if phoneBad != "" {
				return conflict("the phone number cannot receive texts (%s); enroll again with a mobile number", phoneBad)
			}
		case aftercare.Email:
			if emailOut != 0 {
				return conflict("the patient opted out of email")
			}
			if email == "" {
				return conflict("the patient has no email address")
			}
			if emailBad != "" {
				return conflict("the email address cannot receive mail (%s); enroll again with another address", emailBad)
			}
		}
	}
	now := s.now().UTC()
	window := time.Duration(staleAt-sendAt) * time.Millisecond
	window = min(max(window, MinResendWindow), MaxResendWindow)
	detail := "resend requested"
	if by != "" {
		detail += " by " + by
	}
	if prev := joinDetail(code, reason, lastErr); prev != "" {
		detail += "; previous failure: " + prev
	}
	if providerID != "" {
		detail += "; previous provider id " + providerID
	}
	ok, err := reopen(ctx, tx, now, id, aftercare.StatusFailed, now, now.Add(window), true, detail)
	if err != nil {
		return aftercare.Message{}, fmt.Errorf("resend message %d: %w", id, err)
	}
	if !ok {
		return conflict("the message changed meanwhile; reload the page")
	}
	if err := auditMessage(ctx, tx, now, aftercare.AuditResend, id, fmt.Sprintf("message %d", id)); err != nil {
		return aftercare.Message{}, fmt.Errorf("resend message %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return aftercare.Message{}, fmt.Errorf("resend message %d: %w", id, err)
	}
	return s.Message(ctx, id)
}

// LogFilter selects messages for the console's delivery log.
type LogFilter struct {
	ClinicID int64
	Status   aftercare.Status
	Channel  aftercare.Channel
	Step     string
	// From and To bound the planned send time: [From, To). Zero is open.
	From, To time.Time
	// Now splits the log: messages planned up to Now come first, newest
	// first, then those planned after it, soonest first. Zero means the
	// store's clock.
	Now    time.Time
	Offset int
	Limit  int // default and maximum 500
}

// LogEntry is one row of the delivery log: a message and its patient's name.
type LogEntry struct {
	Message     aftercare.Message
	PatientName string
}

// DeliveryLog lists a clinic's messages matching f: failures first, then
// what was planned up to now (newest first), then what is coming (soonest
// first). more reports whether messages beyond Offset+Limit match too.
func (s *Store) DeliveryLog(ctx context.Context, f LogFilter) (entries []LogEntry, more bool, err error) {
	where := []string{"m.clinic_id = ?"}
	args := []any{f.ClinicID}
	if f.Status != "" {
		where, args = append(where, "m.status = ?"), append(args, string(f.Status))
	}
	if f.Channel != "" {
		where, args = append(where, "m.channel = ?"), append(args, string(f.Channel))
	}
	if f.Step != "" {
		where, args = append(where, "m.step = ?"), append(args, f.Step)
	}
	if !f.From.IsZero() {
		where, args = append(where, "m.send_at >= ?"), append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "m.send_at < ?"), append(args, ms(f.To))
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	f.Offset = max(f.Offset, 0)
	if f.Now.IsZero() {
		f.Now = s.now()
	}
	args = append(args, ms(f.Now), ms(f.Now), f.Limit+1, f.Offset)
	q := fmt.Sprintf(qDeliveryLog, qualify("m", messageCols), strings.Join(where, " AND "))
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list delivery log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e LogEntry
		var first, last string
		m, err := scanMessage(extraCols{rows, []any{&first, &last}})
		if err != nil {
			return nil, false, fmt.Errorf("list delivery log: %w", err)
		}
		e.Message, e.PatientName = m, strings.TrimSpace(first+" "+last)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list delivery log: %w", err)
	}
	if len(entries) > f.Limit {
		return entries[:f.Limit], true, nil
	}
	return entries, false, nil
}

// extraCols scans a row that has more columns after those a scan function
// knows: they go to extra.
type extraCols struct {
	r     scanner
	extra []any
}

func (e extraCols) Scan(dest ...any) error { return e.r.Scan(append(dest, e.extra...)...) }

// qualify prefixes each column of a comma-separated list with a table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// StatusCounts counts a clinic's messages per status among those planned
// in [dayStart, end) and in [weekStart, end) (weekStart <= dayStart).
func (s *Store) StatusCounts(ctx context.Context, clinicID int64, dayStart, weekStart, end time.Time) (day, week map[aftercare.Status]int, err error) {
	rows, err := s.read.QueryContext(ctx, qStatusCounts, ms(dayStart), clinicID, ms(weekStart), ms(end))
	if err != nil {
		return nil, nil, fmt.Errorf("count messages by status: %w", err)
	}
	defer rows.Close()
	day, week = make(map[aftercare.Status]int), make(map[aftercare.Status]int)
	for rows.Next() {
		var st string
		var d, w int
		if err := rows.Scan(&st, &d, &w); err != nil {
			return nil, nil, fmt.Errorf("count messages by status: %w", err)
		}
		day[aftercare.Status(st)], week[aftercare.Status(st)] = d, w
	}
	return day, week, rows.Err()
}

// DayRange is one local day as an instant range [Start, End).
type DayRange struct {
	Start, End time.Time
}

// DayCount is how many of a day's planned messages were sent (sent or
// delivered) and how many failed.
type DayCount struct {
	Day    DayRange
	Sent   int
	Failed int
}

// DailyCounts counts a clinic's sends and failures per day, by planned send
// time, one row per given day in the order given.
func (s *Store) DailyCounts(ctx context.Context, clinicID int64, days []DayRange) ([]DayCount, error) {
	if len(days) == 0 {
		return nil, nil
	}
	if len(days) > 400 {
		return nil, fmt.Errorf("count messages per day: %d days is too many", len(days))
	}
	args := make([]any, 0, 3*len(days)+1)
	vals := make([]string, len(days))
	for i, d := range days {
		vals[i] = "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))"
		args = append(args, i, ms(d.Start), ms(d.End))
	}
	args = append(args, clinicID)
	rows, err := s.read.QueryContext(ctx, fmt.Sprintf(qDailyCounts, strings.Join(vals, ", ")), args...)
	if err != nil {
		return nil, fmt.Errorf("count messages per day: %w", err)
	}
	defer rows.Close()
	out := make([]DayCount, len(days))
	for i, d := range days {
		out[i].Day = d
	}
	for rows.Next() {
		var i, sent, failed int
		if err := rows.Scan(&i, &sent, &failed); err != nil {
			return nil, fmt.Errorf("count messages per day: %w", err)
		}
		if i >= 0 && i < len(out) {
			out[i].Sent, out[i].Failed = sent, failed
		}
	}
	return out, rows.Err()
}
