package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/aftercare/aftercare/store"
)

// An admin, in a real browser: opens their account from the header, adds a
// user on the users page (a repetitive password is refused with the
// reason, a passphrase accepted), disables a colleague, then signs out
// everywhere, which also ends their session on another device.
func TestAccountAndUsersInBrowser(t *testing.T) {
	w := newWorld(t, options{})
	h, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if _, err := w.store.CreateUserWithRole(context.Background(), w.clinic.ID, "boss@glow.example", string(h), store.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	desk := w.addUser(w.clinic.ID, "desk@glow.example")
	phone := w.client()
	phone.signIn("boss@glow.example")

	ctx, _ := newBrowser(t)
	shots := newScreenshots(t, ctx)
	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "boss@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	if s := click(t, ctx, ".signout a.who"); s != 200 {
		t.Fatalf("account link: %d", s)
	}
	if h := text(t, ctx, "main h1"); h != "Your account" {
		t.Fatalf("account page heading %q", h)
	}
	if s := click(t, ctx, `a[href="/console/users"]`); s != 200 {
		t.Fatalf("users link: %d", s)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "new@glow.example"),
		chromedp.SendKeys(chromedp.ID("password"), "aaaaaaaaaaaaaaaa"))
	if s := click(t, ctx, `form[action="/console/users"] button[type=submit]`); s != 422 {
		t.Fatalf("add with a repetitive password: %d", s)
	}
	if e := text(t, ctx, "#users-error"); !strings.Contains(e, "too easy to guess") || !strings.Contains(e, "repeats") {
		t.Errorf("error shown: %q", e)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("password"), "velvet tractor oyster lamp"))
	if s := click(t, ctx, `form[action="/console/users"] button[type=submit]`); s != 200 {
		t.Fatalf("add: %d", s)
	}
	if f := text(t, ctx, ".flash"); !strings.HasPrefix(f, "The user is added") {
		t.Errorf("after adding: %q", f)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.users tbody tr").length`)); n != 3 {
		t.Errorf("users listed: %d, want 3", n)
	}
	shots.take("users", 0)
	if s := click(t, ctx, chromedp.CSS(`#user-`+itoa(desk.ID)+` form[action$="/disable"] button`)); s != 200 {
		t.Fatalf("disable: %d", s)
	}
	if row := text(t, ctx, chromedp.CSS("#user-"+itoa(desk.ID))); !strings.Contains(row, "disabled") {
		t.Errorf("disabled user's row: %q", row)
	}
	navigate(t, ctx, w.url+"/console/account")
	if s := click(t, ctx, "#signout-everywhere"); s != 200 {
		t.Fatalf("sign out everywhere: %d", s)
	}
	if n := text(t, ctx, ".flash"); n != "You have signed out on every browser and device." {
		t.Errorf("notice: %q", n)
	}
	if s := phone.get("/console/patients").status; s != 303 {
		t.Errorf("the other device after sign out everywhere: %d", s)
	}
}
