package app

import (
	"context"
	"fmt"
	"time"

	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/store"
)

// Backup writes an online, consistent snapshot of cfg's database to dest
// (created 0600; it must not exist). The daemon may be running: the copy
// reads one snapshot on a connection of its own and takes no lock the
// daemon needs.
func Backup(ctx context.Context, cfg *config.Config, dest string) error {
	if err := store.Backup(ctx, cfg.DB, dest); err != nil {
		return fmt.Errorf("back up %s: %w", cfg.DB, err)
	}
	return nil
}

// Restore replaces cfg's database with the backup at src (see
// store.Restore). It refuses while a daemon runs on the database, and
// flags every message that may have gone out since the backup was taken,
// so the provider is asked before it is sent. It returns how many messages
// it flagged and where the replaced database went ("" if none).
func Restore(ctx context.Context, cfg *config.Config, src string, now time.Time) (int, string, error) {
	release, err := lockDB(cfg.DB)
	if err != nil {
		return 0, "", fmt.Errorf("restore: %w", err)
	}
	defer release()
	n, moved, err := store.Restore(ctx, src, cfg.DB, now)
	if err != nil {
		return 0, moved, err
	}
	return n, moved, nil
}
