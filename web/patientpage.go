package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/replies"
	"github.com/aftercare/aftercare/store"
)

// The patient's aftercare page (/c/{token}): what an enrollment's link in
// the welcome email and the first sunscreen text opens. No sign-in: the
// link is the key (128 random bits; the store keeps only its keyed hash).
// Server-rendered, no JavaScript (the CSP allows no script), in the
// patient's language, naming nobody but the patient's first name: today's
// advice, the days ahead, when to call, and "I have a concern", which
// files the text (and a photo) in the clinic's needs-attention inbox as a
// reply would be. Every visit and concern is in the audit trail with the
// patient as actor. Paths carry the token, so nothing here logs a path
// (the API's access log logs the route pattern).

//go:embed patient/*.html patient/*.css
var patientFS embed.FS

// PageStore is what the patient page reads and writes.
type PageStore interface {
	LinkByHash(ctx context.Context, tokenHash string) (store.PatientLink, error)
	Enrollment(ctx context.Context, clinicID, id int64) (store.EnrollmentView, error)
	Clinic(ctx context.Context, id int64) (aftercare.Clinic, error)
	RecordAudit(ctx context.Context, e aftercare.AuditEntry) error
	RecordBookingClick(ctx context.Context, clinicID, enrollmentID int64, at time.Time) error
	Allow(ctx context.Context, key string, now time.Time, every time.Duration, burst int) (bool, error)
}

// PageProtocols gives the protocol an enrollment was planned with.
type PageProtocols interface {
	ForEnrollment(ctx context.Context, e aftercare.Enrollment) *protocol.Protocol
}

// PageConcerns files a concern sent from the page (inbound.Service).
type PageConcerns interface {
	HandlePageConcern(ctx context.Context, in inbound.PageConcern) (inbound.PageOutcome, error)
}

// PatientPageOptions configure the patient page.
type PatientPageOptions struct {
	Store     PageStore
	Protocols PageProtocols
	Concerns  PageConcerns
	// Key is the daemon's secret: link tokens are looked up by
	// enroll.HashToken(Key, token), and form tokens are made with it.
	Key   []byte
	Clock aftercare.Clock
	Log   *slog.Logger
	// Clicked, if set, is told each recorded click of a booking link
	// (metrics count them; no patient or clinic in it).
	Clicked func()
}

// PatientPage serves /c/{token}.
type PatientPage struct {
	o    PatientPageOptions
	tmpl *template.Template
	css  []byte
}

// Limits of "I have a concern".
const (
	maxConcernText  = 2000
	maxConcernPhoto = 5 << 20
	// MaxConcernBody bounds the whole form (the photo, the text, the
	// multipart framing): the API must let it through (api.Server.BodyLimit).
	MaxConcernBody = maxConcernPhoto + 64<<10
	concernEvery   = 10 * time.Minute // a link's bucket refills one concern every 10 minutes
	concernBurst   = 5
)

// NewPatientPage returns the patient page.
func NewPatientPage(o PatientPageOptions) (*PatientPage, error) {
	if len(o.Key) == 0 {
		return nil, errors.New("patient page: no key")
	}
	if o.Clock == nil {
		o.Clock = aftercare.SystemClock
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	t, err := template.New("").Funcs(template.FuncMap{"tel": telURL, "phone": enroll.DisplayPhone}).ParseFS(patientFS, "patient/*.html")
	if err != nil {
		return nil, err
	}
	css, err := patientFS.ReadFile("patient/page.css")
	if err != nil {
		return nil, err
	}
	return &PatientPage{o: o, tmpl: t, css: css}, nil
}

// Register adds the page's routes to mux.
func (p *PatientPage) Register(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle("GET /c/page.css", http.HandlerFunc(p.serveCSS))
	mux.Handle("GET /c/{token}", p.headers(http.HandlerFunc(p.page)))
	mux.Handle("POST /c/{token}", p.headers(http.HandlerFunc(p.concern)))
	mux.Handle("GET /c/{token}/book", p.headers(http.HandlerFunc(p.book)))
}

func (p *PatientPage) serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(p.css)
}

// headers: no script at all, never framed, never cached or indexed, and
// no Referer (the URL is the key) to the clinic's booking site.
func (p *PatientPage) headers(h http.Handler) http.Handler {
	page := noStore(h, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'", "no-referrer")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Robots-Tag", "noindex, nofollow")
		page(w, r)
	})
}

// visit is a link resolved to everything the page shows.
type visit struct {
	token  string
	link   store.PatientLink
	view   store.EnrollmentView
	clinic aftercare.Clinic
	lang   string
}

// resolve looks the request's link up; on failure it has written the
// plain page (404 unknown, 410 expired or revoked) and returns false.
// Expired links still resolve when allowExpired (the booking redirect).
func (p *PatientPage) resolve(w http.ResponseWriter, r *http.Request, allowExpired bool) (visit, bool) {
	tok := r.PathValue("token")
	v := visit{token: tok, lang: "en"}
	if !enroll.ValidToken(tok) {
		p.gone(w, http.StatusNotFound, v.lang)
		return v, false
	}
	l, err := p.o.Store.LinkByHash(r.Context(), enroll.HashToken(p.o.Key, tok))
	if aftercare.ErrorCode(err) == aftercare.ENOTFOUND {
		p.gone(w, http.StatusNotFound, v.lang)
		return v, false
	}
	if err != nil {
		p.fail(w, r, err)
		return v, false
	}
	v.link = l
	if v.view, err = p.o.Store.Enrollment(r.Context(), l.ClinicID, l.EnrollmentID); err != nil {
		p.fail(w, r, err)
		return v, false
	}
	if v.clinic, err = p.o.Store.Clinic(r.Context(), l.ClinicID); err != nil {
		p.fail(w, r, err)
		return v, false
	}
	v.lang = aftercare.FirstLanguage(v.view.Enrollment.Language, v.view.Patient.Language, v.clinic.DefaultLanguage)
	switch st := l.State(p.o.Clock.Now()); {
	case st == store.LinkRevoked, st == store.LinkExpired && !allowExpired:
		p.gone(w, http.StatusGone, v.lang)
		return v, false
	}
	return v, true
}

// actor is the patient, for the audit trail.
func (v visit) actor(ctx context.Context) context.Context {
	return aftercare.WithActor(ctx, aftercare.Actor{Kind: aftercare.ActorPatient, ID: v.link.PatientID, Label: "aftercare page"})
}

func (p *PatientPage) gone(w http.ResponseWriter, status int, lang string) {
	p.render(w, status, "gone", map[string]any{"T": pageText(lang), "Lang": lang, "Status": status})
}

func (p *PatientPage) fail(w http.ResponseWriter, r *http.Request, err error) {
	p.o.Log.ErrorContext(r.Context(), "patient page", "err", err)
	p.render(w, http.StatusInternalServerError, "gone", map[string]any{"T": pageText("en"), "Lang": "en", "Status": 500})
}

func (p *PatientPage) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		p.o.Log.Error("render patient page", "template", name, "err", err)
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// pageView is what page.html shows.
type pageView struct {
	T         map[string]string
	Lang      string
	FirstName string
	Clinic    string
	Phone     string
	AfterHrs  string
	Day       int
	Today     *protocol.PhaseText
	Coming    []comingDay
	BookURL   string
	Form      string // the form token
	Text      string // the concern, re-shown after a problem
	Problems  []string
	Sent      string // what happens next: red_flag, emergency, question
	RedFlags  []string
}

// comingDay is one upcoming phase: its first local date and its title.
type comingDay struct {
	Date  string
	Title string
}

func (p *PatientPage) page(w http.ResponseWriter, r *http.Request) {
	v, ok := p.resolve(w, r, false)
	if !ok {
		return
	}
	d, err := p.view(r.Context(), v)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	switch s := r.URL.Query().Get("sent"); s {
	case "red_flag", "emergency", "question":
		d.Sent = s
	}
	if err := p.o.Store.RecordAudit(v.actor(r.Context()), aftercare.AuditEntry{ClinicID: v.link.ClinicID, Action: aftercare.AuditPageView,
		PatientID: v.link.PatientID, EnrollmentID: v.link.EnrollmentID, Detail: "aftercare page opened"}); err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, http.StatusOK, "page", d)
}

// view builds the page for a visit at the injected clock's now, in the
// patient's zone.
func (p *PatientPage) view(ctx context.Context, v visit) (pageView, error) {
	pt, e, c := v.view.Patient, v.view.Enrollment, v.clinic
	loc, err := time.LoadLocation(cmp.Or(pt.Timezone, c.Timezone, "UTC"))
	if err != nil {
		loc = time.UTC
	}
	now := p.o.Clock.Now().In(loc)
	day := calendarDays(e.TreatedAt.In(loc), now)
	d := pageView{T: pageText(v.lang), Lang: v.lang, FirstName: strings.TrimSpace(pt.FirstName), Clinic: c.Name, Phone: c.Phone,
		AfterHrs: c.AfterHoursPhone, Day: day, Form: p.formToken(v.token)}
	d.RedFlags = strings.Split(d.T["red_flags"], "|")
	if c.BookingURL != "" {
		d.BookURL = "/c/" + v.token + "/book"
	}
	pr := p.o.Protocols.ForEnrollment(ctx, e)
	if pr == nil {
		return d, nil
	}
	data := protocol.NewData(protocol.Input{Enrollment: e, Patient: pt, Clinic: c})
	if ph, ok, err := pr.PhaseOn(day, data); err != nil {
		return d, err
	} else if ok {
		d.Today = &ph
	}
	// The days ahead: the first day of each phase still to come.
	for _, ph := range pr.Phases() {
		if ph.From <= day {
			continue
		}
		txt, ok, err := pr.PhaseOn(ph.From, data)
		if err != nil {
			return d, err
		}
		if ok {
			d.Coming = append(d.Coming, comingDay{Date: txt.Date, Title: txt.Title})
		}
	}
	return d, nil
}

// calendarDays counts local calendar days from a to b (the treatment day
// is day 0).
func calendarDays(a, b time.Time) int {
	ya, ma, da := a.Date()
	yb, mb, db := b.Date()
	ta := time.Date(ya, ma, da, 12, 0, 0, 0, time.UTC)
	tb := time.Date(yb, mb, db, 12, 0, 0, 0, time.UTC)
	return int(tb.Sub(ta).Hours() / 24)
}

// formToken binds the concern form to the link: only a page opened with
// the link can post to it.
func (p *PatientPage) formToken(token string) string {
	m := hmac.New(sha256.New, p.o.Key)
	m.Write([]byte("aftercare page concern form\x00" + token))
	return hex.EncodeToString(m.Sum(nil))
}

func (p *PatientPage) concern(w http.ResponseWriter, r *http.Request) {
	v, ok := p.resolve(w, r, false)
	if !ok {
		return
	}
	d, err := p.view(r.Context(), v)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxConcernBody)
	var problems []string
	text, photo, tooBig := "", []byte(nil), false
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooBig = true
		} else if err := r.ParseForm(); err != nil {
			problems = append(problems, d.T["err_form"])
		}
	}
	if !tooBig && !hmac.Equal([]byte(r.FormValue("form_token")), []byte(d.Form)) {
		p.gone(w, http.StatusForbidden, v.lang)
		return
	}
	text = strings.TrimSpace(r.FormValue("text"))
	var contentType string
	if tooBig {
		problems = append(problems, d.T["err_big"])
	} else if f, _, err := r.FormFile("photo"); err == nil {
		photo, err = io.ReadAll(io.LimitReader(f, maxConcernPhoto+1))
		f.Close()
		switch {
		case err != nil:
			problems = append(problems, d.T["err_form"])
		case len(photo) > maxConcernPhoto:
			problems = append(problems, d.T["err_big"])
		case len(photo) > 0:
			// By content, not by name or declared type.
			contentType = http.DetectContentType(photo)
			if contentType != "image/jpeg" && contentType != "image/png" {
				problems = append(problems, d.T["err_type"])
			}
		}
	}
	switch {
	case !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxConcernText:
		problems = append(problems, d.T["err_long"])
	case text == "" && len(photo) == 0:
		problems = append(problems, d.T["err_empty"])
	}
	if len(problems) > 0 {
		d.Problems, d.Text = problems, text
		p.render(w, http.StatusBadRequest, "page", d)
		return
	}
	now := p.o.Clock.Now()
	allowed, err := p.o.Store.Allow(r.Context(), "page:concern:"+strconv.FormatInt(v.link.ID, 10), now, concernEvery, concernBurst)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if !allowed {
		d.Problems, d.Text = []string{d.T["err_rate"]}, text
		p.render(w, http.StatusTooManyRequests, "page", d)
		return
	}
	if text == "" {
		text = d.T["photo_only"]
	}
	in := inbound.PageConcern{Clinic: v.clinic, Patient: v.view.Patient, Body: text}
	if len(photo) > 0 {
		in.Photo = &store.Photo{ContentType: contentType, Data: photo}
	}
	ctx := v.actor(r.Context())
	out, err := p.o.Concerns.HandlePageConcern(ctx, in)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.o.Store.RecordAudit(ctx, aftercare.AuditEntry{ClinicID: v.link.ClinicID, Action: aftercare.AuditPageConcern,
		PatientID: v.link.PatientID, EnrollmentID: v.link.EnrollmentID, Detail: "concern " + string(out.Kind) + " from the aftercare page"}); err != nil {
		p.fail(w, r, err)
		return
	}
	sent := "question"
	switch {
	case out.Emergency:
		sent = "emergency"
	case out.Kind == replies.RedFlag:
		sent = "red_flag"
	}
	http.Redirect(w, r, "/c/"+v.token+"?sent="+sent+"#sent", http.StatusSeeOther)
}

// book records a click and sends the patient to the clinic's booking
// site; a clinic without one gets the page's call-to-book section. It
// works after the link expired (it shows nothing of the patient's: the
// six-month maintenance email points here), not after revocation.
func (p *PatientPage) book(w http.ResponseWriter, r *http.Request) {
	v, ok := p.resolve(w, r, true)
	if !ok {
		return
	}
	if err := p.o.Store.RecordBookingClick(r.Context(), v.link.ClinicID, v.link.EnrollmentID, p.o.Clock.Now()); err != nil {
		p.fail(w, r, err)
		return
	}
	if p.o.Clicked != nil {
		p.o.Clicked()
	}
	target := strings.TrimSpace(v.clinic.BookingURL)
	if target == "" {
		target = "/c/" + v.token + "#book"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// telURL is a tel: link of a phone number (digits and a leading + only).
func telURL(phone string) template.URL {
	var b strings.Builder
	b.WriteString("tel:")
	for i, r := range strings.TrimSpace(phone) {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	return template.URL(b.String())
}
