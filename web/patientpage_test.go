package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/web"
)

// pageKey is the daemon secret the tests' page links are hashed with.
var pageKey = []byte("0123456789abcdef0123456789abcdef")

// pageProtocols plans every enrollment with the default protocol of its
// language.
type pageProtocols struct{ lib *protocol.Library }

func (p pageProtocols) Library(context.Context, int64) (*protocol.Library, error) { return p.lib, nil }

func (p pageProtocols) ForEnrollment(_ context.Context, e aftercare.Enrollment) *protocol.Protocol {
	pr, _ := p.lib.Latest("microneedling", aftercare.FirstLanguage(e.Language, "en"))
	return pr
}

// registerPatientPage serves the patient page on mux, filing concerns
// through a real inbound service.
func (w *world) registerPatientPage(mux *http.ServeMux, p *protocol.Protocol, log *slog.Logger) {
	w.t.Helper()
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		w.t.Fatal(err)
	}
	in := &inbound.Service{Store: w.store, Protocol: p, Clock: w.clock, Log: log}
	page, err := web.NewPatientPage(web.PatientPageOptions{Store: w.store, Protocols: pageProtocols{lib}, Concerns: in,
		Key: pageKey, Clock: w.clock, Log: log})
	if err != nil {
		w.t.Fatal(err)
	}
	page.Register(mux)
}

var pageLinkRe = regexp.MustCompile(`/c/[A-Za-z0-9_-]{22}`)

// enrollWithLink enrolls a patient whose messages carry a page link and
// returns the enrollment and the link's path.
func (w *world) enrollWithLink(clinic aftercare.Clinic, first, phone, lang string) (store.EnrollmentView, string) {
	w.t.Helper()
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		w.t.Fatal(err)
	}
	w.enroll.LinkKey, w.enroll.PublicURL, w.enroll.Protocols = pageKey, w.url, pageProtocols{lib}
	defer func() { w.enroll.LinkKey, w.enroll.PublicURL, w.enroll.Protocols = nil, "", nil }()
	v, _, err := w.enroll.Enroll(context.Background(), clinic, enroll.Request{FirstName: first, LastName: "Test",
		Phone: phone, Email: strings.ToLower(first) + "@example.com", SMSConsent: true, EmailConsent: true, Language: lang,
		ConsentMethod: aftercare.ConsentFrontDesk, SessionNumber: 1, SeriesLength: 3}, "")
	if err != nil {
		w.t.Fatal(err)
	}
	for _, m := range v.Messages {
		if path := pageLinkRe.FindString(m.Body); path != "" {
			return v, path
		}
	}
	w.t.Fatal("no message carries the page link")
	return v, ""
}

// concernForm posts "I have a concern" with text and an optional photo.
func (c *client) concernForm(path, token, text string, photo []byte) response {
	c.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if token != "" {
		mw.WriteField("form_token", token)
	}
	mw.WriteField("text", text)
	if photo != nil {
		f, _ := mw.CreateFormFile("photo", "face.png")
		f.Write(photo)
	}
	mw.Close()
	resp, err := c.http.Post(c.w.url+path, mw.FormDataContentType(), &b)
	if err != nil {
		c.t.Fatal(err)
	}
	return read(c.t, resp)
}

var formTokenRe = regexp.MustCompile(`name="form_token" value="([0-9a-f]+)"`)

func formToken(t *testing.T, p response) string {
	t.Helper()
	m := formTokenRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form token:\n%s", p.body)
	}
	return m[1]
}

// png is a tiny PNG header followed by bytes: sniffed as image/png.
var png = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 100)...)

func TestPatientPageStatesAndHeaders(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	v, path := w.enrollWithLink(w.clinic, "Maya", "+14155550123", "")
	_, esPath := w.enrollWithLink(w.clinic, "Lucia", "+14155550124", "es")
	_, revoked := w.enrollWithLink(w.clinic, "Rita", "+14155550125", "")
	c := w.client()
	tests := []struct {
		name   string
		path   string
		at     time.Time
		status int
		want   string
	}{
		{"open", path, start, 200, "Hi Maya"},
		{"Spanish", esPath, start, 200, "Hola Lucia"},
		{"day 2", path, start.Add(48 * time.Hour), 200, "Day 2: no makeup until 2:35 pm"},
		{"unknown", "/c/AAAAAAAAAAAAAAAAAAAAAA", start, 404, "Page not found"},
		{"malformed", "/c/short", start, 404, "Page not found"},
		{"expired", path, start.Add(enroll.LinkLifetime + time.Minute), 410, "no longer works"},
	}
	for _, tc := range tests {
		w.clock.Set(tc.at)
		p := c.get(tc.path)
		if p.status != tc.status || !strings.Contains(p.body, tc.want) {
			t.Errorf("%s: %d, want %d with %q", tc.name, p.status, tc.status, tc.want)
		}
		if tc.status != 200 && strings.Contains(p.body, "Maya") {
			t.Errorf("%s: shows the patient's name", tc.name)
		}
		for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"} {
			if got := p.header.Get(k); got != want {
				t.Errorf("%s: %s = %q", tc.name, k, got)
			}
		}
	}
	w.clock.Set(start)
	// Revoked by staff from the enrollment page (audited); clinic B cannot.
	var rid int64
	for _, p := range w.patients(t) {
		if p.FirstName == "Rita" {
			pv, _ := w.store.PatientView(context.Background(), w.clinic.ID, p.ID)
			rid = pv.Enrollments[0].Enrollment.ID
		}
	}
	w.addUser(w.other.ID, "b@other.example")
	other := w.client()
	csrfB := other.signIn("b@other.example")
	if p := other.post("/console/enrollments/"+itoa(rid)+"/revoke-link", map[string][]string{"csrf_token": {csrfB}}); p.status != 404 {
		t.Errorf("clinic B revokes clinic A's link: %d", p.status)
	}
	w.addUser(w.clinic.ID, "a@glow.example")
	staff := w.client()
	csrf := staff.signIn("a@glow.example")
	if p := staff.get("/console/enrollments/" + itoa(rid)); !strings.Contains(p.body, "Revoke page link") || !strings.Contains(p.body, "Booking clicks") {
		t.Errorf("enrollment page lacks the link section:\n%s", p.body)
	} else if pageLinkRe.MatchString(p.body) || !strings.Contains(p.body, "/c/[link]") {
		t.Error("the stored plan shows the patient's page link to staff instead of masking it")
	}
	if p := staff.post("/console/enrollments/"+itoa(rid)+"/revoke-link", map[string][]string{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	if p := c.get(revoked); p.status != 410 {
		t.Errorf("revoked link: %d", p.status)
	}
	// The booking redirect counts clicks, shown on the enrollment page.
	if p := c.get(path + "/book"); p.status != http.StatusSeeOther || p.header.Get("Location") != "https://glow.example/book" {
		t.Errorf("book: %d %q", p.status, p.header.Get("Location"))
	}
	if p := staff.get("/console/enrollments/" + itoa(v.Enrollment.ID)); !regexp.MustCompile(`Booking clicks</dt><dd>1<`).MatchString(p.body) {
		t.Error("enrollment page does not count the click")
	}
	if strings.Contains(w.logs.String(), path) {
		t.Error("a page link is in the logs")
	}
}

func TestPatientPageConcern(t *testing.T) {
	t.Parallel()
	w := newWorld(t, options{})
	_, path := w.enrollWithLink(w.clinic, "Maya", "+14155550123", "")
	c := w.client()
	page := c.get(path)
	tok := formToken(t, page)
	tests := []struct {
		name   string
		token  string
		text   string
		photo  []byte
		status int
		want   string
	}{
		{"no form token", "", "hello", nil, 403, ""},
		{"wrong form token", strings.Repeat("0", 64), "hello", nil, 403, ""},
		{"empty", tok, "  ", nil, 400, "Write a few words or add a photo."},
		{"not an image", tok, "look", []byte("GIF89a not really"), 400, "must be a JPEG or PNG"},
		{"too large", tok, "look", append(append([]byte{}, png...), make([]byte, 5<<20)...), 400, "too large"},
		{"too long", tok, strings.Repeat("a", 2001), nil, 400, "under 2,000"},
	}
	for _, tc := range tests {
		p := c.concernForm(path, tc.token, tc.text, tc.photo)
		if p.status != tc.status || !strings.Contains(p.body, tc.want) {
			t.Errorf("%s: %d, want %d with %q", tc.name, p.status, tc.status, tc.want)
		}
	}
	if items, _ := w.store.Inbox(context.Background(), w.clinic.ID, true, 10); len(items) != 0 {
		t.Fatalf("refused concerns reached the inbox: %d", len(items))
	}
	p := c.concernForm(path, tok, "my cheek is very swollen and there is pus", png)
	if p.status != http.StatusSeeOther || !strings.Contains(p.header.Get("Location"), "sent=red_flag") {
		t.Fatalf("concern: %d %q", p.status, p.header.Get("Location"))
	}
	items, err := w.store.Inbox(context.Background(), w.clinic.ID, false, 10)
	if err != nil || len(items) != 1 || !items[0].Concern.Emergency && items[0].Concern.Kind != aftercare.ConcernRedFlag {
		t.Fatalf("inbox: %+v %v", items, err)
	}
	replyID := items[0].Replies[0].ID

	// Clinic A's staff see it with its photo; clinic B's see neither.
	w.addUser(w.clinic.ID, "a@glow.example")
	w.addUser(w.other.ID, "b@other.example")
	a, b := w.client(), w.client()
	a.signIn("a@glow.example")
	b.signIn("b@other.example")
	inbox := a.get("/console/inbox")
	if !strings.Contains(inbox.body, "from the aftercare page") || !strings.Contains(inbox.body, "/console/replies/"+itoa(replyID)+"/photo") {
		t.Errorf("clinic A's inbox lacks the page concern or its photo")
	}
	if ph := a.get("/console/replies/" + itoa(replyID) + "/photo"); ph.status != 200 || ph.header.Get("Content-Type") != "image/png" || ph.body != string(png) {
		t.Errorf("photo for clinic A: %d %q", ph.status, ph.header.Get("Content-Type"))
	}
	if ph := b.get("/console/replies/" + itoa(replyID) + "/photo"); ph.status != 404 {
		t.Errorf("photo for clinic B: %d", ph.status)
	}
	if ib := b.get("/console/inbox"); strings.Contains(ib.body, "swollen") {
		t.Error("clinic B's inbox shows clinic A's concern")
	}

	// A handful of concerns, then the link is rate-limited.
	last := 0
	for i := 0; i < 6; i++ {
		last = c.concernForm(path, tok, "is this normal?", nil).status
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("after 7 concerns in a minute: %d, want 429", last)
	}
	log, _ := w.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: w.clinic.ID, ActorKind: aftercare.ActorPatient})
	if len(log) < 2 {
		t.Errorf("patient audit rows: %d", len(log))
	}
}
