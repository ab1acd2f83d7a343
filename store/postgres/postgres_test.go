package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store/postgres"
)

// wait is how long a test waits for something that should happen at once:
// long, so a loaded machine does not fail it; a pass never waits it out.
const wait = 30 * time.Second

// setup opens a fresh database (its own schema) and closes it when t ends.
func setup(t *testing.T) (*postgres.DB, string) {
	t.Helper()
	dsn := testsupport.PostgresDSN(t)
	return open(t, dsn, postgres.Options{}), dsn
}

func open(t *testing.T, dsn string, opt postgres.Options) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	db, err := postgres.Open(ctx, dsn, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// lockedWriter is a log destination safe for concurrent writes.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestOpenConcurrentlyMigratesOnce(t *testing.T) {
	t.Parallel()
	dsn := testsupport.PostgresDSN(t)
	names, err := postgres.MigrationNames()
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v, %v", names, err)
	}
	logs := &lockedWriter{}
	logger := slog.New(slog.NewTextHandler(logs, nil))

	const replicas = 3
	start := make(chan struct{})
	dbs := make([]*postgres.DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			dbs[i], errs[i] = postgres.Open(ctx, dsn, postgres.Options{Logger: logger})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		return
	}
	if got := strings.Count(logs.String(), "applied migration"); got != len(names) {
		t.Errorf("%d migrations applied across %d replicas, want %d:\n%s", got, replicas, len(names), logs)
	}
	var recorded []string
	rows, err := dbs[0].Reader().QueryContext(ctxT(t), `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, n)
	}
	if fmt.Sprint(recorded) != fmt.Sprint(names) {
		t.Errorf("recorded migrations %v, want %v", recorded, names)
	}

	// Once applied, a migration is not applied again.
	if err := dbs[1].Migrate(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(logs.String(), "applied migration"); got != len(names) {
		t.Errorf("Migrate applied migrations again: %d lines", got)
	}
}

func TestOpenWithoutSchema(t *testing.T) {
	t.Parallel()
	dsn := testsupport.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "no_such_schema")
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctxT(t), u.String(), postgres.Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a search_path naming no schema")
	}
	if !strings.Contains(err.Error(), "search_path") {
		t.Errorf("error %q does not say what is wrong", err)
	}
}

func TestDriverBasics(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	if db.Name() != "postgres" {
		t.Errorf("Name() = %q", db.Name())
	}
	if db.SkipLocked() != "FOR UPDATE SKIP LOCKED" {
		t.Errorf("SkipLocked() = %q", db.SkipLocked())
	}
	if db.Writer() == nil || db.Reader() == nil {
		t.Fatal("no database/sql handles")
	}
}

// The store's portable SQL, with "?" placeholders, runs through
// database/sql: plain statements, transactions and prepared statements.
func TestPlaceholders(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := ctxT(t)
	w := db.Writer()

	var id int64
	err := w.QueryRowContext(ctx, `INSERT INTO clinics(name, phone, timezone, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		"Glow 'n' ?", "+14155550100", "UTC", int64(1)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	var name, lit string
	err = db.Reader().QueryRowContext(ctx, `SELECT name, '?' -- is this a placeholder? no
		FROM clinics WHERE id = ? AND name <> '' AND "name" = ?`, id, "Glow 'n' ?").Scan(&name, &lit)
	if err != nil || name != "Glow 'n' ?" || lit != "?" {
		t.Fatalf("select = %q, %q, %v", name, lit, err)
	}

	// ON CONFLICT … DO UPDATE with excluded.
	for _, v := range []string{"one", "two"} {
		if _, err := w.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, "k", v); err != nil {
			t.Fatal(err)
		}
	}
	var v string
	if err := w.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, "k").Scan(&v); err != nil || v != "two" {
		t.Fatalf("upsert left %q, %v", v, err)
	}

	// Prepared statements, on the pool and inside a transaction, and a
	// prepared SAVEPOINT (the enrollment groups use them).
	ins, err := w.PrepareContext(ctx, `INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`)
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	sel, err := w.PrepareContext(ctx, `SELECT count(*) FROM settings WHERE key LIKE ? || '%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	sp, err := w.PrepareContext(ctx, `SAVEPOINT enrollment`)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	rollbackTo, err := w.PrepareContext(ctx, `ROLLBACK TO SAVEPOINT enrollment`)
	if err != nil {
		t.Fatal(err)
	}
	defer rollbackTo.Close()

	for i := range 3 {
		if _, err := ins.ExecContext(ctx, fmt.Sprintf("p:%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.BeginWrite(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, ins).ExecContext(ctx, "p:3", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.StmtContext(ctx, sp).ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.StmtContext(ctx, ins).ExecContext(ctx, "p:4", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.StmtContext(ctx, rollbackTo).ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := sel.QueryRowContext(ctx, "p:").Scan(&n); err != nil || n != 4 {
		t.Fatalf("count = %d, %v; want 4 (p:0…p:3, p:4 rolled back)", n, err)
	}
}

func TestIDList(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	tests := []struct {
		in   string
		want []int64
	}{
		{`[]`, nil},
		{`[3,1,2]`, []int64{1, 2, 3}},
		{`[9007199254740993]`, []int64{9007199254740993}},
	}
	for _, tt := range tests {
		rows, err := db.Reader().QueryContext(ctxT(t), `SELECT value FROM (`+db.IDList()+`) AS t ORDER BY value`, tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		var got []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			got = append(got, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("IDList(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
	// The shape the store uses it in: id IN (…).
	var n int
	err := db.Reader().QueryRowContext(ctxT(t), `SELECT count(*) FROM clinics WHERE id IN (`+db.IDList()+`)`, `[1,2]`).Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("id IN (IDList) = %d, %v", n, err)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := ctxT(t)
	insert := func() error {
		_, err := db.Writer().ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('a', 'b')`)
		return err
	}
	if err := insert(); err != nil {
		t.Fatal(err)
	}
	dup := insert()
	_, notNull := db.Writer().ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('c', NULL)`)
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"duplicate key", dup, true},
		{"wrapped", fmt.Errorf("save setting: %w", dup), true},
		{"not null", notNull, false},
		{"other", errors.New("23505"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := db.IsUniqueViolation(tt.err); got != tt.want {
			t.Errorf("%s: IsUniqueViolation(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// waitingWriters counts transactions waiting for the write lock of schema.
func waitingWriters(t *testing.T, db *postgres.DB) int {
	t.Helper()
	key := postgres.LockKey(db.Schema(), "write")
	var n int
	err := db.Reader().QueryRowContext(ctxT(t), `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND NOT granted AND classid = ?::bigint::oid AND objid = ?::bigint::oid AND objsubid = 1`,
		int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Two processes on one database: BeginWrite's exclusive transactions
// exclude every other write transaction; shared ones only exclusive ones.
func TestBeginWriteExclusion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		first, second bool // exclusive?
		blocks        bool
	}{
		{first: true, second: true, blocks: true},
		{first: true, second: false, blocks: true},
		{first: false, second: true, blocks: true},
		{first: false, second: false, blocks: false},
	}
	kind := map[bool]string{true: "exclusive", false: "shared"}
	for _, tt := range tests {
		t.Run(kind[tt.first]+" then "+kind[tt.second], func(t *testing.T) {
			t.Parallel()
			a, dsn := setup(t)
			b := open(t, dsn, postgres.Options{})

			first, err := a.BeginWrite(ctxT(t), tt.first)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Rollback()

			type result struct {
				tx  *sql.Tx
				err error
			}
			got := make(chan result, 1)
			ctx := ctxT(t)
			go func() {
				tx, err := b.BeginWrite(ctx, tt.second)
				got <- result{tx, err}
			}()
			// If the test stops early, the second transaction still ends
			// (after the first, deferred above, rolls back), before b closes.
			taken := false
			t.Cleanup(func() {
				if !taken {
					if r := <-got; r.tx != nil {
						r.tx.Rollback()
					}
				}
			})

			if !tt.blocks {
				select {
				case r := <-got:
					taken = true
					if r.err != nil {
						t.Fatal(r.err)
					}
					defer r.tx.Rollback()
					// Both hold the lock at once and can write.
					if _, err := r.tx.Exec(`INSERT INTO settings(key, value) VALUES ('b', '')`); err != nil {
						t.Fatal(err)
					}
					if _, err := first.Exec(`INSERT INTO settings(key, value) VALUES ('a', '')`); err != nil {
						t.Fatal(err)
					}
					if err := r.tx.Commit(); err != nil {
						t.Fatal(err)
					}
					if err := first.Commit(); err != nil {
						t.Fatal(err)
					}
				case <-time.After(wait):
					t.Fatal("a shared write transaction waited for another shared one")
				}
				return
			}

			testsupport.WaitFor(t, "the second transaction waits for the write lock", wait, func() bool { return waitingWriters(t, a) == 1 })
			select {
			case r := <-got:
				taken = true
				if r.tx != nil {
					r.tx.Rollback()
				}
				t.Fatalf("second BeginWrite returned while the first held the lock: %v", r.err)
			default:
			}
			if err := first.Commit(); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-got:
				taken = true
				if r.err != nil {
					t.Fatal(r.err)
				}
				r.tx.Rollback()
			case <-time.After(wait):
				t.Fatal("second BeginWrite still waits after the first committed")
			}
		})
	}
}

// A cancelled wait for the write lock returns, and leaves the lock free.
func TestBeginWriteCancelled(t *testing.T) {
	t.Parallel()
	a, dsn := setup(t)
	b := open(t, dsn, postgres.Options{})
	first, err := a.BeginWrite(ctxT(t), true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		tx, err := b.BeginWrite(ctx, true)
		if err == nil {
			tx.Rollback()
		}
		done <- err
	}()
	testsupport.WaitFor(t, "the second transaction waits", wait, func() bool { return waitingWriters(t, a) == 1 })
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("BeginWrite succeeded while another held the lock")
		}
	case <-time.After(wait):
		t.Fatal("a cancelled BeginWrite did not return")
	}
	if err := first.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx, err := b.BeginWrite(ctxT(t), true)
	if err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
}

func TestTryLead(t *testing.T) {
	t.Parallel()
	a, dsn := setup(t)
	b := open(t, dsn, postgres.Options{})
	ctx := ctxT(t)
	const key = 42

	releaseA, ok, err := a.TryLead(ctx, key)
	if err != nil || !ok {
		t.Fatalf("first TryLead = %v, %v", ok, err)
	}
	if _, ok, err := b.TryLead(ctx, key); err != nil || ok {
		t.Fatalf("second process leads too: %v, %v", ok, err)
	}
	if _, ok, err := a.TryLead(ctx, key); err != nil || ok {
		t.Fatalf("the leader's second TryLead = %v, %v; want false (one lock, one holder)", ok, err)
	}
	releaseOther, ok, err := b.TryLead(ctx, key+1)
	if err != nil || !ok {
		t.Fatalf("another key is taken: %v, %v", ok, err)
	}
	releaseOther()

	releaseA()
	releaseA() // harmless
	releaseB, ok, err := b.TryLead(ctx, key)
	if err != nil || !ok {
		t.Fatalf("TryLead after release = %v, %v", ok, err)
	}
	releaseB()
}

// A leader whose connection dies loses the lock to another replica; a
// leader that closes its database releases it.
func TestTryLeadFailover(t *testing.T) {
	t.Parallel()
	dsn := testsupport.PostgresDSN(t)
	a := open(t, dsn, postgres.Options{})
	b := open(t, dsn, postgres.Options{})
	ctx := ctxT(t)
	const key = 7

	releaseA, ok, err := a.TryLead(ctx, key)
	if err != nil || !ok {
		t.Fatalf("TryLead = %v, %v", ok, err)
	}
	k := postgres.LockKey(a.Schema(), "lead:7")
	res, err := b.Writer().ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = ?::bigint::oid AND objid = ?::bigint::oid AND objsubid = 1`,
		int64(uint64(k)>>32), int64(uint64(k)&0xffffffff))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("terminated %d leader connections, want 1", n)
	}
	var releaseB func()
	testsupport.WaitFor(t, "another replica leads", wait, func() bool {
		var ok bool
		releaseB, ok, err = b.TryLead(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	releaseA() // on a dead connection: returns, frees nothing of b's
	if _, ok, _ := a.TryLead(ctx, key); ok {
		t.Fatal("the old leader took the lock back while the new one holds it")
	}
	releaseB()

	// Close releases a lock still held.
	c := open(t, dsn, postgres.Options{})
	if _, ok, err := c.TryLead(ctx, key); err != nil || !ok {
		t.Fatalf("TryLead = %v, %v", ok, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.TryLead(ctx, key); err == nil || ok {
		t.Fatalf("TryLead on a closed database = %v, %v", ok, err)
	}
	release, ok, err := b.TryLead(ctx, key)
	if err != nil || !ok {
		t.Fatalf("TryLead after the leader closed = %v, %v", ok, err)
	}
	release()
}

func TestSyncIdentities(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	ctx := ctxT(t)
	w := db.Writer()
	// A copy from SQLite inserts explicit ids.
	if _, err := w.ExecContext(ctx, `INSERT INTO clinics(id, name, phone, timezone, created_at) VALUES (?, 'a', '', 'UTC', 0)`, 5); err != nil {
		t.Fatal(err)
	}
	if err := db.SyncIdentities(ctx); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := w.QueryRowContext(ctx, `INSERT INTO clinics(name, phone, timezone, created_at) VALUES ('b', '', 'UTC', 0) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id != 6 {
		t.Errorf("next id = %d, want 6", id)
	}
	// On empty tables the next id stays 1.
	var p int64
	if err := w.QueryRowContext(ctx, `INSERT INTO users(clinic_id, email, password_hash, created_at) VALUES (?, 'x@example.com', 'h', 0) RETURNING id`, id).Scan(&p); err != nil {
		t.Fatal(err)
	}
	if p != 1 {
		t.Errorf("first user id = %d, want 1", p)
	}
}
