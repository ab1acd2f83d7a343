package abuse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/web"
)

// browser is one sign-in client of the daemon, coming through the trusted
// proxy from ip.
type browser struct {
	h    *harness
	ip   string
	http *http.Client
}

func (h *harness) browser(ip string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, ip: ip, http: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.h.base+path, body)
	if err != nil {
		return 0, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Forwarded-For", b.ip)
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(page), err
}

// signIn posts the sign-in form and returns the status.
func (b *browser) signIn(email, password string) (int, error) {
	_, page, err := b.do("GET", "/console/login", nil)
	if err != nil {
		return 0, err
	}
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		return 0, fmt.Errorf("no CSRF token on the sign-in page")
	}
	status, _, err := b.do("POST", "/console/login", url.Values{"csrf_token": {m[1]}, "email": {email}, "password": {password}})
	return status, err
}

func (b *browser) mustSignIn(email, password string) int {
	b.h.t.Helper()
	s, err := b.signIn(email, password)
	if err != nil {
		b.h.t.Fatal(err)
	}
	return s
}

// addStaff adds a user with a password that passes the policy.
func (h *harness) addStaff(email, password string) store.User {
	h.t.Helper()
	hash, err := web.HashPassword(password, email)
	if err != nil {
		h.t.Fatal(err)
	}
	u, err := h.app.Store.CreateUser(context.Background(), h.clinicA.ID, email, hash)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// TestSignInResistsGuessingThroughTheDaemon drives the whole daemon behind
// a trusted proxy: an attacker spraying emails from one address is
// stopped at 20 failures; an attacker guessing one colleague's password
// from many addresses blocks that account only for the backoff, after
// which its owner signs in from their own address; the clinic's other
// staff are never affected.
func TestSignInResistsGuessingThroughTheDaemon(t *testing.T) {
	h := newHarness(t, harnessOptions{proxyHeader: "X-Forwarded-For"})
	const pw = "velvet tractor oyster lamp"
	h.addStaff("victim@glow.example", pw)
	h.addStaff("colleague@glow.example", "sapphire kettle morning 89")

	sprayer := h.browser("192.0.2.66")
	for i := 0; i < 25; i++ {
		s := sprayer.mustSignIn(fmt.Sprintf("guess%d@glow.example", i), "Winter2026!")
		if want := map[bool]int{true: 401, false: 429}[i < 20]; s != want {
			t.Fatalf("spray attempt %d from one address: %d, want %d", i+1, s, want)
		}
	}

	for i := 0; i < 8; i++ {
		s := h.browser(fmt.Sprintf("198.18.0.%d", i+1)).mustSignIn("victim@glow.example", fmt.Sprintf("guess-%d", i))
		if s != 401 && s != 429 {
			t.Fatalf("guess %d: %d", i, s)
		}
	}
	owner := h.browser("203.0.113.10")
	if s := owner.mustSignIn("victim@glow.example", pw); s != 429 {
		t.Errorf("owner during the backoff: %d, want 429", s)
	}
	if s := h.browser("203.0.113.11").mustSignIn("colleague@glow.example", "sapphire kettle morning 89"); s != 303 {
		t.Errorf("colleague during the attack: %d, want 303", s)
	}
	h.clock.Set(h.clock.Now().Add(time.Minute))
	if s := owner.mustSignIn("victim@glow.example", pw); s != 303 {
		t.Errorf("owner after the backoff: %d, want 303", s)
	}
}

// TestSignInFloodLeavesTheAPIServing: 8 clients guessing passwords as
// fast as they can, from 8 addresses, while the clinic's system keeps
// calling the API. Password checks are bounded (web.Options.
// PasswordChecks), so every API call is served; the flood gets only 401,
// 429 or 503. (Nothing here is timed: the latencies are logged, not
// asserted.)
func TestSignInFloodLeavesTheAPIServing(t *testing.T) {
	h := newHarness(t, harnessOptions{proxyHeader: "X-Forwarded-For"})
	h.addStaff("staff@glow.example", "velvet tractor oyster lamp")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	var floodErr error
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b := h.browser(fmt.Sprintf("192.0.2.%d", 100+i))
			for n := 0; ctx.Err() == nil; n++ {
				s, err := b.signIn(fmt.Sprintf("u%d-%d@glow.example", i, n%3), "not-the-password")
				mu.Lock()
				if err != nil && ctx.Err() == nil && floodErr == nil {
					floodErr = err
				}
				counts[s]++
				mu.Unlock()
			}
		}(i)
	}
	var worst time.Duration
	timed := func(r request) response {
		t0 := time.Now()
		defer func() { worst = max(worst, time.Since(t0)) }()
		return h.do(r)
	}
	for i := 0; i < 10; i++ {
		t0 := time.Now()
		r := h.post("/v1/enrollments", enrollBody("Ana", fmt.Sprintf("+1415555%04d", 2000+i), ""))
		worst = max(worst, time.Since(t0))
		if r.status != 201 {
			t.Fatalf("enrollment %d during the flood: %d %s", i, r.status, r.body)
		}
		id := int64(r.json(t)["enrollment"].(map[string]any)["id"].(float64))
		if r := timed(request{method: "GET", path: fmt.Sprintf("/v1/enrollments/%d", id), key: h.keyA}); r.status != 200 {
			t.Fatalf("read enrollment %d during the flood: %d %s", i, r.status, r.body)
		}
		if r := timed(request{method: "GET", path: "/healthz"}); r.status != 200 {
			t.Fatalf("healthz during the flood: %d", r.status)
		}
	}
	cancel()
	wg.Wait()
	if floodErr != nil {
		t.Fatal(floodErr)
	}
	for s := range counts {
		if s != 0 && s != 401 && s != 429 && s != 503 {
			t.Errorf("flood got status %d (%d times); want only 401, 429, 503", s, counts[s])
		}
	}
	t.Logf("flood answers %v; slowest API call %s", counts, worst)
}

// A user disabled with the CLI (another process, same database) is
// refused by the running daemon on the next request of their open
// session.
func TestUserDisabledFromTheCLIIsRefusedAtOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	hash, _ := web.HashPassword("lantern orchid pebble river", "boss@glow.example")
	if _, err := h.app.Store.CreateUserWithRole(ctx, h.clinicA.ID, "boss@glow.example", hash, store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	h.addStaff("desk@glow.example", "velvet tractor oyster lamp")
	b := h.browser("127.0.0.1")
	if s := b.mustSignIn("desk@glow.example", "velvet tractor oyster lamp"); s != 303 {
		t.Fatalf("sign in: %d", s)
	}
	if s, _, err := b.do("GET", "/console/patients", nil); err != nil || s != 200 {
		t.Fatalf("before disable: %d %v", s, err)
	}
	if _, err := app.DisableUser(ctx, h.app.Config, h.clinicA.ID, "desk@glow.example"); err != nil {
		t.Fatal(err)
	}
	if s, _, err := b.do("GET", "/console/patients", nil); err != nil || s != http.StatusSeeOther {
		t.Errorf("after disable: %d %v, want a redirect to sign in", s, err)
	}
	if s := b.mustSignIn("desk@glow.example", "velvet tractor oyster lamp"); s != 401 {
		t.Errorf("disabled user signs in: %d", s)
	}
}
