package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aftercare/aftercare/internal/testsupport"
)

func TestOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                        string
		due, arrived                []string
		lost, doubled, displacement int
	}{
		{"in order", []string{"a", "b", "c"}, []string{"a", "b", "c"}, 0, 0, 0},
		{"one batch late", []string{"a", "b", "c", "d"}, []string{"b", "c", "d", "a"}, 0, 0, 3},
		{"neighbours swapped", []string{"a", "b", "c", "d"}, []string{"a", "c", "b", "d"}, 0, 0, 1},
		{"never sent", []string{"a", "", "c"}, []string{"a", "c"}, 1, 0, 0},
		{"outcome lost", []string{"a", "b", "c"}, []string{"a", "c"}, 1, 0, 0},
		{"sent twice", []string{"a", "b"}, []string{"a", "b", "b"}, 0, 1, 0},
		{"sent but unrecorded", []string{"a", ""}, []string{"a", "x"}, 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost, doubled, d := order(tc.due, tc.arrived)
			if lost != tc.lost || doubled != tc.doubled || d != tc.displacement {
				t.Fatalf("order = lost %d, doubled %d, displacement %d; want %d, %d, %d",
					lost, doubled, d, tc.lost, tc.doubled, tc.displacement)
			}
		})
	}
}

func TestDaytimeZoneIsAboutNoon(t *testing.T) {
	t.Parallel()
	for h := 0; h < 24; h++ {
		now := time.Date(2026, 11, 25, h, 30, 0, 0, time.UTC)
		zone := daytimeZone(now)
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatalf("%02d:30 UTC: zone %q: %v", h, zone, err)
		}
		if local := now.In(loc).Hour(); local < 10 || local > 14 {
			t.Errorf("%02d:30 UTC: %s is at %d:30, want about noon (outside quiet hours)", h, zone, local)
		}
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	q := quantiles(ds)
	if q.p50 != 50*time.Millisecond || q.p99 != 99*time.Millisecond || q.max != 100*time.Millisecond {
		t.Fatalf("quantiles = %+v", q)
	}
	if got := quantiles(nil); got != (quants{}) {
		t.Fatalf("quantiles(nil) = %+v", got)
	}
}

// TestSmallRun runs the phases that need no child process at a tiny size:
// what is checked is that they measure something and that every message
// is accounted for, never how fast (CI machines vary).
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole daemon several times")
	}
	c := Default()
	c.N, c.Enrollments, c.EnrollClients = 300, 40, 8
	c.Phases = []string{PhaseLimit, PhaseDispatch, PhaseBurst, PhaseEnroll}
	c.Dir = t.TempDir()
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Limit == nil || r.Limit.Sends != 300 || r.Limit.PerSec <= 0 {
		t.Errorf("limit = %+v", r.Limit)
	}
	for name, d := range map[string]*DrainResult{"dispatch": r.Dispatch, "burst": r.Burst} {
		if d == nil || d.Messages != 300 || d.Lost != 0 || d.Doubled != 0 || d.PerSec <= 0 {
			t.Errorf("%s = %+v", name, d)
		}
	}
	if e := r.Enroll; e == nil || e.Enrollments != 40 || e.Messages < 40*10 || e.P99MS <= 0 {
		t.Errorf("enroll = %+v", r.Enroll)
	}
	if len(r.Figures) < 10 {
		t.Errorf("%d figures", len(r.Figures))
	}
}

// TestWaitDrainedReadsTheClockOnce is the burst's lost-texts flake made
// certain: the clock passes the burst instant between two readings. Read
// once per poll, the wait sees the due texts as pending; read twice (the
// bug), it took "nothing due yet" and "past the instant" from different
// readings and reported a drain of texts that were never sent.
func TestWaitDrainedReadsTheClockOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	b, err := newBase(ctx, filepath.Join(t.TempDir(), "drain.db"), now, now.Add(20*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Hour).Truncate(time.Millisecond) // the burst instant
	sd, err := openSeeder(b, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.due(ctx, 5, messagesPerPatient, "sms", at, 0); err != nil {
		t.Fatal(err)
	}
	if err := sd.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := openCounter(b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// A clock a millisecond short of the instant, then a millisecond
	// further at every reading.
	reading := at.Add(-time.Millisecond)
	clock := func() time.Time {
		t := reading
		reading = reading.Add(time.Millisecond)
		return t
	}
	if done, err := c.waitDrained(ctx, at, 0, 20*time.Millisecond, clock); err == nil {
		t.Fatalf("drained at %s with 5 texts due and never sent", done)
	}

	// Once they are sent, it is drained.
	db, err := sql.Open("sqlite", "file:"+b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE messages SET status = 'sent' WHERE next_attempt_at = ?`, at.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	reading = at.Add(-time.Millisecond)
	if _, err := c.waitDrained(ctx, at, 0, 20*time.Millisecond, clock); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseAfterSetup: texts seeded parked fall due only when released,
// at an instant chosen then, so no setup is ever too slow for the burst;
// a release that commits after its instant reports the later moment
// instead of failing.
func TestReleaseAfterSetup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	b, err := newBase(ctx, filepath.Join(t.TempDir(), "release.db"), now, now.Add(20*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	parked := now.Add(parkedFor).Truncate(time.Millisecond)
	sd, err := openSeeder(b, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.due(ctx, 5, messagesPerPatient, "sms", parked, 0); err != nil {
		t.Fatal(err)
	}
	if err := sd.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := openCounter(b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := c.db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	templateBefore := count(`SELECT count(*) FROM messages WHERE enrollment_id = ? AND next_attempt_at > ?`, b.template, parked.UnixMilli())

	// A lead of minus a second: the commit necessarily comes after the
	// instant, as on a machine too busy to finish the update in time.
	before := time.Now()
	at, due, err := release(ctx, b, parked, -time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !at.Before(before) || due.Before(before) || !due.After(at) {
		t.Errorf("release: at %s, due %s; want at before the call (%s), due after both", at, due, before)
	}
	if n := count(`SELECT count(*) FROM messages WHERE send_at = ?1 AND next_attempt_at = ?1 AND stale_at = ?1 + 3600000`, at.UnixMilli()); n != 5 {
		t.Errorf("%d texts released to %s, want 5", n, at)
	}
	if n := count(`SELECT count(*) FROM messages WHERE enrollment_id = ? AND next_attempt_at > ?`, b.template, parked.UnixMilli()); n != templateBefore || n == 0 {
		t.Errorf("template enrollment: %d messages after the release, %d before", n, templateBefore)
	}
}

// TestPostgresSmallRun runs the PostgreSQL phases at a tiny size on the
// tests' server (skipped without one, outside CI): every message is
// accounted for on each driver and by each number of replicas, and the
// run's database is gone afterwards. How fast is not checked.
func TestPostgresSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole daemon several times")
	}
	server, _, err := testsupport.ConfiguredPostgres()
	if err != nil {
		t.Fatal(err)
	}
	if server == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no PostgreSQL server configured: CI must run this test (run .ci/deps)")
		}
		t.Skip("no PostgreSQL server configured: set " + testsupport.PostgresEnv + " or run .ci/deps")
	}
	c := Default()
	c.N, c.Enrollments, c.EnrollClients = 300, 40, 8
	c.ReplicaN, c.ReplicaBatch, c.ReplicaConcurrency, c.APIDelay = 90, 10, 5, 20*time.Millisecond
	c.Phases = []string{PhasePostgres, PhaseReplicas}
	c.Dir, c.Postgres = t.TempDir(), server
	progress := &testsupport.LogBuffer{}
	c.Progress = progress
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]*DrainResult{"sqlite": r.Dispatch, "postgres": r.PGDispatch} {
		if d == nil || d.Messages != 300 || d.Lost != 0 || d.Doubled != 0 || d.PerSec <= 0 || d.CPUMicros <= 0 {
			t.Errorf("%s dispatch = %+v", name, d)
		}
	}
	if e := r.PGEnroll; e == nil || e.Enrollments != 40 || e.Messages < 40*10 {
		t.Errorf("postgres enroll = %+v", e)
	}
	if r.Replicas == nil || len(r.Replicas.Runs) != 3 {
		t.Fatalf("replicas = %+v", r.Replicas)
	}
	for _, x := range r.Replicas.Runs {
		sent := 0
		for _, s := range x.Sent {
			sent += s
		}
		if len(x.Sent) != x.Replicas || sent != 90 || x.Duplicates != 0 || x.Lost != 0 || x.PerSec <= 0 {
			t.Errorf("%d replicas = %+v", x.Replicas, x)
		}
	}

	conn, err := pgx.Connect(context.Background(), server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left []string
	rows, err := conn.Query(context.Background(), `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, benchDBPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if left, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	// Another bench may be running on the server: only this run's
	// database (named with this process's id) must be gone.
	for _, name := range left {
		if strings.Contains(name, fmt.Sprintf("_%d_", os.Getpid())) {
			t.Errorf("database %s left behind; the run said:\n%s", name, progress)
		}
	}
}

func TestCounterRebindsForPostgres(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pg         bool
		query, out string
	}{
		{false, "SELECT a FROM t WHERE b = ? AND c <= ?", "SELECT a FROM t WHERE b = ? AND c <= ?"},
		{true, "SELECT a FROM t WHERE b = ? AND c <= ?", "SELECT a FROM t WHERE b = $1 AND c <= $2"},
		{true, "SELECT 1", "SELECT 1"},
	}
	for _, tt := range tests {
		if got := (&counter{pg: tt.pg}).q(tt.query); got != tt.out {
			t.Errorf("q(%q) with pg=%v = %q, want %q", tt.query, tt.pg, got, tt.out)
		}
	}
}

func TestMachineCPUAdvances(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat on this system")
	}
	m0 := machineCPU()
	if m0 <= 0 {
		t.Fatalf("machineCPU() = %v", m0)
	}
	c0 := cpuTime()
	for cpuTime()-c0 < 50*time.Millisecond { // burn CPU until the process has used 50 ms
	}
	if m1 := machineCPU(); m1 <= m0 {
		t.Errorf("machine CPU did not advance while this process used 50 ms: %v then %v", m0, m1)
	}
}
