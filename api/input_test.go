package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestDuplicateEnrollmentConflict: the same patient enrolled twice for the
// same session without an Idempotency-Key (two clicks, two integrations)
// gets 409 with a pointer to the existing enrollment and nothing written;
// "replace": true replaces it; a replay under an Idempotency-Key still
// answers 200 with the first enrollment.
func TestDuplicateEnrollmentConflict(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp, first := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d %v", resp.StatusCode, first)
	}
	firstID := first["enrollment"].(map[string]any)["id"].(float64)
	patients, messages := e.counts(t)

	body := validBody()
	body["phone"] = "415-555-0123" // typed differently: the same number
	resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, body, nil)
	errObj, _ := out["error"].(map[string]any)
	existing, _ := out["existing_enrollment"].(map[string]any)
	if resp.StatusCode != http.StatusConflict || errObj["code"] != "duplicate_enrollment" || existing["id"] != firstID ||
		existing["url"] != "/v1/enrollments/"+jsonNum(int64(firstID)) || !strings.Contains(errObj["message"].(string), "replace") {
		t.Fatalf("duplicate: %d %v", resp.StatusCode, out)
	}
	if p, m := e.counts(t); p != patients || m != messages {
		t.Fatalf("a refused duplicate wrote: patients %d->%d, messages %d->%d", patients, p, messages, m)
	}

	body["replace"] = true
	resp, out = e.do(t, "POST", "/v1/enrollments", e.keyA, body, nil)
	if resp.StatusCode != http.StatusCreated || out["enrollment"].(map[string]any)["id"] == firstID {
		t.Fatalf("replace: %d %v", resp.StatusCode, out)
	}
	resp, old := e.do(t, "GET", "/v1/enrollments/"+jsonNum(int64(firstID)), e.keyA, nil, nil)
	if resp.StatusCode != 200 || old["enrollment"].(map[string]any)["cancelled"] != true {
		t.Fatalf("replaced enrollment: %d %v", resp.StatusCode, old["enrollment"])
	}
	for _, m := range old["messages"].([]any) {
		m := m.(map[string]any)
		if m["status"] == "scheduled" {
			t.Fatalf("replaced enrollment still has a scheduled message: %v", m)
		}
	}

	// Idempotency-Key replays are unchanged: the first answer again.
	hdr := map[string]string{"Idempotency-Key": "visit-77"}
	b2 := validBody()
	b2["session_number"] = 2
	resp, o1 := e.do(t, "POST", "/v1/enrollments", e.keyA, b2, hdr)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("session 2: %d %v", resp.StatusCode, o1)
	}
	resp, o2 := e.do(t, "POST", "/v1/enrollments", e.keyA, b2, hdr)
	if resp.StatusCode != http.StatusOK || o2["enrollment"].(map[string]any)["id"] != o1["enrollment"].(map[string]any)["id"] {
		t.Fatalf("replay: %d %v", resp.StatusCode, o2)
	}
}

// TestEveryErrorAtOnce: a request with several mistakes gets all of them,
// field by field, with "error" still the first.
func TestEveryErrorAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := validBody()
	body["first_name"] = ""
	body["phone"] = "12"
	body["timezone"] = "EST"
	body["series_length"] = 0
	resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, body, nil)
	errObj, _ := out["error"].(map[string]any)
	list, _ := out["errors"].([]any)
	if resp.StatusCode != http.StatusUnprocessableEntity || errObj["field"] != "first_name" || len(list) != 4 {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	var fields []string
	for _, x := range list {
		fields = append(fields, x.(map[string]any)["field"].(string))
	}
	if got := strings.Join(fields, " "); got != "first_name phone timezone series_length" {
		t.Fatalf("fields %q", got)
	}
	if msg := list[2].(map[string]any)["message"].(string); !strings.Contains(msg, "did you mean America/New_York?") {
		t.Fatalf("timezone message %q", msg)
	}
	if p, m := e.counts(t); p != 0 || m != 0 {
		t.Fatalf("bad input wrote %d patients, %d messages", p, m)
	}
	// The preview reports the same.
	resp, out = e.do(t, "POST", "/v1/enrollments/preview", e.keyA, body, nil)
	if list, _ := out["errors"].([]any); resp.StatusCode != http.StatusUnprocessableEntity || len(list) != 4 {
		t.Fatalf("preview: %d %v", resp.StatusCode, out)
	}
}

// TestEmailOnlyAndTextOnlyPatients: a patient without a phone who agreed
// to email only is enrolled (email messages only), and one without email
// who agreed to texts only.
func TestEmailOnlyAndTextOnlyPatients(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		name    string
		edit    func(map[string]any)
		channel string
	}{
		{"email only", func(b map[string]any) { delete(b, "phone"); b["sms_consent"] = false }, "email"},
		{"text only", func(b map[string]any) { delete(b, "email"); b["email_consent"] = false; b["phone"] = "+14155550124" }, "sms"},
	} {
		b := validBody()
		tc.edit(b)
		resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, b, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %d %v", tc.name, resp.StatusCode, out)
		}
		n := 0
		for _, m := range out["messages"].([]any) {
			m := m.(map[string]any)
			if m["status"] == "scheduled" {
				n++
				if m["channel"] != tc.channel {
					t.Errorf("%s: scheduled %v message %v", tc.name, m["channel"], m["step"])
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: nothing scheduled", tc.name)
		}
	}
}

// TestEmailTypoWarns: a misspelled provider domain is enrolled as typed,
// with a warning that suggests the fix.
func TestEmailTypoWarns(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := validBody()
	b["email"] = "ana@gmial.con"
	resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, b, nil)
	ws, _ := out["warnings"].([]any)
	if resp.StatusCode != http.StatusCreated || len(ws) != 1 || ws[0].(map[string]any)["suggestion"] != "ana@gmail.com" ||
		out["patient"].(map[string]any)["email"] != "ana@gmial.con" {
		t.Fatalf("%d %v", resp.StatusCode, out["warnings"])
	}
}

// TestUnknownRoutesAnswerJSON: every API answer is JSON, including a path
// no route serves (404) and a method a route does not take (405 + Allow).
func TestUnknownRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/v1/patients", 404, ""},
		{"GET", "/v2/enrollments", 404, ""},
		{"POST", "/nope", 404, ""},
		{"GET", "/v1/enrollments", 405, "POST"},
		{"DELETE", "/v1/enrollments/1", 405, "GET, HEAD"},
		{"PUT", "/healthz", 405, "GET, HEAD"},
	} {
		resp, out := e.do(t, tc.method, tc.path, e.keyA, nil, nil)
		errObj, _ := out["error"].(map[string]any)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || errObj["code"] == nil {
			t.Errorf("%s %s: %d %q %v", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), out)
		}
		if resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, resp.Header.Get("Allow"), tc.allow)
		}
	}
}
