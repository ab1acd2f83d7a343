package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationNames lists the embedded migrations in the order they apply.
func migrationNames() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// Migrate applies the embedded migrations not yet recorded in the
// schema_migrations table, in name order, each in its own transaction
// that also records it. It holds a session-level advisory lock (one per
// schema) throughout, so replicas that start at once apply each migration
// once: the others wait, then find nothing left to do. Open calls it;
// calling it again is cheap.
func (d *DB) Migrate(ctx context.Context) (err error) {
	names, err := migrationNames()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, d.migrateKey); err != nil {
		// The lock may or may not have been taken: closing the
		// connection frees it either way.
		conn.Conn().Close(context.Background())
		conn.Release()
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, d.migrateKey); uerr != nil {
			conn.Conn().Close(uctx)
		}
		conn.Release()
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT COLLATE "C" PRIMARY KEY,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: create migrations table: %w", err)
	}
	applied := map[string]bool{}
	rows, err := conn.Query(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: read applied migrations: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: read applied migrations: %w", err)
		}
		applied[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate: read applied migrations: %w", err)
	}

	for _, name := range names {
		if applied[name] {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		// No arguments: pgx sends the file with the simple protocol, which
		// runs several statements.
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			tx.Rollback(context.Background())
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations(name, applied_at) VALUES ($1, $2)`,
			name, time.Now().UnixMilli()); err != nil {
			tx.Rollback(context.Background())
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		d.log.Info("applied migration", "migration", name, "schema", d.schema)
	}
	return nil
}
