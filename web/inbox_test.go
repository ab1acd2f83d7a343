package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// reply records a patient's text as inbound processing does: filed under
// the patient's concern.
func (w *world) reply(p aftercare.Patient, body string, redFlag bool, at time.Time) store.ReplyOutcome {
	w.t.Helper()
	kind := "other"
	signs := ""
	if redFlag {
		kind, signs = "red_flag", `swelling: "swollen"`
	}
	out, err := w.store.RecordReplyOutcome(context.Background(), store.InboundReply{
		Reply:   aftercare.Reply{ClinicID: p.ClinicID, PatientID: p.ID, ProviderID: "SM" + body, Body: body, Kind: kind, At: at},
		Concern: &store.ConcernReply{RedFlag: redFlag, Signs: signs},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// inboxWorld has a question from Ana, an open red flag from Ben (whose
// alert could not be delivered) and a patient of the other clinic with a
// red flag of their own.
func inboxWorld(t *testing.T) (*world, aftercare.Patient, aftercare.Patient) {
	w := newWorld(t, options{})
	w.addUser(w.clinic.ID, "nurse@glow.example")
	ana := w.enrollPatient(w.clinic, "Ana", "+14155550123").Patient
	ben := w.enrollPatient(w.clinic, "Ben", "+14155550124").Patient
	theirs := w.enrollPatient(w.other, "Zed", "+14155550125").Patient
	w.reply(ana, "is it normal to be red on day 2?", false, start.Add(time.Minute))
	out := w.reply(ben, "my cheeks are so swollen", true, start.Add(2*time.Minute))
	w.reply(ben, "and it is getting worse", true, start.Add(3*time.Minute))
	if _, err := w.store.MarkAlertUndeliverable(context.Background(), out.Decision.Concern.ID, "email: mailbox unavailable"); err != nil {
		t.Fatal(err)
	}
	w.reply(theirs, "Zed's secret swelling", true, start.Add(4*time.Minute))
	w.clock.Set(start.Add(5 * time.Minute))
	return w, ana, ben
}

func TestInboxListsAcknowledgesResolvesAndReplies(t *testing.T) {
	w, ana, ben := inboxWorld(t)
	c := w.client()
	csrf := c.signIn("nurse@glow.example")

	p := c.get("/console/inbox")
	if p.status != 200 {
		t.Fatalf("inbox: %d", p.status)
	}
	iBen, iAna := strings.Index(p.body, "Ben Test"), strings.Index(p.body, "Ana Test")
	if iBen < 0 || iAna < 0 || iBen > iAna {
		t.Fatalf("inbox order: red flag at %d, question at %d (want the red flag first)", iBen, iAna)
	}
	for _, want := range []string{"my cheeks are so swollen", "and it is getting worse", `swelling: &#34;swollen&#34;`,
		"1 red flag", "1 unanswered", "1 red-flag alert could not be delivered"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("inbox lacks %q", want)
		}
	}
	if strings.Contains(p.body, "Zed") {
		t.Fatal("the inbox shows another clinic's patient")
	}
	// The banner and the counts are on every page.
	if pp := c.get("/console/patients"); !strings.Contains(pp.body, "could not be delivered") || !strings.Contains(pp.body, "1 red flag") ||
		!strings.Contains(pp.body, "⚑ red flag") || !strings.Contains(pp.body, "unanswered reply") {
		t.Errorf("patients page lacks the banner, the counts or the markers")
	}
	if pp := c.get("/console/patients/" + itoa(ben.ID)); !strings.Contains(pp.body, "Open red flag") {
		t.Errorf("patient page does not mark the open red flag")
	}

	items, _ := w.store.Inbox(context.Background(), w.clinic.ID, false, 10)
	benC, anaC := items[0].Concern, items[1].Concern
	// Another clinic's concern cannot be touched.
	zed, _ := w.store.Inbox(context.Background(), w.other.ID, false, 10)
	if r := c.post("/console/concerns/"+itoa(zed[0].Concern.ID)+"/acknowledge", url.Values{"csrf_token": {csrf}}); r.status != 404 {
		t.Errorf("acknowledge another clinic's concern: %d", r.status)
	}
	if r := c.post("/console/concerns/"+itoa(benC.ID)+"/acknowledge", url.Values{}); r.status != 403 {
		t.Errorf("acknowledge without CSRF: %d", r.status)
	}

	r := c.post("/console/concerns/"+itoa(benC.ID)+"/acknowledge", url.Values{"csrf_token": {csrf}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", r.status)
	}
	got, _ := w.store.ConcernAt(context.Background(), w.clinic.ID, benC.ID)
	if got.Status != aftercare.ConcernAcknowledged || got.AcknowledgedBy != "nurse@glow.example" {
		t.Fatalf("after acknowledge: %+v", got)
	}

	// A reply texts the patient from the clinic's number and records who sent it.
	if r := c.post("/console/concerns/"+itoa(anaC.ID)+"/reply", url.Values{"csrf_token": {csrf}, "body": {"   "}}); r.status != 422 {
		t.Errorf("empty reply: %d", r.status)
	}
	r = c.post("/console/concerns/"+itoa(anaC.ID)+"/reply", url.Values{"csrf_token": {csrf}, "body": {"Yes, redness on day 2 is normal."}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("reply: %d %s", r.status, r.body)
	}
	w.runDue()
	v, err := w.store.PatientView(context.Background(), w.clinic.ID, ana.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sent *aftercare.Message
	for _, e := range v.Enrollments {
		for i, m := range e.Messages {
			if m.Step == store.StaffReplyStep {
				sent = &e.Messages[i]
			}
		}
	}
	if sent == nil || sent.Status != aftercare.StatusSent || sent.SentBy != "nurse@glow.example" ||
		sent.Body != "Glow Skin Clinic: Yes, redness on day 2 is normal." {
		t.Fatalf("staff reply in the outbox: %+v", sent)
	}
	p = c.get("/console/inbox")
	if !strings.Contains(p.body, "nurse@glow.example replied") || strings.Contains(p.body, "1 unanswered") {
		t.Errorf("inbox after the reply does not show it, or still counts the question")
	}

	if r := c.post("/console/concerns/"+itoa(benC.ID)+"/resolve", url.Values{"csrf_token": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("resolve: %d", r.status)
	}
	p = c.get("/console/inbox")
	if strings.Contains(p.body, "my cheeks are so swollen") || strings.Contains(p.body, "could not be delivered") {
		t.Errorf("a resolved concern is still listed, or its banner still shows")
	}
	if p = c.get("/console/inbox?all=1"); !strings.Contains(p.body, "my cheeks are so swollen") || !strings.Contains(p.body, "resolved by nurse@glow.example") {
		t.Errorf("resolved concerns are not shown with all=1")
	}
	if logs := w.logs.String(); strings.Contains(logs, "swollen") || strings.Contains(logs, "redness") || strings.Contains(logs, "5550123") {
		t.Errorf("console logs carry a patient's words or phone:\n%s", logs)
	}
}

// TestInboxInBrowser answers a red flag the way staff do: the count in the
// navigation, the inbox with the red flag first, acknowledge, a reply.
func TestInboxInBrowser(t *testing.T) {
	w, _, _ := inboxWorld(t)
	ctx, _ := newBrowser(t)
	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "nurse@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	if got := text(t, ctx, ".nav-inbox"); !strings.Contains(got, "1 red flag") || !strings.Contains(got, "1 unanswered") {
		t.Errorf("navigation: %q", got)
	}
	if got := text(t, ctx, ".banner"); !strings.Contains(got, "could not be delivered") {
		t.Errorf("banner: %q", got)
	}
	if s := click(t, ctx, ".nav-inbox"); s != 200 {
		t.Fatalf("inbox: %d", s)
	}
	if first := text(t, ctx, "article.concern:first-of-type h2"); !strings.Contains(first, "Ben Test") || !strings.Contains(first, "Red flag") {
		t.Fatalf("first item: %q", first)
	}
	newScreenshots(t, ctx).take("inbox", 1400)
	if s := click(t, ctx, "article.concern:first-of-type button.ack"); s != 200 {
		t.Fatalf("acknowledge: %d", s)
	}
	if f := text(t, ctx, ".flash"); !strings.Contains(f, "Acknowledged") {
		t.Errorf("after acknowledge: %q", f)
	}
	if got := text(t, ctx, ".nav-inbox"); strings.Contains(got, "red flag") {
		t.Errorf("navigation still counts the acknowledged red flag: %q", got)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.CSS("article.concern-question textarea"), "Yes, that is normal on day 2."))
	if s := click(t, ctx, "article.concern-question .reply-form button"); s != 200 {
		t.Fatalf("reply: %d", s)
	}
	if got := text(t, ctx, "article.concern-question .replies"); !strings.Contains(got, "nurse@glow.example replied") || !strings.Contains(got, "Yes, that is normal") {
		t.Errorf("reply not shown: %q", got)
	}
}
