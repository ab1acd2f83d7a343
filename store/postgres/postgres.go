// Package postgres is aftercare's PostgreSQL driver, on pgx (pgxpool): the
// store's portable SQL runs on it unchanged through database/sql, with "?"
// placeholders rebound to $n (see Rebind). It owns the PostgreSQL schema
// (embedded migrations, applied once however many replicas start at
// once), serializes the store's write transactions across every process on
// the database with transaction-level advisory locks, and offers a
// session-level advisory lock so one replica can lead housekeeping.
//
// It does not import package store; store wraps a *DB as its driver.
//
// Every advisory lock key this package takes is derived from the schema
// the connection's search_path selects (current_schema()), so two
// aftercare databases in two schemas of one PostgreSQL database never
// block each other.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Options tune Open. The zero value is ready to use.
type Options struct {
	// MaxConns is how many connections the store's SQL (Writer and
	// Reader, one pool) may hold at once. Default 10: each replica's
	// dispatcher, API and console share them, so N replicas hold up to
	// N×(MaxConns+2) of the server's max_connections (100 by default).
	// The pool opens two more for Migrate and TryLead, so that neither
	// waits behind busy SQL.
	MaxConns int
	// ConnMaxIdleTime closes a connection idle this long. Default 5 minutes.
	ConnMaxIdleTime time.Duration
	// ConnMaxLifetime closes a connection this old once it is idle, so
	// connections move to a failed-over server. Default 1 hour.
	ConnMaxLifetime time.Duration
	// Logger receives a line per migration applied. Default: discarded.
	Logger *slog.Logger
}

// reservedConns are the pool's connections beyond MaxConns: one for
// Migrate, one for a leader lock held by TryLead.
const reservedConns = 2

// DB is an open PostgreSQL database: a pgx pool, and a database/sql view
// of it that accepts "?" placeholders. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	sql    *sql.DB
	schema string
	log    *slog.Logger

	// The write lock's statements (keys inlined: one round trip each).
	lockExclusive, lockShared string
	migrateKey                int64

	mu     sync.Mutex
	leases map[*lease]struct{} // leader locks held; released by Close
	closed bool
}

// Open connects to the PostgreSQL database dsn names (a URL such as
// postgres://user@host:5432/db?sslmode=disable, or key=value pairs; a
// search_path parameter selects the schema) and applies any pending
// migrations. It fails if the server does not answer within ctx.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	if opt.MaxConns <= 0 {
		opt.MaxConns = 10
	}
	if opt.ConnMaxIdleTime <= 0 {
		opt.ConnMaxIdleTime = 5 * time.Minute
	}
	if opt.ConnMaxLifetime <= 0 {
		opt.ConnMaxLifetime = time.Hour
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	cfg.MaxConns = int32(opt.MaxConns + reservedConns)
	cfg.MaxConnIdleTime = opt.ConnMaxIdleTime
	cfg.MaxConnLifetime = opt.ConnMaxLifetime
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", describe(cfg), err)
	}
	if schema == nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: the search_path names no existing schema", describe(cfg))
	}

	// database/sql keeps its connections (up to MaxConns) rather than
	// handing each back to pgxpool after every statement, so statements
	// it prepared stay prepared; pgxpool's two extra connections stay free
	// for Migrate and TryLead.
	db := sql.OpenDB(rebindConnector{stdlib.GetPoolConnector(pool)})
	db.SetMaxOpenConns(opt.MaxConns)
	db.SetMaxIdleConns(opt.MaxConns)
	db.SetConnMaxIdleTime(opt.ConnMaxIdleTime)
	db.SetConnMaxLifetime(opt.ConnMaxLifetime)

	writeKey := lockKey(*schema, "write")
	d := &DB{
		pool:          pool,
		sql:           db,
		schema:        *schema,
		log:           opt.Logger,
		lockExclusive: "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(writeKey, 10) + ")",
		lockShared:    "SELECT pg_advisory_xact_lock_shared(" + strconv.FormatInt(writeKey, 10) + ")",
		migrateKey:    lockKey(*schema, "migrate"),
		leases:        map[*lease]struct{}{},
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open postgres %s: %w", describe(cfg), err)
	}
	return d, nil
}

// describe names the database of cfg for errors and logs, without its
// password.
func describe(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// lockKey is the advisory lock key of purpose in schema: 64 bits of
// FNV-1a over both, so keys of different schemas do not collide.
func lockKey(schema, purpose string) int64 {
	h := fnv.New64a()
	h.Write([]byte("aftercare\x00" + schema + "\x00" + purpose))
	return int64(h.Sum64())
}

// Name returns "postgres".
func (d *DB) Name() string { return "postgres" }

// Writer returns the database/sql handle for writes; its queries take "?"
// placeholders. It is the same pool as Reader.
func (d *DB) Writer() *sql.DB { return d.sql }

// Reader returns the database/sql handle for reads: the same pool as
// Writer (PostgreSQL has no single-writer limit to work around).
func (d *DB) Reader() *sql.DB { return d.sql }

// Pool returns the pgx pool under Writer and Reader, for what database/sql
// cannot do (CopyFrom for bulk copies). Its connections count against the
// same limit.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Schema returns the schema the database's tables live in.
func (d *DB) Schema() string { return d.schema }

// BeginWrite starts a write transaction. An exclusive one is serialized
// against every other write transaction of every process on this schema
// (pg_advisory_xact_lock); a shared one (the dispatcher's claims and
// outcomes, which SKIP LOCKED keeps apart) only against exclusive ones
// (pg_advisory_xact_lock_shared). The lock is taken first, before any
// row lock, and held until commit or rollback, so it adds no deadlock.
func (d *DB) BeginWrite(ctx context.Context, exclusive bool) (*sql.Tx, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin write: %w", err)
	}
	q := d.lockShared
	if exclusive {
		q = d.lockExclusive
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("begin write: take the write lock: %w", err)
	}
	return tx, nil
}

// IDList returns SQL that selects, as a column of BIGINT named value, the
// ids of one parameter holding a JSON array as text ("[1,2,3]").
func (d *DB) IDList() string {
	return `SELECT value::bigint AS value FROM jsonb_array_elements_text(?::jsonb) AS ids(value)`
}

// SkipLocked returns the suffix of the claim's subquery that lets
// replicas claim disjoint batches: "FOR UPDATE SKIP LOCKED".
func (d *DB) SkipLocked() string { return "FOR UPDATE SKIP LOCKED" }

// IsUniqueViolation reports whether err is (or wraps) PostgreSQL's
// unique_violation (SQLSTATE 23505).
func (d *DB) IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// lease is a leader lock held on its own pool connection.
type lease struct {
	conn *pgxpool.Conn
	key  int64
	once sync.Once
}

// TryLead tries to take the session-level advisory lock key (within this
// schema) on a pool connection of its own, without waiting: ok says
// whether this process now leads. The lock is held until release is
// called (safe to call more than once, and after Close) or until its
// connection dies, when the server frees it for another replica to take;
// nothing tells the holder of the latter, so a leader should work in
// rounds that each take and release the lock, or tolerate a second
// leader for a while. When !ok, release does nothing.
func (d *DB) TryLead(ctx context.Context, key int64) (release func(), ok bool, err error) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return func() {}, false, errors.New("try lead: database closed")
	}
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return func() {}, false, fmt.Errorf("try lead: %w", err)
	}
	k := lockKey(d.schema, "lead:"+strconv.FormatInt(key, 10))
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, k).Scan(&ok); err != nil {
		conn.Release()
		return func() {}, false, fmt.Errorf("try lead: %w", err)
	}
	if !ok {
		conn.Release()
		return func() {}, false, nil
	}
	l := &lease{conn: conn, key: k}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		l.release()
		return func() {}, false, errors.New("try lead: database closed")
	}
	d.leases[l] = struct{}{}
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		delete(d.leases, l)
		d.mu.Unlock()
		l.release()
	}, true, nil
}

// release unlocks the lease's lock and gives its connection back; if the
// unlock fails the connection is closed, which frees the lock as surely.
func (l *lease) release() {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var unlocked bool
		if err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&unlocked); err != nil || !unlocked {
			l.conn.Conn().Close(ctx)
		}
		l.conn.Release()
	})
}

// SyncIdentities moves every identity sequence of the schema past its
// table's largest id. Rows inserted with explicit ids (a copy from
// SQLite) leave the sequences behind, where the next insert would collide;
// SQLite itself always takes max(id)+1.
func (d *DB) SyncIdentities(ctx context.Context) error {
	rows, err := d.pool.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = $1 AND is_identity = 'YES' ORDER BY table_name`, d.schema)
	if err != nil {
		return fmt.Errorf("sync identities: %w", err)
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			rows.Close()
			return fmt.Errorf("sync identities: %w", err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sync identities: %w", err)
	}
	for _, c := range cols {
		t, cl := quoteIdent(c.table), quoteIdent(c.column)
		q := `SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(` + cl + `), 0) + 1, false) FROM ` + t
		if _, err := d.pool.Exec(ctx, q, quoteIdent(d.schema)+"."+t, c.column); err != nil {
			return fmt.Errorf("sync identities of %s: %w", c.table, err)
		}
	}
	return nil
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '"')
		}
		out = append(out, s[i])
	}
	return string(append(out, '"'))
}

// Close releases any leader lock still held and closes every connection.
// It waits for connections in use (an open transaction, unclosed rows).
func (d *DB) Close() error {
	d.mu.Lock()
	d.closed = true
	leases := d.leases
	d.leases = map[*lease]struct{}{}
	d.mu.Unlock()
	for l := range leases {
		l.release()
	}
	err := d.sql.Close()
	d.pool.Close()
	if err != nil {
		return fmt.Errorf("close postgres: %w", err)
	}
	return nil
}
