package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrNotEmpty is returned by CopyFromSQLite when the target already holds
// a row in some table.
var ErrNotEmpty = errors.New("refusing to migrate into a non-empty database")

// TableCount is how many rows a copy put in one table.
type TableCount struct {
	Table string
	Rows  int64
}

// column is one column of a PostgreSQL table and its data type.
type column struct {
	name, dataType string
}

// CopyFromSQLite copies every table of the SQLite database src (a
// database/sql handle on driver "sqlite"; schema_migrations excepted) into
// this database, which must be freshly migrated and hold no row in any
// table: otherwise it returns ErrNotEmpty and changes nothing. Tables are
// copied in foreign-key order, columns by name, in one transaction that
// holds the exclusive write lock; each table's row count is checked
// against the source before commit (a mismatch rolls everything back) and
// again after. The identity sequences are then moved past the copied ids
// (SyncIdentities). A table or column present on one side only is an
// error naming it. It returns the row count of every table, in copy order.
//
// src should be a snapshot nobody writes to (a backup): the source is read
// in one SQLite transaction, so a live database would still copy
// consistently, but rows written after it would not be copied.
func (d *DB) CopyFromSQLite(ctx context.Context, src *sql.DB) ([]TableCount, error) {
	tables, err := d.copyTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy from sqlite: %w", err)
	}
	stx, err := src.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("copy from sqlite: read the source: %w", err)
	}
	defer stx.Rollback()
	if err := matchSQLiteSchema(ctx, stx, tables); err != nil {
		return nil, fmt.Errorf("copy from sqlite: %w", err)
	}

	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy from sqlite: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, d.lockExclusive); err != nil {
		return nil, fmt.Errorf("copy from sqlite: take the write lock: %w", err)
	}
	for _, t := range tables {
		var has bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+quoteIdent(t.name)+`)`).Scan(&has); err != nil {
			return nil, fmt.Errorf("copy from sqlite: check %s is empty: %w", t.name, err)
		}
		if has {
			return nil, fmt.Errorf("%w: table %s of schema %s holds rows", ErrNotEmpty, t.name, d.schema)
		}
	}

	counts := make([]TableCount, 0, len(tables))
	for _, t := range tables {
		n, err := copyTable(ctx, stx, tx, t)
		if err != nil {
			return nil, fmt.Errorf("copy from sqlite: table %s: %w", t.name, err)
		}
		var want, got int64
		if err := stx.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(t.name)).Scan(&want); err != nil {
			return nil, fmt.Errorf("copy from sqlite: count %s in the source: %w", t.name, err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(t.name)).Scan(&got); err != nil {
			return nil, fmt.Errorf("copy from sqlite: count %s: %w", t.name, err)
		}
		if n != want || got != want {
			return nil, fmt.Errorf("copy from sqlite: table %s: the source holds %d rows, %d were copied and the target holds %d: nothing was committed", t.name, want, n, got)
		}
		counts = append(counts, TableCount{Table: t.name, Rows: got})
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("copy from sqlite: commit: %w", err)
	}
	if err := d.SyncIdentities(ctx); err != nil {
		return counts, fmt.Errorf("copy from sqlite: rows copied, but: %w", err)
	}
	for _, c := range counts {
		var got int64
		if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM `+quoteIdent(c.Table)).Scan(&got); err != nil {
			return counts, fmt.Errorf("copy from sqlite: verify %s: %w", c.Table, err)
		}
		if got != c.Rows {
			return counts, fmt.Errorf("copy from sqlite: verify %s: copied %d rows, the target now holds %d (was something writing to it?)", c.Table, c.Rows, got)
		}
	}
	return counts, nil
}

// pgTable is a table to copy: its name and columns.
type pgTable struct {
	name    string
	columns []column
}

// copyTables lists the schema's tables (schema_migrations excepted) with
// their columns, parents before the tables whose foreign keys refer to
// them (ties by name).
func (d *DB) copyTables(ctx context.Context) ([]pgTable, error) {
	rows, err := d.pool.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`, d.schema)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	cols := map[string][]column{}
	var names []string
	for rows.Next() {
		var table string
		var c column
		if err := rows.Scan(&table, &c.name, &c.dataType); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if _, ok := cols[table]; !ok {
			names = append(names, table)
		}
		cols[table] = append(cols[table], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("schema %s has no tables: is it migrated?", d.schema)
	}

	rows, err = d.pool.Query(ctx, `SELECT child.relname, parent.relname
		FROM pg_constraint k
		JOIN pg_class child ON child.oid = k.conrelid
		JOIN pg_class parent ON parent.oid = k.confrelid
		JOIN pg_namespace n ON n.oid = child.relnamespace
		WHERE k.contype = 'f' AND n.nspname = $1`, d.schema)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	parents := map[string][]string{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list foreign keys: %w", err)
		}
		if child != parent {
			parents[child] = append(parents[child], parent)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}

	order, err := fkOrder(names, parents)
	if err != nil {
		return nil, err
	}
	out := make([]pgTable, len(order))
	for i, n := range order {
		out[i] = pgTable{name: n, columns: cols[n]}
	}
	return out, nil
}

// fkOrder sorts names so that every table comes after the tables it
// refers to (parents), taking the first ready name in name order each
// time, so the order is stable.
func fkOrder(names []string, parents map[string][]string) ([]string, error) {
	names = slices.Sorted(slices.Values(names))
	done := map[string]bool{}
	var order []string
	for len(order) < len(names) {
		progress := false
		for _, n := range names {
			if done[n] {
				continue
			}
			ready := true
			for _, p := range parents[n] {
				if !done[p] && slices.Contains(names, p) {
					ready = false
					break
				}
			}
			if ready {
				done[n] = true
				order = append(order, n)
				progress = true
				break
			}
		}
		if !progress {
			return nil, errors.New("the foreign keys between tables form a cycle: no copy order")
		}
	}
	return order, nil
}

// matchSQLiteSchema checks that the SQLite database has the same tables
// (schema_migrations and SQLite's own excepted) and, in each, the same
// column names as tables, and names the first difference.
func matchSQLiteSchema(ctx context.Context, stx *sql.Tx, tables []pgTable) error {
	rows, err := stx.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("list the source's tables: %w", err)
	}
	var srcTables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("list the source's tables: %w", err)
		}
		srcTables = append(srcTables, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list the source's tables: %w", err)
	}
	for _, n := range srcTables {
		if !slices.ContainsFunc(tables, func(t pgTable) bool { return t.name == n }) {
			return fmt.Errorf("the SQLite database has a table %s that PostgreSQL's schema lacks", n)
		}
	}
	for _, t := range tables {
		if !slices.Contains(srcTables, t.name) {
			return fmt.Errorf("PostgreSQL's schema has a table %s that the SQLite database lacks (is it older than this aftercare?)", t.name)
		}
		rows, err := stx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, t.name)
		if err != nil {
			return fmt.Errorf("list the source's columns of %s: %w", t.name, err)
		}
		var srcCols []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return fmt.Errorf("list the source's columns of %s: %w", t.name, err)
			}
			srcCols = append(srcCols, n)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list the source's columns of %s: %w", t.name, err)
		}
		for _, n := range srcCols {
			if !slices.ContainsFunc(t.columns, func(c column) bool { return c.name == n }) {
				return fmt.Errorf("the SQLite table %s has a column %s that PostgreSQL's lacks", t.name, n)
			}
		}
		for _, c := range t.columns {
			if !slices.Contains(srcCols, c.name) {
				return fmt.Errorf("PostgreSQL's table %s has a column %s that the SQLite table lacks", t.name, c.name)
			}
		}
	}
	return nil
}

// copyTable streams every row of t from the SQLite transaction into the
// PostgreSQL one (COPY), and returns how many it copied.
func copyTable(ctx context.Context, stx *sql.Tx, tx pgx.Tx, t pgTable) (int64, error) {
	names := make([]string, len(t.columns))
	quoted := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = c.name
		quoted[i] = quoteIdent(c.name)
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+quoteIdent(t.name))
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()
	vals := make([]any, len(t.columns))
	ptrs := make([]any, len(t.columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	row := make([]any, len(t.columns))
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("read: %w", err)
			}
			return nil, nil
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		for i, c := range t.columns {
			v, err := convert(vals[i], c.dataType)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			row[i] = v
		}
		return row, nil
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, names, src)
	if err != nil {
		return n, err
	}
	return n, nil
}

// convert turns a value SQLite returned into one for a PostgreSQL column
// of dataType, refusing what the column cannot hold.
func convert(v any, dataType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch dataType {
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
		}
		return nil, fmt.Errorf("want an integer, found %T %v", v, v)
	case "text", "character varying":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
		return nil, fmt.Errorf("want text, found %T %v", v, v)
	}
	return v, nil
}
