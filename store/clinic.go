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
	"strconv"
	"strings"

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
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return c, "", fmt.Errorf("create clinic: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	if err := tx.QueryRowContext(ctx, qInsertClinic, c.Name, c.Phone, c.Timezone, c.BookingURL, c.AlertEmail,
		c.OnCallPhone, c.SMSFrom, c.MessagingServiceSID, c.EmailFrom, c.ReplyTo, c.AfterHoursPhone, ms(now),
		c.DefaultLanguage, c.QuietHours, c.DailyTextCap, c.WeeklyTextCap, joinTreatments(c.Treatments)).Scan(&c.ID); err != nil {
		return c, "", fmt.Errorf("create clinic: %w", err)
	}
	c.CreatedAt = now.Truncate(1e6)
	if _, err := tx.ExecContext(ctx, qInsertAPIKey, c.ID, HashAPIKey(key), keyPrefix(key), ms(now), DefaultKeyLabel); err != nil {
		return c, "", fmt.Errorf("create clinic api key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return c, "", fmt.Errorf("create clinic: %w", err)
	}
	return c, key, nil
}

// UpdateClinic changes a clinic's settings. An audit row (settings_change)
// naming the fields that changed, never their values, is written in the
// same transaction; an update that changes nothing writes none.
func (s *Store) UpdateClinic(ctx context.Context, c aftercare.Clinic) error {
	if err := needsAlertRoute(c); err != nil {
		return err
	}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("update clinic %d: %w", c.ID, err)
	}
	defer tx.Rollback()
	old, err := scanClinic(tx.QueryRowContext(ctx, qSelectClinic, c.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("clinic", c.ID)
	}
	if err != nil {
		return fmt.Errorf("update clinic %d: %w", c.ID, err)
	}
	changed := ChangedClinicFields(old, c)
	if len(changed) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, qUpdateClinic, c.Name, c.Phone, c.Timezone, c.BookingURL, c.AlertEmail,
		c.OnCallPhone, c.SMSFrom, c.MessagingServiceSID, c.EmailFrom, c.ReplyTo, c.AfterHoursPhone,
		c.DefaultLanguage, c.QuietHours, c.DailyTextCap, c.WeeklyTextCap, joinTreatments(c.Treatments), c.ID); err != nil {
		return fmt.Errorf("update clinic %d: %w", c.ID, err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: c.ID, Action: aftercare.AuditSettings,
		Detail: "changed " + strings.Join(changed, ", ")}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update clinic %d: %w", c.ID, err)
	}
	return nil
}

// ChangedClinicFields names the settings that differ between a and b, in
// their stored (snake_case) names.
func ChangedClinicFields(a, b aftercare.Clinic) []string {
	var out []string
	for _, f := range []struct {
		name string
		a, b string
	}{
		{"name", a.Name, b.Name}, {"phone", a.Phone, b.Phone}, {"timezone", a.Timezone, b.Timezone},
		{"booking_url", a.BookingURL, b.BookingURL}, {"alert_email", a.AlertEmail, b.AlertEmail},
		{"on_call_phone", a.OnCallPhone, b.OnCallPhone}, {"after_hours_phone", a.AfterHoursPhone, b.AfterHoursPhone},
		{"sms_from", a.SMSFrom, b.SMSFrom}, {"messaging_service_sid", a.MessagingServiceSID, b.MessagingServiceSID},
		{"email_from", a.EmailFrom, b.EmailFrom}, {"reply_to", a.ReplyTo, b.ReplyTo},
		{"default_language", a.DefaultLanguage, b.DefaultLanguage}, {"quiet_hours", a.QuietHours, b.QuietHours},
		{"daily_text_cap", strconv.Itoa(a.DailyTextCap), strconv.Itoa(b.DailyTextCap)},
		{"weekly_text_cap", strconv.Itoa(a.WeeklyTextCap), strconv.Itoa(b.WeeklyTextCap)},
		{"treatments", joinTreatments(a.Treatments), joinTreatments(b.Treatments)},
	} {
		if f.a != f.b {
			out = append(out, f.name)
		}
	}
	return out
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
// EUNAUTHORIZED error. See AuthenticateAPIKey.
func (s *Store) ClinicByAPIKey(ctx context.Context, key string) (aftercare.Clinic, error) {
	c, _, _, err := s.AuthenticateAPIKey(ctx, key)
	return c, err
}

type scanner interface{ Scan(dest ...any) error }

func scanClinic(r scanner) (aftercare.Clinic, error) {
	var row clinicRow
	err := r.Scan(row.dest()...)
	return row.clinic(), err
}

// clinicRow receives the columns clinicCols (or qualifiedClinicCols) names.
type clinicRow struct {
	c          aftercare.Clinic
	created    int64
	treatments string
}

// dest returns the scan destinations of clinicCols, in order.
func (r *clinicRow) dest() []any {
	c := &r.c
	return []any{&c.ID, &c.Name, &c.Phone, &c.Timezone, &c.BookingURL, &c.AlertEmail, &c.OnCallPhone,
		&c.SMSFrom, &c.MessagingServiceSID, &c.EmailFrom, &c.ReplyTo, &r.created, &c.AfterHoursPhone,
		&c.DefaultLanguage, &c.QuietHours, &c.DailyTextCap, &c.WeeklyTextCap, &r.treatments}
}

// clinic returns the clinic scanned.
func (r *clinicRow) clinic() aftercare.Clinic {
	c := r.c
	c.CreatedAt = fromMS(r.created)
	c.Treatments = splitTreatments(r.treatments)
	return c
}

// joinTreatments is a clinic's treatments as stored: one per line, ""
// for none. (Treatment names hold spaces, never line breaks.)
func joinTreatments(ts []string) string { return strings.Join(ts, "\n") }

// splitTreatments reads what joinTreatments stored; "" is no treatments
// (nil).
func splitTreatments(s string) []string {
	var out []string
	for _, t := range strings.Split(s, "\n") {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}
