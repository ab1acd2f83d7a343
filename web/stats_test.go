package web_test

import (
	"context"
	"encoding/csv"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/aftercare/aftercare/store"
)

var csvLinkRE = regexp.MustCompile(`id="stats-csv" href="([^"]+)"|href="([^"]+)" id="stats-csv"`)

// csvEnrollments sums the enrollments column of a stats CSV.
func csvEnrollments(t *testing.T, body string) (rows, enrollments int) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, body)
	}
	if len(recs) == 0 || recs[0][0] != "week" || recs[0][2] != "enrollments" {
		t.Fatalf("CSV header: %v", recs)
	}
	for _, r := range recs[1:] {
		n, err := strconv.Atoi(r[2])
		if err != nil {
			t.Fatalf("enrollments %q", r[2])
		}
		enrollments += n
	}
	return len(recs) - 1, enrollments
}

// TestStatsPage: the outcomes page shows the clinic's weeks as four
// accessible SVG charts and a table, with no script of its own; its CSV
// link downloads the same numbers; bad dates re-render the form with
// every problem; another clinic's staff see none of it.
func TestStatsPage(t *testing.T) {
	w := newWorld(t, options{})
	w.history()
	w.addUser(w.clinic.ID, "desk@glow.example")
	w.addUser(w.other.ID, "desk@other.example")
	c := w.client()
	c.signIn("desk@glow.example")

	want, err := w.store.Stats(context.Background(), w.clinic.ID, start.AddDate(0, 0, -20), start)
	if err != nil {
		t.Fatal(err)
	}
	total := store.Total(want.Rows)
	if total.Enrollments != 6 || total.SMS.Failed == 0 {
		t.Fatalf("history: %+v", total)
	}

	p := c.get("/console/stats")
	if p.status != http.StatusOK {
		t.Fatalf("stats page: %d\n%s", p.status, p.body)
	}
	if n := strings.Count(p.body, "<svg "); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	for _, id := range []string{"enrollments", "delivered", "optouts", "rebooking"} {
		for _, part := range []string{`<title id="chart-` + id + `-title">`, `<desc id="chart-` + id + `-desc">`,
			`aria-labelledby="chart-` + id + `-title chart-` + id + `-desc"`} {
			if !strings.Contains(p.body, part) {
				t.Errorf("chart %s lacks %s", id, part)
			}
		}
	}
	if n, src := strings.Count(p.body, "<script"), strings.Count(p.body, `<script src="/console/static/`); n != src {
		t.Errorf("%d scripts, %d of them the console's own file", n, src)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(p.body, `aria-current="page">Outcomes</a>`) {
		t.Error("no current Outcomes link in the navigation")
	}
	m := csvLinkRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSV link:\n%s", p.body)
	}
	link := html.UnescapeString(m[1] + m[2])
	csvPage := c.get(link)
	if ct := csvPage.header.Get("Content-Type"); csvPage.status != 200 || !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("CSV link %s: %d %s", link, csvPage.status, ct)
	}
	if _, n := csvEnrollments(t, csvPage.body); n != total.Enrollments {
		t.Errorf("CSV counts %d enrollments, the store %d", n, total.Enrollments)
	}

	bad := c.get("/console/stats?from=2026-13-01&to=nope&treatment=x")
	if bad.status != http.StatusBadRequest {
		t.Fatalf("bad dates: %d", bad.status)
	}
	for _, part := range []string{`id="from" name="from" type="date" value="2026-13-01" aria-invalid="true"`,
		`id="to" name="to" type="date" value="nope" aria-invalid="true"`, `<a href="#from">`, `<a href="#to">`} {
		if !strings.Contains(bad.body, part) {
			t.Errorf("re-rendered form lacks %s", part)
		}
	}
	if strings.Contains(bad.body, "<svg ") {
		t.Error("charts drawn for a refused range")
	}

	o := w.client()
	o.signIn("desk@other.example")
	op := o.get("/console/stats")
	if op.status != 200 || !strings.Contains(op.body, "No enrollments were treated in these weeks") {
		t.Errorf("other clinic's page: %d", op.status)
	}
	if rows, n := csvEnrollments(t, o.get(link).body); rows != 0 || n != 0 {
		t.Errorf("other clinic's CSV has %d rows, %d enrollments", rows, n)
	}
	if anon := w.client().get("/console/stats"); anon.status != http.StatusSeeOther {
		t.Errorf("signed out: %d", anon.status)
	}
}

// TestStatsInBrowser: in Chromium, the Outcomes link opens the page with
// its four charts drawn (each with a title and description), the table,
// and a CSV link that downloads the clinic's numbers.
func TestStatsInBrowser(t *testing.T) {
	w := newWorld(t, options{})
	w.history()
	w.addUser(w.clinic.ID, "desk@glow.example")
	ctx, _ := newBrowser(t)
	shots := newScreenshots(t, ctx)

	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "desk@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	if s := click(t, ctx, `nav a[href="/console/stats"]`); s != 200 {
		t.Fatalf("outcomes link: %d", s)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("figure.chart svg[role=img] title + desc").length`)); n != 4 {
		t.Errorf("%d charts with a title and description, want 4", n)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart-enrollments rect").length`)); n == 0 {
		t.Error("no enrollment bars drawn")
	}
	if got := text(t, ctx, "#stats-table tfoot td"); got != "6" {
		t.Errorf("total enrollments shown %q, want 6", got)
	}
	shots.take("stats", 0)

	href := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("#stats-csv").href`))
	cookies := run(t, ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{w.url}})
		return r.Cookies, err
	})
	req, err := http.NewRequest("GET", href, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := read(t, resp)
	if !strings.HasPrefix(body.header.Get("Content-Type"), "text/csv") || !strings.Contains(body.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV link: %d %v", body.status, body.header)
	}
	if _, n := csvEnrollments(t, body.body); n != 6 {
		t.Errorf("CSV counts %d enrollments, want 6", n)
	}
}
