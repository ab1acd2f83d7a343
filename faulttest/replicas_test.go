package faulttest

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/store"
)

// Replicas dispatch with a small window each (10 sends in flight, 4 of
// them emails) against a Twilio that answers in 150 ms, so the backlog
// takes many seconds and kills land in the middle of it however fast the
// machine. The lease is short so that a killed replica's claims come back
// within seconds, and long against what a live replica needs to send its
// batch (50 messages at 10 in flight, about 0.75 s; the dispatcher starts
// no send later than lease - send_timeout after the claim).
const (
	replicaConcurrency      = 10
	replicaEmailConcurrency = 4
)

var replicaConfig = `
dispatch:
  tick: "@every 1s"
  housekeeping: "@every 1s"
  batch_size: 50
  concurrency: ` + strconv.Itoa(replicaConcurrency) + `
  email_concurrency: ` + strconv.Itoa(replicaEmailConcurrency) + `
  lease: 8s
  send_timeout: 3s
  sms_rate: 0
  email_rate: 0
`

// checkTransitions runs store.CheckTransitions on the final database.
func checkTransitions(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{Clock: aftercare.SystemClock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckTransitions(ctx); err != nil {
		t.Error(err)
	}
}

// textDuplicates counts extra copies of texts at Twilio, by recipient and
// body (each seeded body names its patient and step).
func textDuplicates(msgs []twiliotest.Message) int {
	seen := make(map[[2]string]int)
	dups := 0
	for _, m := range msgs {
		k := [2]string{m.To, m.Body}
		if seen[k] > 0 {
			dups++
		}
		seen[k]++
	}
	return dups
}

// faultSeed is AFTERCARE_FAULT_SEED, or def: fixed, so a run replays.
func faultSeed(t *testing.T, def int64) int64 {
	t.Helper()
	s := os.Getenv("AFTERCARE_FAULT_SEED")
	if s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("AFTERCARE_FAULT_SEED: %v", err)
	}
	return v
}

// assertAllSent checks the verdict of a run: every message sent, each at
// its provider, nothing unknown at a provider, no text twice, emails twice
// at most emailBound times.
func assertAllSent(t *testing.T, v verdict, s seeded, texts []twiliotest.Message, emailBound int) {
	t.Helper()
	if len(v.rows) != s.total() {
		t.Fatalf("%d messages in the database, seeded %d", len(v.rows), s.total())
	}
	if v.notFinal != 0 {
		t.Errorf("%d messages not in a final state", v.notFinal)
	}
	if v.sent != s.total() {
		for _, r := range v.rows {
			if r.status != aftercare.StatusSent && r.status != aftercare.StatusDelivered {
				t.Logf("message %d (%s) %s: %s", r.id, r.channel, r.status, r.reason)
			}
		}
		t.Errorf("%d of %d messages sent: lost %d", v.sent, s.total(), s.total()-v.sent)
	}
	if v.sentNotThere != 0 {
		t.Errorf("%d messages marked sent that the provider never got", v.sentNotThere)
	}
	if v.unknown != 0 {
		t.Errorf("%d messages at the providers that the database does not know", v.unknown)
	}
	if d := textDuplicates(texts); d != 0 || v.dupSMS != 0 {
		t.Errorf("%d texts sent twice (%d by body); ambiguous attempts must be looked up before a resend", d, v.dupSMS)
	}
	if v.dupEmail > emailBound {
		t.Errorf("%d emails sent twice, over the bound of %d", v.dupEmail, emailBound)
	}
}

// TestReplicasSurviveSIGKILL runs three `aftercare serve` replicas on one
// PostgreSQL schema, sharing one Twilio and one SMTP server, while 3,000
// messages are due; it SIGKILLs a random replica at seeded random points
// (after a random number of requests at Twilio) and restarts it, and
// checks at the end that nothing was lost, no text went out twice (a
// killed replica's claims come back through housekeeping, flagged
// ambiguous, and are looked up at Twilio before any resend), emails went
// out twice at most email_concurrency times per kill (README, Guarantees),
// and every recorded transition is legal.
func TestReplicasSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	dsn := testsupport.PostgresDSN(t)
	seedValue := faultSeed(t, 20251107)
	t.Logf("kill points seeded with AFTERCARE_FAULT_SEED=%d", seedValue)
	rng := rand.New(rand.NewPCG(uint64(seedValue), 0x5eed))

	const replicas = 3
	// 250 patients x (10 texts + 2 emails): fewer enrollments to seed
	// (each its own transaction) than crash_test's 5 + 1.
	kills, patients := 9, 250
	if soak() {
		kills, patients = 30, 2000
	}
	f := newFixtureAt(t, replicaConfig, dsn)
	f.tw.SetDelay(150 * time.Millisecond)
	now := time.Now()
	s := seed(t, dsn, plan{patients: patients, sms: 10, email: 2, staleIn: 6 * time.Hour, tag: "replicas",
		// Due over the last few minutes, a patient's messages far apart
		// (a patient's next text waits while one is in flight), texts
		// and emails interleaved.
		at: func(p, k int) time.Time {
			slot := [12]int{0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 4, 9}[k] // emails (k 10, 11) among the texts
			return now.Add(-10*time.Minute + time.Duration(slot*patients+p)*50*time.Millisecond)
		}}, aftercare.SystemClock)
	view := openView(t, dsn)
	t.Logf("seeded in %s", time.Since(now).Round(time.Millisecond))

	start := time.Now()
	ds := make([]*daemon, replicas)
	for i := range ds {
		ds[i] = f.start()
	}
	for _, d := range ds {
		d.healthy()
	}

	// Kill k lands once Twilio has had a random number of requests within
	// the k-th of kills equal shares of the texts: every text takes at
	// least one request, so each point is reached whatever the machine's
	// speed or the time a restart takes.
	var killed, emailBound int
	for k := 0; k < kills; k++ {
		share := s.sms / kills
		target := k*share + 1 + rng.IntN(share)
		victim := rng.IntN(replicas)
		testsupport.WaitFor(t, "kill point "+strconv.Itoa(target)+" (Twilio requests)", 3*time.Minute,
			func() bool { return f.tw.Requests() >= target })
		ds[victim].kill()
		killed++
		emailBound += min(len(view.sendingIDs(aftercare.Email)), replicaEmailConcurrency)
		t.Logf("kill %d at %s: replica %d after %d Twilio requests, %d messages pending",
			killed, time.Since(start).Round(time.Millisecond), victim, f.tw.Requests(), view.pending())
		ds[victim] = f.start()
		ds[victim].healthy()
	}

	// The replicas deliver the rest (a killed replica's claims come back
	// once their lease expires) and stop cleanly.
	testsupport.WaitFor(t, "every message final", 3*time.Minute, func() bool { return view.pending() == 0 })
	t.Logf("every message final at %s", time.Since(start).Round(time.Millisecond))
	for _, d := range ds {
		d.ready()
	}
	texts, v := stopReplicas(t, f, view, ds)
	t.Logf("replicas: %d replicas, %d kills; %d messages (%d texts, %d emails); %d sent; %d lost; duplicates: %d texts, %d emails (bound %d); seed %d",
		replicas, killed, len(v.rows), s.sms, s.email, v.sent, s.total()-v.sent, textDuplicates(texts), v.dupEmail, emailBound, seedValue)
	assertAllSent(t, v, s, texts, emailBound)
	checkTransitions(t, dsn)
	t.Logf("checked at %s", time.Since(start).Round(time.Millisecond))
}

// TestPostgresRestartMidDispatch restarts a private PostgreSQL server
// (pg_ctl stop -m fast, then start) while two replicas dispatch a few
// hundred due messages: /readyz answers 503 on both while the server is
// down, both reconnect by themselves (/readyz 200 again), and at the end
// nothing is lost and nothing went out twice, emails included: outcomes the
// server was not there to record are recorded again once it is back
// (scheduler's recordDurably, for up to half the lease; the lease here is
// long against the outage the test makes).
func TestPostgresRestartMidDispatch(t *testing.T) {
	t.Parallel()
	pg := testsupport.StartPostgresCluster(t)
	dsn := pg.DSN()

	const replicas = 2
	f := newFixtureAt(t, strings.Replace(replicaConfig, "lease: 8s", "lease: 3m", 1), dsn)
	f.tw.SetDelay(150 * time.Millisecond)
	now := time.Now()
	s := seed(t, dsn, plan{patients: 100, sms: 3, email: 1, staleIn: 6 * time.Hour, tag: "pgrestart",
		at: func(p, k int) time.Time {
			slot := [4]int{0, 2, 3, 1}[k] // the email (k 3) second
			return now.Add(-5*time.Minute + time.Duration(slot*100+p)*50*time.Millisecond)
		}}, aftercare.SystemClock)
	view := openView(t, dsn)

	ds := make([]*daemon, replicas)
	for i := range ds {
		ds[i] = f.start()
	}
	for _, d := range ds {
		d.ready()
	}

	// Restart once a quarter of the texts reached Twilio.
	testsupport.WaitFor(t, "a quarter of the texts sent", 2*time.Minute, func() bool { return f.tw.Requests() >= s.sms/4 })
	before := f.tw.Requests()
	if err := pg.Stop("fast"); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL stopped after %d Twilio requests", before)
	for i, d := range ds {
		var body string
		d.waitFor("replica "+strconv.Itoa(i)+" /readyz 503 while PostgreSQL is down", time.Minute, func() bool {
			var st int
			st, body = d.get("/readyz")
			return st == 503
		})
		t.Logf("replica %d /readyz while PostgreSQL is down: 503 %s", i, body)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		d.waitFor("replica "+strconv.Itoa(i)+" /readyz 200 after PostgreSQL is back", 2*time.Minute, func() bool {
			st, _ := d.get("/readyz")
			return st == 200
		})
	}
	testsupport.WaitFor(t, "every message final", 3*time.Minute, func() bool {
		n, err := view.tryPending()
		return err == nil && n == 0
	})
	texts, v := stopReplicas(t, f, view, ds)
	t.Logf("postgres restart: %d replicas; %d messages (%d texts, %d emails); %d sent; %d lost; duplicates: %d texts, %d emails; Twilio requests %d before the restart, %d in all",
		replicas, len(v.rows), s.sms, s.email, v.sent, s.total()-v.sent, textDuplicates(texts), v.dupEmail, before, f.tw.Requests())
	if f.tw.Requests() <= before {
		t.Error("no request reached Twilio after the restart")
	}
	assertAllSent(t, v, s, texts, 0)
	checkTransitions(t, dsn)
}

// stopReplicas stops every replica with SIGTERM (each must exit 0), waits
// for their SMTP connections to close, and judges the database: the texts
// Twilio got and the verdict on every message.
func stopReplicas(t *testing.T, f *fixture, view *dbView, ds []*daemon) ([]twiliotest.Message, verdict) {
	t.Helper()
	for i, d := range ds {
		if code := d.term(2 * time.Minute); code != 0 {
			t.Fatalf("replica %d exited %d\n%s", i, code, d.tail())
		}
	}
	testsupport.WaitFor(t, "smtp connections closed", time.Minute, func() bool { return f.mail.OpenConnections() == 0 })
	return f.tw.Sent(), judge(t, view, f.tw, f.mail)
}
