package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
)

// Patient links (issue 14): every enrollment gets a link to the patient's
// aftercare page, created in the enrollment's transaction. The store keeps
// only a keyed hash of the link's token (the caller hashes: the key never
// reaches the store), so a copy of the database cannot open a page.

// NewLink is the link to create with an enrollment.
type NewLink struct {
	// TokenHash is the keyed hash of the token (hex).
	TokenHash string
	ExpiresAt time.Time
}

// PatientLink is a stored link.
type PatientLink struct {
	ID           int64
	EnrollmentID int64
	ClinicID     int64
	PatientID    int64
	ExpiresAt    time.Time
	// RevokedAt is when staff revoked it, the enrollment was cancelled or
	// the patient erased (zero while none of these happened).
	RevokedAt time.Time
	CreatedAt time.Time
}

// LinkState says whether a link opens its page.
type LinkState string

// Link states.
const (
	LinkActive  LinkState = "active"
	LinkExpired LinkState = "expired"
	LinkRevoked LinkState = "revoked"
)

// State returns the link's state at now.
func (l PatientLink) State(now time.Time) LinkState {
	switch {
	case !l.RevokedAt.IsZero():
		return LinkRevoked
	case !now.Before(l.ExpiresAt):
		return LinkExpired
	}
	return LinkActive
}

func scanLink(r scanner) (PatientLink, error) {
	var l PatientLink
	var exp, rev, created int64
	err := r.Scan(&l.ID, &l.EnrollmentID, &l.ClinicID, &l.PatientID, &exp, &rev, &created)
	l.ExpiresAt, l.RevokedAt, l.CreatedAt = fromMS(exp), optMS(rev), fromMS(created)
	return l, err
}

// insertLink stores an enrollment's link inside its transaction.
func insertLink(ctx context.Context, tx *sql.Tx, l *NewLink, e aftercare.Enrollment, now time.Time) error {
	if l == nil || l.TokenHash == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, qInsertLink, l.TokenHash, e.ID, e.ClinicID, e.PatientID, ms(l.ExpiresAt), ms(now)); err != nil {
		return fmt.Errorf("enroll: insert patient link: %w", err)
	}
	return nil
}

// LinkByHash returns the link whose token hashes to tokenHash, whatever
// its state (the caller tells expired and revoked apart: 410, not 404).
// An unknown hash is an ENOTFOUND error.
func (s *Store) LinkByHash(ctx context.Context, tokenHash string) (PatientLink, error) {
	l, err := scanLink(s.read.QueryRowContext(ctx, qLinkByHash, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return l, aftercare.Errorf(aftercare.ENOTFOUND, "link not found")
	}
	if err != nil {
		return l, fmt.Errorf("look up patient link: %w", err)
	}
	return l, nil
}

// EnrollmentLink returns an enrollment's newest link; false when it has
// none (enrolled before links, or without a key).
func (s *Store) EnrollmentLink(ctx context.Context, clinicID, enrollmentID int64) (PatientLink, bool, error) {
	l, err := scanLink(s.read.QueryRowContext(ctx, qEnrollmentLink, enrollmentID, clinicID))
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, fmt.Errorf("enrollment %d link: %w", enrollmentID, err)
	}
	return l, true, nil
}

// RevokeLink revokes an enrollment's links (audited with the context's
// actor) and reports whether one was active.
func (s *Store) RevokeLink(ctx context.Context, clinicID, enrollmentID int64) (bool, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return false, fmt.Errorf("revoke link: %w", err)
	}
	defer tx.Rollback()
	var patientID int64
	err = tx.QueryRowContext(ctx, qEnrollmentPatient, enrollmentID, clinicID).Scan(&patientID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, notFound("enrollment", enrollmentID)
	}
	if err != nil {
		return false, fmt.Errorf("revoke link: %w", err)
	}
	now := s.now().UTC()
	res, err := tx.ExecContext(ctx, qRevokeLinks, ms(now), enrollmentID, clinicID)
	if err != nil {
		return false, fmt.Errorf("revoke link: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return false, nil
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: clinicID, Action: aftercare.AuditLinkRevoked,
		PatientID: patientID, EnrollmentID: enrollmentID, Detail: "patient page link revoked"}); err != nil {
		return false, fmt.Errorf("revoke link: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("revoke link: %w", err)
	}
	return true, nil
}

// RecordBookingClick records a click on an enrollment's booking redirect.
func (s *Store) RecordBookingClick(ctx context.Context, clinicID, enrollmentID int64, at time.Time) error {
	if _, err := s.write.ExecContext(ctx, qInsertBookingClick, clinicID, enrollmentID, ms(at)); err != nil {
		return fmt.Errorf("record booking click: %w", err)
	}
	return nil
}

// EnrollmentBookingClicks counts an enrollment's clicks on its booking
// redirect.
func (s *Store) EnrollmentBookingClicks(ctx context.Context, clinicID, enrollmentID int64) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, qEnrollmentBookingClicks, enrollmentID, clinicID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count booking clicks: %w", err)
	}
	return n, nil
}

// Photo is an image a patient sent with a concern from their page.
type Photo struct {
	ReplyID     int64
	PatientID   int64
	ContentType string // image/jpeg or image/png
	Data        []byte
	CreatedAt   time.Time
}

// ReplyPhoto returns the photo sent with a reply of clinic's (ENOTFOUND
// for another clinic's).
func (s *Store) ReplyPhoto(ctx context.Context, clinicID, replyID int64) (Photo, error) {
	var p Photo
	var at int64
	err := s.read.QueryRowContext(ctx, qReplyPhoto, replyID, clinicID).Scan(&p.ReplyID, &p.PatientID, &p.ContentType, &p.Data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("photo", replyID)
	}
	if err != nil {
		return p, fmt.Errorf("photo %d: %w", replyID, err)
	}
	p.CreatedAt = fromMS(at)
	return p, nil
}
