// Package sqlite is aftercare's embedded storage driver: one SQLite file
// through modernc.org/sqlite, with one writer connection (SQLite allows one
// writer at a time; queuing in Go is cheaper than spinning on SQLITE_BUSY)
// and a pool of read-only connections. It owns what is SQLite's own: the
// connection settings, the schema migrations, the file modes, backup and
// restore. The SQL that reads and changes aftercare's state is shared by
// every driver and lives in package store, which this package does not
// import.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// DB is an open SQLite database.
type DB struct {
	path  string
	write *sql.DB
	read  *sql.DB
}

// Options tune Open.
type Options struct {
	// BusyTimeout is how long a connection waits on a lock held by another
	// process before giving up. Default 5s.
	BusyTimeout time.Duration
	// Readers is the size of the read pool. Default 4.
	Readers int
	// Synchronous is the writer's synchronous setting: "FULL" (the
	// default) makes every commit durable on power loss before it returns;
	// "NORMAL" is only for measuring what that costs (see aftercare-bench).
	Synchronous string
}

// Open opens (creating if needed) the database at path. The database and
// its -wal and -shm files are mode 0600 whatever the umask; Open refuses a
// database that other users can read, saying which command fixes it.
// Migrate brings the schema up to date.
func Open(ctx context.Context, path string, opt Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty database path")
	}
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = 5 * time.Second
	}
	if opt.Readers <= 0 {
		opt.Readers = 4
	}
	if err := secureFiles(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	pragmas := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		fmt.Sprintf("busy_timeout(%d)", opt.BusyTimeout.Milliseconds()),
		"synchronous(" + synchronous(opt.Synchronous) + ")", // see backup.go
		"foreign_keys(ON)",
	} {
		pragmas.Add("_pragma", p)
	}
	w := pragmas
	w.Set("_txlock", "immediate")
	// The writer keeps statement journals (a multi-row UPDATE has one) in
	// memory rather than in a temp file, and checkpoints the WAL every
	// 4000 pages rather than 1000, so that a page rewritten by many
	// commits is copied back once: both showed as write syscalls on the
	// claim's path.
	w.Add("_pragma", "temp_store(MEMORY)")
	w.Add("_pragma", "wal_autocheckpoint(4000)")
	// Freed space inside a page is zeroed (FAST: no extra I/O), so an
	// updated row leaves no old copy of a patient's details in its page;
	// an erasure turns it fully on (see BeginErase).
	w.Add("_pragma", "secure_delete(FAST)")
	write, err := sql.Open("sqlite", "file:"+path+"?"+w.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	r := url.Values{}
	for _, p := range []string{
		fmt.Sprintf("busy_timeout(%d)", opt.BusyTimeout.Milliseconds()),
		"foreign_keys(ON)",
		"query_only(1)",
	} {
		r.Add("_pragma", p)
	}
	read, err := sql.Open("sqlite", "file:"+path+"?"+r.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(opt.Readers)
	read.SetMaxIdleConns(opt.Readers)
	return &DB{path: path, write: write, read: read}, nil
}

// Name is the driver's name.
func (d *DB) Name() string { return "sqlite" }

// Path returns the database file path.
func (d *DB) Path() string { return d.path }

// Writer is the one writer connection.
func (d *DB) Writer() *sql.DB { return d.write }

// Reader is the read-only pool.
func (d *DB) Reader() *sql.DB { return d.read }

// BeginWrite starts a write transaction (BEGIN IMMEDIATE, on the one
// writer connection: every write transaction is exclusive here, whatever
// is asked).
func (d *DB) BeginWrite(ctx context.Context, exclusive bool) (*sql.Tx, error) {
	return d.write.BeginTx(ctx, nil)
}

// IDList selects the ids of one parameter holding a JSON array.
func (d *DB) IDList() string { return `SELECT value FROM json_each(?)` }

// SkipLocked is empty: the one writer never meets a row another claim holds.
func (d *DB) SkipLocked() string { return "" }

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure.
func (d *DB) IsUniqueViolation(err error) bool {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// IsUnavailable is false: a SQLite file does not go away and come back
// (its errors are not worth retrying blindly).
func (d *DB) IsUnavailable(err error) bool { return false }

// Close closes both pools.
func (d *DB) Close() error {
	return errors.Join(d.read.Close(), d.write.Close())
}

// Synchronous returns the writer connection's PRAGMA synchronous
// (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
func (d *DB) Synchronous(ctx context.Context) (int, error) {
	var v int
	if err := d.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read synchronous setting: %w", err)
	}
	return v, nil
}

// BeginErase starts the write transaction of an erasure with
// secure_delete fully on, so the freed space of every row it changes is
// zeroed. done, called after the commit or rollback, checkpoints and
// truncates the WAL so old page images leave the -wal file too (best
// effort: a reader in the middle of a long read holds some back; complete
// says whether it did), and returns the connection to its usual setting.
func (d *DB) BeginErase(ctx context.Context) (tx *sql.Tx, done func() (complete bool), err error) {
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		conn.Close()
		return nil, nil, err
	}
	restore := func() {
		conn.ExecContext(context.Background(), `PRAGMA secure_delete = FAST`)
		conn.Close()
	}
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		restore()
		return nil, nil, err
	}
	return tx, func() bool {
		defer restore()
		var busy, logPages, ckpt int
		if err := conn.QueryRowContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &ckpt); err != nil {
			return false
		}
		return busy == 0
	}, nil
}

// IsDSN reports whether dsn names a SQLite database: a file path, or
// "sqlite:" followed by one. It returns the path.
func IsDSN(dsn string) (path string, ok bool) {
	if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		return strings.TrimPrefix(p, "//"), true
	}
	if strings.Contains(dsn, "://") {
		return "", false
	}
	return dsn, true
}
