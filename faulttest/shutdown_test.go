package faulttest

import (
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

// The send and Twilio timeouts are generous: 200 sends at once to a Twilio
// that takes 2 s each can need much longer on a loaded machine (seen: the
// default 10 s per request cut some, left them ambiguous and unrecorded),
// and a send cut by its timeout is not the graceful finish this test is
// about.
var shutdownConfig = `
twilio:
  timeout: 1m
dispatch:
  tick: "@every 1s"
  housekeeping: "@every 1s"
  batch_size: 500
  concurrency: 200
  lease: 5m
  send_timeout: 2m
  sms_rate: 0
  email_rate: 0
`

// TestGracefulShutdownUnderLoad sends SIGTERM to `aftercare serve` while
// hundreds of texts are in flight to a slow Twilio: the daemon exits 0,
// every send in flight finishes and is recorded, every claimed message not
// yet sent is back in the queue (not counted as an attempt), nothing is
// marked sent that Twilio did not get; a restart delivers the rest, once.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	f := newFixture(t, shutdownConfig)
	s := seed(t, f.db, plan{patients: 300, sms: 2, staleIn: 6 * time.Hour, tag: "term"}, aftercare.SystemClock)
	view := openView(t, f.db)
	f.tw.SetDelay(2 * time.Second)

	d := f.start()
	d.healthy()
	d.waitFor("sends in flight", 3*time.Minute, func() bool { return len(f.tw.Attempts()) >= 150 })
	inFlight := len(f.tw.Attempts()) - len(f.tw.Sent())
	began := time.Now()
	if code := d.term(3 * time.Minute); code != 0 { // in-flight sends are bounded by send_timeout
		t.Fatalf("exit %d after SIGTERM\n%s", code, d.tail())
	}
	took := time.Since(began)

	attempts := f.tw.Attempts()
	for _, a := range attempts {
		if a.Status != 201 {
			t.Errorf("a send in flight at SIGTERM got no answer (status %d): it was cut, not finished", a.Status)
			break
		}
	}
	sent, scheduled := view.count(aftercare.SMS, aftercare.StatusSent), view.count(aftercare.SMS, aftercare.StatusScheduled)
	if n := view.count("", aftercare.StatusSending); n != 0 {
		t.Errorf("%d messages left in sending after a graceful shutdown", n)
	}
	if sent != len(f.tw.Sent()) {
		t.Errorf("%d texts marked sent, Twilio has %d: every send that finished must be recorded, and only those", sent, len(f.tw.Sent()))
	}
	if sent+scheduled != s.sms {
		t.Errorf("%d sent + %d scheduled, seeded %d", sent, scheduled, s.sms)
	}
	var unsentAttempts int
	view.db.QueryRow(`SELECT count(*) FROM messages WHERE status = 'scheduled' AND (attempts <> 0 OR ambiguous <> 0)`).Scan(&unsentAttempts)
	if unsentAttempts != 0 {
		t.Errorf("%d released messages carry an attempt or an ambiguous flag", unsentAttempts)
	}
	t.Logf("graceful shutdown: %d sends in flight at SIGTERM, exit 0 after %s, %d sent and recorded, %d back in the queue",
		inFlight, took.Round(10*time.Millisecond), sent, scheduled)
	if scheduled == 0 {
		t.Fatal("nothing was left to release: the test did not stop the daemon under load")
	}

	// A restart delivers the rest, once.
	f.tw.SetDelay(0)
	d = f.start()
	d.waitFor("every message final", 3*time.Minute, func() bool { return view.pending() == 0 })
	if code := d.term(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.tail())
	}
	v := judge(t, view, f.tw, f.mail)
	if v.sent != s.total() || v.dupSMS != 0 || v.sentNotThere != 0 || v.unknown != 0 {
		t.Fatalf("end state: %v", v.summary())
	}
}
