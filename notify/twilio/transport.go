package twilio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorBody caps how much of an error response is kept.
const maxErrorBody = 64 << 10

// callTransport serves one twilio-go call (which may make several requests,
// e.g. list pages). twilio-go builds its requests with context.Background()
// and offers no context-aware methods, so the caller's context is attached
// here; each request is also bounded by timeout. It rewrites scheme and host
// for a loopback base URL and records what twilio-go's errors hide: the
// HTTP status and Retry-After header of an error response, and whether the
// request got as far as a connection (after which it may have been sent).
type callTransport struct {
	base    http.RoundTripper
	ctx     context.Context
	timeout time.Duration
	baseURL *url.URL
	now     func() time.Time

	mu         sync.Mutex
	status     int           // status of the last response, 0 if none
	retryAfter time.Duration // Retry-After of the last error response
	maybeSent  bool          // the last request obtained a connection
}

// RoundTrip sends req under the call's context and per-request timeout.
func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	// net/http calls GotConn (HTTP/1 and HTTP/2 alike) in this goroutine
	// before writing anything; if RoundTrip returns without it, no byte of
	// this request was or will be written. Atomic only to be safe.
	var gotConn atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	})
	r := req.Clone(ctx)
	if t.baseURL != nil {
		rewrite(r, t.baseURL)
	}
	resp, err := t.base.RoundTrip(r)

	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybeSent = gotConn.Load()
	t.status, t.retryAfter = 0, 0
	if err != nil {
		cancel()
		return nil, err
	}
	t.status = resp.StatusCode
	if resp.StatusCode < 400 {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
	// twilio-go never closes the body of an error response; read it here
	// and close it, so the connection and its goroutines are not leaked.
	t.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	cancel()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// rewrite points r at base: scheme and host replaced, base's path (if any)
// prefixed to r's path, query kept.
func rewrite(r *http.Request, base *url.URL) {
	r.URL.Scheme = base.Scheme
	r.URL.Host = base.Host
	r.Host = ""
	if p := strings.TrimSuffix(base.Path, "/"); p != "" {
		r.URL.Path = p + r.URL.Path
		r.URL.RawPath = ""
	}
}

// cancelOnClose releases the request's context once twilio-go has read and
// closed a successful response.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// exchangeError is a twilio-go error with what the transport saw of the
// last HTTP exchange.
type exchangeError struct {
	err        error
	status     int
	retryAfter time.Duration
	maybeSent  bool
}

func (e *exchangeError) Error() string { return e.err.Error() }
func (e *exchangeError) Unwrap() error { return e.err }

// wrap attaches the last exchange to err, and strips the query (which holds
// phone numbers on list requests) from the URL in a *url.Error.
func (t *callTransport) wrap(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			ue.URL = u.String()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return &exchangeError{err: err, status: t.status, retryAfter: t.retryAfter, maybeSent: t.maybeSent}
}
