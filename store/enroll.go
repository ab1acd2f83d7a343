package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aftercare/aftercare"
)

// NewEnrollment is everything needed to enroll a patient and plan their
// aftercare in one transaction.
type NewEnrollment struct {
	// Patient is matched on (clinic, phone): an existing patient is updated
	// (names, email, zone, and language when Patient.Language is not empty)
	// and keeps their opt-outs.
	Patient    aftercare.Patient
	Enrollment aftercare.Enrollment
	// Consents are recorded as evidence for the patient.
	Consents []aftercare.Consent
	// IdempotencyKey and Enrollment.ExternalRef make retries safe: a repeat
	// returns the first enrollment. RequestHash tells a true repeat from a
	// different request that reuses a key.
	IdempotencyKey string
	RequestHash    string
	// Replace cancels an active enrollment of the same patient, treatment
	// and session (and its pending messages) instead of refusing the new
	// one with a DuplicateEnrollmentError.
	Replace bool
	// Plan builds the messages for a patient and enrollment. It must not do
	// I/O, and what it returns may depend on the patient's names, contact
	// details, zone, language, opt-outs and address flags and on the enrollment's
	// treatment fields, not on ids (the store sets those on the rows). It
	// is called before the transaction with Patient and Enrollment as
	// given, and again inside it only if the stored patient differs (a
	// returning patient's opt-out or bad-address flag).
	Plan func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error)
	// Protocol, if set, says which protocol Plan uses for the patient as
	// stored (a returning patient keeps the language recorded earlier
	// when the request gives none); it is recorded on the enrollment
	// instead of Enrollment's own fields.
	Protocol func(p aftercare.Patient) (ProtocolRecord, error)
	// Link, if set, is the patient's page link, stored with the
	// enrollment (a repeat of an earlier request keeps the first one's).
	Link *NewLink
}

// ProtocolRecord names the protocol an enrollment is planned with.
type ProtocolRecord struct {
	Name     string
	Version  int
	Language string
}

// DuplicateEnrollmentError refuses a second active enrollment of the same
// patient for the same treatment and session (two form submits, or two
// API calls without an Idempotency-Key): both plans would run. It is an
// ECONFLICT domain error (errors.As finds the *aftercare.Error) that names
// the existing enrollment.
type DuplicateEnrollmentError struct {
	Existing aftercare.Enrollment
	err      *aftercare.Error
}

func newDuplicateEnrollmentError(e aftercare.Enrollment) *DuplicateEnrollmentError {
	return &DuplicateEnrollmentError{Existing: e, err: aftercare.Errorf(aftercare.ECONFLICT,
		"this patient already has an active enrollment for session %d of %s (enrollment %d, treated %s): "+
			"view it, or replace it (send \"replace\": true; its pending messages are cancelled)",
		e.SessionNumber, e.Treatment, e.ID, e.TreatedAt.UTC().Format(time.RFC3339))}
}

// Error implements error.
func (e *DuplicateEnrollmentError) Error() string { return e.err.Error() }

// Unwrap returns the domain error.
func (e *DuplicateEnrollmentError) Unwrap() error { return e.err }

// EnrollmentView is an enrollment with everything a caller shows about it.
type EnrollmentView struct {
	Enrollment aftercare.Enrollment
	Patient    aftercare.Patient
	Consents   []aftercare.Consent
	Messages   []aftercare.Message
	Replies    []aftercare.Reply
}

// CreateEnrollment stores the patient, their consent evidence, the
// enrollment and its planned messages, all or nothing. It returns created
// false (and the existing enrollment) when the idempotency key or external
// reference was seen before with the same request; a different request
// under the same key is an ECONFLICT error.
//
// Enrollments that arrive together are written in one transaction (group
// commit), each under its own savepoint: one that fails is rolled back
// alone, and none returns before the transaction holding it committed.
// One commit per enrollment was a third of an enrollment's time on the
// single writer connection.
func (s *Store) CreateEnrollment(ctx context.Context, in NewEnrollment) (EnrollmentView, bool, error) {
	if _, err := s.optOutKey(ctx); err != nil {
		return EnrollmentView{}, false, fmt.Errorf("enroll: %w", err)
	}
	j := &enrollJob{ctx: ctx, in: in, done: make(chan struct{}), lead: make(chan struct{})}
	// Plan outside the writer, for the patient as given.
	if msgs, err := in.Plan(in.Patient, in.Enrollment); err == nil {
		j.planned = msgs
	}
	s.enrolls.run(s, j)
	if j.err != nil {
		return EnrollmentView{}, false, j.err
	}
	if j.view != nil {
		return *j.view, j.created, nil
	}
	v, err := s.Enrollment(ctx, in.Patient.ClinicID, j.id)
	return v, j.created, err
}

// maxEnrollGroup bounds how many enrollments share a transaction (and so
// how long one holds the writer from the dispatcher).
const maxEnrollGroup = 32

// enrollJob is one CreateEnrollment waiting for its group's commit.
type enrollJob struct {
	ctx     context.Context
	in      NewEnrollment
	planned []aftercare.Message // planned for in.Patient before the transaction; nil to plan inside
	done    chan struct{}       // closed when the result is final
	lead    chan struct{}       // closed to make this job's goroutine write the next group
	id      int64
	created bool
	err     error
	view    *EnrollmentView // what was written, when that is the whole view (a new patient)
}

// enrollQueue groups concurrent enrollments. No goroutine of its own: the
// goroutine of the oldest waiting enrollment writes the next group (its own
// included), then hands over to the oldest still waiting.
type enrollQueue struct {
	mu      sync.Mutex
	pending []*enrollJob
	busy    bool // a group is being written, or a waiting job was told to write one
}

func (q *enrollQueue) run(s *Store, j *enrollJob) {
	q.mu.Lock()
	q.pending = append(q.pending, j)
	if q.busy {
		q.mu.Unlock()
		select {
		case <-j.done:
			return
		case <-j.lead:
		}
		q.mu.Lock()
	}
	q.busy = true
	n := min(len(q.pending), maxEnrollGroup)
	group := append([]*enrollJob(nil), q.pending[:n]...)
	q.pending = append(q.pending[:0], q.pending[n:]...)
	q.mu.Unlock()

	s.writeEnrollGroup(group)

	q.mu.Lock()
	if len(q.pending) > 0 {
		close(q.pending[0].lead)
	} else {
		q.busy = false
	}
	q.mu.Unlock()
	<-j.done // in the group just written, or in an earlier one
}

// writeEnrollGroup writes a group of enrollments in one transaction and
// reports each one's result.
func (s *Store) writeEnrollGroup(group []*enrollJob) {
	// The transaction is not bound to any one caller's context: a caller
	// that gives up before its turn is skipped, one that gives up during
	// its statements is rolled back to its savepoint.
	ctx := context.Background()
	defer func() {
		for _, j := range group {
			close(j.done)
		}
	}()
	failAll := func(err error) {
		for _, j := range group {
			if j.err == nil {
				j.err, j.id, j.created, j.view = err, 0, false, nil
			}
		}
	}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		failAll(fmt.Errorf("enroll: %w", err))
		return
	}
	defer tx.Rollback()
	if len(group) == 1 {
		// Alone: the transaction is the savepoint (and a savepoint's
		// journal of every page it touches is not free).
		j := group[0]
		if j.err = j.ctx.Err(); j.err != nil {
			j.err = fmt.Errorf("enroll: %w", j.err)
			return
		}
		if j.id, j.created, j.err = s.enrollTx(j.ctx, tx, j); j.err != nil {
			return
		}
		if err := tx.Commit(); err != nil {
			failAll(fmt.Errorf("enroll: commit: %w", err))
		}
		return
	}
	sp := func(st *sql.Stmt) error {
		_, err := tx.StmtContext(ctx, st).ExecContext(ctx)
		return err
	}
	for _, j := range group {
		if err := j.ctx.Err(); err != nil {
			j.err = fmt.Errorf("enroll: %w", err)
			continue
		}
		if err := sp(s.stmts.savepoint); err != nil {
			failAll(fmt.Errorf("enroll: savepoint: %w", err))
			return
		}
		j.id, j.created, j.err = s.enrollTx(j.ctx, tx, j)
		if j.err != nil {
			j.view = nil
			if err := sp(s.stmts.rollbackTo); err != nil {
				failAll(fmt.Errorf("enroll: roll back to savepoint: %w", err))
				return
			}
		}
		if err := sp(s.stmts.release); err != nil {
			failAll(fmt.Errorf("enroll: release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		failAll(fmt.Errorf("enroll: commit: %w", err))
	}
}

// enrollTx writes one enrollment inside the group's transaction and
// returns its id and whether it was created (false for a repeat).
func (s *Store) enrollTx(ctx context.Context, tx *sql.Tx, j *enrollJob) (int64, bool, error) {
	in := j.in
	clinicID := in.Patient.ClinicID
	if id, ok, err := findRepeat(ctx, tx, clinicID, in); err != nil {
		return 0, false, err
	} else if ok {
		return id, false, nil
	}

	now := s.now().UTC()
	p, isNew, err := upsertPatient(ctx, tx, in.Patient, now)
	if err != nil {
		return 0, false, err
	}
	var consents []aftercare.Consent
	for _, c := range in.Consents {
		if err := tx.QueryRowContext(ctx, qInsertConsentReturning, p.ID, string(c.Channel), b2i(c.Granted), ms(orNow(c.At, now)),
			string(c.Method), c.WordingVersion, c.Detail).Scan(&c.ID); err != nil {
			return 0, false, fmt.Errorf("enroll: record consent: %w", err)
		}
		c.PatientID, c.At = p.ID, fromMS(ms(orNow(c.At, now)))
		consents = append(consents, c)
	}

	carried := false
	if isNew {
		if carried, err = s.carryErasedOptOuts(ctx, tx, &p, now); err != nil {
			return 0, false, err
		}
	}

	e := in.Enrollment
	e.ClinicID, e.PatientID, e.CreatedAt = clinicID, p.ID, now
	var dups []aftercare.Enrollment
	if !isNew {
		if dups, err = activeDuplicates(ctx, tx, p.ID, e); err != nil {
			return 0, false, err
		}
		if len(dups) > 0 && !in.Replace {
			return 0, false, newDuplicateEnrollmentError(dups[0])
		}
	}
	if in.Protocol != nil {
		rec, err := in.Protocol(p)
		if err != nil {
			return 0, false, fmt.Errorf("enroll: protocol: %w", err)
		}
		e.Protocol, e.ProtocolVersion, e.Language = rec.Name, rec.Version, rec.Language
	}
	if err := tx.QueryRowContext(ctx, qInsertEnrollment, clinicID, p.ID, e.Treatment, ms(e.TreatedAt), e.SessionNumber,
		e.SeriesLength, e.ExternalRef, in.IdempotencyKey, in.RequestHash, ms(now), e.Protocol, e.ProtocolVersion,
		e.Language).Scan(&e.ID); err != nil {
		return 0, false, fmt.Errorf("enroll: insert enrollment: %w", err)
	}
	if err := insertLink(ctx, tx, in.Link, e, now); err != nil {
		return 0, false, err
	}
	for _, d := range dups {
		if _, err := tx.ExecContext(ctx, qCancelEnrollment, ms(now), d.ID, clinicID); err != nil {
			return 0, false, fmt.Errorf("enroll: replace enrollment %d: %w", d.ID, err)
		}
		if _, err := tx.ExecContext(ctx, qRevokeEnrollmentLinks, ms(now), d.ID); err != nil {
			return 0, false, fmt.Errorf("enroll: replace enrollment %d: %w", d.ID, err)
		}
		reason := fmt.Sprintf("replaced: the clinic enrolled session %d again (enrollment %d)", e.SessionNumber, e.ID)
		if _, err := endPending(ctx, tx, now, aftercare.StatusCancelled, CauseNone, reason, "enrollment_id = ?", d.ID); err != nil {
			return 0, false, fmt.Errorf("enroll: replace enrollment %d: %w", d.ID, err)
		}
		if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: clinicID, Action: aftercare.AuditCancel,
			PatientID: p.ID, EnrollmentID: d.ID, Detail: fmt.Sprintf("replaced by enrollment %d", e.ID)}); err != nil {
			return 0, false, fmt.Errorf("enroll: %w", err)
		}
	}

	if err := supersede(ctx, tx, p.ID, e, now); err != nil {
		return 0, false, err
	}

	msgs := j.planned
	if msgs == nil || !samePlanInput(in.Patient, p) {
		if msgs, err = in.Plan(p, e); err != nil {
			return 0, false, fmt.Errorf("enroll: plan: %w", err)
		}
	}
	stored, err := s.insertMessages(ctx, tx, e, msgs, now)
	if err != nil {
		return 0, false, err
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: clinicID, Action: aftercare.AuditEnroll,
		PatientID: p.ID, EnrollmentID: e.ID, Detail: fmt.Sprintf("%s session %d of %d, %d messages", e.Treatment,
			e.SessionNumber, e.SeriesLength, len(stored))}); err != nil {
		return 0, false, fmt.Errorf("enroll: %w", err)
	}
	if isNew && !carried {
		// A new patient has no other consents, enrollments or replies:
		// the view is exactly what was just written, and reading it back
		// (six queries) was a sixth of an enrollment's time.
		// TestCreatedViewIsWhatIsStored keeps the two equal.
		p.CreatedAt = fromMS(ms(now))
		e.TreatedAt, e.CreatedAt = fromMS(ms(e.TreatedAt)), fromMS(ms(now))
		sort.SliceStable(consents, func(i, k int) bool { return consents[i].At.Before(consents[k].At) })
		j.view = &EnrollmentView{Enrollment: e, Patient: p, Consents: consents, Messages: stored}
	}
	return e.ID, true, nil
}

// samePlanInput reports whether a plan made for patient a holds for b:
// everything a plan may depend on is equal.
func samePlanInput(a, b aftercare.Patient) bool {
	return a.FirstName == b.FirstName && a.LastName == b.LastName && a.Phone == b.Phone && a.Email == b.Email &&
		a.Timezone == b.Timezone && a.Language == b.Language && a.SMSOptOut == b.SMSOptOut && a.EmailOptOut == b.EmailOptOut &&
		a.PhoneBad == b.PhoneBad && a.EmailBad == b.EmailBad
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// findRepeat looks for an earlier enrollment with the same idempotency key
// or external reference.
func findRepeat(ctx context.Context, tx *sql.Tx, clinicID int64, in NewEnrollment) (int64, bool, error) {
	try := func(q, key, what string) (int64, bool, error) {
		if key == "" {
			return 0, false, nil
		}
		var id int64
		var hash string
		err := tx.QueryRowContext(ctx, q, clinicID, key).Scan(&id, &hash)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("enroll: look up %s: %w", what, err)
		}
		if in.RequestHash != "" && hash != "" && hash != in.RequestHash {
			return 0, false, &aftercare.Error{Code: aftercare.ECONFLICT, Field: what,
				Message: fmt.Sprintf("already used for enrollment %d with different details", id)}
		}
		return id, true, nil
	}
	if id, ok, err := try(qEnrollmentByIdem, in.IdempotencyKey, "Idempotency-Key"); ok || err != nil {
		return id, ok, err
	}
	return try(qEnrollmentByRef, in.Enrollment.ExternalRef, "external_ref")
}

// activeDuplicates returns the patient's active enrollments (not
// cancelled, messages still to send) of e's treatment and session, newest
// first.
func activeDuplicates(ctx context.Context, tx *sql.Tx, patientID int64, e aftercare.Enrollment) ([]aftercare.Enrollment, error) {
	rows, err := tx.QueryContext(ctx, qActiveDuplicates, patientID, e.Treatment, e.SessionNumber, e.ID)
	if err != nil {
		return nil, fmt.Errorf("enroll: look up active enrollments: %w", err)
	}
	defer rows.Close()
	var out []aftercare.Enrollment
	for rows.Next() {
		d, err := scanEnrollment(rows)
		if err != nil {
			return nil, fmt.Errorf("enroll: look up active enrollments: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("enroll: look up active enrollments: %w", err)
	}
	return out, nil
}

// findPatient resolves a patient as the store knows them: by phone, or,
// for a patient without one, by email address. A patient first enrolled
// by email only and now with a phone is found by their email, and the
// phone is added to them.
func findPatient(ctx context.Context, tx *sql.Tx, p aftercare.Patient) (aftercare.Patient, error) {
	if p.Phone != "" {
		existing, err := scanPatient(tx.QueryRowContext(ctx, qPatientByPhone, p.ClinicID, p.Phone))
		if !errors.Is(err, sql.ErrNoRows) || p.Email == "" {
			return existing, err
		}
	}
	if p.Email == "" {
		return aftercare.Patient{}, sql.ErrNoRows
	}
	existing, err := scanPatient(tx.QueryRowContext(ctx, qPatientByEmailOnly, p.ClinicID, p.Email))
	if errors.Is(err, sql.ErrNoRows) && p.Phone == "" {
		// Enrolled by email only this time: the one patient with this
		// address, whatever their phone (two sharing it are not guessed
		// between).
		return onePatientByEmail(ctx, tx, p)
	}
	if err != nil || p.Phone == "" {
		return existing, err
	}
	if _, err := tx.ExecContext(ctx, qSetPatientPhone, p.Phone, existing.ID); err != nil {
		return existing, fmt.Errorf("add phone to patient %d: %w", existing.ID, err)
	}
	existing.Phone = p.Phone
	return existing, nil
}

// onePatientByEmail returns the clinic's one patient with p's email
// address, or sql.ErrNoRows when there is none or more than one.
func onePatientByEmail(ctx context.Context, tx *sql.Tx, p aftercare.Patient) (aftercare.Patient, error) {
	rows, err := tx.QueryContext(ctx, qPatientsByEmail, p.ClinicID, p.Email)
	if err != nil {
		return aftercare.Patient{}, err
	}
	defer rows.Close()
	var found []aftercare.Patient
	for rows.Next() {
		q, err := scanPatient(rows)
		if err != nil {
			return aftercare.Patient{}, err
		}
		found = append(found, q)
	}
	if err := rows.Err(); err != nil {
		return aftercare.Patient{}, err
	}
	if len(found) != 1 {
		return aftercare.Patient{}, sql.ErrNoRows
	}
	return found[0], nil
}

func upsertPatient(ctx context.Context, tx *sql.Tx, p aftercare.Patient, now time.Time) (aftercare.Patient, bool, error) {
	existing, err := findPatient(ctx, tx, p)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if err := tx.QueryRowContext(ctx, qInsertPatient, p.ClinicID, p.FirstName, p.LastName, p.Phone, p.Email, p.Timezone, ms(now), ms(now),
			p.Language).Scan(&p.ID); err != nil {
			return p, false, fmt.Errorf("enroll: insert patient: %w", err)
		}
		p.CreatedAt = now
		return p, true, nil
	case err != nil:
		return p, false, fmt.Errorf("enroll: look up patient: %w", err)
	}
	if _, err := tx.ExecContext(ctx, qUpdatePatient, p.FirstName, p.LastName, p.Email, p.Timezone, ms(now), p.Email,
		p.Language, p.Language, existing.ID); err != nil {
		return p, false, fmt.Errorf("enroll: update patient %d: %w", existing.ID, err)
	}
	emailBad := existing.EmailBad
	if existing.Email != p.Email {
		emailBad = ""
	}
	existing.FirstName, existing.LastName, existing.Email, existing.Timezone, existing.EmailBad = p.FirstName, p.LastName, p.Email, p.Timezone, emailBad
	if p.Language != "" {
		existing.Language = p.Language
	}
	return existing, false, nil
}

// supersede cancels the pending messages of the patient's earlier sessions:
// the new session's plan replaces them, and its "book next session" reminders
// are moot now that the next session happened.
func supersede(ctx context.Context, tx *sql.Tx, patientID int64, e aftercare.Enrollment, now time.Time) error {
	rows, err := tx.QueryContext(ctx, qEarlierEnrollments, patientID, e.ID, e.SessionNumber)
	if err != nil {
		return fmt.Errorf("enroll: find earlier sessions: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("enroll: find earlier sessions: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		reason := fmt.Sprintf("superseded: session %d enrolled (enrollment %d)", e.SessionNumber, e.ID)
		if _, err := endPending(ctx, tx, now, aftercare.StatusCancelled, CauseNone, reason, "enrollment_id = ?", id); err != nil {
			return fmt.Errorf("enroll: supersede enrollment %d: %w", id, err)
		}
	}
	return nil
}

// insertMessages stores planned messages and their "planned" events, with
// the store's prepared insert (parsed once per process, not once per
// enrollment) and the events a group of rows per statement. (A multi-row
// insert of the messages was no faster: it needs a statement journal.) It
// returns the messages as Enrollment reads them back: ordered by send
// time, each with its event.
func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, e aftercare.Enrollment, msgs []aftercare.Message, now time.Time) ([]aftercare.Message, error) {
	stmt := tx.StmtContext(ctx, s.stmts.message)
	evs := make([]eventRow, 0, len(msgs))
	var stored []aftercare.Message
	at := fromMS(ms(now))
	for _, m := range msgs {
		if !m.Channel.Valid() {
			return nil, fmt.Errorf("enroll: message %s has unknown channel %q", m.Step, m.Channel)
		}
		if m.Status != aftercare.StatusScheduled && m.Status != aftercare.StatusSkipped {
			return nil, fmt.Errorf("enroll: message %s planned as %q", m.Step, m.Status)
		}
		next := m.NextAttemptAt
		if next.IsZero() {
			next = m.SendAt
		}
		var id int64
		if err := stmt.QueryRowContext(ctx, e.ID, e.ClinicID, e.PatientID, m.Step, m.Occurrence, string(m.Channel),
			ms(m.SendAt), ms(m.StaleAt), string(m.Status), ms(next), m.Reason, m.Subject, m.Body, m.HTMLBody, ms(now),
			m.Recipient, b2i(m.Urgent)).Scan(&id); err != nil {
			return nil, fmt.Errorf("enroll: insert message %s/%s/%d: %w", m.Step, m.Channel, m.Occurrence, err)
		}
		detail := "planned"
		if m.Status == aftercare.StatusSkipped {
			detail = m.Reason
		}
		evs = append(evs, eventRow{id, ms(now), "", m.Status, detail})
		stored = append(stored, aftercare.Message{ID: id, EnrollmentID: e.ID, ClinicID: e.ClinicID, PatientID: e.PatientID,
			Step: m.Step, Occurrence: m.Occurrence, Channel: m.Channel, SendAt: fromMS(ms(m.SendAt)), StaleAt: fromMS(ms(m.StaleAt)),
			Status: m.Status, NextAttemptAt: fromMS(ms(next)), Reason: m.Reason, Subject: m.Subject, Body: m.Body,
			HTMLBody: m.HTMLBody, UpdatedAt: at, Recipient: m.Recipient, Urgent: m.Urgent})
	}
	ids, err := s.insertEventsReturning(ctx, tx, evs)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	for i := range stored {
		m := &stored[i]
		m.Events = []aftercare.Event{{ID: ids[m.ID], MessageID: m.ID, At: at, To: m.Status, Detail: evs[i].detail}}
	}
	sort.SliceStable(stored, func(i, k int) bool {
		if !stored[i].SendAt.Equal(stored[k].SendAt) {
			return stored[i].SendAt.Before(stored[k].SendAt)
		}
		return stored[i].ID < stored[k].ID
	})
	return stored, nil
}

// endPending moves every scheduled message matching where (a SQL condition
// with args) to status (cancelled or skipped) with reason, writing one event
// per message. It returns how many it moved.
func endPending(ctx context.Context, tx *sql.Tx, now time.Time, to aftercare.Status, cause Cause, reason, where string, args ...any) (int, error) {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(qPendingIDs, where), args...)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		ok, err := endOne(ctx, tx, now, id, aftercare.StatusScheduled, to, cause, reason)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// Enrollment returns one enrollment of a clinic with its patient, consent
// evidence, messages (with events) and the patient's replies. Another
// clinic's enrollment is ENOTFOUND, exactly like a missing one.
func (s *Store) Enrollment(ctx context.Context, clinicID, id int64) (EnrollmentView, error) {
	var v EnrollmentView
	e, err := scanEnrollment(s.readRow(ctx, qSelectEnrollment, id, clinicID))
	if errors.Is(err, sql.ErrNoRows) {
		return v, notFound("enrollment", id)
	}
	if err != nil {
		return v, fmt.Errorf("get enrollment %d: %w", id, err)
	}
	v.Enrollment = e
	if v.Patient, err = s.Patient(ctx, clinicID, e.PatientID); err != nil {
		return v, err
	}
	if v.Consents, err = s.Consents(ctx, e.PatientID); err != nil {
		return v, err
	}
	if v.Messages, err = s.messagesWithEvents(ctx, id); err != nil {
		return v, err
	}
	if v.Replies, err = s.Replies(ctx, e.PatientID); err != nil {
		return v, err
	}
	return v, nil
}

// Enrollments lists a patient's enrollments, newest first.
func (s *Store) Enrollments(ctx context.Context, clinicID, patientID int64) ([]aftercare.Enrollment, error) {
	rows, err := s.read.QueryContext(ctx, qEnrollmentsByPatient, patientID, clinicID)
	if err != nil {
		return nil, fmt.Errorf("list enrollments of patient %d: %w", patientID, err)
	}
	defer rows.Close()
	var out []aftercare.Enrollment
	for rows.Next() {
		e, err := scanEnrollment(rows)
		if err != nil {
			return nil, fmt.Errorf("list enrollments of patient %d: %w", patientID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) messagesWithEvents(ctx context.Context, enrollmentID int64) ([]aftercare.Message, error) {
	rows, err := s.readRows(ctx, qMessagesByEnrollment, enrollmentID)
	if err != nil {
		return nil, fmt.Errorf("list messages of enrollment %d: %w", enrollmentID, err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages of enrollment %d: %w", enrollmentID, err)
	}
	byID := make(map[int64]int, len(msgs))
	for i, m := range msgs {
		byID[m.ID] = i
	}
	erows, err := s.readRows(ctx, qEventsByEnrollment, enrollmentID)
	if err != nil {
		return nil, fmt.Errorf("list events of enrollment %d: %w", enrollmentID, err)
	}
	defer erows.Close()
	for erows.Next() {
		ev, err := scanEvent(erows)
		if err != nil {
			return nil, fmt.Errorf("list events of enrollment %d: %w", enrollmentID, err)
		}
		if i, ok := byID[ev.MessageID]; ok {
			msgs[i].Events = append(msgs[i].Events, ev)
		}
	}
	return msgs, erows.Err()
}

// CancelEnrollment cancels an enrollment and all its pending messages.
func (s *Store) CancelEnrollment(ctx context.Context, clinicID, id int64, reason string) (int, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("cancel enrollment %d: %w", id, err)
	}
	defer tx.Rollback()
	var patientID int64
	err = tx.QueryRowContext(ctx, qEnrollmentPatient, id, clinicID).Scan(&patientID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("enrollment", id)
	}
	if err != nil {
		return 0, fmt.Errorf("cancel enrollment %d: %w", id, err)
	}
	now := s.now().UTC()
	if _, err := tx.ExecContext(ctx, qCancelEnrollment, ms(now), id, clinicID); err != nil {
		return 0, fmt.Errorf("cancel enrollment %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, qRevokeEnrollmentLinks, ms(now), id); err != nil {
		return 0, fmt.Errorf("cancel enrollment %d: revoke link: %w", id, err)
	}
	if reason == "" {
		reason = "enrollment cancelled by the clinic"
	}
	n, err := endPending(ctx, tx, now, aftercare.StatusCancelled, CauseNone, reason, "enrollment_id = ?", id)
	if err != nil {
		return 0, fmt.Errorf("cancel enrollment %d: %w", id, err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: clinicID, Action: aftercare.AuditCancel,
		PatientID: patientID, EnrollmentID: id, Detail: fmt.Sprintf("%s; %d messages cancelled", reason, n)}); err != nil {
		return 0, fmt.Errorf("cancel enrollment %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("cancel enrollment %d: %w", id, err)
	}
	return n, nil
}

func scanEnrollment(r scanner) (aftercare.Enrollment, error) {
	var e aftercare.Enrollment
	var treated, created int64
	var cancelled sql.NullInt64
	err := r.Scan(&e.ID, &e.ClinicID, &e.PatientID, &e.Treatment, &treated, &e.SessionNumber, &e.SeriesLength,
		&e.ExternalRef, &cancelled, &created, &e.Protocol, &e.ProtocolVersion, &e.Language)
	e.TreatedAt, e.CreatedAt, e.Cancelled = fromMS(treated), fromMS(created), cancelled.Valid
	return e, err
}

func scanMessages(rows *sql.Rows) ([]aftercare.Message, error) {
	defer rows.Close()
	var out []aftercare.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanMessage(r scanner) (aftercare.Message, error) {
	var m aftercare.Message
	var channel, status string
	var sendAt, staleAt, next, sent, updated int64
	var amb, urgent, answer int
	err := r.Scan(&m.ID, &m.EnrollmentID, &m.ClinicID, &m.PatientID, &m.Step, &m.Occurrence, &channel, &sendAt, &staleAt,
		&status, &m.Attempts, &next, &amb, &m.ProviderID, &m.ErrorCode, &m.LastError, &m.Reason, &m.Subject, &m.Body,
		&m.HTMLBody, &sent, &updated, &m.Recipient, &urgent, &answer, &m.ConcernID, &m.SentBy)
	m.Urgent, m.Answer = urgent != 0, answer != 0
	m.Channel, m.Status = aftercare.Channel(channel), aftercare.Status(status)
	m.SendAt, m.StaleAt, m.NextAttemptAt, m.SentAt, m.UpdatedAt = fromMS(sendAt), fromMS(staleAt), fromMS(next), fromMS(sent), fromMS(updated)
	m.Ambiguous = amb != 0
	return m, err
}

func scanEvent(r scanner) (aftercare.Event, error) {
	var ev aftercare.Event
	var at int64
	var from, to string
	err := r.Scan(&ev.ID, &ev.MessageID, &at, &from, &to, &ev.Detail)
	ev.At, ev.From, ev.To = fromMS(at), aftercare.Status(from), aftercare.Status(to)
	return ev, err
}
