// Package smtptest runs a real SMTP server (emersion/go-smtp) in-process on
// 127.0.0.1 for tests: it records every accepted message as raw bytes, can
// require AUTH PLAIN and TLS, and injects faults (SMTP error replies, dropped
// connections, delays, downtime) so that a client's retry classification
// and connection handling can be tested against the protocol itself.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Stage is the point of an SMTP transaction at which a fault is injected.
type Stage int

// Stages at which a fault can be injected.
const (
	// StageMail fails the MAIL FROM command.
	StageMail Stage = iota + 1
	// StageRcpt fails the RCPT TO command: where real servers greylist
	// (451) and reject unknown users (550 5.1.1).
	StageRcpt
	// StageData fails the reply to the end of the message data (after the
	// final "."): the message is then not recorded.
	StageData
)

// String returns the SMTP command of the stage.
func (s Stage) String() string {
	switch s {
	case StageMail:
		return "MAIL"
	case StageRcpt:
		return "RCPT"
	case StageData:
		return "DATA"
	}
	return "stage(" + strconv.Itoa(int(s)) + ")"
}

// Received is one message the server accepted.
type Received struct {
	From string   // envelope sender (MAIL FROM)
	To   []string // envelope recipients (RCPT TO)
	Data []byte   // the message exactly as received, CRLF line endings
	Conn int      // 1-based number of the connection that delivered it
	User string   // the authenticated username, if any
}

// Option configures a Server.
type Option func(*Server)

// WithAuth makes the server advertise AUTH PLAIN and refuse MAIL FROM
// (502 5.7.0) until the client authenticates with username and password.
// Without TLS it sets AllowInsecureAuth so that AUTH works over plain TCP.
func WithAuth(username, password string) Option {
	return func(s *Server) { s.username, s.password = username, password }
}

// WithSTARTTLS makes the server offer STARTTLS with a self-signed
// certificate for 127.0.0.1 and localhost; see ClientTLSConfig.
func WithSTARTTLS() Option { return func(s *Server) { s.startTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte (port 465
// style) with a self-signed certificate; see ClientTLSConfig.
func WithImplicitTLS() Option { return func(s *Server) { s.implicitTLS = true } }

// Server is an SMTP server listening on 127.0.0.1. All methods are safe for
// concurrent use.
type Server struct {
	t           TB
	username    string
	password    string
	startTLS    bool
	implicitTLS bool
	cert        *x509.Certificate
	tlsConfig   *tls.Config

	smtp *smtp.Server
	addr string

	mu        sync.Mutex
	ln        net.Listener
	serveDone chan struct{}
	down      bool
	closed    bool
	closing   chan struct{} // closed by Close and by SetDown(true): ends delays
	conns     map[*trackedConn]struct{}
	connCount int
	connWG    sync.WaitGroup
	msgs      []Received
	faults    map[Stage][]*fault
	rcptFault map[string]*smtp.SMTPError
	drops     int
	delay     time.Duration
	delaying  int // messages whose reply a delay holds now
}

type fault struct {
	n   int
	err *smtp.SMTPError
}

// TB is the part of testing.TB the server uses (a *testing.T or
// *testing.B is one); the package does not import testing, so programs
// such as aftercare-bench can run the server too.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// NewServer starts a server on 127.0.0.1 with a free port and closes it
// when the test ends.
func NewServer(t TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		t:         t,
		conns:     make(map[*trackedConn]struct{}),
		faults:    make(map[Stage][]*fault),
		rcptFault: make(map[string]*smtp.SMTPError),
		closing:   make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	if s.startTLS || s.implicitTLS {
		cert, tlsCert, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.cert = cert
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12}
		if s.startTLS {
			srv.TLSConfig = s.tlsConfig
		}
	}
	if s.username != "" && !s.startTLS && !s.implicitTLS {
		srv.AllowInsecureAuth = true
	}
	s.smtp = srv

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// serve starts accepting on ln. s.mu must not be held.
func (s *Server) serve(ln net.Listener) {
	l := &trackingListener{Listener: ln, s: s}
	var sl net.Listener = l
	if s.implicitTLS {
		sl = tls.NewListener(l, s.tlsConfig)
	}
	done := make(chan struct{})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return
	}
	s.ln, s.serveDone = ln, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = s.smtp.Serve(sl)
	}()
}

// Addr returns the server's "127.0.0.1:port" address.
func (s *Server) Addr() string { return s.addr }

// Host returns "127.0.0.1".
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.addr)
	return h
}

// Port returns the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// ClientTLSConfig returns a client configuration that trusts the server's
// self-signed certificate, or nil if the server does not use TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	return &tls.Config{RootCAs: pool, ServerName: s.Host(), MinVersion: tls.VersionTLS12}
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.msgs))
	for i, m := range s.msgs {
		m.To = append([]string(nil), m.To...)
		m.Data = append([]byte(nil), m.Data...)
		out[i] = m
	}
	return out
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connCount
}

// OpenConnections returns how many connections are currently open.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// FailNext makes the next n RCPT TO commands fail with the given reply, for
// example FailNext(1, 451, [3]int{4, 7, 1}, "greylisted"). A zero enhanced
// code is sent as X.0.0. Use FailNextAt for another stage.
func (s *Server) FailNext(n, code int, enhanced [3]int, msg string) {
	s.FailNextAt(StageRcpt, n, code, enhanced, msg)
}

// FailNextAt makes the next n commands at stage fail with the given reply.
// Faults queue up per stage in the order they were added.
func (s *Server) FailNextAt(stage Stage, n, code int, enhanced [3]int, msg string) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[stage] = append(s.faults[stage], &fault{n: n, err: smtpError(code, enhanced, msg)})
}

// FailFor makes every RCPT TO for rcpt (compared case-insensitively) fail
// with the given reply until ClearFaults.
func (s *Server) FailFor(rcpt string, code int, enhanced [3]int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcptFault[strings.ToLower(rcpt)] = smtpError(code, enhanced, msg)
}

// DropNext makes the server read the next n messages completely, record
// them as accepted, and then close the connection without replying to the
// final ".": the client cannot know whether the message was delivered.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops += n
}

// SetDelay makes the server wait d before replying to the end of each
// message's data (cut short by SetDown(true) and Close).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Delaying returns how many messages the server has read to the final "."
// and holds the reply to (SetDelay) right now: a test waits for it instead
// of guessing how long the client needs to get there.
func (s *Server) Delaying() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delaying
}

// ClearFaults removes all pending faults, drops and the delay.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = make(map[Stage][]*fault)
	s.rcptFault = make(map[string]*smtp.SMTPError)
	s.drops = 0
	s.delay = 0
}

// SetDown(true) stops listening and closes every open connection, so that
// clients get "connection refused"; SetDown(false) listens again on the
// same address. It fails the test if the address cannot be taken again, so
// call it from the test's goroutine.
func (s *Server) SetDown(down bool) {
	s.t.Helper()
	s.mu.Lock()
	if s.closed || s.down == down {
		s.mu.Unlock()
		return
	}
	s.down = down
	if !down {
		s.closing = make(chan struct{})
		s.mu.Unlock()
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			s.t.Fatalf("smtptest: listen again on %s: %v", s.addr, err)
			return
		}
		s.serve(ln)
		return
	}
	ln, done := s.ln, s.serveDone
	close(s.closing)
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	_ = ln.Close()
	<-done
	for _, c := range conns {
		_ = c.Close()
	}
	s.connWG.Wait()
}

// Close stops the server, closes every connection and waits until all of
// them are closed. It is called automatically when the test ends.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if !s.down {
		close(s.closing)
	}
	ln, done := s.ln, s.serveDone
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	// Close our listener too: go-smtp only knows it once Serve has run.
	_ = ln.Close()
	err := s.smtp.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil // a listener we closed already
	}
	<-done
	for _, c := range conns {
		_ = c.Close()
	}
	s.connWG.Wait()
	return err
}

// nextFault returns the error to inject at stage, if any.
func (s *Server) nextFault(stage Stage) *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[stage]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	f.n--
	if f.n <= 0 {
		s.faults[stage] = q[1:]
	}
	return f.err
}

func smtpError(code int, enhanced [3]int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enhanced), Message: msg}
}

// trackingListener counts accepted connections and tracks open ones.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.down {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	s.connCount++
	tc := &trackedConn{Conn: c, s: s, id: s.connCount}
	s.conns[tc] = struct{}{}
	s.connWG.Add(1)
	return tc, nil
}

type trackedConn struct {
	net.Conn
	s    *Server
	id   int
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.s.connWG.Done()
	})
	return err
}

// connID returns the number of the tracked connection under c (which may
// be wrapped in TLS).
func connID(c net.Conn) int {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*trackedConn); ok {
		return tc.id
	}
	return 0
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c, id: connID(c.Conn())}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	id   int
	user string
	from string
	to   []string
}

func (se *session) AuthMechanisms() []string {
	if se.s.username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	if se.s.username == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != se.s.username || password != se.s.password {
			return smtp.ErrAuthFailed
		}
		se.user = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.username != "" && se.user == "" {
		return smtp.ErrAuthRequired
	}
	if err := se.s.nextFault(StageMail); err != nil {
		return err
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.s.mu.Lock()
	err := se.s.rcptFault[strings.ToLower(to)]
	se.s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := se.s.nextFault(StageRcpt); err != nil {
		return err
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := se.s
	s.mu.Lock()
	delay, closing := s.delay, s.closing
	if delay > 0 {
		s.delaying++
	}
	s.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		var cut bool
		select {
		case <-timer.C:
		case <-closing:
			timer.Stop()
			cut = true
		}
		s.mu.Lock()
		s.delaying--
		s.mu.Unlock()
		if cut {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "shutting down"}
		}
	}
	if err := s.nextFault(StageData); err != nil {
		return err
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, Received{From: se.from, To: append([]string(nil), se.to...), Data: data, Conn: se.id, User: se.user})
	drop := s.drops > 0
	if drop {
		s.drops--
	}
	s.mu.Unlock()
	if drop {
		_ = se.conn.Conn().Close()
	}
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// selfSigned returns a short-lived certificate for 127.0.0.1, ::1 and
// localhost.
func selfSigned() (*x509.Certificate, tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	return cert, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, nil
}
