package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/smtp"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/store"
)

// mailWorld is a console whose reset links go out by SMTP to a loopback
// server.
func mailWorld(t *testing.T) (*world, *smtptest.Server) {
	t.Helper()
	srv := smtptest.NewServer(t)
	sender, err := smtp.New(smtp.Config{Host: srv.Host(), Port: srv.Port(), TLS: "none",
		From: "aftercare <no-reply@aftercare.example>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sender.Close() })
	return newWorld(t, options{mail: sender}), srv
}

var (
	sentRE  = regexp.MustCompile(`(?s)<p class="flash" role="status" id="reset-sent"[^>]*>(.*?)</p>`)
	linkRE  = regexp.MustCompile(regexp.QuoteMeta(resetBase) + `(/console/reset\?token=[A-Za-z0-9_\-%]+)`)
	tokenRE = regexp.MustCompile(`token=([A-Za-z0-9_\-%]+)`)
)

// requestReset posts the forgot form for email and returns the answer.
func (c *client) requestReset(email string) response {
	c.t.Helper()
	page := c.get("/console/forgot")
	return c.post("/console/forgot", url.Values{"csrf_token": {page.csrf(c.t)}, "email": {email}})
}

// resetLinks returns the reset links (paths) mailed to "to", oldest first.
func resetLinks(t *testing.T, srv *smtptest.Server, to string) []string {
	t.Helper()
	var out []string
	for _, m := range srv.Messages() {
		if len(m.To) != 1 || m.To[0] != to {
			continue
		}
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != "Reset your aftercare console password" {
			t.Fatalf("subject %q", p.Subject)
		}
		l := linkRE.FindStringSubmatch(p.Text)
		if l == nil {
			t.Fatalf("no reset link in:\n%s", p.Text)
		}
		out = append(out, l[1])
	}
	return out
}

func TestForgotPasswordEndToEnd(t *testing.T) {
	w, mail := mailWorld(t)
	u := w.addUser(w.clinic.ID, "ana@glow.example")
	signedIn := w.client()
	signedIn.signIn("ana@glow.example")
	elsewhere := w.client()
	elsewhere.signIn("ana@glow.example")

	anon := w.client()
	if login := anon.get("/console/login"); !strings.Contains(login.body, `href="/console/forgot"`) {
		t.Fatal("the sign-in page has no forgot-password link")
	}
	unknown := anon.requestReset("nobody@glow.example")
	known := anon.requestReset("Ana@Glow.example")
	if known.status != http.StatusOK || unknown.status != http.StatusOK {
		t.Fatalf("statuses: known %d, unknown %d", known.status, unknown.status)
	}
	k, u2 := sentRE.FindStringSubmatch(known.body), sentRE.FindStringSubmatch(unknown.body)
	if k == nil || u2 == nil || k[1] != u2[1] || !strings.Contains(k[1], "If that address has an account") {
		t.Fatalf("answers differ or are missing:\nknown:   %v\nunknown: %v", k, u2)
	}
	w.console.WaitResets()
	if n := len(mail.Messages()); n != 1 {
		t.Fatalf("%d emails sent, want 1 (none for the unknown address)", n)
	}
	links := resetLinks(t, mail, "ana@glow.example")
	if len(links) != 1 {
		t.Fatalf("links = %v", links)
	}
	link := links[0]
	token, _ := url.QueryUnescape(tokenRE.FindStringSubmatch(link)[1])

	// The link's page, then the new password's checks.
	page := anon.get(link)
	if page.status != http.StatusOK || !strings.Contains(page.body, `name="confirm"`) {
		t.Fatalf("reset page: %d\n%s", page.status, page.body)
	}
	form := func(pw, confirm string) url.Values {
		return url.Values{"csrf_token": {page.csrf(t)}, "token": {token}, "password": {pw}, "confirm": {confirm}}
	}
	if r := anon.post("/console/reset", form("short pass", "short pass")); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "at least 12") {
		t.Fatalf("short password: %d", r.status)
	}
	if r := anon.post("/console/reset", form("purple tulip harbour", "purple tulip harbor")); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "differ") {
		t.Fatalf("mismatched passwords: %d", r.status)
	}
	r := anon.post("/console/reset", form("purple tulip harbour", "purple tulip harbour"))
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="reset-done"`) {
		t.Fatalf("reset: %d\n%s", r.status, r.body)
	}

	// Every session of the user ended.
	for i, c := range []*client{signedIn, elsewhere} {
		if p := c.get("/console/enroll"); p.status != http.StatusSeeOther {
			t.Fatalf("session %d after the reset: %d, want a redirect to sign in", i, p.status)
		}
	}
	// The new password signs in; the old one does not.
	users, _ := w.store.UsersByEmail(context.Background(), "ana@glow.example")
	if bcrypt.CompareHashAndPassword([]byte(users[0].PasswordHash), []byte("purple tulip harbour")) != nil ||
		bcrypt.CompareHashAndPassword([]byte(users[0].PasswordHash), []byte(password)) == nil {
		t.Fatal("the password was not replaced")
	}
	// The link works once.
	if p := anon.get(link); p.status != http.StatusGone || !strings.Contains(p.body, "expired or was already used") {
		t.Fatalf("used link: %d", p.status)
	}
	if p := anon.post("/console/reset", form("another long passphrase", "another long passphrase")); p.status != http.StatusGone {
		t.Fatalf("used link posted again: %d", p.status)
	}

	// A new link expires after 30 minutes.
	anon.requestReset("ana@glow.example")
	w.console.WaitResets()
	links = resetLinks(t, mail, "ana@glow.example")
	if len(links) != 2 {
		t.Fatalf("links = %v", links)
	}
	w.clock.Set(start.Add(29 * time.Minute))
	if p := anon.get(links[1]); p.status != http.StatusOK {
		t.Fatalf("link at 29 minutes: %d", p.status)
	}
	w.clock.Set(start.Add(30 * time.Minute))
	if p := anon.get(links[1]); p.status != http.StatusGone {
		t.Fatalf("link at 30 minutes: %d, want 410", p.status)
	}

	// Audit: requested, completed (4 sessions... 2 ended), requested.
	rows, err := w.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: w.clinic.ID, Action: aftercare.AuditPasswordReset})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1].Actor.ID != u.ID || !strings.Contains(rows[1].Detail, "2 sessions ended") {
		t.Fatalf("audit rows = %+v", rows)
	}
	// Logs name ids, never the address or the token.
	logs := w.logs.String()
	if strings.Contains(logs, "ana@glow.example") || strings.Contains(logs, token) {
		t.Fatal("logs hold the address or the token")
	}
}

func TestForgotPasswordRateLimited(t *testing.T) {
	w, mail := mailWorld(t)
	w.addUser(w.clinic.ID, "ana@glow.example")
	c := w.client()
	for i := 1; i <= 3; i++ {
		if r := c.requestReset("ana@glow.example"); r.status != http.StatusOK {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	if r := c.requestReset("ana@glow.example"); r.status != http.StatusTooManyRequests {
		t.Fatalf("4th request for one address: %d, want 429", r.status)
	}
	// Per client: 10 at once, whatever the addresses.
	for i := 5; i <= 10; i++ {
		if r := c.requestReset("someone" + itoa(int64(i)) + "@glow.example"); r.status != http.StatusOK {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	if r := c.requestReset("someone11@glow.example"); r.status != http.StatusTooManyRequests {
		t.Fatalf("11th request from one client: %d, want 429", r.status)
	}
	// Twenty minutes later one more is allowed.
	w.clock.Set(start.Add(20 * time.Minute))
	if r := c.requestReset("ana@glow.example"); r.status != http.StatusOK {
		t.Fatalf("after 20 minutes: %d", r.status)
	}
	w.console.WaitResets()
	if n := len(resetLinks(t, mail, "ana@glow.example")); n != 4 {
		t.Fatalf("%d emails, want 4", n)
	}
}

// addAdmin creates a clinic admin (bcrypt at its lowest cost: tests only).
func (w *world) addAdmin(clinicID int64, email string) store.User {
	w.t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		w.t.Fatal(err)
	}
	u, err := w.store.CreateUserWithRole(context.Background(), clinicID, email, string(h), store.RoleAdmin)
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

func TestAdminPagesRefuseStaff(t *testing.T) {
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "desk@glow.example")
	c := w.client()
	csrf := c.signIn("desk@glow.example")
	if p := c.get("/console/enroll"); strings.Contains(p.body, `href="/console/settings"`) {
		t.Error("staff see the settings link")
	}
	for _, path := range []string{"/console/keys", "/console/settings"} {
		if p := c.get(path); p.status != http.StatusForbidden {
			t.Errorf("GET %s as staff: %d, want 403", path, p.status)
		}
	}
	if p := c.post("/console/keys", url.Values{"csrf_token": {csrf}, "label": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("add key as staff: %d", p.status)
	}
	if p := c.post("/console/settings", url.Values{"csrf_token": {csrf}, "name": {"Mine now"}}); p.status != http.StatusForbidden {
		t.Errorf("save settings as staff: %d", p.status)
	}
	if keys, _ := w.store.APIKeys(context.Background(), w.clinic.ID); len(keys) != 1 {
		t.Errorf("staff made a key: %+v", keys)
	}
	if cl, _ := w.store.Clinic(context.Background(), w.clinic.ID); cl.Name != "Glow Skin Clinic" {
		t.Errorf("staff renamed the clinic: %q", cl.Name)
	}
}

func TestKeysPage(t *testing.T) {
	w := newWorld(t, options{})
	u := w.addAdmin(w.clinic.ID, "admin@glow.example")
	c := w.client()
	csrf := c.signIn("admin@glow.example")

	if r := c.post("/console/keys", url.Values{"csrf_token": {csrf}, "label": {"  "}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Label required") {
		t.Fatalf("empty label: %d", r.status)
	}
	if r := c.post("/console/keys", url.Values{"label": {"no token"}}); r.status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", r.status)
	}
	r := c.post("/console/keys", url.Values{"csrf_token": {csrf}, "label": {"EHR integration"}})
	m := regexp.MustCompile(`<code id="new-key">(ak_[A-Za-z0-9_\-]+)</code>`).FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("add key: %d\n%s", r.status, r.body)
	}
	secret := m[1]
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatal("the page showing a key may be cached")
	}
	_, id, _, err := w.store.AuthenticateAPIKey(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	list := c.get("/console/keys")
	if strings.Contains(list.body, secret[8:]) || !strings.Contains(list.body, "EHR integration") || !strings.Contains(list.body, secret[:7]+"…") {
		t.Fatalf("key list shows the secret or misses the key:\n%s", list.body)
	}
	if !strings.Contains(list.body, "Wed 25 Nov 2026, 14:35 EST") {
		t.Fatal("last use not shown in the clinic's zone")
	}

	// Another clinic's key is not found; this one is revoked at once.
	_, _, _ = w.store.CreateAPIKey(context.Background(), w.other.ID, "theirs")
	theirs, _ := w.store.APIKeys(context.Background(), w.other.ID)
	if r := c.post("/console/keys/"+itoa(theirs[0].ID)+"/revoke", url.Values{"csrf_token": {csrf}}); r.status != http.StatusNotFound {
		t.Fatalf("revoking another clinic's key: %d", r.status)
	}
	if r := c.post("/console/keys/"+itoa(id)+"/revoke", url.Values{"csrf_token": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	if _, _, _, err := w.store.AuthenticateAPIKey(context.Background(), secret); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Fatalf("revoked key: %v", err)
	}
	rows, _ := w.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: w.clinic.ID})
	if len(rows) != 2 || rows[0].Action != aftercare.AuditKeyRevoked || rows[1].Action != aftercare.AuditKeyCreated ||
		rows[0].Actor.Kind != aftercare.ActorStaff || rows[0].Actor.ID != u.ID || rows[0].Actor.IP != "127.0.0.1" {
		t.Fatalf("audit rows = %+v", rows)
	}

	// Signed out: the pages send to sign in; a post is refused.
	anon := w.client()
	if p := anon.get("/console/keys"); p.status != http.StatusSeeOther {
		t.Fatalf("keys page signed out: %d", p.status)
	}
	if p := anon.post("/console/keys", url.Values{"label": {"x"}}); p.status != http.StatusUnauthorized {
		t.Fatalf("add key signed out: %d", p.status)
	}
}

func TestSettingsPage(t *testing.T) {
	w := newWorld(t, options{})
	w.addAdmin(w.clinic.ID, "admin@glow.example")
	c := w.client()
	csrf := c.signIn("admin@glow.example")
	page := c.get("/console/settings")
	if page.status != http.StatusOK || !strings.Contains(page.body, `value="Glow Skin Clinic"`) {
		t.Fatalf("settings page: %d", page.status)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf_token": {csrf}, "name": {"Glow Skin Clinic"}, "phone": {"+14155550100"},
			"timezone": {"America/New_York"}, "booking_url": {"https://glow.example/book"}, "alert_email": {"staff@clinic.example"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	bad := c.post("/console/settings", form("name", "", "phone", "12", "timezone", "Mars/Base", "booking_url", "javascript:x",
		"alert_email", "", "reply_to", "not an address"))
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad settings: %d", bad.status)
	}
	for _, want := range []string{`href="#name"`, `href="#phone"`, `href="#timezone"`, `href="#booking_url"`, `href="#alert_email"`, `href="#reply_to"`,
		"keep an alert email, an on-call mobile, or both", `value="Mars/Base"`} {
		if !strings.Contains(bad.body, want) {
			t.Errorf("bad settings page lacks %s", want)
		}
	}
	if got, _ := w.store.Clinic(context.Background(), w.clinic.ID); got.Name != "Glow Skin Clinic" || got.AlertEmail == "" {
		t.Fatalf("a refused form changed the clinic: %+v", got)
	}

	ok := c.post("/console/settings", form("on_call_phone", "(415) 555-0111", "after_hours_phone", "415 555 0177", "reply_to", "desk@glow.example"))
	if ok.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", ok.status, ok.body)
	}
	got, _ := w.store.Clinic(context.Background(), w.clinic.ID)
	if got.OnCallPhone != "+14155550111" || got.AfterHoursPhone != "+14155550177" || got.ReplyTo != "desk@glow.example" {
		t.Fatalf("clinic = %+v", got)
	}
	if p := c.get("/console/settings?saved=1"); !strings.Contains(p.body, "Settings saved.") {
		t.Fatal("no confirmation")
	}
	rows, _ := w.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: w.clinic.ID, Action: aftercare.AuditSettings})
	if len(rows) != 1 || rows[0].Detail != "changed on_call_phone, after_hours_phone, reply_to" || rows[0].Actor.Kind != aftercare.ActorStaff {
		t.Fatalf("audit rows = %+v", rows)
	}
	// Either alert route may go while the other stays.
	if r := c.post("/console/settings", form("alert_email", "", "on_call_phone", "+14155550111")); r.status != http.StatusSeeOther {
		t.Fatalf("removing one of two routes: %d", r.status)
	}
}

// TestForgotAnswersWithoutWaitingForTheEmail: the answer comes while the
// email to a known address is still held by the sender, so the response
// never waits on the lookup's outcome or the send, known address or not.
func TestForgotAnswersWithoutWaitingForTheEmail(t *testing.T) {
	release := make(chan struct{})
	sent := make(chan string, 4)
	sender := notify.SenderFunc(func(ctx context.Context, m notify.Message) (string, error) {
		<-release
		sent <- m.To
		return "held", nil
	})
	w := newWorld(t, options{mail: sender})
	w.addUser(w.clinic.ID, "ana@glow.example")
	c := w.client()
	r := c.requestReset("ana@glow.example")
	if r.status != http.StatusOK || sentRE.FindStringSubmatch(r.body) == nil {
		t.Fatalf("answer while the send is held: %d", r.status)
	}
	close(release)
	w.console.WaitResets()
	if to := <-sent; to != "ana@glow.example" {
		t.Fatalf("sent to %q", to)
	}
}
