package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/aftercare/aftercare/store/postgres"
	"github.com/aftercare/aftercare/store/sqlite"
)

// Driver is what the store asks of a database: connections, its own
// migrations and locking, and the few pieces of SQL that differ between
// databases. Drivers live in their own packages and do not import store.
type Driver interface {
	// Name is the driver's name: "sqlite" or "postgres".
	Name() string
	// Writer takes changes; it accepts "?" placeholders.
	Writer() *sql.DB
	// Reader serves reads (it may be Writer).
	Reader() *sql.DB
	// BeginWrite starts a write transaction. An exclusive one is
	// serialized against every other write transaction of every process
	// on the database, so a read-then-write inside it (a duplicate check,
	// one concern per patient) sees no concurrent change; the dispatcher's
	// claims and outcomes, each one guarded statement, ask for a shared
	// one, serialized only against exclusive ones.
	BeginWrite(ctx context.Context, exclusive bool) (*sql.Tx, error)
	// Migrate applies the driver's embedded migrations; it is safe when
	// several processes start at once.
	Migrate(ctx context.Context) error
	// IDList is a SELECT of BIGINT ids from one parameter holding a JSON
	// array ("[1,2,3]").
	IDList() string
	// SkipLocked ends the claim's subquery: rows another transaction has
	// locked are skipped, so replicas claim disjoint batches.
	SkipLocked() string
	// IsUniqueViolation reports whether err is a unique-constraint failure.
	IsUniqueViolation(err error) bool
	// IsUnavailable reports whether err says the database could not be
	// reached (a server restarting), so the same statement may succeed
	// later.
	IsUnavailable(err error) bool
	// Close closes the connections.
	Close() error
}

// ErrUnavailable marks an error of a database that could not be reached
// (Driver.IsUnavailable): the same call may succeed once it is back.
var ErrUnavailable = errors.New("database unavailable")

// unavailable wraps err with ErrUnavailable when the driver says so.
func (s *Store) unavailable(err error) error {
	if err != nil && s.d.IsUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// SQLitePath reports whether dsn names a SQLite database (a file path or
// "sqlite:PATH") and returns its path.
func SQLitePath(dsn string) (string, bool) { return sqlite.IsDSN(dsn) }

// openDriver chooses and opens the driver dsn names.
func openDriver(ctx context.Context, dsn string, opt Options) (Driver, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn, postgres.Options{MaxConns: opt.MaxConns})
	}
	path, ok := sqlite.IsDSN(dsn)
	if !ok {
		return nil, fmt.Errorf("unknown database %q: want a file path, sqlite:PATH or postgres://…", RedactDSN(dsn))
	}
	return sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: opt.BusyTimeout, Readers: opt.Readers, Synchronous: opt.Synchronous})
}

// RedactDSN drops a password from a DSN, for logs and error messages.
func RedactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if colon := strings.Index(rest[:at], ":"); colon >= 0 {
			rest = rest[:colon] + ":…" + rest[at:]
		}
	}
	return scheme + "://" + rest
}
