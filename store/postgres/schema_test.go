package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/store/postgres"
)

// schema is what two databases must agree on: per table, its columns in
// order, primary key, foreign keys, number of CHECK constraints, and its
// indexes (named ones by name; those behind UNIQUE constraints, which the
// databases name differently, by what they index).
type schema map[string]*table

type table struct {
	columns     []string // "name type [not null] [default X]"
	primaryKey  string   // "(a, b)"
	foreignKeys []string // "col -> table(col)", sorted
	checks      int
	indexes     map[string]string // name -> "[unique] (cols) [where pred]"
	uniques     []string          // unnamed: "unique (cols)", sorted
}

// The PostgreSQL schema is the final SQLite schema, table for table,
// column for column, index for index.
func TestSchemaMatchesSQLite(t *testing.T) {
	t.Parallel()
	want := sqliteSchema(t)
	db, _ := setup(t)
	got := postgresSchema(t, db)

	for _, name := range union(keys(want), keys(got)) {
		w, g := want[name], got[name]
		switch {
		case g == nil:
			t.Errorf("table %s: missing in PostgreSQL", name)
			continue
		case w == nil:
			t.Errorf("table %s: not in SQLite", name)
			continue
		}
		if !slices.Equal(w.columns, g.columns) {
			t.Errorf("table %s columns:\nSQLite:     %s\nPostgreSQL: %s", name, strings.Join(w.columns, ", "), strings.Join(g.columns, ", "))
		}
		if w.primaryKey != g.primaryKey {
			t.Errorf("table %s primary key: SQLite %s, PostgreSQL %s", name, w.primaryKey, g.primaryKey)
		}
		if !slices.Equal(w.foreignKeys, g.foreignKeys) {
			t.Errorf("table %s foreign keys: SQLite %v, PostgreSQL %v", name, w.foreignKeys, g.foreignKeys)
		}
		if w.checks != g.checks {
			t.Errorf("table %s: %d CHECK constraints in SQLite, %d in PostgreSQL", name, w.checks, g.checks)
		}
		if !slices.Equal(w.uniques, g.uniques) {
			t.Errorf("table %s unique constraints: SQLite %v, PostgreSQL %v", name, w.uniques, g.uniques)
		}
		for _, ix := range union(keys(w.indexes), keys(g.indexes)) {
			if w.indexes[ix] != g.indexes[ix] {
				t.Errorf("table %s index %s: SQLite %q, PostgreSQL %q", name, ix, w.indexes[ix], g.indexes[ix])
			}
		}
	}
	if len(want) < 15 {
		t.Errorf("only %d SQLite tables: is the store's schema read?", len(want))
	}
}

// sqliteSchema opens a fresh store (all of its migrations, Go steps
// included) and reads its schema back.
func sqliteSchema(t *testing.T) schema {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aftercare.db")
	s, err := store.Open(ctxT(t), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := ctxT(t)

	out := schema{}
	tables := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	for _, name := range tables {
		tb := &table{indexes: map[string]string{}}
		out[name] = tb
		var ddl string
		if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		tb.checks = len(regexp.MustCompile(`(?i)\bCHECK\s*\(`).FindAllString(ddl, -1))

		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid`, name)
		if err != nil {
			t.Fatal(err)
		}
		pk := map[int]string{}
		for rows.Next() {
			var col, typ string
			var notNull bool
			var dflt sql.NullString
			var pkPos int
			if err := rows.Scan(&col, &typ, &notNull, &dflt, &pkPos); err != nil {
				t.Fatal(err)
			}
			if pkPos > 0 {
				pk[pkPos] = col
				notNull = true // a primary key is never NULL in PostgreSQL (nor, in use, here)
			}
			tb.columns = append(tb.columns, column(col, map[string]string{"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea"}[typ], notNull, dflt))
		}
		rows.Close()
		var pkCols []string
		for i := 1; i <= len(pk); i++ {
			pkCols = append(pkCols, pk[i])
		}
		tb.primaryKey = "(" + strings.Join(pkCols, ", ") + ")"

		rows, err = db.QueryContext(ctx, `SELECT "from", "table", "to" FROM pragma_foreign_key_list(?)`, name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var from, to, toCol string
			if err := rows.Scan(&from, &to, &toCol); err != nil {
				t.Fatal(err)
			}
			tb.foreignKeys = append(tb.foreignKeys, fmt.Sprintf("%s -> %s(%s)", from, to, toCol))
		}
		rows.Close()
		slices.Sort(tb.foreignKeys)

		type index struct {
			name, origin string
			unique       bool
		}
		var indexes []index
		rows, err = db.QueryContext(ctx, `SELECT name, origin, "unique" FROM pragma_index_list(?)`, name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ix index
			if err := rows.Scan(&ix.name, &ix.origin, &ix.unique); err != nil {
				t.Fatal(err)
			}
			indexes = append(indexes, ix)
		}
		rows.Close()
		for _, ix := range indexes {
			switch ix.origin {
			case "pk": // compared as the primary key
			case "u":
				cols := queryStrings(t, db, `SELECT name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno`, ix.name)
				tb.uniques = append(tb.uniques, describeIndex(true, cols, ""))
			default:
				var q string
				if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, ix.name).Scan(&q); err != nil {
					t.Fatal(err)
				}
				cols, where := parseCreateIndex(t, q)
				tb.indexes[ix.name] = describeIndex(ix.unique, cols, where)
			}
		}
		slices.Sort(tb.uniques)
	}
	return out
}

// parseCreateIndex returns the indexed columns (or expressions) and the
// WHERE clause of a CREATE INDEX statement.
func parseCreateIndex(t *testing.T, q string) (cols []string, where string) {
	t.Helper()
	open := strings.IndexByte(q, '(')
	if open < 0 {
		t.Fatalf("index without columns: %s", q)
	}
	depth, start := 0, open+1
	for i := open; i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				cols = append(cols, strings.TrimSpace(q[start:i]))
				rest := strings.TrimSpace(q[i+1:])
				if len(rest) >= 6 && strings.EqualFold(rest[:6], "WHERE ") {
					where = rest[6:]
				}
				return cols, where
			}
		case ',':
			if depth == 1 {
				cols = append(cols, strings.TrimSpace(q[start:i]))
				start = i + 1
			}
		}
	}
	t.Fatalf("unbalanced index: %s", q)
	return nil, ""
}

// postgresSchema reads db's schema from PostgreSQL's catalogs.
func postgresSchema(t *testing.T, db *postgres.DB) schema {
	t.Helper()
	ctx := ctxT(t)
	r := db.Reader()
	out := schema{}
	for _, name := range queryStrings(t, r, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`) {
		out[name] = &table{indexes: map[string]string{}}
	}

	rows, err := r.QueryContext(ctx, `SELECT table_name, column_name, data_type, is_nullable = 'NO', column_default
		FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tbl, col, typ string
		var notNull bool
		var dflt sql.NullString
		if err := rows.Scan(&tbl, &col, &typ, &notNull, &dflt); err != nil {
			t.Fatal(err)
		}
		out[tbl].columns = append(out[tbl].columns, column(col, typ, notNull, dflt))
	}
	rows.Close()

	rows, err = r.QueryContext(ctx, `SELECT t.relname, c.contype,
			(SELECT string_agg(a.attname, ', ' ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
			coalesce(f.relname, ''),
			coalesce((SELECT string_agg(a.attname, ', ' ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n), '')
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid
		LEFT JOIN pg_class f ON f.oid = c.confrelid
		WHERE t.relnamespace = current_schema()::regnamespace AND c.contype IN ('p', 'f', 'c', 'u')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tbl, typ, cols, to, toCols string
		if err := rows.Scan(&tbl, &typ, &cols, &to, &toCols); err != nil {
			t.Fatal(err)
		}
		tb := out[tbl]
		switch typ {
		case "p":
			tb.primaryKey = "(" + cols + ")"
		case "f":
			tb.foreignKeys = append(tb.foreignKeys, fmt.Sprintf("%s -> %s(%s)", cols, to, toCols))
		case "c":
			tb.checks++
		case "u":
			tb.uniques = append(tb.uniques, describeIndex(true, strings.Split(cols, ", "), ""))
		}
	}
	rows.Close()

	// Indexes not behind a constraint.
	rows, err = r.QueryContext(ctx, `SELECT t.relname, i.relname, x.indisunique,
			(SELECT string_agg(pg_get_indexdef(x.indexrelid, k, true), E'\x1f' ORDER BY k) FROM generate_series(1, x.indnkeyatts) AS k),
			coalesce(pg_get_expr(x.indpred, x.indrelid, true), '')
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = current_schema()::regnamespace
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tbl, name, cols, where string
		var unique bool
		if err := rows.Scan(&tbl, &name, &unique, &cols, &where); err != nil {
			t.Fatal(err)
		}
		out[tbl].indexes[name] = describeIndex(unique, strings.Split(cols, "\x1f"), where)
	}
	rows.Close()
	for _, tb := range out {
		slices.Sort(tb.foreignKeys)
		slices.Sort(tb.uniques)
	}
	return out
}

var (
	casts  = regexp.MustCompile(`::(text|bigint|integer)\b`)
	spaces = regexp.MustCompile(`\s+`)
)

// normalize makes an SQL fragment of either database comparable: no
// casts, no parentheses, single spaces, lower case.
func normalize(s string) string {
	s = casts.ReplaceAllString(s, "")
	s = strings.NewReplacer("(", " ", ")", " ").Replace(s)
	return strings.TrimSpace(spaces.ReplaceAllString(strings.ToLower(s), " "))
}

func column(name, typ string, notNull bool, dflt sql.NullString) string {
	s := name + " " + typ
	if notNull {
		s += " not null"
	}
	if dflt.Valid {
		s += " default " + normalize(dflt.String)
	}
	return s
}

func describeIndex(unique bool, cols []string, where string) string {
	var norm []string
	for _, c := range cols {
		norm = append(norm, normalize(c))
	}
	s := "(" + strings.Join(norm, ", ") + ")"
	if unique {
		s = "unique " + s
	}
	if where != "" {
		s += " where " + normalize(where)
	}
	return s
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func queryStrings(t *testing.T, db querier, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
