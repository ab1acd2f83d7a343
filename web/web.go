// Package web is the clinic web console: server-rendered pages (html/template,
// assets embedded in the binary, no front-end build) where a clinic's staff
// sign in, enroll a patient at the front desk and preview the plan, look up
// a patient's timeline, cancel an enrollment or resend a failed message, and
// watch the clinic's delivery log.
//
// Every handler takes the clinic from the signed-in session and passes its
// id to every store call, so staff only ever see their own clinic: another
// clinic's patient is "not found". Every form carries a CSRF token.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/logmask"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the console reads and writes. Every patient, enrollment and
// message lookup takes the clinic id from the session.
type Store interface {
	AccountStore
	UsersByEmail(ctx context.Context, email string) ([]store.User, error)
	CreateSession(ctx context.Context, s store.Session) error
	SessionByToken(ctx context.Context, tokenHash string) (store.Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteExpiredSessions(ctx context.Context) (int, error)
	Clinic(ctx context.Context, id int64) (aftercare.Clinic, error)

	SearchPatients(ctx context.Context, clinicID int64, q string, limit int) ([]aftercare.Patient, error)
	PatientView(ctx context.Context, clinicID, patientID int64) (store.PatientView, error)
	Enrollment(ctx context.Context, clinicID, id int64) (store.EnrollmentView, error)
	CancelEnrollment(ctx context.Context, clinicID, id int64, reason string) (int, error)
	ResendMessage(ctx context.Context, clinicID, id int64, by string) (aftercare.Message, error)

	DeliveryLog(ctx context.Context, f store.LogFilter) ([]store.LogEntry, bool, error)
	StatusCounts(ctx context.Context, clinicID int64, dayStart, weekStart, end time.Time) (map[aftercare.Status]int, map[aftercare.Status]int, error)
	DailyCounts(ctx context.Context, clinicID int64, days []store.DayRange) ([]store.DayCount, error)
	Stats(ctx context.Context, clinicID int64, from, to time.Time) (store.Stats, error)

	Inbox(ctx context.Context, clinicID int64, all bool, limit int) ([]store.InboxItem, error)
	InboxCounts(ctx context.Context, clinicID int64) (store.InboxCounts, error)
	UnresolvedConcerns(ctx context.Context, clinicID int64) (map[int64]aftercare.Concern, error)
	AcknowledgeConcern(ctx context.Context, clinicID, id int64, by string) error
	ResolveConcern(ctx context.Context, clinicID, id int64, by string) error
	StaffReply(ctx context.Context, clinicID, concernID int64, by, body string) (aftercare.Message, error)

	AdminStore
	RecordAudit(ctx context.Context, e aftercare.AuditEntry) error
	AuditLog(ctx context.Context, f store.AuditFilter) ([]aftercare.AuditEntry, error)
	ExportPatient(ctx context.Context, clinicID, patientID int64) (store.PatientExport, error)
	ErasePatient(ctx context.Context, clinicID, patientID int64) (store.Erasure, error)
	CheckinStore
}

// Enroller validates, previews and stores enrollments (enroll.Service).
type Enroller interface {
	Enroll(ctx context.Context, clinic aftercare.Clinic, req enroll.Request, idemKey string) (store.EnrollmentView, bool, error)
	Preview(ctx context.Context, clinic aftercare.Clinic, req enroll.Request) ([]aftercare.Message, protocol.Summary, error)
}

// Step names a protocol step for staff: its key in the outbox and its title.
type Step struct {
	Key   string
	Title string
}

// Options configure the console.
type Options struct {
	Store    Store
	Enroller Enroller
	// Clock defaults to the system clock.
	Clock aftercare.Clock
	// Log defaults to a discarding logger. The console logs ids, never
	// names, phone numbers, emails or passwords.
	Log *slog.Logger
	// SecureCookies marks cookies Secure (and __Host- prefixed); set it when
	// the console is served over HTTPS (public_url starts with https://).
	SecureCookies bool
	// Steps are the protocol's steps in order, for labels and the log filter.
	Steps []Step
	// SessionTTL is a sign-in's absolute lifetime, however busy. Default
	// 12 hours.
	SessionTTL time.Duration
	// SessionIdle ends a session unused for this long. Default 30 minutes.
	SessionIdle time.Duration
	// Limits configure the sign-in throttle; zero fields take
	// DefaultLimits().
	Limits Limits
	// TrustedProxyHeader names the header in which the reverse proxy in
	// front of the daemon passes the client's address (X-Forwarded-For,
	// X-Real-IP, ...). Empty: the connection's address is the client's.
	TrustedProxyHeader string
	// PasswordChecks bounds the bcrypt checks running at once. Default:
	// one less than GOMAXPROCS (at least 1), so one core always stays for
	// the API and the dispatcher.
	PasswordChecks int
	// PasswordWait is how long a sign-in waits for a free check before
	// 503 (default 2 s); at most 4 per slot wait, the rest get 503 at once.
	PasswordWait time.Duration
	// PasswordCheck compares a bcrypt hash and a password; default
	// bcrypt.CompareHashAndPassword. Tests wrap it to count the work done.
	PasswordCheck func(hash, password []byte) error
	// Mail sends "forgot password" links (the daemon's email sender: SMTP
	// or the console notifier).
	Mail notify.Sender
	// BaseURL is where links in emails point: the public URL (never taken
	// from a request's Host header, which a client chooses).
	BaseURL string
	// ResetTTL is how long a password reset link works. Default 30 minutes.
	ResetTTL time.Duration
	// Protocols serve the protocols page (/console/protocols); without
	// it the page and its navigation link are not there.
	Protocols Protocols
	// Links shows each enrollment's patient page link (state, booking
	// clicks, a revoke button) and concern photos in the inbox; without it
	// they are not there.
	Links PatientLinks
	// BcryptCost is the cost of the password check made for an unknown
	// email, which should match the cost of the stored hashes
	// (HashPassword uses bcrypt.DefaultCost, the default). Tests lower both.
	BcryptCost int
	// Treatments lists the treatments a clinic may offer (the daemon's
	// and the clinic's own protocols'), for the settings page. Nil: the
	// embedded protocols' treatments.
	Treatments func(ctx context.Context, clinicID int64) ([]string, error)
}

// Console serves the web console.
type Console struct {
	store     Store
	enroller  Enroller
	protocols Protocols
	links     PatientLinks
	clock     aftercare.Clock
	log       *slog.Logger
	secure    bool
	steps     []Step
	// treatments lists the treatments a clinic may offer.
	treatments func(ctx context.Context, clinicID int64) ([]string, error)
	titles     map[string]string
	ttl        time.Duration
	pages      map[string]*template.Template
	static     http.Handler

	idle        time.Duration
	limits      Limits
	proxyHeader string
	checks      *gate
	compare     func(hash, password []byte) error
	cost        int
	dummy       []byte

	mail         notify.Sender
	baseURL      string
	resetTTL     time.Duration
	resetSlots   chan struct{}
	resetPending atomic.Int32
	resetWG      sync.WaitGroup
}

// New builds the console and parses its templates.
func New(o Options) (*Console, error) {
	if o.Store == nil || o.Enroller == nil {
		return nil, errors.New("web console: Store and Enroller are required")
	}
	if o.Clock == nil {
		o.Clock = aftercare.SystemClock
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Treatments == nil {
		o.Treatments = embeddedTreatments
	}
	c := &Console{store: o.Store, enroller: o.Enroller, protocols: o.Protocols, links: o.Links, clock: o.Clock, log: o.Log, secure: o.SecureCookies,
		steps: o.Steps, treatments: o.Treatments, titles: make(map[string]string, len(o.Steps)), ttl: o.SessionTTL}
	if err := c.configureSignIn(o); err != nil {
		return nil, err
	}
	for _, s := range o.Steps {
		c.titles[s.Key] = s.Title
	}
	c.configureAdmin(o)
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	if err := c.parseAccountPages(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web console: static files: %w", err)
	}
	c.static = http.StripPrefix("/console/static/", http.FileServerFS(sub))
	return c, nil
}

// Mux is where the console's routes go (api.Server, http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Register adds the console's routes (Go 1.22 patterns under /console/,
// and GET / redirecting there) to m.
func (c *Console) Register(m Mux) {
	h := func(pattern string, f http.HandlerFunc) { m.Handle(pattern, c.headers(f)) }
	h("GET /{$}", redirect("/console/"))
	h("GET /console/{$}", redirect("/console/enroll"))
	m.Handle("GET /console/static/", c.staticFiles())

	h("GET /console/login", c.loginPage)
	h("POST /console/login", c.login)
	h("POST /console/logout", c.post(c.logout))
	c.registerAccounts(h)

	h("GET /console/enroll", c.get(c.enrollPage))
	h("POST /console/enroll", c.post(c.enrollSubmit))
	h("GET /console/enrollments/{id}", c.get(c.enrollmentPage))
	h("POST /console/enrollments/{id}/cancel", c.post(c.cancelEnrollment))
	h("GET /console/patients", c.get(c.patientsPage))
	h("GET /console/patients/{id}", c.get(c.patientPage))
	h("POST /console/messages/{id}/resend", c.post(c.resendMessage))
	h("GET /console/log", c.get(c.logPage))
	h("GET /console/inbox", c.get(c.inboxPage))
	h("GET /console/stats", c.get(c.statsPage))
	h("GET /console/checkins", c.get(c.checkinsPage))
	h("POST /console/concerns/{id}/acknowledge", c.post(c.acknowledgeConcern))
	h("POST /console/concerns/{id}/resolve", c.post(c.resolveConcern))
	h("POST /console/concerns/{id}/reply", c.post(c.replyToConcern))
	c.registerAdmin(h)
	c.registerProtocols(h)
	c.registerLinks(h)
	h("GET /console/audit", c.get(c.adminOnly("read the audit trail", c.auditPage)))
	h("GET /console/patients/{id}/export", c.get(c.exportPatient))
	h("POST /console/patients/{id}/erase", c.post(c.adminOnly("erase a patient", c.erasePatient)))
}

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusSeeOther) }
}

// headers sets the security headers of every console page: no framing, no
// inline or foreign scripts and styles, no caching of patient data.
func (c *Console) headers(h http.Handler) http.Handler {
	return noStore(h, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'", "same-origin")
}

// noStore serves h's pages with the content security policy csp and the
// referrer policy referrer, never framed, never sniffed, never cached.
func noStore(h http.Handler, csp, referrer string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", referrer)
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	}
}

func (c *Console) staticFiles() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		c.static.ServeHTTP(w, r)
	})
}

// handler is a console page or action of a signed-in user. An error it
// returns becomes an error page (see fail).
type handler func(w http.ResponseWriter, r *http.Request, s *store.Session) error

// get serves a page to a signed-in user; anyone else is sent to sign in.
func (c *Console) get(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if aftercare.ErrorCode(err) == aftercare.EUNAUTHORIZED {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, err)
			return
		}
		r = r.WithContext(aftercare.WithActor(r.Context(), c.staffActor(r, s)))
		if err := h(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// post serves a form post of a signed-in user whose CSRF token matches the
// session's; anything else is refused with 403 (or 401 when not signed in).
func (c *Console) post(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, s, aftercare.Errorf(aftercare.EINVALID, "the form could not be read"))
			return
		}
		if !tokensEqual(r.PostForm.Get(csrfField), s.CSRF) {
			c.log.WarnContext(r.Context(), "console form refused: missing or wrong CSRF token", "route", r.Pattern,
				"clinic_id", s.ClinicID, "user_id", s.UserID)
			c.fail(w, r, s, aftercare.Errorf(aftercare.EFORBIDDEN,
				"this form has expired or did not come from this console; reload the page and try again"))
			return
		}
		r = r.WithContext(aftercare.WithActor(r.Context(), c.staffActor(r, s)))
		if err := h(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// view is what the layout needs, plus the page's own data in D.
type view struct {
	Title      string
	Nav        string // enroll, patients, log: the current section
	Email      string // signed-in user, empty on the sign-in page
	ClinicName string
	CSRF       string
	Flash      string
	// Admin shows the clinic admin's pages in the navigation.
	Admin bool
	// Protocols shows the protocols page in the navigation.
	Protocols bool
	// Inbox counts what needs attention, for the navigation and the
	// undeliverable-alert banner (signed-in pages only).
	Inbox store.InboxCounts
	D     any

	clinicID int64
}

func (c *Console) view(s *store.Session, title, nav string, d any) view {
	v := view{Title: title, Nav: nav, D: d}
	if s != nil {
		v.Email, v.ClinicName, v.CSRF, v.clinicID = s.Email, s.Clinic.Name, s.CSRF, s.ClinicID
		v.Admin = c.isAdmin(s)
		v.Protocols = c.protocols != nil
	}
	return v
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.log.ErrorContext(r.Context(), "render console page: unknown page", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.Email != "" && v.clinicID != 0 {
		counts, err := c.store.InboxCounts(r.Context(), v.clinicID)
		if err != nil {
			c.log.WarnContext(r.Context(), "count the inbox for the navigation", "clinic_id", v.clinicID, "err", err)
		}
		v.Inbox = counts
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.ErrorContext(r.Context(), "render console page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Heading string
	Message string
	SignIn  bool
}

// fail renders err as an error page with the status its code maps to.
// Internal errors are logged and shown only as "something went wrong".
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *store.Session, err error) {
	code := aftercare.ErrorCode(err)
	p := errorPage{Message: aftercare.ErrorMessage(err)}
	switch code {
	case aftercare.ENOTFOUND:
		p.Status, p.Heading, p.Message = http.StatusNotFound, "Not found", "There is nothing here, or it belongs to another clinic."
	case aftercare.EUNAUTHORIZED:
		p.Status, p.Heading, p.SignIn = http.StatusUnauthorized, "Please sign in", true
		p.Message = "You are not signed in, or your session has ended. Sign in again, then repeat what you were doing."
		s = nil
	case aftercare.EFORBIDDEN:
		p.Status, p.Heading = http.StatusForbidden, "Refused"
	case aftercare.ECONFLICT:
		p.Status, p.Heading = http.StatusConflict, "Not possible"
	case aftercare.EINVALID:
		p.Status, p.Heading = http.StatusUnprocessableEntity, "Invalid request"
	default:
		p.Status, p.Heading, p.Message = http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Try again; if it keeps happening, tell your administrator."
		attrs := []any{"method", r.Method, "route", r.Pattern, "err", err}
		if s != nil {
			attrs = append(attrs, "clinic_id", s.ClinicID)
		}
		c.log.ErrorContext(r.Context(), "console request failed", attrs...)
	}
	c.render(w, r, p.Status, "error", c.view(s, p.Heading, "", p))
}

// now is the console's current time.
func (c *Console) now() time.Time { return c.clock.Now() }

// stepTitle is the staff-facing title of a step key.
func (c *Console) stepTitle(key string) string {
	if t := c.titles[key]; t != "" {
		return t
	}
	return key
}

func (c *Console) parseTemplates() error {
	funcs := template.FuncMap{
		"step":    c.stepTitle,
		"when":    formatTime,
		"channel": channelLabel,
		"inc":     func(i int) int { return i + 1 },
		"join":    strings.Join,
		"lower":   strings.ToLower,
		"plural":  plural,
		"cost":    textCost,
		"consent": consentWording,
		// news reports whether a provider's error text says more than the reason shown.
		"news": func(lastErr, reason string) bool {
			return lastErr != "" && (reason == "" || !strings.Contains(lastErr, reason))
		},
		"concern": concernLabel,
		// hideLink shows a message body without its patient page token:
		// the link is the patient's key, not for staff screens.
		"hideLink": logmask.Path,
		"pct":      pctText,
		"secs":     secondsText,
		// fromPage and pagePhoto tell replies sent from the patient's page
		// (and with a photo) from texts.
		"fromPage":  inbound.FromPage,
		"pagePhoto": inbound.WithPhoto,
		"timeline": func(msgs []aftercare.Message, zone, csrf string, actions bool) timeline {
			return timeline{Messages: msgs, Zone: zone, CSRF: csrf, Actions: actions}
		},
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return fmt.Errorf("web console: parse templates: %w", err)
	}
	c.pages = make(map[string]*template.Template)
	for _, p := range []string{"login", "enroll", "enrollment", "patients", "patient", "log", "error", "inbox",
		"keys", "settings", "forgot", "reset", "audit", "protocols", "stats", "checkins"} {
		t, err := base.Clone()
		if err != nil {
			return fmt.Errorf("web console: parse templates: %w", err)
		}
		if _, err := t.ParseFS(templateFS, "templates/"+p+".html"); err != nil {
			return fmt.Errorf("web console: parse template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	return nil
}

// timeline is the data of the "timeline" template: stored messages shown
// in a zone, with a resend button on failed ones when Actions is set.
type timeline struct {
	Messages []aftercare.Message
	Zone     string
	CSRF     string
	Actions  bool
}

// formatTime shows an instant in a zone the way staff read it, e.g.
// "Wed 25 Nov 2026, 14:30 EST". The zero time is "—".
func formatTime(t time.Time, zone string) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loadZone(zone)).Format("Mon 2 Jan 2006, 15:04 MST")
}

// loadZone returns the named zone, or UTC if it is unknown.
func loadZone(zone string) *time.Location {
	if loc, err := time.LoadLocation(zone); err == nil && zone != "" {
		return loc
	}
	return time.UTC
}

// plural says "1 event", "3 events".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// concernLabel names a concern's kind for staff.
func concernLabel(k aftercare.ConcernKind) string {
	if k == aftercare.ConcernRedFlag {
		return "Red flag"
	}
	return "Question"
}

func channelLabel(ch aftercare.Channel) string {
	switch ch {
	case aftercare.SMS:
		return "Text"
	case aftercare.Email:
		return "Email"
	}
	return string(ch)
}
