package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestPatientPageInBrowser opens a patient's page on a phone-sized screen
// (390x844) on day 2, sends a concern with red-flag words and a photo
// (with JavaScript playing no part: the page has none), sees what happens
// next, and finds the concern in the clinic's inbox as its staff.
//
// With AFTERCARE_SCREENSHOT=path (from the module root unless absolute)
// it also saves the page's screenshot there, for the README:
//
//	AFTERCARE_SCREENSHOT=docs/patient-page.png go test ./web -run TestPatientPageInBrowser
func TestPatientPageInBrowser(t *testing.T) {
	w := newWorld(t, options{})
	_, path := w.enrollWithLink(w.clinic, "Maya", "+14155550123", "")
	w.clock.Set(start.Add(45*time.Hour + 25*time.Minute)) // day 2, 12:00
	ctx, _ := newBrowser(t)
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))

	if st := navigate(t, ctx, w.url+path); st != 200 {
		t.Fatalf("page: %d", st)
	}
	if got := text(t, ctx, "#today h2"); !strings.Contains(got, "Day 2: no makeup until 2:35 pm") {
		t.Errorf("today: %q", got)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.scripts.length`)); n != 0 {
		t.Errorf("%d scripts on the page", n)
	}
	// Fits a phone: nothing wider than the screen.
	if wd := run(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); wd > 390 {
		t.Errorf("page is %d px wide on a 390 px screen", wd)
	}
	if href := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("#call a.urgent").getAttribute("href")`)); href != "tel:+14155550100" {
		t.Errorf("call button: %q", href)
	}
	if text := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("#call a.urgent").textContent`)); text != "Call +1 415-555-0100" {
		t.Errorf("call button reads %q", text)
	}
	phoneShot(t, ctx)

	photo := filepath.Join(t.TempDir(), "cheek.png")
	if err := os.WriteFile(photo, png, 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("text"), "my cheek is very swollen and there is pus"),
		chromedp.SetUploadFiles(chromedp.ID("photo"), []string{photo}))
	if st := click(t, ctx, "#concern button"); st != 200 {
		t.Fatalf("after sending: %d", st)
	}
	if got := text(t, ctx, "#sent"); !strings.Contains(got, "please call the clinic straight away") {
		t.Errorf("what happens next: %q", got)
	}

	// The clinic's staff find it in their inbox, with the photo.
	w.addUser(w.clinic.ID, "nurse@glow.example")
	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "nurse@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	click(t, ctx, "form button[type=submit]")
	if st := navigate(t, ctx, w.url+"/console/inbox"); st != 200 {
		t.Fatalf("inbox: %d", st)
	}
	body := run(t, ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if !strings.Contains(body, "very swollen") || !strings.Contains(body, "from the aftercare page") || !strings.Contains(body, "View photo") {
		t.Errorf("inbox lacks the page concern:\n%s", body)
	}
}

// phoneShot saves the phone-sized page (top 1800 CSS pixels) where
// AFTERCARE_SCREENSHOT says, and always checks it is a PNG.
func phoneShot(t *testing.T, ctx context.Context) {
	t.Helper()
	buf, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		h, err := chromedp.Evaluate[float64](`document.documentElement.scrollHeight`)(ctx, tg)
		if err != nil {
			return nil, err
		}
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, FromSurface: new(true), CaptureBeyondViewport: new(true),
			Clip: &page.Viewport{Width: 390, Height: min(h, 1800), Scale: 1}})
		return r.Data, err
	})
	if err != nil || len(buf) < 1000 || !strings.HasPrefix(string(buf), "\x89PNG") {
		t.Fatalf("screenshot: %d bytes, %v", len(buf), err)
	}
	p := os.Getenv("AFTERCARE_SCREENSHOT")
	if p == "" {
		return
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join("..", p)
	}
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
