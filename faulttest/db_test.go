package faulttest

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
)

// dbFaultConfig: leases short enough that messages stranded in sending by
// a failed write are recovered within the test.
var dbFaultConfig = `
dispatch:
  tick: "@every 1s"
  housekeeping: "@every 1s"
  concurrency: 16
  lease: 8s
  send_timeout: 3s
  sms_rate: 0
  email_rate: 0
`

// TestDatabaseLocked holds an exclusive lock on the daemon's SQLite file
// from another connection for longer than the daemon's busy timeout while
// texts are in flight: the daemon stays up and reports unready, marks
// nothing sent (the sends that finished meanwhile cannot be recorded),
// and once the lock is released it recovers by itself: outcomes that
// waited out the lock are committed, and any stranded in sending are
// looked up at Twilio rather than sent again.
func TestDatabaseLocked(t *testing.T) {
	t.Parallel()
	f := newSQLiteFixture(t, dbFaultConfig) // SQLite: it holds the file's write lock (BEGIN EXCLUSIVE)
	s := seed(t, f.db, plan{patients: 60, sms: 1, staleIn: 6 * time.Hour, tag: "locked"}, aftercare.SystemClock)
	view := openView(t, f.db)
	f.tw.SetDelay(1500 * time.Millisecond)

	d := f.start()
	d.healthy()
	d.waitFor("sends in flight", 3*time.Minute, func() bool { return len(f.tw.Attempts()) >= 16 })

	lock := holdLock(t, f.db)
	sentAtLock := view.count(aftercare.SMS, aftercare.StatusSent)
	unready := 0
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		if st, _ := d.get("/readyz"); st == 503 {
			unready++
		}
		if st, body := d.get("/healthz"); st != 200 {
			t.Fatalf("healthz while the database is locked: %d %s", st, body)
		}
		if n := view.count(aftercare.SMS, aftercare.StatusSent); n != sentAtLock {
			t.Fatalf("%d texts marked sent while the database was locked", n-sentAtLock)
		}
		time.Sleep(100 * time.Millisecond)
	}
	atTwilio := len(f.tw.Sent())
	lock.release()
	if unready == 0 {
		t.Error("readyz never reported the locked database")
	}

	f.tw.SetDelay(0)
	d.waitFor("every message final after the lock", 3*time.Minute, func() bool { return view.pending() == 0 })
	d.ready()
	if code := d.term(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.tail())
	}
	v := judge(t, view, f.tw, f.mail)
	found := strings.Count(d.logs(), "earlier attempt reached the provider")
	t.Logf("database locked 10s: %d readyz 503s, %d texts at Twilio during the lock, %d recovered by lookup, end state %v",
		unready, atTwilio-sentAtLock, found, v.summary())
	if v.sent != s.total() || v.dupSMS != 0 || v.sentNotThere != 0 || v.unknown != 0 {
		t.Fatalf("end state: %v", v.summary())
	}
}

// dbLock is an exclusive SQLite lock held by a connection of this process.
type dbLock struct {
	t    *testing.T
	db   *sql.DB
	conn *sql.Conn
	once sync.Once
}

// holdLock takes SQLite's write lock on path (BEGIN EXCLUSIVE) and keeps
// it until release.
func holdLock(t *testing.T, path string) *dbLock {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(20000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("take the lock: %v", err)
	}
	l := &dbLock{t: t, db: db, conn: conn}
	t.Cleanup(l.release)
	return l
}

func (l *dbLock) release() {
	l.once.Do(func() {
		if _, err := l.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			l.t.Errorf("release the lock: %v", err)
		}
		l.conn.Close()
		l.db.Close()
	})
}

// faultyOutbox is the store with writes that fail on demand, the way
// SQLite fails them when the disk is full or the file is read-only.
type faultyOutbox struct {
	*store.Store
	mu       sync.Mutex
	err      error // the error every failing write returns
	claimsOK bool  // claims (and housekeeping) still work; only outcomes fail
}

func (f *faultyOutbox) fail(err error, claimsOK bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.claimsOK = err, claimsOK
}

func (f *faultyOutbox) check(claim bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil || claim && f.claimsOK {
		return nil
	}
	return f.err
}

func (f *faultyOutbox) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Claimed, error) {
	if err := f.check(true); err != nil {
		return nil, err
	}
	return f.Store.Claim(ctx, now, limit, lease)
}

func (f *faultyOutbox) Record(ctx context.Context, outs []store.Outcome) (int, error) {
	if err := f.check(false); err != nil {
		return 0, err
	}
	return f.Store.Record(ctx, outs)
}

func (f *faultyOutbox) RecoverLeases(ctx context.Context, now time.Time) (int, error) {
	if err := f.check(true); err != nil {
		return 0, err
	}
	return f.Store.RecoverLeases(ctx, now)
}

func (f *faultyOutbox) SkipStale(ctx context.Context, now time.Time) (int, error) {
	if err := f.check(true); err != nil {
		return 0, err
	}
	return f.Store.SkipStale(ctx, now)
}

// TestDatabaseWritesFailSimulated plays the disk filling up and the file
// turning read-only at the store boundary (what SQLite returns in each
// case), in-process on virtual time, wherever the test runs: first only
// the outcomes fail to commit (the disk filled after the claim), then
// every write. The dispatcher stops sending once an outcome cannot be
// committed, marks nothing sent, and after the fault clears recovers
// without help: texts are looked up before any resend; emails (no lookup)
// are resent at most for the few that were in flight.
func TestDatabaseWritesFailSimulated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"disk full", errors.New("record outcomes: commit: database or disk is full (13)")},
		{"read-only", errors.New("record outcomes: attempt to write a readonly database (8)")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const concurrency = 4
			h := newInproc(t, t0, nil)
			s := seedStore(t, h.app.Store, plan{patients: 20, sms: 1, email: 1, staleIn: 6 * time.Hour, tag: "dbfail",
				at: func(int, int) time.Time { return t0 }}, t0, newYork)
			fo := &faultyOutbox{Store: h.app.Store}
			d := scheduler.NewDispatcher(fo, h.app.Senders, h.clock, slog.New(slog.NewTextHandler(io.Discard, nil)), scheduler.Config{
				Concurrency: concurrency, Lease: time.Minute, SendTimeout: 10 * time.Second})
			view := openView(t, h.db)
			ctx := context.Background()

			// The disk fills after the claim: outcomes cannot be committed.
			fo.fail(tc.err, true)
			if _, err := d.RunOnce(ctx); err == nil || !strings.Contains(err.Error(), tc.err.Error()) {
				t.Fatalf("RunOnce with failing commits: %v, want the store's error", err)
			}
			reached := len(h.tw.Sent()) + len(h.mail.Messages())
			if n := view.count("", aftercare.StatusSent); n != 0 {
				t.Fatalf("%d messages marked sent while outcomes could not be committed", n)
			}
			// Sends run ahead of the group commit by at most the window
			// (2 × concurrency by default), then stop at the failed commit.
			if window := 2 * concurrency; reached == 0 || reached > window {
				t.Fatalf("%d messages reached a provider with outcomes failing, want 1..%d (sending stops at the first failed commit)", reached, window)
			}
			emailsAtRisk := len(h.mail.Messages())

			// Then every write fails, for ten minutes.
			fo.fail(tc.err, false)
			for i := 0; i < 5; i++ {
				h.clock.Advance(2 * time.Minute)
				if _, err := fo.RecoverLeases(ctx, h.clock.Now()); err == nil {
					t.Fatal("housekeeping wrote through the fault")
				}
				if _, err := d.RunOnce(ctx); err == nil {
					t.Fatal("RunOnce succeeded with every write failing")
				}
			}
			if got := len(h.tw.Sent()) + len(h.mail.Messages()); got != reached {
				t.Fatalf("%d more messages went out while no write could succeed", got-reached)
			}

			// The fault clears: housekeeping and dispatch carry on alone.
			fo.fail(nil, false)
			for i := 0; i < 10 && view.pending() > 0; i++ {
				h.clock.Advance(time.Minute)
				if _, err := fo.RecoverLeases(ctx, h.clock.Now()); err != nil {
					t.Fatal(err)
				}
				if _, err := d.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			v := judge(t, view, h.tw, h.mail)
			t.Logf("%s: %d messages reached a provider before sending stopped; end state %v", tc.name, reached, v.summary())
			if v.sent != s.total() || v.notFinal != 0 || v.dupSMS != 0 || v.sentNotThere != 0 || v.unknown != 0 {
				t.Fatalf("end state: %v", v.summary())
			}
			if v.dupEmail > emailsAtRisk {
				t.Fatalf("%d emails sent twice, more than the %d in flight when commits failed", v.dupEmail, emailsAtRisk)
			}
		})
	}
}
