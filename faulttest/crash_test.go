package faulttest

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// crashConfig: the shipped window (100 sends in flight, 16 of them
// emails), no rate limits, so dispatch is as fast as the daemon can go and
// kills land among many sends in flight.
const (
	crashConcurrency      = 100
	crashEmailConcurrency = 16
)

var crashConfig = `
dispatch:
  tick: "@every 1s"
  housekeeping: "@every 1s"
  batch_size: 500
  concurrency: ` + strconv.Itoa(crashConcurrency) + `
  email_concurrency: ` + strconv.Itoa(crashEmailConcurrency) + `
  lease: 2m
  send_timeout: 10s
  sms_rate: 0
  email_rate: 0
`

// TestCrashAnywhere kills `aftercare serve` with SIGKILL at random points
// while it delivers a few thousand due messages, restarts it each time,
// and checks at the end that every message reached a final state, none was
// lost, no text went out twice (ambiguous attempts are looked up at Twilio
// before any resend), and emails went out twice at most once per email
// that was in flight at a kill, and at most email_concurrency per kill
// (SMTP has no lookup; an email's slot is held until its outcome is
// durable, while texts run ahead of the group commit within the window).
func TestCrashAnywhere(t *testing.T) {
	t.Parallel()
	seedValue := time.Now().UnixNano()
	if s := os.Getenv("AFTERCARE_FAULT_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("AFTERCARE_FAULT_SEED: %v", err)
		}
		seedValue = v
	}
	t.Logf("kill points seeded with AFTERCARE_FAULT_SEED=%d", seedValue)
	rng := rand.New(rand.NewPCG(uint64(seedValue), 0x5eed))

	kills, patients := 30, 600 // 600 patients x (5 texts + 1 email)
	if soak() {
		kills, patients = 100, 2000
	}
	f := newFixture(t, crashConfig)
	// A Twilio that answers in 150 ms, like the real one from afar: even
	// with 100 sends in flight the backlog takes seconds to drain, so the
	// kills land in the middle of it however fast the dispatcher gets.
	f.tw.SetDelay(150 * time.Millisecond)
	now := time.Now()
	s := seed(t, f.db, plan{patients: patients, sms: 5, email: 1, staleIn: 6 * time.Hour, tag: "crash",
		// Due over the last few minutes, texts and emails interleaved.
		at: func(p, k int) time.Time { return now.Add(-10*time.Minute + time.Duration(p*6+k)*50*time.Millisecond) }}, aftercare.SystemClock)
	view := openView(t, f.db)

	// Progress is read from the loopback Twilio's request counter (sends
	// and lookups); each kill lands after a random number of requests,
	// spread so that the kills cover the whole backlog, or, one time in
	// eight, at a random moment from start-up on (lease recovery, the first
	// tick at 1s, the start of the first pass).
	var (
		killed      int
		emailBound  int // sum over kills of min(emails mid-send, email concurrency)
		emailAtRisk int // emails at the server whose outcome was not committed at a kill
	)
	for killed < kills && view.pending() > 0 {
		d := f.start()
		d.healthy()
		if rng.IntN(8) == 0 {
			time.Sleep(time.Duration(rng.IntN(1200)) * time.Millisecond)
		} else {
			// About one request per pending text (5 in 6 messages) plus
			// lookups; aim the average kill at an equal share of it.
			step := max(1, view.pending()*5/6/(kills-killed+1))
			target := f.tw.Requests() + 1 + rng.IntN(2*step)
			deadline := time.Now().Add(20 * time.Second)
			for polls := 0; f.tw.Requests() < target && time.Now().Before(deadline); polls++ {
				if polls%100 == 99 && view.pending() == 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		}
		d.kill()
		killed++
		// Let the SMTP server finish whatever the dead connections carried.
		testsupport.WaitFor(t, "smtp connections closed", time.Minute, func() bool { return f.mail.OpenConnections() == 0 })
		midSend := view.sendingIDs(aftercare.Email)
		emailBound += min(len(midSend), crashEmailConcurrency)
		got := emailIDs(t, f.mail.Messages())
		for _, id := range midSend {
			if got[messageIDOf(id)] > 0 {
				emailAtRisk++
			}
		}
	}

	// The last run delivers the rest and stops cleanly.
	d := f.start()
	d.waitFor("every message final", 3*time.Minute, func() bool { return view.pending() == 0 })
	d.ready()
	if code := d.term(2 * time.Minute); code != 0 {
		t.Fatalf("final daemon exited %d\n%s", code, d.tail())
	}

	v := judge(t, view, f.tw, f.mail)
	t.Logf("crash anywhere: %d kills survived; %d messages (%d texts, %d emails); %d sent; %d lost; duplicates: %d texts, %d emails (bound %d, in flight at kills %d); seed %d",
		killed, len(v.rows), s.sms, s.email, v.sent, s.total()-v.sent, v.dupSMS, v.dupEmail, emailBound, emailAtRisk, seedValue)
	if killed < kills/2 {
		t.Errorf("only %d kills landed before everything was delivered; the test no longer exercises crashes", killed)
	}
	if len(v.rows) != s.total() {
		t.Fatalf("%d messages in the database, seeded %d", len(v.rows), s.total())
	}
	if v.notFinal != 0 {
		t.Errorf("%d messages not in a final state", v.notFinal)
	}
	if v.sent != s.total() {
		for _, r := range v.rows {
			if r.status != aftercare.StatusSent {
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
	if v.dupSMS != 0 {
		t.Errorf("%d texts sent twice; ambiguous attempts must be looked up before a resend", v.dupSMS)
	}
	if v.dupEmail > emailBound {
		t.Errorf("%d emails sent twice, over the bound of %d (emails in flight at the kills, at most %d per kill)",
			v.dupEmail, emailBound, crashEmailConcurrency)
	}
}
