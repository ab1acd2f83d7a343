package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// PostgresEnv names the PostgreSQL server the bench measures on: a DSN of
// a server where it may CREATE DATABASE. Without it, the bench uses the
// server the tests use (AFTERCARE_TEST_POSTGRES, or .ci/postgres.env as
// .ci/deps writes it).
const PostgresEnv = "AFTERCARE_BENCH_POSTGRES"

// FindPostgres returns the DSN of the PostgreSQL server to measure on and
// where it was found (see PostgresEnv); "" and "" when none is configured.
func FindPostgres() (dsn, from string, err error) {
	if dsn := os.Getenv(PostgresEnv); dsn != "" {
		return dsn, PostgresEnv, nil
	}
	return testsupport.ConfiguredPostgres()
}

// benchDBPrefix starts the name of the database each run creates.
const benchDBPrefix = "aftercare_bench_"

// pgRun is a run's own database on the PostgreSQL server: created on
// first use, one schema in it per measured database, dropped at the end
// of the run.
type pgRun struct {
	server string // the server's DSN, as configured
	name   string // the run's database ("" until created)
	dsn    string // its DSN
	n      int    // schemas made so far
}

// database creates the run's database if it has not yet.
func (p *pgRun) database(ctx context.Context) error {
	if p.dsn != "" {
		return nil
	}
	conn, err := pgx.Connect(ctx, p.server)
	if err != nil {
		return fmt.Errorf("connect to the PostgreSQL server: %w", err)
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("%s%d_%d_%s", benchDBPrefix, time.Now().Unix(), os.Getpid(), randomHex(3))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	dsn, err := testsupport.WithDSNParams(p.server, name, nil)
	if err != nil {
		return err
	}
	p.name, p.dsn = name, dsn
	return nil
}

// schema creates a fresh schema named after what it is for in the run's
// database and returns a DSN whose search_path selects it.
func (p *pgRun) schema(ctx context.Context, what string) (string, error) {
	if err := p.database(ctx); err != nil {
		return "", err
	}
	p.n++
	name := fmt.Sprintf("%s_%d", strings.ReplaceAll(what, "-", "_"), p.n)
	conn, err := pgx.Connect(ctx, p.dsn)
	if err != nil {
		return "", fmt.Errorf("connect to the bench database: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %s: %w", name, err)
	}
	return testsupport.WithDSNParams(p.dsn, "", map[string]string{"search_path": name})
}

// Close drops the run's database (closing what is still connected to it).
func (p *pgRun) Close() error {
	if p.dsn == "" {
		return nil
	}
	// A replica process that has not exited yet may reconnect while the
	// database is dropped (FORCE ends the sessions there are, not the
	// ones that come after): try again until it is gone, for a bounded
	// time (a loaded machine is slow to let them go).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var last error
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if last = p.drop(ctx); last == nil {
			p.name, p.dsn = "", ""
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(min(attempt+1, 5)) * time.Second):
		}
	}
	return fmt.Errorf("drop database %s: %w", p.name, last)
}

// drop drops the run's database once.
func (p *pgRun) drop(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.server)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{p.name}.Sanitize()+" WITH (FORCE)")
	return err
}

// isPostgres reports whether dsn names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pgSeedDue is seeder.due on PostgreSQL: n scheduled texts (or the
// template's mix with channel ""), perPatient per new patient, the i-th
// due at start + i*spacing, in one transaction, then ANALYZE (a server
// that has run for a while has statistics; a table filled a moment ago
// has none).
func pgSeedDue(ctx context.Context, b base, now time.Time, n, perPatient int, channel string, start time.Time, spacing time.Duration) error {
	conn, err := pgx.Connect(ctx, b.path)
	if err != nil {
		return fmt.Errorf("seed: connect: %w", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer tx.Rollback(context.Background())
	nowMS := now.UnixMilli()

	var k int
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE tpl ON COMMIT DROP AS
		SELECT row_number() OVER (ORDER BY send_at, id) - 1 AS k, step, channel, subject, body, html_body
		FROM messages WHERE enrollment_id = $1 AND status = 'scheduled' AND ($2 = '' OR channel = $2)`,
		b.template, channel); err != nil {
		return fmt.Errorf("copy template messages: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM tpl`).Scan(&k); err != nil {
		return fmt.Errorf("copy template messages: %w", err)
	}
	if k == 0 {
		return fmt.Errorf("template enrollment %d has no scheduled %s messages", b.template, channel)
	}

	patients := (n + perPatient - 1) / perPatient
	var maxP, maxE, maxM int64
	if err := tx.QueryRow(ctx, `SELECT (SELECT coalesce(max(id), 0) FROM patients), (SELECT coalesce(max(id), 0) FROM enrollments),
		(SELECT coalesce(max(id), 0) FROM messages)`).Scan(&maxP, &maxE, &maxM); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// One transaction on a fresh schema: identities are consecutive, so
	// patient i is maxP+1+i and its enrollment maxE+1+i.
	if _, err := tx.Exec(ctx, `INSERT INTO patients(clinic_id, first_name, last_name, phone, email, timezone, created_at, updated_at)
		SELECT $1::bigint, 'Ana', 'Diaz ' || (i + 1),
			'+1646' || lpad((200 + ((i + 1) / 10000) % 800)::text, 3, '0') || lpad(((i + 1) % 10000)::text, 4, '0'),
			'patient' || (i + 1) || '@example.com', $2::text, $3::bigint, $3::bigint
		FROM generate_series(0::bigint, $4::bigint - 1) AS i ORDER BY i`,
		b.clinic.ID, b.zone, nowMS, patients); err != nil {
		return fmt.Errorf("seed patients: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO consents(patient_id, channel, granted, at, method, wording_version)
		SELECT p.id, c.ch, 1, $1::bigint, 'front_desk', $2::text FROM patients p CROSS JOIN (VALUES ('sms'), ('email')) AS c(ch)
		WHERE p.id > $3::bigint`, nowMS, aftercare.ConsentWordingVersion, maxP); err != nil {
		return fmt.Errorf("seed consents: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO enrollments(clinic_id, patient_id, treatment, treated_at, session_number,
			series_length, external_ref, idempotency_key, request_hash, created_at)
		SELECT clinic_id, id, 'microneedling', $1::bigint, 1, 3, 'seed-' || id, '', '', $1::bigint FROM patients WHERE id > $2::bigint ORDER BY id`,
		nowMS, maxP); err != nil {
		return fmt.Errorf("seed enrollments: %w", err)
	}
	spacingUS := spacing.Microseconds()
	if _, err := tx.Exec(ctx, `INSERT INTO messages(enrollment_id, clinic_id, patient_id, step, occurrence, channel,
			send_at, stale_at, status, next_attempt_at, subject, body, html_body, updated_at)
		SELECT $1::bigint + i / $2::bigint, $3::bigint, $4::bigint + i / $2::bigint, t.step, i, t.channel,
			$5::bigint + i * $6::bigint / 1000, $5::bigint + i * $6::bigint / 1000 + 3600000, 'scheduled',
			$5::bigint + i * $6::bigint / 1000, t.subject, t.body, t.html_body, $7::bigint
		FROM generate_series(0::bigint, $8::bigint - 1) AS i JOIN tpl t ON t.k = i % $9::bigint ORDER BY i`,
		maxE+1, perPatient, b.clinic.ID, maxP+1, start.UnixMilli(), spacingUS, nowMS, n, k); err != nil {
		return fmt.Errorf("seed due messages: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO events(message_id, at, from_status, to_status, detail)
		SELECT id, $1::bigint, '', 'scheduled', 'planned' FROM messages WHERE id > $2::bigint`, nowMS, maxM); err != nil {
		return fmt.Errorf("seed events: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	return nil
}
