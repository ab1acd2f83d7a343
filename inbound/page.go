package inbound

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/replies"
	"github.com/aftercare/aftercare/store"
)

// PageConcern is what a patient sent with "I have a concern" on their
// aftercare page: free text, and optionally a photo.
type PageConcern struct {
	Clinic  aftercare.Clinic
	Patient aftercare.Patient
	Body    string
	Photo   *store.Photo
}

// PageOutcome is what the page tells the patient happens next.
type PageOutcome struct {
	// Kind is replies.RedFlag or replies.Other (words such as STOP or HELP
	// on the page are not commands: they are read as a question).
	Kind replies.Kind
	// Emergency: the words may be an emergency (call 911 first).
	Emergency bool
	// Alerted: staff were alerted now (a new red flag, or a worse one).
	Alerted bool
	// ConcernID is the concern the text was filed under.
	ConcernID int64
}

// pageProviderPrefix marks replies sent from the patient's page (their
// provider id is this and a random suffix); pagePhotoPrefix those sent
// with a photo (the console's inbox links to it).
const (
	pageProviderPrefix = "page:"
	pagePhotoPrefix    = "page-photo:"
)

// FromPage reports whether the reply with providerID was sent from the
// patient's page rather than texted.
func FromPage(providerID string) bool {
	return strings.HasPrefix(providerID, pageProviderPrefix) || WithPhoto(providerID)
}

// WithPhoto reports whether the reply with providerID came from the
// patient's page with a photo.
func WithPhoto(providerID string) bool { return strings.HasPrefix(providerID, pagePhotoPrefix) }

// HandlePageConcern files a concern sent from the patient's page exactly
// as a text would be: through the red-flag classifier into the clinic's
// needs-attention inbox, alerting staff when a text would. Nothing is
// texted back to the patient: the page itself tells them what happens
// next.
func (s *Service) HandlePageConcern(ctx context.Context, in PageConcern) (PageOutcome, error) {
	res := replies.Classify(in.Body)
	kind := replies.Other
	if res.Kind == replies.RedFlag {
		kind = replies.RedFlag
	}
	out := PageOutcome{Kind: kind, Emergency: res.Emergency && kind == replies.RedFlag}
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return out, fmt.Errorf("page concern: %w", err)
	}
	p, c := in.Patient, in.Clinic
	prefix := pageProviderPrefix
	if in.Photo != nil {
		prefix = pagePhotoPrefix
	}
	now := s.Clock.Now()
	rec := store.InboundReply{
		Reply: aftercare.Reply{ClinicID: p.ClinicID, PatientID: p.ID, ProviderID: prefix + hex.EncodeToString(id),
			Body: in.Body, Kind: string(kind), At: now},
		Photo: in.Photo,
		Concern: &store.ConcernReply{RedFlag: kind == replies.RedFlag, Emergency: out.Emergency, Signs: res.Explain(),
			Respond: func(dec store.ConcernDecision) ([]aftercare.Message, error) {
				if !dec.Alert {
					return nil, nil
				}
				return s.alerts(p, c, dec.Concern, dec.Replies, stepAlert, routes(c), now)
			}},
	}
	got, err := s.Store.RecordReplyOutcome(ctx, rec)
	if err != nil {
		return out, fmt.Errorf("page concern: %w", err)
	}
	out.Alerted, out.ConcernID = got.Decision.Alert, got.Decision.Concern.ID
	log := s.Log.With("clinic_id", p.ClinicID, "patient_id", p.ID)
	log.Info("patient concern from the aftercare page", "kind", string(kind), "queued", got.Queued, "concern_id", out.ConcernID,
		"alert", out.Alerted, "photo", in.Photo != nil)
	if out.Alerted && !c.HasAlertRoute() {
		s.undeliverable(ctx, log, got.Decision.Concern, "the clinic has no alert_email and no on_call_phone", "none")
	}
	return out, nil
}
