package abuse_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
)

// sendRecord is one call a recording sender received.
type sendRecord struct {
	id   int64
	wall time.Time
	at   time.Time // virtual clock
}

// recordingSender accepts every message at once and records the order and
// the wall-clock time of the calls.
type recordingSender struct {
	clock aftercare.Clock
	mu    sync.Mutex
	calls []sendRecord
}

func (s *recordingSender) Send(ctx context.Context, m notify.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, sendRecord{id: m.ID, wall: time.Now(), at: s.clock.Now()})
	return fmt.Sprintf("SM%032d", m.ID), nil
}

// TestSpikeDrain seeds 10,000 patients treated in the same minute, in four
// US time zones, whose day-1 "sunscreen 08:30" texts all come due together
// (the clock stands at the moment the last zone's 08:30 arrives, as for a
// daemon catching up). The real dispatcher drains them through a rate
// limit of 2,000 texts/s: in due-time order (nothing sent more than one
// claim batch out of its place), never faster than the limit allows, and
// none lost or sent twice.
func TestSpikeDrain(t *testing.T) {
	const (
		patients  = 10000
		smsRate   = 2000.0 // texts per second
		batchSize = 500
	)
	burst := 200.0 // what the dispatcher's limiter allows at once: ceil(rate/10)
	ctx := context.Background()
	zones := []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}
	treated := time.Date(2026, 11, 25, 19, 30, 0, 0, time.UTC) // 14:30 in New York, 11:30 in Los Angeles
	clock := testsupport.NewClock(treated)
	dsn := testsupport.DB(t)
	st := testsupport.OpenStoreAt(t, dsn, store.Options{Clock: clock})
	clinic, _, err := st.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow Clinic", Phone: "+14155550111", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocol.Default()
	if err != nil {
		t.Fatal(err)
	}

	// The day-1 sunscreen text of each zone, from the real planner.
	sunscreen := map[string]aftercare.Message{}
	for _, z := range zones {
		msgs, err := p.Plan(protocol.Input{
			Enrollment: aftercare.Enrollment{ClinicID: clinic.ID, Treatment: "microneedling", TreatedAt: treated, SessionNumber: 1, SeriesLength: 3},
			Patient:    aftercare.Patient{ClinicID: clinic.ID, FirstName: "Ana", Phone: "+14155550123", Timezone: z},
			Clinic:     clinic, SMSConsent: true,
		}, protocol.Options{}, treated)
		if err != nil {
			t.Fatal(err)
		}
		var first *aftercare.Message
		for i, m := range msgs {
			if m.Step == "sunscreen" && m.Status == aftercare.StatusScheduled && (first == nil || m.SendAt.Before(first.SendAt)) {
				first = &msgs[i]
			}
		}
		if first == nil {
			t.Fatalf("%s: no sunscreen text planned", z)
		}
		loc, _ := time.LoadLocation(z)
		if l := first.SendAt.In(loc); l.Hour() != 8 || l.Minute() != 30 || l.Day() != 26 {
			t.Fatalf("%s: first sunscreen at %s, want 08:30 local on day 1", z, l)
		}
		sunscreen[z] = *first
	}
	seedStart := time.Now()
	seedSpike(t, dsn, clinic.ID, zones, sunscreen, treated, patients)
	t.Logf("spike: seeded %d patients with their sunscreen text in %s", patients, time.Since(seedStart).Round(time.Millisecond))

	// Expected order: due time, then id (what the claim promises).
	type due struct {
		id  int64
		due time.Time
	}
	var want []due
	rows, err := testsupport.OpenReader(t, dsn).Query(`SELECT id, next_attempt_at FROM messages WHERE status = 'scheduled' ORDER BY next_attempt_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d due
		var ms int64
		if err := rows.Scan(&d.id, &ms); err != nil {
			t.Fatal(err)
		}
		d.due = time.UnixMilli(ms)
		want = append(want, d)
	}
	rows.Close()
	if len(want) != patients {
		t.Fatalf("%d texts scheduled, want %d", len(want), patients)
	}
	rank := make(map[int64]int, len(want))
	for i, d := range want {
		rank[d.id] = i
	}

	// All due now: the last zone's 08:30 (none stale: New York's go stale at noon local).
	clock.Set(sunscreen["America/Los_Angeles"].SendAt)
	sender := &recordingSender{clock: clock}
	d := scheduler.NewDispatcher(st, map[aftercare.Channel]notify.Sender{aftercare.SMS: sender}, clock,
		slog.New(slog.NewTextHandler(io.Discard, nil)), scheduler.Config{
			BatchSize: batchSize, Concurrency: 16, Rate: map[aftercare.Channel]float64{aftercare.SMS: smsRate},
		})
	start := time.Now()
	var stats scheduler.Stats
	for i := 0; i < 100; i++ { // RunOnce drains batch after batch; a few passes at most
		s, err := d.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stats.Claimed += s.Claimed
		stats.Sent += s.Sent
		if s.Claimed == 0 {
			break
		}
	}
	drain := time.Since(start)

	calls := sender.calls
	if len(calls) == 0 {
		t.Fatal("nothing sent")
	}
	// None lost, none twice.
	seen := make(map[int64]int, len(calls))
	for _, c := range calls {
		seen[c.id]++
	}
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	if len(seen) != patients || dups > 0 || len(calls) != patients {
		t.Errorf("sender got %d calls for %d distinct texts (%d twice), want %d once each", len(calls), len(seen), dups, patients)
	}
	counts, err := st.CountByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[aftercare.StatusSent] != patients || len(counts) != 1 {
		t.Errorf("statuses after the drain: %v, want all %d sent", counts, patients)
	}

	// Due-time order: each text within one claim batch of its place.
	maxOff := 0
	for i, c := range calls {
		off := i - rank[c.id]
		if off < 0 {
			off = -off
		}
		maxOff = max(maxOff, off)
	}
	if maxOff >= batchSize {
		t.Errorf("a text was sent %d places from its due-time order, more than a claim batch (%d)", maxOff, batchSize)
	}
	// And the zones went out earliest-due first: the last New York text
	// before the first Los Angeles one.
	lastNY, firstLA := -1, len(calls)
	nyDue, laDue := sunscreen["America/New_York"].SendAt, sunscreen["America/Los_Angeles"].SendAt
	for i, c := range calls {
		switch due := want[rank[c.id]].due; {
		case due.Equal(nyDue):
			lastNY = i
		case due.Equal(laDue) && i < firstLA:
			firstLA = i
		}
	}
	if lastNY > firstLA {
		t.Errorf("a New York text (due %s) went out at position %d, after a Los Angeles one (due %s) at %d", nyDue, lastNY, laDue, firstLA)
	}

	// Within the rate limit, measured on the wall clock the limiter uses:
	// over the whole drain and over every one-second window.
	walls := make([]time.Time, len(calls))
	for i, c := range calls {
		walls[i] = c.wall
	}
	slices.SortFunc(walls, func(a, b time.Time) int { return a.Compare(b) })
	span := walls[len(walls)-1].Sub(walls[0])
	achieved := float64(len(walls)-1) / span.Seconds()
	if allowed := smsRate*1.1*span.Seconds() + burst; float64(len(walls)) > allowed {
		t.Errorf("%d texts in %s: more than the limit allows (%.0f)", len(walls), span, allowed)
	}
	peak, j := 0, 0
	for i := range walls {
		for walls[i].Sub(walls[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	if float64(peak) > smsRate*1.1+burst {
		t.Errorf("%d texts within one second; the limit is %.0f/s with a burst of %.0f", peak, smsRate, burst)
	}
	t.Logf("spike: drained %d texts (%d claimed in %d-message batches) in %s: %.0f texts/s against a limit of %.0f/s (peak %d in any second); max displacement from due-time order %d; duplicates %d",
		len(calls), stats.Claimed, batchSize, drain.Round(time.Millisecond), achieved, smsRate, peak, maxOff, dups)
}

// seedSpike writes patients, their enrollments and their one scheduled
// sunscreen text straight into the database, each table in one INSERT ...
// SELECT over a counter (planning 10,000 whole enrollments through the API
// would take minutes under -race; what is tested here is the drain).
// Patient i lives in zones[i % len(zones)], so id order is not due-time
// order.
func seedSpike(t *testing.T, dsn string, clinicID int64, zones []string, sunscreen map[string]aftercare.Message, treated time.Time, n int) {
	t.Helper()
	db := testsupport.OpenWriter(t, dsn)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// zone(i) as SQL, with one argument per zone for each per-zone column,
	// cast to typ (PostgreSQL cannot type a bare parameter in a CASE).
	perZone := func(typ string, col func(z string) any) (string, []any) {
		q := "CASE i % " + strconv.Itoa(len(zones))
		var args []any
		for k, z := range zones {
			q += " WHEN " + strconv.Itoa(k) + " THEN CAST(? AS " + typ + ")"
			args = append(args, col(z))
		}
		return q + " END", args
	}
	counter := `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) `
	now := treated.UnixMilli()
	var base int64
	if err := tx.QueryRow(`SELECT coalesce(max(id), 0) FROM patients`).Scan(&base); err != nil {
		t.Fatal(err)
	}
	zone, zargs := perZone("TEXT", func(z string) any { return z })
	exec := func(q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// +1415, then 200 + i / 10000 and i % 10000 zero-padded to 3 and 4 digits.
	phone := `printf('+1415%03d%04d', 200 + i / 10000, i % 10000)`
	if testsupport.IsPostgres(dsn) {
		phone = `'+1415' || lpad((200 + i / 10000)::text, 3, '0') || lpad((i % 10000)::text, 4, '0')`
	}
	exec(counter+`INSERT INTO patients(id, clinic_id, first_name, last_name, phone, email, timezone, created_at, updated_at)
		SELECT ? + i + 1, ?, 'P' || i, 'Spike', `+phone+`, '', `+zone+`, ?, ? FROM n`,
		append(append([]any{n - 1, base, clinicID}, zargs...), now, now)...)
	exec(counter+`INSERT INTO enrollments(id, clinic_id, patient_id, treatment, treated_at, session_number, series_length, created_at)
		SELECT ? + i + 1, ?, ? + i + 1, 'microneedling', ?, 1, 3, ? FROM n`, n-1, base, clinicID, base, now, now)
	sendAt, sargs := perZone("BIGINT", func(z string) any { return sunscreen[z].SendAt.UnixMilli() })
	staleAt, stargs := perZone("BIGINT", func(z string) any { return sunscreen[z].StaleAt.UnixMilli() })
	body, bargs := perZone("TEXT", func(z string) any { return sunscreen[z].Body })
	args := []any{n - 1, base, clinicID, base, sunscreen[zones[0]].Step, sunscreen[zones[0]].Occurrence}
	args = append(append(append(append(append(args, sargs...), stargs...), sargs...), bargs...), now)
	exec(counter+`INSERT INTO messages(enrollment_id, clinic_id, patient_id, step, occurrence, channel, send_at, stale_at, status,
			next_attempt_at, body, updated_at)
		SELECT ? + i + 1, ?, ? + i + 1, ?, ?, 'sms', `+sendAt+`, `+staleAt+`, 'scheduled', `+sendAt+`, `+body+`, ? FROM n`, args...)
	exec(`INSERT INTO events(message_id, at, from_status, to_status, detail) SELECT id, ?, '', 'scheduled', 'planned' FROM messages`, now)
	if testsupport.IsPostgres(dsn) {
		// An explicit id does not move an identity column's sequence:
		// move it past the seeded rows, as the store's next insert expects.
		for _, table := range []string{"patients", "enrollments"} {
			exec(`SELECT setval(pg_get_serial_sequence('` + table + `', 'id'), (SELECT max(id) FROM ` + table + `))`)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
