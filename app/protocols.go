package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// LoadLibrary builds the daemon's protocol library: the embedded
// protocols, then the files of protocols_dir, then the protocol file, each
// replacing one of the same treatment, language and version before it.
// Every file is linted first (as `aftercare protocol lint` does, with the
// daemon's quiet hours): errors refuse it, naming file, line, step and
// field; warnings are logged.
func LoadLibrary(cfg *config.Config, log *slog.Logger) (*protocol.Library, error) {
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		return nil, err
	}
	quiet, err := protocol.ParseQuietHours(cfg.QuietHours.Start, cfg.QuietHours.End)
	if err != nil {
		return nil, fmt.Errorf("quiet hours: %w", err)
	}
	var files []string
	if cfg.ProtocolsDir != "" {
		fs, err := protocol.DirFiles(cfg.ProtocolsDir)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	if cfg.Protocol != "" {
		files = append(files, cfg.Protocol)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("load protocol: %w", err)
		}
		var errs []string
		for _, finding := range protocol.Lint(f, data, protocol.LintOptions{Quiet: quiet}) {
			if finding.Severity == protocol.SeverityError {
				errs = append(errs, finding.String())
				continue
			}
			log.Warn("protocol lint", "finding", finding.String())
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("protocol %s does not pass lint:\n%s", f, strings.Join(errs, "\n"))
		}
		p, err := protocol.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("load protocol %s: %w", f, err)
		}
		if lib, err = lib.With(f, p); err != nil {
			return nil, err
		}
	}
	return lib, nil
}

// protocols gives each clinic its protocols and picks the one that answers
// a patient. It serves enroll.Protocols and inbound.ReplyProtocols.
type protocols struct {
	base  *protocol.Library
	store *store.Store
	// parsed caches clinics' uploads by their SHA-256 (a source is
	// immutable once stored).
	mu     sync.Mutex
	parsed map[string]*protocol.Protocol
	// fallback plans enrollments made before protocols were recorded.
	fallback *protocol.Protocol
	log      *slog.Logger
}

// ForEnrollment is the protocol an enrollment was planned with: its
// treatment, language and version, else the latest version of its
// treatment and language (a version no longer loaded), else the fallback.
func (ps *protocols) ForEnrollment(ctx context.Context, e aftercare.Enrollment) *protocol.Protocol {
	if e.Protocol == "" {
		return ps.fallback
	}
	lib, err := ps.Library(ctx, e.ClinicID)
	if err != nil {
		ps.log.Warn("protocols of clinic", "clinic_id", e.ClinicID, "err", err)
		return ps.fallback
	}
	if p, ok := lib.Version(e.Treatment, e.Language, e.ProtocolVersion); ok {
		return p
	}
	if p, ok := lib.Latest(e.Treatment, e.Language); ok {
		return p
	}
	return ps.fallback
}

// Library is a clinic's library: the daemon's, with the clinic's own
// uploaded versions on top (its active ones picked). It reads the
// database each time, so every replica sees an upload or a switch at once;
// it reads the versions' heads only, and a source only the first time its
// SHA-256 is seen.
func (ps *protocols) Library(ctx context.Context, clinicID int64) (*protocol.Library, error) {
	rows, err := ps.store.ClinicProtocolHeads(ctx, clinicID)
	if err != nil {
		return nil, fmt.Errorf("protocols of clinic %d: %w", clinicID, err)
	}
	if len(rows) == 0 {
		return ps.base, nil
	}
	list := make([]*protocol.Protocol, 0, len(rows))
	active := make([]bool, 0, len(rows))
	for _, r := range rows {
		p, err := ps.parse(ctx, r)
		if err != nil {
			return nil, err
		}
		list = append(list, p)
		active = append(active, r.Active)
	}
	return ps.base.WithClinic(fmt.Sprintf("clinic %d", clinicID), list, active)
}

// Treatments lists the treatments a clinic may offer: the daemon's and
// those of its own active protocols.
func (ps *protocols) Treatments(ctx context.Context, clinicID int64) ([]string, error) {
	lib, err := ps.Library(ctx, clinicID)
	if err != nil {
		return nil, err
	}
	return lib.Treatments(), nil
}

// parse returns the parsed upload r names (a head: no source), reading
// and parsing its source once.
func (ps *protocols) parse(ctx context.Context, r store.ClinicProtocol) (*protocol.Protocol, error) {
	ps.mu.Lock()
	p := ps.parsed[r.SHA256]
	ps.mu.Unlock()
	if p != nil {
		return p, nil
	}
	full, err := ps.store.ClinicProtocol(ctx, r.ClinicID, r.ID)
	if err != nil {
		return nil, err
	}
	if p, err = protocol.Parse([]byte(full.Source)); err != nil {
		// It passed lint when it was uploaded: a release that reads it
		// differently must say so, not plan with something else.
		return nil, fmt.Errorf("clinic %d protocol %s (%s) version %d no longer parses: %w", r.ClinicID, r.Treatment, r.Language, r.Version, err)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.parsed == nil {
		ps.parsed = make(map[string]*protocol.Protocol)
	}
	if q := ps.parsed[full.SHA256]; q != nil {
		return q, nil // parsed meanwhile: one copy per source
	}
	ps.parsed[full.SHA256] = p
	return p, nil
}

// ReplyProtocol is the protocol of the patient's latest treatment in
// language (falling back as enrolling does); for a patient with no
// enrollment the clinic's first treatment, then any protocol.
func (ps *protocols) ReplyProtocol(ctx context.Context, c aftercare.Clinic, p aftercare.Patient, language string) (*protocol.Protocol, error) {
	lib, err := ps.Library(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var treatments []string
	es, err := ps.store.Enrollments(ctx, c.ID, p.ID)
	if err != nil {
		return nil, fmt.Errorf("enrollments of patient %d: %w", p.ID, err)
	}
	slices.SortFunc(es, func(a, b aftercare.Enrollment) int { return b.CreatedAt.Compare(a.CreatedAt) })
	for _, e := range es {
		treatments = append(treatments, e.Treatment)
	}
	treatments = append(treatments, c.Treatments...)
	treatments = append(treatments, lib.Treatments()...)
	for _, t := range treatments {
		if choice, err := lib.Pick(t, language, c.DefaultLanguage); err == nil {
			return choice.Protocol, nil
		}
	}
	return nil, fmt.Errorf("clinic %d has no protocol to answer with", c.ID)
}
