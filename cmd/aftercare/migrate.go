package main

import (
	"context"
	"errors"
	"io"

	"github.com/aftercare/aftercare/app"
)

// migrateCmd is "aftercare migrate --from SQLITE --to POSTGRES".
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, _ := newFlags("migrate", stderr)
	from := fs.String("from", "", "the SQLite database to copy: a file path or sqlite:PATH (the daemon may be running)")
	to := fs.String("to", "", "the empty PostgreSQL database to copy into: postgres://…")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usageError{errors.New("migrate needs --from SQLITE and --to postgres://…")}
	}
	return app.Migrate(ctx, stdout, *from, *to)
}
