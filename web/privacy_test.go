package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// TestEraseAndAuditInBrowser: staff open a patient, are refused an
// erasure without the patient's name typed, erase with it, and find the
// view and the erasure, by them and from their IP, on the audit page.
func TestEraseAndAuditInBrowser(t *testing.T) {
	w := newWorld(t, options{})
	u := w.addAdmin(w.clinic.ID, "frontdesk@glow.example")
	v := w.enrollPatient(w.clinic, "Zoe", "+14155550161")
	w.runDue()
	pid := itoa(v.Patient.ID)

	ctx, _ := newBrowser(t)
	navigate(t, ctx, w.url+"/console/login")
	do(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "frontdesk@glow.example"), chromedp.SendKeys(chromedp.ID("password"), password))
	if s := click(t, ctx, "form.login button[type=submit]"); s != 200 {
		t.Fatalf("sign in: %d", s)
	}
	if s := navigate(t, ctx, w.url+"/console/patients/"+pid); s != 200 {
		t.Fatalf("patient page: %d", s)
	}
	if href := run(t, ctx, chromedp.AttributeValue(chromedp.ID("export-patient"), "href")); href.Value != "/console/patients/"+pid+"/export" {
		t.Errorf("export button: %q", href.Value)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("confirm"), "Zoe Tes"))
	if s := click(t, ctx, "#erase-patient"); s != http.StatusUnprocessableEntity {
		t.Fatalf("erase with the wrong name: %d, want 422", s)
	}
	if p, err := w.store.Patient(context.Background(), w.clinic.ID, v.Patient.ID); err != nil || p.Phone == "" {
		t.Fatalf("patient erased without the typed name: %+v %v", p, err)
	}
	navigate(t, ctx, w.url+"/console/patients/"+pid)
	do(t, ctx, chromedp.SendKeys(chromedp.ID("confirm"), "zoe test"))
	if s := click(t, ctx, "#erase-patient"); s != 200 {
		t.Fatalf("erase: %d", s)
	}
	if msg := text(t, ctx, ".flash"); !strings.Contains(msg, "erased") {
		t.Errorf("after erasure: %q", msg)
	}
	if p, _ := w.store.Patient(context.Background(), w.clinic.ID, v.Patient.ID); p.Phone != "" || p.Email != "" || strings.Contains(p.FirstName, "Zoe") {
		t.Fatalf("patient after erasure: %+v", p)
	}

	if s := navigate(t, ctx, w.url+"/console/audit?patient_id="+pid); s != 200 {
		t.Fatalf("audit page: %d", s)
	}
	table := text(t, ctx, "table.audit")
	for _, want := range []string{"view_patient", "erase", "frontdesk@glow.example", "127.0.0.1"} {
		if !strings.Contains(table, want) {
			t.Errorf("audit table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "+14155550161") || strings.Contains(table, "Zoe") {
		t.Errorf("audit table names the erased patient:\n%s", table)
	}
	rows, err := w.store.AuditLog(context.Background(), store.AuditFilter{ClinicID: w.clinic.ID, Action: aftercare.AuditErase})
	if err != nil || len(rows) != 1 || rows[0].Actor.ID != u.ID || rows[0].Actor.Kind != aftercare.ActorStaff {
		t.Fatalf("erase row: %+v %v", rows, err)
	}
}

// The audit page's CSV and filters, and another clinic's rows unseen.
func TestAuditCSVIsClinicScoped(t *testing.T) {
	w := newWorld(t, options{})
	admin := w.addAdmin(w.clinic.ID, "frontdesk@glow.example")
	w.addUser(w.clinic.ID, "staff@glow.example")
	w.addAdmin(w.other.ID, "other@else.example")
	mine := w.enrollPatient(w.clinic, "Ana", "+14155550123")
	theirs := w.enrollPatient(w.other, "Bob", "+14155550124")
	c := w.client()
	c.signIn("frontdesk@glow.example")
	c.get("/console/patients/" + itoa(mine.Patient.ID))
	if r := c.get("/console/patients/" + itoa(theirs.Patient.ID)); r.status != http.StatusNotFound {
		t.Fatalf("another clinic's patient: %d", r.status)
	}
	if r := c.get("/console/patients/" + itoa(theirs.Patient.ID) + "/export"); r.status != http.StatusNotFound {
		t.Fatalf("another clinic's export: %d", r.status)
	}
	o := w.client()
	o.signIn("other@else.example")
	o.get("/console/patients/" + itoa(theirs.Patient.ID))

	r := c.get("/console/audit?" + url.Values{"format": {"csv"}, "action": {"view_patient"}, "actor_id": {itoa(admin.ID)}}.Encode())
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", r.status, r.header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], ",view_patient,"+itoa(mine.Patient.ID)+",") {
		t.Fatalf("csv rows:\n%s\nwant the header and one view of patient %d", r.body, mine.Patient.ID)
	}
	if r := c.get("/console/audit?since=yesterday"); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad date: %d", r.status)
	}
	// Staff who are not admins neither read the trail nor erase.
	st := w.client()
	csrf := st.signIn("staff@glow.example")
	if r := st.get("/console/audit"); r.status != http.StatusForbidden {
		t.Fatalf("audit page for staff: %d, want 403", r.status)
	}
	if r := st.post("/console/patients/"+itoa(mine.Patient.ID)+"/erase", url.Values{"csrf_token": {csrf}, "confirm": {"Ana Test"}}); r.status != http.StatusForbidden {
		t.Fatalf("erase by staff: %d, want 403", r.status)
	}
	x := c.get("/console/patients/" + itoa(mine.Patient.ID) + "/export")
	if x.status != 200 || !strings.Contains(x.body, `"+14155550123"`) || !strings.Contains(x.body, `"audit"`) {
		t.Fatalf("export: %d %.300s", x.status, x.body)
	}
}
