package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/postgres"
	"github.com/aftercare/aftercare/store/sqlite"
)

// Migrate copies the SQLite database from names (a file path or
// sqlite:PATH) into the empty PostgreSQL database to names (postgres://…),
// and prints each table's row count to w. The daemon may keep running on
// from: the copy reads a private snapshot (store.Backup), removed
// afterwards, so rows written after the snapshot stay behind; stop the
// daemon first to move a clinic for good. to is migrated to the current
// schema and must hold no row in any table (postgres.ErrNotEmpty
// otherwise); the copy is one transaction, verified table by table, and
// its identity sequences are moved past the copied ids.
func Migrate(ctx context.Context, w io.Writer, from, to string) error {
	if from == "" || to == "" {
		return errors.New("migrate: --from and --to are required")
	}
	if _, ok := sqlite.IsDSN(from); !ok {
		return fmt.Errorf("migrate: --from must be a SQLite database (a file path or sqlite:PATH), not %s", store.RedactDSN(from))
	}
	if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
		return fmt.Errorf("migrate: --to must be a PostgreSQL database (postgres://…), not %s", store.RedactDSN(to))
	}

	dir, err := os.MkdirTemp("", "aftercare-migrate-")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer os.RemoveAll(dir)
	snap := filepath.Join(dir, "snapshot.db")
	if err := store.Backup(ctx, from, snap); err != nil {
		return fmt.Errorf("migrate: snapshot %s: %w", from, err)
	}
	// Bring the snapshot (never the source) to this version's schema, so
	// an older database copies into PostgreSQL's current one.
	s, err := store.Open(ctx, snap, store.Options{})
	if err != nil {
		return fmt.Errorf("migrate: upgrade the snapshot: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("migrate: upgrade the snapshot: %w", err)
	}
	src, err := sql.Open("sqlite", "file:"+snap+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("migrate: open the snapshot: %w", err)
	}
	defer src.Close()

	dst, err := postgres.Open(ctx, to, postgres.Options{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer dst.Close()
	counts, err := dst.CopyFromSQLite(ctx, src)
	if err != nil {
		return fmt.Errorf("migrate into %s: %w", store.RedactDSN(to), err)
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS")
	var total int64
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%d\n", c.Table, c.Rows)
		total += c.Rows
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ncopied %d rows in %d tables; every table's count matches the snapshot.\n", total, len(counts))
	return nil
}
