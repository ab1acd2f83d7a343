package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/internal/testsupport"
	"golang.org/x/crypto/bcrypt"
)

// TestForgotPasswordThroughTheDaemon runs "forgot password" against the
// whole daemon: the link goes out through the configured SMTP server
// (loopback), points at the public URL whatever Host the request named,
// and works once.
func TestForgotPasswordThroughTheDaemon(t *testing.T) {
	h := newHarness(t, time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC))
	hash, _ := bcrypt.GenerateFromPassword([]byte("old password here"), bcrypt.MinCost)
	if _, err := h.app.Store.CreateUser(context.Background(), h.clinic.ID, "ana@glow.example", string(hash)); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := hc.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", h.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if host != "" {
			// The jar keys cookies by URL; name them here so they go with
			// the forged Host too.
			u, _ := url.Parse(h.base)
			for _, ck := range jar.Cookies(u) {
				req.AddCookie(ck)
			}
			req.Host = host
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, page := get("/console/forgot")
	csrf := csrfRE.FindStringSubmatch(page)[1]
	// A forged Host header must not choose where the link points.
	if code, body := post("/console/forgot", url.Values{"csrf_token": {csrf}, "email": {"ana@glow.example"}}, "evil.example"); code != 200 ||
		!strings.Contains(body, "If that address has an account") {
		t.Fatalf("forgot: %d %s", code, body)
	}
	var mail []string
	testsupport.WaitFor(t, "the reset email", time.Minute, func() bool { // the send is in the background
		mail = h.mailsTo(0, "ana@glow.example")
		return len(mail) > 0
	})
	if len(mail) != 1 {
		t.Fatalf("reset emails: %d", len(mail))
	}
	link := regexp.MustCompile(regexp.QuoteMeta(h.base) + `(/console/reset\?token=[A-Za-z0-9_\-%]+)`).FindStringSubmatch(mail[0])
	if link == nil || strings.Contains(mail[0], "evil.example") {
		t.Fatalf("link does not point at the public URL:\n%s", mail[0])
	}
	code, page := get(link[1])
	if code != 200 {
		t.Fatalf("reset page: %d", code)
	}
	token, _ := url.QueryUnescape(strings.TrimPrefix(link[1], "/console/reset?token="))
	form := url.Values{"csrf_token": {csrfRE.FindStringSubmatch(page)[1]}, "token": {token},
		"password": {"violet canyon ledger"}, "confirm": {"violet canyon ledger"}}
	if code, body := post("/console/reset", form, ""); code != 200 || !strings.Contains(body, "Your password is changed") {
		t.Fatalf("reset: %d", code)
	}
	if code, _ := post("/console/reset", form, ""); code != http.StatusGone {
		t.Fatalf("second use: %d, want 410", code)
	}
	users, _ := h.app.Store.UsersByEmail(context.Background(), "ana@glow.example")
	if bcrypt.CompareHashAndPassword([]byte(users[0].PasswordHash), []byte("violet canyon ledger")) != nil {
		t.Fatal("password not changed")
	}
}
