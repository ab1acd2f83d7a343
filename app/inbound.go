package app

import (
	"context"
	"fmt"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/store"
)

// unsubscribeSecret returns the key that signs unsubscribe links: the
// configured secret, or one generated once and kept in the database.
func (a *App) unsubscribeSecret(ctx context.Context) ([]byte, error) {
	if a.Config.Secret != "" {
		return []byte(a.Config.Secret), nil
	}
	return a.Store.Secret(ctx, "unsubscribe")
}

// UnsubscribeURL returns the patient's signed one-click unsubscribe link
// ("" when no public URL is configured).
func (a *App) UnsubscribeURL(patientID, clinicID int64) string {
	if a.Config.PublicURL == "" || a.secret == nil {
		return ""
	}
	tok := inbound.SignUnsubscribe(a.secret, patientID, clinicID, a.clock.Now().Add(inbound.UnsubscribeTTL))
	return a.publicURL("/unsubscribe/" + tok)
}

// UnsubscribeLink implements api.Unsubscriber: it verifies a link and
// reads what its page shows, changing nothing.
func (a *App) UnsubscribeLink(ctx context.Context, token string) (api.UnsubscribeLink, error) {
	clinic, p, err := a.unsubscribeTarget(ctx, token)
	if err != nil {
		return api.UnsubscribeLink{}, err
	}
	return api.UnsubscribeLink{Clinic: clinic.Name, Language: aftercare.FirstLanguage(p.Language, clinic.DefaultLanguage), Already: p.EmailOptOut}, nil
}

// unsubscribeTarget verifies token and reads its clinic and patient.
func (a *App) unsubscribeTarget(ctx context.Context, token string) (aftercare.Clinic, aftercare.Patient, error) {
	patientID, clinicID, err := inbound.VerifyUnsubscribe(a.secret, token, a.clock.Now())
	if err != nil {
		return aftercare.Clinic{}, aftercare.Patient{}, aftercare.Errorf(aftercare.ENOTFOUND, "this unsubscribe link is not valid or has expired")
	}
	clinic, err := a.Store.Clinic(ctx, clinicID)
	if err != nil {
		return aftercare.Clinic{}, aftercare.Patient{}, err
	}
	p, err := a.Store.Patient(ctx, clinicID, patientID)
	if err != nil {
		return aftercare.Clinic{}, aftercare.Patient{}, err
	}
	return clinic, p, nil
}

// Unsubscribe implements api.Unsubscriber.
func (a *App) Unsubscribe(ctx context.Context, token string) (string, error) {
	clinic, p, err := a.unsubscribeTarget(ctx, token)
	if err != nil {
		return "", err
	}
	patientID, clinicID := p.ID, clinic.ID
	if p.EmailOptOut {
		return clinic.Name, nil // already unsubscribed: same page, no new evidence row
	}
	n, err := a.Store.SetOptOut(ctx, patientID, aftercare.Email, true, aftercare.ConsentLink, "one-click unsubscribe link")
	if err != nil {
		return "", err
	}
	a.log.Info("patient unsubscribed from email", "clinic_id", clinicID, "patient_id", patientID, "cancelled", n)
	return clinic.Name, nil
}

// fallbackToEmail sends by email the texts a bad number could not take,
// where the patient agreed to email and the step has no email of its own.
func (a *App) fallbackToEmail(ctx context.Context, patientID int64, msgs []aftercare.Message) {
	byEnrollment := map[int64][]aftercare.Message{}
	for _, m := range msgs {
		if m.Channel == aftercare.SMS && m.Recipient == "" {
			byEnrollment[m.EnrollmentID] = append(byEnrollment[m.EnrollmentID], m)
		}
	}
	now := a.clock.Now()
	for enrollmentID, sms := range byEnrollment {
		v, err := a.Store.Enrollment(ctx, sms[0].ClinicID, enrollmentID)
		if err != nil {
			a.log.Error("email fallback: load enrollment", "clinic_id", sms[0].ClinicID, "enrollment_id", enrollmentID, "err", err)
			continue
		}
		if !emailConsented(v) {
			continue
		}
		hasEmail := map[string]bool{}
		for _, m := range v.Messages {
			if m.Channel == aftercare.Email {
				hasEmail[fmt.Sprintf("%s/%d", m.Step, m.Occurrence)] = true
			}
		}
		subject := v.Patient.FirstName + ", a note from " + a.clinicName(ctx, v.Enrollment.ClinicID) + " about your aftercare"
		var add []aftercare.Message
		for _, m := range sms {
			if hasEmail[fmt.Sprintf("%s/%d", m.Step, m.Occurrence)] || !now.Before(m.StaleAt) {
				continue
			}
			send := m.SendAt
			if send.Before(now) {
				send = now
			}
			add = append(add, aftercare.Message{Step: m.Step, Occurrence: m.Occurrence, Channel: aftercare.Email,
				SendAt: send, StaleAt: m.StaleAt, NextAttemptAt: send, Status: aftercare.StatusScheduled,
				Subject: subject,
				Body:    m.Body + "\n\n(We could not text this to your phone number, so we are sending it by email.)"})
		}
		if len(add) == 0 {
			continue
		}
		if err := a.Store.AddMessages(ctx, enrollmentID, add); err != nil {
			a.log.Error("email fallback: add messages", "clinic_id", sms[0].ClinicID, "enrollment_id", enrollmentID, "err", err)
			continue
		}
		a.log.Info("texts fall back to email", "clinic_id", sms[0].ClinicID, "patient_id", patientID, "enrollment_id", enrollmentID,
			"count", len(add))
	}
}

// clinicName names the clinic in a message, or "your clinic" if it cannot
// be read.
func (a *App) clinicName(ctx context.Context, id int64) string {
	c, err := a.Store.Clinic(ctx, id)
	if err != nil {
		return "your clinic"
	}
	return c.Name
}

// emailConsented reads the latest email consent evidence of an enrollment's
// patient.
func emailConsented(v store.EnrollmentView) bool {
	if v.Patient.Email == "" || v.Patient.EmailOptOut || v.Patient.EmailBad != "" {
		return false
	}
	ok := false
	for _, c := range v.Consents {
		if c.Channel == aftercare.Email {
			ok = c.Granted
		}
	}
	return ok
}

// onBadAddress is the dispatcher's hook for a number or address found
// unable to receive while sending; receipts reach fallbackToEmail through
// inbound.Service.Fallback.
func (a *App) onBadAddress(ctx context.Context, patientID int64, ch aftercare.Channel, pending []aftercare.Message) {
	if ch == aftercare.SMS {
		a.fallbackToEmail(ctx, patientID, pending)
	}
}
