//go:build unix

package sqlite

import (
	"path/filepath"
	"syscall"
)

// wOK is W_OK of access(2).
const wOK = 0x2

// writableHint explains a failure to open the database when the file or
// its directory (where SQLite keeps the -wal and -shm files) cannot be
// written: a read-only mount or wrong permissions. It returns "" otherwise.
func writableHint(path string) string {
	for _, p := range []string{path, filepath.Dir(path)} {
		if err := syscall.Access(p, wOK); err != nil && err != syscall.ENOENT {
			return " (" + p + " is not writable: " + err.Error() + ")"
		}
	}
	return ""
}
