package app

import (
	"context"
	"fmt"

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
