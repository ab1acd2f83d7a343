//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// fileMode is the mode of the database and of the files SQLite keeps next
// to it: they hold names, phone numbers, patients' replies and the key
// that signs unsubscribe links, so only the daemon's user may read them.
const fileMode = 0o600

// sideFiles are the files SQLite keeps next to the database.
var sideFiles = []string{"", "-wal", "-shm", "-journal"}

// secureFiles creates the database file with mode 0600 if it does not
// exist (SQLite gives the -wal and -shm files the mode of the database
// file, whatever the umask), and refuses a database, or a file next to
// it, that other users can read or write.
func secureFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	switch {
	case err == nil:
		// The umask can only take bits away, but make the mode exact.
		err = errors.Join(f.Chmod(fileMode), f.Close())
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		// Let SQLite report what is wrong (a missing directory, a
		// read-only mount), with writableHint.
		return nil
	}
	var loose []string
	for _, suffix := range sideFiles {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			loose = append(loose, fmt.Sprintf("%s is mode %04o", path+suffix, fi.Mode().Perm()))
		}
	}
	if len(loose) > 0 {
		return fmt.Errorf("refusing to open a database other users can read (%s): it holds patients' names, numbers and replies; run `chmod 600 %s*` and start again",
			strings.Join(loose, ", "), shellQuote(path))
	}
	return nil
}

// tightenSideFiles makes the -wal and -shm files 0600 after SQLite opened
// them (they take the database's mode; this also covers files an older
// version left behind with the umask's mode).
func tightenSideFiles(path string) error {
	for _, suffix := range sideFiles[1:] {
		fi, err := os.Stat(path + suffix)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() == fileMode {
			continue // (a read-only mount cannot chmod; nothing to do)
		}
		if err := os.Chmod(path+suffix, fileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("chmod %s: %w", path+suffix, err)
		}
	}
	return nil
}

// shellQuote quotes a path for a command to copy and paste.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
