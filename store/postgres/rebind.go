package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
)

// Rebind rewrites the "?" placeholders of query, the portable SQL the store
// writes, to PostgreSQL's $1, $2, … in order of appearance, and returns the
// rewritten query and the number of placeholders. A "?" is left alone
// inside a string constant ('…' with doubled quotes, E'…' with backslash
// escapes too), a quoted identifier ("…"), a dollar-quoted string
// ($tag$…$tag$), a line comment (-- …) or a block comment (/* … */, which
// PostgreSQL nests). Everywhere else a "?" is a placeholder: PostgreSQL's
// jsonb operators ?, ?| and ?& cannot be written in the shared SQL (use
// jsonb_exists and friends). "?::jsonb" becomes "$1::jsonb".
func Rebind(query string) (string, int) {
	if strings.IndexByte(query, '?') < 0 {
		return query, 0
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, done := 0, 0 // placeholders so far; query[:done] is written
	scanPlaceholders(query, func(i int) {
		n++
		b.WriteString(query[done:i])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		done = i + 1
	})
	b.WriteString(query[done:])
	return b.String(), n
}

// scanPlaceholders calls found with the offset of each "?" of query that
// is a placeholder, in order.
func scanPlaceholders(query string, found func(i int)) {
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '?':
			found(i)
			i++
		case c == '\'':
			i = skipQuoted(query, i, '\'', false)
		case c == '"':
			i = skipQuoted(query, i, '"', false)
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			if j := strings.IndexByte(query[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(query)
			}
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			i = skipBlockComment(query, i)
		case c == '$':
			i = skipDollar(query, i)
		case identStart(c):
			// A whole identifier or keyword: a '$' inside one ("a$b")
			// starts nothing, and E'…' is a string with escapes.
			j := i + 1
			for j < len(query) && identCont(query[j]) {
				j++
			}
			if j == i+1 && (c == 'E' || c == 'e') && j < len(query) && query[j] == '\'' {
				j = skipQuoted(query, j, '\'', true)
			}
			i = j
		case c >= '0' && c <= '9':
			// A number; "1e5" and "0x1F" stay one token too.
			j := i + 1
			for j < len(query) && identCont(query[j]) && query[j] != '$' {
				j++
			}
			i = j
		default:
			i++
		}
	}
}

// skipQuoted returns the index just past the quoted text that starts at
// query[i] (the opening quote), or len(query) if it is unterminated.
// Doubled quotes stand for one; backslash escapes the next byte if set.
func skipQuoted(query string, i int, quote byte, backslash bool) int {
	for j := i + 1; j < len(query); j++ {
		switch query[j] {
		case '\\':
			if backslash {
				j++
			}
		case quote:
			if j+1 < len(query) && query[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(query)
}

// skipBlockComment returns the index just past the (nested) block comment
// that starts at query[i].
func skipBlockComment(query string, i int) int {
	depth := 0
	for j := i; j < len(query); {
		switch {
		case strings.HasPrefix(query[j:], "/*"):
			depth++
			j += 2
		case strings.HasPrefix(query[j:], "*/"):
			depth--
			j += 2
			if depth == 0 {
				return j
			}
		default:
			j++
		}
	}
	return len(query)
}

// skipDollar returns the index past what starts with the '$' at query[i]:
// a positional parameter ($1), a dollar-quoted string ($$…$$ or
// $tag$…$tag$), or the lone '$'.
func skipDollar(query string, i int) int {
	j := i + 1
	if j < len(query) && query[j] >= '0' && query[j] <= '9' {
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		return j
	}
	if j < len(query) && identStart(query[j]) {
		for j < len(query) && identCont(query[j]) && query[j] != '$' {
			j++
		}
	}
	if j >= len(query) || query[j] != '$' {
		return i + 1
	}
	tag := query[i : j+1]
	end := strings.Index(query[j+1:], tag)
	if end < 0 {
		return len(query)
	}
	return j + 1 + end + len(tag)
}

func identStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func identCont(c byte) bool {
	return identStart(c) || c >= '0' && c <= '9' || c == '$'
}

// rebindConnector hands database/sql connections of a pgx pool whose
// queries are rebound from "?" to "$n".
type rebindConnector struct {
	driver.Connector
}

// Connect implements driver.Connector.
func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("connect: unexpected connection type %T", conn)
	}
	return &rebindConn{Conn: sc}, nil
}

// rebindConn is a pgx stdlib connection (every interface of it: sessions
// reset, transactions, pings, named values) whose statements are rebound
// before they reach pgx. A prepared statement keeps its rebound text, so
// it is rebound once.
type rebindConn struct {
	*stdlib.Conn
}

// Prepare implements driver.Conn.
func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext implements driver.ConnPrepareContext.
func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	q, _ := Rebind(query)
	return c.Conn.PrepareContext(ctx, q)
}

// ExecContext implements driver.ExecerContext.
func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	q, _ := Rebind(query)
	return c.Conn.ExecContext(ctx, q, args)
}

// QueryContext implements driver.QueryerContext.
func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, _ := Rebind(query)
	return c.Conn.QueryContext(ctx, q, args)
}
