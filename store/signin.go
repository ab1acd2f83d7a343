package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
)

// Staff users' roles, their management, session lifetimes and the
// sign-in throttle (issue 12). The throttle lives in the database so every
// daemon sharing it enforces the same limits.

// Role is what a staff user may do.
type Role string

// The roles: an admin manages the clinic's users (and later its keys,
// settings and audit trail); staff enroll, view and act on patients.
const (
	RoleAdmin Role = "admin"
	RoleStaff Role = "staff"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleStaff }

func scanUser(r scanner) (User, error) {
	var u User
	var created, disabled int64
	if err := r.Scan(&u.ID, &u.ClinicID, &u.Email, &u.PasswordHash, &created, &u.Role, &disabled); err != nil {
		return u, err
	}
	u.CreatedAt = fromMS(created)
	if disabled != 0 {
		u.DisabledAt = fromMS(disabled)
	}
	return u, nil
}

// Users lists a clinic's users, active ones first, by email.
func (s *Store) Users(ctx context.Context, clinicID int64) ([]User, error) {
	rows, err := s.read.QueryContext(ctx, qUsers, clinicID)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UserByEmail returns a clinic's user with this (lower-case) email, active
// or disabled; a missing one is ENOTFOUND.
func (s *Store) UserByEmail(ctx context.Context, clinicID int64, email string) (User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, qUserByEmail, clinicID, email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, aftercare.Errorf(aftercare.ENOTFOUND, "no user with this email at clinic %d", clinicID)
	}
	if err != nil {
		return u, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

// User returns a clinic's user by id; another clinic's or a missing user is
// ENOTFOUND.
func (s *Store) User(ctx context.Context, clinicID, id int64) (User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, qUserByID, clinicID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", id)
	}
	if err != nil {
		return u, fmt.Errorf("find user %d: %w", id, err)
	}
	return u, nil
}

// DisableUser disables a clinic's user and ends all their sessions in the
// same transaction, so they are refused on their very next request. The
// clinic's last active admin cannot be disabled (ECONFLICT): someone must
// be left to manage users. Disabling a disabled user changes nothing.
func (s *Store) DisableUser(ctx context.Context, clinicID, userID int64) (User, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return User{}, fmt.Errorf("disable user %d: %w", userID, err)
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, qUserByID, clinicID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", userID)
	}
	if err != nil {
		return u, fmt.Errorf("disable user %d: %w", userID, err)
	}
	if !u.DisabledAt.IsZero() {
		return u, nil
	}
	if u.Role == RoleAdmin {
		var n int
		if err := tx.QueryRowContext(ctx, qOtherActiveAdmins, clinicID, userID).Scan(&n); err != nil {
			return u, fmt.Errorf("disable user %d: %w", userID, err)
		}
		if n == 0 {
			return u, aftercare.Errorf(aftercare.ECONFLICT, "this is the clinic's last admin; make another admin first")
		}
	}
	now := s.now().UTC()
	if _, err := tx.ExecContext(ctx, qDisableUser, ms(now), clinicID, userID); err != nil {
		return u, fmt.Errorf("disable user %d: %w", userID, err)
	}
	if _, err := tx.ExecContext(ctx, qDeleteUserSessions, userID); err != nil {
		return u, fmt.Errorf("disable user %d: end sessions: %w", userID, err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{At: now, ClinicID: clinicID, Action: aftercare.AuditUserDisabled,
		Detail: fmt.Sprintf("user %d %s", userID, u.Email)}); err != nil {
		return u, fmt.Errorf("disable user %d: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return u, fmt.Errorf("disable user %d: %w", userID, err)
	}
	u.DisabledAt = now.Truncate(time.Millisecond)
	return u, nil
}

// SetPassword replaces a clinic's user's password hash and ends all their
// sessions in the same transaction (whoever knew the old password is
// signed out).
func (s *Store) SetPassword(ctx context.Context, clinicID, userID int64, passwordHash string) error {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, qSetPassword, passwordHash, ms(s.now()), clinicID, userID)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("user", userID)
	}
	if _, err := tx.ExecContext(ctx, qDeleteUserSessions, userID); err != nil {
		return fmt.Errorf("set password of user %d: end sessions: %w", userID, err)
	}
	if err := s.appendAudit(ctx, tx, aftercare.AuditEntry{ClinicID: clinicID, Action: aftercare.AuditPasswordReset,
		Detail: fmt.Sprintf("user %d", userID)}); err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user ("sign out everywhere")
// and returns how many there were.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int, error) {
	res, err := s.write.ExecContext(ctx, qDeleteUserSessions, userID)
	if err != nil {
		return 0, fmt.Errorf("end sessions of user %d: %w", userID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// TouchSession moves a session's idle deadline forward to idleUntil (never
// past its absolute expiry, never backwards).
func (s *Store) TouchSession(ctx context.Context, tokenHash string, idleUntil time.Time) error {
	if _, err := s.write.ExecContext(ctx, qTouchSession, ms(idleUntil), ms(idleUntil), tokenHash, ms(idleUntil)); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// LoginBlockedUntil returns the latest time until which any of the given
// throttle keys is blocked at now, or the zero time if none is.
func (s *Store) LoginBlockedUntil(ctx context.Context, now time.Time, accountKey, ipKey string) (time.Time, error) {
	var until int64
	if err := s.read.QueryRowContext(ctx, qThrottleBlocks, accountKey, ipKey, ms(now)).Scan(&until); err != nil {
		return time.Time{}, fmt.Errorf("read sign-in throttle: %w", err)
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return fromMS(until), nil
}

// LoginFailure records a failed sign-in against key at now. Failures
// further apart than resetAfter start the count again. block is asked how
// long the key is blocked after n consecutive failures (0: not at all);
// LoginFailure returns n and the block's end (zero if none).
func (s *Store) LoginFailure(ctx context.Context, key string, now time.Time, resetAfter time.Duration,
	block func(n int) time.Duration) (int, time.Time, error) {
	tx, err := s.d.BeginWrite(ctx, true)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("record failed sign-in: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, qThrottleFailure, key, ms(now), ms(now.Add(-resetAfter))).Scan(&n); err != nil {
		return 0, time.Time{}, fmt.Errorf("record failed sign-in: %w", err)
	}
	var until time.Time
	if d := block(n); d > 0 {
		until = now.Add(d)
		if _, err := tx.ExecContext(ctx, qThrottleBlock, ms(until), ms(until), key); err != nil {
			return 0, time.Time{}, fmt.Errorf("record failed sign-in: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, time.Time{}, fmt.Errorf("record failed sign-in: %w", err)
	}
	return n, until, nil
}

// ClearLoginFailures forgets a key's failures (after a successful sign-in).
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := s.write.ExecContext(ctx, qThrottleClear, key); err != nil {
		return fmt.Errorf("clear sign-in throttle: %w", err)
	}
	return nil
}

// PruneLoginThrottles deletes throttle rows whose last failure is before
// olderThan and that block nothing at now; it returns how many.
func (s *Store) PruneLoginThrottles(ctx context.Context, now, olderThan time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, qThrottlePrune, ms(olderThan), ms(now))
	if err != nil {
		return 0, fmt.Errorf("prune sign-in throttle: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
