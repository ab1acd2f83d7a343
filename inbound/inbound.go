// Package inbound acts on what providers send back: delivery receipts and
// patients' replies. It records each in the store in one transaction and
// queues what must go out in response (an answer to HELP, an alert to
// clinic staff and a reply to the patient for a red flag) through the
// outbox, so those are durable and visible in the patient's log too.
package inbound

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/replies"
	"github.com/aftercare/aftercare/store"
)

// Store is what inbound processing needs.
type Store interface {
	PatientsByPhone(ctx context.Context, phone string) ([]aftercare.Patient, error)
	Clinic(ctx context.Context, id int64) (aftercare.Clinic, error)
	Clinics(ctx context.Context) ([]aftercare.Clinic, error)
	RecordReply(ctx context.Context, in store.InboundReply) (bool, error)
	ApplyReceipt(ctx context.Context, r store.Receipt) (aftercare.Message, bool, error)
	SetOptOut(ctx context.Context, patientID int64, ch aftercare.Channel, optOut bool, method aftercare.ConsentMethod, detail string) (int, error)
	MarkAddressBad(ctx context.Context, patientID int64, ch aftercare.Channel, reason string) ([]aftercare.Message, error)
	Requeue(ctx context.Context, id int64, at time.Time, detail string) (bool, error)
}

// Service handles receipts and replies.
type Service struct {
	Store    Store
	Protocol *protocol.Protocol
	Clock    aftercare.Clock
	Log      *slog.Logger
	// DefaultFrom is the global SMS sender, to tell which clinics a reply
	// to it can belong to.
	DefaultFrom string
	// ClassifyReceipt maps a provider's receipt status and error code to an
	// aftercare status, a reason and an action.
	ClassifyReceipt func(status, errorCode string) (aftercare.Status, string, notify.Action)
	// Fallback, if set, is told about SMS that could not reach a bad
	// number so it can send them by email instead.
	Fallback func(ctx context.Context, patientID int64, pending []aftercare.Message)
	// Observe, if set, is told the aftercare status every receipt
	// reports, repeats included ("" when the provider's status is
	// unknown); metrics count receipts with it.
	Observe func(status string)
}

// Receipt is a provider's delivery report.
type Receipt struct {
	ProviderID string
	Status     string // provider's own status word
	ErrorCode  string
}

// HandleReceipt applies a delivery report: sent to delivered or failed,
// never backwards, once per (message, status).
func (s *Service) HandleReceipt(ctx context.Context, r Receipt) error {
	// Receipts are idempotent by construction: ApplyReceipt only moves a
	// message forward, and side effects run only when it did.
	to, reason, action := s.ClassifyReceipt(r.Status, r.ErrorCode)
	if s.Observe != nil {
		s.Observe(string(to))
	}
	if to != aftercare.StatusDelivered && to != aftercare.StatusFailed {
		return nil // queued, sent, ...: the message is already "sent"
	}
	now := s.Clock.Now()
	m, changed, err := s.Store.ApplyReceipt(ctx, store.Receipt{ProviderID: r.ProviderID, Status: to, ErrorCode: r.ErrorCode,
		Reason: reason, At: now})
	if aftercare.ErrorCode(err) == aftercare.ENOTFOUND {
		s.Log.Warn("receipt for an unknown message", "provider_id", r.ProviderID, "status", r.Status)
		return nil
	}
	if err != nil {
		return err
	}
	log := s.Log.With("message_id", m.ID, "clinic_id", m.ClinicID, "channel", string(m.Channel))
	if !changed {
		log.Debug("receipt did not change the message", "status", r.Status, "current", string(m.Status))
		return nil
	}
	log.Info("delivery receipt", "status", string(to), "code", r.ErrorCode)
	if to != aftercare.StatusFailed {
		return nil
	}
	switch action {
	case notify.ActionOptOut:
		_, err = s.Store.SetOptOut(ctx, m.PatientID, m.Channel, true, aftercare.ConsentProvider, "carrier reports unsubscribed ("+r.ErrorCode+")")
	case notify.ActionBadAddress:
		var pending []aftercare.Message
		pending, err = s.Store.MarkAddressBad(ctx, m.PatientID, m.Channel, reason)
		if err == nil && s.Fallback != nil && m.Channel == aftercare.SMS {
			s.Fallback(ctx, m.PatientID, append([]aftercare.Message{m}, pending...))
		}
	case notify.ActionRetryOnce:
		if m.Attempts < 2 {
			at := now.Add(m.StaleAt.Sub(now) / 2)
			if at.Sub(now) > 30*time.Minute {
				at = now.Add(30 * time.Minute)
			}
			var ok bool
			ok, err = s.Store.Requeue(ctx, m.ID, at, "handset unreachable ("+r.ErrorCode+"): one more try")
			if ok {
				log.Info("requeued once after unreachable handset", "at", at)
			}
		}
	case notify.ActionAlertOps:
		log.Error("carrier filtered a message; ops attention needed", "code", r.ErrorCode, "reason", reason)
	}
	return err
}

// Reply is an inbound SMS.
type Reply struct {
	ProviderID string
	From, To   string // E.164
	Body       string
}

// HandleReply records a patient's reply for every clinic that texts this
// number from the number it was sent to, and acts on it.
func (s *Service) HandleReply(ctx context.Context, r Reply) (replies.Kind, error) {
	res := replies.Classify(r.Body)
	patients, err := s.Store.PatientsByPhone(ctx, r.From)
	if err != nil {
		return res.Kind, err
	}
	patients, err = s.matching(ctx, patients, r.To)
	if err != nil {
		return res.Kind, err
	}
	if len(patients) == 0 {
		s.Log.Info("reply from an unknown number ignored")
		return res.Kind, nil
	}
	now := s.Clock.Now()
	for i, p := range patients {
		clinic, err := s.Store.Clinic(ctx, p.ClinicID)
		if err != nil {
			return res.Kind, err
		}
		in := store.InboundReply{
			Reply:  aftercare.Reply{ClinicID: p.ClinicID, PatientID: p.ID, ProviderID: r.ProviderID, Body: r.Body, Kind: string(res.Kind), At: now},
			OptOut: res.Kind == replies.Stop,
			OptIn:  res.Kind == replies.Start,
		}
		// One answer to the patient, however many clinics they belong to.
		answer := i == 0
		switch res.Kind {
		case replies.Help:
			if answer {
				in.Messages, err = s.answer(protocol.ReplyHelp, "reply_help", p, clinic, r.Body, now)
			}
		case replies.RedFlag:
			in.Messages, err = s.redFlag(p, clinic, r.Body, now, answer)
			if clinic.AlertEmail == "" && clinic.OnCallPhone == "" {
				s.Log.Error("red-flag reply but the clinic has no alert_email or on_call_phone; staff must check the patient log",
					"clinic_id", clinic.ID, "patient_id", p.ID, "signs", strings.Join(res.Signs, ", "))
			}
		}
		if err != nil {
			return res.Kind, err
		}
		fresh, err := s.Store.RecordReply(ctx, in)
		if err != nil {
			return res.Kind, err
		}
		if fresh {
			s.Log.Info("patient reply", "clinic_id", p.ClinicID, "patient_id", p.ID, "kind", string(res.Kind), "queued", len(in.Messages))
		}
	}
	return res.Kind, nil
}

// matching keeps the patients whose clinic sends from the number the reply
// went to (or the global sender when the clinic has no number of its own).
func (s *Service) matching(ctx context.Context, ps []aftercare.Patient, to string) ([]aftercare.Patient, error) {
	if len(ps) <= 1 || to == "" {
		return ps, nil
	}
	var out []aftercare.Patient
	for _, p := range ps {
		c, err := s.Store.Clinic(ctx, p.ClinicID)
		if err != nil {
			return nil, err
		}
		if c.SMSFrom == to || (c.SMSFrom == "" && (s.DefaultFrom == "" || s.DefaultFrom == to)) || c.MessagingServiceSID != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return ps, nil // unknown routing: better every clinic sees it than none
	}
	return out, nil
}

func data(p aftercare.Patient, c aftercare.Clinic, reply string) protocol.Data {
	return protocol.Data{FirstName: p.FirstName, PatientName: strings.TrimSpace(p.FirstName + " " + p.LastName),
		PatientPhone: p.Phone, ClinicName: c.Name, ClinicPhone: c.Phone, BookingURL: c.BookingURL, Reply: reply}
}

// answer renders an SMS back to the patient, urgent (exempt from quiet
// hours: they just wrote to us).
func (s *Service) answer(kind protocol.ReplyKind, step string, p aftercare.Patient, c aftercare.Clinic, body string, now time.Time) ([]aftercare.Message, error) {
	content, err := s.Protocol.RenderReply(kind, aftercare.SMS, data(p, c, body))
	if err != nil {
		return nil, err
	}
	return []aftercare.Message{{Step: step, Channel: aftercare.SMS, SendAt: now, StaleAt: now.Add(6 * time.Hour),
		NextAttemptAt: now, Status: aftercare.StatusScheduled, Body: content.Text, Urgent: true}}, nil
}

// redFlag queues the alerts to clinic staff and the answer to the patient.
func (s *Service) redFlag(p aftercare.Patient, c aftercare.Clinic, body string, now time.Time, answer bool) ([]aftercare.Message, error) {
	var out []aftercare.Message
	d := data(p, c, body)
	stale := now.Add(24 * time.Hour)
	if c.AlertEmail != "" {
		content, err := s.Protocol.RenderReply(protocol.ReplyRedFlagAlert, aftercare.Email, d)
		if err != nil {
			return nil, err
		}
		out = append(out, aftercare.Message{Step: "alert_staff", Channel: aftercare.Email, SendAt: now, StaleAt: stale, NextAttemptAt: now,
			Status: aftercare.StatusScheduled, Subject: content.Subject, Body: content.Text, HTMLBody: content.HTML,
			Recipient: c.AlertEmail, Urgent: true})
	}
	if c.OnCallPhone != "" {
		content, err := s.Protocol.RenderReply(protocol.ReplyRedFlagAlert, aftercare.SMS, d)
		if err != nil {
			return nil, err
		}
		out = append(out, aftercare.Message{Step: "alert_staff", Channel: aftercare.SMS, SendAt: now, StaleAt: stale, NextAttemptAt: now,
			Status: aftercare.StatusScheduled, Body: content.Text, Recipient: c.OnCallPhone, Urgent: true})
	}
	if answer {
		ack, err := s.answer(protocol.ReplyRedFlagAck, "reply_red_flag", p, c, body, now)
		if err != nil {
			return nil, err
		}
		out = append(out, ack...)
	}
	return out, nil
}
