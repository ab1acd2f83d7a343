package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// LoadLibrary builds the daemon's protocol library: the embedded
// protocols, then the files of protocols_dir, then the protocol file, each
// replacing one of the same treatment, language and version before it.
func LoadLibrary(cfg *config.Config) (*protocol.Library, error) {
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		return nil, err
	}
	if cfg.ProtocolsDir != "" {
		ps, _, err := protocol.LoadDir(cfg.ProtocolsDir)
		if err != nil {
			return nil, err
		}
		if lib, err = lib.With(cfg.ProtocolsDir, ps...); err != nil {
			return nil, err
		}
	}
	if cfg.Protocol != "" {
		p, err := protocol.Load(cfg.Protocol)
		if err != nil {
			return nil, err
		}
		if lib, err = lib.With(cfg.Protocol, p); err != nil {
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

// Library is the daemon's library for a clinic.
func (ps *protocols) Library(ctx context.Context, clinicID int64) (*protocol.Library, error) {
	return ps.base, nil
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
