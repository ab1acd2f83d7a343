package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/metrics"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/store"
)

const (
	patientPhone = "+14155550123"
	onCallPhone  = "+14155550199"
	staffEmail   = "staff@glow.example"
)

// conversation enrolls a patient treated at 10:00 New York time and
// delivers the first texts, so the clinic has texted them.
func conversation(t *testing.T) (*harness, int64) {
	t.Helper()
	return conversationOn(t, "")
}

// conversationOn is conversation on the database db names ("":
// testsupport.DB).
func conversationOn(t *testing.T, db string) (*harness, int64) {
	t.Helper()
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarnessOn(t, treated.Add(time.Minute), db)
	id := h.enroll(treated, patientPhone, 1, 3)
	h.runUntil(treated.Add(30 * time.Minute))
	if len(h.tw.Sent()) == 0 {
		t.Fatal("no welcome text")
	}
	return h, id
}

// text posts a patient's SMS to the inbound webhook, signed like Twilio.
func (h *harness) text(from, to, body string) {
	h.t.Helper()
	if code := h.webhook("/webhooks/twilio/inbound", twiliotest.InboundForm(accountSID, from, to, body), true); code != 200 {
		h.t.Fatalf("inbound %q: %d", body, code)
	}
}

// since counts the texts sent to a number after the first n, and returns them.
func (h *harness) textsTo(n int, to string) []twiliotest.Message {
	var out []twiliotest.Message
	for _, m := range h.tw.Sent()[n:] {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// mailsTo returns the emails received after the first n for rcpt, parsed.
func (h *harness) mailsTo(n int, rcpt string) []string {
	h.t.Helper()
	var out []string
	for _, e := range h.mail.Messages()[n:] {
		for _, rc := range e.To {
			if rc == rcpt {
				p, err := e.Parse()
				if err != nil {
					h.t.Fatal(err)
				}
				out = append(out, p.Subject+"\n"+p.Text)
			}
		}
	}
	return out
}

func (h *harness) housekeeping() {
	h.t.Helper()
	if err := h.app.Inbound.RunOnce(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.runUntil(h.clock.Now())
}

func (h *harness) advance(d time.Duration) { h.clock.Set(h.clock.Now().Add(d)) }

func TestRedFlagFloodAlertsOnceAndAnswersOnce(t *testing.T) {
	h, _ := conversation(t)
	texts, mails := len(h.tw.Sent()), len(h.mail.Messages())
	for i := range 7 {
		h.text(patientPhone, fromNumber, fmt.Sprintf("my face is so swollen and there is pus (%d)", i+1))
		h.advance(8 * time.Second)
	}
	h.runUntil(h.clock.Now().Add(time.Minute))

	if got := h.textsTo(texts, onCallPhone); len(got) != 1 {
		t.Fatalf("on-call texts after 7 red flags: %d, want 1", len(got))
	}
	answers := h.textsTo(texts, patientPhone)
	if len(answers) != 1 || !strings.Contains(answers[0].Body, "+14155550111") {
		t.Fatalf("answers to the patient: %+v, want one with the clinic's phone", answers)
	}
	alerts := h.mailsTo(mails, staffEmail)
	if len(alerts) != 1 || !strings.Contains(alerts[0], "Why: ") || strings.Contains(alerts[0], "Why: red-flag words") || !strings.Contains(alerts[0], "(1)") {
		t.Fatalf("alert emails: %q, want one naming the sign and the first text", alerts)
	}
	items, err := h.app.Store.Inbox(context.Background(), h.clinic.ID, false, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || len(items[0].Replies) != 7 || items[0].Concern.Kind != aftercare.ConcernRedFlag || items[0].Concern.Alerts != 1 {
		t.Fatalf("inbox: %+v, want one red-flag concern holding all 7 texts, alerted once", items)
	}
}

func TestUnacknowledgedRedFlagIsAlertedAgainAfter15Minutes(t *testing.T) {
	h, _ := conversation(t)
	h.text(patientPhone, fromNumber, "there is yellow pus coming out")
	h.advance(30 * time.Second)
	h.text(patientPhone, fromNumber, "and now I have a fever")
	h.runUntil(h.clock.Now().Add(time.Minute))
	texts, mails := len(h.tw.Sent()), len(h.mail.Messages())

	h.advance(13 * time.Minute) // 14.5 minutes after the alert
	h.housekeeping()
	if got := h.textsTo(texts, onCallPhone); len(got) != 0 {
		t.Fatalf("re-alerted before 15 minutes: %+v", got)
	}
	h.advance(time.Minute)
	h.housekeeping()
	again := h.textsTo(texts, onCallPhone)
	if len(again) != 1 || !strings.Contains(again[0].Body, "repeat 2") {
		t.Fatalf("re-alert texts after 15 minutes: %+v", again)
	}
	mail := h.mailsTo(mails, staffEmail)
	if len(mail) != 1 || !strings.Contains(mail[0], "yellow pus") || !strings.Contains(mail[0], "fever") {
		t.Fatalf("re-alert email: %q, want one with every text of the concern", mail)
	}
	if got := h.textsTo(texts, patientPhone); len(got) != 0 {
		t.Fatalf("the patient was answered again: %+v", got)
	}
	// Running housekeeping twice at the same instant alerts no more.
	h.housekeeping()
	if got := h.textsTo(texts, onCallPhone); len(got) != 1 {
		t.Fatalf("a second pass re-alerted: %d", len(got))
	}

	items, err := h.app.Store.Inbox(context.Background(), h.clinic.ID, false, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("inbox: %v %v", items, err)
	}
	if err := h.app.Store.AcknowledgeConcern(context.Background(), h.clinic.ID, items[0].Concern.ID, "nurse@glow.example"); err != nil {
		t.Fatal(err)
	}
	texts = len(h.tw.Sent())
	for range 4 {
		h.advance(15 * time.Minute)
		h.housekeeping()
	}
	if got := h.textsTo(texts, onCallPhone); len(got) != 0 {
		t.Fatalf("re-alerted after acknowledgment: %+v", got)
	}
}

func TestOrdinaryReplyIsAnsweredOnceADayAndWaitsInTheInbox(t *testing.T) {
	h, _ := conversation(t)
	texts, mails := len(h.tw.Sent()), len(h.mail.Messages())
	h.text(patientPhone, fromNumber, "is it normal to be red on day 2?")
	h.advance(time.Hour)
	h.text(patientPhone, fromNumber, "can I use retinol tomorrow?")
	h.runUntil(h.clock.Now().Add(time.Minute))

	answers := h.textsTo(texts, patientPhone)
	if len(answers) != 1 {
		t.Fatalf("automatic answers on one day: %d, want 1", len(answers))
	}
	for _, want := range []string{"not watched around the clock", "+14155550111", "pus"} {
		if !strings.Contains(answers[0].Body, want) {
			t.Errorf("answer lacks %q: %q", want, answers[0].Body)
		}
	}
	if got := h.textsTo(texts, onCallPhone); len(got) != 0 || len(h.mailsTo(mails, staffEmail)) != 0 {
		t.Fatal("a question alerted staff")
	}
	counts, err := h.app.Store.InboxCounts(context.Background(), h.clinic.ID)
	if err != nil || counts.Questions != 1 || counts.RedFlags != 0 {
		t.Fatalf("inbox counts: %+v %v", counts, err)
	}

	h.advance(24 * time.Hour)
	h.text(patientPhone, fromNumber, "also, when can I wear makeup?")
	h.runUntil(h.clock.Now().Add(time.Minute))
	n := 0
	for _, m := range h.textsTo(texts, patientPhone) {
		if strings.Contains(m.Body, "not watched") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("automatic answers over two days: %d, want 2", n)
	}
}

func TestEmergencyAnswerSaysCall911First(t *testing.T) {
	h, _ := conversation(t) // the real classifier
	texts := len(h.tw.Sent())
	h.text(patientPhone, fromNumber, "I feel faint")
	h.runUntil(h.clock.Now().Add(time.Minute))
	got := h.textsTo(texts, patientPhone)
	if len(got) != 1 {
		t.Fatalf("answers: %d", len(got))
	}
	body := got[0].Body
	if i, j := strings.Index(body, "911"), strings.Index(body, "+14155550111"); i < 0 || j < 0 || i > j {
		t.Fatalf("emergency answer must say 911 before the clinic's phone: %q", body)
	}
	if alert := h.textsTo(texts, onCallPhone); len(alert) != 1 || !strings.Contains(alert[0].Body, "EMERGENCY") || !strings.Contains(alert[0].Body, "feel faint") {
		t.Fatalf("emergency alert: %+v", alert)
	}
}

func TestRedFlagAfterStopIsAnsweredAndAlerted(t *testing.T) {
	h, id := conversation(t)
	c := h.clinic
	c.AfterHoursPhone = "+14155550177"
	if err := h.app.Store.UpdateClinic(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.text(patientPhone, fromNumber, "STOP")
	h.runUntil(h.clock.Now().Add(time.Minute))
	texts, mails := len(h.tw.Sent()), len(h.mail.Messages())

	h.text(patientPhone, fromNumber, "I have pus and a fever now")
	h.runUntil(h.clock.Now().Add(time.Minute))
	answers := h.textsTo(texts, patientPhone)
	if len(answers) != 1 || !strings.Contains(answers[0].Body, "+14155550111") || !strings.Contains(answers[0].Body, "+14155550177") {
		t.Fatalf("answers after STOP: %+v, want one with the clinic's phone and after-hours number", answers)
	}
	if len(h.textsTo(texts, onCallPhone)) != 1 || len(h.mailsTo(mails, staffEmail)) != 1 {
		t.Fatal("staff not alerted about a red flag after STOP")
	}
	// Nothing else reaches the opted-out patient.
	texts = len(h.tw.Sent())
	ny, _ := time.LoadLocation("America/New_York")
	h.runUntil(time.Date(2026, 12, 20, 12, 0, 0, 0, ny))
	if got := h.textsTo(texts, patientPhone); len(got) != 0 {
		t.Fatalf("texts to an opted-out patient: %+v", got)
	}
	if p := h.enrollment(id)["patient"].(map[string]any); p["sms_opt_out"] != true {
		t.Fatal("the red flag opted the patient back in")
	}
}

func TestRedFlagThatSaysStopIsBothAnOptOutAndAnAlert(t *testing.T) {
	h, id := conversation(t) // the real classifier
	texts := len(h.tw.Sent())
	h.text(patientPhone, fromNumber, "there is pus, stop texting me")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if p := h.enrollment(id)["patient"].(map[string]any); p["sms_opt_out"] != true {
		t.Fatal("not opted out")
	}
	if len(h.textsTo(texts, onCallPhone)) != 1 {
		t.Fatal("no alert")
	}
	got := h.textsTo(texts, patientPhone)
	if len(got) != 2 { // the red-flag answer and the one confirmation
		t.Fatalf("texts to the patient: %+v", got)
	}
}

func TestOptOutConfirmationCanBeTurnedOff(t *testing.T) {
	h, _ := conversation(t)
	h.app.Inbound.NoOptOutConfirmation = true
	texts := len(h.tw.Sent())
	h.text(patientPhone, fromNumber, "STOP")
	h.runUntil(h.clock.Now().Add(time.Minute))
	if got := h.textsTo(texts, patientPhone); len(got) != 0 {
		t.Fatalf("confirmation sent although turned off: %+v", got)
	}
}

func TestReplyGoesOnlyToTheClinicThatLastTextedFromThatNumber(t *testing.T) {
	h, _ := conversation(t) // clinic A texted the patient at 10:01
	ctx := context.Background()
	b, keyB, err := h.app.Store.CreateClinic(ctx, aftercare.Clinic{Name: "Bloom Clinic", Phone: "+14155550222",
		Timezone: "America/New_York", AlertEmail: "staff@bloom.example"})
	if err != nil {
		t.Fatal(err)
	}
	cOwn, keyC, err := h.app.Store.CreateClinic(ctx, aftercare.Clinic{Name: "Own Number Clinic", Phone: "+14155550333",
		Timezone: "America/New_York", AlertEmail: "staff@own.example", SMSFrom: "+14155550155"})
	if err != nil {
		t.Fatal(err)
	}
	keyA := h.key
	h.advance(time.Hour)
	h.key = keyB
	h.enroll(h.clock.Now().Add(-time.Hour), patientPhone, 1, 1) // B texts the patient last, from the same number
	h.key = keyC
	h.enroll(h.clock.Now().Add(-time.Hour), patientPhone, 1, 1)
	h.key = keyA
	h.runUntil(h.clock.Now().Add(time.Minute))

	patients, err := h.app.Store.PatientsByPhone(ctx, patientPhone)
	if err != nil || len(patients) != 3 {
		t.Fatalf("patients: %v %v", patients, err)
	}
	at := map[int64]aftercare.Patient{}
	for _, p := range patients {
		at[p.ClinicID] = p
	}
	mails := len(h.mail.Messages())
	h.text(patientPhone, fromNumber, "my face is very swollen and there is pus")
	h.runUntil(h.clock.Now().Add(time.Minute))
	for clinicID, want := range map[int64]int{h.clinic.ID: 0, b.ID: 1, cOwn.ID: 0} {
		rs, err := h.app.Store.Replies(ctx, at[clinicID].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != want {
			t.Errorf("clinic %d stored %d replies, want %d", clinicID, len(rs), want)
		}
	}
	if got := h.mailsTo(mails, staffEmail); len(got) != 0 {
		t.Fatalf("the other clinic's staff got the patient's words: %q", got)
	}
	if got := h.mailsTo(mails, "staff@bloom.example"); len(got) != 1 {
		t.Fatalf("alerts to the clinic that last texted: %d", len(got))
	}

	// STOP to the shared number stops both clinics that send from it, not
	// the clinic with its own number; one confirmation.
	texts := len(h.tw.Sent())
	h.text(patientPhone, fromNumber, "STOP")
	h.runUntil(h.clock.Now().Add(time.Minute))
	for clinicID, want := range map[int64]bool{h.clinic.ID: true, b.ID: true, cOwn.ID: false} {
		p, err := h.app.Store.Patient(ctx, clinicID, at[clinicID].ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.SMSOptOut != want {
			t.Errorf("clinic %d opted out = %v, want %v", clinicID, p.SMSOptOut, want)
		}
	}
	if got := h.textsTo(texts, patientPhone); len(got) != 1 {
		t.Fatalf("confirmations: %d, want 1", len(got))
	}

	// A text to a number no clinic sends from changes nothing, and the log
	// does not carry the phone.
	h.logs.Reset()
	h.text(patientPhone, "+14155550999", "START")
	h.text(patientPhone, "+14155550999", "there is pus everywhere")
	for clinicID := range at {
		p, _ := h.app.Store.Patient(ctx, clinicID, at[clinicID].ID)
		rs, _ := h.app.Store.Replies(ctx, p.ID)
		if clinicID != cOwn.ID && !p.SMSOptOut {
			t.Errorf("START to an unknown number opted the patient back in at clinic %d", clinicID)
		}
		for _, r := range rs {
			if strings.Contains(r.Body, "everywhere") {
				t.Errorf("a text to an unknown number was stored at clinic %d", clinicID)
			}
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "no clinic sends from") {
		t.Fatalf("no log line for a text to an unknown number:\n%s", logs)
	}
	if strings.Contains(logs, "5550123") || strings.Contains(logs, "5550999") {
		t.Fatalf("log carries a phone number:\n%s", logs)
	}
}

func TestAlertFallsBackToTheOtherRoute(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(time.Minute))
	ctx := context.Background()
	c := h.clinic
	c.OnCallPhone = ""
	if err := h.app.Store.UpdateClinic(ctx, c); err != nil {
		t.Fatal(err)
	}
	h.mail.FailFor(staffEmail, 550, [3]int{5, 1, 1}, "no such user")
	h.enroll(treated, patientPhone, 1, 3)
	h.runUntil(treated.Add(30 * time.Minute))
	h.text(patientPhone, fromNumber, "there is pus and swelling")
	h.runUntil(h.clock.Now().Add(time.Minute))
	// The alert email failed; the clinic adds an on-call phone; the next
	// pass sends the alert by text.
	c.OnCallPhone = onCallPhone
	if err := h.app.Store.UpdateClinic(ctx, c); err != nil {
		t.Fatal(err)
	}
	texts := len(h.tw.Sent())
	h.housekeeping()
	if got := h.textsTo(texts, onCallPhone); len(got) != 1 || !strings.Contains(got[0].Body, "pus") {
		t.Fatalf("fallback alert texts: %+v", got)
	}
	h.housekeeping()
	if n, _ := h.app.Store.UndeliverableAlerts(ctx, h.clinic.ID); n != 0 {
		t.Fatalf("undeliverable alerts: %d after a fallback that worked", n)
	}
	p, err := h.app.Store.PatientsByPhone(ctx, patientPhone)
	if err != nil || p[0].EmailBad != "" {
		t.Fatalf("a bounced staff alert flagged the patient's email: %+v %v", p, err)
	}
}

func TestUndeliverableAlertIsLoggedCountedAndShown(t *testing.T) {
	h, _ := conversation(t)
	ctx := context.Background()
	h.mail.FailFor(staffEmail, 550, [3]int{5, 1, 1}, "no such user")
	h.tw.FailFor(onCallPhone, 400, 21211) // invalid number
	h.logs.Reset()
	h.text(patientPhone, fromNumber, "my face is very swollen and there is pus")
	h.runUntil(h.clock.Now().Add(time.Minute))
	h.housekeeping()
	h.housekeeping() // reported once

	if n, err := h.app.Store.UndeliverableAlerts(ctx, h.clinic.ID); err != nil || n != 1 {
		t.Fatalf("undeliverable alerts: %d %v", n, err)
	}
	m := scrape(t, h.base)
	if v, ok := family(m, metrics.AlertsUndeliverable); !ok || v != 1 {
		t.Fatalf("%s = %v (present %v), want 1", metrics.AlertsUndeliverable, v, ok)
	}
	lines := 0
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) && strings.Contains(l, "could not be delivered to clinic staff by any route") {
			lines++
			if strings.Contains(l, "glow.example") || strings.Contains(l, "5550199") || strings.Contains(l, "pus") {
				t.Errorf("error line carries an address, a phone or the patient's words: %s", l)
			}
		}
	}
	if lines != 1 {
		t.Fatalf("error lines for the undeliverable alert: %d\n%s", lines, h.logs.String())
	}
	status, body := readyz(t, h.base)
	if status != 200 || !strings.Contains(fmt.Sprint(body), "could not be delivered") {
		t.Fatalf("readyz: %d %v", status, body)
	}
	p, _ := h.app.Store.PatientsByPhone(ctx, patientPhone)
	if p[0].PhoneBad != "" || p[0].EmailBad != "" {
		t.Fatalf("failed staff alerts flagged the patient's own number or address: %+v", p[0])
	}
}

func TestCheckAndReadyzNameClinicsWithoutAlertRoute(t *testing.T) {
	h := newHarnessOn(t, time.Now(), testsupport.SQLiteDB(t)) // writes a legacy row into the SQLite file
	// A clinic from before alert routes were required.
	db, err := sql.Open("sqlite", h.app.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO clinics(name, phone, timezone, created_at) VALUES ('Legacy Clinic', '+14155550444', 'UTC', 0)`); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = app.Check(context.Background(), &out, h.app.Config)
	if err == nil || !strings.Contains(out.String(), `MISSING clinic 2 "Legacy Clinic" has no alert route`) {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "share the sender "+fromNumber) {
		t.Errorf("check does not warn that two clinics share a sender:\n%s", out.String())
	}
	status, body := readyz(t, h.base)
	if status != 200 || !strings.Contains(fmt.Sprint(body), "Legacy Clinic") {
		t.Fatalf("readyz: %d %v", status, body)
	}
	// And it cannot be left without one.
	c, err := h.app.Store.Clinic(context.Background(), h.clinic.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.AlertEmail, c.OnCallPhone = "", ""
	if err := h.app.Store.UpdateClinic(context.Background(), c); aftercare.ErrorCode(err) != aftercare.EINVALID {
		t.Fatalf("update to no alert route: %v", err)
	}
	if _, _, err := h.app.Store.CreateClinic(context.Background(), aftercare.Clinic{Name: "X", Phone: "+14155550555", Timezone: "UTC"}); aftercare.ErrorCode(err) != aftercare.EINVALID {
		t.Fatalf("create without alert route: %v", err)
	}
	_ = store.ErrNoAlertRoute
}

func TestConversationSettingsAreWired(t *testing.T) {
	off := false
	a := startDaemon(t, func(c *config.Config) { c.SMS.OptOutConfirmation = &off })
	if !a.Inbound.NoOptOutConfirmation {
		t.Error("sms.opt_out_confirmation: false did not turn the confirmation off")
	}
	found := false
	for _, j := range a.Jobs() {
		found = found || j.Name == "conversations"
	}
	if !found {
		t.Error("no cron job re-alerts unacknowledged red flags")
	}
}
