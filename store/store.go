// Package store keeps aftercare's state in one SQLite file through
// modernc.org/sqlite: clinics, patients, consent evidence, enrollments, the
// message outbox and its events. Every state change of a message happens in
// a transaction that also writes its event row.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aftercare/aftercare"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite-backed state of aftercare. It holds one writer
// connection (SQLite allows one writer at a time; queuing in Go is cheaper
// than spinning on SQLITE_BUSY) and a pool of readers.
type Store struct {
	path  string
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

// Open opens (creating if needed) the database at path and applies any
// pending migrations. The database and its -wal and -shm files are mode
// 0600 whatever the umask; Open refuses a database that other users can
// read, saying which command fixes it.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	if opt.Clock == nil {
		opt.Clock = aftercare.SystemClock
	}
	if opt.BusyTimeout <= 0 {
		opt.BusyTimeout = 5 * time.Second
	}
	if opt.Readers <= 0 {
		opt.Readers = 4
	}
	if err := secureFiles(path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	pragmas := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		fmt.Sprintf("busy_timeout(%d)", opt.BusyTimeout.Milliseconds()),
		"synchronous(" + synchronous(opt.Synchronous) + ")", // see durability.go
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
	// an erasure turns it fully on (see ErasePatient).
	w.Add("_pragma", "secure_delete(FAST)")
	write, err := sql.Open("sqlite", "file:"+path+"?"+w.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
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
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	read.SetMaxOpenConns(opt.Readers)
	read.SetMaxIdleConns(opt.Readers)

	s := &Store{path: path, write: write, read: read, clock: opt.Clock}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w%s", path, err, writableHint(path))
	}
	if err := tightenSideFiles(path); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if s.stmts, err = prepare(ctx, s.write); err != nil {
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
	return errors.Join(s.stmts.close(), closeAll(s.reads), s.read.Close(), s.write.Close())
}

// Path returns the database file path.
func (s *Store) Path() string { return s.path }

func (s *Store) now() time.Time { return s.clock.Now() }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, name string) error {
	// One pinned connection: a migration that rebuilds a table turns
	// foreign keys off on it (SQLite ignores that inside a transaction).
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	before := goMigrations[name]
	if before != nil {
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		defer conn.ExecContext(context.Background(), `PRAGMA foreign_keys = ON`)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	if n > 0 {
		return nil // another process applied it meanwhile
	}
	if before != nil {
		if err := before(ctx, tx); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	if before != nil {
		// The rebuild must leave every reference intact.
		var table string
		err := tx.QueryRowContext(ctx, `SELECT "table" FROM pragma_foreign_key_check LIMIT 1`).Scan(&table)
		if err == nil {
			return fmt.Errorf("migrate %s: foreign key check fails in table %s", name, table)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("migrate %s: foreign key check: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)`, name, ms(s.now())); err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	return nil
}

// goMigrations are steps SQL alone cannot take, run in the transaction of
// the named migration, before its SQL, with foreign keys off.
var goMigrations = map[string]func(ctx context.Context, tx *sql.Tx) error{
	"migrations/0006_enrollment_guard.sql": rebuildPatients,
}

// uniquePhone is the table-level constraint 0001 gave patients.
var uniquePhone = regexp.MustCompile(`,\s*UNIQUE\s*\(\s*clinic_id\s*,\s*phone\s*\)`)

// rebuildPatients rebuilds the patients table without its table-level
// UNIQUE (clinic_id, phone) (SQLite cannot drop a constraint), following
// SQLite's documented procedure: create the new table from the current
// definition (whatever columns later migrations added), copy the rows,
// drop the old table, rename, recreate its indexes. Rows keep their ids, so
// every reference to a patient holds.
func rebuildPatients(ctx context.Context, tx *sql.Tx) error {
	var ddl string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'patients'`).Scan(&ddl); err != nil {
		return fmt.Errorf("read patients table: %w", err)
	}
	if !uniquePhone.MatchString(ddl) {
		return nil
	}
	ddl = uniquePhone.ReplaceAllString(ddl, "")
	ddl, ok := strings.CutPrefix(ddl, "CREATE TABLE patients")
	if !ok {
		return fmt.Errorf("unexpected patients table definition")
	}
	rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients' AND sql IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("read patients indexes: %w", err)
	}
	var indexes []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			rows.Close()
			return fmt.Errorf("read patients indexes: %w", err)
		}
		indexes = append(indexes, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read patients indexes: %w", err)
	}
	steps := append([]string{
		"CREATE TABLE patients_rebuilt" + ddl,
		`INSERT INTO patients_rebuilt SELECT * FROM patients`,
		`DROP TABLE patients`,
		`ALTER TABLE patients_rebuilt RENAME TO patients`,
	}, indexes...)
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild patients: %w", err)
		}
	}
	return nil
}

// Ping checks that the database answers and can take a write: it is what
// readiness reports.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `INSERT INTO webhook_seen(kind, key, at) VALUES ('ping', 'ping', ?)
		ON CONFLICT(kind, key) DO UPDATE SET at = excluded.at`, ms(s.now())); err != nil {
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
