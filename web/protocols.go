package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// The protocols page: for each treatment the clinic offers and each
// language, the protocol in use, its whole plan for a sample patient with
// local times, segments and an estimated monthly text cost, and its lint
// findings. Any staff may look; only admins (who edit the clinic's
// settings) upload a version or switch a treatment's protocol.

// Protocols is what the protocols page needs (the app implements it over
// the store and the daemon's library).
type Protocols interface {
	// Daemon is the daemon's own library (embedded and operator files).
	Daemon() *protocol.Library
	// Library is a clinic's library: the daemon's with the clinic's
	// uploads on top, its active ones picked.
	Library(ctx context.Context, clinicID int64) (*protocol.Library, error)
	// Uploads lists the clinic's own versions.
	Uploads(ctx context.Context, clinicID int64) ([]store.ClinicProtocol, error)
	// RecentEnrollments counts the clinic's enrollments since a time.
	RecentEnrollments(ctx context.Context, clinicID int64, since time.Time) ([]store.EnrollmentCount, error)
	// PlanOptions are the clinic's quiet hours and caps.
	PlanOptions(clinic aftercare.Clinic) (protocol.Options, error)
	// Lint lints a protocol of the clinic's library with its settings.
	Lint(ctx context.Context, clinic aftercare.Clinic, p *protocol.Protocol) ([]protocol.Finding, error)
	// Upload stores a new version; a refusal (EINVALID) stores nothing
	// and returns every finding.
	Upload(ctx context.Context, clinic aftercare.Clinic, name string, source []byte, activate bool, by int64) (store.ClinicProtocol, []protocol.Finding, error)
	// Use switches a treatment's protocol in a language to one of the
	// clinic's versions, or the daemon's with version 0.
	Use(ctx context.Context, clinic aftercare.Clinic, treatment, language string, version int) error
	// SegmentPrice is one SMS segment's price in US dollars.
	SegmentPrice() float64
}

// maxProtocolUpload bounds an uploaded protocol file.
const maxProtocolUpload = 256 << 10

// sampleFirstName is the sample patient's first name: 20 characters, the
// longest the linter checks.
const sampleFirstName = "Maximiliana Josefina"

// protocolsData is the protocols page.
type protocolsData struct {
	Cards []protocolCard
	// Admin may upload and switch.
	Admin bool
	// Price is the segment price shown, in dollars.
	Price string
	// Sample describes the sample patient.
	Sample string
	// Upload is the upload form: its text and, after a refusal, every
	// finding.
	Source    string
	Activate  bool
	Findings  []protocol.Finding
	FormError string
}

// protocolCard is one treatment in one language.
type protocolCard struct {
	ID                  string
	Treatment, Language string
	LanguageName        string
	Offered             bool
	Name                string
	Version             int
	// Source says where the protocol in use comes from.
	Source string
	Own    bool
	Rows   []planRow
	Totals protocol.Summary
	// Enrollments in the last 30 days; PerEnrollment when there were none
	// (the cost is then for one).
	Enrollments   int
	PerEnrollment bool
	Cost          string
	Findings      []protocol.Finding
	PlanError     string
	Choices       []protocolChoice
}

// planRow is one message of the sample plan.
type planRow struct {
	When, Title, Channel, Status string
	Skipped                      bool
	Segments                     int
	Encoding                     string
}

// protocolChoice is an option of the switch form.
type protocolChoice struct {
	Value, Label string
	Selected     bool
}

func (c *Console) protocolsPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	d, err := c.protocolsData(r.Context(), s)
	if err != nil {
		return err
	}
	v := c.view(s, "Protocols", "protocols", d)
	v.Flash = protocolNotice(r.URL.Query())
	c.render(w, r, http.StatusOK, "protocols", v)
	return nil
}

// protocolNotice is the flash after an upload or a switch.
func protocolNotice(q url.Values) string {
	t, l := q.Get("treatment"), protocol.LanguageName(q.Get("language"))
	switch q.Get("notice") {
	case "uploaded":
		msg := fmt.Sprintf("Stored %s (%s) version %s.", t, l, q.Get("version"))
		if q.Get("active") == "1" {
			return msg + " New enrollments use it."
		}
		return msg + " It is not in use until you switch to it."
	case "switched":
		if v := q.Get("version"); v != "" && v != "daemon" {
			return fmt.Sprintf("%s (%s) now uses your version %s for new enrollments.", t, l, v)
		}
		return fmt.Sprintf("%s (%s) now uses aftercare's protocol for new enrollments.", t, l)
	}
	return ""
}

func (c *Console) protocolsData(ctx context.Context, s *store.Session) (protocolsData, error) {
	clinic := s.Clinic
	d := protocolsData{Admin: c.isAdmin(s), Price: fmt.Sprintf("$%.4f", c.protocols.SegmentPrice()), Activate: true,
		Sample: fmt.Sprintf("treated today at 10:00 (%s), enrolled at 10:05, texts and email, session 1 of 3, first name %q (20 characters)",
			clinic.Timezone, sampleFirstName)}
	lib, err := c.protocols.Library(ctx, clinic.ID)
	if err != nil {
		return d, err
	}
	uploads, err := c.protocols.Uploads(ctx, clinic.ID)
	if err != nil {
		return d, err
	}
	now := c.now()
	counts, err := c.protocols.RecentEnrollments(ctx, clinic.ID, now.AddDate(0, 0, -30))
	if err != nil {
		return d, err
	}
	opt, err := c.protocols.PlanOptions(clinic)
	if err != nil {
		return d, err
	}
	offered := enroll.Offered(clinic, lib)
	treatments := slices.Clone(offered)
	for _, u := range uploads {
		if !slices.Contains(treatments, u.Treatment) {
			treatments = append(treatments, u.Treatment)
		}
	}
	daemon := c.protocols.Daemon()
	for _, t := range treatments {
		for _, l := range lib.Languages(t) {
			p, _ := lib.Latest(t, l)
			card := protocolCard{ID: strings.ReplaceAll(t, " ", "-") + "-" + l, Treatment: t, Language: l,
				LanguageName: protocol.LanguageName(l), Offered: slices.Contains(offered, t), Name: p.Name, Version: p.Version}
			dp, hasDaemon := daemon.Latest(t, l)
			switch {
			case slices.ContainsFunc(uploads, func(u store.ClinicProtocol) bool {
				return u.Active && u.Treatment == t && u.Language == l
			}):
				card.Own, card.Source = true, fmt.Sprintf("your clinic's version %d", p.Version)
			case daemon.Origin(p) == "embedded":
				card.Source = fmt.Sprintf("aftercare's built-in protocol, version %d", p.Version)
			default:
				card.Source = fmt.Sprintf("the operator's protocol file, version %d", p.Version)
			}
			if hasDaemon {
				card.Choices = append(card.Choices, protocolChoice{Value: "daemon", Selected: !card.Own,
					Label: fmt.Sprintf("aftercare's protocol (version %d)", dp.Version)})
			}
			for _, u := range uploads {
				if u.Treatment == t && u.Language == l {
					card.Choices = append(card.Choices, protocolChoice{Value: strconv.Itoa(u.Version), Selected: u.Active,
						Label: fmt.Sprintf("your version %d (uploaded %s)", u.Version, formatTime(u.CreatedAt, clinic.Timezone))})
				}
			}
			c.samplePlan(&card, clinic, p, opt, now)
			for _, n := range counts {
				if protocol.NormalizeTreatment(n.Treatment) == t && n.Language == l {
					card.Enrollments += n.Enrollments
				}
			}
			per := card.Enrollments
			if per == 0 {
				per, card.PerEnrollment = 1, true
			}
			card.Cost = fmt.Sprintf("$%.2f", float64(card.Totals.Segments*per)*c.protocols.SegmentPrice())
			fs, err := c.protocols.Lint(ctx, clinic, p)
			if err != nil {
				c.log.WarnContext(ctx, "lint protocol for the console", "clinic_id", clinic.ID, "treatment", t, "language", l, "err", err)
			}
			card.Findings = fs
			d.Cards = append(d.Cards, card)
		}
	}
	return d, nil
}

// samplePlan plans p for the sample patient: treated today at 10:00 in the
// clinic's zone, enrolled five minutes later, both channels, session 1 of
// 3, a 20-character first name.
func (c *Console) samplePlan(card *protocolCard, clinic aftercare.Clinic, p *protocol.Protocol, opt protocol.Options, now time.Time) {
	loc := loadZone(clinic.Timezone)
	today := now.In(loc)
	treated := time.Date(today.Year(), today.Month(), today.Day(), 10, 0, 0, 0, loc)
	enrolled := treated.Add(5 * time.Minute)
	in := protocol.Input{
		Enrollment: aftercare.Enrollment{ClinicID: clinic.ID, Treatment: p.Treatment, TreatedAt: treated, SessionNumber: 1,
			SeriesLength: 3, Protocol: p.Name, ProtocolVersion: p.Version, Language: p.Language},
		Patient: aftercare.Patient{ClinicID: clinic.ID, FirstName: sampleFirstName, LastName: "Sample", Phone: "+14155550199",
			Email: "sample.patient@example.com", Timezone: clinic.Timezone, Language: p.Language},
		Clinic: clinic, SMSConsent: true, EmailConsent: true,
	}
	msgs, err := p.Plan(in, opt, enrolled)
	if err != nil {
		card.PlanError = aftercare.ErrorMessage(err)
		return
	}
	card.Totals = p.Summarize(msgs, treated, enrolled)
	for _, m := range msgs {
		row := planRow{When: formatTime(m.SendAt, clinic.Timezone), Title: m.Step, Channel: channelLabel(m.Channel),
			Status: "scheduled"}
		if st, ok := p.Step(m.Step); ok {
			row.Title = st.Title
			if st.Daily() {
				row.Title += fmt.Sprintf(" (day %d)", m.Occurrence)
			}
		}
		if m.Status != aftercare.StatusScheduled {
			row.Skipped, row.Status = true, "skipped: "+m.Reason
		}
		if m.Channel == aftercare.SMS && !row.Skipped {
			n, enc := protocol.TextCost(m)
			row.Segments, row.Encoding = n, strings.ToUpper(enc)
		}
		card.Rows = append(card.Rows, row)
	}
}

// uploadProtocol stores a new version from the upload form (a file, else
// the pasted text). A refusal shows every finding with its line, 422, and
// stores nothing.
func (c *Console) uploadProtocol(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	name, src := "upload", []byte(r.PostFormValue("source"))
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				return fmt.Errorf("open uploaded protocol: %w", err)
			}
			defer f.Close()
			if src, err = io.ReadAll(io.LimitReader(f, maxProtocolUpload)); err != nil {
				return fmt.Errorf("read uploaded protocol: %w", err)
			}
			name = fhs[0].Filename
		}
	}
	activate := r.PostFormValue("activate") != ""
	refuse := func(findings []protocol.Finding, msg string) error {
		d, err := c.protocolsData(r.Context(), s)
		if err != nil {
			return err
		}
		d.Source, d.Activate, d.Findings, d.FormError = string(src), activate, findings, msg
		c.render(w, r, http.StatusUnprocessableEntity, "protocols", c.view(s, "Protocols", "protocols", d))
		return nil
	}
	if strings.TrimSpace(string(src)) == "" {
		return refuse(nil, "Choose a protocol file or paste one.")
	}
	row, findings, err := c.protocols.Upload(c.staffContext(r, s), s.Clinic, name, src, activate, s.UserID)
	if err != nil {
		code := aftercare.ErrorCode(err)
		if code != aftercare.EINVALID && code != aftercare.ECONFLICT {
			return err
		}
		var errs []protocol.Finding
		for _, f := range findings {
			if f.Severity == protocol.SeverityError {
				errs = append(errs, f)
			}
		}
		return refuse(errs, aftercare.ErrorMessage(err))
	}
	c.log.InfoContext(r.Context(), "console: protocol uploaded", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"protocol_id", row.ID, "version", row.Version, "active", row.Active)
	q := url.Values{"notice": {"uploaded"}, "treatment": {row.Treatment}, "language": {row.Language},
		"version": {strconv.Itoa(row.Version)}}
	if row.Active {
		q.Set("active", "1")
	}
	http.Redirect(w, r, "/console/protocols?"+q.Encode(), http.StatusSeeOther)
	return nil
}

// useProtocol switches a treatment's protocol in a language.
func (c *Console) useProtocol(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	t, l, v := r.PostFormValue("treatment"), r.PostFormValue("language"), r.PostFormValue("version")
	version := 0
	if v != "daemon" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return aftercare.FieldError("version", "choose aftercare's protocol or one of your versions")
		}
		version = n
	}
	if err := c.protocols.Use(c.staffContext(r, s), s.Clinic, t, l, version); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "console: protocol switched", "clinic_id", s.ClinicID, "user_id", s.UserID,
		"language", l, "version", version)
	q := url.Values{"notice": {"switched"}, "treatment": {protocol.NormalizeTreatment(t)}, "language": {l}, "version": {v}}
	http.Redirect(w, r, "/console/protocols?"+q.Encode(), http.StatusSeeOther)
	return nil
}

// multipart reads a multipart form (bounded) before post checks its CSRF
// token; a url-encoded form is left to post.
func (c *Console) multipart(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			r.Body = http.MaxBytesReader(w, r.Body, maxProtocolUpload+64<<10)
			if err := r.ParseMultipartForm(maxProtocolUpload + 64<<10); err != nil {
				var tooBig *http.MaxBytesError
				msg := "the form could not be read"
				if errors.As(err, &tooBig) {
					msg = fmt.Sprintf("the file is too large: a protocol file may have at most %d KB", maxProtocolUpload>>10)
				}
				c.fail(w, r, nil, aftercare.Errorf(aftercare.EINVALID, "%s", msg))
				return
			}
		}
		h(w, r)
	}
}

// protocolsEnabled wraps the page's handlers: without Protocols the page
// does not exist.
func (c *Console) protocolsEnabled(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, s *store.Session) error {
		if c.protocols == nil {
			return aftercare.Errorf(aftercare.ENOTFOUND, "no protocols page")
		}
		return h(w, r, s)
	}
}

func (c *Console) registerProtocols(h func(string, http.HandlerFunc)) {
	h("GET /console/protocols", c.get(c.protocolsEnabled(c.protocolsPage)))
	h("POST /console/protocols/upload", c.multipart(c.post(c.protocolsEnabled(c.adminOnly("upload a protocol", c.uploadProtocol)))))
	h("POST /console/protocols/use", c.post(c.protocolsEnabled(c.adminOnly("switch a protocol", c.useProtocol))))
}
