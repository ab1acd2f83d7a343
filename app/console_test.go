package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
)

// The console is mounted on the daemon's own HTTP server, and a user added
// with `aftercare user add` (app.AddUser) signs in to it.
func TestConsoleIsServedAndAddedUserSignsIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	a := startDaemon(t, func(c *config.Config) { c.PublicURL = "https://aftercare.example-clinic.com" })
	cfg := a.Config
	clinic, _, err := a.Store.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}

	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, c, err := app.AddUser(ctx, cfg, app.UserOptions{ClinicID: clinic.ID, Email: "Staff@Glow.example", PasswordFile: pwFile})
	if err != nil || u.Email != "staff@glow.example" || c.ID != clinic.ID {
		t.Fatalf("AddUser = %+v, %+v, %v", u, c, err)
	}
	if _, _, err := app.AddUser(ctx, cfg, app.UserOptions{ClinicID: clinic.ID, Email: "staff@glow.example", PasswordFile: pwFile}); aftercare.ErrorCode(err) != aftercare.ECONFLICT {
		t.Errorf("adding the same user twice: %v", err)
	}
	if _, _, err := app.AddUser(ctx, cfg, app.UserOptions{ClinicID: clinic.ID, Email: "b@glow.example", Stdin: strings.NewReader("short\n")}); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password from stdin: %v", err)
	}
	if _, _, err := app.AddUser(ctx, cfg, app.UserOptions{ClinicID: 99, Email: "b@glow.example", Stdin: strings.NewReader("long enough password\n")}); aftercare.ErrorCode(err) != aftercare.ENOTFOUND {
		t.Errorf("unknown clinic: %v", err)
	}
	if got := app.ConsoleURL(cfg); got != "https://aftercare.example-clinic.com/console/login" {
		t.Errorf("ConsoleURL = %q", got)
	}

	base := "http://" + a.Addr()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(base + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /console/login: %d", resp.StatusCode)
	}
	// public_url is https: the cookies are Secure (and so __Host- prefixed).
	var login *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-aftercare_login" && ck.Secure && ck.HttpOnly {
			login = ck
		}
	}
	if login == nil {
		t.Fatalf("login cookie not Secure: %v", resp.Header.Values("Set-Cookie"))
	}
	tok := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	if tok == nil {
		t.Fatal("no CSRF token on the login page")
	}
	req, _ := http.NewRequest("POST", base+"/console/login", strings.NewReader(url.Values{"csrf_token": {string(tok[1])},
		"email": {"staff@glow.example"}, "password": {"correct horse battery"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(login)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), "__Host-aftercare_session=") {
		t.Errorf("sign in: %d %v", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
}
