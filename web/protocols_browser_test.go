package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestProtocolsInBrowser: an admin opens the protocols page from the
// navigation, sees the sample plan, uploads a broken file (every error
// with its line, nothing stored), then the example chemical peel, which
// then has its own plan on the page.
func TestProtocolsInBrowser(t *testing.T) {
	w := newWorld(t, options{})
	w.addAdmin(w.clinic.ID, "admin@glow.example")
	dir := t.TempDir()
	broken, good := filepath.Join(dir, "broken-peel.yaml"), filepath.Join(dir, "peel.yaml")
	if err := os.WriteFile(broken, []byte(brokenPeel(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(examplePeel(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, _ := newBrowser(t)
	shots := newScreenshots(t, ctx)

	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "admin@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	if s := click(t, ctx, `nav a[href="/console/protocols"]`); s != 200 {
		t.Fatalf("protocols link: %d", s)
	}
	rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#protocol-microneedling-en table.plan tbody tr").length`))
	if rows < 5 {
		t.Fatalf("sample plan has %d rows", rows)
	}
	if got := text(t, ctx, "#protocol-microneedling-en .cost"); !strings.HasSuffix(got, "per enrollment") || !strings.HasPrefix(got, "$") {
		t.Errorf("cost shown as %q", got)
	}
	shots.take("protocols", 0)

	do(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{broken}))
	if s := click(t, ctx, "#upload-protocol"); s != 422 {
		t.Fatalf("broken upload: %d", s)
	}
	if got := text(t, ctx, "#upload-errors li"); !strings.HasPrefix(got, "Line 23: step late_start: sms: unknown template field .Nonsense") {
		t.Errorf("finding shown as %q", got)
	}
	if n := len(w.uploads(w.clinic.ID)); n != 0 {
		t.Fatalf("%d uploads stored after a refusal", n)
	}
	shots.take("protocols-refused", 0)

	do(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{good}))
	if s := click(t, ctx, "#upload-protocol"); s != 200 {
		t.Fatalf("good upload: %d", s)
	}
	if f := text(t, ctx, ".flash"); f != "Stored chemical peel (English) version 1. New enrollments use it." {
		t.Errorf("flash %q", f)
	}
	if got := text(t, ctx, "#protocol-chemical-peel-en .in-use"); !strings.Contains(got, "your clinic's version 1") {
		t.Errorf("peel in use: %q", got)
	}
	if ps := w.uploads(w.clinic.ID); len(ps) != 1 || !ps[0].Active || ps[0].Treatment != "chemical peel" {
		t.Fatalf("uploads = %+v", ps)
	}
}
