package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAdminPagesInBrowser walks a clinic admin through the settings page
// (every error at once, then a save), the API keys page (a key shown
// once, revoked after a confirmation), and a colleague's "forgot password"
// from the sign-in page to a new password, in one Chromium.
func TestAdminPagesInBrowser(t *testing.T) {
	w, mail := mailWorld(t)
	w.addAdmin(w.clinic.ID, "admin@glow.example")
	ctx, dialogs := newBrowser(t)
	shots := newScreenshots(t, ctx)

	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "admin@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}

	t.Run("settings", func(t *testing.T) {
		if s := click(t, ctx, `nav a[href="/console/settings"]`); s != 200 {
			t.Fatalf("settings link: %d", s)
		}
		do(t, ctx, setValue("phone", "12"), setValue("timezone", "Mars/Base"),
			setValue("alert_email", ""), setValue("booking_url", "glow.example"))
		if s := click(t, ctx, "#save-settings"); s != 422 {
			t.Fatalf("bad settings: %d", s)
		}
		items := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".error-summary li").length`))
		if items != 4 {
			t.Errorf("%d errors listed, want 4 (phone, zone, booking link, alert route)", items)
		}
		if v := run(t, ctx, chromedp.Value(chromedp.ID("timezone"))); v != "Mars/Base" {
			t.Errorf("typed value not kept: %q", v)
		}
		if got := text(t, ctx, "#sms-from"); got != "default" {
			t.Errorf("sender shown as %q", got)
		}
		shots.take("settings-errors", 900)
		do(t, ctx, setValue("phone", "(415) 555-0100"), setValue("timezone", "America/New_York"),
			setValue("alert_email", "alerts@glow.example"), setValue("booking_url", "https://glow.example/book"),
			setValue("after_hours_phone", "415 555 0177"))
		if s := click(t, ctx, "#save-settings"); s != 200 {
			t.Fatalf("save: %d", s)
		}
		if f := text(t, ctx, ".flash"); f != "Settings saved." {
			t.Errorf("flash %q", f)
		}
		if v := run(t, ctx, chromedp.Value(chromedp.ID("after_hours_phone"))); v != "+14155550177" {
			t.Errorf("after-hours phone shown as %q", v)
		}

		// The planning settings: a language chosen, a treatment ticked,
		// two mistakes shown next to their fields with the choices kept,
		// then saved.
		do(t, ctx, chromedp.SetValue(chromedp.ID("default_language"), "es"), setValue("quiet_hours", "25:00-08:00"),
			setValue("daily_text_cap", "4"), chromedp.Click(chromedp.ID("treatment-0")))
		if s := click(t, ctx, "#save-settings"); s != 422 {
			t.Fatalf("bad planning settings: %d", s)
		}
		if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".error-summary li").length`)); n != 2 {
			t.Errorf("%d errors listed, want 2 (quiet hours, texts a day)", n)
		}
		if got := text(t, ctx, "#quiet_hours-error"); !strings.HasPrefix(got, `Quiet hours: start: "25:00" is not a time of day`) {
			t.Errorf("quiet hours error %q", got)
		}
		if got := text(t, ctx, "#daily_text_cap-error"); !strings.Contains(got, "between 1 and 3") {
			t.Errorf("daily cap error %q", got)
		}
		kept := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("default_language").value + "|" +
			document.getElementById("treatment-0").checked + "|" + document.getElementById("treatment-1").checked`))
		if kept != "es|true|false" {
			t.Errorf("choices not kept: %q", kept)
		}
		shots.take("settings-planning-errors", 0)
		do(t, ctx, setValue("quiet_hours", "21:00-8:00"), setValue("daily_text_cap", ""), setValue("weekly_text_cap", "10"))
		if s := click(t, ctx, "#save-settings"); s != 200 {
			t.Fatalf("save planning: %d", s)
		}
		saved := run(t, ctx, chromedp.Evaluate[string](`[document.querySelector(".flash").textContent,
			document.getElementById("default_language").value, document.getElementById("quiet_hours").value,
			document.getElementById("weekly_text_cap").value, document.getElementById("treatment-0").checked].join("|")`))
		if saved != "Settings saved.|es|21:00-08:00|10|true" {
			t.Errorf("after saving: %q", saved)
		}
	})

	t.Run("api keys", func(t *testing.T) {
		if s := click(t, ctx, `.subnav a[href="/console/keys"]`); s != 200 {
			t.Fatalf("keys link: %d", s)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("label"), "Front desk tablet"))
		if s := click(t, ctx, "#add-key"); s != 200 {
			t.Fatalf("add key: %d", s)
		}
		key := text(t, ctx, "#new-key")
		if !strings.HasPrefix(key, "ak_") || len(key) < 40 {
			t.Fatalf("new key shown as %q", key)
		}
		shots.take("api-keys", 0)
		// Shown once: reloading the list does not show it again.
		navigate(t, ctx, w.url+"/console/keys")
		if html := run(t, ctx, chromedp.Evaluate[string](`document.body.innerHTML`)); strings.Contains(html, key[8:]) {
			t.Fatal("the key is shown again")
		}
		if s := click(t, ctx, "tr:last-child form.inline button"); s != 200 {
			t.Fatalf("revoke: %d", s)
		}
		if d := dialogs(); len(d) != 1 || !strings.Contains(d[0], "Revoke the key “Front desk tablet”") {
			t.Errorf("confirmation dialogs: %q", d)
		}
		if f := text(t, ctx, ".flash"); !strings.Contains(f, "revoked") {
			t.Errorf("flash %q", f)
		}
		if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".badge-cancelled").length`)); n != 1 {
			t.Errorf("%d revoked badges, want 1", n)
		}
	})

	t.Run("forgot password", func(t *testing.T) {
		do(t, ctx, chromedp.Click(".signout button"))
		do(t, ctx, chromedp.WaitVisible(chromedp.ID("forgot")))
		if s := click(t, ctx, "#forgot"); s != 200 {
			t.Fatalf("forgot link: %d", s)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "admin@glow.example"))
		if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
			t.Fatalf("forgot: %d", s)
		}
		if msg := text(t, ctx, "#reset-sent"); !strings.HasPrefix(msg, "If that address has an account, we sent a link") {
			t.Errorf("answer %q", msg)
		}
		w.console.WaitResets()
		links := resetLinks(t, mail, "admin@glow.example")
		if len(links) != 1 {
			t.Fatalf("links %v", links)
		}
		if s := navigate(t, ctx, w.url+links[0]); s != 200 {
			t.Fatalf("reset page: %d", s)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("password"), "maple river lantern"), chromedp.SendKeys(chromedp.ID("confirm"), "maple river lantern"))
		if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
			t.Fatalf("set password: %d", s)
		}
		if msg := text(t, ctx, "#reset-done"); !strings.Contains(msg, "every session of your account has ended") {
			t.Errorf("done %q", msg)
		}
		if s := click(t, ctx, "#sign-in"); s != 200 {
			t.Fatalf("sign-in link: %d", s)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "admin@glow.example"), chromedp.SendKeys(chromedp.ID("password"), "maple river lantern"))
		if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
			t.Fatalf("sign in with the new password: %d", s)
		}
		if loc := run(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/console/enroll") {
			t.Errorf("after sign in at %s", loc)
		}
		// The link is spent.
		if s := navigate(t, ctx, w.url+links[0]); s != 410 {
			t.Errorf("used link: %d, want 410", s)
		}
	})
}

// setValue replaces the value of the input with this id.
func setValue(id, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = %q; null`, id, v))
}
