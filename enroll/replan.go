package enroll

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// Replan re-plans the waiting messages of one of clinic's active
// enrollments with the protocol the clinic would enroll it with today
// (its treatment, the patient's language, the clinic's settings), as
// store.Replan describes; dryRun only shows the difference.
func (s *Service) Replan(ctx context.Context, clinic aftercare.Clinic, enrollmentID int64, dryRun bool) (store.ReplanDiff, error) {
	st := s.Store
	v, err := st.Enrollment(ctx, clinic.ID, enrollmentID)
	if err != nil {
		return store.ReplanDiff{}, err
	}
	lib, err := s.library(ctx, clinic.ID)
	if err != nil {
		return store.ReplanDiff{}, fmt.Errorf("re-plan: protocols of clinic %d: %w", clinic.ID, err)
	}
	choice, err := lib.Pick(v.Enrollment.Treatment, v.Patient.Language, clinic.DefaultLanguage)
	if err != nil {
		return store.ReplanDiff{}, err
	}
	opt, err := PlanOptions(clinic, s.Quiet)
	if err != nil {
		return store.ReplanDiff{}, err
	}
	now := s.Clock.Now()
	p := choice.Protocol
	careURL := s.sentCareURL(v.Messages)
	return st.Replan(ctx, store.ReplanInput{
		ClinicID: clinic.ID, EnrollmentID: enrollmentID,
		Protocol: p.Name, ProtocolVersion: p.Version, Language: p.Language, DryRun: dryRun,
		Plan: func(pt aftercare.Patient, e aftercare.Enrollment, consents []aftercare.Consent) ([]aftercare.Message, error) {
			sms, email := consented(consents)
			in := protocol.Input{Enrollment: e, Patient: pt, Clinic: clinic, SMSConsent: sms, EmailConsent: email, CareURL: careURL}
			return replanMessages(p, in, opt, e.CreatedAt, now)
		},
	})
}

// consented reports whether the patient's latest consent evidence for each
// channel grants it.
func consented(consents []aftercare.Consent) (sms, email bool) {
	last := map[aftercare.Channel]aftercare.Consent{}
	for _, c := range consents {
		if prev, ok := last[c.Channel]; !ok || !c.At.Before(prev.At) {
			last[c.Channel] = c
		}
	}
	return last[aftercare.SMS].Granted, last[aftercare.Email].Granted
}

// replanMessages is the plan an enrollment made at enrolled would have had
// with p, as it stands at now. Its shape (which steps, whether the
// enrollment started late, which text carries the opt-out notice) is the
// plan made at enrollment, so that re-planning with an unchanged protocol
// changes nothing; a message whose time has already come is timed as a
// plan made now would time it (now, out of quiet hours, or skipped when
// stale), never in the past.
func replanMessages(p *protocol.Protocol, in protocol.Input, opt protocol.Options, enrolled, now time.Time) ([]aftercare.Message, error) {
	base, err := p.Plan(in, opt, enrolled)
	if err != nil || !now.After(enrolled) {
		return base, err
	}
	fresh, err := p.Plan(in, opt, now)
	if err != nil {
		return nil, err
	}
	byKey := make(map[aftercare.MessageKey]aftercare.Message, len(fresh))
	for _, m := range fresh {
		byKey[m.Key()] = m
	}
	for i := range base {
		m := &base[i]
		if m.Status != aftercare.StatusScheduled || !m.SendAt.Before(now) {
			continue
		}
		f, ok := byKey[m.Key()]
		switch {
		case ok && f.Status == aftercare.StatusScheduled:
			m.SendAt, m.StaleAt, m.NextAttemptAt = f.SendAt, f.StaleAt, f.NextAttemptAt
		case ok:
			m.Status, m.Reason = aftercare.StatusSkipped, f.Reason
		default:
			m.Status, m.Reason = aftercare.StatusSkipped, "stale: its time passed before the re-plan"
		}
	}
	return base, nil
}

// sentCareURL is the page link an enrollment's messages already carry, so
// that re-planned ones carry the same (the store keeps only the token's
// hash); "" when none does.
func (s *Service) sentCareURL(msgs []aftercare.Message) string {
	if s.PublicURL == "" {
		return ""
	}
	prefix := CareURL(s.PublicURL, "")
	for _, m := range msgs {
		for _, body := range []string{m.Body, m.HTMLBody} {
			if i := strings.Index(body, prefix); i >= 0 {
				if tok := body[i+len(prefix):]; len(tok) >= 22 && ValidToken(tok[:22]) {
					return prefix + tok[:22]
				}
			}
		}
	}
	return ""
}
