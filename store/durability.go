package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// Synchronous returns the writer connection's PRAGMA synchronous
// (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA).
func (s *Store) Synchronous(ctx context.Context) (int, error) {
	var v int
	if err := s.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read synchronous setting: %w", err)
	}
	return v, nil
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
