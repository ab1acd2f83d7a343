// Package inbound acts on what providers send back: delivery receipts and
// patients' replies. It records each in the store in one transaction and
// queues what must go out in response through the outbox, so those are
// durable and visible in the patient's log too.
//
// A reply belongs to one clinic: of the clinics sending from the number it
// was sent to, the one that texted the patient last. Replies that need
// someone (red flags, ordinary questions) are grouped in one concern per
// patient: staff are alerted once per concern (again after 15 minutes
// while nobody acknowledges it), the patient is answered once per concern
// (an ordinary question at most once a day), and the clinic's inbox lists
// it until resolved. An alert that failed on one route goes by the other;
// one no route could deliver is logged at error level, counted and shown
// in the console. Answers to a patient's own text may reach a patient who
// opted out; nothing else may.
package inbound

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
	RecordReplyOutcome(ctx context.Context, in store.InboundReply) (store.ReplyOutcome, error)
	LastTexted(ctx context.Context, patientID int64) (time.Time, error)
	OptIn(ctx context.Context, patientID int64, ch aftercare.Channel, method aftercare.ConsentMethod, detail string) error
	Patient(ctx context.Context, clinicID, patientID int64) (aftercare.Patient, error)
	ConcernsToRealert(ctx context.Context, now time.Time) ([]aftercare.Concern, error)
	Realert(ctx context.Context, c aftercare.Concern, msgs []aftercare.Message) (bool, error)
	ConcernReplies(ctx context.Context, concernID int64) ([]aftercare.Reply, error)
	AlertStates(ctx context.Context) ([]store.AlertState, error)
	QueueAlerts(ctx context.Context, c aftercare.Concern, msgs []aftercare.Message) error
	MarkAlertUndeliverable(ctx context.Context, concernID int64, why string) (bool, error)
	ApplyReceipt(ctx context.Context, r store.Receipt) (aftercare.Message, bool, error)
	SetOptOut(ctx context.Context, patientID int64, ch aftercare.Channel, optOut bool, method aftercare.ConsentMethod, detail string) (int, error)
	MarkAddressBad(ctx context.Context, patientID int64, ch aftercare.Channel, reason string) ([]aftercare.Message, error)
	Requeue(ctx context.Context, id int64, at time.Time, detail string) (bool, error)
	// OpenQuestion finds the check-in question a reply may answer.
	OpenQuestion(ctx context.Context, patientID int64, windows map[string]time.Duration, now time.Time) (store.OpenQuestion, bool, error)
}

// ReplyProtocols picks the protocol whose reply texts answer a patient: the
// one of the patient's latest treatment in language, as the clinic plans
// with it.
type ReplyProtocols interface {
	ReplyProtocol(ctx context.Context, c aftercare.Clinic, p aftercare.Patient, language string) (*protocol.Protocol, error)
}

// Service handles receipts and replies.
type Service struct {
	Store Store
	// Protocol writes the alerts to clinic staff, and the answers to
	// patients when Replies is nil.
	Protocol *protocol.Protocol
	// Replies picks the protocol of each answer to a patient, in the
	// patient's language.
	Replies ReplyProtocols
	Clock   aftercare.Clock
	Log     *slog.Logger
	// DefaultFrom is the global SMS sender, to tell which clinics a reply
	// to it can belong to.
	DefaultFrom string
	// NoOptOutConfirmation turns off the one text confirming an opt-out
	// (when Twilio Advanced Opt-Out already sends one).
	NoOptOutConfirmation bool
	// Undeliverable, if set, is told each time an alert about a red flag
	// could not reach clinic staff by any route (metrics count them).
	Undeliverable func(clinicID int64)
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
	// Answered, if set, is told the outcome of each check-in answer
	// recorded (aftercare.CheckinHealing, ...; not repeats): metrics count
	// them.
	Answered func(outcome string)
	// Quiet is the daemon's quiet hours (zero: protocol.DefaultQuietHours),
	// for follow-up questions of clinics that set none.
	Quiet protocol.QuietHours
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
	// What the receipt's action asks for is notify.Decide's to say, as for
	// a failed send.
	dec := notify.Decide(notify.Failure{Action: action, Staff: m.Recipient != "", Sends: m.Attempts, Now: now, StaleAt: m.StaleAt})
	switch dec.Effect {
	case notify.EffectOptOut:
		_, err = s.Store.SetOptOut(ctx, m.PatientID, m.Channel, true, aftercare.ConsentProvider, dec.Reason+" ("+r.ErrorCode+")")
	case notify.EffectMarkBad:
		var pending []aftercare.Message
		pending, err = s.Store.MarkAddressBad(ctx, m.PatientID, m.Channel, reason)
		if err == nil && s.Fallback != nil && m.Channel == aftercare.SMS {
			s.Fallback(ctx, m.PatientID, append([]aftercare.Message{m}, pending...))
		}
	case notify.EffectRetry:
		var ok bool
		ok, err = s.Store.Requeue(ctx, m.ID, dec.RetryAt, dec.Reason+" ("+r.ErrorCode+")")
		if ok {
			log.Info("requeued once after unreachable handset", "at", dec.RetryAt)
		}
	case notify.EffectGiveUp:
		log.Info("not requeued", "why", dec.Reason)
	case notify.EffectCheckClinic:
		// An alert to clinic staff: the patient's own record is fine.
		log.Error("staff alert route unusable; check the clinic's alert_email and on_call_phone",
			"why", dec.Reason, "code", r.ErrorCode, "reason", reason)
	case notify.EffectAlertOps:
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

// Steps of the texts aftercare queues in answer to a reply.
const (
	stepAlert         = "alert_staff"
	stepAlertRepeat   = "alert_staff_repeat"
	stepAlertFallback = "alert_staff_fallback"
	stepRedFlagAnswer = "reply_red_flag"
	stepOptedOut      = "reply_opted_out"
)

// HandleReply acts on a patient's reply. It belongs to one clinic: of the
// clinics that send from the number it was sent to, the one that most
// recently texted the patient. Its text, its alerts and its answer go
// there only. STOP and START apply at every clinic sending from that
// number (it is the number the patient asked to stop). A reply to a
// number no clinic sends from changes nothing.
func (s *Service) HandleReply(ctx context.Context, r Reply) (replies.Kind, error) {
	res := replies.Classify(r.Body)
	patients, err := s.Store.PatientsByPhone(ctx, r.From)
	if err != nil {
		return res.Kind, err
	}
	if len(patients) == 0 {
		s.Log.Info("reply from an unknown number ignored")
		return res.Kind, nil
	}
	candidates, err := s.sendingFrom(ctx, patients, r.To)
	if err != nil {
		return res.Kind, err
	}
	if len(candidates) == 0 {
		s.Log.Warn("reply to a number no clinic sends from; nothing changed", "patients", len(patients), "kind", string(res.Kind))
		return res.Kind, nil
	}
	owner, err := s.owner(ctx, candidates)
	if err != nil {
		return res.Kind, err
	}
	now := s.Clock.Now()
	clinic := owner.clinic
	p := owner.patient
	in := store.InboundReply{
		Reply:  aftercare.Reply{ClinicID: p.ClinicID, PatientID: p.ID, ProviderID: r.ProviderID, Body: r.Body, Kind: string(res.Kind), At: now},
		OptOut: res.OptOut || res.Kind == replies.Stop,
		OptIn:  res.Kind == replies.Start,
	}
	d := data(p, clinic, r.Body)
	pr, err := s.replyProtocol(ctx, clinic, p, AnswerLanguage(p, clinic, res))
	if err != nil {
		return res.Kind, err
	}
	// A reply while a check-in question is open may answer it: a digit
	// branches as the protocol says; "3" (or red-flag words) always takes
	// the red-flag path below.
	ck, err := s.checkin(ctx, pr, clinic, p, r.Body, res, now)
	if err != nil {
		return res.Kind, err
	}
	signs := res.Explain()
	if ck != nil {
		in.Checkin = ck.answer
		if ck.redFlag && res.Kind != replies.RedFlag {
			res.Kind, in.Reply.Kind, signs = replies.RedFlag, string(replies.RedFlag), "check-in answer "+ck.digit+": a red flag"
			if ck.answer == nil {
				signs = "check-in answer " + ck.digit + " after the question closed: a red flag"
			}
		}
	}
	switch {
	case ck != nil && !ck.redFlag:
		in.Messages = ck.messages
	case res.Kind == replies.Help:
		in.Messages, err = s.answer(pr, protocol.ReplyHelp, "reply_help", d, now)
	case res.Kind == replies.RedFlag, res.Kind == replies.Other:
		in.Concern = &store.ConcernReply{RedFlag: res.Kind == replies.RedFlag, Emergency: res.Emergency, Signs: signs,
			Respond: func(dec store.ConcernDecision) ([]aftercare.Message, error) {
				return s.respond(pr, p, clinic, dec, now)
			}}
	}
	if err != nil {
		return res.Kind, err
	}
	if in.OptOut && !s.NoOptOutConfirmation {
		if in.Confirm, err = s.answer(pr, protocol.ReplyOptedOut, stepOptedOut, d, now); err != nil {
			return res.Kind, err
		}
	}
	out, err := s.Store.RecordReplyOutcome(ctx, in)
	if err != nil {
		return res.Kind, err
	}
	if !out.Fresh {
		return res.Kind, nil
	}
	log := s.Log.With("clinic_id", p.ClinicID, "patient_id", p.ID)
	log.Info("patient reply", "kind", string(res.Kind), "queued", out.Queued, "concern_id", out.Decision.Concern.ID,
		"alert", out.Decision.Alert, "opted_out_before", p.SMSOptOut)
	if in.Checkin != nil {
		log.Info("check-in answer", "step", in.Checkin.Question.Step, "day", in.Checkin.Day, "outcome", in.Checkin.Outcome,
			"follow_up", in.Checkin.FollowUp != nil)
		if s.Answered != nil {
			s.Answered(in.Checkin.Outcome)
		}
	}
	if out.Decision.Alert && !clinic.HasAlertRoute() {
		s.undeliverable(ctx, log, out.Decision.Concern, "the clinic has no alert_email and no on_call_phone", "none")
	}
	// The same number at other clinics: STOP and START are about the
	// number, so they apply there too; nothing else does.
	for _, c := range candidates {
		if c.patient.ID == p.ID {
			continue
		}
		switch {
		case in.OptOut && !c.patient.SMSOptOut:
			n, err := s.Store.SetOptOut(ctx, c.patient.ID, aftercare.SMS, true, aftercare.ConsentSMSReply, "patient replied "+string(res.Kind)+" to a number this clinic shares")
			if err != nil {
				return res.Kind, err
			}
			s.Log.Info("patient opted out at a clinic sharing the number", "clinic_id", c.clinic.ID, "patient_id", c.patient.ID, "cancelled", n)
		case in.OptIn && c.patient.SMSOptOut:
			if err := s.Store.OptIn(ctx, c.patient.ID, aftercare.SMS, aftercare.ConsentSMSReply, "patient replied START to a number this clinic shares"); err != nil {
				return res.Kind, err
			}
			s.Log.Info("patient opted back in at a clinic sharing the number", "clinic_id", c.clinic.ID, "patient_id", c.patient.ID)
		}
	}
	return res.Kind, nil
}

// candidate is a patient record at a clinic that sends from the number a
// reply went to.
type candidate struct {
	patient aftercare.Patient
	clinic  aftercare.Clinic
}

// sendingFrom keeps the patients whose clinic sends from the number to: its
// own number, or the global sender when it has none. A clinic that sends
// through a Messaging Service and names no number of its own may send from
// any number of the service: it counts only when no clinic names to.
func (s *Service) sendingFrom(ctx context.Context, ps []aftercare.Patient, to string) ([]candidate, error) {
	var exact, service []candidate
	for _, p := range ps {
		c, err := s.Store.Clinic(ctx, p.ClinicID)
		if err != nil {
			return nil, err
		}
		switch {
		case to == "":
			exact = append(exact, candidate{p, c}) // no routing information
		case c.SMSFrom != "":
			if c.SMSFrom == to {
				exact = append(exact, candidate{p, c})
			}
		case c.MessagingServiceSID != "":
			service = append(service, candidate{p, c})
		case s.DefaultFrom == "" || s.DefaultFrom == to:
			exact = append(exact, candidate{p, c})
		}
	}
	if len(exact) > 0 {
		return exact, nil
	}
	return service, nil
}

// owner picks the clinic that most recently texted the patient (from the
// number: every candidate sends from it); when none has yet, the newest
// patient record.
func (s *Service) owner(ctx context.Context, cs []candidate) (candidate, error) {
	best, bestAt := cs[0], time.Time{}
	for i, c := range cs {
		at, err := s.Store.LastTexted(ctx, c.patient.ID)
		if err != nil {
			return candidate{}, err
		}
		if i == 0 || at.After(bestAt) || at.Equal(bestAt) && c.patient.ID > best.patient.ID {
			best, bestAt = c, at
		}
	}
	return best, nil
}

// AnswerLanguage is the language a patient is answered in: the one the
// clinic recorded for the patient, else the one the patient wrote in, else
// the clinic's default, else English.
func AnswerLanguage(p aftercare.Patient, c aftercare.Clinic, res replies.Result) string {
	return aftercare.FirstLanguage(p.Language, res.Language, c.DefaultLanguage)
}

// replyProtocol is the protocol that answers p in language.
func (s *Service) replyProtocol(ctx context.Context, c aftercare.Clinic, p aftercare.Patient, language string) (*protocol.Protocol, error) {
	if s.Replies == nil {
		return s.Protocol, nil
	}
	pr, err := s.Replies.ReplyProtocol(ctx, c, p, language)
	if err != nil {
		return nil, fmt.Errorf("reply protocol: %w", err)
	}
	return pr, nil
}

func data(p aftercare.Patient, c aftercare.Clinic, reply string) protocol.Data {
	return protocol.Data{FirstName: p.FirstName, PatientName: strings.TrimSpace(p.FirstName + " " + p.LastName),
		PatientPhone: p.Phone, ClinicName: c.Name, ClinicPhone: c.Phone, BookingURL: c.BookingURL, Reply: reply,
		AfterHoursPhone: c.AfterHoursPhone}
}

// answer renders an SMS back to the patient: urgent (exempt from quiet
// hours: they just wrote to us) and an answer (it may reach a patient who
// opted out, since they wrote).
func (s *Service) answer(pr *protocol.Protocol, kind protocol.ReplyKind, step string, d protocol.Data, now time.Time) ([]aftercare.Message, error) {
	content, err := pr.RenderReply(kind, aftercare.SMS, d)
	if err != nil {
		return nil, err
	}
	return []aftercare.Message{{Step: step, Channel: aftercare.SMS, SendAt: now, StaleAt: now.Add(6 * time.Hour),
		NextAttemptAt: now, Status: aftercare.StatusScheduled, Body: content.Text, Urgent: true, Answer: true}}, nil
}

// respond turns a concern decision into texts: the alerts to staff, the
// answer to the patient.
func (s *Service) respond(pr *protocol.Protocol, p aftercare.Patient, c aftercare.Clinic, dec store.ConcernDecision, now time.Time) ([]aftercare.Message, error) {
	var out []aftercare.Message
	d := data(p, c, "")
	if dec.Alert {
		alerts, err := s.alerts(p, c, dec.Concern, dec.Replies, stepAlert, routes(c), now)
		if err != nil {
			return nil, err
		}
		out = append(out, alerts...)
	}
	if dec.Answer {
		kind := protocol.ReplyRedFlagAnswer
		if dec.Concern.Emergency {
			kind = protocol.ReplyEmergency
		}
		ms, err := s.answer(pr, kind, stepRedFlagAnswer, d, now)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	if dec.QuestionAnswer {
		ms, err := s.answer(pr, protocol.ReplyQuestion, store.QuestionAnswerStep, d, now)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

// routes lists the clinic's alert routes.
func routes(c aftercare.Clinic) []aftercare.Channel {
	var out []aftercare.Channel
	if c.AlertEmail != "" {
		out = append(out, aftercare.Email)
	}
	if c.OnCallPhone != "" {
		out = append(out, aftercare.SMS)
	}
	return out
}

// alerts renders the alert about a concern on each route given: every
// text of the concern, which sign matched which words, the alert number.
func (s *Service) alerts(p aftercare.Patient, c aftercare.Clinic, con aftercare.Concern, rs []aftercare.Reply, step string, via []aftercare.Channel, now time.Time) ([]aftercare.Message, error) {
	d := data(p, c, "")
	var lines []string
	for _, r := range rs {
		lines = append(lines, r.Body)
	}
	d.Reply, d.ReplyCount = strings.Join(lines, "\n"), len(rs)
	d.Signs, d.Emergency, d.Alert = con.Signs, con.Emergency, con.Alerts
	if d.Signs == "" {
		d.Signs = "red-flag words"
	}
	stale := now.Add(24 * time.Hour)
	var out []aftercare.Message
	for _, ch := range via {
		content, err := s.Protocol.RenderReply(protocol.ReplyConcernAlert, ch, d)
		if err != nil {
			return nil, err
		}
		m := aftercare.Message{Step: step, Channel: ch, SendAt: now, StaleAt: stale, NextAttemptAt: now,
			Status: aftercare.StatusScheduled, Subject: content.Subject, Body: content.Text, HTMLBody: content.HTML, Urgent: true}
		if ch == aftercare.Email {
			m.Recipient = c.AlertEmail
		} else {
			m.Recipient = c.OnCallPhone
		}
		out = append(out, m)
	}
	return out, nil
}

// RunOnce is the conversation housekeeping: it alerts staff again about
// red flags nobody acknowledged within store.RealertAfter, sends an alert
// that failed on one route by the other, and reports alerts that reached
// nobody (an error log line and the Undeliverable hook; the console shows
// a banner). cron triggers it; tests call it on a virtual clock.
func (s *Service) RunOnce(ctx context.Context) error {
	now := s.Clock.Now()
	due, err := s.Store.ConcernsToRealert(ctx, now)
	if err != nil {
		return fmt.Errorf("conversations: %w", err)
	}
	for _, con := range due {
		if err := s.realert(ctx, con, now); err != nil {
			return fmt.Errorf("conversations: %w", err)
		}
	}
	states, err := s.Store.AlertStates(ctx)
	if err != nil {
		return fmt.Errorf("conversations: %w", err)
	}
	for _, st := range states {
		if err := s.checkAlerts(ctx, st, now); err != nil {
			return fmt.Errorf("conversations: %w", err)
		}
	}
	return nil
}

func (s *Service) realert(ctx context.Context, con aftercare.Concern, now time.Time) error {
	c, err := s.Store.Clinic(ctx, con.ClinicID)
	if err != nil {
		return err
	}
	p, err := s.Store.Patient(ctx, con.ClinicID, con.PatientID)
	if err != nil {
		return err
	}
	rs, err := s.Store.ConcernReplies(ctx, con.ID)
	if err != nil {
		return err
	}
	next := con
	next.Alerts++
	msgs, err := s.alerts(p, c, next, rs, stepAlertRepeat, routes(c), now)
	if err != nil {
		return err
	}
	for i := range msgs {
		msgs[i].Occurrence = int(con.ID)*100 + next.Alerts
	}
	ok, err := s.Store.Realert(ctx, con, msgs)
	if err != nil || !ok {
		return err
	}
	s.Log.Warn("red flag not acknowledged; clinic staff alerted again", "clinic_id", con.ClinicID, "patient_id", con.PatientID,
		"concern_id", con.ID, "alert", next.Alerts, "minutes_open", int(now.Sub(con.OpenedAt).Minutes()))
	return nil
}

// checkAlerts sends an alert by the other route when one route failed for
// good and the other was never tried, and reports an alert no route could
// deliver.
func (s *Service) checkAlerts(ctx context.Context, st store.AlertState, now time.Time) error {
	if st.Delivered || st.Pending || len(st.Failed) == 0 {
		return nil
	}
	con := st.Concern
	c, err := s.Store.Clinic(ctx, con.ClinicID)
	if err != nil {
		return err
	}
	var untried []aftercare.Channel
	for _, ch := range routes(c) {
		if len(st.Failed[ch]) == 0 {
			untried = append(untried, ch)
		}
	}
	log := s.Log.With("clinic_id", con.ClinicID, "patient_id", con.PatientID, "concern_id", con.ID)
	if len(untried) > 0 {
		p, err := s.Store.Patient(ctx, con.ClinicID, con.PatientID)
		if err != nil {
			return err
		}
		rs, err := s.Store.ConcernReplies(ctx, con.ID)
		if err != nil {
			return err
		}
		msgs, err := s.alerts(p, c, con, rs, stepAlertFallback, untried, now)
		if err != nil {
			return err
		}
		for i := range msgs {
			msgs[i].Occurrence = int(con.ID)*100 + con.Alerts
		}
		if err := s.Store.QueueAlerts(ctx, con, msgs); err != nil {
			return err
		}
		log.Warn("alert failed on one route; sending it by the other", "failed", channels(st.Failed), "via", chList(untried))
		return nil
	}
	var why []string
	for _, ch := range []aftercare.Channel{aftercare.Email, aftercare.SMS} {
		for _, m := range st.Failed[ch] {
			why = append(why, string(ch)+": "+m.Reason)
		}
	}
	slices.Sort(why)
	why = slices.Compact(why)
	s.undeliverable(ctx, log, con, strings.Join(why, "; "), channels(st.Failed))
	return nil
}

func channels(m map[aftercare.Channel][]aftercare.Message) string {
	var out []aftercare.Channel
	for ch := range m {
		out = append(out, ch)
	}
	slices.Sort(out)
	return chList(out)
}

func chList(chs []aftercare.Channel) string {
	s := make([]string, len(chs))
	for i, ch := range chs {
		s[i] = string(ch)
	}
	return strings.Join(s, ",")
}

// undeliverable records that an alert about a concern reached nobody:
// the concern carries it (the console shows a banner), an error-level log
// line, and the Undeliverable hook (a metric).
func (s *Service) undeliverable(ctx context.Context, log *slog.Logger, con aftercare.Concern, why, failed string) {
	changed, err := s.Store.MarkAlertUndeliverable(ctx, con.ID, why)
	if err != nil {
		log.Error("record undeliverable alert", "err", err)
	}
	if err == nil && !changed {
		return
	}
	log.Error("red-flag alert could not be delivered to clinic staff by any route; staff must check the console inbox",
		"routes_failed", failed)
	if s.Undeliverable != nil {
		s.Undeliverable(con.ClinicID)
	}
}
