package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/smtp"
	"github.com/aftercare/aftercare/notify/smtptest"
)

// setup starts a loopback SMTP server and a Sender pointed at it; cfg may
// adjust the Sender's configuration.
func setup(t *testing.T, cfg func(*smtp.Config), opts ...smtptest.Option) (*smtptest.Server, *smtp.Sender) {
	t.Helper()
	srv := smtptest.NewServer(t, opts...)
	c := smtp.Config{
		Host:     srv.Host(),
		Port:     srv.Port(),
		TLS:      smtp.TLSNone,
		From:     "Aftercare <care@default.example>",
		HeloName: "aftercare.test",
		Timeout:  5 * time.Second,
	}
	if cfg != nil {
		cfg(&c)
	}
	s, err := smtp.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return srv, s
}

var invite = notify.Invite{
	UID:     "enrollment-7-session-2@glow.example",
	Summary: "Microneedling, session 2",
	Start:   time.Date(2026, 12, 9, 9, 30, 0, 0, time.UTC),
	End:     time.Date(2026, 12, 9, 10, 15, 0, 0, time.UTC),
	Stamp:   time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
}

func message(id int64) notify.Message {
	return notify.Message{
		ID:             id,
		ClinicID:       3,
		Channel:        aftercare.Email,
		Step:           "day1",
		To:             "jane.doe@example.com",
		ToName:         "Jane <script>alert(1)</script> Doe",
		Subject:        "Après votre séance: day 1",
		Body:           "Hi Jane,\nApply SPF 50 today.\n",
		HTMLBody:       "<html><body><p>Hi Jane,</p><p>Apply SPF 50 today.</p></body></html>",
		Attempt:        1,
		From:           "Glow Clinic <care@glow.example>",
		ReplyTo:        "Front desk <desk@glow.example>",
		ClinicName:     "Glow <script>",
		UnsubscribeURL: "https://glow.example/u?t=abc&c=3",
		Attachments: []notify.Attachment{
			{Name: "session-2.ics", Data: notify.CalendarInvite(invite)},
		},
	}
}

func TestSendFullMessage(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	m := message(42)
	id, err := s.Send(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if id != "<aftercare-42@glow.example>" {
		t.Errorf("id = %q", id)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	got := msgs[0]
	if got.From != "care@glow.example" || strings.Join(got.To, ",") != "jane.doe@example.com" {
		t.Errorf("envelope: from %q to %q", got.From, got.To)
	}
	raw := string(got.Data)
	for _, want := range []string{
		"\r\nMessage-ID: <aftercare-42@glow.example>\r\n",
		"\r\nList-Unsubscribe: <https://glow.example/u?t=abc&c=3>\r\n",
		"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
		"\r\nAuto-Submitted: auto-generated\r\n",
	} {
		if !strings.Contains("\r\n"+raw, want) {
			t.Errorf("raw message lacks %q", strings.TrimSpace(want))
		}
	}
	for _, bad := range []string{"User-Agent:", "X-Mailer:"} {
		if strings.Contains(raw, bad) {
			t.Errorf("raw message contains %q", bad)
		}
	}

	p, err := got.Parse()
	if err != nil {
		t.Fatal(err)
	}
	headers := []struct{ key, name, addr string }{
		{"From", "Glow Clinic", "care@glow.example"},
		{"To", "Jane <script>alert(1)</script> Doe", "jane.doe@example.com"},
		{"Reply-To", "Front desk", "desk@glow.example"},
	}
	for _, h := range headers {
		a, err := mail.ParseAddress(p.Header.Get(h.key))
		if err != nil {
			t.Errorf("%s %q: %v", h.key, p.Header.Get(h.key), err)
			continue
		}
		if a.Name != h.name || a.Address != h.addr {
			t.Errorf("%s = %q <%s>, want %q <%s>", h.key, a.Name, a.Address, h.name, h.addr)
		}
	}
	if p.Subject != m.Subject {
		t.Errorf("Subject = %q", p.Subject)
	}
	want := "multipart/mixed,multipart/alternative,text/plain,text/html,text/calendar"
	if s := strings.Join(p.Structure, ","); s != want {
		t.Errorf("structure = %s, want %s", s, want)
	}
	text := strings.ReplaceAll(p.Text, "\r\n", "\n") // line breaks travel as CRLF
	if !strings.HasPrefix(text, "Hi Jane,\nApply SPF 50 today.\n") ||
		!strings.Contains(text, "treatment at Glow <script>.\nUnsubscribe: https://glow.example/u?t=abc&c=3") {
		t.Errorf("text part = %q", p.Text)
	}
	footer := `treatment at Glow &lt;script&gt;. <a href="https://glow.example/u?t=abc&amp;c=3">Unsubscribe</a></p>`
	if !strings.Contains(p.HTML, footer) || !strings.HasSuffix(strings.TrimSpace(p.HTML), "</body></html>") {
		t.Errorf("html part = %q", p.HTML)
	}
	if strings.Contains(p.HTML, "<script>") {
		t.Errorf("html part has an unescaped <script>: %q", p.HTML)
	}
	if len(p.Attachments) != 1 {
		t.Fatalf("attachments = %d", len(p.Attachments))
	}
	a := p.Attachments[0]
	if a.Filename != "session-2.ics" || !strings.HasPrefix(a.ContentType, notify.ICSContentType) {
		t.Errorf("attachment %q %q", a.Filename, a.ContentType)
	}
	if !bytes.Equal(a.Data, notify.CalendarInvite(invite)) {
		t.Errorf("ics differs:\n%s", a.Data)
	}
	unfolded := strings.ReplaceAll(string(a.Data), "\r\n ", "")
	for _, l := range []string{"METHOD:PUBLISH", "UID:enrollment-7-session-2@glow.example", `SUMMARY:Microneedling\, session 2`, "DTSTART:20261209T093000Z"} {
		if !strings.Contains(unfolded, "\r\n"+l+"\r\n") {
			t.Errorf("ics lacks %q", l)
		}
	}
}

func TestSendVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(*notify.Message)
		structure string
		unsub     string // List-Unsubscribe header
		post      string // List-Unsubscribe-Post header
		from      string
	}{
		{
			name: "text only, no unsubscribe, default sender",
			edit: func(m *notify.Message) {
				m.HTMLBody, m.UnsubscribeURL, m.Attachments, m.From, m.ReplyTo = "", "", nil, "", ""
			},
			structure: "text/plain",
			from:      "care@default.example",
		},
		{
			name:      "html only",
			edit:      func(m *notify.Message) { m.Body, m.Attachments = "", nil },
			structure: "text/html",
			unsub:     "<https://glow.example/u?t=abc&c=3>",
			post:      "List-Unsubscribe=One-Click",
			from:      "care@glow.example",
		},
		{
			name:      "http unsubscribe has no one-click post",
			edit:      func(m *notify.Message) { m.UnsubscribeURL, m.Attachments = "http://localhost:8080/u?t=1", nil },
			structure: "multipart/alternative,text/plain,text/html",
			unsub:     "<http://localhost:8080/u?t=1>",
			from:      "care@glow.example",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, s := setup(t, nil)
			m := message(7)
			tt.edit(&m)
			if _, err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			r := srv.Messages()[0]
			p, err := r.Parse()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(p.Structure, ","); got != tt.structure {
				t.Errorf("structure = %s, want %s", got, tt.structure)
			}
			if got := p.Header.Get("List-Unsubscribe"); got != tt.unsub {
				t.Errorf("List-Unsubscribe = %q, want %q", got, tt.unsub)
			}
			if got := p.Header.Get("List-Unsubscribe-Post"); got != tt.post {
				t.Errorf("List-Unsubscribe-Post = %q, want %q", got, tt.post)
			}
			if r.From != tt.from {
				t.Errorf("envelope from = %q, want %q", r.From, tt.from)
			}
		})
	}
}

func TestMessageIDStableAcrossSends(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	for range 2 {
		if _, err := s.Send(t.Context(), message(99)); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Messages()
	var ids []string
	for _, r := range msgs {
		p, err := r.Parse()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Header.Get("Message-ID"))
	}
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] != "<aftercare-99@glow.example>" {
		t.Errorf("Message-IDs = %q", ids)
	}
}

func TestMessageIDWithoutOutboxID(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	var ids []string
	for range 2 {
		id, err := s.Send(t.Context(), message(0))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] || strings.Contains(ids[0], "aftercare-0@") {
		t.Errorf("ids = %q, want two distinct random ones", ids)
	}
	p, err := srv.Messages()[1].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Header.Get("Message-ID"); got != ids[1] {
		t.Errorf("Message-ID header %q, returned %q", got, ids[1])
	}
}

func TestHTMLFooterPlacement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, html, want string
	}{
		{"upper-case body tag", "<HTML><BODY><P>İstanbul ſ</P></BODY></HTML>", "</a></p>\n</BODY></HTML>"},
		{"fragment", "<p>Hi</p>", "<p>Hi</p>\n<p style"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, s := setup(t, nil)
			m := message(1)
			m.HTMLBody, m.Attachments = tt.html, nil
			if _, err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			p, err := srv.Messages()[0].Parse()
			if err != nil {
				t.Fatal(err)
			}
			html := strings.ReplaceAll(p.HTML, "\r\n", "\n")
			if !strings.Contains(html, tt.want) {
				t.Errorf("html = %q, want it to contain %q", html, tt.want)
			}
			if !strings.Contains(html, "Unsubscribe</a>") {
				t.Errorf("no footer in %q", html)
			}
		})
	}
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id     int64
		domain string
		want   string
	}{
		{42, "glow.example", "<aftercare-42@glow.example>"},
		{1, "Glow.EXAMPLE", "<aftercare-1@glow.example>"},
		{2, "", "<aftercare-2@localhost>"},
		{3, "bad domain>\r\n", "<aftercare-3@baddomain>"},
	}
	for _, tt := range tests {
		if got := smtp.MessageID(tt.id, tt.domain); got != tt.want {
			t.Errorf("MessageID(%d, %q) = %q, want %q", tt.id, tt.domain, got, tt.want)
		}
	}
}

func TestSendRetryAfterGreylisting(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	srv.FailNext(1, 451, [3]int{4, 7, 1}, "greylisted, try again later")

	_, err := s.Send(t.Context(), message(5))
	ne := notify.Classify(err)
	if ne.Kind != notify.Transient || ne.Code != "451" || !strings.Contains(ne.Reason, "4.7.1") || ne.Action != notify.ActionNone {
		t.Fatalf("first send: %#v", ne)
	}
	id, err := s.Send(t.Context(), message(5))
	if err != nil {
		t.Fatalf("second send: %v", err)
	}
	if n := len(srv.Messages()); n != 1 || id != "<aftercare-5@glow.example>" {
		t.Errorf("delivered %d messages, id %q", n, id)
	}
}

func TestSendBadAddress(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	srv.FailFor("jane.doe@example.com", 550, [3]int{5, 1, 1}, "<jane.doe@example.com>: user unknown")
	_, err := s.Send(t.Context(), message(6))
	var ne *notify.Error
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v, not a *notify.Error", err)
	}
	if ne.Kind != notify.Permanent || ne.Action != notify.ActionBadAddress || ne.Code != "550" {
		t.Errorf("got %#v", ne)
	}
	// Errors end up in logs and in the outbox: no addresses in them.
	for _, s := range []string{ne.Error(), ne.Reason, ne.Err.Error(), fmt.Sprintf("%v %+v", err, ne.Err)} {
		if strings.Contains(s, "jane.doe@example.com") {
			t.Errorf("error text leaks the address: %q", s)
		}
	}
	if len(srv.Messages()) != 0 {
		t.Error("server recorded a rejected message")
	}
}

// TestSendClassifiesReplies injects replies at each stage of a real SMTP
// transaction and checks the classification Send returns.
func TestSendClassifiesReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stage    smtptest.Stage
		code     int
		enhanced [3]int
		kind     notify.Kind
		action   notify.Action
	}{
		{"greylisting", smtptest.StageRcpt, 451, [3]int{4, 7, 1}, notify.Transient, notify.ActionNone},
		{"mailbox full, temporary", smtptest.StageRcpt, 452, [3]int{4, 2, 2}, notify.Transient, notify.ActionNone},
		{"service closing", smtptest.StageRcpt, 421, [3]int{4, 3, 2}, notify.Transient, notify.ActionNone},
		{"unknown user", smtptest.StageRcpt, 550, [3]int{5, 1, 1}, notify.Permanent, notify.ActionBadAddress},
		{"bad domain", smtptest.StageRcpt, 550, [3]int{5, 1, 2}, notify.Permanent, notify.ActionBadAddress},
		{"bad syntax", smtptest.StageRcpt, 553, [3]int{5, 1, 3}, notify.Permanent, notify.ActionBadAddress},
		{"null MX", smtptest.StageRcpt, 556, [3]int{5, 1, 10}, notify.Permanent, notify.ActionBadAddress},
		{"mailbox disabled", smtptest.StageRcpt, 550, [3]int{5, 2, 1}, notify.Permanent, notify.ActionBadAddress},
		{"550 without enhanced code", smtptest.StageRcpt, 550, [3]int{}, notify.Permanent, notify.ActionBadAddress},
		{"mailbox full, permanent", smtptest.StageRcpt, 552, [3]int{5, 2, 2}, notify.Permanent, notify.ActionNone},
		{"552 to RCPT without enhanced code", smtptest.StageRcpt, 552, [3]int{}, notify.Transient, notify.ActionNone},
		{"recipient policy", smtptest.StageRcpt, 550, [3]int{5, 7, 1}, notify.Permanent, notify.ActionAlertOps},
		{"routing", smtptest.StageRcpt, 550, [3]int{5, 4, 4}, notify.Permanent, notify.ActionNone},
		{"sender rejected", smtptest.StageMail, 553, [3]int{5, 1, 8}, notify.Transient, notify.ActionAlertOps},
		{"sender rate limited", smtptest.StageMail, 451, [3]int{4, 7, 0}, notify.Transient, notify.ActionNone},
		{"spam", smtptest.StageData, 554, [3]int{5, 7, 1}, notify.Permanent, notify.ActionAlertOps},
		{"554 without enhanced code", smtptest.StageData, 554, [3]int{}, notify.Permanent, notify.ActionAlertOps},
		{"too big", smtptest.StageData, 552, [3]int{5, 3, 4}, notify.Permanent, notify.ActionAlertOps},
		{"local error", smtptest.StageData, 451, [3]int{4, 3, 0}, notify.Transient, notify.ActionNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, s := setup(t, nil)
			srv.FailNextAt(tt.stage, 1, tt.code, tt.enhanced, "injected")
			_, err := s.Send(t.Context(), message(1))
			var ne *notify.Error
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v", err)
			}
			if ne.Kind != tt.kind || ne.Action != tt.action || ne.Code != fmt.Sprint(tt.code) {
				t.Errorf("got kind %v action %q code %q (%s), want %v %q %d", ne.Kind, ne.Action, ne.Code, ne.Reason, tt.kind, tt.action, tt.code)
			}
			// The connection is usable again or replaced: the next send goes through.
			if _, err := s.Send(t.Context(), message(2)); err != nil {
				t.Errorf("send after the fault: %v", err)
			}
		})
	}
}

func TestSendAmbiguousWhenConnectionDropsAfterData(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	srv.DropNext(1)
	_, err := s.Send(t.Context(), message(8))
	if ne := notify.Classify(err); ne.Kind != notify.Ambiguous {
		t.Fatalf("got %#v, want ambiguous", ne)
	}
	if len(srv.Messages()) != 1 {
		t.Fatal("server should hold the message the client could not confirm")
	}
	// The retry carries the same Message-ID, so the duplicate is recognisable.
	if _, err := s.Send(t.Context(), message(8)); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	p0, _ := msgs[0].Parse()
	p1, _ := msgs[1].Parse()
	if p0.Header.Get("Message-ID") != p1.Header.Get("Message-ID") {
		t.Error("retry has a different Message-ID")
	}
}

func TestSendServerDownThenUp(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	srv.SetDown(true)
	_, err := s.Send(t.Context(), message(9))
	ne := notify.Classify(err)
	if ne.Kind != notify.Transient || ne.Action != notify.ActionNone {
		t.Fatalf("send while down: %#v", ne)
	}
	if !strings.Contains(ne.Reason, "connection refused") {
		t.Errorf("reason = %q", ne.Reason)
	}
	srv.SetDown(false)
	if _, err := s.Send(t.Context(), message(9)); err != nil {
		t.Fatalf("send after up: %v", err)
	}
	if len(srv.Messages()) != 1 {
		t.Error("not delivered")
	}
}

func TestSendRedialsAfterFlap(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	if _, err := s.Send(t.Context(), message(10)); err != nil {
		t.Fatal(err)
	}
	// The pooled connection dies with the server; the next send must
	// notice before sending and dial again, not fail.
	srv.SetDown(true)
	srv.SetDown(false)
	if _, err := s.Send(t.Context(), message(11)); err != nil {
		t.Fatalf("send after flap: %v", err)
	}
	if got := srv.Connections(); got != 2 {
		t.Errorf("connections = %d, want 2", got)
	}
}

func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	t.Run("sequential", func(t *testing.T) {
		t.Parallel()
		srv, s := setup(t, nil)
		for i := range 10 {
			if _, err := s.Send(t.Context(), message(int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		if got := srv.Connections(); got != 1 {
			t.Errorf("10 sends used %d connections, want 1", got)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		srv, s := setup(t, func(c *smtp.Config) { c.PoolSize = 3 })
		const workers, each = 3, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					if _, err := s.Send(t.Context(), message(int64(w*each+i))); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := len(srv.Messages()); n != workers*each {
			t.Errorf("delivered %d, want %d", n, workers*each)
		}
		if got := srv.Connections(); got >= workers*each/2 {
			t.Errorf("%d sends used %d connections", workers*each, got)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		srv, s := setup(t, func(c *smtp.Config) { c.PoolSize = -1 })
		for i := range 3 {
			if _, err := s.Send(t.Context(), message(int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		if got := srv.Connections(); got != 3 {
			t.Errorf("connections = %d, want 3", got)
		}
	})
}

func TestIdleConnectionsClose(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, func(c *smtp.Config) { c.IdleTimeout = 50 * time.Millisecond })
	if _, err := s.Send(t.Context(), message(1)); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "the server's connections closed", time.Minute, func() bool { return srv.OpenConnections() == 0 })
	if _, err := s.Send(t.Context(), message(2)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Connections(); got != 2 {
		t.Errorf("connections = %d, want 2", got)
	}
}

func TestCloseClosesPool(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	if _, err := s.Send(t.Context(), message(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testsupport.WaitFor(t, "the server's connections closed", time.Minute, func() bool { return srv.OpenConnections() == 0 })
	if _, err := s.Send(t.Context(), message(2)); err == nil {
		t.Error("send after Close succeeded")
	}
}

func TestSendRespectsContext(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	srv.SetDelay(time.Hour) // the server sits on the reply to the final "."
	// The deadline passes once the server holds the data, whenever a busy
	// machine gets there: a timer could fire before the data was sent,
	// which is rightly not ambiguous.
	ctx, expire := context.WithCancelCause(t.Context())
	defer expire(nil)
	done := make(chan error, 1)
	go func() { _, err := s.Send(ctx, message(1)); done <- err }()
	testsupport.WaitFor(t, "the server to hold the reply", time.Minute, func() bool { return srv.Delaying() == 1 })
	expire(context.DeadlineExceeded)
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute): // the delay is an hour
		t.Fatal("Send did not end with its context")
	}
	ne := notify.Classify(err)
	if ne.Kind != notify.Ambiguous || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %#v (%v), want ambiguous deadline", ne, err)
	}

	cancelled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	_, err = s.Send(cancelled, message(2))
	if ne := notify.Classify(err); ne.Kind != notify.Transient || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %#v", ne)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		user, pass string
		kind       notify.Kind
		action     notify.Action
		code       string
	}{
		{"right credentials", "clinic", "s3cret", 0, "", ""},
		{"wrong password", "clinic", "wrong", notify.Transient, notify.ActionAlertOps, "535"},
		{"no credentials", "", "", notify.Transient, notify.ActionAlertOps, "502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, s := setup(t, func(c *smtp.Config) { c.Username, c.Password = tt.user, tt.pass },
				smtptest.WithAuth("clinic", "s3cret"))
			_, err := s.Send(t.Context(), message(1))
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].User != "clinic" {
					t.Errorf("messages = %+v", msgs)
				}
				return
			}
			ne := notify.Classify(err)
			if ne.Kind != tt.kind || ne.Action != tt.action || ne.Code != tt.code {
				t.Errorf("got %#v", ne)
			}
			if tt.pass != "" && strings.Contains(fmt.Sprint(err, ne.Err), tt.pass) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestTLSModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mode    string
		opt     smtptest.Option
		trusted bool
		wantErr bool
	}{
		{"starttls", smtp.TLSStartTLS, smtptest.WithSTARTTLS(), true, false},
		{"implicit tls", smtp.TLSImplicit, smtptest.WithImplicitTLS(), true, false},
		{"starttls, untrusted certificate", smtp.TLSStartTLS, smtptest.WithSTARTTLS(), false, true},
		{"implicit tls, untrusted certificate", smtp.TLSImplicit, smtptest.WithImplicitTLS(), false, true},
		{"starttls required but not offered", smtp.TLSStartTLS, nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []smtptest.Option{smtptest.WithAuth("clinic", "s3cret")}
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			srv := smtptest.NewServer(t, opts...)
			cfg := smtp.Config{
				Host: srv.Host(), Port: srv.Port(), TLS: tt.mode, Username: "clinic", Password: "s3cret",
				From: "care@glow.example", Timeout: 5 * time.Second,
			}
			if tt.trusted {
				cfg.TLSConfig = srv.ClientTLSConfig()
			}
			s, err := smtp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Send(t.Context(), message(1))
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				if len(srv.Messages()) != 1 {
					t.Error("not delivered")
				}
				return
			}
			ne := notify.Classify(err)
			if ne.Kind != notify.Transient || ne.Action != notify.ActionAlertOps {
				t.Errorf("got %#v (%v)", ne, err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		srv, s := setup(t, func(c *smtp.Config) { c.Username, c.Password = "clinic", "s3cret" }, smtptest.WithAuth("clinic", "s3cret"))
		if err := s.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		testsupport.WaitFor(t, "the server's connections closed", time.Minute, func() bool { return srv.OpenConnections() == 0 }) // QUIT closed it
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		_, s := setup(t, func(c *smtp.Config) { c.Username, c.Password = "clinic", "nope" }, smtptest.WithAuth("clinic", "s3cret"))
		err := s.Check(t.Context())
		if ne := notify.Classify(err); err == nil || ne.Code != "535" || ne.Action != notify.ActionAlertOps {
			t.Errorf("got %v", err)
		}
	})
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		srv, s := setup(t, nil)
		srv.SetDown(true)
		err := s.Check(t.Context())
		if ne := notify.Classify(err); err == nil || ne.Kind != notify.Transient {
			t.Errorf("got %v", err)
		}
	})
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     smtp.Config
		wantErr string
	}{
		{"no host", smtp.Config{}, "host is required"},
		{"plain to a remote host", smtp.Config{Host: "smtp.example.com", TLS: "none"}, "only allowed for a loopback"},
		{"unknown tls", smtp.Config{Host: "smtp.example.com", TLS: "ssl"}, "tls must be"},
		{"bad port", smtp.Config{Host: "smtp.example.com", Port: 70000}, "out of range"},
		{"bad from", smtp.Config{Host: "smtp.example.com", From: "not an address"}, "from"},
		{"half credentials", smtp.Config{Host: "smtp.example.com", Username: "u"}, "go together"},
		{"plain to loopback", smtp.Config{Host: "127.0.0.1", TLS: "none"}, ""},
		{"plain to localhost", smtp.Config{Host: "localhost", TLS: "none"}, ""},
		{"defaults", smtp.Config{Host: "smtp.example.com", From: "Clinic <care@example.com>"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := smtp.New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = s.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSendRejectsUnsendableMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(*notify.Message)
		action notify.Action
	}{
		{"bad recipient", func(m *notify.Message) { m.To = "not an address" }, notify.ActionBadAddress},
		{"sms channel", func(m *notify.Message) { m.Channel = aftercare.SMS }, notify.ActionAlertOps},
		{"bad clinic sender", func(m *notify.Message) { m.From = "nope" }, notify.ActionAlertOps},
		{"bad reply-to", func(m *notify.Message) { m.ReplyTo = "nope" }, notify.ActionAlertOps},
		{"empty body", func(m *notify.Message) { m.Body, m.HTMLBody = "", "" }, notify.ActionAlertOps},
		{"bad unsubscribe url", func(m *notify.Message) { m.UnsubscribeURL = "javascript:alert(1)" }, notify.ActionAlertOps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, s := setup(t, nil)
			m := message(1)
			tt.edit(&m)
			_, err := s.Send(t.Context(), m)
			ne := notify.Classify(err)
			if ne.Kind != notify.Permanent || ne.Action != tt.action {
				t.Errorf("got %#v", ne)
			}
			if srv.Connections() != 0 {
				t.Error("dialed for a message that cannot be sent")
			}
		})
	}
}

func TestSendHeaderInjection(t *testing.T) {
	t.Parallel()
	srv, s := setup(t, nil)
	m := message(1)
	m.Subject = "Hello\r\nBcc: evil@example.com"
	m.ToName = "Jane\r\nBcc: evil@example.com"
	if _, err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	r := srv.Messages()[0]
	if bytes.Contains(r.Data, []byte("\r\nBcc:")) || len(r.To) != 1 {
		t.Errorf("header injected:\n%s", r.Data)
	}
}
