package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/aftercare/aftercare"
)

// APIKeyPrefix starts every API key, so a leaked key is recognisable.
const APIKeyPrefix = "ak_"

// HashAPIKey returns the stored form of an API key.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func newAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate api key: %w", err)
	}
	return APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateClinic stores a clinic and a fresh API key for it. The key is
// returned once; only its hash is kept.
func (s *Store) CreateClinic(ctx context.Context, c aftercare.Clinic) (aftercare.Clinic, string, error) {
	if err := needsAlertRoute(c); err != nil {
		return c, "", err
	}
	key, err := newAPIKey()
	if err != nil {
		return c, "", err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return c, "", fmt.Errorf("create clinic: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	res, err := tx.ExecContext(ctx, qInsertClinic, c.Name, c.Phone, c.Timezone, c.BookingURL, c.AlertEmail,
		c.OnCallPhone, c.SMSFrom, c.MessagingServiceSID, c.EmailFrom, c.ReplyTo, c.AfterHoursPhone, ms(now))
	if err != nil {
		return c, "", fmt.Errorf("create clinic: %w", err)
	}
	c.ID, _ = res.LastInsertId()
	c.CreatedAt = now.Truncate(1e6)
	if _, err := tx.ExecContext(ctx, qInsertAPIKey, c.ID, HashAPIKey(key), key[:len(APIKeyPrefix)+4], ms(now)); err != nil {
		return c, "", fmt.Errorf("create clinic api key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return c, "", fmt.Errorf("create clinic: %w", err)
	}
	return c, key, nil
}

// UpdateClinic changes a clinic's settings.
func (s *Store) UpdateClinic(ctx context.Context, c aftercare.Clinic) error {
	if err := needsAlertRoute(c); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, qUpdateClinic, c.Name, c.Phone, c.Timezone, c.BookingURL, c.AlertEmail,
		c.OnCallPhone, c.SMSFrom, c.MessagingServiceSID, c.EmailFrom, c.ReplyTo, c.AfterHoursPhone, c.ID)
	if err != nil {
		return fmt.Errorf("update clinic %d: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("clinic", c.ID)
	}
	return nil
}

// ErrNoAlertRoute refuses a clinic that could not be told about a red flag.
const ErrNoAlertRoute = "a clinic needs an alert route for red-flag replies: an alert email, an on-call phone, or both"

// needsAlertRoute refuses a clinic without an alert route: a red flag there
// would reach nobody.
func needsAlertRoute(c aftercare.Clinic) error {
	if !c.HasAlertRoute() {
		return aftercare.FieldError("alert_email", ErrNoAlertRoute)
	}
	return nil
}

// Clinic returns one clinic.
func (s *Store) Clinic(ctx context.Context, id int64) (aftercare.Clinic, error) {
	c, err := scanClinic(s.read.QueryRowContext(ctx, qSelectClinic, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("clinic", id)
	}
	if err != nil {
		return c, fmt.Errorf("get clinic %d: %w", id, err)
	}
	return c, nil
}

// Clinics lists all clinics.
func (s *Store) Clinics(ctx context.Context) ([]aftercare.Clinic, error) {
	rows, err := s.read.QueryContext(ctx, qSelectClinics)
	if err != nil {
		return nil, fmt.Errorf("list clinics: %w", err)
	}
	defer rows.Close()
	var out []aftercare.Clinic
	for rows.Next() {
		c, err := scanClinic(rows)
		if err != nil {
			return nil, fmt.Errorf("list clinics: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClinicByAPIKey authenticates an API key. An unknown or revoked key is an
// EUNAUTHORIZED error.
func (s *Store) ClinicByAPIKey(ctx context.Context, key string) (aftercare.Clinic, error) {
	c, err := scanClinic(s.readRow(ctx, qClinicByKey, HashAPIKey(key)))
	if errors.Is(err, sql.ErrNoRows) {
		return c, aftercare.Errorf(aftercare.EUNAUTHORIZED, "invalid or revoked API key")
	}
	if err != nil {
		return c, fmt.Errorf("authenticate api key: %w", err)
	}
	return c, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanClinic(r scanner) (aftercare.Clinic, error) {
	var c aftercare.Clinic
	var created int64
	err := r.Scan(&c.ID, &c.Name, &c.Phone, &c.Timezone, &c.BookingURL, &c.AlertEmail, &c.OnCallPhone,
		&c.SMSFrom, &c.MessagingServiceSID, &c.EmailFrom, &c.ReplyTo, &created, &c.AfterHoursPhone)
	c.CreatedAt = fromMS(created)
	return c, err
}
