package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// ClinicProtocol is one version of a clinic's own protocol file for a
// treatment and language. Every uploaded version is kept (plans record the
// version they used); at most one per clinic, treatment and language is
// Active, and that one plans new enrollments instead of the daemon's.
type ClinicProtocol struct {
	ID        int64  `json:"id"`
	ClinicID  int64  `json:"clinic_id"`
	Treatment string `json:"treatment"`
	Language  string `json:"language"`
	Version   int    `json:"version"`
	// Source is the protocol file (YAML) as uploaded.
	Source string `json:"source"`
	// SHA256 is the hex SHA-256 of Source, set by the store.
	SHA256 string `json:"sha256"`
	// UploadedBy is the user who uploaded it (0: the operator's CLI).
	UploadedBy int64     `json:"uploaded_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	Active     bool      `json:"active"`
}

// AddClinicProtocol stores a new version of a clinic's protocol (the
// caller has parsed and linted it); with p.Active it also becomes the
// active one for its treatment and language. A version that exists for
// the clinic, treatment and language is an ECONFLICT error; the change is
// audited (settings_change).
func (s *Store) AddClinicProtocol(ctx context.Context, p ClinicProtocol) (ClinicProtocol, error) {
	var errs []error
	if strings.TrimSpace(p.Treatment) == "" || p.Treatment != strings.TrimSpace(p.Treatment) {
		errs = append(errs, aftercare.FieldError("treatment", "required, without surrounding spaces"))
	}
	if !aftercare.ValidLanguage(p.Language) {
		errs = append(errs, aftercare.FieldError("language", "must be one of %s, not %q", strings.Join(aftercare.Languages, ", "), p.Language))
	}
	if p.Version < 1 {
		errs = append(errs, aftercare.FieldError("version", "must be 1 or more, not %d", p.Version))
	}
	if strings.TrimSpace(p.Source) == "" {
		errs = append(errs, aftercare.FieldError("source", "required"))
	}
	if len(errs) > 0 {
		return p, errors.Join(errs...)
	}
	sum := sha256.Sum256([]byte(p.Source))
	p.SHA256 = hex.EncodeToString(sum[:])
	what := fmt.Sprintf("add protocol %s (%s) version %d of clinic %d", p.Treatment, p.Language, p.Version, p.ClinicID)
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return p, fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, qClinicExists, p.ClinicID).Scan(&n); err != nil {
		return p, fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return p, notFound("clinic", p.ClinicID)
	}
	now := s.now().UTC()
	err = tx.QueryRowContext(ctx, qInsertClinicProtocol, p.ClinicID, p.Treatment, p.Language, p.Version, p.Source,
		p.SHA256, nullID(p.UploadedBy), ms(now)).Scan(&p.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return p, &aftercare.Error{Code: aftercare.ECONFLICT, Field: "version", Message: fmt.Sprintf(
			"the clinic already has version %d of its %s protocol in %s: give the new one a higher version", p.Version, p.Treatment, p.Language)}
	}
	if err != nil {
		return p, fmt.Errorf("%s: %w", what, err)
	}
	p.CreatedAt = fromMS(ms(now))
	detail := fmt.Sprintf("protocol %s (%s): added version %d (id %d)", p.Treatment, p.Language, p.Version, p.ID)
	if p.Active {
		if err := activate(ctx, tx, p.ClinicID, p.Treatment, p.Language, p.ID); err != nil {
			return p, fmt.Errorf("%s: %w", what, err)
		}
		detail += " and made it active"
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: p.ClinicID, Action: aftercare.AuditSettings,
		Detail: detail}); err != nil {
		return p, fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return p, fmt.Errorf("%s: %w", what, err)
	}
	return p, nil
}

// ClinicProtocols lists a clinic's own protocols, every version, by
// treatment, language and version.
func (s *Store) ClinicProtocols(ctx context.Context, clinicID int64) ([]ClinicProtocol, error) {
	return s.listClinicProtocols(ctx, qClinicProtocols, clinicID)
}

// ClinicProtocolHeads is ClinicProtocols without the sources (Source is
// empty): enough to tell which versions exist, which is active and, by
// SHA256, whether a parsed copy is still current.
func (s *Store) ClinicProtocolHeads(ctx context.Context, clinicID int64) ([]ClinicProtocol, error) {
	return s.listClinicProtocols(ctx, qClinicProtocolHeads, clinicID)
}

// ClinicProtocol returns one of a clinic's protocols with its source;
// another clinic's is ENOTFOUND.
func (s *Store) ClinicProtocol(ctx context.Context, clinicID, id int64) (ClinicProtocol, error) {
	p, err := scanClinicProtocol(s.read.QueryRowContext(ctx, qClinicProtocol, id, clinicID))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("protocol", id)
	}
	if err != nil {
		return p, fmt.Errorf("protocol %d of clinic %d: %w", id, clinicID, err)
	}
	return p, nil
}

func (s *Store) listClinicProtocols(ctx context.Context, q string, clinicID int64) ([]ClinicProtocol, error) {
	rows, err := s.read.QueryContext(ctx, q, clinicID)
	if err != nil {
		return nil, fmt.Errorf("list protocols of clinic %d: %w", clinicID, err)
	}
	defer rows.Close()
	var out []ClinicProtocol
	for rows.Next() {
		p, err := scanClinicProtocol(rows)
		if err != nil {
			return nil, fmt.Errorf("list protocols of clinic %d: %w", clinicID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list protocols of clinic %d: %w", clinicID, err)
	}
	return out, nil
}

// SetActiveClinicProtocol makes the clinic's protocol id the one that plans
// new enrollments for treatment and language; id 0 goes back to the
// daemon's protocol. Another clinic's protocol is ENOTFOUND, like a missing
// one; a protocol of another treatment or language is EINVALID. A change is
// audited (settings_change); setting what is already set writes nothing.
func (s *Store) SetActiveClinicProtocol(ctx context.Context, clinicID int64, treatment, language string, id int64) error {
	what := fmt.Sprintf("set the %s (%s) protocol of clinic %d", treatment, language, clinicID)
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	var chosen ClinicProtocol
	if id != 0 {
		chosen, err = scanClinicProtocol(tx.QueryRowContext(ctx, qClinicProtocol, id, clinicID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("protocol", id)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if chosen.Treatment != treatment || chosen.Language != language {
			return aftercare.FieldError("id", "protocol %d is for %s (%s), not %s (%s)", id,
				chosen.Treatment, chosen.Language, treatment, language)
		}
	}
	old, err := scanClinicProtocol(tx.QueryRowContext(ctx, qActiveClinicProtocol, clinicID, treatment, language))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		old = ClinicProtocol{}
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	if old.ID == id {
		return nil
	}
	if err := activate(ctx, tx, clinicID, treatment, language, id); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	detail := fmt.Sprintf("protocol %s (%s): ", treatment, language)
	if id == 0 {
		detail += "back to the daemon's protocol"
	} else {
		detail += fmt.Sprintf("version %d (id %d) made active", chosen.Version, id)
	}
	if old.ID != 0 {
		detail += fmt.Sprintf(", was version %d (id %d)", old.Version, old.ID)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: clinicID, Action: aftercare.AuditSettings,
		Detail: detail}); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// activate makes protocol id (of the clinic, treatment and language) the
// active one, or none for id 0: the others are deactivated first, so the
// unique index on active rows never sees two.
func activate(ctx context.Context, tx *sql.Tx, clinicID int64, treatment, language string, id int64) error {
	if _, err := tx.ExecContext(ctx, qDeactivateClinicProtocols, clinicID, treatment, language, id); err != nil {
		return err
	}
	if id == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, qActivateClinicProtocol, id, clinicID)
	return err
}

func scanClinicProtocol(r scanner) (ClinicProtocol, error) {
	var p ClinicProtocol
	var created int64
	var active int
	err := r.Scan(&p.ID, &p.ClinicID, &p.Treatment, &p.Language, &p.Version, &p.Source, &p.SHA256, &p.UploadedBy,
		&created, &active)
	p.CreatedAt, p.Active = fromMS(created), active != 0
	return p, err
}

// EnrollmentCount is how many enrollments a clinic made for one treatment
// in one language.
type EnrollmentCount struct {
	Treatment   string `json:"treatment"`
	Language    string `json:"language"`
	Enrollments int    `json:"enrollments"`
}

// RecentEnrollments counts a clinic's enrollments created at or after
// since, by treatment and language. Cancelled ones count: they were texted
// until they were cancelled.
func (s *Store) RecentEnrollments(ctx context.Context, clinicID int64, since time.Time) ([]EnrollmentCount, error) {
	rows, err := s.read.QueryContext(ctx, qRecentEnrollments, clinicID, ms(since))
	if err != nil {
		return nil, fmt.Errorf("count recent enrollments of clinic %d: %w", clinicID, err)
	}
	defer rows.Close()
	var out []EnrollmentCount
	for rows.Next() {
		var c EnrollmentCount
		if err := rows.Scan(&c.Treatment, &c.Language, &c.Enrollments); err != nil {
			return nil, fmt.Errorf("count recent enrollments of clinic %d: %w", clinicID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count recent enrollments of clinic %d: %w", clinicID, err)
	}
	return out, nil
}
