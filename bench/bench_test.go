package bench

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
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
