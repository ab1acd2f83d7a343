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

// Patient returns one patient of a clinic.
func (s *Store) Patient(ctx context.Context, clinicID, id int64) (aftercare.Patient, error) {
	p, err := scanPatient(s.readRow(ctx, qSelectPatient, id, clinicID))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("patient", id)
	}
	if err != nil {
		return p, fmt.Errorf("get patient %d: %w", id, err)
	}
	return p, nil
}

// PatientsByPhone returns every patient with this E.164 number, across
// clinics (an inbound SMS names only the number).
func (s *Store) PatientsByPhone(ctx context.Context, phone string) ([]aftercare.Patient, error) {
	rows, err := s.read.QueryContext(ctx, qPatientsByPhone, phone)
	if err != nil {
		return nil, fmt.Errorf("find patients by phone: %w", err)
	}
	defer rows.Close()
	var out []aftercare.Patient
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, fmt.Errorf("find patients by phone: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SearchPatients finds a clinic's patients by name or phone fragment.
func (s *Store) SearchPatients(ctx context.Context, clinicID int64, q string, limit int) ([]aftercare.Patient, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q = strings.TrimSpace(q)
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q) + "%"
	rows, err := s.read.QueryContext(ctx, qSearchPatients, clinicID, q, like, like, limit)
	if err != nil {
		return nil, fmt.Errorf("search patients: %w", err)
	}
	defer rows.Close()
	var out []aftercare.Patient
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, fmt.Errorf("search patients: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Consents returns a patient's consent evidence in time order.
func (s *Store) Consents(ctx context.Context, patientID int64) ([]aftercare.Consent, error) {
	rows, err := s.readRows(ctx, qSelectConsents, patientID)
	if err != nil {
		return nil, fmt.Errorf("list consents of patient %d: %w", patientID, err)
	}
	out, err := scanConsents(rows)
	if err != nil {
		return nil, fmt.Errorf("list consents of patient %d: %w", patientID, err)
	}
	return out, nil
}

// scanConsents reads qSelectConsents' rows and closes them.
func scanConsents(rows *sql.Rows) ([]aftercare.Consent, error) {
	defer rows.Close()
	var out []aftercare.Consent
	for rows.Next() {
		var c aftercare.Consent
		var ch, method string
		var granted int
		var at int64
		if err := rows.Scan(&c.ID, &c.PatientID, &ch, &granted, &at, &method, &c.WordingVersion, &c.Detail); err != nil {
			return nil, err
		}
		c.Channel, c.Granted, c.At, c.Method = aftercare.Channel(ch), granted != 0, fromMS(at), aftercare.ConsentMethod(method)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Replies returns a patient's inbound messages in time order.
func (s *Store) Replies(ctx context.Context, patientID int64) ([]aftercare.Reply, error) {
	rows, err := s.readRows(ctx, qRepliesByPatient, patientID)
	if err != nil {
		return nil, fmt.Errorf("list replies of patient %d: %w", patientID, err)
	}
	replies, err := scanReplies(rows)
	if err != nil {
		return nil, fmt.Errorf("list replies of patient %d: %w", patientID, err)
	}
	return replies, nil
}

// scanReplies reads reply rows (id, clinic_id, patient_id, provider_id,
// body, kind, at) and closes them.
func scanReplies(rows *sql.Rows) ([]aftercare.Reply, error) {
	defer rows.Close()
	var out []aftercare.Reply
	for rows.Next() {
		var r aftercare.Reply
		var at int64
		if err := rows.Scan(&r.ID, &r.ClinicID, &r.PatientID, &r.ProviderID, &r.Body, &r.Kind, &at); err != nil {
			return nil, err
		}
		r.At = fromMS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetOptOut records a patient opting out of (optOut true) or back into a
// channel, with the evidence. Opting out cancels the patient's pending
// messages on that channel; opting back in only affects future steps
// (nothing already skipped is resent). It returns how many messages it
// cancelled.
func (s *Store) SetOptOut(ctx context.Context, patientID int64, ch aftercare.Channel, optOut bool, method aftercare.ConsentMethod, detail string) (int, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("set %s opt-out of patient %d: %w", ch, patientID, err)
	}
	defer tx.Rollback()
	n, err := setOptOut(ctx, tx, s.now().UTC(), patientID, ch, optOut, method, detail)
	if err != nil {
		return 0, fmt.Errorf("set %s opt-out of patient %d: %w", ch, patientID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("set %s opt-out of patient %d: %w", ch, patientID, err)
	}
	return n, nil
}

func setOptOut(ctx context.Context, tx *sql.Tx, now time.Time, patientID int64, ch aftercare.Channel, optOut bool, method aftercare.ConsentMethod, detail string) (int, error) {
	t := now
	q := qSetSMSOptOut
	if ch == aftercare.Email {
		q = qSetEmailOptOut
	}
	if _, err := tx.ExecContext(ctx, q, b2i(optOut), ms(t), patientID); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, qInsertConsent, patientID, string(ch), b2i(!optOut), ms(t), string(method),
		aftercare.ConsentWordingVersion, detail); err != nil {
		return 0, err
	}
	action := aftercare.AuditOptIn
	if optOut {
		action = aftercare.AuditOptOut
	}
	if err := auditPatient(ctx, tx, t, action, patientID, 0, fmt.Sprintf("%s (%s)", ch, method)); err != nil {
		return 0, err
	}
	if !optOut {
		return 0, nil
	}
	reason := fmt.Sprintf("patient opted out of %s (%s)", ch, method)
	// Answers to texts the patient sent (the opt-out confirmation, an
	// answer to a red flag) still go: they wrote to us.
	return endPending(ctx, tx, t, aftercare.StatusCancelled, CauseOptOut, reason, "patient_id = ? AND channel = ? AND answer = 0", patientID, string(ch))
}

// MarkAddressBad flags a patient's phone (SMS) or email as unable to
// receive, with the reason, and skips their pending messages on that
// channel. It returns the skipped messages.
func (s *Store) MarkAddressBad(ctx context.Context, patientID int64, ch aftercare.Channel, reason string) ([]aftercare.Message, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("flag %s of patient %d: %w", ch, patientID, err)
	}
	defer tx.Rollback()
	msgs, err := markAddressBad(ctx, tx, s.now().UTC(), patientID, ch, reason)
	if err != nil {
		return nil, fmt.Errorf("flag %s of patient %d: %w", ch, patientID, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("flag %s of patient %d: %w", ch, patientID, err)
	}
	return msgs, nil
}

func markAddressBad(ctx context.Context, tx *sql.Tx, now time.Time, patientID int64, ch aftercare.Channel, reason string) ([]aftercare.Message, error) {
	t := now
	q := qSetPhoneBad
	what := "phone number"
	if ch == aftercare.Email {
		q, what = qSetEmailBad, "email address"
	}
	if _, err := tx.ExecContext(ctx, q, reason, ms(t), patientID); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, qScheduledOnChannel, patientID, string(ch))
	if err != nil {
		return nil, err
	}
	pending, err := scanMessages(rows)
	if err != nil {
		return nil, err
	}
	if _, err := endPending(ctx, tx, t, aftercare.StatusSkipped, CauseNone, fmt.Sprintf("%s cannot receive: %s", what, reason),
		"patient_id = ? AND channel = ?", patientID, string(ch)); err != nil {
		return nil, err
	}
	return pending, nil
}

func scanPatient(r scanner) (aftercare.Patient, error) {
	var p aftercare.Patient
	var smsOut, emailOut int
	var created int64
	err := r.Scan(&p.ID, &p.ClinicID, &p.FirstName, &p.LastName, &p.Phone, &p.Email, &p.Timezone, &smsOut, &emailOut,
		&p.PhoneBad, &p.EmailBad, &created, &p.Language)
	p.SMSOptOut, p.EmailOptOut, p.CreatedAt = smsOut != 0, emailOut != 0, fromMS(created)
	return p, err
}
