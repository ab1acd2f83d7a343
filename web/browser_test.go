package web_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/store"
)

// The browser tests drive Debian's Chromium, headless and kept off every
// host but 127.0.0.1. CI always has it (.ci/deps installs it), so a missing
// browser fails the test instead of skipping it.
//
// AFTERCARE_SCREENSHOTS=docs/screenshots (a directory, relative to the
// module root unless absolute) also writes the main pages' screenshots
// there, for the README:
//
//	AFTERCARE_SCREENSHOTS=docs/screenshots go test ./web -run TestConsoleInBrowser
//
// AFTERCARE_CHROMIUM names another Chromium binary.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{"chromium", "chromium-browser", "/usr/bin/chromium"}
	if p := os.Getenv("AFTERCARE_CHROMIUM"); p != "" {
		candidates = []string{p}
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("Chromium not found (looked for %s): run .ci/deps to install Debian's chromium; "+
		"the web console's browser tests need it and do not skip", strings.Join(candidates, ", "))
	return ""
}

// newBrowser starts one headless Chromium for a test, with a tab of 1180x820
// (a landscape tablet). Every JavaScript dialog (the confirm before a
// cancel) is accepted and its message recorded.
func newBrowser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1180, 820),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	// A hung page fails the test instead of hanging CI: the bound is the
	// test binary's own deadline (go test -timeout), less time to report
	// and clean up, not a budget for the session, which a loaded machine
	// can overrun without anything being wrong.
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
		t.Cleanup(cancel)
	}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var dialogs []string
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			dialogs = append(dialogs, ev.Message)
			mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), dialogs...)
	}
}

// screenshots saves full-page PNGs in the test's temp dir and, when
// AFTERCARE_SCREENSHOTS is set, in that directory too.
type screenshots struct {
	t    *testing.T
	ctx  context.Context
	dirs []string
}

func newScreenshots(t *testing.T, ctx context.Context) *screenshots {
	s := &screenshots{t: t, ctx: ctx, dirs: []string{t.TempDir()}}
	if d := os.Getenv("AFTERCARE_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", d) // tests run in web/; the path is from the module root
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		s.dirs = append(s.dirs, d)
	}
	return s
}

// take saves a screenshot of the page from the top, maxHeight pixels at
// most (0: the whole page).
func (s *screenshots) take(name string, maxHeight int) {
	s.t.Helper()
	buf, err := chromedp.Run(s.ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		h, err := chromedp.Evaluate[float64](`document.documentElement.scrollHeight`)(ctx, t)
		if err != nil {
			return nil, err
		}
		if maxHeight > 0 {
			h = min(h, float64(maxHeight))
		}
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, FromSurface: new(true), CaptureBeyondViewport: new(true),
			Clip: &page.Viewport{Width: 1180, Height: h, Scale: 1}})
		return r.Data, err
	})
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(buf) < 1000 || !bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
		s.t.Fatalf("screenshot %s: %d bytes, not a PNG", name, len(buf))
	}
	for _, d := range s.dirs {
		p := filepath.Join(d, name+".png")
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			s.t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			s.t.Fatalf("screenshot %s not saved: %v", p, err)
		}
	}
}

// history gives the clinic two weeks of past deliveries (a few patients,
// one of whom has a number the provider refuses), so the log and its
// chart have something to show. It runs the real dispatcher on the virtual
// clock, day by day, and leaves the clock at start.
func (w *world) history() {
	w.t.Helper()
	ctx := context.Background()
	// Tom's number is invalid: the first text fails, the rest are skipped.
	w.failSMS("+14155550177", "21211", "the 'To' number is not a valid phone number", notify.ActionBadAddress)
	// Some of Priya's and Jun's texts are filtered by their carrier.
	w.failSMS("+14155550173/day1_checkin", "30007", "message filtered by the carrier", "")
	w.failSMS("+14155550173/dryness", "30007", "message filtered by the carrier", "")
	w.failSMS("+14155550176/makeup_ok", "30007", "message filtered by the carrier", "")
	patients := []struct {
		daysAgo     int
		first, last string
		phone       string
	}{
		{13, "Maya", "Okafor", "+14155550171"},
		{11, "Lena", "Fischer", "+14155550172"},
		{9, "Priya", "Raman", "+14155550173"},
		{6, "Tom", "Brennan", "+14155550177"},
		{4, "Sofia", "Marquez", "+14155550175"},
		{2, "Jun", "Park", "+14155550176"},
	}
	for _, p := range patients {
		at := start.AddDate(0, 0, -p.daysAgo).Add(-30 * time.Minute)
		w.runUntil(at)
		if _, _, err := w.enroll.Enroll(ctx, w.clinic, enroll.Request{FirstName: p.first, LastName: p.last, Phone: p.phone,
			Email: strings.ToLower(p.first) + "@example.com", SMSConsent: true, EmailConsent: true,
			ConsentMethod: aftercare.ConsentFrontDesk, SessionNumber: 1, SeriesLength: 3}, ""); err != nil {
			w.t.Fatal(err)
		}
	}
	w.runUntil(start.Add(-time.Minute))
	w.clock.Set(start)
}

// runUntil delivers everything due up to t, jumping the clock from one due
// message to the next (bounded).
func (w *world) runUntil(t time.Time) {
	w.t.Helper()
	testsupport.RunDue(w.t, w.clock, w.store.NextDue, func(ctx context.Context) error {
		_, err := w.dispatcher.RunOnce(ctx)
		return err
	}, t)
	w.clock.Set(t) // back, too: the history is written in the past
	if _, err := w.store.SkipStale(context.Background(), t); err != nil {
		w.t.Fatal(err)
	}
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// click clicks something that loads a page and returns its HTTP status.
func click(t *testing.T, ctx context.Context, sel chromedp.CSS) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

func navigate(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("navigate %s: %v", url, err)
	}
	return resp.Status
}

func text(t *testing.T, ctx context.Context, sel chromedp.CSS) string {
	t.Helper()
	return run(t, ctx, chromedp.Text(sel))
}

// TestConsoleInBrowser walks the front desk's day in one Chromium: sign in
// (after a wrong password), enroll a patient (after a validation error),
// preview and save the plan, find the patient, see a failed message with
// its reason, cancel, be refused another clinic's patient and a form
// without its CSRF token, read the delivery log, sign out.
func TestConsoleInBrowser(t *testing.T) {
	began := time.Now()
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "frontdesk@glow.example")
	w.history()
	theirs := w.enrollPatient(w.other, "Bob", "+14155550124")
	// The welcome text to the patient enrolled in the browser fails.
	w.failSMS("+14155550123/welcome", "30003", "the handset is unreachable (switched off or out of coverage)", "")

	ctx, dialogs := newBrowser(t)
	shots := newScreenshots(t, ctx)

	t.Run("sign in", func(t *testing.T) {
		if s := navigate(t, ctx, w.url+"/console/patients"); s != 200 {
			t.Fatalf("patients page before sign in: %d", s)
		}
		if loc := run(t, ctx, chromedp.Location()); !strings.Contains(loc, "/console/login?next=") {
			t.Fatalf("not sent to sign in: %s", loc)
		}
		shots.take("login", 0)
		do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "frontdesk@glow.example"),
			chromedp.SendKeys(chromedp.ID("password"), "not the password"))
		if s := click(t, ctx, "form.login button[type=submit]"); s != 401 {
			t.Errorf("wrong password: status %d", s)
		}
		if msg := text(t, ctx, "#login-error"); !strings.Contains(msg, "do not match") {
			t.Errorf("wrong password message: %q", msg)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("password"), password))
		if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
			t.Fatalf("sign in: status %d", s)
		}
		if loc := run(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/console/patients") {
			t.Errorf("after sign in at %s, want the page asked for", loc)
		}
		if who := text(t, ctx, ".signout .who"); who != "frontdesk@glow.example" {
			t.Errorf("signed in as %q", who)
		}
	})

	var enrollmentURL string
	t.Run("enroll a patient and see the plan", func(t *testing.T) {
		navigate(t, ctx, w.url+"/console/enroll")
		// Keyboard: the first Tab reaches the skip link, with a visible focus ring.
		do(t, ctx, chromedp.KeyEvent("\t"))
		if got := run(t, ctx, chromedp.Evaluate[string](`document.activeElement.className + " " + getComputedStyle(document.activeElement).outlineStyle`)); got != "skip solid" {
			t.Errorf("first Tab focuses %q, want the skip link with a solid outline", got)
		}
		do(t, ctx,
			chromedp.SendKeys(chromedp.ID("first_name"), "Ana"),
			chromedp.SendKeys(chromedp.ID("last_name"), "Díaz"),
			chromedp.SendKeys(chromedp.ID("phone"), "415 555 012"),
			chromedp.SendKeys(chromedp.ID("email"), "ana@example.com"),
			chromedp.Click(chromedp.ID("sms_consent")),
			chromedp.Click(chromedp.ID("email_consent")),
		)
		if s := click(t, ctx, `button[value=preview]`); s != 422 {
			t.Errorf("bad phone: status %d, want 422", s)
		}
		if msg := text(t, ctx, "#phone-error"); !strings.Contains(msg, "Mobile phone is not a valid number") {
			t.Errorf("phone error: %q", msg)
		}
		if v := run(t, ctx, chromedp.Value(chromedp.ID("last_name"))); v != "Díaz" {
			t.Errorf("last name not kept: %q", v)
		}
		if on := run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("email_consent").checked`)); !on {
			t.Error("email consent not kept")
		}
		do(t, ctx, chromedp.SetValue(chromedp.ID("phone"), "+1 415 555 0123"))
		if s := click(t, ctx, `button[value=preview]`); s != 200 {
			t.Fatalf("preview: status %d", s)
		}
		rows := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".plan tbody tr").length`))
		if rows < 10 {
			t.Fatalf("previewed plan has %d messages", rows)
		}
		first := text(t, ctx, ".plan tbody tr:first-child")
		if !strings.Contains(first, "Wed 25 Nov 2026, 14:3") || !strings.Contains(first, "EST") {
			t.Errorf("first planned message: %q", first)
		}
		shots.take("enroll-plan", 0)
		if s := click(t, ctx, "#save-after-plan"); s != 200 {
			t.Fatalf("save: status %d", s)
		}
		if f := text(t, ctx, ".flash"); !strings.HasPrefix(f, "Enrolled.") {
			t.Errorf("after save: %q", f)
		}
		if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".timeline > li").length`)); n != rows {
			t.Errorf("stored plan has %d messages, preview had %d", n, rows)
		}
		enrollmentURL = run(t, ctx, chromedp.Location())
	})

	// The dispatcher sends what is due: the welcome text fails at the provider.
	w.runDue()
	ana, err := w.store.SearchPatients(context.Background(), w.clinic.ID, "Ana", 10)
	if err != nil || len(ana) != 1 {
		t.Fatalf("Ana stored: %d, %v", len(ana), err)
	}
	if _, err := w.store.RecordReply(context.Background(), store.InboundReply{Reply: aftercare.Reply{ClinicID: w.clinic.ID,
		PatientID: ana[0].ID, ProviderID: "SMreply", Body: "Is redness on day 1 normal?", Kind: "other", At: start.Add(2 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}

	t.Run("find the patient and see the failed message", func(t *testing.T) {
		navigate(t, ctx, w.url+"/console/patients")
		do(t, ctx, chromedp.SendKeys(chromedp.ID("q"), "555 0123"))
		if s := click(t, ctx, "form.search button"); s != 200 {
			t.Fatalf("search: %d", s)
		}
		if got := text(t, ctx, "table.patients tbody"); !strings.Contains(got, "Ana Díaz") || strings.Contains(got, "Maya") {
			t.Fatalf("search results: %q", got)
		}
		if s := click(t, ctx, "table.patients tbody a"); s != 200 {
			t.Fatalf("patient page: %d", s)
		}
		why := text(t, ctx, ".msg.row-failed .why dd")
		if !strings.Contains(why, "the handset is unreachable") {
			t.Errorf("failure reason shown: %q", why)
		}
		if got := text(t, ctx, ".replies"); !strings.Contains(got, "Is redness on day 1 normal?") {
			t.Errorf("replies: %q", got)
		}
		shots.take("patient", 2200)
	})

	t.Run("a form without its CSRF token is refused", func(t *testing.T) {
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("form[action$='/cancel'] input[name=csrf_token]").remove()`))
		if s := click(t, ctx, "form[action$='/cancel'] button"); s != 403 {
			t.Errorf("cancel without CSRF token: status %d, want 403", s)
		}
		if h := text(t, ctx, "h1"); h != "Refused" {
			t.Errorf("heading %q", h)
		}
		v, _ := w.store.Enrollments(context.Background(), w.clinic.ID, ana[0].ID)
		if len(v) != 1 || v[0].Cancelled {
			t.Error("the refused form cancelled the enrollment")
		}
	})

	t.Run("cancel", func(t *testing.T) {
		navigate(t, ctx, enrollmentURL)
		if s := click(t, ctx, "form[action$='/cancel'] button"); s != 200 {
			t.Fatalf("cancel: status %d", s)
		}
		if f := text(t, ctx, ".flash"); !strings.Contains(f, "cancelled") {
			t.Errorf("after cancel: %q", f)
		}
		// Two confirms: the refused post above asked too.
		if d := dialogs(); len(d) != 2 || !strings.Contains(d[1], "Its pending messages will not be sent") {
			t.Errorf("confirm dialogs: %q", d)
		}
		if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".msg.row-scheduled").length`)); n != 0 {
			t.Errorf("%d messages still scheduled after cancel", n)
		}
	})

	t.Run("another clinic's patient is not found", func(t *testing.T) {
		if s := navigate(t, ctx, w.url+"/console/patients/"+itoa(theirs.Patient.ID)); s != 404 {
			t.Errorf("another clinic's patient: status %d", s)
		}
		if body := text(t, ctx, "main"); !strings.Contains(body, "Not found") || strings.Contains(body, "Bob") {
			t.Errorf("another clinic's patient page shows: %q", body)
		}
	})

	t.Run("delivery log", func(t *testing.T) {
		if s := navigate(t, ctx, w.url+"/console/log"); s != 200 {
			t.Fatalf("log: %d", s)
		}
		if first := run(t, ctx, chromedp.AttributeValue(chromedp.CSS("table.log tbody tr"), "class")); first.Value != "row-failed" {
			t.Errorf("first row of the log is %q, want a failure", first.Value)
		}
		if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".chart rect.bar-failed[height]:not([height='0'])").length`)); n < 2 {
			t.Errorf("the chart shows failures on %d days, want at least 2", n)
		}
		shots.take("delivery-log", 1900)
		do(t, ctx, chromedp.SetValue(chromedp.ID("status"), "failed"))
		if s := click(t, ctx, "form.filters button[type=submit]"); s != 200 {
			t.Fatalf("filter: %d", s)
		}
		all := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.log tbody tr").length`))
		failed := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.log tbody tr.row-failed").length`))
		if all == 0 || all != failed {
			t.Errorf("filtered by failed: %d rows, %d failed", all, failed)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		if s := click(t, ctx, ".signout button"); s != 200 {
			t.Fatalf("sign out: %d", s)
		}
		if n := text(t, ctx, ".flash"); n != "You have signed out." {
			t.Errorf("after sign out: %q", n)
		}
		navigate(t, ctx, w.url+"/console/log")
		if loc := run(t, ctx, chromedp.Location()); !strings.Contains(loc, "/console/login") {
			t.Errorf("after sign out the log is at %s", loc)
		}
	})
	t.Logf("browser test took %s", time.Since(began).Round(time.Millisecond))
}
