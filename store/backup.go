package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aftercare/aftercare/store/sqlite"
)

// errNotSQLite explains why a file operation does not apply to a server.
var errNotSQLite = errors.New("not a SQLite database: back up a PostgreSQL database with pg_dump or its server's own backups (README, Scaling out)")

// Backup writes a consistent snapshot of the SQLite database dsn names to
// dest (a new file, 0600), while a daemon may be running on it
// (sqlite.Backup).
func Backup(ctx context.Context, dsn, dest string) error {
	path, ok := sqlite.IsDSN(dsn)
	if !ok {
		return fmt.Errorf("backup: %w", errNotSQLite)
	}
	return sqlite.Backup(ctx, path, dest)
}

// Restore puts the SQLite backup at src in place of the database dsn
// names (no daemon may be running on it; sqlite.Restore moves the old
// files aside) and flags every message that could have gone out after the
// backup was taken (scheduled or sending, due by now) as ambiguous, so
// that it is looked up at the provider before any send: a text the old
// database never recorded as sent is found at Twilio rather than sent
// twice. It returns how many messages it flagged and where the replaced
// files went ("" if there were none).
func Restore(ctx context.Context, src, dsn string, now time.Time) (flagged int, movedTo string, err error) {
	path, ok := sqlite.IsDSN(dsn)
	if !ok {
		return 0, "", fmt.Errorf("restore: %w", errNotSQLite)
	}
	if movedTo, err = sqlite.Restore(ctx, src, path, now); err != nil {
		return 0, movedTo, err
	}
	s, err := Open(ctx, path, Options{})
	if err != nil {
		return 0, movedTo, fmt.Errorf("restore: %w", err)
	}
	defer s.Close()
	if flagged, err = s.FlagRestored(ctx, now); err != nil {
		return 0, movedTo, fmt.Errorf("restore: %w", err)
	}
	return flagged, movedTo, s.Close()
}

// Synchronous returns the SQLite writer's PRAGMA synchronous (0 OFF,
// 1 NORMAL, 2 FULL, 3 EXTRA). Other drivers have no such setting in the
// store and return an error (PostgreSQL's is the server's
// synchronous_commit; README, Scaling out).
func (s *Store) Synchronous(ctx context.Context) (int, error) {
	if d, ok := s.d.(interface {
		Synchronous(context.Context) (int, error)
	}); ok {
		return d.Synchronous(ctx)
	}
	return 0, fmt.Errorf("synchronous setting: not known for driver %s", s.d.Name())
}
