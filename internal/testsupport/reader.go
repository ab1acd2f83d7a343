package testsupport

// A test's own handle on the database a daemon uses, whichever driver it
// runs on: the one way tests read (and, rarely, set up) state behind the
// store's back.

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/postgres"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// handleConns bounds a handle's connections: a test reads while a daemon
// (or three) work on the same database.
const handleConns = 4

// IsPostgres reports whether dsn names a PostgreSQL database (and not a
// SQLite file).
func IsPostgres(dsn string) bool {
	_, sqlite := store.SQLitePath(dsn)
	return !sqlite
}

// Handle is a test's own connection pool to the database a daemon uses,
// on either driver; its queries take "?" placeholders on both. It is
// closed when the test ends, or earlier by Close.
type Handle struct {
	*sql.DB
	// DSN is the database it reads.
	DSN string

	close func() error
	once  sync.Once
	err   error
}

// OpenReader opens a Handle for reading the database dsn names while a
// daemon uses it. On SQLite it is a read-only pool on the file
// (query_only; WAL lets it read while the daemon writes, a busy timeout
// rides out checkpoints). On PostgreSQL it is store/postgres's pool (its
// Reader, which rebinds "?" placeholders), and the DSN's search_path
// selects the test's schema; there read-only is not enforced (opening
// applies any pending migrations, which a read-only session refuses), so
// write only through OpenWriter.
func OpenReader(tb TB, dsn string) *Handle {
	tb.Helper()
	return openHandle(tb, dsn, true)
}

// OpenWriter is OpenReader for a test that must also write: to set up a
// state no API makes (a revoked key, a message's own window) or to seed in
// bulk. Its writes bypass the store's single writer on SQLite and its write
// lock on PostgreSQL: make them while nothing else writes.
func OpenWriter(tb TB, dsn string) *Handle {
	tb.Helper()
	return openHandle(tb, dsn, false)
}

func openHandle(tb TB, dsn string, readOnly bool) *Handle {
	tb.Helper()
	h := &Handle{DSN: dsn}
	if path, ok := store.SQLitePath(dsn); ok {
		q := "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
		if readOnly {
			q += "&_pragma=query_only(1)"
		} else {
			q += "&_txlock=immediate"
		}
		db, err := sql.Open("sqlite", "file:"+path+q)
		if err != nil {
			tb.Fatalf("open %s: %v", path, err)
		}
		db.SetMaxOpenConns(handleConns)
		h.DB, h.close = db, db.Close
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pg, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: handleConns})
		if err != nil {
			tb.Fatalf("open %s: %v", store.RedactDSN(dsn), err)
		}
		h.DB, h.close = pg.Reader(), pg.Close
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// Close closes the handle's connections (on PostgreSQL its pool too, with
// the pool's goroutines). Later calls return the first one's error.
func (h *Handle) Close() error {
	h.once.Do(func() { h.err = h.close() })
	return h.err
}

// Postgres reports whether the handle is on PostgreSQL.
func (h *Handle) Postgres() bool { return IsPostgres(h.DSN) }

// Tables lists the tables of the aftercare schema, sorted by name:
// SQLite's own tables and the migration record aside, and on PostgreSQL
// those of the schema the search_path selects.
func (h *Handle) Tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`
	if h.Postgres() {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
			AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY table_name`
	}
	rows, err := h.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}
