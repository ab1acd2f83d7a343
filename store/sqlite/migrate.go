package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies any pending migrations, each in its own transaction and
// recorded in schema_migrations, then makes SQLite's side files private.
func (d *DB) Migrate(ctx context.Context) error {
	if err := d.migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w%s", d.path, err, writableHint(d.path))
	}
	return tightenSideFiles(d.path)
}

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) applyMigration(ctx context.Context, name string) error {
	// One pinned connection: a migration that rebuilds a table turns
	// foreign keys off on it (SQLite ignores that inside a transaction).
	conn, err := d.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	before := goMigrations[name]
	if before != nil {
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer conn.ExecContext(context.Background(), `PRAGMA foreign_keys = ON`)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if n > 0 {
		return nil // another process applied it meanwhile
	}
	if before != nil {
		if err := before(ctx, tx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if before != nil {
		// The rebuild must leave every reference intact.
		var table string
		err := tx.QueryRowContext(ctx, `SELECT "table" FROM pragma_foreign_key_check LIMIT 1`).Scan(&table)
		if err == nil {
			return fmt.Errorf("%s: foreign key check fails in table %s", name, table)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: foreign key check: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)`, name, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// goMigrations are steps SQL alone cannot take, run in the transaction of
// the named migration, before its SQL, with foreign keys off.
var goMigrations = map[string]func(ctx context.Context, tx *sql.Tx) error{
	"migrations/0006_enrollment_guard.sql": rebuildPatients,
}

// uniquePhone is the table-level constraint 0001 gave patients.
var uniquePhone = regexp.MustCompile(`,\s*UNIQUE\s*\(\s*clinic_id\s*,\s*phone\s*\)`)

// rebuildPatients rebuilds the patients table without its table-level
// UNIQUE (clinic_id, phone) (SQLite cannot drop a constraint), following
// SQLite's documented procedure: create the new table from the current
// definition (whatever columns later migrations added), copy the rows,
// drop the old table, rename, recreate its indexes. Rows keep their ids, so
// every reference to a patient holds.
func rebuildPatients(ctx context.Context, tx *sql.Tx) error {
	var ddl string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'patients'`).Scan(&ddl); err != nil {
		return fmt.Errorf("read patients table: %w", err)
	}
	if !uniquePhone.MatchString(ddl) {
		return nil
	}
	ddl = uniquePhone.ReplaceAllString(ddl, "")
	ddl, ok := strings.CutPrefix(ddl, "CREATE TABLE patients")
	if !ok {
		return fmt.Errorf("unexpected patients table definition")
	}
	rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients' AND sql IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("read patients indexes: %w", err)
	}
	var indexes []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			rows.Close()
			return fmt.Errorf("read patients indexes: %w", err)
		}
		indexes = append(indexes, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read patients indexes: %w", err)
	}
	steps := append([]string{
		"CREATE TABLE patients_rebuilt" + ddl,
		`INSERT INTO patients_rebuilt SELECT * FROM patients`,
		`DROP TABLE patients`,
		`ALTER TABLE patients_rebuilt RENAME TO patients`,
	}, indexes...)
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild patients: %w", err)
		}
	}
	return nil
}
