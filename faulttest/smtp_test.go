package faulttest

import (
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

var smtpDownConfig = `
dispatch:
  tick: "@every 1s"
  housekeeping: "@every 1s"
  sms_rate: 0
  email_rate: 0
  lease: 30s
  send_timeout: 10s
`

// TestSMTPDownAtStart starts `aftercare serve` while the SMTP server is
// down: the daemon starts, is ready, and texts flow; emails wait (retried,
// not failed) and go out once the server is back, each once.
func TestSMTPDownAtStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, smtpDownConfig)
	f.mail.SetDown(true)
	s := seed(t, f.db, plan{patients: 20, sms: 1, email: 1, staleIn: 6 * time.Hour, tag: "smtpdown"}, aftercare.SystemClock)
	view := openView(t, f.db)

	d := f.start()
	d.ready()
	d.waitFor("texts sent while email is down", 3*time.Minute, func() bool {
		return view.count(aftercare.SMS, aftercare.StatusSent) == s.sms
	})
	d.waitFor("every email attempted", 3*time.Minute, func() bool {
		var n int
		view.db.QueryRow(`SELECT count(*) FROM messages WHERE channel = 'email' AND status = 'scheduled' AND attempts >= 1 AND last_error <> ''`).Scan(&n)
		return n == s.email
	})
	if st, body := d.get("/readyz"); st != 200 {
		t.Fatalf("readyz with SMTP down: %d %s", st, body)
	}
	if n := view.count(aftercare.Email, aftercare.StatusFailed); n != 0 {
		t.Fatalf("%d emails failed while the SMTP server was down; they must wait", n)
	}
	if n := len(f.mail.Messages()); n != 0 {
		t.Fatalf("%d emails received by a server that was down", n)
	}

	// Back up: the retries (30 s ±20% after the first attempt) go through.
	f.mail.SetDown(false)
	d.waitFor("emails sent once SMTP is back", 3*time.Minute, func() bool {
		return view.count(aftercare.Email, aftercare.StatusSent) == s.email
	})
	if code := d.term(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, d.tail())
	}
	v := judge(t, view, f.tw, f.mail)
	if v.sent != s.total() || v.notFinal != 0 || v.dupSMS != 0 || v.dupEmail != 0 || v.sentNotThere != 0 || v.unknown != 0 {
		t.Fatalf("end state: %+v", v.summary())
	}
}

// TestSMTPFlapping takes the SMTP server down and up four times over a few
// hours of virtual time while emails come due every minute: none is lost,
// none is sent twice, none fails, and texts are not held up.
func TestSMTPFlapping(t *testing.T) {
	t.Parallel()
	h := newInproc(t, t0, nil)
	s := seedStore(t, h.app.Store, plan{patients: 40, sms: 1, email: 1, staleIn: 12 * time.Hour, tag: "flap",
		at: func(p, _ int) time.Time { return t0.Add(time.Duration(p) * time.Minute) }}, t0, newYork)
	view := openView(t, h.db)
	retried := 0
	for cycle := 0; cycle < 4; cycle++ {
		h.mail.SetDown(true)
		textsBefore := len(h.tw.Sent())
		h.runUntil(h.clock.Now().Add(7 * time.Minute))
		if len(h.tw.Sent()) <= textsBefore {
			t.Errorf("cycle %d: no texts sent while SMTP was down", cycle)
		}
		if n := view.count(aftercare.Email, aftercare.StatusFailed); n != 0 {
			t.Fatalf("cycle %d: %d emails failed while SMTP was down", cycle, n)
		}
		h.mail.SetDown(false)
		h.runUntil(h.clock.Now().Add(4 * time.Minute))
	}
	for _, r := range view.rows() {
		if r.channel == aftercare.Email && r.attempts > 1 {
			retried++
		}
	}
	h.runUntil(t0.Add(12 * time.Hour))
	v := judge(t, view, h.tw, h.mail)
	t.Logf("smtp flapping: %d emails, %d retried after the server was down, %d connections", s.email, retried, h.mail.Connections())
	if retried == 0 {
		t.Fatal("no email was attempted while the server was down; the test does not exercise the outage")
	}
	if v.sent != s.total() || v.notFinal != 0 || v.dupSMS != 0 || v.dupEmail != 0 || v.sentNotThere != 0 || v.unknown != 0 {
		t.Fatalf("end state: %+v", v.summary())
	}
}
