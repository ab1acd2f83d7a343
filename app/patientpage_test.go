package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
)

var careLinkRe = regexp.MustCompile(`http://[^\s"<>]+/c/[A-Za-z0-9_-]{22}`)

// noRedirect is a client that returns redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPatientPageEndToEnd enrolls a patient on a daemon with a public URL
// and follows their page link on the virtual clock: the link is in the
// welcome email and the first sunscreen text, the page gives day 2's
// advice on day 2, a concern with red-flag words reaches the inbox and
// queues the staff alerts, the booking link redirects and counts, visits
// are audited as the patient, the token never reaches the logs, and a
// revoked link is gone (410).
func TestPatientPageEndToEnd(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 14, 30, 0, 0, ny)
	h := newHarness(t, treated.Add(5*time.Minute))
	ctx := context.Background()
	status, out := h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Ana", "last_name": "Diaz", "phone": "+14155550123", "email": "ana@example.com",
		"timezone": "America/New_York", "sms_consent": true, "email_consent": true,
		"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	})
	if status != 201 {
		t.Fatalf("enroll: %d %v", status, out)
	}
	id := int64(out["enrollment"].(map[string]any)["id"].(float64))

	h.runUntil(time.Date(2026, 11, 26, 10, 0, 0, 0, ny)) // day 1, after the sunscreen text
	emails := h.mail.Messages()
	if len(emails) == 0 {
		t.Fatal("no welcome email")
	}
	parsed, err := emails[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	link := careLinkRe.FindString(parsed.Text)
	if link == "" || !strings.HasPrefix(link, h.base+"/c/") || !strings.Contains(parsed.HTML, link) {
		t.Fatalf("welcome email has no page link: %q", link)
	}
	inText := false
	for _, m := range h.tw.Sent() {
		if strings.Contains(m.Body, link) {
			inText = strings.Contains(m.Body, "Sunscreen, day 1")
		}
	}
	if !inText {
		t.Errorf("the day 1 sunscreen text does not carry the link")
	}

	// Day 2 at noon: makeup waits until 2:30 pm (48 hours after 14:30).
	h.clock.Set(time.Date(2026, 11, 27, 12, 0, 0, 0, ny))
	resp, body := get(t, link)
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	for _, want := range []string{"Hi Ana", "Day 2: no makeup until 2:30 pm", `href="tel:&#43;14155550111"`, "Coming up", "I have a concern"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Diaz") || strings.Contains(body, "+14155550123") || strings.Contains(body, "<script") {
		t.Error("the page shows the last name or the phone, or has a script")
	}
	for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}

	// "I have a concern" with red-flag words: into the inbox, staff alerted.
	form := regexp.MustCompile(`name="form_token" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if form == nil {
		t.Fatal("no form token")
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("form_token", form[1])
	mw.WriteField("text", "my face is very swollen and there is pus")
	mw.Close()
	resp, err = noRedirect.Post(link, mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "sent=red_flag") {
		t.Fatalf("concern: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = get(t, link+"?sent=red_flag")
	if !strings.Contains(body, "please call the clinic straight away") {
		t.Error("the page does not say to call the clinic now")
	}
	items, err := h.app.Store.Inbox(ctx, h.clinic.ID, false, 10)
	if err != nil || len(items) != 1 || items[0].Concern.Kind != aftercare.ConcernRedFlag || !strings.Contains(items[0].Replies[0].Body, "swollen") {
		t.Fatalf("inbox: %+v %v", items, err)
	}
	alerts := 0
	for _, m := range messages(h.enrollment(id)) {
		if m["step"] == "alert_staff" {
			alerts++
		}
	}
	if alerts != 2 {
		t.Errorf("staff alerts queued: %d, want email and on-call text", alerts)
	}

	// The booking link counts the click and redirects to the clinic.
	resp, _ = get(t, link+"/book")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://glow.example/book" {
		t.Errorf("book: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n, err := h.app.Store.EnrollmentBookingClicks(ctx, h.clinic.ID, id); n != 1 || err != nil {
		t.Errorf("clicks: %d %v", n, err)
	}
	h.hasMetrics(t, "aftercare_booking_link_clicks_total 1")
	// The clinic's outcomes count the click for the week of the treatment.
	if status, st := h.api("GET", "/v1/stats?from=2026-11-23&to=2026-11-29", nil); status != 200 ||
		fmt.Sprint(st["total"].(map[string]any)["booking"]) != "map[appointments_booked:0 appointments_cancelled:0 enrollments_clicked:1 enrollments_clicked_pct:100 link_clicks:1]" {
		t.Errorf("stats: %d %v", status, st["total"])
	}

	// Audited as the patient.
	log, err := h.app.Store.AuditLog(ctx, store.AuditFilter{ClinicID: h.clinic.ID, ActorKind: aftercare.ActorPatient})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[aftercare.AuditAction]int{}
	for _, e := range log {
		seen[e.Action]++
	}
	if seen[aftercare.AuditPageView] < 2 || seen[aftercare.AuditPageConcern] != 1 {
		t.Errorf("patient audit rows: %v", seen)
	}

	// Revoked: gone, showing nothing of the patient's.
	if ok, err := h.app.Store.RevokeLink(ctx, h.clinic.ID, id); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	resp, body = get(t, link)
	if resp.StatusCode != http.StatusGone || strings.Contains(body, "Ana") {
		t.Errorf("revoked link: %d", resp.StatusCode)
	}
	if resp, _ := get(t, h.base+"/c/AAAAAAAAAAAAAAAAAAAAAA"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown token: %d", resp.StatusCode)
	}
	tok := link[strings.LastIndex(link, "/")+1:]
	if strings.Contains(h.logs.String(), tok) {
		t.Error("the page token is in the logs")
	}
}

// TestPatientPageLinksNeverLogged runs the daemon at debug level (every
// HTTP request logged) and opens, books through and posts to a page: the
// logs name the route, never the token.
func TestPatientPageLinksNeverLogged(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 14, 30, 0, 0, ny)
	d := testsupport.StartDaemon(t, testsupport.DaemonOptions{Start: treated.Add(5 * time.Minute), LogLevel: slog.LevelDebug})
	clinic, key := d.AddClinic(t, testsupport.GlowClinic())
	h := &harness{t: t, app: d.App, clock: d.Clock, tw: d.Twilio, mail: d.Mail, base: d.Base, key: key, clinic: clinic, logs: d.Logs, d: d}
	if status, out := h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Ana", "last_name": "Diaz", "email": "ana@example.com", "timezone": "America/New_York",
		"email_consent": true, "treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	}); status != 201 {
		t.Fatalf("enroll: %d %v", status, out)
	}
	h.runUntil(treated.Add(time.Hour))
	parsed, err := h.mail.Messages()[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	link := careLinkRe.FindString(parsed.Text)
	if link == "" {
		t.Fatal("no link in the welcome email")
	}
	get(t, link)
	get(t, link+"/book")
	resp, err := noRedirect.Post(link, "application/x-www-form-urlencoded", strings.NewReader("text=hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	logs := h.logs.String()
	tok := link[strings.LastIndex(link, "/")+1:]
	if !strings.Contains(logs, `"route":"GET /c/{token}"`) {
		t.Fatalf("no access log of the page: the test proves nothing\n%s", logs)
	}
	if strings.Contains(logs, tok) {
		t.Errorf("the page token is in the logs:\n%s", logs)
	}
}
