package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
)

// "Forgot password" links. Only the SHA-256 of a link's token is stored. A
// link works once and only until it expires; asking for a new link makes
// the user's earlier ones useless; using one sets the password and ends
// all the user's sessions, in one transaction with its audit row.

// ErrResetLink is the message for a reset link that is unknown, expired
// or already used (one message for all three, so the page tells an
// attacker nothing).
const ErrResetLink = "this password reset link has expired or was already used; ask for a new one"

// CreatePasswordReset stores a reset link's token hash for a user, valid
// for ttl, and retires the user's earlier links. An audit row
// (password_reset, "link requested") is written in the same transaction.
func (s *Store) CreatePasswordReset(ctx context.Context, u User, tokenHash string, ttl time.Duration) error {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("create password reset: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	if _, err := tx.ExecContext(ctx, qDeleteOldPasswordResets, ms(now.Add(-24*time.Hour))); err != nil {
		return fmt.Errorf("create password reset: %w", err)
	}
	if _, err := tx.ExecContext(ctx, qRetirePasswordResets, ms(now), u.ID); err != nil {
		return fmt.Errorf("create password reset: %w", err)
	}
	if _, err := tx.ExecContext(ctx, qInsertPasswordReset, tokenHash, u.ID, u.ClinicID, ms(now), ms(now.Add(ttl))); err != nil {
		return fmt.Errorf("create password reset: %w", err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: u.ClinicID, At: now, Action: aftercare.AuditPasswordReset,
		Detail: fmt.Sprintf("reset link requested for user %d", u.ID)}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create password reset: %w", err)
	}
	return nil
}

// PasswordResetUser returns the user a working reset link belongs to. An
// unknown, expired or used link is an EUNAUTHORIZED error (ErrResetLink).
func (s *Store) PasswordResetUser(ctx context.Context, tokenHash string) (User, error) {
	u, err := scanResetUser(s.read.QueryRowContext(ctx, qPasswordReset, tokenHash, ms(s.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, aftercare.Errorf(aftercare.EUNAUTHORIZED, ErrResetLink)
	}
	if err != nil {
		return User{}, fmt.Errorf("look up password reset: %w", err)
	}
	return u, nil
}

func scanResetUser(r scanner) (User, error) {
	var u User
	var created int64
	err := r.Scan(&u.ID, &u.ClinicID, &u.Email, &u.PasswordHash, &created)
	u.CreatedAt = fromMS(created)
	return u, err
}

// ResetPassword uses a reset link: in one transaction it checks the link
// works, sets the user's password hash, ends all the user's sessions,
// retires the link (and any other of the user's) and writes the audit row.
// It returns the user and how many sessions ended. An unknown, expired or
// used link is an EUNAUTHORIZED error (ErrResetLink) and changes nothing.
func (s *Store) ResetPassword(ctx context.Context, tokenHash, passwordHash string) (User, int, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return User{}, 0, fmt.Errorf("reset password: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	u, err := scanResetUser(tx.QueryRowContext(ctx, qPasswordReset, tokenHash, ms(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, 0, aftercare.Errorf(aftercare.EUNAUTHORIZED, ErrResetLink)
	}
	if err != nil {
		return User{}, 0, fmt.Errorf("reset password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, qResetPassword, passwordHash, ms(now), u.ID); err != nil {
		return User{}, 0, fmt.Errorf("reset password: %w", err)
	}
	res, err := tx.ExecContext(ctx, qDeleteUserSessions, u.ID)
	if err != nil {
		return User{}, 0, fmt.Errorf("reset password: end sessions: %w", err)
	}
	ended, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, qRetirePasswordResets, ms(now), u.ID); err != nil {
		return User{}, 0, fmt.Errorf("reset password: %w", err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: u.ClinicID, At: now, Action: aftercare.AuditPasswordReset,
		Actor:  aftercare.Actor{Kind: aftercare.ActorStaff, ID: u.ID, IP: aftercare.ActorFrom(ctx).IP},
		Detail: fmt.Sprintf("password set through a reset link; %d sessions ended", ended)}); err != nil {
		return User{}, 0, err
	}
	if err := tx.Commit(); err != nil {
		return User{}, 0, fmt.Errorf("reset password: %w", err)
	}
	u.PasswordHash = passwordHash
	return u, int(ended), nil
}
