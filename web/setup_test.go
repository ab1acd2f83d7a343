package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/web"
)

var ny, _ = time.LoadLocation("America/New_York")

// start is the virtual "now" of every test: an afternoon at the clinic.
var start = time.Date(2026, 11, 25, 14, 35, 0, 0, ny)

const password = "correct horse battery"

// world is a real console on loopback over a real SQLite store, the real
// enroll service and protocol, and a real dispatcher whose SMS provider
// fails the texts listed in failures.
type world struct {
	t          *testing.T
	store      *store.Store
	clock      *testsupport.Clock
	url        string
	clinic     aftercare.Clinic
	other      aftercare.Clinic
	enroll     *enroll.Service
	dispatcher *scheduler.Dispatcher
	logs       *testsupport.LogBuffer
	console    *web.Console
	// checks counts password checks; costs records each checked hash's
	// bcrypt cost.
	checks atomic.Int64
	costMu sync.Mutex
	costs  []int

	mu       sync.Mutex
	failures map[string]notify.Error // by "phone" or "phone/step"
}

type options struct {
	secure bool
	burst  int // failures per account before its backoff
	ipFree int // failures per client IP before its backoff
	idle   time.Duration
	proxy  string // trusted proxy header
	checks int    // password check slots
	wait   time.Duration
	// check, if set, runs inside every password check (before bcrypt).
	check func()
	mail  notify.Sender // sends reset links; their base is resetBase
}

// resetBase is the console's public URL in reset links (tests fetch the
// link's path from the test server).
const resetBase = "https://console.example"

// treatments are the daemon's protocols' treatments in these tests.
func treatments(context.Context, int64) ([]string, error) {
	return []string{"microneedling", "Chemical Peel"}, nil
}

func newWorld(t *testing.T, o options) *world {
	t.Helper()
	ctx := context.Background()
	clock := testsupport.NewClock(start)
	s := testsupport.OpenStore(t, store.Options{Clock: clock})
	p, err := protocol.Default()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, store: s, clock: clock, logs: &testsupport.LogBuffer{}, failures: map[string]notify.Error{}}
	log := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.enroll = &enroll.Service{Store: s, Protocol: p, Clock: clock, Quiet: protocol.DefaultQuietHours}
	sms := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) {
		w.mu.Lock()
		e, ok := w.failures[m.To+"/"+m.Step]
		if !ok {
			e, ok = w.failures[m.To]
		}
		w.mu.Unlock()
		if ok {
			return "", &e
		}
		return fmt.Sprintf("SM%032x", m.ID), nil
	})
	email := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) {
		return "<" + itoa(m.ID) + "@mail.test>", nil
	})
	w.dispatcher = scheduler.NewDispatcher(s, map[aftercare.Channel]notify.Sender{aftercare.SMS: sms, aftercare.Email: email},
		clock, log, scheduler.Config{Concurrency: 2})

	if w.clinic, _, err = s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow Skin Clinic", Phone: "+14155550100",
		Timezone: "America/New_York", BookingURL: "https://glow.example/book"}); err != nil {
		t.Fatal(err)
	}
	if w.other, _, err = s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other Clinic", Phone: "+14155550200",
		Timezone: "America/Los_Angeles"}); err != nil {
		t.Fatal(err)
	}
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	var steps []web.Step
	for _, st := range p.Steps() {
		steps = append(steps, web.Step{Key: st.Key, Title: st.Title})
	}
	c, err := web.New(web.Options{Store: s, Enroller: w.enroll, Clock: clock, Log: log, Steps: steps,
		SecureCookies: o.secure, BcryptCost: bcrypt.MinCost, SessionIdle: o.idle, TrustedProxyHeader: o.proxy,
		Limits: web.Limits{AccountFree: o.burst, IPFree: o.ipFree}, PasswordChecks: o.checks, PasswordWait: o.wait,
		PasswordCheck: func(hash, pw []byte) error {
			w.checks.Add(1)
			cost, _ := bcrypt.Cost(hash)
			w.costMu.Lock()
			w.costs = append(w.costs, cost)
			w.costMu.Unlock()
			if o.check != nil {
				o.check()
			}
			return bcrypt.CompareHashAndPassword(hash, pw)
		}, Mail: o.mail, BaseURL: resetBase, Treatments: treatments,
		Protocols: app.NewProtocolPage(s, lib, protocol.DefaultQuietHours, 0.0083), Links: s})
	if err != nil {
		t.Fatal(err)
	}
	w.console = c
	mux := http.NewServeMux()
	c.Register(mux)
	w.registerPatientPage(mux, p, log)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// failSMS makes the SMS provider refuse texts to a phone ("+1...") or
// one step of it ("+1.../welcome") permanently, with code and reason.
func (w *world) failSMS(key, code, reason string, action notify.Action) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures[key] = notify.Error{Kind: notify.Permanent, Code: code, Reason: reason, Action: action}
}

// addUser creates a staff user (bcrypt at its lowest cost: tests only).
func (w *world) addUser(clinicID int64, email string) store.User {
	w.t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		w.t.Fatal(err)
	}
	u, err := w.store.CreateUser(context.Background(), clinicID, email, string(h))
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

// enrollPatient enrolls a patient directly through the enroll service.
func (w *world) enrollPatient(clinic aftercare.Clinic, first, phone string) store.EnrollmentView {
	w.t.Helper()
	v, _, err := w.enroll.Enroll(context.Background(), clinic, enroll.Request{FirstName: first, LastName: "Test",
		Phone: phone, Email: strings.ToLower(first) + "@example.com", SMSConsent: true, EmailConsent: true,
		ConsentMethod: aftercare.ConsentFrontDesk, SessionNumber: 1, SeriesLength: 3}, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// runDue runs the dispatcher until nothing is due now.
func (w *world) runDue() {
	w.t.Helper()
	for i := 0; i < 10; i++ {
		st, err := w.dispatcher.RunOnce(context.Background())
		if err != nil {
			w.t.Fatal(err)
		}
		if st.Claimed == 0 {
			return
		}
	}
}

// client is a cookie-keeping HTTP client that does not follow redirects.
type client struct {
	t    *testing.T
	w    *world
	http *http.Client
}

func (w *world) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: w.t, w: w, http: &http.Client{Jar: jar, Timeout: time.Minute, // nothing waits for it to fire
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// response is a fetched page.
type response struct {
	status int
	body   string
	header http.Header
}

func (c *client) get(path string) response {
	c.t.Helper()
	resp, err := c.http.Get(c.w.url + path)
	if err != nil {
		c.t.Fatal(err)
	}
	return read(c.t, resp)
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	resp, err := c.http.PostForm(c.w.url+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	return read(c.t, resp)
}

func read(t *testing.T, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of a page's first form.
func (p response) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", p.body)
	}
	return m[1]
}

// signIn signs the client in and returns the session's CSRF token.
func (c *client) signIn(email string) string {
	c.t.Helper()
	login := c.get("/console/login")
	p := c.post("/console/login", url.Values{"csrf_token": {login.csrf(c.t)}, "email": {email}, "password": {password}})
	if p.status != http.StatusSeeOther {
		c.t.Fatalf("sign in: %d\n%s", p.status, p.body)
	}
	return c.get("/console/enroll").csrf(c.t)
}
