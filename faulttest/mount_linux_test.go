//go:build linux

package faulttest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// mountOrSkip mounts (syscall.Mount arguments) and unmounts at cleanup, or
// skips the test where mounting is not allowed (not root, no CAP_SYS_ADMIN):
// the simulated variant, TestDatabaseWritesFailSimulated, runs everywhere.
func mountOrSkip(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		t.Skipf("cannot mount %s here (%v); the simulated variant covers this fault", fstype+" "+data, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// TestDiskFull runs the daemon with its database on a 16 MiB tmpfs and
// fills the file system while texts are in flight: the daemon stays up and
// reports unready, marks nothing sent that Twilio did not get, and when
// space is freed it recovers by itself, delivering every message once.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	f := newSQLiteFixture(t, dbFaultConfig) // SQLite: the file's own file system fills up
	fsDir := filepath.Join(f.dir, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mountOrSkip(t, "tmpfs", fsDir, "tmpfs", 0, "size=16m")
	f.db = filepath.Join(fsDir, "aftercare.db")
	s := seed(t, f.db, plan{patients: 60, sms: 1, staleIn: 6 * time.Hour, tag: "full"}, aftercare.SystemClock)
	// The test reads the database only while the disk has room: a reader
	// in another process that reads during the fault can be left with a
	// stale view of the WAL afterwards (seen here; the daemon's own file
	// state was checked and was right).
	w := testsupport.OpenWriter(t, f.db)
	if _, err := w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.tw.SetDelay(1500 * time.Millisecond)

	d := f.start()
	d.healthy()
	d.waitFor("sends in flight", 3*time.Minute, func() bool { return len(f.tw.Attempts()) >= 16 })
	filler := filepath.Join(fsDir, "filler")
	fillDisk(t, filler)

	d.waitFor("readyz reporting the full disk", 3*time.Minute, func() bool { st, _ := d.get("/readyz"); return st == 503 })
	_, body := d.get("/readyz")
	// Hold the disk full for a while: the daemon keeps trying.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if st, _ := d.get("/healthz"); st != 200 {
			t.Fatalf("healthz with the disk full: %d", st)
		}
	}
	atTwilio := len(f.tw.Sent())
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}

	f.tw.SetDelay(0)
	view := openView(t, f.db)
	d.waitFor("every message final once space is back", 3*time.Minute, func() bool { return view.pending() == 0 })
	d.ready()
	if code := d.term(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.tail())
	}
	v := judge(t, view, f.tw, f.mail)
	t.Logf("disk full (real tmpfs): readyz said %s; %d texts at Twilio when the disk filled; end state %v",
		strings.TrimSpace(body), atTwilio, v.summary())
	if !strings.Contains(body, "full") {
		t.Errorf("readyz does not say the disk is full: %s", body)
	}
	// Marked sent only if Twilio has it, and nothing sent twice: checked
	// over the whole run, the fault included.
	if v.sent != s.total() || v.notFinal != 0 || v.dupSMS != 0 || v.sentNotThere != 0 || v.unknown != 0 {
		t.Fatalf("end state: %v", v.summary())
	}
}

// fillDisk writes path until the file system has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	chunk := make([]byte, 64<<10)
	for i := 0; i < 1<<14; i++ { // at most 1 GiB: the tmpfs is far smaller
		if _, err := fh.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				// Fill the last partial chunk too.
				for _, n := range []int{4096, 512, 1} {
					for {
						if _, err := fh.Write(chunk[:n]); err != nil {
							break
						}
					}
				}
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the file system never filled up")
}

// TestReadOnlyDatabaseAtStart starts the daemon on a database that sits on
// a read-only mount: it refuses to start, saying the file is not writable,
// and sends nothing; once the mount is writable again, a restart (what a
// supervisor does) delivers every message once. (A mount cannot be turned
// read-only under a running daemon: Linux refuses while files are open
// for writing; TestDatabaseWritesFailSimulated covers writes failing
// mid-run.)
func TestReadOnlyDatabaseAtStart(t *testing.T) {
	t.Parallel()
	f := newSQLiteFixture(t, dbFaultConfig) // SQLite: the file sits on a read-only mount
	rw, ro := filepath.Join(f.dir, "rw"), filepath.Join(f.dir, "ro")
	for _, dir := range []string{rw, ro} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := seed(t, filepath.Join(rw, "aftercare.db"), plan{patients: 20, sms: 1, email: 1, staleIn: 6 * time.Hour, tag: "ro"}, aftercare.SystemClock)
	mountOrSkip(t, rw, ro, "", syscall.MS_BIND, "")
	if err := syscall.Mount("", ro, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot make the bind mount read-only: %v", err)
	}
	f.db = filepath.Join(ro, "aftercare.db")

	d := f.start()
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("daemon still running on a read-only database")
	}
	log := d.logs()
	if d.exitCode() == 0 || !strings.Contains(log, "not writable") {
		t.Fatalf("exit %d on a read-only database; want a failure saying it is not writable:\n%s", d.exitCode(), log)
	}
	if n := f.tw.Requests() + len(f.mail.Messages()); n != 0 {
		t.Fatalf("%d provider requests from a daemon that could not record them", n)
	}

	if err := syscall.Mount("", ro, "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err != nil {
		t.Fatalf("make the mount writable again: %v", err)
	}
	view := openView(t, f.db)
	d = f.start()
	d.waitFor("every message final", 3*time.Minute, func() bool { return view.pending() == 0 })
	if code := d.term(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.tail())
	}
	v := judge(t, view, f.tw, f.mail)
	t.Logf("read-only at start (real ro bind mount): %s", firstLine(log))
	if v.sent != s.total() || v.dupSMS != 0 || v.dupEmail != 0 || v.sentNotThere != 0 || v.unknown != 0 {
		t.Fatalf("end state: %v", v.summary())
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return fmt.Sprint(s)
}
