package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// examplePeel is the repository's example second-treatment protocol.
func examplePeel(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "protocols", "example-chemical-peel.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// brokenPeel is the example with an unknown template field on line 23.
func brokenPeel(t *testing.T) string {
	t.Helper()
	src := examplePeel(t)
	if !strings.Contains(src, "peel,\n") {
		t.Fatal("example protocol changed: no \"peel,\" line")
	}
	return strings.Replace(src, "peel,\n", "peel {{.Nonsense}},\n", 1)
}

// postFile posts a multipart upload form with a file.
func (c *client) postFile(path string, fields url.Values, name, content string) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		c.t.Fatal(err)
	}
	fw.Write([]byte(content))
	mw.Close()
	resp, err := c.http.Post(c.w.url+path, mw.FormDataContentType(), &body)
	if err != nil {
		c.t.Fatal(err)
	}
	return read(c.t, resp)
}

func (w *world) uploads(clinicID int64) []store.ClinicProtocol {
	w.t.Helper()
	ps, err := w.store.ClinicProtocols(context.Background(), clinicID)
	if err != nil {
		w.t.Fatal(err)
	}
	return ps
}

var segmentsRE = regexp.MustCompile(`<section class="protocol" id="protocol-microneedling-en"[\s\S]*?<span class="segments">(\d+) segments?</span>[\s\S]*?<strong class="cost">([^<]+)</strong>`)

// Any staff member sees each treatment and language's protocol in use, its
// plan for the sample patient in the clinic's local time with segments
// and encoding, totals, a cost per enrollment (none in 30 days) that
// becomes a monthly one once the clinic enrolls, and lint warnings; only
// admins get the upload and switch forms.
func TestProtocolsPage(t *testing.T) {
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "staff@glow.example")
	c := w.client()
	c.signIn("staff@glow.example")
	p := c.get("/console/protocols")
	if p.status != http.StatusOK {
		t.Fatalf("GET /console/protocols: %d\n%s", p.status, p.body)
	}
	for _, want := range []string{
		`<a href="/console/protocols" aria-current="page">Protocols</a>`,
		"microneedling · English", "microneedling · Spanish",
		"In use: <strong>aftercare&#39;s built-in protocol, version 3</strong>",
		"Wed 25 Nov 2026, 10:05 EST", // the welcome, at enrollment
		"GSM-7", "Email",
		"per enrollment</strong> (no enrollments in the last 30 days)",
		"$0.0083 per SMS segment",
		"Warning, line ", "shows &#34;microneedling&#34; on the patient&#39;s lock screen",
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(p.body, `action="/console/protocols/upload"`) || strings.Contains(p.body, `action="/console/protocols/use"`) {
		t.Error("staff who are not admins see the upload or switch form")
	}
	m := segmentsRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no segments and cost for microneedling (en):\n%s", p.body)
	}
	segs, _ := strconv.Atoi(m[1])
	if want := fmt.Sprintf("$%.2f per enrollment", float64(segs)*0.0083); segs == 0 || m[2] != want {
		t.Fatalf("cost %q with %d segments, want %q", m[2], segs, want)
	}
	// Two enrollments in the last 30 days: a monthly cost.
	w.enrollPatient(w.clinic, "Ana", "+14155550101")
	w.enrollPatient(w.clinic, "Bea", "+14155550102")
	p = c.get("/console/protocols")
	m = segmentsRE.FindStringSubmatch(p.body)
	if want := fmt.Sprintf("$%.2f a month", float64(2*segs)*0.0083); m == nil || m[2] != want || !strings.Contains(p.body, "2 enrollments in the last 30 days") {
		t.Fatalf("after two enrollments: %v, want %q", m, want)
	}
	// Staff may not upload or switch.
	csrf := p.csrf(t)
	if r := c.post("/console/protocols/upload", url.Values{"csrf_token": {csrf}, "source": {examplePeel(t)}}); r.status != http.StatusForbidden {
		t.Fatalf("staff upload: %d", r.status)
	}
	if r := c.post("/console/protocols/use", url.Values{"csrf_token": {csrf}, "treatment": {"microneedling"}, "language": {"en"},
		"version": {"daemon"}}); r.status != http.StatusForbidden {
		t.Fatalf("staff switch: %d", r.status)
	}
	if len(w.uploads(w.clinic.ID)) != 0 {
		t.Fatal("a refused upload was stored")
	}
}

// A refused upload shows every error with its line number, keeps the
// text, answers 422 and stores nothing; a CSRF-less one is 403.
func TestProtocolUploadRefused(t *testing.T) {
	w := newWorld(t, options{})
	w.addAdmin(w.clinic.ID, "admin@glow.example")
	c := w.client()
	c.signIn("admin@glow.example")
	csrf := c.get("/console/protocols").csrf(t)

	p := c.post("/console/protocols/upload", url.Values{"csrf_token": {csrf}, "source": {brokenPeel(t)}, "activate": {"1"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("broken upload: %d", p.status)
	}
	for _, want := range []string{"The protocol was not stored", "<strong>Line 23</strong>: step late_start: sms: unknown template field .Nonsense",
		"the protocol has 1 error; nothing was stored", "peel {{.Nonsense}},"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("refused upload page lacks %q", want)
		}
	}
	// The daemon's microneedling is version 3: a clinic's must be above.
	src, err := os.ReadFile(filepath.Join("..", "protocol", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p = c.postFile("/console/protocols/upload", url.Values{"csrf_token": {csrf}}, "mn.yaml", string(src))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "version: version 3 is not above the daemon&#39;s version 3 of microneedling (en): give it version 4 or more") ||
		!regexp.MustCompile(`<strong>Line \d+</strong>: version:`).MatchString(p.body) {
		t.Fatalf("version 3 of microneedling: %d\n%s", p.status, p.body)
	}
	if p := c.post("/console/protocols/upload", url.Values{"source": {examplePeel(t)}}); p.status != http.StatusForbidden {
		t.Fatalf("upload without CSRF token: %d", p.status)
	}
	if p := c.post("/console/protocols/upload", url.Values{"csrf_token": {csrf}, "source": {"  "}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "Choose a protocol file or paste one.") {
		t.Fatalf("empty upload: %d", p.status)
	}
	if ps := w.uploads(w.clinic.ID); len(ps) != 0 {
		t.Fatalf("refused uploads were stored: %+v", ps)
	}
}

// An accepted upload is stored (active when asked), audited with the
// admin as actor, shown on the page, and a switch moves a treatment
// between the clinic's versions; the daemon has no peel to go back to.
func TestProtocolUploadAndSwitch(t *testing.T) {
	w := newWorld(t, options{})
	admin := w.addAdmin(w.clinic.ID, "admin@glow.example")
	c := w.client()
	c.signIn("admin@glow.example")
	csrf := c.get("/console/protocols").csrf(t)

	p := c.postFile("/console/protocols/upload", url.Values{"csrf_token": {csrf}, "activate": {"1"}}, "peel.yaml", examplePeel(t))
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/protocols?") {
		t.Fatalf("upload: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	page := c.get(p.header.Get("Location"))
	for _, want := range []string{"Stored chemical peel (English) version 1. New enrollments use it.", "chemical peel · English",
		"In use: <strong>your clinic&#39;s version 1</strong>", "Welcome (example)"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("page after upload lacks %q", want)
		}
	}
	// Version 2, pasted and not activated.
	v2 := strings.Replace(examplePeel(t), "version: 1\n", "version: 2\n", 1)
	if p := c.post("/console/protocols/upload", url.Values{"csrf_token": {csrf}, "source": {v2}}); p.status != http.StatusSeeOther {
		t.Fatalf("upload v2: %d\n%s", p.status, p.body)
	}
	ps := w.uploads(w.clinic.ID)
	if len(ps) != 2 || !ps[0].Active || ps[1].Active || ps[0].UploadedBy != admin.ID {
		t.Fatalf("uploads = %+v", ps)
	}
	page = c.get("/console/protocols")
	if !strings.Contains(page.body, `<option value="2">your version 2`) || !strings.Contains(page.body, `<option value="1" selected>your version 1`) {
		t.Fatalf("switch form lacks the versions:\n%s", page.body)
	}
	sw := c.post("/console/protocols/use", url.Values{"csrf_token": {csrf}, "treatment": {"chemical peel"}, "language": {"en"}, "version": {"2"}})
	if sw.status != http.StatusSeeOther {
		t.Fatalf("switch: %d\n%s", sw.status, sw.body)
	}
	if page = c.get(sw.header.Get("Location")); !strings.Contains(page.body, "chemical peel (English) now uses your version 2") ||
		!strings.Contains(page.body, "your clinic&#39;s version 2") {
		t.Fatalf("after switch:\n%s", page.body)
	}
	if ps := w.uploads(w.clinic.ID); ps[0].Active || !ps[1].Active {
		t.Fatalf("after switch: %+v", ps)
	}
	if p := c.post("/console/protocols/use", url.Values{"csrf_token": {csrf}, "treatment": {"chemical peel"}, "language": {"en"},
		"version": {"daemon"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "the daemon has no protocol for chemical peel") {
		t.Fatalf("back to a daemon protocol that does not exist: %d", p.status)
	}
	rows, err := w.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: w.clinic.ID, Action: aftercare.AuditSettings})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, r := range rows {
		if r.Actor.Kind != aftercare.ActorStaff || r.Actor.ID != admin.ID {
			t.Errorf("audit row by %+v", r.Actor)
		}
		details = append(details, r.Detail)
	}
	all := strings.Join(details, "\n")
	for _, want := range []string{"added version 1 (id 1) and made it active", "added version 2 (id 2)", "version 2 (id 2) made active, was version 1"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit lacks %q:\n%s", want, all)
		}
	}
}

// Clinic B never sees clinic A's uploads and cannot switch to them.
func TestProtocolsTenantIsolation(t *testing.T) {
	w := newWorld(t, options{})
	w.addAdmin(w.clinic.ID, "admin@glow.example")
	w.addAdmin(w.other.ID, "admin@other.example")
	a := w.client()
	a.signIn("admin@glow.example")
	csrf := a.get("/console/protocols").csrf(t)
	if p := a.post("/console/protocols/upload", url.Values{"csrf_token": {csrf}, "source": {examplePeel(t)}, "activate": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", p.status, p.body)
	}
	b := w.client()
	b.signIn("admin@other.example")
	page := b.get("/console/protocols")
	if page.status != http.StatusOK || strings.Contains(page.body, "chemical peel") || !strings.Contains(page.body, "microneedling · English") {
		t.Fatalf("clinic B's page: %d shows clinic A's upload or lacks its own", page.status)
	}
	p := b.post("/console/protocols/use", url.Values{"csrf_token": {page.csrf(t)}, "treatment": {"chemical peel"}, "language": {"en"}, "version": {"1"}})
	if p.status != http.StatusNotFound {
		t.Fatalf("clinic B switching to clinic A's version: %d", p.status)
	}
	if ps := w.uploads(w.other.ID); len(ps) != 0 {
		t.Fatalf("clinic B has uploads: %+v", ps)
	}
	if ps := w.uploads(w.clinic.ID); len(ps) != 1 || !ps[0].Active {
		t.Fatalf("clinic A's upload changed: %+v", ps)
	}
}
