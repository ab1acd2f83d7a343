// Package twiliotest is a loopback server that speaks the part of Twilio's
// Programmable Messaging REST API (2010-04-01) that aftercare uses: create,
// list and fetch Messages, with Twilio's JSON shapes, Basic auth and error
// bodies. It stores what it accepts, can be scripted to fail in the ways the
// real API fails (error codes, rate limits, 5xx after the message went out,
// HTML 503s, requests that never get an answer), and can play Twilio's part
// in status callbacks by posting correctly signed forms.
//
// It is meant to be driven by the real twilio-go client pointed at URL() and
// is safe for concurrent use.
package twiliotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// APIVersion is the version of Twilio's REST API the server speaks.
const APIVersion = "2010-04-01"

// Message is a message the server accepted, as Twilio would store it.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string // "" when sent through a Messaging Service
	MessagingServiceSID string
	Body                string
	StatusCallback      string
	ValidityPeriod      int // seconds; 0 when the request did not set it
	Status              string
	ErrorCode           int
	ErrorMessage        string
	NumSegments         int
	DateCreated         time.Time
	DateUpdated         time.Time
	DateSent            time.Time
	// Form is the create request's form exactly as received.
	Form url.Values
}

// Attempt records one request to create a message.
type Attempt struct {
	At     time.Time // from the server's clock when the request arrived
	To     string
	Status int // HTTP status answered; 0 if the request never got an answer
}

// Fault scripts the answer to one create-message request.
type Fault struct {
	Status     int           // HTTP status to answer with; 0 answers normally (after Store/Hang)
	Code       int           // Twilio error code in the JSON body
	Message    string        // Twilio error message; "" uses Twilio's usual text for Code
	HTML       bool          // answer with an HTML page instead of Twilio's JSON error
	RetryAfter time.Duration // sets a Retry-After header (whole seconds, rounded up)
	Store      bool          // accept and store the message first (it "went out")
	Hang       bool          // do not answer until Release, the client gives up, or Close
}

type failure struct{ status, code int }

// Server is a loopback Twilio Messages API. The zero value is not usable;
// call NewServer.
type Server struct {
	srv        *httptest.Server
	accountSID string
	authToken  string
	done       chan struct{}
	closeOnce  sync.Once
	deliverer  *http.Client

	mu       sync.Mutex
	now      func() time.Time
	apiKeys  map[string]string
	messages []*Message // in creation order
	bySID    map[string]*Message
	script   []Fault
	failFor  map[string]failure
	hangAll  bool
	release  chan struct{}
	hanging  int
	requests int
	attempts []Attempt
	delay    time.Duration
	// Per sender (From, or MessagingServiceSid): 429s while throttled,
	// and create requests in flight now and at most.
	throttled map[string]time.Duration
	inFlight  map[string]int
	peak      map[string]int
}

// TB is the part of testing.TB the server uses (a *testing.T or
// *testing.B is one); the package does not import testing, so programs
// such as aftercare-bench can run the server too.
type TB interface {
	Cleanup(func())
}

// NewServer starts a server on 127.0.0.1 for one account. If t is not nil
// the server is closed when the test ends.
func NewServer(t TB, accountSID, authToken string) *Server {
	s := &Server{
		accountSID: accountSID,
		authToken:  authToken,
		done:       make(chan struct{}),
		deliverer:  &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		now:        time.Now,
		apiKeys:    map[string]string{},
		bySID:      map[string]*Message{},
		failFor:    map[string]failure{},
		release:    make(chan struct{}),
		throttled:  map[string]time.Duration{},
		inFlight:   map[string]int{},
		peak:       map[string]int{},
	}
	s.srv = httptest.NewServer(s.routes())
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.srv.URL }

// AccountSID is the account the server serves.
func (s *Server) AccountSID() string { return s.accountSID }

// Close releases hanging requests, shuts the server down and waits for its
// handlers to return. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
		s.deliverer.CloseIdleConnections()
	})
}

// SetClock sets the clock used for message dates and attempt timestamps
// (time.Now by default), so tests running on virtual time can assert backoff.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddAPIKey lets the server also accept Basic auth with an API key SID and
// secret, as Twilio does.
func (s *Server) AddAPIKey(sid, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKeys[sid] = secret
}

// Inject scripts the answers to the next n create-message requests. Scripted
// faults are used in order, before FailFor and validation.
func (s *Server) Inject(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.script = append(s.script, f)
	}
}

// FailNext answers the next n create requests with a Twilio error.
func (s *Server) FailNext(n, status, code int, msg string) {
	s.Inject(n, Fault{Status: status, Code: code, Message: msg})
}

// RateLimitNext answers the next n create requests with 429, Twilio code
// 20429 and a Retry-After header.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.Inject(n, Fault{Status: http.StatusTooManyRequests, Code: 20429, RetryAfter: retryAfter})
}

// HangNext makes the next n create requests hang without storing anything.
func (s *Server) HangNext(n int) { s.Inject(n, Fault{Hang: true}) }

// Ambiguous5xxNext stores the next n messages and still answers 500: the
// message went out but the client saw an error.
func (s *Server) Ambiguous5xxNext(n int) {
	s.Inject(n, Fault{Store: true, Status: http.StatusInternalServerError, Code: 20500})
}

// HTML503Next answers the next n create requests with a 503 HTML page, as a
// load balancer in front of Twilio would.
func (s *Server) HTML503Next(n int) {
	s.Inject(n, Fault{Status: http.StatusServiceUnavailable, HTML: true})
}

// FailFor makes every create request to the recipient to fail with the
// given status and Twilio code until ClearFailFor.
func (s *Server) FailFor(to string, status, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFor[to] = failure{status: status, code: code}
}

// ClearFailFor undoes FailFor.
func (s *Server) ClearFailFor(to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.failFor, to)
}

// SetHang makes every API request (create, list, fetch) hang while on.
// Turning it off releases the requests hanging now.
func (s *Server) SetHang(on bool) {
	s.mu.Lock()
	s.hangAll = on
	s.mu.Unlock()
	if !on {
		s.Release()
	}
}

// SetDelay makes every create-message request wait d before it is
// answered (0 turns the delay off), as a slow API would. The wait ends
// early, with nothing stored, if the client gives up or the server closes.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// ThrottleFrom answers every create request from the sender (a From
// number or a Messaging Service SID) with 429, Twilio code 20429 and
// Retry-After retryAfter (none if 0), until ClearThrottleFrom. Scripted
// faults (Inject) come first.
func (s *Server) ThrottleFrom(sender string, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttled[sender] = retryAfter
}

// ClearThrottleFrom undoes ThrottleFrom.
func (s *Server) ClearThrottleFrom(sender string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.throttled, sender)
}

// PeakInFlight is the most create requests from the sender (From or
// MessagingServiceSid) that were in the server at once since the last
// ResetPeaks.
func (s *Server) PeakInFlight(sender string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak[sender]
}

// InFlight is the number of create requests from the sender in the
// server now (hanging ones included).
func (s *Server) InFlight(sender string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight[sender]
}

// ResetPeaks starts PeakInFlight afresh from the requests in flight now.
func (s *Server) ResetPeaks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.peak)
	for k, n := range s.inFlight {
		s.peak[k] = n
	}
}

// Release lets every request hanging now go on as if it had not hung.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.release)
	s.release = make(chan struct{})
}

// Hanging is the number of requests hanging now.
func (s *Server) Hanging() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hanging
}

// Requests is the number of API requests received, of any kind.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Attempts returns the create-message requests received, in order.
func (s *Server) Attempts() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

// AttemptsTo is the number of create-message requests for one recipient.
func (s *Server) AttemptsTo(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.attempts {
		if a.To == to {
			n++
		}
	}
	return n
}

// Sent returns a copy of the stored messages in creation order.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = copyMessage(m)
	}
	return out
}

// Message returns a copy of the stored message with the SID.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bySID[sid]
	if !ok {
		return Message{}, false
	}
	return copyMessage(m), true
}

// SetStatus changes a stored message's status and error code, as Twilio's
// delivery pipeline would, without posting a callback.
func (s *Server) SetStatus(sid, status string, errorCode int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bySID[sid]
	if !ok {
		return fmt.Errorf("set status: no message %s", sid)
	}
	m.Status = status
	m.ErrorCode = errorCode
	m.ErrorMessage = ""
	if errorCode != 0 {
		m.ErrorMessage = errorText(errorCode)
	}
	m.DateUpdated = s.now().UTC()
	return nil
}

func copyMessage(m *Message) Message {
	c := *m
	c.Form = cloneValues(m.Form)
	return c
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}

// NewSID returns a random Twilio-style SID: prefix followed by 32 lower-case
// hex digits (e.g. NewSID("AC") for an account, "SM" for a message).
func NewSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// --- HTTP ---

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	base := "/" + APIVersion + "/Accounts/{AccountSid}/"
	mux.HandleFunc("POST "+base+"Messages.json", s.handleCreate)
	mux.HandleFunc("GET "+base+"Messages.json", s.handleList)
	mux.HandleFunc("GET "+base+"Messages/{file}", s.handleFetch)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path), 0)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		hang := s.hangAll
		s.mu.Unlock()
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeError(w, http.StatusUnauthorized, 20003, "Authenticate", 0)
			return
		}
		if hang {
			// net/http notices a client that gives up only once the
			// request body has been read: read it before hanging.
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !s.hang(r) {
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if user == s.accountSID && pass == s.authToken {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, ok := s.apiKeys[user]
	return ok && secret == pass
}

// accountOK answers 20404 when the path names another account.
func (s *Server) accountOK(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("AccountSid") != s.accountSID {
		writeError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path), 0)
		return false
	}
	return true
}

// hang blocks until the request is released (true), or the client gives up
// or the server closes (false).
func (s *Server) hang(r *http.Request) bool {
	s.mu.Lock()
	s.hanging++
	release := s.release
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.hanging--
		s.mu.Unlock()
	}()
	select {
	case <-release:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

var (
	e164Re    = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	shortRe   = regexp.MustCompile(`^[0-9]{3,8}$`)
	alphaIDRe = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	mgSIDRe   = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

func validFrom(from string) bool {
	if e164Re.MatchString(from) || shortRe.MatchString(from) {
		return true
	}
	return alphaIDRe.MatchString(from) && strings.ContainsFunc(from, func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
	})
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	if !s.accountOK(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid form body", 0)
		return
	}
	form := cloneValues(r.PostForm)
	to := form.Get("To")
	sender := form.Get("MessagingServiceSid")
	if sender == "" {
		sender = form.Get("From")
	}

	s.mu.Lock()
	s.inFlight[sender]++
	s.peak[sender] = max(s.peak[sender], s.inFlight[sender])
	defer func() {
		s.mu.Lock()
		s.inFlight[sender]--
		s.mu.Unlock()
	}()
	idx := len(s.attempts)
	s.attempts = append(s.attempts, Attempt{At: s.now(), To: to})
	var fault *Fault
	if len(s.script) > 0 {
		f := s.script[0]
		s.script = s.script[1:]
		fault = &f
	}
	fail, failTo := s.failFor[to]
	throttleAfter, throttled := s.throttled[sender]
	delay := s.delay
	s.mu.Unlock()

	status := 0
	defer func() {
		s.mu.Lock()
		s.attempts[idx].Status = status
		s.mu.Unlock()
	}()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		case <-s.done:
			timer.Stop()
			return
		}
	}
	reply := func(st, code int, msg string, retryAfter time.Duration) {
		status = st
		writeError(w, st, code, msg, retryAfter)
	}

	if fault != nil {
		var stored *Message
		if fault.Store {
			stored = s.store(form)
		}
		if fault.Hang && !s.hang(r) {
			return
		}
		switch {
		case fault.Status != 0 && fault.HTML:
			status = fault.Status
			writeHTML(w, fault.Status, fault.RetryAfter)
			return
		case fault.Status != 0:
			msg := fault.Message
			if msg == "" {
				msg = errorText(fault.Code)
			}
			reply(fault.Status, fault.Code, msg, fault.RetryAfter)
			return
		case stored != nil:
			status = http.StatusCreated
			s.writeMessage(w, http.StatusCreated, stored, true)
			return
		}
	}
	if failTo {
		reply(fail.status, fail.code, errorText(fail.code), 0)
		return
	}
	if throttled {
		reply(http.StatusTooManyRequests, 20429, errorText(20429), throttleAfter)
		return
	}

	from, mss, body := form.Get("From"), form.Get("MessagingServiceSid"), form.Get("Body")
	switch {
	case to == "":
		reply(http.StatusBadRequest, 21604, "A 'To' phone number is required.", 0)
		return
	case !e164Re.MatchString(to):
		reply(http.StatusBadRequest, 21211, fmt.Sprintf("Invalid 'To' Phone Number: %s", to), 0)
		return
	case from == "" && mss == "":
		reply(http.StatusBadRequest, 21603, errorText(21603), 0)
		return
	case mss != "" && !mgSIDRe.MatchString(mss):
		reply(http.StatusBadRequest, 21701, errorText(21701), 0)
		return
	case mss == "" && !validFrom(from):
		reply(http.StatusBadRequest, 21212, fmt.Sprintf("Invalid 'From' Phone Number: %s", from), 0)
		return
	case body == "":
		reply(http.StatusBadRequest, 21602, errorText(21602), 0)
		return
	case len([]rune(body)) > 1600:
		reply(http.StatusBadRequest, 21617, errorText(21617), 0)
		return
	}
	if v := form.Get("ValidityPeriod"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 36000 {
			reply(http.StatusBadRequest, 90007, errorText(90007), 0)
			return
		}
	}
	if cb := form.Get("StatusCallback"); cb != "" {
		if u, err := url.Parse(cb); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			reply(http.StatusBadRequest, 21609, "Invalid StatusCallback URL", 0)
			return
		}
	}
	m := s.store(form)
	status = http.StatusCreated
	s.writeMessage(w, http.StatusCreated, m, true)
}

// store saves a message from a create form. The fake's queue drains at
// once: the stored message is "sent" with date_sent set, while the create
// response still shows it queued (or accepted, for a Messaging Service).
func (s *Server) store(form url.Values) *Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC().Truncate(time.Second)
	vp, _ := strconv.Atoi(form.Get("ValidityPeriod"))
	m := &Message{
		SID:                 NewSID("SM"),
		AccountSID:          s.accountSID,
		To:                  form.Get("To"),
		MessagingServiceSID: form.Get("MessagingServiceSid"),
		Body:                form.Get("Body"),
		StatusCallback:      form.Get("StatusCallback"),
		ValidityPeriod:      vp,
		Status:              "sent",
		NumSegments:         segments(form.Get("Body")),
		DateCreated:         now,
		DateUpdated:         now,
		DateSent:            now,
		Form:                form,
	}
	if m.MessagingServiceSID == "" {
		m.From = form.Get("From")
	}
	s.messages = append(s.messages, m)
	s.bySID[m.SID] = m
	return m
}

func (s *Server) handleFetch(w http.ResponseWriter, r *http.Request) {
	if !s.accountOK(w, r) {
		return
	}
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	s.mu.Lock()
	m, found := s.bySID[sid]
	var c Message
	if found {
		c = copyMessage(m)
	}
	s.mu.Unlock()
	if !ok || !found {
		writeError(w, http.StatusNotFound, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path), 0)
		return
	}
	s.writeMessage(w, http.StatusOK, &c, false)
}

// dateFilter is one of Twilio's DateSent filters. A bare date (YYYY-MM-DD)
// compares by GMT day, a date-time by instant.
type dateFilter struct {
	op  byte // '=', '>' (on or after), '<' (on or before)
	t   time.Time
	day bool
}

func (f dateFilter) match(sent time.Time) bool {
	if sent.IsZero() {
		return false
	}
	sent = sent.UTC()
	if f.day {
		d := time.Date(sent.Year(), sent.Month(), sent.Day(), 0, 0, 0, 0, time.UTC)
		switch f.op {
		case '>':
			return !d.Before(f.t)
		case '<':
			return !d.After(f.t)
		}
		return d.Equal(f.t)
	}
	switch f.op {
	case '>':
		return !sent.Before(f.t)
	case '<':
		return !sent.After(f.t)
	}
	return sent.Equal(f.t)
}

func parseDateFilter(op byte, v string) (dateFilter, error) {
	// "DateSent>=2026-01-02" arrives as key "DateSent>" and value "2026-01-02";
	// tolerate a leading '=' from clients that escape differently.
	v = strings.TrimPrefix(v, "=")
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return dateFilter{op: op, t: t, day: true}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return dateFilter{}, fmt.Errorf("invalid date %q", v)
	}
	return dateFilter{op: op, t: t.UTC()}, nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	if !s.accountOK(w, r) {
		return
	}
	q := r.URL.Query()
	var filters []dateFilter
	for key, op := range map[string]byte{"DateSent": '=', "DateSent>": '>', "DateSent<": '<'} {
		if v := q.Get(key); v != "" {
			f, err := parseDateFilter(op, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, 20001, "Invalid "+key+": "+err.Error(), 0)
				return
			}
			filters = append(filters, f)
		}
	}
	pageSize, page := 50, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid PageSize", 0)
			return
		}
		pageSize = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid Page", 0)
			return
		}
		page = n
	}
	to, from := q.Get("To"), q.Get("From")

	s.mu.Lock()
	var match []Message
	for _, m := range s.messages {
		if to != "" && m.To != to || from != "" && m.From != from {
			continue
		}
		ok := true
		for _, f := range filters {
			ok = ok && f.match(m.DateSent)
		}
		if ok {
			match = append(match, copyMessage(m))
		}
	}
	s.mu.Unlock()
	// Newest first, like Twilio; creation order breaks ties.
	slices.Reverse(match)
	sort.SliceStable(match, func(i, j int) bool { return match[i].DateSent.After(match[j].DateSent) })

	start := min(page*pageSize, len(match))
	end := min(start+pageSize, len(match))
	items := make([]apiMessage, 0, end-start)
	for i := range match[start:end] {
		items = append(items, s.render(&match[start+i], false))
	}

	path := r.URL.Path
	pageURI := func(p int, token string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "Page" && k != "PageSize" && k != "PageToken" {
				v[k] = vs
			}
		}
		v.Set("PageSize", strconv.Itoa(pageSize))
		v.Set("Page", strconv.Itoa(p))
		if token != "" {
			v.Set("PageToken", token)
		}
		return path + "?" + v.Encode()
	}
	var next, prev *string
	if end < len(match) {
		n := pageURI(page+1, "PA"+match[end-1].SID)
		next = &n
	}
	if page > 0 {
		p := pageURI(page-1, "PB"+match[start].SID)
		prev = &p
	}
	endIdx := start + len(items) - 1
	if len(items) == 0 {
		endIdx = start
	}
	writeJSON(w, http.StatusOK, listResponse{
		End:             endIdx,
		FirstPageURI:    pageURI(0, ""),
		Messages:        items,
		NextPageURI:     next,
		Page:            page,
		PageSize:        pageSize,
		PreviousPageURI: prev,
		Start:           start,
		URI:             pageURI(page, q.Get("PageToken")),
	})
}

type listResponse struct {
	End             int          `json:"end"`
	FirstPageURI    string       `json:"first_page_uri"`
	Messages        []apiMessage `json:"messages"`
	NextPageURI     *string      `json:"next_page_uri"`
	Page            int          `json:"page"`
	PageSize        int          `json:"page_size"`
	PreviousPageURI *string      `json:"previous_page_uri"`
	Start           int          `json:"start"`
	URI             string       `json:"uri"`
}

// apiMessage is Twilio's JSON representation of a Message resource.
type apiMessage struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// render gives m's JSON. The create response shows the message as Twilio
// first reports it: queued (accepted with a Messaging Service), not yet sent.
func (s *Server) render(m *Message, created bool) apiMessage {
	uri := fmt.Sprintf("/%s/Accounts/%s/Messages/%s", APIVersion, m.AccountSID, m.SID)
	a := apiMessage{
		AccountSID:  m.AccountSID,
		APIVersion:  APIVersion,
		Body:        m.Body,
		DateCreated: m.DateCreated.Format(time.RFC1123Z),
		DateUpdated: m.DateUpdated.Format(time.RFC1123Z),
		Direction:   "outbound-api",
		NumMedia:    "0",
		NumSegments: strconv.Itoa(m.NumSegments),
		PriceUnit:   "USD",
		SID:         m.SID,
		Status:      m.Status,
		SubresourceURIs: map[string]string{
			"media":    uri + "/Media.json",
			"feedback": uri + "/Feedback.json",
		},
		To:  m.To,
		URI: uri + ".json",
	}
	if m.From != "" {
		a.From = &m.From
	}
	if m.MessagingServiceSID != "" {
		a.MessagingServiceSID = &m.MessagingServiceSID
	}
	if m.ErrorCode != 0 {
		a.ErrorCode = &m.ErrorCode
		a.ErrorMessage = &m.ErrorMessage
	}
	switch {
	case created && m.MessagingServiceSID != "":
		a.Status, a.From, a.NumSegments = "accepted", nil, "0"
	case created:
		a.Status = "queued"
	case !m.DateSent.IsZero():
		d := m.DateSent.Format(time.RFC1123Z)
		a.DateSent = &d
	}
	return a
}

func (s *Server) writeMessage(w http.ResponseWriter, status int, m *Message, created bool) {
	s.mu.Lock()
	a := s.render(m, created)
	s.mu.Unlock()
	writeJSON(w, status, a)
}

// apiError is Twilio's JSON error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, msg string, retryAfter time.Duration) {
	setRetryAfter(w, retryAfter)
	writeJSON(w, status, apiError{
		Code:     code,
		Message:  msg,
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		Status:   status,
	})
}

func writeHTML(w http.ResponseWriter, status int, retryAfter time.Duration) {
	setRetryAfter(w, retryAfter)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", text, text)
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorText is Twilio's usual message for an error code.
func errorText(code int) string {
	switch code {
	case 20003:
		return "Authenticate"
	case 20404:
		return "The requested resource was not found"
	case 20429:
		return "Too Many Requests"
	case 20500:
		return "An internal server error has occurred"
	case 21211:
		return "Invalid 'To' Phone Number"
	case 21212:
		return "Invalid 'From' Phone Number"
	case 21408:
		return "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"
	case 21602:
		return "Message body is required."
	case 21603:
		return "A 'From' or 'MessagingServiceSid' parameter is required to send a message"
	case 21610:
		return "Attempt to send to unsubscribed recipient"
	case 21612:
		return "The 'To' phone number is not currently reachable using the 'From' phone number via SMS."
	case 21614:
		return "'To' number is not a valid mobile number"
	case 21617:
		return "The concatenated message body exceeds the 1600 character limit."
	case 21701:
		return "The Messaging Service Sid is invalid"
	case 30003:
		return "Unreachable destination handset"
	case 30005:
		return "Unknown destination handset"
	case 30006:
		return "Landline or unreachable carrier"
	case 30007:
		return "Message filtered"
	case 30008:
		return "Unknown error"
	case 90007:
		return "Invalid validity period value"
	}
	return "Error " + strconv.Itoa(code)
}

// segments estimates Twilio's segment count: GSM-7 text splits at 160
// (153 per part), anything else at 70 UTF-16 units (67 per part).
func segments(body string) int {
	units, single, multi := 0, 160, 153
	gsm := true
	for _, r := range body {
		if r > 0x7e || (r < 0x20 && r != '\n' && r != '\r') {
			gsm = false
			break
		}
		units++
		if strings.ContainsRune("^{}\\[~]|", r) {
			units++ // GSM extension table: escape + char
		}
	}
	if !gsm {
		units, single, multi = len(utf16.Encode([]rune(body))), 70, 67
	}
	if units <= single {
		return 1
	}
	return (units + multi - 1) / multi
}

// --- status callbacks ---

// Deliver sets the message's status (and error code, "" for none) and posts
// a status callback to its StatusCallback URL, signed with the account's
// auth token over that URL exactly as given, as Twilio does. It fails if the
// message has no StatusCallback or the receiver does not answer 2xx.
func (s *Server) Deliver(ctx context.Context, sid, status, errorCode string) error {
	code := 0
	if errorCode != "" {
		n, err := strconv.Atoi(errorCode)
		if err != nil {
			return fmt.Errorf("deliver %s: error code %q: %w", sid, errorCode, err)
		}
		code = n
	}
	if err := s.SetStatus(sid, status, code); err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	m, _ := s.Message(sid)
	if m.StatusCallback == "" {
		return fmt.Errorf("deliver %s: message has no StatusCallback", sid)
	}
	form := url.Values{
		"AccountSid":    {m.AccountSID},
		"ApiVersion":    {APIVersion},
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"MessageStatus": {status},
		"SmsStatus":     {status},
		"To":            {m.To},
	}
	if m.From != "" {
		form.Set("From", m.From)
	}
	if m.MessagingServiceSID != "" {
		form.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if errorCode != "" {
		form.Set("ErrorCode", errorCode)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.StatusCallback, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("deliver %s: %w", sid, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", Sign(s.authToken, m.StatusCallback, form))
	resp, err := s.deliverer.Do(req)
	if err != nil {
		return fmt.Errorf("deliver %s: %w", sid, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("deliver %s: callback answered %s", sid, resp.Status)
	}
	return nil
}

// DeliverAll marks every stored message that has a StatusCallback and is not
// yet in a final state as delivered, posting a callback for each.
func (s *Server) DeliverAll(ctx context.Context) error {
	var errs []error
	for _, m := range s.Sent() {
		switch m.Status {
		case "delivered", "undelivered", "failed", "read", "canceled":
			continue
		}
		if m.StatusCallback == "" {
			continue
		}
		if err := s.Deliver(ctx, m.SID, "delivered", ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
