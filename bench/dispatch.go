package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for counter

	"github.com/aftercare/aftercare/notify/twiliotest"
)

// DrainResult is one drain of N due texts by the real dispatcher.
type DrainResult struct {
	Messages int     `json:"messages"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_sec"`
	// CPUMicros is the process's CPU time per message: dispatcher,
	// database, Twilio client and loopback server together (on
	// PostgreSQL, the server's own work is not in it).
	CPUMicros float64 `json:"cpu_us_per_msg"`
	// MachineCPUMicros is the whole machine's busy CPU time per message
	// (/proc/stat; 0 where unknown): with PostgreSQL on this machine, its
	// server too, but also any other work running at the time.
	MachineCPUMicros float64 `json:"machine_cpu_us_per_msg,omitempty"`
	// Order: the farthest any message was sent from its place in due-time
	// order (ties by id), in messages; at most one claim batch is allowed.
	MaxDisplacement int `json:"max_displacement"`
	Lost            int `json:"lost"`
	Doubled         int `json:"doubled"`
	// StartLatency (burst only) is how long after the instant everything
	// fell due the first text reached the provider.
	StartLatency float64 `json:"start_latency_seconds,omitempty"`
}

// runDispatch drains n texts that are already due (their due times spread
// over the last ten minutes) from the database db (a SQLite file or a
// PostgreSQL DSN) by calling the daemon's dispatcher, as the cron tick
// does, until nothing is due.
func runDispatch(ctx context.Context, db string, n int, o daemonOptions, prof *profiler) (DrainResult, error) {
	now := time.Now()
	b, err := newBase(ctx, db, now, now.Add(20*time.Hour))
	if err != nil {
		return DrainResult{}, err
	}
	o.Cron = false
	d, err := seedAndStart(ctx, b, now, n, now.Add(-10*time.Minute), 10*time.Minute/time.Duration(n), o)
	if err != nil {
		return DrainResult{}, err
	}
	defer d.Close()
	total := n

	stop := prof.start(profileName("dispatch", db))
	c0, m0 := cpuTime(), machineCPU()
	t0 := time.Now()
	st, err := d.app.Dispatcher.RunOnce(ctx)
	el := time.Since(t0)
	cpu, mcpu := cpuTime()-c0, machineCPU()-m0
	stop()
	if err != nil {
		return DrainResult{}, fmt.Errorf("dispatch: %w", err)
	}
	if st.Sent != total {
		return DrainResult{}, fmt.Errorf("dispatch: sent %d of %d due texts (stats %+v)", st.Sent, total, st)
	}
	r, err := verify(ctx, d, total)
	if err != nil {
		return r, err
	}
	r.Seconds, r.PerSec = el.Seconds(), float64(total)/el.Seconds()
	r.CPUMicros = float64(cpu.Microseconds()) / float64(total)
	r.MachineCPUMicros = float64(mcpu.Microseconds()) / float64(total)
	return r, nil
}

// runBurst makes n texts fall due at the same instant, chosen once the
// daemon (with its real cron scheduler) has started, and measures from
// that instant until the last outcome is committed.
func runBurst(ctx context.Context, dir string, n int, o daemonOptions, prof *profiler) (DrainResult, error) {
	now := time.Now()
	b, err := newBase(ctx, filepath.Join(dir, "burst.db"), now, now.Add(20*time.Hour))
	if err != nil {
		return DrainResult{}, err
	}
	// The texts are seeded parked far ahead and made due only once the
	// daemon is up, so however long seeding and starting take, the burst
	// instant comes after them.
	parked := now.Add(parkedFor).Truncate(time.Millisecond)
	o.Cron = true
	d, err := seedAndStart(ctx, b, now, n, parked, 0, o)
	if err != nil {
		return DrainResult{}, err
	}
	defer d.Close()
	pc, err := openCounter(b.path)
	if err != nil {
		return DrainResult{}, err
	}
	defer pc.Close()
	// A longer update than lead only makes the instant later (see release).
	_, at, err := release(ctx, b, parked, releaseLead(n))
	if err != nil {
		return DrainResult{}, err
	}
	stop := prof.start("burst")
	c0 := cpuTime()
	done, err := pc.waitDrained(ctx, at, 10*time.Millisecond, 10*time.Minute, time.Now)
	if err != nil {
		stop()
		return DrainResult{}, fmt.Errorf("burst: %w", err)
	}
	cpu := cpuTime() - c0
	stop()
	r, err := verify(ctx, d, n)
	if err != nil {
		return r, err
	}
	r.CPUMicros = float64(cpu.Microseconds()) / float64(n)
	el := done.Sub(at)
	r.Seconds, r.PerSec = el.Seconds(), float64(n)/el.Seconds()
	if att := d.tw.Attempts(); len(att) > 0 {
		r.StartLatency = att[0].At.Sub(at).Seconds()
	}
	return r, nil
}

// releaseLead is how long before the burst instant release starts moving
// n messages: enough for the update on an idle machine.
func releaseLead(n int) time.Duration {
	return 100*time.Millisecond + time.Duration(n)*5*time.Microsecond
}

// counter reads the outbox on its own connection (read-only on SQLite).
type counter struct {
	db *sql.DB
	pg bool // "?" placeholders become $1, $2, …
}

// openCounter opens the database path names: a SQLite file or a
// PostgreSQL DSN.
func openCounter(path string) (*counter, error) {
	if isPostgres(path) {
		db, err := sql.Open("pgx", path)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(1)
		return &counter{db: db, pg: true}, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return &counter{db: db}, nil
}

func (c *counter) Close() error { return c.db.Close() }

// q returns query with its "?" placeholders in the driver's syntax (the
// bench's queries have no "?" in a string literal).
func (c *counter) q(query string) string {
	if !c.pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// busy reports whether any message due by now is still scheduled or
// sending. It reads the first entry of two partial indexes, so polling it
// takes next to nothing from the daemon it watches (counting the pending
// entries every 10 ms did).
func (c *counter) busy(ctx context.Context, now time.Time) (bool, error) {
	var b bool
	err := c.db.QueryRowContext(ctx, c.q(`SELECT
		EXISTS (SELECT 1 FROM messages WHERE status = 'scheduled' AND next_attempt_at <= ?) OR
		EXISTS (SELECT 1 FROM messages WHERE status = 'sending')`), now.UnixMilli()).Scan(&b)
	if err != nil {
		return false, fmt.Errorf("look for unfinished messages: %w", err)
	}
	return b, nil
}

// waitDrained polls every so often until, at a moment on or after from,
// no message due by that moment is still scheduled or sending, and returns
// when it saw that. It reads the clock (now) once per poll for both
// questions: with two readings, from could fall between them, and it would
// report the drain finished before anything was due. It gives up when
// messages are still pending limit after from.
func (c *counter) waitDrained(ctx context.Context, from time.Time, every, limit time.Duration, now func() time.Time) (time.Time, error) {
	for {
		t := now()
		busy, err := c.busy(ctx, t)
		if err != nil {
			return time.Time{}, err
		}
		if !busy && !t.Before(from) {
			return now(), nil
		}
		if t.Sub(from) > limit {
			left, _ := c.unfinished(ctx, t)
			return time.Time{}, fmt.Errorf("%d messages still pending %s after they fell due", left, limit)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(every):
		}
	}
}

// unfinished counts messages due by now that are still scheduled or
// sending.
func (c *counter) unfinished(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, c.q(`SELECT
		(SELECT count(*) FROM messages WHERE status = 'scheduled' AND next_attempt_at <= ?) +
		(SELECT count(*) FROM messages WHERE status = 'sending')`), now.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unfinished messages: %w", err)
	}
	return n, nil
}

// verify checks that every text due by now was sent exactly once and in
// due-time order (within one claim batch).
func verify(ctx context.Context, d *daemon, want int) (DrainResult, error) {
	return verifyAt(ctx, d.db, d.tw, want)
}

// verifyAt is verify for the database db and the Twilio API tw (which
// several daemons may share).
func verifyAt(ctx context.Context, db string, tw *twiliotest.Server, want int) (DrainResult, error) {
	r := DrainResult{Messages: want}
	c, err := openCounter(db)
	if err != nil {
		return r, err
	}
	defer c.Close()
	// Due-time order as the claim defines it (sending leaves
	// next_attempt_at alone).
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT provider_id, status FROM messages
		WHERE channel = 'sms' AND next_attempt_at <= ? ORDER BY next_attempt_at, id`), time.Now().UnixMilli())
	if err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	var due []string // provider ids in due order; "" for a text not sent
	for rows.Next() {
		var sid, status string
		if err := rows.Scan(&sid, &status); err != nil {
			rows.Close()
			return r, fmt.Errorf("verify: %w", err)
		}
		if status != "sent" {
			sid = ""
		}
		due = append(due, sid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	var arrived []string
	for _, m := range tw.Sent() {
		arrived = append(arrived, m.SID)
	}
	r.Lost, r.Doubled, r.MaxDisplacement = order(due, arrived)
	if len(due) != want {
		return r, fmt.Errorf("verify: %d texts due, want %d", len(due), want)
	}
	if r.Lost > 0 || r.Doubled > 0 {
		return r, fmt.Errorf("verify: %d texts lost, %d sent twice", r.Lost, r.Doubled)
	}
	return r, nil
}

// order compares the provider ids of messages in due-time order ("" for a
// message with no provider id) with the ids in the order the provider
// received them. It returns how many messages the provider never got (or
// whose outcome was never committed), how many it got more than once (or
// that no message claims), and the largest distance between a message's
// place in due order and its place in arrival order.
func order(due, arrived []string) (lost, doubled, maxDisplacement int) {
	at := make(map[string]int, len(arrived))
	for i, sid := range arrived {
		if _, dup := at[sid]; dup {
			doubled++
			continue
		}
		at[sid] = i
	}
	claimed := make(map[string]bool, len(due))
	// Rank both orders among the messages that were sent, so that a lost
	// message does not shift everyone after it.
	type pair struct{ dueIdx, arrIdx int }
	var ps []pair
	for _, sid := range due {
		j, ok := at[sid]
		if sid == "" || !ok {
			lost++
			continue
		}
		claimed[sid] = true
		ps = append(ps, pair{len(ps), j}) // rank among the messages the provider got
	}
	for sid := range at {
		if !claimed[sid] {
			doubled++ // the provider has a text no committed outcome accounts for
		}
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].arrIdx < ps[b].arrIdx })
	for rank, p := range ps {
		if d := abs(rank - p.dueIdx); d > maxDisplacement {
			maxDisplacement = d
		}
	}
	return lost, doubled, maxDisplacement
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// seedAndStart writes n texts due from first, spacing apart, into the
// base database, then starts the daemon with its providers on it.
func seedAndStart(ctx context.Context, b base, now time.Time, n int, first time.Time, spacing time.Duration, o daemonOptions) (*daemon, error) {
	if err := seedDue(ctx, b, now, n, messagesPerPatient, "sms", first, spacing); err != nil {
		return nil, err
	}
	return startDaemon(b.path, o)
}
