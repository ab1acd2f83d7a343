package smtptest_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/smtptest"
)

const rawMessage = "From: Clinic <care@clinic.example>\r\n" +
	"To: Jane <jane@example.com>\r\n" +
	"Subject: =?utf-8?q?Apr=C3=A8s_votre_s=C3=A9ance?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Apply SPF =E2=80=94 daily.\r\n" +
	".leading dot\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>Apply SPF</p>\r\n" +
	"--inner--\r\n" +
	"--outer\r\n" +
	"Content-Type: text/calendar; charset=utf-8; method=PUBLISH; name=\"invite.ics\"\r\n" +
	"Content-Disposition: attachment; filename=\"invite.ics\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=\r\n" +
	"--outer--\r\n"

// send delivers rawMessage with net/smtp, optionally authenticating.
func send(t *testing.T, s *smtptest.Server, auth smtp.Auth, to string) error {
	t.Helper()
	return smtp.SendMail(s.Addr(), auth, "care@clinic.example", []string{to}, []byte(rawMessage))
}

func TestServerRecordsAndParses(t *testing.T) {
	t.Parallel()
	s := smtptest.NewServer(t)
	if err := send(t, s, nil, "jane@example.com"); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "care@clinic.example" || len(m.To) != 1 || m.To[0] != "jane@example.com" || m.Conn != 1 {
		t.Errorf("envelope = %q %q conn %d", m.From, m.To, m.Conn)
	}
	// net/smtp dot-stuffs ".leading dot"; the server must undo it.
	if string(m.Data) != rawMessage {
		t.Errorf("data differs from what was sent:\n%q", m.Data)
	}
	p, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "Après votre séance" {
		t.Errorf("Subject = %q", p.Subject)
	}
	if p.Text != "Apply SPF — daily.\r\n.leading dot" || p.HTML != "<p>Apply SPF</p>" {
		t.Errorf("Text = %q, HTML = %q", p.Text, p.HTML)
	}
	want := []string{"multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar"}
	if strings.Join(p.Structure, ",") != strings.Join(want, ",") {
		t.Errorf("Structure = %q, want %q", p.Structure, want)
	}
	if len(p.Attachments) != 1 || p.Attachments[0].Filename != "invite.ics" ||
		string(p.Attachments[0].Data) != "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" {
		t.Errorf("Attachments = %+v", p.Attachments)
	}
}

func TestServerAuth(t *testing.T) {
	t.Parallel()
	s := smtptest.NewServer(t, smtptest.WithAuth("clinic", "s3cret"))
	tests := []struct {
		name     string
		auth     smtp.Auth
		wantCode int
	}{
		{"no auth", nil, 502},
		{"wrong password", smtp.PlainAuth("", "clinic", "nope", s.Host()), 535},
		{"right password", smtp.PlainAuth("", "clinic", "s3cret", s.Host()), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := send(t, s, tt.auth, "jane@example.com")
			if got := replyCode(err); got != tt.wantCode {
				t.Errorf("reply code = %d (%v), want %d", got, err, tt.wantCode)
			}
		})
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].User != "clinic" {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestServerFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inject func(s *smtptest.Server)
		codes  []int // reply codes of consecutive sends; 0 = delivered
	}{
		{"fail next rcpt", func(s *smtptest.Server) { s.FailNext(2, 451, [3]int{4, 7, 1}, "greylisted") }, []int{451, 451, 0}},
		{"fail mail", func(s *smtptest.Server) { s.FailNextAt(smtptest.StageMail, 1, 421, [3]int{4, 3, 2}, "busy") }, []int{421, 0}},
		{"fail data", func(s *smtptest.Server) { s.FailNextAt(smtptest.StageData, 1, 554, [3]int{5, 7, 1}, "spam") }, []int{554, 0}},
		{"fail for rcpt", func(s *smtptest.Server) { s.FailFor("JANE@example.com", 550, [3]int{5, 1, 1}, "no such user") }, []int{550, 550}},
		{"drop after data", func(s *smtptest.Server) { s.DropNext(1) }, []int{-1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := smtptest.NewServer(t)
			tt.inject(s)
			delivered := 0
			for i, want := range tt.codes {
				err := send(t, s, nil, "jane@example.com")
				got := replyCode(err)
				if want == -1 {
					if err == nil || got != 0 {
						t.Errorf("send %d: err = %v, want a dropped connection", i, err)
					}
					delivered++ // recorded although the client never heard back
					continue
				}
				if got != want {
					t.Errorf("send %d: reply code = %d (%v), want %d", i, got, err, want)
				}
				if want == 0 {
					delivered++
				}
			}
			if n := len(s.Messages()); n != delivered {
				t.Errorf("recorded %d messages, want %d", n, delivered)
			}
		})
	}
}

func TestServerFailNextEnhancedCode(t *testing.T) {
	t.Parallel()
	s := smtptest.NewServer(t)
	s.FailNext(1, 550, [3]int{5, 1, 1}, "no such user")
	err := send(t, s, nil, "jane@example.com")
	var tp *textproto.Error
	if !errors.As(err, &tp) || tp.Code != 550 || !strings.HasPrefix(tp.Msg, "5.1.1 ") {
		t.Errorf("err = %v, want 550 5.1.1", err)
	}
}

func TestServerDownAndUpOnSameAddress(t *testing.T) {
	t.Parallel()
	s := smtptest.NewServer(t)
	addr := s.Addr()
	c, err := smtp.Dial(addr) // an open session is cut when the server goes down
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.SetDown(true)
	if err := c.Noop(); err == nil {
		t.Error("session survived SetDown(true)")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("dial succeeded while down")
	}
	s.SetDown(false)
	if s.Addr() != addr {
		t.Fatalf("address changed: %s -> %s", addr, s.Addr())
	}
	if err := send(t, s, nil, "jane@example.com"); err != nil {
		t.Fatalf("send after up: %v", err)
	}
	if got := s.Connections(); got != 2 {
		t.Errorf("Connections = %d, want 2", got)
	}
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	t.Run("starttls", func(t *testing.T) {
		t.Parallel()
		s := smtptest.NewServer(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("u", "p"))
		c, err := smtp.Dial(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.StartTLS(s.ClientTLSConfig()); err != nil {
			t.Fatal(err)
		}
		if err := c.Auth(smtp.PlainAuth("", "u", "p", s.Host())); err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("implicit", func(t *testing.T) {
		t.Parallel()
		s := smtptest.NewServer(t, smtptest.WithImplicitTLS())
		conn, err := tls.Dial("tcp", s.Addr(), s.ClientTLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		c, err := smtp.NewClient(conn, s.Host())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Quit(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestServerDelayEndsOnClose(t *testing.T) {
	t.Parallel()
	s := smtptest.NewServer(t)
	s.SetDelay(time.Hour)
	done := make(chan error, 1)
	go func() { done <- send(t, s, nil, "jane@example.com") }()
	testsupport.WaitFor(t, "the server to hold the reply", time.Minute, func() bool { return s.Delaying() == 1 })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // the delay is an hour
		t.Fatal("Close did not cut the delay short")
	}
	if err := <-done; err == nil {
		t.Error("send succeeded through Close")
	}
	if n := s.Delaying(); n != 0 {
		t.Errorf("Delaying = %d after Close", n)
	}
}

// TestServerCloseLeaksNoGoroutines is not parallel: it counts goroutines.
func TestServerCloseLeaksNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s := smtptest.NewServer(t)
	var clients []*smtp.Client
	for range 3 {
		c, err := smtp.Dial(s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	s.SetDown(true)
	s.SetDown(false)
	if err := send(t, s, nil, "jane@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		_ = c.Close()
	}
	testsupport.WaitGoroutines(t, before, time.Minute)
}

func replyCode(err error) int {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code
	}
	return 0
}
