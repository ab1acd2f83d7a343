package app

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDB takes an exclusive advisory lock next to the database file, so two
// daemons never dispatch from the same outbox: at start a daemon treats
// every message left in "sending" as its dead predecessor's. The kernel
// releases the lock when the process dies, however it dies.
func lockDB(dbPath string) (release func() error, err error) {
	f, err := os.OpenFile(dbPath+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another aftercare daemon is running on %s", dbPath)
		}
		return nil, fmt.Errorf("lock %s: %w", dbPath, err)
	}
	return func() error {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return f.Close()
	}, nil
}
