package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// Privacy: the patient's export, erasure and the retention purge (issue 12).

// PatientExport is everything aftercare holds about one patient: what a
// clinic hands over to answer an access request.
type PatientExport struct {
	ExportedAt  time.Time
	Patient     aftercare.Patient
	ErasedAt    time.Time
	Consents    []aftercare.Consent
	Enrollments []ExportedEnrollment
	Replies     []aftercare.Reply
	Concerns    []aftercare.Concern
	Audit       []aftercare.AuditEntry
	Notes       []string
}

// ExportedEnrollment is an enrollment with every message (bodies and
// events) planned or sent for it, alerts to staff about the patient
// included.
type ExportedEnrollment struct {
	aftercare.Enrollment
	BodiesPurgedAt time.Time
	Messages       []aftercare.Message
}

// ExportPatient assembles a clinic's patient's record and writes the
// export's audit row (with the actor the context carries) before
// returning it. Another clinic's patient is ENOTFOUND.
func (s *Store) ExportPatient(ctx context.Context, clinicID, patientID int64) (PatientExport, error) {
	x := PatientExport{ExportedAt: s.now().UTC()}
	var err error
	if x.Patient, err = s.Patient(ctx, clinicID, patientID); err != nil {
		return x, err
	}
	var erased sql.NullInt64
	if err := s.read.QueryRowContext(ctx, qErasedAt, patientID).Scan(&erased); err != nil {
		return x, fmt.Errorf("export patient %d: %w", patientID, err)
	}
	if erased.Valid {
		x.ErasedAt = fromMS(erased.Int64)
		x.Notes = append(x.Notes, "this patient was erased: identity, message bodies and reply texts were removed")
	}
	if x.Consents, err = s.Consents(ctx, patientID); err != nil {
		return x, err
	}
	es, err := s.Enrollments(ctx, clinicID, patientID)
	if err != nil {
		return x, err
	}
	x.Enrollments = []ExportedEnrollment{}
	for _, e := range es {
		xe := ExportedEnrollment{Enrollment: e}
		var purged sql.NullInt64
		if err := s.read.QueryRowContext(ctx, qBodiesPurgedAt, e.ID).Scan(&purged); err != nil {
			return x, fmt.Errorf("export patient %d: %w", patientID, err)
		}
		if purged.Valid {
			xe.BodiesPurgedAt = fromMS(purged.Int64)
		}
		if xe.Messages, err = s.messagesWithEvents(ctx, e.ID); err != nil {
			return x, err
		}
		x.Enrollments = append(x.Enrollments, xe)
	}
	if x.Replies, err = s.Replies(ctx, patientID); err != nil {
		return x, err
	}
	if x.Concerns, err = s.concerns(ctx, `patient_id = ? AND clinic_id = ? ORDER BY id`, patientID, clinicID); err != nil {
		return x, err
	}
	if x.Audit, err = s.AuditLog(ctx, AuditFilter{ClinicID: clinicID, PatientID: patientID, Limit: 100000}); err != nil {
		return x, err
	}
	for _, sl := range []*[]aftercare.Consent{&x.Consents} {
		if *sl == nil {
			*sl = []aftercare.Consent{}
		}
	}
	if x.Replies == nil {
		x.Replies = []aftercare.Reply{}
	}
	if x.Concerns == nil {
		x.Concerns = []aftercare.Concern{}
	}
	if x.Audit == nil {
		x.Audit = []aftercare.AuditEntry{}
	}
	if err := s.RecordAudit(ctx, aftercare.AuditEntry{ClinicID: clinicID, Action: aftercare.AuditExport, PatientID: patientID,
		Detail: fmt.Sprintf("%d enrollments, %d replies", len(x.Enrollments), len(x.Replies))}); err != nil {
		return x, err
	}
	return x, nil
}

// Erasure is what ErasePatient did.
type Erasure struct {
	PatientID          int64
	CancelledMessages  int
	ScrubbedMessages   int
	ScrubbedReplies    int
	KeptOptOuts        int
	CheckpointComplete bool
}

const erasedName = "[erased]"

// ErasePatient erases a clinic's patient (another clinic's is ENOTFOUND),
// in one transaction with its audit row: pending messages are cancelled;
// names, phone, email, message subjects, bodies and recipients, reply
// texts, concern signs, consent details, external references and every
// free text that could quote the patient are removed; message rows keep
// their status and times (the clinic's delivery counts). An opt-out is
// kept as an HMAC of the clinic, channel and address (erased_optouts), so
// enrolling the same address again keeps it opted out.
//
// The writer runs with secure_delete on for the erasure, so freed space
// is zeroed, and the WAL is checkpointed and truncated afterwards, so the
// old pages leave the -wal file (CheckpointComplete says whether a reader
// held it back; the next erasure or checkpoint finishes it).
func (s *Store) ErasePatient(ctx context.Context, clinicID, patientID int64) (Erasure, error) {
	out := Erasure{PatientID: patientID}
	key, err := s.optOutKey(ctx)
	if err != nil {
		return out, err
	}
	p, err := s.Patient(ctx, clinicID, patientID)
	if err != nil {
		return out, err
	}
	tx, done, err := s.beginErase(ctx)
	if err != nil {
		return out, fmt.Errorf("erase patient %d: %w", patientID, err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	fail := func(err error) (Erasure, error) { return out, fmt.Errorf("erase patient %d: %w", patientID, err) }
	// Read again inside the transaction: an enrollment may have changed it.
	if p, err = scanPatient(tx.QueryRowContext(ctx, qSelectPatient, patientID, clinicID)); err != nil {
		return fail(err)
	}
	if out.CancelledMessages, err = endPending(ctx, tx, now, aftercare.StatusCancelled, CauseNone, "patient erased", "patient_id = ?", patientID); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, qCancelPatientEnrollments, ms(now), patientID); err != nil {
		return fail(err)
	}
	// Opt-outs outlive the patient, without identity.
	var optedAt int64
	_ = tx.QueryRowContext(ctx, qLastOptOut, patientID).Scan(&optedAt)
	if optedAt == 0 {
		optedAt = ms(now)
	}
	for _, o := range []struct {
		out  bool
		ch   aftercare.Channel
		addr string
	}{{p.SMSOptOut, aftercare.SMS, p.Phone}, {p.EmailOptOut, aftercare.Email, p.Email}} {
		if o.addr == "" {
			continue
		}
		if !o.out {
			// Opted back in since an earlier erasure of this address: that
			// opt-out no longer holds.
			if _, err := tx.ExecContext(ctx, qDeleteErasedOptOut, optOutHash(key, clinicID, o.ch, o.addr)); err != nil {
				return fail(err)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, qInsertErasedOptOut,
			optOutHash(key, clinicID, o.ch, o.addr), clinicID, string(o.ch), optedAt, ms(now)); err != nil {
			return fail(err)
		}
		out.KeptOptOuts++
	}
	// Free texts that may quote an address or a name: provider errors,
	// reasons, event details. Replaced wherever the patient's own strings
	// occur (scrub), and the provider's error text dropped.
	scrub := scrubExpr(p)
	res, err := tx.ExecContext(ctx, qEraseMessages(scrub("reason")), patientID, patientID)
	if err != nil {
		return fail(err)
	}
	n, _ := res.RowsAffected()
	out.ScrubbedMessages = int(n)
	if _, err := tx.ExecContext(ctx, qEraseEvents(scrub("detail")), patientID, patientID); err != nil {
		return fail(err)
	}
	res, err = tx.ExecContext(ctx, qEraseReplies, patientID)
	if err != nil {
		return fail(err)
	}
	n, _ = res.RowsAffected()
	out.ScrubbedReplies = int(n)
	if _, err := tx.ExecContext(ctx, qEraseConcerns(scrub("alert_failure")), patientID); err != nil {
		return fail(err)
	}
	// The page links, booking clicks and concern photos go entirely.
	for _, q := range []string{qDeletePatientLinks, qDeletePatientClicks, qDeletePatientPhotos} {
		if _, err := tx.ExecContext(ctx, q, patientID); err != nil {
			return fail(err)
		}
	}
	if _, err := tx.ExecContext(ctx, qEraseConsents, patientID); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, qEraseEnrollments, patientID); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, qErasePatient, erasedName, ms(now), ms(now), patientID); err != nil {
		return fail(err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: clinicID, Action: aftercare.AuditErase, PatientID: patientID,
		Detail: fmt.Sprintf("%d pending messages cancelled, %d messages and %d replies scrubbed, %d opt-outs kept as hashes",
			out.CancelledMessages, out.ScrubbedMessages, out.ScrubbedReplies, out.KeptOptOuts)}); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	out.CheckpointComplete = done()
	return out, nil
}

// beginErase starts an erasure's transaction: on SQLite with secure_delete
// fully on and a WAL checkpoint after it (done says whether it completed);
// elsewhere an exclusive write transaction (PostgreSQL reclaims the old
// row versions at its next vacuum).
func (s *Store) beginErase(ctx context.Context) (*sql.Tx, func() bool, error) {
	if d, ok := s.d.(interface {
		BeginErase(context.Context) (*sql.Tx, func() bool, error)
	}); ok {
		return d.BeginErase(ctx)
	}
	tx, err := s.d.BeginWrite(ctx, true)
	return tx, func() bool { return false }, err
}

// scrubExpr returns a function building the SQL expression that replaces
// the patient's name, phone and email in a column (short names, which
// could match inside other words, are left: they are only first names).
func scrubExpr(p aftercare.Patient) func(col string) string {
	var terms []string
	for _, t := range []string{p.Phone, strings.TrimPrefix(p.Phone, "+"), p.Email, strings.TrimSpace(p.FirstName + " " + p.LastName), p.LastName, p.FirstName} {
		if len(t) >= 3 {
			terms = append(terms, t)
		}
	}
	return func(col string) string {
		expr := col
		for _, t := range terms {
			expr = "replace(" + expr + ", '" + strings.ReplaceAll(t, "'", "''") + "', '" + erasedName + "')"
		}
		return expr
	}
}

// optOutHash is the keyed hash an erased patient's opt-out is kept as.
func optOutHash(key []byte, clinicID int64, ch aftercare.Channel, addr string) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%d\x00%s\x00%s", clinicID, ch, strings.ToLower(strings.TrimSpace(addr)))
	return hex.EncodeToString(m.Sum(nil))
}

// optOutKey is the HMAC key of erased opt-outs (settings
// secret:erased-optout, generated once).
func (s *Store) optOutKey(ctx context.Context) ([]byte, error) {
	s.optKeyMu.Lock()
	defer s.optKeyMu.Unlock()
	if s.optKey != nil {
		return s.optKey, nil
	}
	k, err := s.Secret(ctx, "erased-optout")
	if err != nil {
		return nil, err
	}
	s.optKey = k
	return k, nil
}

// carryErasedOptOuts opts a newly stored patient out of the channels an
// erased patient with the same address had opted out of, with a consent
// row saying why.
func (s *Store) carryErasedOptOuts(ctx context.Context, tx *sql.Tx, p *aftercare.Patient, now time.Time) (bool, error) {
	if s.optKey == nil {
		return false, nil // loaded by CreateEnrollment before its transaction
	}
	carried := false
	for _, c := range []struct {
		ch   aftercare.Channel
		addr string
		out  *bool
	}{{aftercare.SMS, p.Phone, &p.SMSOptOut}, {aftercare.Email, p.Email, &p.EmailOptOut}} {
		if c.addr == "" || *c.out {
			continue
		}
		var at int64
		err := tx.QueryRowContext(ctx, qErasedOptOut, optOutHash(s.optKey, p.ClinicID, c.ch, c.addr)).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("enroll: look up erased opt-outs: %w", err)
		}
		q := qSetSMSOptOut
		if c.ch == aftercare.Email {
			q = qSetEmailOptOut
		}
		if _, err := tx.ExecContext(ctx, q, 1, ms(now), p.ID); err != nil {
			return false, fmt.Errorf("enroll: keep erased opt-out: %w", err)
		}
		if _, err := tx.ExecContext(ctx, qInsertConsent, p.ID, string(c.ch), 0, ms(now), string(aftercare.ConsentErasedOptOut),
			aftercare.ConsentWordingVersion, "this address opted out on "+fromMS(at).Format("2006-01-02")+
				" before an erasure; it needs new consent (START) to be contacted"); err != nil {
			return false, fmt.Errorf("enroll: keep erased opt-out: %w", err)
		}
		*c.out, carried = true, true
	}
	return carried, nil
}

// PurgeBodies removes message subjects and bodies of enrollments that
// ended before cutoff (cancelled, or every message finished and the last
// planned before cutoff), and the reply texts of patients whose every
// enrollment is purged and that arrived before cutoff. Message rows keep
// their status, times and events: the delivery log's metadata.
func (s *Store) PurgeBodies(ctx context.Context, cutoff time.Time) (enrollments, replies int, err error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return 0, 0, fmt.Errorf("purge bodies: %w", err)
	}
	defer tx.Rollback()
	now, c := ms(s.now().UTC()), ms(cutoff)
	rows, err := tx.QueryContext(ctx, qPurgeableEnrollments, c)
	if err != nil {
		return 0, 0, fmt.Errorf("purge bodies: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("purge bodies: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, qPurgeMessageBodies, id); err != nil {
			return 0, 0, fmt.Errorf("purge bodies of enrollment %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, qMarkBodiesPurged, now, id); err != nil {
			return 0, 0, fmt.Errorf("purge bodies of enrollment %d: %w", id, err)
		}
	}
	// Concern photos go with the reply texts.
	if _, err := tx.ExecContext(ctx, qPurgeReplyPhotos, c); err != nil {
		return 0, 0, fmt.Errorf("purge concern photos: %w", err)
	}
	res, err := tx.ExecContext(ctx, qPurgeReplies, c)
	if err != nil {
		return 0, 0, fmt.Errorf("purge reply texts: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, qPurgeConcernSigns, c); err != nil {
		return 0, 0, fmt.Errorf("purge concern signs: %w", err)
	}
	if len(ids) > 0 || n > 0 {
		if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{Actor: aftercare.Actor{Kind: aftercare.ActorDaemon}, Action: aftercare.AuditRetention,
			Detail: fmt.Sprintf("message bodies of %d enrollments and %d reply texts older than %s", len(ids), n, cutoff.UTC().Format("2006-01-02"))}); err != nil {
			return 0, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("purge bodies: %w", err)
	}
	return len(ids), int(n), nil
}

// PatientClinicID returns the clinic of a patient (for the operator's CLI,
// which names a patient by id alone).
func (s *Store) PatientClinicID(ctx context.Context, patientID int64) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, qPatientClinic, patientID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("patient", patientID)
	}
	if err != nil {
		return 0, fmt.Errorf("find patient %d: %w", patientID, err)
	}
	return id, nil
}
