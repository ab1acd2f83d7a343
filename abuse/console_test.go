package abuse_test

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

	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/web"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestConsoleEscapesHostileNames: a patient whose names and reply are HTML
// shows up escaped on every web console page that shows them.
func TestConsoleEscapesHostileNames(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	const first, last = `<script>alert(1)</script>`, `<img src=x onerror="alert(2)">`
	const reply = `<iframe src="javascript:alert(3)"></iframe> my face is swollen`
	b := enrollBody(first, "+14155550123", "ana@example.com")
	b["last_name"] = last
	r := h.post("/v1/enrollments", b)
	if r.status != 201 {
		t.Fatalf("enroll: %d %s", r.status, r.body)
	}
	out := r.json(t)
	eid := itoa(int64(out["enrollment"].(map[string]any)["id"].(float64)))
	pid := itoa(int64(out["patient"].(map[string]any)["id"].(float64)))
	h.runUntil(h.clock.Now().Add(time.Minute))
	if r := h.webhook("/webhooks/twilio/inbound", twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, reply), authToken); r.status != 200 {
		t.Fatalf("reply: %d", r.status)
	}

	const password = "correct horse battery staple"
	hash, err := web.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.app.Store.CreateUser(ctx, h.clinicA.ID, "desk@glow.example", hash); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute} // nothing waits for it to fire
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	_, page := get("/console/login")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%.500s", page)
	}
	resp, err := c.PostForm(h.base+"/console/login", url.Values{"csrf_token": {m[1]}, "email": {"desk@glow.example"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	for _, path := range []string{"/console/enrollments/" + eid, "/console/patients", "/console/patients/" + pid,
		"/console/patients?q=" + url.QueryEscape("<script>"), "/console/log"} {
		status, page := get(path)
		if status != 200 {
			t.Errorf("%s: %d", path, status)
			continue
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<iframe"} {
			if strings.Contains(page, raw) {
				t.Errorf("%s shows %q unescaped:\n%s", path, raw, excerpt(page, raw))
			}
		}
		if strings.Contains(path, "/patients") && !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not show the patient's name escaped", path)
		}
	}
}
