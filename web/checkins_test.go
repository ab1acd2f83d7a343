package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// answer records a patient's answer to their day-1 check-in question as
// inbound processing does: with the reply, in one transaction.
func (w *world) answer(v store.EnrollmentView, n int, digit, outcome string, day int, at time.Time) {
	w.t.Helper()
	var q aftercare.Message
	for _, m := range v.Messages {
		if m.Step == "day1_checkin" {
			q = m
		}
	}
	if q.ID == 0 {
		w.t.Fatal("no day 1 check-in planned")
	}
	_, err := w.store.RecordReplyOutcome(context.Background(), store.InboundReply{
		Reply: aftercare.Reply{ClinicID: v.Patient.ClinicID, PatientID: v.Patient.ID, ProviderID: "SMcheckin" + itoa(int64(n)), Body: digit, Kind: "other", At: at},
		Checkin: &store.CheckinAnswer{Question: store.OpenQuestion{MessageID: q.ID, EnrollmentID: v.Enrollment.ID, Step: q.Step},
			Day: day, Answer: digit, Outcome: outcome},
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// checkinWorld: Ana answered 2 on day 1 and 1 on day 2 (healing now), Ben
// answered 2 (not healing), and Zed, at the other clinic, answered 3.
func checkinWorld(t *testing.T) (*world, store.EnrollmentView, store.EnrollmentView, store.EnrollmentView) {
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "nurse@glow.example")
	w.addUser(w.other.ID, "nurse@other.example")
	ana := w.enrollPatient(w.clinic, "Ana", "+14155550123")
	ben := w.enrollPatient(w.clinic, "Ben", "+14155550124")
	zed := w.enrollPatient(w.other, "Zed", "+14155550125")
	day1 := start.Add(20 * time.Hour)
	w.answer(ana, 1, "2", aftercare.CheckinNotHealing, 1, day1)
	w.answer(ben, 2, "2", aftercare.CheckinNotHealing, 1, day1.Add(time.Minute))
	w.answer(zed, 3, "3", aftercare.CheckinRedFlag, 1, day1.Add(2*time.Minute))
	w.answer(ana, 4, "1", aftercare.CheckinHealing, 2, day1.Add(24*time.Hour))
	w.clock.Set(day1.Add(25 * time.Hour))
	return w, ana, ben, zed
}

// The patient and enrollment pages show the healing trend with meaning
// words; the clinic's check-ins page lists who is not healing as expected;
// each clinic sees only its own; the reads are audited.
func TestCheckinTrendAndNotHealingList(t *testing.T) {
	t.Parallel()
	w, ana, ben, zed := checkinWorld(t)
	c := w.client()
	c.signIn("nurse@glow.example")

	for _, path := range []string{"/console/patients/" + itoa(ana.Patient.ID), "/console/enrollments/" + itoa(ana.Enrollment.ID)} {
		p := c.get(path)
		for _, want := range []string{"Healing trend", "day 1: 2, day 2: 1", "day 1: 2 — not healing as expected", "day 2: 1 — healing as expected"} {
			if p.status != 200 || !strings.Contains(p.body, want) {
				t.Errorf("GET %s: %d, lacks %q", path, p.status, want)
			}
		}
	}
	if p := c.get("/console/patients/" + itoa(ben.Patient.ID)); !strings.Contains(p.body, "day 1: 2") || strings.Contains(p.body, "day 2:") {
		t.Errorf("Ben's trend: %d", p.status)
	}

	p := c.get("/console/checkins")
	if p.status != 200 || !strings.Contains(p.body, "Ben Test") || !strings.Contains(p.body, "/console/patients/"+itoa(ben.Patient.ID)) ||
		!strings.Contains(p.body, "not healing as expected") {
		t.Errorf("check-ins page: %d, want Ben listed", p.status)
	}
	if strings.Contains(p.body, "Ana Test") || strings.Contains(p.body, "Zed Test") {
		t.Error("check-ins page lists a healing patient or another clinic's")
	}

	// Clinic B never sees clinic A's answers.
	o := w.client()
	o.signIn("nurse@other.example")
	p = o.get("/console/checkins")
	if !strings.Contains(p.body, "Zed Test") || !strings.Contains(p.body, "red flag") || strings.Contains(p.body, "Ben Test") {
		t.Errorf("other clinic's check-ins page: %d", p.status)
	}
	for _, path := range []string{"/console/patients/" + itoa(ana.Patient.ID), "/console/enrollments/" + itoa(ana.Enrollment.ID)} {
		if p := o.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "day 1: 2") {
			t.Errorf("other clinic GET %s: %d", path, p.status)
		}
	}
	if p := o.get("/console/patients/" + itoa(zed.Patient.ID)); !strings.Contains(p.body, "day 1: 3 — red flag") {
		t.Errorf("Zed's trend at their clinic: %d", p.status)
	}

	// The patient's export holds their answers; the other clinic's holds none of them.
	if p := c.get("/console/patients/" + itoa(ana.Patient.ID) + "/export"); p.status != 200 ||
		!strings.Contains(p.body, `"checkin_answers"`) || !strings.Contains(p.body, `"outcome": "not_healing"`) {
		t.Errorf("export: %d, lacks the check-in answers", p.status)
	}
	if p := o.get("/console/patients/" + itoa(ana.Patient.ID) + "/export"); p.status != http.StatusNotFound {
		t.Errorf("other clinic's export of Ana: %d", p.status)
	}

	// The reads are in the audit trail, as other patient pages are.
	ctx := context.Background()
	views, err := w.store.AuditLog(ctx, store.AuditFilter{ClinicID: w.clinic.ID, PatientID: ana.Patient.ID})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[aftercare.AuditAction]int{}
	for _, e := range views {
		actions[e.Action]++
	}
	if actions[aftercare.AuditViewPatient] != 1 || actions[aftercare.AuditViewEnrollment] != 1 || actions[aftercare.AuditExport] != 1 {
		t.Errorf("audit of Ana's pages: %v", actions)
	}
	searches, err := w.store.AuditLog(ctx, store.AuditFilter{ClinicID: w.clinic.ID, Action: aftercare.AuditSearch})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range searches {
		found = found || strings.Contains(e.Detail, "check-ins") && strings.Contains(e.Detail, "1 patients")
	}
	if !found {
		t.Errorf("check-ins list not audited: %+v", searches)
	}
}

func TestCheckinsInBrowser(t *testing.T) {
	w, ana, ben, _ := checkinWorld(t)
	ctx, _ := newBrowser(t)
	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "nurse@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	if s := click(t, ctx, `nav a[href="/console/checkins"]`); s != 200 {
		t.Fatalf("check-ins: %d", s)
	}
	if got := text(t, ctx, "table.checkins tbody"); !strings.Contains(got, "Ben Test") || !strings.Contains(got, "day 1: 2") || strings.Contains(got, "Ana") {
		t.Fatalf("check-ins list: %q", got)
	}
	newScreenshots(t, ctx).take("checkins", 900)
	if s := click(t, ctx, chromedp.CSS(`table.checkins a[href="/console/patients/`+itoa(ben.Patient.ID)+`"]`)); s != 200 {
		t.Fatalf("open Ben: %d", s)
	}
	if got := text(t, ctx, "h1"); !strings.Contains(got, "Ben Test") {
		t.Fatalf("patient page: %q", got)
	}
	navigate(t, ctx, w.url+"/console/patients/"+itoa(ana.Patient.ID))
	if got := text(t, ctx, ".checkin-trend .trend"); got != "day 1: 2, day 2: 1" {
		t.Fatalf("Ana's trend: %q", got)
	}
	if got := text(t, ctx, ".checkin-trend .checkin-answers"); !strings.Contains(got, "not healing as expected") || !strings.Contains(got, "healing as expected") {
		t.Errorf("Ana's answers: %q", got)
	}
}
