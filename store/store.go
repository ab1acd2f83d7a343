// Package store is aftercare's storage seam: the row and view types in the
// domain's terms, the message state machine (which transition is legal and
// which event it writes: machine.go), and the one SQL implementation every
// driver runs. A driver (store/sqlite, store/postgres) owns what is its
// database's own: connections, schema migrations, locking, the few
// statements that differ, backup. Open chooses the driver from the DSN.
//
// The SQL is written once, in a dialect both databases run (placeholders
// "?", times as integer milliseconds, flags as 0/1 integers, RETURNING,
// ON CONFLICT), rather than once per driver: two copies of every statement
// would drift, and a behaviour that differed between the drivers would be
// a bug the shared suite (store/storetest) has to find. What really differs
// is asked of the driver (Driver).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aftercare/aftercare"
)

// Store is aftercare's state behind one driver.
type Store struct {
	d     Driver
	write *sql.DB
	read  *sql.DB
	clock aftercare.Clock
	// stmts are the outbox's hot statements, prepared once on the writer;
	// reads are the hot reads, prepared on the read pool.
	stmts *prepared
	reads map[string]*sql.Stmt
	// enrolls groups concurrent enrollments into shared transactions.
	enrolls enrollQueue
	// optKey is the HMAC key of erased opt-outs, loaded once.
	optKeyMu sync.Mutex
	optKey   []byte
}

// Options tune Open.
type Options struct {
	// Clock stamps rows; defaults to the system clock.
	Clock aftercare.Clock
	// BusyTimeout is how long a SQLite connection waits on a lock held by
	// another process before giving up. Default 5s.
	BusyTimeout time.Duration
	// Readers is the size of the SQLite read pool. Default 4.
	Readers int
	// Synchronous is the SQLite writer's synchronous setting: "FULL" (the
	// default) makes every commit durable on power loss before it returns;
	// "NORMAL" is only for measuring what that costs (see aftercare-bench).
	Synchronous string
	// MaxConns caps a PostgreSQL pool's connections (default: the pgx
	// default, at least 4).
	MaxConns int
}

// Open opens the database dsn names and applies any pending migrations:
// "postgres://…" or "postgresql://…" is a PostgreSQL server
// (store/postgres); a file path, or "sqlite:" and a path, is a SQLite file
// (store/sqlite), created 0600 if missing.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.Clock == nil {
		opt.Clock = aftercare.SystemClock
	}
	d, err := openDriver(ctx, dsn, opt)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{d: d, write: d.Writer(), read: d.Reader(), clock: opt.Clock}
	if s.stmts, err = prepare(ctx, s.write, d); err != nil {
		s.Close()
		return nil, err
	}
	if s.reads, err = prepareReads(ctx, s.read); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.stmts.close(), closeAll(s.reads), s.d.Close())
}

// DriverName returns the name of the store's driver ("sqlite" or
// "postgres").
func (s *Store) DriverName() string { return s.d.Name() }

// Path returns the SQLite database file path ("" on other drivers).
func (s *Store) Path() string {
	if f, ok := s.d.(interface{ Path() string }); ok {
		return f.Path()
	}
	return ""
}

func (s *Store) now() time.Time { return s.clock.Now() }

// Ping checks that the database answers and can take a write: it is what
// readiness reports.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, qPing, ms(s.now())); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// ms converts a time to unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts unix milliseconds to a UTC time; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// insertEvent records one transition.
func insertEvent(ctx context.Context, tx *sql.Tx, msgID int64, at time.Time, from, to aftercare.Status, detail string) error {
	if _, err := tx.ExecContext(ctx, qInsertEvent, msgID, ms(at), string(from), string(to), detail); err != nil {
		return fmt.Errorf("record event for message %d: %w", msgID, err)
	}
	return nil
}

// notFound builds the domain error for a missing row.
func notFound(what string, id int64) error {
	return aftercare.Errorf(aftercare.ENOTFOUND, "%s %d not found", what, id)
}
