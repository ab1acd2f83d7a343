package twilio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

func TestTransportRewritesBaseURLKeepingPath(t *testing.T) {
	t.Parallel()
	type seen struct{ host, path, query, auth string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Host, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	host := srv.Listener.Addr().String()

	tests := []struct {
		name, base, want string
	}{
		{"host only", srv.URL, "/2010-04-01/Accounts/AC1/Messages.json"},
		{"host with trailing slash", srv.URL + "/", "/2010-04-01/Accounts/AC1/Messages.json"},
		{"path prefix", srv.URL + "/twilio", "/twilio/2010-04-01/Accounts/AC1/Messages.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := url.Parse(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			tr := &callTransport{base: http.DefaultTransport, ctx: context.Background(), timeout: 5 * time.Second, baseURL: base, now: time.Now}
			req, _ := http.NewRequest(http.MethodGet, "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?To=%2B15005550006&PageSize=50", nil)
			req.SetBasicAuth("AC1", "tok")
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			mu.Lock()
			last := got[len(got)-1]
			mu.Unlock()
			if last.host != host || last.path != tt.want || last.query != "To=%2B15005550006&PageSize=50" || last.auth == "" {
				t.Errorf("server saw %+v, want host %s path %s", last, host, tt.want)
			}
			if req.URL.Host != "api.twilio.com" {
				t.Errorf("caller's request modified: %s", req.URL)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidityPeriod(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		stale  time.Duration
		want   int
		wantOK bool
	}{
		{-time.Second, 0, false},
		{0, 0, false},
		{time.Millisecond, 1, true},
		{1500 * time.Millisecond, 1, true},
		{2 * time.Hour, 7200, true},
		{10 * time.Hour, 36000, true},
		{48 * time.Hour, 36000, true},
	}
	for _, tt := range tests {
		got, ok := validityPeriod(now, now.Add(tt.stale))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("validityPeriod(+%v) = %d, %v; want %d, %v", tt.stale, got, ok, tt.want, tt.wantOK)
		}
	}
}
