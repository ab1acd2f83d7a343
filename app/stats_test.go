package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/aftercare/aftercare/api"
)

// console is a signed-in staff browser on the daemon's console.
type console struct {
	h    *harness
	hc   *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *console) get(path string) string {
	c.h.t.Helper()
	resp, err := c.hc.Get(c.h.base + path)
	if err != nil {
		c.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.h.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return string(b)
}

func (c *console) post(path string, form url.Values) int {
	c.h.t.Helper()
	form.Set("csrf_token", c.csrf)
	resp, err := c.hc.PostForm(c.h.base+path, form)
	if err != nil {
		c.h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signIn adds a staff user to the harness's clinic and signs them in.
func (h *harness) signIn(email string) *console {
	h.t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.app.Store.CreateUser(context.Background(), h.clinic.ID, email, string(hash)); err != nil {
		h.t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &console{h: h, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	c.get("/console/login")
	if code := c.post("/console/login", url.Values{"email": {email}, "password": {"correct horse battery"}}); code != http.StatusSeeOther {
		h.t.Fatalf("sign in: %d", code)
	}
	return c
}

// TestStatsEndToEnd runs two weeks of a clinic on the virtual clock: three
// patients treated in the first week (one whose number the carrier
// refuses, one who replies STOP, one who reports a red flag that a nurse
// acknowledges in the console 17 minutes later and who comes back for
// her second session the next week), and a single-session patient the
// second week. GET /v1/stats (and its CSV) shows exactly that.
func TestStatsEndToEnd(t *testing.T) {
	ctx := context.Background()
	ny, _ := time.LoadLocation("America/New_York")
	day1 := time.Date(2026, 11, 25, 10, 0, 0, 0, ny) // a Wednesday
	h := newHarness(t, day1.Add(time.Minute))
	const ana, bea, cara, dee = "+14155550123", "+14155550124", "+14155550125", "+14155550126"
	h.tw.FailFor(cara, http.StatusBadRequest, 21211)

	ana1 := h.enroll(day1, ana, 1, 3)
	bea1 := h.enroll(day1.Add(-30*time.Minute), bea, 1, 3)
	cara1 := h.enroll(day1.Add(-time.Hour), cara, 1, 3)
	h.runUntil(day1.Add(time.Hour))
	if err := h.tw.DeliverAll(ctx); err != nil {
		t.Fatal(err)
	}

	h.text(bea, fromNumber, "STOP")
	h.advance(10 * time.Minute)
	h.text(ana, fromNumber, "my cheek is so swollen and there is pus")
	h.runUntil(h.clock.Now().Add(time.Minute))
	nurse := h.signIn("nurse@glow.example")
	nurse.get("/console/inbox")
	items, err := h.app.Store.Inbox(ctx, h.clinic.ID, false, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("inbox: %+v, %v", items, err)
	}
	opened := items[0].Concern.OpenedAt
	h.clock.Set(opened.Add(17 * time.Minute))
	if code := nurse.post("/console/concerns/"+itoa(items[0].Concern.ID)+"/acknowledge", url.Values{}); code != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", code)
	}

	// The next week: Ana's second session, and Dee's only one.
	day8 := day1.AddDate(0, 0, 7)
	h.runUntil(day8)
	if err := h.tw.DeliverAll(ctx); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(day8.Add(time.Minute))
	ana2 := h.enroll(day8, ana, 2, 3)
	dee1 := h.enroll(day8.Add(24*time.Hour), dee, 1, 1)
	h.runUntil(day8.Add(26 * time.Hour))
	if err := h.tw.DeliverAll(ctx); err != nil {
		t.Fatal(err)
	}

	// What the enrollments themselves say, to hold the stats against.
	type counts struct{ planned, delivered, failed, emails, emailsDelivered int }
	tally := func(ids ...int64) (c counts, treatment string) {
		for _, id := range ids {
			v := h.enrollment(id)
			treatment = v["enrollment"].(map[string]any)["treatment"].(string)
			for _, m := range messages(v) {
				switch {
				case m["channel"] == "sms":
					c.planned++
					if m["status"] == "delivered" {
						c.delivered++
					}
					if m["status"] == "failed" {
						c.failed++
					}
				default:
					c.emails++
					if m["status"] == "sent" || m["status"] == "delivered" {
						c.emailsDelivered++
					}
				}
			}
		}
		return c, treatment
	}
	week1, treatment := tally(ana1, bea1, cara1)
	week2, _ := tally(ana2, dee1)
	t.Logf("from the enrollments: week 1 %+v, week 2 %+v", week1, week2)
	if week1.delivered == 0 || week1.failed != 1 || week2.delivered == 0 {
		t.Fatalf("the run itself: week 1 %+v, week 2 %+v", week1, week2)
	}

	req, _ := http.NewRequest("GET", h.base+"/v1/stats?from=2026-11-23&to=2026-12-06", nil)
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page api.StatsPage
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/stats: %d %v", resp.StatusCode, err)
	}
	if len(page.Weeks) != 2 || len(page.Rows) != 2 {
		t.Fatalf("weeks %d, rows %+v", len(page.Weeks), page.Rows)
	}
	pct := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	secs := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	w1, w2 := page.Rows[0], page.Rows[1]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"week 1", w1.Week, "2026-11-23"},
		{"week 1 treatment", w1.Treatment, treatment},
		{"week 1 enrollments", w1.Enrollments, 3},
		{"week 1 texts planned", w1.SMS.Planned, week1.planned},
		{"week 1 texts delivered", w1.SMS.Delivered, week1.delivered},
		{"week 1 texts awaiting a receipt", w1.SMS.Sent, 0},
		{"week 1 texts failed", w1.SMS.Failed, 1},
		{"week 1 failure reasons", len(w1.SMS.Failures), 1},
		{"week 1 failures for the bad number", w1.SMS.Failures[0].Count, 1},
		{"week 1 delivered %", pct(w1.SMS.DeliveredPct), float64(int(float64(week1.delivered)*1000/float64(week1.delivered+1)+0.5)) / 10},
		{"week 1 emails", w1.Email.Planned, week1.emails},
		{"week 1 emails delivered", w1.Email.Delivered, week1.emailsDelivered},
		{"week 1 text opt-outs", w1.OptOuts.SMS, 1},
		{"week 1 text opt-out %", pct(w1.OptOuts.SMSPct), 33.3},
		{"week 1 email opt-outs", w1.OptOuts.Email, 0},
		{"week 1 replies (STOP is not one)", w1.Replies, 1},
		{"week 1 red flags", w1.RedFlags.Opened, 1},
		{"week 1 red flags acknowledged", w1.RedFlags.Acknowledged, 1},
		{"week 1 median time to acknowledge", secs(w1.RedFlags.AckMedianSeconds), int64(17 * 60)},
		{"week 1 worst time to acknowledge", secs(w1.RedFlags.AckWorstSeconds), int64(17 * 60)},
		{"week 1 unfinished series", w1.Rebooking.SeriesOpen, 3},
		{"week 1 rebooked", w1.Rebooking.Rebooked, 1},
		{"week 1 not rebooked yet, window open", w1.Rebooking.Pending, 2},
		{"week 1 rebooked %", pct(w1.Rebooking.Pct), 33.3},
		{"week 2", w2.Week, "2026-11-30"},
		{"week 2 enrollments", w2.Enrollments, 2},
		{"week 2 texts planned", w2.SMS.Planned, week2.planned},
		{"week 2 texts delivered", w2.SMS.Delivered, week2.delivered},
		{"week 2 texts failed", w2.SMS.Failed, 0},
		{"week 2 replies", w2.Replies, 0},
		{"week 2 red flags", w2.RedFlags.Opened, 0},
		{"week 2 unfinished series", w2.Rebooking.SeriesOpen, 1},
		{"week 2 rebooked", w2.Rebooking.Rebooked, 0},
		{"total enrollments", page.Total.Enrollments, 5},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if r := w1.SMS.Failures[0].Reason; !strings.Contains(r, "not a valid phone number") {
		t.Errorf("failure reason %q", r)
	}

	// The CSV holds the same rows; the console page the same totals.
	req.Header.Set("Accept", "text/csv")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "2026-11-23,"+treatment+",3,3,") || !strings.HasPrefix(lines[2], "2026-11-30,"+treatment+",2,2,") {
		t.Errorf("CSV:\n%s", body)
	}
	desk := h.signIn("desk@glow.example") // the nurse's session ended a week ago
	if p := desk.get("/console/stats?from=2026-11-23&to=2026-12-06"); !strings.Contains(p, `<th scope="row" colspan="2">All</th><td>5</td>`) {
		t.Error("the console's total is not 5 enrollments")
	}

	// Ops see the enrollments and the opt-out, without names or numbers.
	mresp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mbody, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, line := range []string{
		`aftercare_enrollments_total{source="api",treatment="` + strings.ToLower(treatment) + `"} 5`,
		`aftercare_opt_outs_total{channel="sms",method="sms_reply"} 1`,
	} {
		if !strings.Contains(string(mbody), line+"\n") {
			t.Errorf("metrics lack %s", line)
		}
	}
	for _, personal := range []string{"Ana", "Diaz", "4155550123", "Glow"} {
		if strings.Contains(string(mbody), personal) {
			t.Errorf("metrics mention %q", personal)
		}
	}
}
