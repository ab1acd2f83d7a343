package protocol

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
)

// Data is what message templates see. SMS, email subjects and plain-text
// parts are text/template; HTML parts are html/template, so patient and
// clinic names are escaped there and left as typed everywhere else.
type Data struct {
	FirstName string
	// PatientName is the patient's full name, for texts to clinic staff.
	PatientName string
	// PatientPhone is the patient's number, for texts to clinic staff.
	PatientPhone string

	ClinicName  string
	ClinicPhone string
	// BookingURL is where to book online; empty when the clinic has none
	// (use HowToBook, which falls back to the phone). With a patient page
	// link (CareURL), it is the page's booking redirect, so the clinic sees
	// who clicked.
	BookingURL string
	// CareURL is the patient's own aftercare page (public_url + "/c/" +
	// token); empty when the daemon has no public URL, and then texts say
	// nothing about it.
	CareURL string

	SessionNumber int
	SeriesLength  int
	// NextSession is SessionNumber+1 while the series is unfinished, else 0.
	NextSession    int
	SeriesFinished bool
	// TreatedDate is the treatment's local date, like "Monday, March 9".
	TreatedDate string
	// TreatedDay is the same date, short, like "Mon 9 Mar" (for texts).
	TreatedDay string
	// Day is the day number of a daily step's occurrence, else 0.
	Day int
	// DaysSince is the day number of the message's planned send time: 0 on
	// the treatment day, 1 the next day, and so on (local calendar days),
	// so a text sent late can say only what still applies that day.
	DaysSince int
	// EmailOK is true when this enrollment's emails can reach the patient
	// (consent given, not opted out, an address that works), so a text may
	// say "your full guide is in your email".
	EmailOK bool
	// Reply is the patient's inbound text (red-flag alerts to staff); in a
	// concern alert, every text of the concern, one per line.
	Reply string

	// AfterHoursPhone is the clinic's number for outside opening hours
	// ("" when it has none).
	AfterHoursPhone string
	// Signs says which red-flag sign matched which of the patient's words
	// (concern alerts).
	Signs string
	// Emergency is set when the patient's words may be an emergency.
	Emergency bool
	// Alert numbers the alerts about one concern: 1 for the first, more
	// for repeats nobody acknowledged.
	Alert int
	// ReplyCount counts the patient's texts in the concern.
	ReplyCount int

	// treatedOn is the treatment's local date, for DateOn.
	treatedOn civilDate
	// treatedAt is the treatment instant in the patient's zone, for TimeAt.
	treatedAt time.Time
	// lang is the language of the dates and helpers ("" and "en":
	// English); see setLanguage.
	lang string
}

// civilDate is a calendar date without a zone.
type civilDate struct {
	Y int
	M time.Month
	D int
}

// dayFormat is the short date of texts: "Tue 24 Nov".
const dayFormat = "Mon 2 Jan"

// DateOn returns the local date of day n after the treatment (the treatment
// day is day 0) in the short form of TreatedDay, such as "Fri 27 Nov" (in
// Spanish "vie 27 nov"), so a text can say "until Fri 27 Nov" rather than
// "until day 4". It is empty when the treatment date is unknown.
func (d Data) DateOn(n int) string {
	if d.treatedOn.Y == 0 {
		return ""
	}
	return shortDate(d.lang, civilDate{d.treatedOn.Y, d.treatedOn.M, d.treatedOn.D + n})
}

// TimeAt returns the local wall-clock time h hours after the treatment,
// such as "4:30 pm" (in Spanish "16:30"), so the page can say "no makeup
// until 4:30 pm". It is empty when the treatment time is unknown.
func (d Data) TimeAt(h int) string {
	if d.treatedAt.IsZero() {
		return ""
	}
	t := d.treatedAt.Add(time.Duration(h) * time.Hour)
	if d.lang == "es" {
		return t.Format("15:04")
	}
	return t.Format("3:04 pm")
}

// HowToBook says how to book the next session, finishing a sentence such
// as "Just {{.HowToBook}}.": "book online at <url>" when the clinic has a
// booking link, else "call us at <phone>" (in Spanish "reserva en <url>",
// "llama al <phone>").
func (d Data) HowToBook() string {
	return howToBook(d.lang, d.BookingURL, d.ClinicPhone)
}

// TelURL is the clinic phone as a tel: link for HTML templates (html/template
// would otherwise neutralize the tel: scheme). Only digits and a leading +
// are kept.
func (d Data) TelURL() htmltemplate.URL { return tel(d.ClinicPhone) }

// tel makes a tel: link of a phone number, keeping only digits and a
// leading +, so it is safe to mark as a URL.
func tel(phone string) htmltemplate.URL {
	var b strings.Builder
	b.WriteString("tel:")
	for i, r := range strings.TrimSpace(phone) {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	return htmltemplate.URL(b.String())
}

// NewData fills template data from a plan input: the patient, the clinic
// and the enrollment (which may be zero for replies outside an enrollment).
// The treatment date is formatted in the patient's zone, falling back to
// the clinic's and then UTC.
func NewData(in Input) Data {
	loc, err := location(in)
	if err != nil {
		loc = time.UTC
	}
	return newData(in, loc)
}

func newData(in Input, loc *time.Location) Data {
	e := in.Enrollment
	d := Data{
		FirstName:      strings.TrimSpace(in.Patient.FirstName),
		PatientName:    strings.TrimSpace(strings.TrimSpace(in.Patient.FirstName) + " " + strings.TrimSpace(in.Patient.LastName)),
		PatientPhone:   in.Patient.Phone,
		ClinicName:     strings.TrimSpace(in.Clinic.Name),
		ClinicPhone:    in.Clinic.Phone,
		BookingURL:     strings.TrimSpace(in.Clinic.BookingURL),
		SessionNumber:  e.SessionNumber,
		SeriesLength:   e.SeriesLength,
		SeriesFinished: e.SeriesLength > 0 && e.SeriesFinished(),
		CareURL:        strings.TrimSpace(in.CareURL),
	}
	if d.CareURL != "" && d.BookingURL != "" {
		d.BookingURL = d.CareURL + "/book"
	}
	if e.SessionNumber < e.SeriesLength {
		d.NextSession = e.SessionNumber + 1
	}
	if !e.TreatedAt.IsZero() {
		y, m, day := e.TreatedAt.In(loc).Date()
		d.treatedOn = civilDate{y, m, day}
		d.treatedAt = e.TreatedAt.In(loc)
		d.setLanguage("")
	}
	return d
}

// funcs are available to every template: {{clip 100 .Reply}} shortens a
// text to at most n characters, ending it with "..." when cut; {{tel
// .PatientPhone}} makes a tel: link for HTML.
var funcs = map[string]any{"clip": clip, "tel": tel}

func clip(n int, s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if n < 4 {
		n = 4
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-3])) + "..."
}

// Content is one rendered message: Text alone for SMS; Subject, Text (the
// plain-text part) and HTML for email.
type Content struct {
	Subject string
	Text    string
	HTML    string
}

// templates are the compiled templates of one step or reply.
type templates struct {
	sms     *texttemplate.Template
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template // the layout with this step's "content"
}

const defaultLayout = `{{template "content" .}}`

// compile parses the templates of one step or reply. The layout is an
// html/template that includes {{template "content" .}}.
func compile(sms string, email *EmailTemplate, layout *htmltemplate.Template) (*templates, error) {
	var ts templates
	var err error
	if sms != "" {
		if ts.sms, err = texttemplate.New("sms").Funcs(funcs).Parse(sms); err != nil {
			return nil, fmt.Errorf("sms: %w", err)
		}
	}
	if email == nil {
		return &ts, nil
	}
	if strings.TrimSpace(email.Subject) == "" {
		return nil, fmt.Errorf("email: subject: missing")
	}
	if strings.TrimSpace(email.Text) == "" {
		return nil, fmt.Errorf("email: text: missing")
	}
	if strings.TrimSpace(email.HTML) == "" {
		return nil, fmt.Errorf("email: html: missing")
	}
	if ts.subject, err = texttemplate.New("subject").Funcs(funcs).Parse(email.Subject); err != nil {
		return nil, fmt.Errorf("email: subject: %w", err)
	}
	if ts.text, err = texttemplate.New("text").Funcs(funcs).Parse(email.Text); err != nil {
		return nil, fmt.Errorf("email: text: %w", err)
	}
	if ts.html, err = layout.Clone(); err != nil {
		return nil, fmt.Errorf("email: html: %w", err)
	}
	if _, err = ts.html.New("content").Funcs(funcs).Parse(email.HTML); err != nil {
		return nil, fmt.Errorf("email: html: %w", err)
	}
	return &ts, nil
}

// render executes the templates for one channel.
func (ts *templates) render(ch aftercare.Channel, d Data) (Content, error) {
	var c Content
	var err error
	switch ch {
	case aftercare.SMS:
		if ts.sms == nil {
			return c, fmt.Errorf("no sms template")
		}
		if c.Text, err = execText(ts.sms, d); err != nil {
			return c, fmt.Errorf("sms: %w", err)
		}
		c.Text = NormalizeSMS(c.Text)
		if c.Text == "" {
			return c, fmt.Errorf("sms: renders empty")
		}
	case aftercare.Email:
		if ts.subject == nil {
			return c, fmt.Errorf("no email template")
		}
		if c.Subject, err = execText(ts.subject, d); err != nil {
			return c, fmt.Errorf("email: subject: %w", err)
		}
		// One line, whatever a name contains: it becomes a mail header.
		c.Subject = strings.Join(strings.Fields(c.Subject), " ")
		if c.Subject == "" {
			return c, fmt.Errorf("email: subject: renders empty")
		}
		if c.Text, err = execText(ts.text, d); err != nil {
			return c, fmt.Errorf("email: text: %w", err)
		}
		c.Text = strings.TrimSpace(c.Text) + "\n"
		var b bytes.Buffer
		if err = ts.html.Execute(&b, d); err != nil {
			return c, fmt.Errorf("email: html: %w", err)
		}
		c.HTML = b.String()
	default:
		return c, fmt.Errorf("unknown channel %q", ch)
	}
	return c, nil
}

func execText(t *texttemplate.Template, d Data) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}
