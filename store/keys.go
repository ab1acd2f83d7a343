package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
)

// API keys: a clinic has several, each with a label and a last-used time.
// Only a key's SHA-256 is stored; the key itself is returned once, when it
// is made. Authentication reads the database on every request (there is no
// cache), so a revoked key fails at once on every daemon sharing the file.

// DefaultKeyLabel labels the key made with a clinic, and keys made before
// keys had labels.
const DefaultKeyLabel = "default"

// MaxKeyLabelLen bounds a key's label, in characters.
const MaxKeyLabelLen = 80

// LastUsedEvery is how stale an API key's last-used time may be: it is
// written at most once per this period per key, not on every request.
const LastUsedEvery = time.Minute

// APIKey describes an API key without its secret.
type APIKey struct {
	ID       int64
	ClinicID int64
	Label    string
	// Prefix is the key's first characters (ak_ and four more), enough to
	// tell keys apart, not to use one.
	Prefix    string
	CreatedAt time.Time
	// LastUsedAt is when the key last authenticated a request (up to
	// LastUsedEvery behind); zero if never.
	LastUsedAt time.Time
	// RevokedAt is when the key was revoked; zero while it works.
	RevokedAt time.Time
}

// Revoked reports whether the key was revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

func keyPrefix(key string) string { return key[:len(APIKeyPrefix)+4] }

// ValidKeyLabel trims a key's label and checks it: required, at most
// MaxKeyLabelLen characters, one line.
func ValidKeyLabel(label string) (string, error) {
	label = strings.TrimSpace(label)
	switch {
	case label == "":
		return label, aftercare.FieldError("label", "required: say where the key is used, e.g. \"EHR integration\"")
	case utf8.RuneCountInString(label) > MaxKeyLabelLen:
		return label, aftercare.FieldError("label", "must be at most %d characters", MaxKeyLabelLen)
	case strings.ContainsAny(label, "\r\n\t") || !utf8.ValidString(label):
		return label, aftercare.FieldError("label", "must be one line of text")
	}
	return label, nil
}

// CreateAPIKey makes a new API key for a clinic and returns it with its
// secret, shown once. An audit row (key_created) is written in the same
// transaction with the actor the context carries.
func (s *Store) CreateAPIKey(ctx context.Context, clinicID int64, label string) (APIKey, string, error) {
	label, err := ValidKeyLabel(label)
	if err != nil {
		return APIKey{}, "", err
	}
	key, err := newAPIKey()
	if err != nil {
		return APIKey{}, "", err
	}
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, qClinicExists, clinicID).Scan(&n); err != nil {
		return APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	if n == 0 {
		return APIKey{}, "", notFound("clinic", clinicID)
	}
	now := s.now().UTC()
	k := APIKey{ClinicID: clinicID, Label: label, Prefix: keyPrefix(key), CreatedAt: now.Truncate(time.Millisecond)}
	if err := tx.QueryRowContext(ctx, qInsertAPIKeyReturning, clinicID, HashAPIKey(key), k.Prefix, ms(now), label).Scan(&k.ID); err != nil {
		return APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: clinicID, At: now, Action: aftercare.AuditKeyCreated,
		Detail: fmt.Sprintf("key %d %q (%s…)", k.ID, label, k.Prefix)}); err != nil {
		return APIKey{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	return k, key, nil
}

// APIKeys lists a clinic's API keys, working ones first; no secrets.
func (s *Store) APIKeys(ctx context.Context, clinicID int64) ([]APIKey, error) {
	rows, err := s.read.QueryContext(ctx, qAPIKeys, clinicID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var created, used, revoked int64
		if err := rows.Scan(&k.ID, &k.ClinicID, &k.Label, &k.Prefix, &created, &used, &revoked); err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMS(created), fromMS(used), fromMS(revoked)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes one of a clinic's keys, at once: the next request
// with it is refused by every daemon on this database. Another clinic's or
// a missing key is ENOTFOUND; revoking a revoked key is ECONFLICT. An
// audit row (key_revoked) is written in the same transaction.
func (s *Store) RevokeAPIKey(ctx context.Context, clinicID, keyID int64) error {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	defer tx.Rollback()
	var label string
	var revoked int64
	err = tx.QueryRowContext(ctx, qAPIKey, keyID, clinicID).Scan(&label, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("api key", keyID)
	}
	if err != nil {
		return fmt.Errorf("revoke api key %d: %w", keyID, err)
	}
	if revoked != 0 {
		return aftercare.Errorf(aftercare.ECONFLICT, "api key %d was already revoked", keyID)
	}
	now := s.now().UTC()
	if _, err := tx.ExecContext(ctx, qRevokeAPIKey, ms(now), keyID, clinicID); err != nil {
		return fmt.Errorf("revoke api key %d: %w", keyID, err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: clinicID, At: now, Action: aftercare.AuditKeyRevoked,
		Detail: fmt.Sprintf("key %d %q", keyID, label)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("revoke api key %d: %w", keyID, err)
	}
	return nil
}

// AuthenticateAPIKey returns the clinic an API key belongs to, with the
// key's id and label (the audit trail's actor). An unknown or revoked key
// is an EUNAUTHORIZED error. It reads the database on every call, and
// records the key's last use when the stored time is LastUsedEvery old.
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (aftercare.Clinic, int64, string, error) {
	var row clinicRow
	var used, keyID int64
	var label string
	err := s.readRow(ctx, qClinicByKey, HashAPIKey(key)).Scan(append(row.dest(), &keyID, &label, &used)...)
	if errors.Is(err, sql.ErrNoRows) {
		return aftercare.Clinic{}, 0, "", aftercare.Errorf(aftercare.EUNAUTHORIZED, "invalid or revoked API key")
	}
	if err != nil {
		return aftercare.Clinic{}, 0, "", fmt.Errorf("authenticate api key: %w", err)
	}
	c := row.clinic()
	now := s.now()
	if now.Sub(fromMS(used)) >= LastUsedEvery {
		// Best effort: a failed write must not refuse a valid key.
		_, _ = s.write.ExecContext(context.WithoutCancel(ctx), qTouchAPIKey, ms(now), keyID, ms(now.Add(-LastUsedEvery)))
	}
	return c, keyID, label, nil
}
