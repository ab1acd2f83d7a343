package postgres

import (
	"strconv"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"none", `SELECT 1`, `SELECT 1`, 0},
		{"empty", ``, ``, 0},
		{"one", `SELECT * FROM t WHERE id = ?`, `SELECT * FROM t WHERE id = $1`, 1},
		{"several", `INSERT INTO t(a, b, c) VALUES (?, ?,?)`, `INSERT INTO t(a, b, c) VALUES ($1, $2,$3)`, 3},
		{"adjacent", `??`, `$1$2`, 2},
		{"more than nine", strings.Repeat("?,", 11) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12", 12},
		{"cast", `SELECT value FROM jsonb_array_elements_text(?::jsonb)`, `SELECT value FROM jsonb_array_elements_text($1::jsonb)`, 1},
		{"string literal", `SELECT '?' , ?`, `SELECT '?' , $1`, 1},
		{"doubled quote", `SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`, 1},
		{"empty string", `WHERE a <> '' AND b = ?`, `WHERE a <> '' AND b = $1`, 1},
		{"quoted identifier", `SELECT "a?b", "x""?" FROM t WHERE c = ?`, `SELECT "a?b", "x""?" FROM t WHERE c = $1`, 1},
		{"line comment", "SELECT ? -- why? because\n, ?", "SELECT $1 -- why? because\n, $2", 2},
		{"line comment at end", "SELECT ? -- ?", "SELECT $1 -- ?", 1},
		{"block comment", `SELECT /* ? */ ?`, `SELECT /* ? */ $1`, 1},
		{"nested block comment", `SELECT /* a /* ? */ ? */ ?`, `SELECT /* a /* ? */ ? */ $1`, 1},
		{"escape string", `SELECT E'\'?', ?`, `SELECT E'\'?', $1`, 1},
		{"escape string lower", `SELECT e'\\', ?`, `SELECT e'\\', $1`, 1},
		{"not an escape string", `SELECT name'\', ?`, `SELECT name'\', $1`, 1},
		{"dollar quote", `SELECT $$ ? $$, ?`, `SELECT $$ ? $$, $1`, 1},
		{"tagged dollar quote", `SELECT $fn$ $$ ? $fn$, ?`, `SELECT $fn$ $$ ? $fn$, $1`, 1},
		{"positional parameter kept", `SELECT $1, ?`, `SELECT $1, $1`, 1},
		{"dollar in identifier", `SELECT a$b$, ?`, `SELECT a$b$, $1`, 1},
		{"lone dollar", `SELECT $ ?`, `SELECT $ $1`, 1},
		{"minus is not a comment", `SELECT 1 - ?`, `SELECT 1 - $1`, 1},
		{"slash is not a comment", `SELECT 1 / ?`, `SELECT 1 / $1`, 1},
		{"unterminated string", `SELECT ?, 'abc ?`, `SELECT $1, 'abc ?`, 1},
		{"unterminated identifier", `SELECT ?, "abc ?`, `SELECT $1, "abc ?`, 1},
		{"unterminated comment", `SELECT ? /* ?`, `SELECT $1 /* ?`, 1},
		{"unterminated dollar", `SELECT ? $x$ ?`, `SELECT $1 $x$ ?`, 1},
		{"non-ASCII identifier", `SELECT é$x$ ?`, `SELECT é$x$ $1`, 1},
		{"advisory lock", `SELECT pg_advisory_xact_lock(?)`, `SELECT pg_advisory_xact_lock($1)`, 1},
		{"on conflict", `INSERT INTO s(k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v RETURNING id`,
			`INSERT INTO s(k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v RETURNING id`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, n := Rebind(tt.in)
			if got != tt.want || n != tt.n {
				t.Errorf("Rebind(%q) = %q, %d; want %q, %d", tt.in, got, n, tt.want, tt.n)
			}
		})
	}
}

func FuzzRebind(f *testing.F) {
	for _, s := range []string{
		`SELECT ?`, `'?'`, `"?"`, "-- ?\n?", `/* /* ? */ */ ?`, `E'\'' ?`, `$$?$$?`, `$a$?$a$ ?`,
		`?::jsonb`, `a$b ?`, `$1 ?`, `é ?`, `'`, `"`, `/*`, `$`, `$x$`, `E'\`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, n := Rebind(in)
		if n < 0 || n > strings.Count(in, "?") {
			t.Fatalf("Rebind(%q) counts %d placeholders", in, n)
		}
		// Every placeholder replaced, and only they: the other "?" stay.
		if got := strings.Count(out, "?"); got != strings.Count(in, "?")-n {
			t.Fatalf("Rebind(%q) = %q: %d of %d '?' left, %d placeholders", in, out, got, strings.Count(in, "?"), n)
		}
		if n == 0 && out != in {
			t.Fatalf("Rebind(%q) = %q with no placeholder", in, out)
		}
		// The placeholders are "?" of the input, in order, and the
		// output is the input with exactly these replaced.
		var at []int
		scanPlaceholders(in, func(i int) { at = append(at, i) })
		if len(at) != n {
			t.Fatalf("Rebind(%q) counts %d placeholders, the scan %d", in, n, len(at))
		}
		var want strings.Builder
		done := 0
		for k, i := range at {
			if in[i] != '?' || i < done {
				t.Fatalf("placeholder %d of %q at offset %d", k+1, in, i)
			}
			want.WriteString(in[done:i] + "$" + strconv.Itoa(k+1))
			done = i + 1
		}
		want.WriteString(in[done:])
		if out != want.String() {
			t.Fatalf("Rebind(%q) = %q, want %q", in, out, want.String())
		}
	})
}
