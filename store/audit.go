package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// The audit trail is append-only: rows are inserted by appendAudit (inside
// the transaction of the change they record) or RecordAudit (right after a
// read), and removed only by PurgeAudit past the retention period.

// execer is what appendAudit needs: a transaction or the writer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// appendAudit writes one audit row with the actor the context carries
// (aftercare.WithActor), inside the caller's transaction. Its At defaults
// to now.
func (s *Store) appendAudit(ctx context.Context, ex execer, e aftercare.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	if e.Actor == (aftercare.Actor{}) {
		e.Actor = aftercare.ActorFrom(ctx)
	}
	_, err := ex.ExecContext(ctx, qInsertAudit, nullID(e.ClinicID), ms(e.At), string(e.Actor.Kind), nullID(e.Actor.ID),
		e.Actor.Label, e.Actor.IP, string(e.Action), nullID(e.PatientID), nullID(e.EnrollmentID), e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// RecordAudit appends one audit row on its own (reads, sign-ins); the
// actor defaults to the one the context carries.
func (s *Store) RecordAudit(ctx context.Context, e aftercare.AuditEntry) error {
	return s.appendAudit(ctx, s.write, e)
}

// AuditFilter selects audit rows; zero fields match everything. ClinicID
// is required by callers that serve a clinic (0 means every clinic, for
// the operator's CLI only).
type AuditFilter struct {
	ClinicID  int64
	PatientID int64
	ActorKind aftercare.ActorKind
	ActorID   int64
	Action    aftercare.AuditAction
	Since     time.Time
	Until     time.Time
	Limit     int // default 500
	BeforeID  int64
}

// AuditLog returns audit rows matching f, newest first.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]aftercare.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.ClinicID != 0 {
		add("clinic_id = ?", f.ClinicID)
	}
	if f.PatientID != 0 {
		add("patient_id = ?", f.PatientID)
	}
	if f.ActorKind != "" {
		add("actor_kind = ?", string(f.ActorKind))
	}
	if f.ActorID != 0 {
		add("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		add("action = ?", string(f.Action))
	}
	if !f.Since.IsZero() {
		add("at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", ms(f.Until))
	}
	if f.BeforeID != 0 {
		add("id < ?", f.BeforeID)
	}
	if f.Limit <= 0 {
		f.Limit = 500
	}
	q := qAuditLog("")
	if len(where) > 0 {
		q = qAuditLog(strings.Join(where, " AND "))
	}
	args = append(args, f.Limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []aftercare.AuditEntry
	for rows.Next() {
		var e aftercare.AuditEntry
		var at int64
		var kind, action string
		if err := rows.Scan(&e.ID, &e.ClinicID, &at, &kind, &e.Actor.ID, &e.Actor.Label, &e.Actor.IP, &action,
			&e.PatientID, &e.EnrollmentID, &e.Detail); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.At, e.Actor.Kind, e.Action = fromMS(at), aftercare.ActorKind(kind), aftercare.AuditAction(action)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// PurgeAudit deletes audit rows older than before (the retention period,
// default six years: HIPAA's documentation period). It is the only delete
// of audit rows.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, qPurgeAudit, ms(before))
	if err != nil {
		return 0, fmt.Errorf("purge audit log: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// nullID stores 0 as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// auditPatient writes an audit row about a patient inside tx, its clinic
// read from the patient's row, with the actor the context carries.
func auditPatient(ctx context.Context, ex execer, at time.Time, action aftercare.AuditAction, patientID, enrollmentID int64, detail string) error {
	a := aftercare.ActorFrom(ctx)
	_, err := ex.ExecContext(ctx, qInsertPatientAudit,
		ms(at), string(a.Kind), nullID(a.ID), a.Label, a.IP, string(action), nullID(enrollmentID), detail, patientID)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// auditMessage writes an audit row about a message's patient and
// enrollment inside tx.
func auditMessage(ctx context.Context, ex execer, at time.Time, action aftercare.AuditAction, messageID int64, detail string) error {
	a := aftercare.ActorFrom(ctx)
	_, err := ex.ExecContext(ctx, qInsertMessageAudit,
		ms(at), string(a.Kind), nullID(a.ID), a.Label, a.IP, string(action), detail, messageID)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
