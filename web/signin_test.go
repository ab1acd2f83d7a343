package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/web"
)

// fromIP makes a client whose requests come through the trusted proxy
// from ip (the world must be configured with proxy "X-Forwarded-For").
func (w *world) fromIP(ip string) *client {
	c := w.client()
	c.http.Transport = forwardedFor{ip: ip}
	return c
}

type forwardedFor struct{ ip string }

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	// A forged entry first, as a client would add; the proxy appends the
	// real address last.
	r.Header.Set("X-Forwarded-For", "203.0.113.250, "+f.ip)
	return http.DefaultTransport.RoundTrip(r)
}

// try posts the sign-in form from c and returns the status.
func (c *client) try(email, pw string) response {
	c.t.Helper()
	tok := c.get("/console/login").csrf(c.t)
	return c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {email}, "password": {pw}})
}

// An attacker guessing a colleague's password from many addresses blocks
// the account only for a backoff that doubles up to a cap; guesses during
// the block are refused without a password check and do not extend it; and
// once it ends the owner signs in from their own address. Never permanent.
func TestAccountBackoffCannotLockTheOwnerOutForLong(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{proxy: "X-Forwarded-For"})
	w.addUser(w.clinic.ID, "victim@glow.example")
	victim := w.fromIP("198.51.100.7")
	attempt := 0
	attack := func() int {
		attempt++
		return w.fromIP("192.0.2."+itoa(int64(attempt%200+1))).try("victim@glow.example", "guess "+itoa(int64(attempt))).status
	}
	for i := 0; i < 4; i++ {
		if s := attack(); s != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, s)
		}
	}
	// The 5th failure starts a 1-minute block.
	if s := attack(); s != http.StatusUnauthorized {
		t.Fatalf("5th guess: %d", s)
	}
	before := w.checks.Load()
	for i := 0; i < 50; i++ {
		if s := attack(); s != http.StatusTooManyRequests {
			t.Fatalf("guess during the block: %d, want 429", s)
		}
	}
	if n := w.checks.Load() - before; n != 0 {
		t.Errorf("%d password checks ran during the block", n)
	}
	p := victim.try("victim@glow.example", password)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") != "60" ||
		!strings.Contains(p.body, "Too many failed sign-ins for this account or from this network") {
		t.Fatalf("owner during the block: %d Retry-After %q", p.status, p.header.Get("Retry-After"))
	}
	// The 50 refused guesses did not extend the block: one minute later
	// the owner is in.
	w.clock.Set(start.Add(time.Minute))
	if p := victim.try("victim@glow.example", password); p.status != http.StatusSeeOther {
		t.Fatalf("owner after the block: %d", p.status)
	}

	// A determined attacker who waits out every block gets 1, 2, 4, 8,
	// then at most 15 minutes per guess.
	now := start.Add(time.Minute)
	for i := 0; i < 5; i++ {
		attack()
	}
	var blocks []time.Duration
	for i := 0; i < 6; i++ {
		p := w.fromIP("192.0.2.250").try("victim@glow.example", "hammer")
		if p.status != http.StatusTooManyRequests {
			t.Fatalf("round %d: %d", i, p.status)
		}
		ra, _ := time.ParseDuration(p.header.Get("Retry-After") + "s")
		blocks = append(blocks, ra)
		now = now.Add(ra)
		w.clock.Set(now)
		if s := attack(); s != http.StatusUnauthorized {
			t.Fatalf("guess after block %d: %d", i, s)
		}
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i := range want {
		if blocks[i] != want[i] {
			t.Errorf("blocks = %v, want %v", blocks, want)
			break
		}
	}
	// The owner still gets in as soon as the current block ends.
	w.clock.Set(now.Add(15 * time.Minute))
	if p := w.fromIP("198.51.100.7").try("victim@glow.example", password); p.status != http.StatusSeeOther {
		t.Fatalf("owner after the longest block: %d", p.status)
	}
}

// One address trying 25 different emails is stopped after 20 failures
// (the per-account limit alone never would); other addresses are not.
func TestPerIPLimitCatchesManyEmailsFromOneAddress(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{proxy: "X-Forwarded-For"})
	w.addUser(w.clinic.ID, "staff@glow.example")
	sprayer := w.fromIP("192.0.2.9")
	var statuses []int
	for i := 0; i < 25; i++ {
		statuses = append(statuses, sprayer.try("user"+itoa(int64(i))+"@glow.example", "Winter2026!").status)
	}
	for i, s := range statuses {
		want := http.StatusUnauthorized
		if i >= 20 {
			want = http.StatusTooManyRequests
		}
		if s != want {
			t.Fatalf("attempt %d from one address: %d, want %d (all: %v)", i+1, s, want, statuses)
		}
	}
	// Even the right password of a real account is refused from there...
	if p := sprayer.try("staff@glow.example", password); p.status != http.StatusTooManyRequests {
		t.Errorf("right password from the blocked address: %d", p.status)
	}
	// ...but not from another address.
	if p := w.fromIP("198.51.100.7").try("staff@glow.example", password); p.status != http.StatusSeeOther {
		t.Errorf("another address: %d", p.status)
	}
	// IPv6 addresses count by their /64: hopping within it does not help.
	w6 := newWorld(t, options{proxy: "X-Forwarded-For", ipFree: 3})
	for i := 0; i < 3; i++ {
		w6.fromIP("2001:db8:1:2::"+itoa(int64(i+1))).try("x"+itoa(int64(i))+"@glow.example", "nope")
	}
	if p := w6.fromIP("2001:db8:1:2:ffff::9").try("y@glow.example", "nope"); p.status != http.StatusTooManyRequests {
		t.Errorf("another address in the same /64: %d, want 429", p.status)
	}
	if p := w6.fromIP("2001:db8:1:3::1").try("y@glow.example", "nope"); p.status != http.StatusUnauthorized {
		t.Errorf("another /64: %d, want 401", p.status)
	}
}

// Without a configured proxy header a client cannot choose the address it
// is counted under: X-Forwarded-For is ignored.
func TestForwardedForIsIgnoredUnlessConfigured(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{ipFree: 3})
	for i := 0; i < 3; i++ {
		w.fromIP("192.0.2."+itoa(int64(i+1))).try("x"+itoa(int64(i))+"@glow.example", "nope")
	}
	if p := w.fromIP("192.0.2.99").try("y@glow.example", "nope"); p.status != http.StatusTooManyRequests {
		t.Errorf("forged X-Forwarded-For escaped the per-IP limit: %d", p.status)
	}
}

// An unknown email, a disabled user's email and a wrong password get the
// same answer after the same work: one bcrypt check at the stored hashes'
// cost. (Counted through the PasswordCheck hook, not timed.)
func TestUnknownEmailCostsTheSameAndAnswersTheSame(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	gone := w.addUser(w.clinic.ID, "gone@glow.example")
	w.addUser(w.clinic.ID, "admin@glow.example")
	if _, err := w.store.DisableUser(context.Background(), w.clinic.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	answer := func(email string) (int, string, []int) {
		t.Helper()
		c := w.client()
		tok := c.get("/console/login").csrf(t)
		w.costMu.Lock()
		w.costs = nil
		w.costMu.Unlock()
		p := c.post("/console/login", url.Values{"csrf_token": {tok}, "email": {email}, "password": {"wrong password here"}})
		body := strings.ReplaceAll(p.body, email, "EMAIL")
		body = csrfRE.ReplaceAllString(body, "")
		w.costMu.Lock()
		defer w.costMu.Unlock()
		return p.status, body, append([]int(nil), w.costs...)
	}
	ks, kb, kc := answer("staff@glow.example")
	for _, email := range []string{"nobody@glow.example", "gone@glow.example"} {
		s, b, c := answer(email)
		if s != ks || b != kb {
			t.Errorf("%s: status %d (known: %d); bodies equal: %v", email, s, ks, b == kb)
		}
		if len(c) != 1 || len(kc) != 1 || c[0] != kc[0] || c[0] != bcrypt.MinCost {
			t.Errorf("%s: bcrypt checks at costs %v, known email %v", email, c, kc)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	inputs := []string{"ana.lopez@glow.example", "Glow Skin Clinic"}
	for _, tt := range []struct {
		pw, want string
	}{
		{"aaaaaaaaaa", "at least 12"},
		{"aaaaaaaaaaaa", "repeats"},
		{"abcabcabcabcabc", "repeats"},
		{"password1234", "common password"},
		{"Password123!", "common password"},
		{"iloveyou1234!", "common password"},
		{"qwertyuiop12", "too easy"},
		{"01234567890123", "sequence"},
		{"ana.lopez@glow.example", "your email"},
		{"glowglowglowglow", "repeats"},
		{strings.Repeat("long words ", 7) + "!", "at most 72"},
		{"velvet tractor oyster lamp", ""},
		{"sapphire kettle morning 89", ""},
	} {
		err := web.CheckPassword(tt.pw, inputs...)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q refused: %v", tt.pw, err)
			}
			continue
		}
		if aftercare.ErrorCode(err) != aftercare.EINVALID || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want an error mentioning %q", tt.pw, err, tt.want)
		}
	}
	if _, err := web.HashPassword("aaaaaaaaaaaaaaaa"); err == nil {
		t.Error("HashPassword accepted a repeated letter")
	}
}

// A session unused for the idle timeout ends; one in use lives until its
// absolute lifetime, then ends however busy.
func TestSessionsEndWhenIdleAndAtTheirLifetime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	c.signIn("staff@glow.example")
	at := func(d time.Duration) int {
		w.clock.Set(start.Add(d))
		return c.get("/console/patients").status
	}
	// In use every 29 minutes: alive, for 11 h 36 min.
	var d time.Duration
	for d = 29 * time.Minute; d < 12*time.Hour; d += 29 * time.Minute {
		if s := at(d); s != http.StatusOK {
			t.Fatalf("used after %s: %d", d, s)
		}
	}
	// Past 12 h: gone, though used 29 minutes ago.
	if s := at(12 * time.Hour); s != http.StatusSeeOther {
		t.Errorf("at the 12 h lifetime: %d, want a redirect to sign in", s)
	}

	c2 := w.client()
	w.clock.Set(start)
	c2.signIn("staff@glow.example")
	w.clock.Set(start.Add(29 * time.Minute))
	if s := c2.get("/console/patients").status; s != http.StatusOK {
		t.Fatalf("after 29 idle minutes: %d", s)
	}
	w.clock.Set(start.Add(29*time.Minute + 30*time.Minute))
	if s := c2.get("/console/patients").status; s != http.StatusSeeOther {
		t.Errorf("after 30 idle minutes: %d, want a redirect to sign in", s)
	}
	// A shorter configured idle timeout applies.
	w5 := newWorld(t, options{idle: 5 * time.Minute})
	w5.addUser(w5.clinic.ID, "staff@glow.example")
	c5 := w5.client()
	c5.signIn("staff@glow.example")
	w5.clock.Set(start.Add(5 * time.Minute))
	if s := c5.get("/console/patients").status; s != http.StatusSeeOther {
		t.Errorf("after 5 idle minutes with a 5 minute timeout: %d", s)
	}
}

// "Sign out everywhere" ends every session of the user, on every browser,
// and no one else's.
func TestSignOutEverywhere(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	w.addUser(w.clinic.ID, "other@glow.example")
	desk, phone, colleague := w.client(), w.client(), w.client()
	csrf := desk.signIn("staff@glow.example")
	phone.signIn("staff@glow.example")
	colleague.signIn("other@glow.example")
	acct := desk.get("/console/account")
	if acct.status != 200 || !strings.Contains(acct.body, `action="/console/logout/everywhere"`) {
		t.Fatalf("account page: %d", acct.status)
	}
	if p := desk.post("/console/logout/everywhere", nil); p.status != http.StatusForbidden {
		t.Errorf("without CSRF token: %d", p.status)
	}
	p := desk.post("/console/logout/everywhere", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/login?signed_out=everywhere" {
		t.Fatalf("sign out everywhere: %d %s", p.status, p.header.Get("Location"))
	}
	if n := desk.get("/console/login?signed_out=everywhere"); !strings.Contains(n.body, "signed out on every browser") {
		t.Error("no notice after signing out everywhere")
	}
	for name, c := range map[string]*client{"this browser": desk, "the phone": phone} {
		if s := c.get("/console/patients").status; s != http.StatusSeeOther {
			t.Errorf("%s after sign out everywhere: %d", name, s)
		}
	}
	if s := colleague.get("/console/patients").status; s != http.StatusOK {
		t.Errorf("a colleague was signed out: %d", s)
	}
}

// Admins manage users in the console; staff cannot. A disabled user's
// open session is refused on its very next request; a reset password ends
// the user's sessions; weak passwords are refused with the reason.
func TestAdminManagesUsersAndDisabledUserIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	ctx := context.Background()
	h, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if _, err := w.store.CreateUserWithRole(ctx, w.clinic.ID, "boss@glow.example", string(h), store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	desk := w.addUser(w.clinic.ID, "desk@glow.example")
	w.addUser(w.other.ID, "elsewhere@other.example")
	admin, staff := w.client(), w.client()
	csrf := admin.signIn("boss@glow.example")
	staffCSRF := staff.signIn("desk@glow.example")

	if p := staff.get("/console/users"); p.status != http.StatusForbidden {
		t.Errorf("staff open the users page: %d", p.status)
	}
	if p := staff.post("/console/users/"+itoa(desk.ID)+"/disable", url.Values{"csrf_token": {staffCSRF}}); p.status != http.StatusForbidden {
		t.Errorf("staff disable a user: %d", p.status)
	}
	page := admin.get("/console/users")
	if page.status != 200 || !strings.Contains(page.body, "desk@glow.example") || strings.Contains(page.body, "elsewhere@other.example") {
		t.Fatalf("users page: %d\n%s", page.status, page.body)
	}
	weak := admin.post("/console/users", url.Values{"csrf_token": {csrf}, "email": {"new@glow.example"}, "role": {"staff"}, "password": {"aaaaaaaaaaaaaaaa"}})
	if weak.status != http.StatusUnprocessableEntity || !strings.Contains(weak.body, "too easy to guess") || !strings.Contains(weak.body, `value="new@glow.example"`) {
		t.Errorf("weak password: %d\n%s", weak.status, weak.body)
	}
	add := admin.post("/console/users", url.Values{"csrf_token": {csrf}, "email": {"New@glow.example"}, "role": {"staff"}, "password": {"velvet tractor oyster lamp"}})
	if add.status != http.StatusSeeOther {
		t.Fatalf("add user: %d\n%s", add.status, add.body)
	}
	if u, err := w.store.UserByEmail(ctx, w.clinic.ID, "new@glow.example"); err != nil || u.Role != store.RoleStaff ||
		bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("velvet tractor oyster lamp")) != nil {
		t.Errorf("added user = %+v, %v", u, err)
	}

	// Disabled: the open session is refused on the next request.
	if s := staff.get("/console/patients").status; s != http.StatusOK {
		t.Fatalf("staff before disable: %d", s)
	}
	if p := admin.post("/console/users/"+itoa(desk.ID)+"/disable", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.status)
	}
	if s := staff.get("/console/patients").status; s != http.StatusSeeOther {
		t.Errorf("disabled user's session: %d, want a redirect to sign in", s)
	}
	if p := staff.try("desk@glow.example", password); p.status != http.StatusUnauthorized {
		t.Errorf("disabled user signs in: %d", p.status)
	}
	// Another clinic's user is not found.
	other, _ := w.store.UsersByEmail(ctx, "elsewhere@other.example")
	if p := admin.post("/console/users/"+itoa(other[0].ID)+"/disable", url.Values{"csrf_token": {csrf}}); p.status != http.StatusNotFound {
		t.Errorf("disable another clinic's user: %d", p.status)
	}

	// Reset: the new password works, sessions on the old one end.
	newUser, _ := w.store.UserByEmail(ctx, w.clinic.ID, "new@glow.example")
	nc := w.client()
	nc.try("new@glow.example", "velvet tractor oyster lamp")
	if s := nc.get("/console/patients").status; s != http.StatusOK {
		t.Fatalf("new user signed in: %d", s)
	}
	if p := admin.post("/console/users/"+itoa(newUser.ID)+"/password", url.Values{"csrf_token": {csrf}, "password": {"qwertyuiop12"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("reset to a keyboard walk: %d", p.status)
	}
	if p := admin.post("/console/users/"+itoa(newUser.ID)+"/password", url.Values{"csrf_token": {csrf}, "password": {"lantern orchid pebble river"}}); p.status != http.StatusSeeOther {
		t.Fatalf("reset: %d", p.status)
	}
	if s := nc.get("/console/patients").status; s != http.StatusSeeOther {
		t.Errorf("session after its password was reset: %d", s)
	}
	if p := w.client().try("new@glow.example", "lantern orchid pebble river"); p.status != http.StatusSeeOther {
		t.Errorf("sign in with the reset password: %d", p.status)
	}
}

// Changing one's own password needs the current one, follows the policy,
// and ends the user's other sessions while keeping this one.
func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c, other := w.client(), w.client()
	csrf := c.signIn("staff@glow.example")
	other.signIn("staff@glow.example")
	change := func(cur, next string) response {
		return c.post("/console/account/password", url.Values{"csrf_token": {csrf}, "current_password": {cur},
			"new_password": {next}, "new_password_again": {next}})
	}
	if p := change("not my password", "velvet tractor oyster lamp"); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "current password is not right") {
		t.Errorf("wrong current password: %d", p.status)
	}
	if p := change(password, "zzzzzzzzzzzzzzzz"); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "repeats") {
		t.Errorf("repetitive new password: %d", p.status)
	}
	p := change(password, "velvet tractor oyster lamp")
	if p.status != http.StatusSeeOther {
		t.Fatalf("change: %d\n%s", p.status, p.body)
	}
	if s := c.get("/console/account?done=password"); s.status != http.StatusOK || !strings.Contains(s.body, "Your password is changed") {
		t.Errorf("this browser after the change: %d", s.status)
	}
	if s := other.get("/console/patients").status; s != http.StatusSeeOther {
		t.Errorf("the other session after the change: %d", s)
	}
}

// Password checks run at most PasswordChecks at once: while they are all
// busy, another sign-in is refused quickly with 503 and pages that need no
// password check are served as usual.
func TestPasswordChecksAreBoundedAndExcessIsRefusedQuickly(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 10)
	hold := make(chan struct{})
	var once sync.Once
	w := newWorld(t, options{checks: 1, wait: 50 * time.Millisecond, check: func() {
		entered <- struct{}{}
		<-hold
	}})
	t.Cleanup(func() { once.Do(func() { close(hold) }) })
	w.addUser(w.clinic.ID, "staff@glow.example")
	w.addUser(w.clinic.ID, "other@glow.example")
	signedIn := w.client()
	signedIn.get("/console/login")
	first := make(chan int, 1)
	c1 := w.client()
	tok := c1.get("/console/login").csrf(t)
	go func() {
		first <- c1.post("/console/login", url.Values{"csrf_token": {tok}, "email": {"staff@glow.example"}, "password": {password}}).status
	}()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first sign-in never reached its password check")
	}
	// The only slot is taken: the next sign-ins get 503 without a check.
	for i := 0; i < 3; i++ {
		p := w.client().try("other@glow.example", password)
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Fatalf("sign-in while checks are busy: %d", p.status)
		}
	}
	if n := w.checks.Load(); n != 1 {
		t.Errorf("%d password checks started, want 1", n)
	}
	if s := w.client().get("/console/login").status; s != http.StatusOK {
		t.Errorf("a page needing no check while checks are busy: %d", s)
	}
	once.Do(func() { close(hold) })
	select {
	case s := <-first:
		if s != http.StatusSeeOther {
			t.Errorf("the first sign-in: %d", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first sign-in never finished")
	}
	if p := w.client().try("other@glow.example", password); p.status != http.StatusSeeOther {
		t.Errorf("sign-in once the check is free: %d", p.status)
	}
}
