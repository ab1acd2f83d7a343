package testsupport

// PostgreSQL for tests: PostgresDSN gives each caller a schema of its own
// on a real server.
//
// Where the server comes from, first found wins:
//  1. AFTERCARE_TEST_POSTGRES, a DSN of a server where the test may
//     CREATE DATABASE (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable);
//  2. the file .ci/postgres.env at the repository's root, which .ci/deps
//     writes (a line AFTERCARE_TEST_POSTGRES=DSN): .ci/deps runs in a
//     shell of its own, so it cannot export the variable to go test;
//  3. with the environment variable CI set: none, and the test fails
//     (CI must never skip PostgreSQL);
//  4. otherwise postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
//     if it answers, else the test is skipped, saying how to get a server.
//
// A server named by 1 or 2 that does not answer fails the test.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv is the environment variable that names the test server.
const PostgresEnv = "AFTERCARE_TEST_POSTGRES"

// postgresDefaultDSN is tried when nothing names a server (outside CI).
const postgresDefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// testDBPrefix starts the name of every database PostgresDSN creates.
const testDBPrefix = "aftercare_test_"

// testDBMaxAge is how old a test database must be (by the time in its
// name) before another test process drops it as left over.
const testDBMaxAge = 6 * time.Hour

// pgTest is the test process's database, created once on first use: the
// state a helper must share across the tests of one package.
var pgTest struct {
	once sync.Once
	dsn  string // the per-process database's DSN
	skip string // why tests are skipped, if they are
	err  error  // why tests fail, if they do
}

// PostgresDSN returns the DSN of a fresh, empty schema for tb alone (its
// search_path selects it), in a database created once per test process
// (named after the package, the process id and a random suffix), on the
// server described in this file's comment. The schema is dropped when tb
// ends, after the cleanups tb registers later (close your pools there).
func PostgresDSN(tb SkipTB) string {
	tb.Helper()
	pgTest.once.Do(func() {
		pgTest.dsn, pgTest.skip, pgTest.err = createTestDatabase()
	})
	if pgTest.err != nil {
		tb.Fatalf("PostgreSQL for tests: %v", pgTest.err)
	}
	if pgTest.skip != "" {
		tb.Skip(pgTest.skip)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := "t_" + sanitize(tb.Name(), 30) + "_" + randomHex(4)
	conn, err := pgx.Connect(ctx, pgTest.dsn)
	if err != nil {
		tb.Fatalf("PostgreSQL for tests: connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("PostgreSQL for tests: create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pgTest.dsn)
		if err != nil {
			tb.Errorf("PostgreSQL for tests: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("PostgreSQL for tests: drop schema %s (a transaction left open?): %v", schema, err)
		}
	})
	dsn, err := WithDSNParams(pgTest.dsn, "", map[string]string{"search_path": schema})
	if err != nil {
		tb.Fatalf("PostgreSQL for tests: %v", err)
	}
	return dsn
}

// createTestDatabase finds the server and creates the process's database
// on it; it returns that database's DSN, or why tests skip, or why they
// fail.
func createTestDatabase() (dsn, skip string, err error) {
	server, from, err := ConfiguredPostgres()
	if err != nil {
		return "", "", err
	}
	if server == "" {
		if os.Getenv("CI") != "" {
			return "", "", fmt.Errorf("%s is not set and .ci/postgres.env is missing: CI must run the PostgreSQL tests (run .ci/deps first)", PostgresEnv)
		}
		server, from = postgresDefaultDSN, ""
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		if from == "" {
			return "", fmt.Sprintf("no PostgreSQL server: set %s to the DSN of a server where tests may CREATE DATABASE, or run .ci/deps (tried %s: %v)",
				PostgresEnv, postgresDefaultDSN, err), nil
		}
		return "", "", fmt.Errorf("connect to the server named by %s (run .ci/deps again if it wrote it): %w", from, err)
	}
	defer conn.Close(context.Background())

	dropOldTestDatabases(ctx, conn)
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	name := fmt.Sprintf("%s%s_%d_%d_%s", testDBPrefix, sanitize(pkg, 16), time.Now().Unix(), os.Getpid(), randomHex(3))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	dsn, err = WithDSNParams(server, name, nil)
	if err != nil {
		return "", "", err
	}
	return dsn, "", nil
}

// ConfiguredPostgres returns the DSN of the PostgreSQL server that
// AFTERCARE_TEST_POSTGRES or else .ci/postgres.env names (1 and 2 in this
// file's comment), and where it was found (the variable's name or the
// file's path); "" and "" when neither names one. aftercare-bench uses it
// too, which is why it is exported.
func ConfiguredPostgres() (dsn, from string, err error) {
	if dsn := os.Getenv(PostgresEnv); dsn != "" {
		return dsn, PostgresEnv, nil
	}
	path, err := postgresEnvFile()
	if err != nil || path == "" {
		return "", "", err
	}
	dsn, err = readEnvFile(path, PostgresEnv)
	if err != nil {
		return "", "", err
	}
	return dsn, path, nil
}

// dropOldTestDatabases drops test databases older than testDBMaxAge that
// nobody is connected to: a test process cannot drop its own database on
// exit, so each cleans up after those before it. Errors are ignored (a
// database in use stays).
func dropOldTestDatabases(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database d WHERE starts_with(datname, $1)
		AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)`, testDBPrefix)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		// …_<unix seconds>_<pid>_<random>
		parts := strings.Split(name, "_")
		if len(parts) < 4 {
			continue
		}
		sec, err := strconv.ParseInt(parts[len(parts)-3], 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)) < testDBMaxAge {
			continue
		}
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	}
}

// postgresEnvFile returns the path of .ci/postgres.env at the root of the
// module the test runs in, or "" if there is none.
func postgresEnvFile() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find .ci/postgres.env: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			path := filepath.Join(dir, ".ci", "postgres.env")
			if _, err := os.Stat(path); err != nil {
				return "", nil
			}
			return path, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// readEnvFile returns the value of key in a file of KEY=VALUE lines
// (blank lines, # comments and quotes around the value allowed).
func readEnvFile(path, key string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != key {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return "", fmt.Errorf("read %s: no %s line", path, key)
}

// WithDSNParams returns dsn with its database replaced by dbname (unless
// empty) and the given run-time parameters set; dsn is a URL or key=value
// pairs.
func WithDSNParams(dsn, dbname string, params map[string]string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("parse the test server's DSN: not a valid URL")
		}
		if dbname != "" {
			u.Path = "/" + dbname
			u.RawPath = ""
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	// key=value pairs: a later pair overrides an earlier one.
	quote := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	if dbname != "" {
		dsn += " dbname=" + quote(dbname)
	}
	for k, v := range params {
		dsn += " " + k + "=" + quote(v)
	}
	return dsn, nil
}

// sanitize turns s into at most limit characters of [a-z0-9_].
func sanitize(s string, limit int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() >= limit {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
