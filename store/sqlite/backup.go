package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Durability.
//
// The writer runs with journal_mode=WAL and synchronous=FULL: every commit
// syncs the WAL before it returns, so whatever the daemon acknowledged
// outside the process after a commit (an enrollment's 201, a STOP, an
// unsubscribe, a message marked sent or failed, a receipt) survives a power
// cut. With NORMAL, a commit in WAL mode is durable only once the WAL is
// next synced (at a checkpoint): a power cut could roll back a "sent" and
// the text would go out again. The cost is one fsync per commit, which the
// writer's callers amortise by committing in groups (enrollments in
// enrollQueue, outcomes in the dispatcher's pipelined recorder).

// synchronous normalises Options.Synchronous: FULL unless NORMAL was asked
// for (EXTRA, a further sync of the directory after a rollback journal is
// deleted, buys nothing in WAL mode).
func synchronous(v string) string {
	if strings.EqualFold(v, "NORMAL") {
		return "NORMAL"
	}
	return "FULL"
}

// Backup writes a consistent snapshot of the database at dbPath to dest,
// while a daemon may be running on it: VACUUM INTO on a connection of its
// own reads one WAL snapshot (it never blocks the daemon's writer) and
// writes a compact copy with no WAL. dest must not exist. The copy is
// written to a temporary file created 0600 next to dest, synced, and
// renamed into place, so dest is either absent or complete.
func Backup(ctx context.Context, dbPath, dest string) error {
	if dbPath == "" || dest == "" {
		return errors.New("backup: database and destination paths are required")
	}
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("backup: %s already exists", dest)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	dir := filepath.Dir(dest)
	tmp, err := os.CreateTemp(dir, filepath.Base(dest)+".partial-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpPath := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmpPath)
		}
	}()
	// CreateTemp makes the file 0600; say so, whatever the umask.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}

	// Read-only pragmas are not used: VACUUM INTO writes only its target.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", dbPath, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// VACUUM INTO accepts an existing empty file and keeps its mode.
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmpPath); err != nil {
		return fmt.Errorf("backup: copy %s: %w", dbPath, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmpPath); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := checkCopy(ctx, tmpPath); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// Link, not rename: it fails if dest appeared meanwhile.
	if err := os.Link(tmpPath, dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	os.Remove(tmpPath)
	ok = true
	if err := syncFile(dir); err != nil {
		return fmt.Errorf("backup: sync %s: %w", dir, err)
	}
	return nil
}

// checkCopy runs SQLite's integrity check on a finished copy.
func checkCopy(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return fmt.Errorf("check copy: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("check copy: %s", res)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Restore puts the backup at src in place of the database at dbPath (no
// daemon may be running on it): whatever is at dbPath (with its -wal and
// -shm) is moved aside to dbPath.replaced-TIME and the backup is copied in
// (0600, synced). It returns where the replaced files went ("" if there
// were none). The caller then flags what may have gone out since the
// backup (store.Restore).
func Restore(ctx context.Context, src, dbPath string, now time.Time) (movedTo string, err error) {
	if err := checkCopy(ctx, src); err != nil {
		return "", fmt.Errorf("restore: %s is not a usable backup: %w", src, err)
	}
	if _, err := os.Stat(dbPath); err == nil {
		movedTo = dbPath + ".replaced-" + now.UTC().Format("20060102T150405Z")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(dbPath+suffix, movedTo+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("restore: move %s aside: %w", dbPath+suffix, err)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("restore: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return movedTo, fmt.Errorf("restore: %w", err)
		}
	}
	if err := copyFile(src, dbPath); err != nil {
		return movedTo, fmt.Errorf("restore: %w", err)
	}
	return movedTo, nil
}

// copyFile copies src to a new dest (0600) and syncs it and its directory.
func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return syncFile(filepath.Dir(dest))
}
