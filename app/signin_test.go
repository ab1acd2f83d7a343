package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
)

// startDaemon runs the daemon on loopback with the console notifier,
// configure adjusting its configuration.
func startDaemon(t *testing.T, configure func(*config.Config)) *app.App {
	t.Helper()
	return testsupport.StartDaemon(t, testsupport.DaemonOptions{NoProviders: true, Configure: configure}).App
}

func fetch(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// HSTS is sent only when the public URL is https; plain-http deployments
// (loopback, development) must not pin browsers to https.
func TestHSTSOnlyWhenPublicURLIsHTTPS(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		public string
		want   bool
	}{{"https://care.example-clinic.com", true}, {"http://127.0.0.1:8080", false}, {"", false}} {
		a := startDaemon(t, func(c *config.Config) { c.PublicURL = tt.public })
		for _, path := range []string{"/healthz", "/console/login", "/v1/enrollments"} {
			h := fetch(t, "http://"+a.Addr()+path, nil).Header.Get("Strict-Transport-Security")
			if (h != "") != tt.want || (tt.want && !strings.Contains(h, "max-age=31536000")) {
				t.Errorf("public_url %q %s: Strict-Transport-Security = %q, want present=%v", tt.public, path, h, tt.want)
			}
		}
	}
}

// A request whose headers exceed 16 KiB is refused with 431 before any
// handler runs; one just under the limit is served.
func TestHeadersOver16KiBAreRefused(t *testing.T) {
	t.Parallel()
	a := startDaemon(t, nil)
	if app.MaxHeaderBytes != 16<<10 {
		t.Fatalf("MaxHeaderBytes = %d", app.MaxHeaderBytes)
	}
	send := func(size int) int {
		conn, err := net.Dial("tcp", a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\nConnection: close\r\n\r\n", strings.Repeat("a", size))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("header of %d bytes: %v", size, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := send(12 << 10); s != http.StatusOK {
		t.Errorf("12 KiB header: %d, want 200", s)
	}
	// net/http allows 4 KiB of slack above MaxHeaderBytes; 24 KiB is over
	// both (the default limit, 1 MiB, would have served it).
	if s := send(24 << 10); s != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("24 KiB header: %d, want 431", s)
	}
}

func TestMetricsBehindBearerToken(t *testing.T) {
	t.Parallel()
	const token = "metrics-token-0123456789"
	a := startDaemon(t, func(c *config.Config) { c.Metrics.Token = token })
	base := "http://" + a.Addr()
	if r := fetch(t, base+"/metrics", nil); r.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if r := fetch(t, base+"/metrics", map[string]string{"Authorization": "Bearer wrong-token-0123456789"}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", r.StatusCode)
	}
	if r := fetch(t, base+"/metrics", map[string]string{"Authorization": "Bearer " + token}); r.StatusCode != http.StatusOK {
		t.Errorf("right token: %d", r.StatusCode)
	}
	if r := fetch(t, base+"/healthz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("healthz needs no token: %d", r.StatusCode)
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := testsupport.StartDaemon(t, testsupport.DaemonOptions{NoProviders: true, MetricsListener: mln,
		Configure: func(c *config.Config) { c.Metrics.Listen = mln.Addr().String() }}).App
	if r := fetch(t, "http://"+a.Addr()+"/metrics", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the main listener: %d, want 404", r.StatusCode)
	}
	if a.MetricsAddr() != mln.Addr().String() {
		t.Fatalf("MetricsAddr = %q", a.MetricsAddr())
	}
	if r := fetch(t, "http://"+a.MetricsAddr()+"/metrics", nil); r.StatusCode != http.StatusOK {
		t.Errorf("/metrics on its own listener: %d", r.StatusCode)
	}
	if r := fetch(t, "http://"+a.MetricsAddr()+"/v1/enrollments", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("the metrics listener serves the API: %d", r.StatusCode)
	}
}

// The user commands: a clinic's first user is an admin, the next staff;
// weak passwords are refused with a reason; disable and reset-password end
// the user's sessions; the last admin cannot be disabled.
func TestUserCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DB = filepath.Join(t.TempDir(), "users.db")
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clinic, _, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Glow Skin Clinic", Phone: "+14155550100", Timezone: "America/New_York",
		AlertEmail: "staff@glow.example"})
	if err != nil {
		t.Fatal(err)
	}
	pw := func(p string) app.UserOptions {
		return app.UserOptions{ClinicID: clinic.ID, Stdin: strings.NewReader(p + "\n")}
	}
	for _, weak := range []string{"aaaaaaaaaaaa", "password1234", "qwertyuiop12", "staff@glow.example!"} {
		o := pw(weak)
		o.Email = "staff@glow.example"
		if _, _, err := app.AddUser(ctx, cfg, o); aftercare.ErrorCode(err) != aftercare.EINVALID || !strings.Contains(err.Error(), "too easy to guess") {
			t.Errorf("user add with %q: %v", weak, err)
		}
	}
	o := pw("velvet tractor oyster lamp")
	o.Email = "boss@glow.example"
	boss, _, err := app.AddUser(ctx, cfg, o)
	if err != nil || boss.Role != store.RoleAdmin {
		t.Fatalf("first user: %+v %v", boss, err)
	}
	o = pw("sapphire kettle morning 89")
	o.Email = "desk@glow.example"
	desk, _, err := app.AddUser(ctx, cfg, o)
	if err != nil || desk.Role != store.RoleStaff {
		t.Fatalf("second user: %+v %v", desk, err)
	}
	us, _, err := app.ListUsers(ctx, cfg, clinic.ID)
	if err != nil || len(us) != 2 || us[0].Email != "boss@glow.example" || us[1].Role != store.RoleStaff {
		t.Fatalf("ListUsers = %+v %v", us, err)
	}

	session := func(u store.User, tok string) {
		t.Helper()
		now := time.Now()
		if err := s.CreateSession(ctx, store.Session{TokenHash: tok, UserID: u.ID, ClinicID: clinic.ID, CSRF: "c",
			CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	session(desk, "desk-1")
	session(boss, "boss-1")
	o = pw("aaaaaaaaaaaaaaaa")
	o.Email = "desk@glow.example"
	if _, err := app.ResetPassword(ctx, cfg, o); aftercare.ErrorCode(err) != aftercare.EINVALID {
		t.Errorf("reset to a repetitive password: %v", err)
	}
	if _, err := s.SessionByToken(ctx, "desk-1"); err != nil {
		t.Errorf("a refused reset ended the session: %v", err)
	}
	o = pw("lantern orchid pebble 7 river")
	o.Email = "desk@glow.example"
	if _, err := app.ResetPassword(ctx, cfg, o); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByToken(ctx, "desk-1"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Errorf("session after reset-password: %v", err)
	}
	session(desk, "desk-2")
	if _, err := app.DisableUser(ctx, cfg, clinic.ID, "Desk@Glow.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByToken(ctx, "desk-2"); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Errorf("session of a disabled user: %v", err)
	}
	if _, err := app.DisableUser(ctx, cfg, clinic.ID, "boss@glow.example"); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Errorf("disabling the last admin: %v", err)
	}
	if _, err := s.SessionByToken(ctx, "boss-1"); err != nil {
		t.Errorf("the admin's session ended: %v", err)
	}
	if _, err := app.DisableUser(ctx, cfg, clinic.ID, "nobody@glow.example"); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("disabling an unknown user: %v", err)
	}
}
