package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/twilio"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

const (
	patient  = "+15005550006"
	clinicA  = "+15005550001"
	clinicB  = "+15005550002"
	token    = "authtoken0123"
	callback = "https://aftercare.example.com/webhooks/twilio/status"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	srv    *twiliotest.Server
	sender *twilio.Sender
	cfg    twilio.Config
	tr     *http.Transport
}

// setup starts a fake Twilio on loopback and a Sender pointed at it, both
// on a clock stopped at now. edit may change the config.
func setup(t *testing.T, edit ...func(*twilio.Config)) fixture {
	t.Helper()
	account := twiliotest.NewSID("AC")
	srv := twiliotest.NewServer(t, account, token)
	srv.SetClock(func() time.Time { return now })
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := twilio.Config{
		AccountSID:        account,
		AuthToken:         token,
		From:              clinicA,
		BaseURL:           srv.URL(),
		StatusCallbackURL: callback,
		// Generous for a loaded machine: no test waits for it to fire.
		Timeout:    30 * time.Second,
		HTTPClient: &http.Client{Transport: tr},
		Clock:      aftercare.ClockFunc(func() time.Time { return now }),
	}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := twilio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{srv: srv, sender: s, cfg: cfg, tr: tr}
}

func message(body string) notify.Message {
	return notify.Message{ID: 1, Channel: aftercare.SMS, Step: "day0", To: patient, Body: body, StaleAt: now.Add(2 * time.Hour), Attempt: 1}
}

func classified(t *testing.T, err error) *notify.Error {
	t.Helper()
	var ne *notify.Error
	if !errors.As(err, &ne) {
		t.Fatalf("error %v (%T) is not a *notify.Error", err, err)
	}
	return ne
}

func TestSendFormFields(t *testing.T) {
	t.Parallel()
	serviceA, serviceB := twiliotest.NewSID("MG"), twiliotest.NewSID("MG")
	tests := []struct {
		name     string
		cfg      func(*twilio.Config)
		msg      func(*notify.Message)
		from     string
		service  string
		validity string
		callback string
	}{
		{name: "config number", from: clinicA, validity: "7200", callback: callback},
		{name: "config service overrides config number",
			cfg:     func(c *twilio.Config) { c.MessagingServiceSID = serviceA },
			service: serviceA, validity: "7200", callback: callback},
		{name: "clinic number overrides config service",
			cfg:  func(c *twilio.Config) { c.MessagingServiceSID = serviceA },
			msg:  func(m *notify.Message) { m.From = clinicB },
			from: clinicB, validity: "7200", callback: callback},
		{name: "clinic service overrides clinic number",
			msg:     func(m *notify.Message) { m.From, m.MessagingServiceSID = clinicB, serviceB },
			service: serviceB, validity: "7200", callback: callback},
		{name: "validity clamped to 10 hours",
			msg:  func(m *notify.Message) { m.StaleAt = now.Add(20 * time.Hour) },
			from: clinicA, validity: "36000", callback: callback},
		{name: "validity at least 1 second",
			msg:  func(m *notify.Message) { m.StaleAt = now.Add(300 * time.Millisecond) },
			from: clinicA, validity: "1", callback: callback},
		{name: "validity rounds down",
			msg:  func(m *notify.Message) { m.StaleAt = now.Add(90*time.Second + 900*time.Millisecond) },
			from: clinicA, validity: "90", callback: callback},
		{name: "no stale time, no validity",
			msg:  func(m *notify.Message) { m.StaleAt = time.Time{} },
			from: clinicA, callback: callback},
		{name: "no status callback",
			cfg:  func(c *twilio.Config) { c.StatusCallbackURL = "" },
			from: clinicA, validity: "7200"},
		{name: "api key",
			cfg:  func(c *twilio.Config) { c.APIKey, c.APISecret = twiliotest.NewSID("SK"), "keysecret1" },
			from: clinicA, validity: "7200", callback: callback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*twilio.Config)
			if tt.cfg != nil {
				edits = append(edits, tt.cfg)
			}
			f := setup(t, edits...)
			if f.cfg.APIKey != "" {
				f.srv.AddAPIKey(f.cfg.APIKey, f.cfg.APISecret)
			}
			m := message("Avoid makeup for 24 hours.")
			if tt.msg != nil {
				tt.msg(&m)
			}
			sid, err := f.sender.Send(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			sent := f.srv.Sent()
			if len(sent) != 1 || sent[0].SID != sid {
				t.Fatalf("server stored %+v, Send returned %q", sent, sid)
			}
			form := sent[0].Form
			want := map[string]string{
				"To": patient, "Body": "Avoid makeup for 24 hours.", "From": tt.from,
				"MessagingServiceSid": tt.service, "ValidityPeriod": tt.validity, "StatusCallback": tt.callback,
			}
			for k, v := range want {
				if got := form.Get(k); got != v || (v == "" && form.Has(k)) {
					t.Errorf("%s = %q (present %v), want %q", k, got, form.Has(k), v)
				}
			}
		})
	}
}

func TestSendStaleMessageIsNotSent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	m := message("x")
	m.StaleAt = now
	_, err := f.sender.Send(context.Background(), m)
	if e := classified(t, err); e.Kind != notify.Permanent {
		t.Errorf("kind = %v", e.Kind)
	}
	if f.srv.Requests() != 0 {
		t.Errorf("Twilio called %d times", f.srv.Requests())
	}
}

func TestSendWithoutSender(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *twilio.Config) { c.From = "" })
	_, err := f.sender.Send(context.Background(), message("x"))
	if e := classified(t, err); e.Kind != notify.Transient || !strings.Contains(e.Reason, "no SMS sender") {
		t.Errorf("error = %+v", e)
	}
	if f.srv.Requests() != 0 {
		t.Errorf("Twilio called")
	}
}

func TestSendErrorsAreClassified(t *testing.T) {
	t.Parallel()
	apiKey := twiliotest.NewSID("SK")
	tests := []struct {
		name       string
		inject     func(*twiliotest.Server)
		to         string
		cfg        func(*twilio.Config)
		kind       notify.Kind
		code       string
		action     notify.Action
		retryAfter time.Duration
		reasonHas  string
	}{
		{name: "21610 opted out", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 21610, "") },
			kind: notify.Permanent, code: "21610", action: notify.ActionOptOut, reasonHas: "Attempt to send to unsubscribed recipient"},
		{name: "21211 from validation", to: "5551234567",
			kind: notify.Permanent, code: "21211", action: notify.ActionBadAddress, reasonHas: "Invalid 'To' Phone Number"},
		{name: "21211 per recipient", inject: func(s *twiliotest.Server) { s.FailFor(patient, 400, 21211) },
			kind: notify.Permanent, code: "21211", action: notify.ActionBadAddress},
		{name: "21614 not mobile", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 21614, "") },
			kind: notify.Permanent, code: "21614", action: notify.ActionBadAddress},
		{name: "30006 landline", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 30006, "") },
			kind: notify.Permanent, code: "30006", action: notify.ActionBadAddress},
		{name: "30003 unreachable", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 30003, "") },
			kind: notify.Transient, code: "30003", action: notify.ActionRetryOnce},
		{name: "30007 filtered", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 30007, "") },
			kind: notify.Permanent, code: "30007", action: notify.ActionAlertOps},
		{name: "30005 unknown handset", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 30005, "") },
			kind: notify.Permanent, code: "30005"},
		{name: "21408 region", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 21408, "") },
			kind: notify.Permanent, code: "21408"},
		{name: "21612 not routable", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 21612, "") },
			kind: notify.Permanent, code: "21612"},
		{name: "other 4xx code", inject: func(s *twiliotest.Server) { s.FailNext(1, 400, 21999, "Something else") },
			kind: notify.Permanent, code: "21999", reasonHas: "Something else"},
		{name: "20429 with Retry-After", inject: func(s *twiliotest.Server) { s.RateLimitNext(1, 7*time.Second) },
			kind: notify.Transient, code: "20429", retryAfter: 7 * time.Second},
		{name: "429 without a known code", inject: func(s *twiliotest.Server) {
			s.Inject(1, twiliotest.Fault{Status: 429, Code: 12345, RetryAfter: 3 * time.Second})
		}, kind: notify.Transient, code: "12345", retryAfter: 3 * time.Second},
		{name: "500 JSON", inject: func(s *twiliotest.Server) { s.FailNext(1, 500, 20500, "") },
			kind: notify.Ambiguous, code: "20500"},
		{name: "503 HTML", inject: func(s *twiliotest.Server) { s.HTML503Next(1) },
			kind: notify.Ambiguous, reasonHas: "HTTP 503"},
		{name: "503 HTML with Retry-After", inject: func(s *twiliotest.Server) {
			s.Inject(1, twiliotest.Fault{Status: 503, HTML: true, RetryAfter: 30 * time.Second})
		}, kind: notify.Ambiguous, retryAfter: 30 * time.Second},
		{name: "20003 wrong token", cfg: func(c *twilio.Config) { c.AuthToken = "wrongtoken" },
			kind: notify.Transient, code: "20003", reasonHas: "credentials"},
		{name: "20404 another account's path", inject: func(s *twiliotest.Server) { s.AddAPIKey(apiKey, "keysecret1") },
			cfg: func(c *twilio.Config) {
				c.AccountSID, c.APIKey, c.APISecret = twiliotest.NewSID("AC"), apiKey, "keysecret1"
			},
			kind: notify.Transient, code: "20404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*twilio.Config)
			if tt.cfg != nil {
				edits = append(edits, tt.cfg)
			}
			f := setup(t, edits...)
			if tt.inject != nil {
				tt.inject(f.srv)
			}
			m := message("Private aftercare text")
			if tt.to != "" {
				m.To = tt.to
			}
			sid, err := f.sender.Send(context.Background(), m)
			if err == nil {
				t.Fatalf("sent %s, want an error", sid)
			}
			e := classified(t, err)
			if e.Kind != tt.kind || e.Code != tt.code || e.Action != tt.action || e.RetryAfter != tt.retryAfter {
				t.Errorf("got kind %v code %q action %q retry-after %v; want %v %q %q %v (reason %q)",
					e.Kind, e.Code, e.Action, e.RetryAfter, tt.kind, tt.code, tt.action, tt.retryAfter, e.Reason)
			}
			if !strings.Contains(e.Reason, tt.reasonHas) {
				t.Errorf("reason %q does not mention %q", e.Reason, tt.reasonHas)
			}
			for _, secret := range []string{m.To, "5551234567", token, m.Body} {
				if strings.Contains(e.Error(), secret) {
					t.Errorf("error text %q leaks %q", e.Error(), secret)
				}
			}
		})
	}
}

func TestSendConnectionRefusedIsTransient(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := setup(t, func(c *twilio.Config) { c.BaseURL = "http://" + addr })
	_, err = f.sender.Send(context.Background(), message("x"))
	if e := classified(t, err); e.Kind != notify.Transient || !strings.Contains(e.Reason, "nothing was sent") {
		t.Errorf("error = %+v", e)
	}
}

func TestSendCancelledBeforeSendingIsTransient(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.sender.Send(ctx, message("x"))
	if e := classified(t, err); e.Kind != notify.Transient {
		t.Errorf("error = %+v", e)
	}
	if f.srv.Requests() != 0 {
		t.Error("Twilio called")
	}
}

func TestSendCallerCancelWhileWaitingIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.HangNext(1)
	if e := classified(t, sendHung(t, f, message("x"))); e.Kind != notify.Ambiguous {
		t.Errorf("error = %+v", e)
	}
}

// sendHung sends m, waits until the loopback server holds the request
// hanging (HangNext or SetHang must be in force), then cancels the send and
// returns its error. The hang ends by the test's hand once it has been
// seen, not by a timer that a busy machine could beat.
func sendHung(t *testing.T, f fixture, m notify.Message) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := f.sender.Send(ctx, m); done <- err }()
	waitHanging(t, f.srv, done)
	cancel()
	return <-done
}

// waitHanging waits until srv holds a request hanging. It fails the test
// if the call reports on done first (it never reached the hang) or after a
// minute, far more than a loaded machine needs.
func waitHanging(t *testing.T, srv *twiliotest.Server, done <-chan error) {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for srv.Hanging() == 0 {
		select {
		case err := <-done:
			t.Fatalf("the call ended before it reached the hang: %v", err)
		case <-deadline.C:
			t.Fatal("the request never reached the server")
		case <-tick.C:
		}
	}
}

func TestSendConcurrently(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.srv.FailNext(3, 500, 20500, "")
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Go(func() {
			_, err := f.sender.Send(context.Background(), message(fmt.Sprintf("message %d", i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if e := classified(t, err); e.Kind != notify.Ambiguous {
				t.Errorf("error = %+v", e)
			}
		}
	}
	if failed != 3 || len(f.srv.Sent()) != 27 {
		t.Errorf("failed %d, stored %d; want 3 and 27", failed, len(f.srv.Sent()))
	}
}

// Not parallel: it counts goroutines.
func TestHangCutByTimeoutLeaksNothing(t *testing.T) {
	base := runtime.NumGoroutine()
	account := twiliotest.NewSID("AC")
	srv := twiliotest.NewServer(nil, account, token)
	tr := &http.Transport{}
	sender := func(timeout time.Duration) *twilio.Sender {
		s, err := twilio.New(twilio.Config{
			AccountSID: account, AuthToken: token, From: clinicA, BaseURL: srv.URL(),
			Timeout: timeout, HTTPClient: &http.Client{Transport: tr},
			Clock: aftercare.ClockFunc(func() time.Time { return now }),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Only the hung request has a short timeout. The transport is shared,
	// and the connection is opened first by a normal send, so the timeout
	// has nothing to wait for but the hang: it cannot fire while a busy
	// machine is still connecting (which would rightly be "nothing sent").
	short, usual := sender(2*time.Second), sender(time.Minute)
	ctx := context.Background()
	if _, err := usual.Send(ctx, message("x")); err != nil {
		t.Fatal(err)
	}

	srv.HangNext(1)
	_, err := short.Send(ctx, message("x"))
	if e := classified(t, err); e.Kind != notify.Ambiguous || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %+v, want ambiguous, cut by the timeout", e)
	}
	// Error answers, whose bodies twilio-go never closes (and does not read
	// to the end when they are not JSON), and a hung list, cut by a cancel.
	for i := range 10 {
		if i%2 == 0 {
			srv.FailNext(1, 400, 21610, "")
		} else {
			srv.HTML503Next(1)
		}
		if _, err := usual.Send(ctx, message("x")); err == nil {
			t.Fatal("want error")
		}
	}
	srv.SetHang(true)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := usual.Find(fctx, message("x"), now); done <- err }()
	waitHanging(t, srv, done)
	cancel()
	if err := <-done; classified(t, err).Kind != notify.Ambiguous {
		t.Errorf("hung Find: %v", err)
	}

	srv.Close()
	tr.CloseIdleConnections()
	testsupport.WaitGoroutines(t, base, time.Minute)
}

func TestFindAfterAmbiguous500(t *testing.T) {
	t.Parallel()
	service := twiliotest.NewSID("MG")
	tests := []struct {
		name string
		msg  func(*notify.Message)
	}{
		{name: "by number"},
		{name: "by messaging service", msg: func(m *notify.Message) { m.MessagingServiceSID = service }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ctx := context.Background()
			m := message("Day 1: use the gentle cleanser.")
			if tt.msg != nil {
				tt.msg(&m)
			}
			// Another message to the same patient, and the same text to someone else.
			other := m
			other.Body = "Day 0: no makeup."
			if _, err := f.sender.Send(ctx, other); err != nil {
				t.Fatal(err)
			}
			elsewhere := m
			elsewhere.To = "+15005550009"
			if _, err := f.sender.Send(ctx, elsewhere); err != nil {
				t.Fatal(err)
			}

			since := now.Add(-time.Minute)
			if sid, err := f.sender.Find(ctx, m, since); err != nil || sid != "" {
				t.Fatalf("before sending: Find = %q, %v", sid, err)
			}
			f.srv.Ambiguous5xxNext(1)
			_, err := f.sender.Send(ctx, m)
			if e := classified(t, err); e.Kind != notify.Ambiguous {
				t.Fatalf("send: %+v", e)
			}
			sent := f.srv.Sent()
			want := sent[len(sent)-1].SID
			sid, err := f.sender.Find(ctx, m, since)
			if err != nil || sid != want {
				t.Errorf("Find = %q, %v; want %q", sid, err, want)
			}
			if sid, err := f.sender.Find(ctx, m, now.Add(time.Hour)); err != nil || sid != "" {
				t.Errorf("Find since later = %q, %v; want none", sid, err)
			}
			changed := m
			changed.Body += "!"
			if sid, err := f.sender.Find(ctx, changed, since); err != nil || sid != "" {
				t.Errorf("Find other body = %q, %v; want none", sid, err)
			}
		})
	}
}

func TestFindAfterHangThatWasNeverProcessed(t *testing.T) {
	t.Parallel()
	// Only the hung request is cut short, by a cancel once the server
	// holds it; the Find after it has the usual timeout.
	f := setup(t)
	f.srv.HangNext(1)
	ctx := context.Background()
	if e := classified(t, sendHung(t, f, message("x"))); e.Kind != notify.Ambiguous {
		t.Fatalf("send: %+v", e)
	}
	if sid, err := f.sender.Find(ctx, message("x"), now.Add(-time.Minute)); err != nil || sid != "" {
		t.Errorf("Find = %q, %v; want none", sid, err)
	}
}

func TestFetch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sid, err := f.sender.Send(ctx, message("x"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.sender.Fetch(ctx, sid)
	if err != nil || st != (twilio.Status{Status: "sent"}) {
		t.Errorf("Fetch = %+v, %v", st, err)
	}
	if err := f.srv.SetStatus(sid, "undelivered", 30006); err != nil {
		t.Fatal(err)
	}
	st, err = f.sender.Fetch(ctx, sid)
	if err != nil || st.Status != "undelivered" || st.ErrorCode != 30006 || st.ErrorMessage == "" {
		t.Errorf("Fetch = %+v, %v", st, err)
	}

	_, err = f.sender.Fetch(ctx, twiliotest.NewSID("SM"))
	if e := classified(t, err); e.Kind != notify.Permanent || e.Code != "20404" {
		t.Errorf("unknown SID: %+v", e)
	}
	before := f.srv.Requests()
	_, err = f.sender.Fetch(ctx, "../../Calls")
	if e := classified(t, err); e.Kind != notify.Permanent {
		t.Errorf("bad SID: %+v", e)
	}
	if f.srv.Requests() != before {
		t.Error("bad SID reached Twilio")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	good := twilio.Config{AccountSID: twiliotest.NewSID("AC"), AuthToken: "abc123", From: clinicA}
	tests := []struct {
		name string
		edit func(*twilio.Config)
		ok   bool
	}{
		{"good", func(*twilio.Config) {}, true},
		{"api key", func(c *twilio.Config) { c.AuthToken, c.APIKey, c.APISecret = "", twiliotest.NewSID("SK"), "s3cret" }, true},
		{"alphanumeric sender", func(c *twilio.Config) { c.From = "Glow Clinic" }, true},
		{"short code", func(c *twilio.Config) { c.From = "12345" }, true},
		{"no default sender", func(c *twilio.Config) { c.From = "" }, true},
		{"service", func(c *twilio.Config) { c.MessagingServiceSID = twiliotest.NewSID("MG") }, true},
		{"base URL with path", func(c *twilio.Config) { c.BaseURL = "http://127.0.0.1:8080/twilio" }, true},
		{"no account", func(c *twilio.Config) { c.AccountSID = "" }, false},
		{"bad account", func(c *twilio.Config) { c.AccountSID = "AC123" }, false},
		{"no token", func(c *twilio.Config) { c.AuthToken = "" }, false},
		{"token with symbols", func(c *twilio.Config) { c.AuthToken = "abc-123" }, false},
		{"key without secret", func(c *twilio.Config) { c.APIKey = twiliotest.NewSID("SK") }, false},
		{"bad key", func(c *twilio.Config) { c.APIKey, c.APISecret = "SK1", "s" }, false},
		{"bad from", func(c *twilio.Config) { c.From = "555-1234" }, false},
		{"bad service", func(c *twilio.Config) { c.MessagingServiceSID = "MG1" }, false},
		{"bad base URL", func(c *twilio.Config) { c.BaseURL = "127.0.0.1:8080" }, false},
		{"bad callback", func(c *twilio.Config) { c.StatusCallbackURL = "/webhooks" }, false},
		{"negative timeout", func(c *twilio.Config) { c.Timeout = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			_, err := twilio.New(cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && cfg.AuthToken != "" && strings.Contains(err.Error(), cfg.AuthToken) {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
}
