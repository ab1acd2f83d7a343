package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// raw is an API call that returns the answer's bytes.
func (h *harness) raw(method, path, key string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// identity is what must be nowhere after the erasure of the patient the
// conversation harness enrolls (their phone in two spellings, email, last
// name and words of their reply).
var identity = []string{patientPhone, "4155550123", "ana@example.com", "ana.diaz.moreno@example.com", "Diaz", "Moreno", "swollen", "yellow pus"}

func TestErasureLeavesNoTraceInTheFileOrTheAPI(t *testing.T) {
	// SQLite whatever AFTERCARE_TEST_DB says: the test reads the file.
	h, enrollmentID := conversationOn(t, testsupport.SQLiteDB(t))
	ctx := context.Background()
	h.text(patientPhone, fromNumber, "my face is so swollen and there is yellow pus")
	h.runUntil(h.clock.Now().Add(time.Hour))
	// Enrolled again under a longer name and another address: the
	// patient's row is rewritten and its old copy freed inside its page.
	if code, out := h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Ana", "last_name": "Diaz Moreno", "phone": patientPhone, "email": "ana.diaz.moreno@example.com",
		"timezone": "America/New_York", "sms_consent": true, "email_consent": true,
		"treated_at": h.clock.Now().Format(time.RFC3339), "session_number": 2, "series_length": 3,
	}); code != 201 {
		t.Fatalf("enroll again: %d %v", code, out)
	}
	h.runUntil(h.clock.Now().Add(time.Hour))
	h.text(patientPhone, fromNumber, "STOP")
	h.runUntil(h.clock.Now().Add(time.Hour))
	v := h.enrollment(enrollmentID)
	pid := int64(v["patient"].(map[string]any)["id"].(float64))

	// Another clinic sees none of it.
	other, otherKey, err := h.app.Store.CreateClinic(ctx, aftercare.Clinic{Name: "Other", Phone: "+14155550177",
		Timezone: "America/New_York", AlertEmail: "x@other.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET /v1/patients/" + itoa(pid) + "/export", "DELETE /v1/patients/" + itoa(pid)} {
		method, path, _ := strings.Cut(m, " ")
		if code, body := h.raw(method, path, otherKey); code != 404 {
			t.Fatalf("%s by another clinic: %d %s, want 404", m, code, body)
		}
	}
	if code, body := h.raw("GET", "/v1/audit?patient_id="+itoa(pid), otherKey); code != 200 || strings.Contains(string(body), `"patient_id":`+itoa(pid)) {
		t.Fatalf("another clinic's audit: %d %s", code, body)
	}
	_ = other

	code, body := h.raw("DELETE", "/v1/patients/"+itoa(pid), h.key)
	if code != 200 {
		t.Fatalf("erase: %d %s", code, body)
	}
	var er api.Erasure
	json.Unmarshal(body, &er)
	if er.KeptOptOuts != 1 || er.ScrubbedReplies < 2 {
		t.Fatalf("erasure: %+v, want the SMS opt-out kept and both replies scrubbed", er)
	}

	// Every API answer afterwards.
	for _, path := range []string{"/v1/enrollments/" + itoa(enrollmentID), "/v1/messages?limit=1000",
		"/v1/patients/" + itoa(pid) + "/export", "/v1/audit?limit=1000"} {
		code, body := h.raw("GET", path, h.key)
		if code != 200 {
			t.Fatalf("GET %s after erasure: %d %s", path, code, body)
		}
		for _, s := range identity {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("GET %s after erasure still holds %q", path, s)
			}
		}
	}

	// The database file and its WAL, after a checkpoint.
	db, err := sql.Open("sqlite", "file:"+h.app.Config.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var busy, logPages, done int
	if err := db.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil || busy != 0 {
		t.Fatalf("checkpoint: busy %d err %v", busy, err)
	}
	for _, f := range []string{h.app.Config.DB, h.app.Config.DB + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, s := range identity {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s (%d bytes) still holds %q", f, len(b), s)
			}
		}
	}

	// The delivery counts stay: the messages keep their statuses.
	var sent int
	db.QueryRow(`SELECT count(*) FROM messages WHERE patient_id = ? AND status IN ('sent', 'delivered')`, pid).Scan(&sent)
	if sent == 0 {
		t.Fatal("the erased patient's delivered messages were not kept for the counts")
	}

	// The same number enrolled again stays opted out of texts.
	texts := len(h.tw.Sent())
	id2 := h.enroll(h.clock.Now(), patientPhone, 3, 3)
	h.runUntil(h.clock.Now().Add(48 * time.Hour))
	if got := h.textsTo(texts, patientPhone); len(got) != 0 {
		t.Fatalf("texts to the erased, opted-out number after enrolling it again: %+v", got)
	}
	v2 := h.enrollment(id2)
	if p := v2["patient"].(map[string]any); p["sms_opt_out"] != true {
		t.Fatalf("re-enrolled patient: %v, want sms_opt_out", p)
	}
	if !strings.Contains(mustJSON(v2["consents"]), string(aftercare.ConsentErasedOptOut)) {
		t.Fatalf("consents %s do not say why the number is opted out", mustJSON(v2["consents"]))
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// The API records who read what (the key's id and prefix, the client IP)
// and serves the clinic's trail with filters.
func TestAPIReadsAreAuditedAndServedPerClinic(t *testing.T) {
	h, enrollmentID := conversation(t)
	h.enrollment(enrollmentID)
	if code, body := h.raw("GET", "/v1/messages", h.key); code != 200 {
		t.Fatalf("messages: %d %s", code, body)
	}
	h.api("POST", "/v1/enrollments/"+itoa(enrollmentID)+"/cancel", nil)
	code, body := h.raw("GET", "/v1/audit?limit=50", h.key)
	if code != 200 {
		t.Fatalf("audit: %d %s", code, body)
	}
	var out struct {
		Audit []aftercare.AuditEntry `json:"audit"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	seen := map[aftercare.AuditAction]aftercare.Actor{}
	for _, r := range out.Audit {
		if r.ClinicID != h.clinic.ID {
			t.Fatalf("row of clinic %d in clinic %d's audit", r.ClinicID, h.clinic.ID)
		}
		seen[r.Action] = r.Actor
	}
	for _, a := range []aftercare.AuditAction{aftercare.AuditEnroll, aftercare.AuditViewEnrollment, aftercare.AuditSearch, aftercare.AuditCancel} {
		actor, ok := seen[a]
		if !ok {
			t.Errorf("no %s row in %s", a, body)
			continue
		}
		if actor.Kind != aftercare.ActorAPIKey || actor.ID == 0 || actor.IP != "127.0.0.1" || actor.Label != "default" {
			t.Errorf("%s actor %+v, want the API key labelled default from 127.0.0.1", a, actor)
		}
	}
	code, body = h.raw("GET", "/v1/audit?action=view_enrollment&patient_id=x&since=soon&limit=0", h.key)
	if code != 422 || !strings.Contains(string(body), "patient_id") || !strings.Contains(string(body), "since") || !strings.Contains(string(body), "limit") {
		t.Fatalf("bad filters: %d %s, want 422 naming every field", code, body)
	}
	code, body = h.raw("GET", "/v1/audit?action=cancel", h.key)
	if code != 200 || strings.Count(string(body), `"action":"cancel"`) != 1 || strings.Contains(string(body), `"action":"enroll"`) {
		t.Fatalf("action filter: %d %s", code, body)
	}
}
