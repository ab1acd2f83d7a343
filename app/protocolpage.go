package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/web"
)

// A clinic's own protocols: uploading a new version and switching a
// treatment's protocol, shared by the console's protocols page and
// `aftercare protocol upload|use|list`.

// ProtocolUpload is a protocol file a clinic brings.
type ProtocolUpload struct {
	// Name names the file in findings ("peel.yaml"; "upload" for pasted
	// text).
	Name   string
	Source []byte
	// Activate makes it the clinic's protocol for its treatment and
	// language at once.
	Activate bool
	// By is the uploading user (0: the operator's CLI).
	By int64
}

// versionLine finds the line of the top-level version field, for findings.
var versionLine = regexp.MustCompile(`(?m)^version\s*:`)

func lineOf(src []byte, re *regexp.Regexp) int {
	loc := re.FindIndex(src)
	if loc == nil {
		return 0
	}
	return 1 + strings.Count(string(src[:loc[0]]), "\n")
}

// Upload stores a new version of a clinic's protocol. It is linted first
// with the clinic's quiet hours and daily cap: any error refuses it. Its
// version must be above every version the daemon has for its treatment and
// language (so a version number names one text) and new for the clinic.
// A refusal stores nothing and is an EINVALID error whose findings (every
// one, with its line) are returned; on success the findings are the
// warnings. The change is audited with ctx's actor.
func (ps *protocols) Upload(ctx context.Context, clinic aftercare.Clinic, daemonQuiet protocol.QuietHours, u ProtocolUpload) (store.ClinicProtocol, []protocol.Finding, error) {
	name := u.Name
	if name == "" {
		name = "upload"
	}
	opt, err := enroll.PlanOptions(clinic, daemonQuiet)
	if err != nil {
		return store.ClinicProtocol{}, nil, err
	}
	findings := protocol.Lint(name, u.Source, protocol.LintOptions{Quiet: opt.Quiet, DailyCap: clinic.DailyTextCap})
	refuse := func() (store.ClinicProtocol, []protocol.Finding, error) {
		n := 0
		for _, f := range findings {
			if f.Severity == protocol.SeverityError {
				n++
			}
		}
		return store.ClinicProtocol{}, findings, &aftercare.Error{Code: aftercare.EINVALID, Field: "source",
			Message: fmt.Sprintf("the protocol has %s; nothing was stored", plural(n, "error"))}
	}
	if protocol.HasErrors(findings) {
		return refuse()
	}
	p, err := protocol.Parse(u.Source)
	if err != nil {
		findings = append(findings, protocol.Finding{File: name, Severity: protocol.SeverityError, Message: err.Error()})
		return refuse()
	}
	bad := func(field string, line int, format string, args ...any) {
		findings = append(findings, protocol.Finding{File: name, Line: line, Field: field, Severity: protocol.SeverityError,
			Message: fmt.Sprintf(format, args...)})
	}
	if !aftercare.ValidLanguage(p.Language) {
		bad("language", lineOf(u.Source, regexp.MustCompile(`(?m)^language\s*:`)), "must be one of %s, not %q",
			strings.Join(aftercare.Languages, ", "), p.Language)
	}
	if top := ps.daemonVersion(p.Treatment, p.Language); p.Version <= top {
		bad("version", lineOf(u.Source, versionLine),
			"version %d is not above the daemon's version %d of %s (%s): give it version %d or more, so that a version number names one text",
			p.Version, top, p.Treatment, p.Language, top+1)
	}
	own, err := ps.store.ClinicProtocols(ctx, clinic.ID)
	if err != nil {
		return store.ClinicProtocol{}, nil, err
	}
	var used []string
	for _, r := range own {
		if r.Treatment == p.Treatment && r.Language == p.Language {
			used = append(used, strconv.Itoa(r.Version))
		}
	}
	if slices.Contains(used, strconv.Itoa(p.Version)) {
		bad("version", lineOf(u.Source, versionLine),
			"the clinic already has version %d of %s (%s) (it has %s): give the new one a version it has not used",
			p.Version, p.Treatment, p.Language, strings.Join(used, ", "))
	}
	if protocol.HasErrors(findings) {
		return refuse()
	}
	if offered := clinic.Treatments; len(offered) > 0 && !slices.ContainsFunc(offered, func(t string) bool {
		return protocol.NormalizeTreatment(t) == p.Treatment
	}) {
		findings = append(findings, protocol.Finding{File: name, Severity: protocol.SeverityWarning, Field: "treatment",
			Message: fmt.Sprintf("the clinic does not offer %s: add it to the clinic's treatments to enroll patients with it", p.Treatment)})
	}
	row, err := ps.store.AddClinicProtocol(ctx, store.ClinicProtocol{ClinicID: clinic.ID, Treatment: p.Treatment,
		Language: p.Language, Version: p.Version, Source: string(u.Source), UploadedBy: u.By, Active: u.Activate})
	if err != nil {
		return row, findings, err
	}
	return row, findings, nil
}

// daemonVersion is the highest version the daemon's library has of a
// treatment in a language (0 for none).
func (ps *protocols) daemonVersion(treatment, language string) int {
	top := 0
	for _, q := range ps.base.All() {
		if q.Treatment == treatment && q.Language == language && q.Version > top {
			top = q.Version
		}
	}
	return top
}

// Use makes the clinic's own version of a treatment's protocol in a
// language the one new enrollments are planned with, or, with version 0,
// the daemon's again. Only the clinic's own versions can be chosen; the
// change is audited with ctx's actor.
func (ps *protocols) Use(ctx context.Context, clinic aftercare.Clinic, treatment, language string, version int) error {
	t := protocol.NormalizeTreatment(treatment)
	if !aftercare.ValidLanguage(language) {
		return aftercare.FieldError("language", "must be one of %s, not %q", strings.Join(aftercare.Languages, ", "), language)
	}
	if version == 0 {
		if _, ok := ps.base.Latest(t, language); !ok {
			return aftercare.FieldError("version", "the daemon has no protocol for %s (%s): choose one of the clinic's versions", t, language)
		}
		return ps.store.SetActiveClinicProtocol(ctx, clinic.ID, t, language, 0)
	}
	own, err := ps.store.ClinicProtocols(ctx, clinic.ID)
	if err != nil {
		return err
	}
	var have []string
	for _, r := range own {
		if r.Treatment != t || r.Language != language {
			continue
		}
		if r.Version == version {
			return ps.store.SetActiveClinicProtocol(ctx, clinic.ID, t, language, r.ID)
		}
		have = append(have, strconv.Itoa(r.Version))
	}
	if len(have) == 0 {
		return &aftercare.Error{Code: aftercare.ENOTFOUND, Field: "version", Message: fmt.Sprintf(
			"the clinic has no version of its own of %s (%s)", t, language)}
	}
	return &aftercare.Error{Code: aftercare.ENOTFOUND, Field: "version", Message: fmt.Sprintf(
		"the clinic has no version %d of %s (%s); it has %s", version, t, language, strings.Join(have, ", "))}
}

// lint lints a protocol of a clinic's library from its source: the
// clinic's upload, the daemon's file or the embedded one, with the
// clinic's quiet hours and cap.
func (ps *protocols) lint(ctx context.Context, clinic aftercare.Clinic, daemonQuiet protocol.QuietHours, p *protocol.Protocol) ([]protocol.Finding, error) {
	opt, err := enroll.PlanOptions(clinic, daemonQuiet)
	if err != nil {
		return nil, err
	}
	lo := protocol.LintOptions{Quiet: opt.Quiet, DailyCap: clinic.DailyTextCap}
	own, err := ps.store.ClinicProtocols(ctx, clinic.ID)
	if err != nil {
		return nil, err
	}
	for _, r := range own {
		if r.Treatment == p.Treatment && r.Language == p.Language && r.Version == p.Version {
			return protocol.Lint(fmt.Sprintf("%s (%s) version %d", r.Treatment, r.Language, r.Version), []byte(r.Source), lo), nil
		}
	}
	if origin := ps.base.Origin(p); origin != "" && origin != "embedded" {
		data, err := os.ReadFile(origin)
		if err != nil {
			return nil, fmt.Errorf("lint protocol: %w", err)
		}
		return protocol.Lint(origin, data, lo), nil
	}
	for _, src := range protocol.EmbeddedSources() {
		q, err := protocol.Parse(src.Data)
		if err == nil && q.Treatment == p.Treatment && q.Language == p.Language && q.Version == p.Version {
			return protocol.Lint(src.Name, src.Data, lo), nil
		}
	}
	return nil, nil
}

// protocolPage serves the console's protocols page (web.Protocols).
type protocolPage struct {
	ps    *protocols
	quiet protocol.QuietHours
	price float64
}

var _ web.Protocols = protocolPage{}

// NewProtocolPage returns what the console's protocols page needs: the
// daemon's library base with each clinic's uploads from s, quiet the
// daemon's quiet hours, price a text segment's price in dollars.
func NewProtocolPage(s *store.Store, base *protocol.Library, quiet protocol.QuietHours, price float64) web.Protocols {
	return protocolPage{ps: &protocols{base: base, store: s, log: slog.New(slog.DiscardHandler)}, quiet: quiet, price: price}
}

func (pp protocolPage) Daemon() *protocol.Library { return pp.ps.base }

func (pp protocolPage) Library(ctx context.Context, clinicID int64) (*protocol.Library, error) {
	return pp.ps.Library(ctx, clinicID)
}

func (pp protocolPage) Uploads(ctx context.Context, clinicID int64) ([]store.ClinicProtocol, error) {
	return pp.ps.store.ClinicProtocols(ctx, clinicID)
}

func (pp protocolPage) RecentEnrollments(ctx context.Context, clinicID int64, since time.Time) ([]store.EnrollmentCount, error) {
	return pp.ps.store.RecentEnrollments(ctx, clinicID, since)
}

func (pp protocolPage) PlanOptions(clinic aftercare.Clinic) (protocol.Options, error) {
	return enroll.PlanOptions(clinic, pp.quiet)
}

func (pp protocolPage) Lint(ctx context.Context, clinic aftercare.Clinic, p *protocol.Protocol) ([]protocol.Finding, error) {
	return pp.ps.lint(ctx, clinic, pp.quiet, p)
}

func (pp protocolPage) Upload(ctx context.Context, clinic aftercare.Clinic, name string, source []byte, activate bool, by int64) (store.ClinicProtocol, []protocol.Finding, error) {
	return pp.ps.Upload(ctx, clinic, pp.quiet, ProtocolUpload{Name: name, Source: source, Activate: activate, By: by})
}

func (pp protocolPage) Use(ctx context.Context, clinic aftercare.Clinic, treatment, language string, version int) error {
	return pp.ps.Use(ctx, clinic, treatment, language, version)
}

func (pp protocolPage) SegmentPrice() float64 { return pp.price }

// ProtocolCommand is one `aftercare protocol upload|use|list` run.
type ProtocolCommand struct {
	ClinicID int64
	// File is the protocol file to upload.
	File     string
	Activate bool
	// Treatment, Language and Version choose the protocol to use; Version
	// 0 goes back to the daemon's.
	Treatment, Language string
	Version             int
}

// openProtocols opens the store and the daemon's library for a command.
func openProtocols(ctx context.Context, cfg *config.Config) (*protocols, protocol.QuietHours, func(), error) {
	quiet, err := protocol.ParseQuietHours(cfg.QuietHours.Start, cfg.QuietHours.End)
	if err != nil {
		return nil, quiet, nil, fmt.Errorf("quiet hours: %w", err)
	}
	lib, err := LoadLibrary(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, quiet, nil, fmt.Errorf("load protocols: %w", err)
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return nil, quiet, nil, err
	}
	return &protocols{base: lib, store: s, log: slog.New(slog.DiscardHandler)}, quiet, func() { s.Close() }, nil
}

// UploadProtocolFile uploads a clinic's protocol file as the operator
// (`aftercare protocol upload`): every finding goes to stdout, one a
// line; a refusal returns an error and stores nothing.
func UploadProtocolFile(ctx context.Context, cfg *config.Config, stdout io.Writer, o ProtocolCommand) error {
	src, err := os.ReadFile(o.File)
	if err != nil {
		return fmt.Errorf("protocol upload: %w", err)
	}
	ps, quiet, done, err := openProtocols(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	clinic, err := ps.store.Clinic(ctx, o.ClinicID)
	if err != nil {
		return err
	}
	ctx = aftercare.WithActor(ctx, CLIActor())
	row, findings, err := ps.Upload(ctx, clinic, quiet, ProtocolUpload{Name: o.File, Source: src, Activate: o.Activate})
	for _, f := range findings {
		fmt.Fprintln(stdout, f)
	}
	if err != nil {
		return fmt.Errorf("protocol upload: %w", err)
	}
	state := "inactive: `aftercare protocol use` makes it the clinic's"
	if row.Active {
		state = "active: new enrollments use it"
	}
	fmt.Fprintf(stdout, "clinic %d: %s (%s) version %d stored (id %d), %s\n", clinic.ID, row.Treatment, row.Language,
		row.Version, row.ID, state)
	return nil
}

// UseProtocol switches a clinic's protocol for a treatment and language
// (`aftercare protocol use`).
func UseProtocol(ctx context.Context, cfg *config.Config, stdout io.Writer, o ProtocolCommand) error {
	ps, _, done, err := openProtocols(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	clinic, err := ps.store.Clinic(ctx, o.ClinicID)
	if err != nil {
		return err
	}
	ctx = aftercare.WithActor(ctx, CLIActor())
	if err := ps.Use(ctx, clinic, o.Treatment, o.Language, o.Version); err != nil {
		return fmt.Errorf("protocol use: %w", err)
	}
	which := "the daemon's protocol"
	if o.Version != 0 {
		which = fmt.Sprintf("the clinic's version %d", o.Version)
	}
	fmt.Fprintf(stdout, "clinic %d: %s (%s) now uses %s\n", clinic.ID, protocol.NormalizeTreatment(o.Treatment), o.Language, which)
	return nil
}

// ListProtocols prints, for each treatment and language of a clinic's
// library, the protocol in use and the clinic's own versions
// (`aftercare protocol list`).
func ListProtocols(ctx context.Context, cfg *config.Config, stdout io.Writer, clinicID int64) error {
	ps, _, done, err := openProtocols(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	clinic, err := ps.store.Clinic(ctx, clinicID)
	if err != nil {
		return err
	}
	lib, err := ps.Library(ctx, clinic.ID)
	if err != nil {
		return err
	}
	own, err := ps.store.ClinicProtocols(ctx, clinic.ID)
	if err != nil {
		return err
	}
	offered := enroll.Offered(clinic, lib)
	for _, t := range lib.Treatments() {
		for _, l := range lib.Languages(t) {
			p, _ := lib.Latest(t, l)
			use := fmt.Sprintf("the daemon's version %d (%s)", p.Version, ps.base.Origin(p))
			var versions []string
			for _, r := range own {
				if r.Treatment != t || r.Language != l {
					continue
				}
				v := strconv.Itoa(r.Version)
				if r.Active {
					use = fmt.Sprintf("the clinic's version %d", r.Version)
					v += " (active)"
				}
				versions = append(versions, v)
			}
			line := fmt.Sprintf("%s (%s): %s", t, l, use)
			if len(versions) > 0 {
				line += "; clinic versions: " + strings.Join(versions, ", ")
			}
			if !slices.Contains(offered, t) {
				line += "; not offered by the clinic"
			}
			fmt.Fprintln(stdout, line)
		}
	}
	return nil
}
