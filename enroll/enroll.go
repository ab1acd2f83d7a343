// Package enroll turns a clinic's enrollment request (from the API, the web
// console or the CLI) into a validated patient, consent evidence and a
// planned aftercare, stored in one transaction. It owns the input rules:
// E.164 phone numbers, email addresses, IANA time zones, the treatment time
// window and the series numbers.
package enroll

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// Request is what a clinic sends to enroll a patient after a session.
type Request struct {
	FirstName     string                  `json:"first_name"`
	LastName      string                  `json:"last_name"`
	Phone         string                  `json:"phone"`
	Email         string                  `json:"email"`
	Timezone      string                  `json:"timezone"`
	SMSConsent    bool                    `json:"sms_consent"`
	EmailConsent  bool                    `json:"email_consent"`
	ConsentMethod aftercare.ConsentMethod `json:"consent_method,omitempty"`
	Treatment     string                  `json:"treatment"`
	// Language is the patient's language ("en" or "es"); empty keeps the
	// patient's earlier choice, else the clinic's default language.
	Language      string `json:"language,omitempty"`
	TreatedAt     string `json:"treated_at"` // RFC 3339
	SessionNumber int    `json:"session_number"`
	SeriesLength  int    `json:"series_length"`
	ExternalRef   string `json:"external_ref,omitempty"`
	// Replace replaces an active enrollment of the same patient for the
	// same treatment and session (cancelling its pending messages) instead
	// of being refused with 409.
	Replace bool `json:"replace,omitempty"`
	// Evidence, when set, is the consent evidence another system gave
	// (a clinic's booking system): it replaces ConsentMethod and the
	// daemon's consent wording version. Never read from JSON.
	Evidence *Evidence `json:"-"`
}

// Evidence is consent evidence reported by another system.
type Evidence struct {
	Method         aftercare.ConsentMethod
	WordingVersion string
	Detail         string
}

// Limits on the treatment time relative to now.
const (
	MaxFuture = 24 * time.Hour
	MaxPast   = 60 * 24 * time.Hour
	maxName   = 100
	maxRef    = 200
)

// Store is what enrolling needs from storage.
type Store interface {
	CreateEnrollment(ctx context.Context, in store.NewEnrollment) (store.EnrollmentView, bool, error)
	// Enrollment and Replan serve Service.Replan.
	Enrollment(ctx context.Context, clinicID, id int64) (store.EnrollmentView, error)
	Replan(ctx context.Context, in store.ReplanInput) (store.ReplanDiff, error)
}

// Protocols gives the protocols a clinic plans with: the daemon's library
// with the clinic's own versions on top.
type Protocols interface {
	Library(ctx context.Context, clinicID int64) (*protocol.Library, error)
}

// Service validates, plans and stores enrollments.
type Service struct {
	Store Store
	// Protocols picks each enrollment's protocol by treatment and
	// language. When it is nil, Protocol is the one protocol of every
	// clinic (a daemon with a single protocol, as tests and the bench run).
	Protocols Protocols
	Protocol  *protocol.Protocol
	Clock     aftercare.Clock
	// Quiet is the daemon's quiet hours, for clinics that set none.
	Quiet protocol.QuietHours
	// LinkKey and PublicURL give each enrollment a patient page link
	// (see LinkLifetime); without either there is none.
	LinkKey   []byte
	PublicURL string
}

// library returns the protocols clinic plans with.
func (s *Service) library(ctx context.Context, clinicID int64) (*protocol.Library, error) {
	if s.Protocols != nil {
		return s.Protocols.Library(ctx, clinicID)
	}
	if s.Protocol == nil {
		return nil, errors.New("enroll: no protocol")
	}
	return protocol.NewLibrary(s.Protocol)
}

// Offered returns the treatments clinic offers: the ones it chose that
// have a protocol, or every treatment of its library when it chose none.
func Offered(clinic aftercare.Clinic, lib *protocol.Library) []string {
	all := lib.Treatments()
	if len(clinic.Treatments) == 0 {
		return all
	}
	var out []string
	for _, t := range clinic.Treatments {
		if t = protocol.NormalizeTreatment(t); slices.Contains(all, t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// planned is a validated request with the protocol chosen for it.
type planned struct {
	Valid
	choice protocol.Choice
	opt    protocol.Options
	// pick chooses the protocol for the patient as stored.
	pick func(p aftercare.Patient) (protocol.Choice, error)
}

// prepare validates req and chooses its protocol.
func (s *Service) prepare(ctx context.Context, clinic aftercare.Clinic, req Request, now time.Time) (planned, error) {
	lib, err := s.library(ctx, clinic.ID)
	if err != nil {
		return planned{}, fmt.Errorf("enroll: protocols of clinic %d: %w", clinic.ID, err)
	}
	v, err := Validate(clinic, req, Offered(clinic, lib), now)
	if err != nil {
		return planned{}, err
	}
	lang := v.Patient.Language
	choice, err := lib.Pick(v.Enrollment.Treatment, lang, clinic.DefaultLanguage)
	if err != nil {
		return planned{}, err
	}
	v.Enrollment.Protocol = choice.Protocol.Name
	v.Enrollment.ProtocolVersion = choice.Protocol.Version
	v.Enrollment.Language = choice.Protocol.Language
	opt, err := PlanOptions(clinic, s.Quiet)
	if err != nil {
		return planned{}, err
	}
	pick := func(p aftercare.Patient) (protocol.Choice, error) {
		return lib.Pick(v.Enrollment.Treatment, p.Language, clinic.DefaultLanguage)
	}
	return planned{Valid: v, choice: choice, opt: opt, pick: pick}, nil
}

// PlanOptions are the planning options of a clinic's settings: its quiet
// hours (else the daemon's) and its text caps.
func PlanOptions(clinic aftercare.Clinic, daemonQuiet protocol.QuietHours) (protocol.Options, error) {
	opt := protocol.Options{Quiet: daemonQuiet, DailyCap: clinic.DailyTextCap, WeeklyCap: clinic.WeeklyTextCap}
	if q := strings.TrimSpace(clinic.QuietHours); q != "" {
		quiet, err := protocol.ParseQuietWindow(q)
		if err != nil {
			return opt, fmt.Errorf("clinic %d: quiet hours: %w", clinic.ID, err)
		}
		opt.Quiet = quiet
	}
	return opt, nil
}

// Valid is a request after validation and normalization.
type Valid struct {
	Patient    aftercare.Patient
	Enrollment aftercare.Enrollment
	Consents   []aftercare.Consent
	Hash       string // of the normalized request, to tell repeats apart
}

// Enroll validates req for clinic, plans and stores it. idemKey may be
// empty. It returns the stored enrollment and whether it was created (false
// for a repeat of an earlier request).
func (s *Service) Enroll(ctx context.Context, clinic aftercare.Clinic, req Request, idemKey string) (store.EnrollmentView, bool, error) {
	now := s.Clock.Now()
	v, err := s.prepare(ctx, clinic, req, now)
	if err != nil {
		return store.EnrollmentView{}, false, err
	}
	if len(idemKey) > maxRef {
		return store.EnrollmentView{}, false, aftercare.FieldError("Idempotency-Key", "must be at most %d characters", maxRef)
	}
	for i := 0; i < len(idemKey); i++ {
		if c := idemKey[i]; c < 0x20 || c > 0x7e {
			return store.EnrollmentView{}, false, aftercare.FieldError("Idempotency-Key", "must be printable ASCII (e.g. a UUID)")
		}
	}
	// The link is made before planning: the texts carry it, and planning
	// renders them before the store's transaction.
	careURL, link, err := s.newLink(v.Enrollment.TreatedAt)
	if err != nil {
		return store.EnrollmentView{}, false, fmt.Errorf("enroll: page link: %w", err)
	}
	return s.Store.CreateEnrollment(ctx, store.NewEnrollment{
		Patient: v.Patient, Enrollment: v.Enrollment, Consents: v.Consents,
		IdempotencyKey: idemKey, RequestHash: v.Hash, Replace: req.Replace, Link: link,
		// The patient as stored may keep a language recorded earlier
		// when the request gives none: the protocol follows it.
		Plan: func(p aftercare.Patient, e aftercare.Enrollment) ([]aftercare.Message, error) {
			ch, err := v.pick(p)
			if err != nil {
				return nil, err
			}
			in := s.input(clinic, p, e, req)
			in.CareURL = careURL
			return ch.Protocol.Plan(in, v.opt, now)
		},
		Protocol: func(p aftercare.Patient) (store.ProtocolRecord, error) {
			ch, err := v.pick(p)
			if err != nil {
				return store.ProtocolRecord{}, err
			}
			return store.ProtocolRecord{Name: ch.Protocol.Name, Version: ch.Protocol.Version, Language: ch.Protocol.Language}, nil
		},
	})
}

// Preview validates req and returns the plan it would get, storing
// nothing, with its summary for clinic staff: the protocol chosen (and
// why, when it is not in the patient's language), texts and their SMS
// segments, emails, whether the enrollment is late and what will be
// skipped and why.
func (s *Service) Preview(ctx context.Context, clinic aftercare.Clinic, req Request) ([]aftercare.Message, protocol.Summary, error) {
	now := s.Clock.Now()
	v, err := s.prepare(ctx, clinic, req, now)
	if err != nil {
		return nil, protocol.Summary{}, err
	}
	in := s.input(clinic, v.Patient, v.Enrollment, req)
	if len(s.LinkKey) > 0 && s.PublicURL != "" {
		in.CareURL = CareURL(s.PublicURL, previewToken)
	}
	msgs, err := v.choice.Protocol.Plan(in, v.opt, now)
	if err != nil {
		return nil, protocol.Summary{}, err
	}
	sum := v.choice.Protocol.Summarize(msgs, v.Enrollment.TreatedAt, now)
	if v.choice.Note != "" {
		sum.Notes = append([]string{v.choice.Note}, sum.Notes...)
	}
	return msgs, sum, nil
}

func (s *Service) input(clinic aftercare.Clinic, p aftercare.Patient, e aftercare.Enrollment, req Request) protocol.Input {
	return protocol.Input{Enrollment: e, Patient: p, Clinic: clinic, SMSConsent: req.SMSConsent, EmailConsent: req.EmailConsent}
}

// Validate checks and normalizes a request. Every problem is an
// *aftercare.Error naming its field; all of them are returned at once,
// joined (errors.Join) in the order of the form's fields, so that
// aftercare.ErrorCode and ErrorMessage read the first and
// aftercare.AllErrors lists them all.
//
// treatments are the treatments the clinic offers; an empty treatment is
// the only one when there is one.
func Validate(clinic aftercare.Clinic, req Request, treatments []string, now time.Time) (Valid, error) {
	var v Valid
	var errs []error
	check := func(err error) bool {
		if err != nil {
			errs = append(errs, err)
			return false
		}
		return true
	}
	first, err := name("first_name", req.FirstName, true)
	check(err)
	last, err := name("last_name", req.LastName, false)
	check(err)
	phone, phoneErr := "", error(nil)
	if strings.TrimSpace(req.Phone) != "" || req.SMSConsent {
		phone, phoneErr = NormalizePhone(req.Phone, RegionOf(clinic.Phone))
		if phoneErr != nil && strings.TrimSpace(req.Phone) == "" {
			phoneErr = aftercare.FieldError("phone", "required when sms_consent is true (leave sms_consent false for a patient reached by email only)")
		}
		check(phoneErr)
	}
	email, err := NormalizeEmail(req.Email)
	emailOK := check(err)
	if emailOK && req.EmailConsent && email == "" {
		check(aftercare.FieldError("email", "required when email_consent is true"))
	}
	if !req.SMSConsent && !req.EmailConsent {
		check(aftercare.FieldError("sms_consent", "the patient must consent to at least one channel (sms_consent or email_consent)"))
	}
	tz := strings.TrimSpace(req.Timezone)
	if tz == "" {
		tz = clinic.Timezone
	}
	if err := PatientTimezone(tz, clinic.Timezone); err != nil {
		if strings.TrimSpace(req.Timezone) == "" {
			// The clinic's own zone is what was refused: say so.
			err = aftercare.FieldError("timezone", "required: the clinic's zone %s cannot be used for patients (%s)", tz, aftercare.ErrorMessage(err))
		}
		check(err)
	}
	tr := protocol.NormalizeTreatment(req.Treatment)
	switch {
	case tr == "" && len(treatments) == 1:
		tr = treatments[0]
	case tr == "" && len(treatments) == 0:
		check(aftercare.FieldError("treatment", "this clinic offers no treatment with an aftercare protocol"))
	case tr == "":
		check(aftercare.FieldError("treatment", "required: one of %s", strings.Join(treatments, ", ")))
	case !slices.Contains(treatments, tr):
		check(aftercare.FieldError("treatment", "%q is not a treatment this clinic offers (%s)", req.Treatment, strings.Join(treatments, ", ")))
	}
	lang := strings.ToLower(strings.TrimSpace(req.Language))
	if lang != "" && !aftercare.ValidLanguage(lang) {
		check(aftercare.FieldError("language", "must be one of %s, not %q", strings.Join(aftercare.Languages, ", "), req.Language))
	}
	treated, err := TreatedAt(req.TreatedAt, now)
	check(err)
	seriesOK := true
	if req.SeriesLength < 1 || req.SeriesLength > 20 {
		seriesOK = check(aftercare.FieldError("series_length", "must be between 1 and 20, not %d", req.SeriesLength))
	}
	switch {
	case req.SessionNumber < 1 || req.SessionNumber > 20:
		check(aftercare.FieldError("session_number", "must be between 1 and 20, not %d", req.SessionNumber))
	case seriesOK && req.SessionNumber > req.SeriesLength:
		check(aftercare.FieldError("session_number", "must be between 1 and series_length (%d), not %d", req.SeriesLength, req.SessionNumber))
	}
	ref := strings.TrimSpace(req.ExternalRef)
	if len(ref) > maxRef || !utf8.ValidString(ref) || strings.ContainsFunc(ref, invisible) {
		check(aftercare.FieldError("external_ref", "must be valid text of at most %d bytes", maxRef))
	}
	method := req.ConsentMethod
	switch method {
	case "":
		method = aftercare.ConsentAPI
	case aftercare.ConsentAPI, aftercare.ConsentFrontDesk, aftercare.ConsentWebForm:
	default:
		check(aftercare.FieldError("consent_method", "must be api, front_desk or web_form, not %q", method))
	}
	if len(errs) > 0 {
		return v, errors.Join(errs...)
	}

	v.Patient = aftercare.Patient{ClinicID: clinic.ID, FirstName: first, LastName: last, Phone: phone, Email: email, Timezone: tz,
		Language: lang}
	v.Enrollment = aftercare.Enrollment{ClinicID: clinic.ID, Treatment: tr, TreatedAt: treated.UTC(),
		SessionNumber: req.SessionNumber, SeriesLength: req.SeriesLength, ExternalRef: ref}
	for _, c := range []struct {
		ch aftercare.Channel
		ok bool
	}{{aftercare.SMS, req.SMSConsent}, {aftercare.Email, req.EmailConsent}} {
		if c.ch == aftercare.Email && email == "" || c.ch == aftercare.SMS && phone == "" {
			continue
		}
		consent := aftercare.Consent{Channel: c.ch, Granted: c.ok, At: now.UTC(), Method: method,
			WordingVersion: aftercare.ConsentWordingVersion}
		if ev := req.Evidence; ev != nil {
			consent.Method, consent.WordingVersion, consent.Detail = ev.Method, ev.WordingVersion, ev.Detail
		}
		v.Consents = append(v.Consents, consent)
	}
	norm := req
	norm.FirstName, norm.LastName, norm.Phone, norm.Email, norm.Timezone, norm.Language = first, last, phone, email, tz, lang
	norm.Treatment, norm.TreatedAt, norm.ExternalRef, norm.ConsentMethod = v.Enrollment.Treatment, treated.UTC().Format(time.RFC3339), ref, method
	// Replacing is how a request is carried out, not what it asks for: a
	// retry with replace set is the same request.
	norm.Replace = false
	b, _ := json.Marshal(norm)
	sum := sha256.Sum256(b)
	v.Hash = hex.EncodeToString(sum[:])
	return v, nil
}

func name(field, s string, required bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", aftercare.FieldError(field, "is not valid UTF-8")
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		if required {
			return "", aftercare.FieldError(field, "required")
		}
		return "", nil
	}
	if utf8.RuneCountInString(s) > maxName {
		return "", aftercare.FieldError(field, "must be at most %d characters", maxName)
	}
	if err := nameRunes(field, []rune(s)); err != nil {
		return "", err
	}
	return s, nil
}

// Joiners that shape emoji sequences and Persian or Indic names.
const (
	zwnj = '\u200c'
	zwj  = '\u200d'
)

// maxMarks is how many combining marks may follow one character: enough
// for stacked diacritics (Vietnamese) and Indic vowel signs, not for
// "Zalgo" text that spills over the lines around it in the staff console.
const maxMarks = 4

// nameRunes accepts the letters, marks, digits, punctuation, symbols
// (emoji) and spaces of any script, and refuses what can hide or disguise a
// name: control and format characters (bidirectional overrides, zero-width
// spaces, BOMs), private-use and unassigned code points, U+FFFD (what
// invalid UTF-8 decodes to), combining marks with no character to sit on
// or piled up beyond maxMarks. A zero-width joiner or non-joiner is kept
// only between two visible characters, where it joins them.
func nameRunes(field string, rs []rune) error {
	visible := func(i int) bool {
		return i >= 0 && i < len(rs) && unicode.IsGraphic(rs[i]) && !unicode.IsSpace(rs[i])
	}
	marks := 0
	for i, r := range rs {
		switch {
		case r == zwj || r == zwnj:
			if !visible(i-1) || !visible(i+1) {
				return aftercare.FieldError(field, "has a zero-width joiner that joins nothing")
			}
			marks = 0
		case invisible(r):
			return aftercare.FieldError(field, "contains a control or invisible character")
		case unicode.Is(unicode.M, r):
			marks++
			if !visible(i - 1) {
				return aftercare.FieldError(field, "has a combining mark with no letter to sit on")
			}
			if marks > maxMarks {
				return aftercare.FieldError(field, "has more than %d combining marks on one letter", maxMarks)
			}
		default:
			marks = 0
		}
	}
	return nil
}

// invisible reports a rune that has no place in stored text: anything not
// graphic (controls, format characters such as bidirectional overrides and
// zero-width spaces, private use, unassigned) and U+FFFD.
func invisible(r rune) bool {
	return r == unicode.ReplacementChar || !(unicode.IsGraphic(r) || r == ' ')
}

// DisplayPhone writes an E.164 number for people to read and dial from
// anywhere ("+1 415-555-0100"); a number it cannot parse is returned as
// given.
func DisplayPhone(e164 string) string {
	n, err := phonenumbers.Parse(e164, "US")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// RegionOf returns the ISO region of an E.164 number ("US" if unknown), the
// default region for numbers a clinic types without a country code.
func RegionOf(e164 string) string {
	n, err := phonenumbers.Parse(e164, "US")
	if err != nil {
		return "US"
	}
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" && r != "ZZ" {
		return r
	}
	return "US"
}

// NormalizePhone validates a mobile number and returns it in E.164. A
// number without a country code is read in region.
func NormalizePhone(s, region string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", aftercare.FieldError("phone", "required")
	}
	if len(s) > 32 || !utf8.ValidString(s) {
		return "", aftercare.FieldError("phone", "is not a phone number")
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789+-(). ", r) {
			return "", aftercare.FieldError("phone", "may contain only digits, spaces, +, -, ( ) and ., not %q", r)
		}
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", aftercare.FieldError("phone", "is not a phone number: %v", err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", aftercare.FieldError("phone", "is not a valid number for its country (use E.164, e.g. +14155550123)")
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.PERSONAL_NUMBER:
	default:
		return "", aftercare.FieldError("phone", "is not a mobile number (it cannot receive texts)")
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// NormalizeEmail validates a bare address (no display name) and lower-cases
// its domain. Empty stays empty.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > 254 || !utf8.ValidString(s) {
		return "", aftercare.FieldError("email", "is not an email address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", aftercare.FieldError("email", "is not a plain email address like name@example.com")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r == ' ' || invisible(r) }) {
		return "", aftercare.FieldError("email", "contains a control or invisible character")
	}
	at := strings.LastIndexByte(a.Address, '@')
	local, domain := a.Address[:at], strings.ToLower(a.Address[at+1:])
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", aftercare.FieldError("email", "has no valid domain")
	}
	for _, r := range domain {
		if !(r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return "", aftercare.FieldError("email", "has an invalid character in its domain")
		}
	}
	labels := strings.Split(domain, ".")
	for _, l := range labels {
		if len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", aftercare.FieldError("email", "has no valid domain")
		}
	}
	if !strings.ContainsFunc(labels[len(labels)-1], unicode.IsLetter) {
		return "", aftercare.FieldError("email", "has no valid domain (an IP address is not a mail domain)")
	}
	return local + "@" + domain, nil
}

// ValidTimezone checks an IANA zone name. Fixed-offset and legacy zones
// (EST, PST8PDT, Etc/GMT+5, "UTC-5") are refused with a suggestion: they
// keep no daylight saving time, so local times would be an hour off for
// half the year. UTC is accepted here (a server's zone); PatientTimezone
// refuses it for patients.
func ValidTimezone(tz string) error {
	if tz == "" {
		return aftercare.FieldError("timezone", "required")
	}
	if tz == "Local" || strings.ContainsAny(tz, `\`) || strings.Contains(tz, "..") || strings.HasPrefix(tz, "/") {
		return aftercare.FieldError("timezone", "%q is not an IANA time zone", tz)
	}
	if fixed, suggest := legacyZone(tz); fixed && !utcName(tz) {
		return aftercare.FieldError("timezone", "%q is a fixed-offset or legacy zone that ignores daylight saving time; %s", tz, suggest)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return aftercare.FieldError("timezone", "%q is not an IANA time zone (e.g. America/New_York)", tz)
	}
	return nil
}

// PatientTimezone checks a patient's zone: an IANA zone named for a place
// (ValidTimezone), not UTC, which no patient lives by: messages planned
// for "9:00" would reach a patient in New York at 4:00. clinicZone, when
// it is a place, is suggested instead.
func PatientTimezone(tz, clinicZone string) error {
	if err := ValidTimezone(tz); err != nil {
		return err
	}
	if utcName(tz) {
		suggest := "pick the patient's city, e.g. America/New_York"
		if clinicZone != "" && !utcName(clinicZone) && ValidTimezone(clinicZone) == nil {
			suggest = "did you mean " + clinicZone + " (the clinic's zone)? Otherwise pick the patient's city"
		}
		return aftercare.FieldError("timezone", "%q is not where a patient lives (messages are timed by local clock); %s", tz, suggest)
	}
	return nil
}

// utcName reports the names of UTC itself.
func utcName(tz string) bool {
	switch strings.ToUpper(tz) {
	case "UTC", "ETC/UTC", "ETC/UCT", "UCT", "ZULU", "ETC/ZULU", "UNIVERSAL", "ETC/UNIVERSAL", "GMT", "ETC/GMT", "GMT0", "ETC/GMT0",
		"GMT+0", "GMT-0", "ETC/GMT+0", "ETC/GMT-0", "GREENWICH", "ETC/GREENWICH", "Z":
		return true
	}
	return false
}

// legacyZones are the abbreviations and POSIX-style zones people type, and
// the IANA zone each most likely means.
var legacyZones = map[string]string{
	"EST": "America/New_York", "EDT": "America/New_York", "EST5EDT": "America/New_York", "ET": "America/New_York",
	"EASTERN": "America/New_York",
	"CST":     "America/Chicago", "CDT": "America/Chicago", "CST6CDT": "America/Chicago", "CT": "America/Chicago", "CENTRAL": "America/Chicago",
	"MST": "America/Denver or America/Phoenix (Arizona keeps standard time)", "MDT": "America/Denver", "MST7MDT": "America/Denver",
	"MT": "America/Denver", "MOUNTAIN": "America/Denver",
	"PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "PST8PDT": "America/Los_Angeles", "PT": "America/Los_Angeles",
	"PACIFIC": "America/Los_Angeles",
	"AKST":    "America/Anchorage", "AKDT": "America/Anchorage", "HST": "Pacific/Honolulu", "HAST": "Pacific/Honolulu",
	"AST": "America/Halifax or America/Puerto_Rico", "ADT": "America/Halifax", "NST": "America/St_Johns",
	"WET": "Europe/Lisbon", "CET": "Europe/Paris", "MET": "Europe/Paris", "EET": "Europe/Athens", "BST": "Europe/London",
	"IST": "Asia/Kolkata or Europe/Dublin", "JST": "Asia/Tokyo", "AEST": "Australia/Sydney", "AEDT": "Australia/Sydney",
	"NZST": "Pacific/Auckland",
}

// offsetZones suggest a zone for a UTC offset in whole hours.
var offsetZones = map[int]string{
	-10: "Pacific/Honolulu", -9: "America/Anchorage", -8: "America/Los_Angeles", -7: "America/Denver or America/Phoenix",
	-6: "America/Chicago", -5: "America/New_York", -4: "America/Halifax", -3: "America/Sao_Paulo",
	0: "Europe/London", 1: "Europe/Paris", 2: "Europe/Athens", 3: "Europe/Istanbul", 4: "Asia/Dubai",
	8: "Asia/Singapore", 9: "Asia/Tokyo", 10: "Australia/Sydney", 12: "Pacific/Auckland",
}

// offsetZone matches "UTC-5", "GMT+05:00", "-05:00", "Etc/GMT+5" (whose
// sign is inverted: it is UTC-5).
var offsetZone = regexp.MustCompile(`^(?i)(etc/)?(utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$`)

// legacyZone reports whether tz is a fixed-offset or legacy zone and what
// to suggest instead.
func legacyZone(tz string) (bool, string) {
	up := strings.ToUpper(strings.TrimSpace(tz))
	if z, ok := legacyZones[up]; ok {
		return true, "did you mean " + z + "?"
	}
	if m := offsetZone.FindStringSubmatch(tz); m != nil {
		h, _ := strconv.Atoi(m[4])
		if m[3] == "-" {
			h = -h
		}
		if m[1] != "" {
			h = -h // Etc/GMT+5 is five hours behind UTC
		}
		if z, ok := offsetZones[h]; ok && (m[5] == "" || m[5] == "00") {
			return true, "did you mean " + z + "? Pick the patient's city"
		}
		return true, "pick the patient's city (an IANA zone such as America/New_York)"
	}
	if strings.HasPrefix(up, "ETC/") || strings.HasPrefix(up, "SYSTEMV/") {
		return true, "pick the patient's city (an IANA zone such as America/New_York)"
	}
	if !strings.Contains(tz, "/") {
		// Other zone names without a region ("Japan", "Cuba") are
		// legacy links, kept for old software.
		if _, err := time.LoadLocation(tz); err == nil {
			return true, "use the Area/City name of the zone (e.g. Asia/Tokyo for Japan)"
		}
	}
	return false, ""
}

// TreatedAt parses an RFC 3339 treatment time and checks it is at most a
// day in the future and 60 days in the past. Empty means now.
func TreatedAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if _, off := t.Zone(); err != nil || off <= -24*3600 || off >= 24*3600 {
		// (time.Parse takes an offset of ±24:00; RFC 3339 stops at 23:59.)
		return time.Time{}, aftercare.FieldError("treated_at", "must be an RFC 3339 time with an offset, e.g. 2026-11-25T14:30:00-05:00")
	}
	if t.After(now.Add(MaxFuture)) {
		return time.Time{}, aftercare.FieldError("treated_at", "is more than a day in the future")
	}
	if t.Before(now.Add(-MaxPast)) {
		return time.Time{}, aftercare.FieldError("treated_at", "is more than 60 days in the past")
	}
	return t, nil
}
