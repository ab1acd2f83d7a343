package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// 2026-11-25 15:00 UTC = 10:00 New York.
var now = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

type env struct {
	srv          *httptest.Server
	store        *store.Store
	keyA, keyB   string
	clinicA, clB aftercare.Clinic
}

func setup(t *testing.T) *env {
	t.Helper()
	clock := testsupport.NewClock(now)
	s := testsupport.OpenStore(t, store.Options{Clock: clock})
	p, err := protocol.Default()
	if err != nil {
		t.Fatal(err)
	}
	a, keyA, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	b, keyB, err := s.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+442071838750", Timezone: "Europe/London"})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Deps{Store: s, Enroller: &enroll.Service{Store: s, Protocol: p, Clock: clock},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Stats: s})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{srv: ts, store: s, keyA: keyA, keyB: keyB, clinicA: a, clB: b}
}

func validBody() map[string]any {
	return map[string]any{
		"first_name": "Ana", "last_name": "Diaz", "phone": "+1 (415) 555-0123", "email": "Ana@Example.com",
		"timezone": "America/New_York", "sms_consent": true, "email_consent": true,
		"treatment": "microneedling", "treated_at": "2026-11-25T09:30:00-05:00", "session_number": 1, "series_length": 3,
	}
}

func (e *env) do(t *testing.T, method, path, key string, body any, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

func (e *env) counts(t *testing.T) (patients, messages int) {
	t.Helper()
	ps, err := e.store.SearchPatients(context.Background(), e.clinicA.ID, "", 500)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.store.CountByStatus(context.Background())
	for _, n := range c {
		messages += n
	}
	return len(ps), messages
}

func TestEnrollAndReadBack(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %v", resp.StatusCode, out)
	}
	enr := out["enrollment"].(map[string]any)
	id := int64(enr["id"].(float64))
	if loc := resp.Header.Get("Location"); !strings.HasSuffix(loc, "/v1/enrollments/"+jsonNum(id)) {
		t.Fatalf("Location %q", loc)
	}
	patient := out["patient"].(map[string]any)
	if patient["phone"] != "+14155550123" || patient["email"] != "Ana@example.com" {
		t.Fatalf("normalized patient = %v", patient)
	}
	msgs := out["messages"].([]any)
	if len(msgs) < 20 {
		t.Fatalf("plan has %d messages, want the full six-week plan", len(msgs))
	}
	consents := out["consents"].([]any)
	if len(consents) != 2 || consents[0].(map[string]any)["wording_version"] != aftercare.ConsentWordingVersion {
		t.Fatalf("consents = %v", consents)
	}
	resp, got := e.do(t, "GET", "/v1/enrollments/"+jsonNum(id), e.keyA, nil, nil)
	if resp.StatusCode != 200 || len(got["messages"].([]any)) != len(msgs) {
		t.Fatalf("GET = %d %v", resp.StatusCode, got["messages"])
	}
	first := got["messages"].([]any)[0].(map[string]any)
	if evs, _ := first["events"].([]any); len(evs) == 0 {
		t.Fatalf("message without events: %v", first)
	}
}

func jsonNum(id int64) string { b, _ := json.Marshal(id); return string(b) }

func TestAuth(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for name, key := range map[string]string{"missing": "", "wrong": "ak_wrong", "huge": strings.Repeat("x", 500)} {
		resp, out := e.do(t, "GET", "/v1/messages", key, nil, nil)
		if resp.StatusCode != http.StatusUnauthorized || out["error"] == nil || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s key: %d %v", name, resp.StatusCode, out)
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/messages", nil)
	req.Header.Set("Authorization", "Basic "+e.keyA)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("non-bearer scheme: %d", resp.StatusCode)
	}
}

func TestCrossClinicAccessIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, out := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), nil)
	id := jsonNum(int64(out["enrollment"].(map[string]any)["id"].(float64)))
	if resp, _ := e.do(t, "GET", "/v1/enrollments/"+id, e.keyB, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other clinic GET: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "POST", "/v1/enrollments/"+id+"/cancel", e.keyB, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other clinic cancel: %d", resp.StatusCode)
	}
	_, list := e.do(t, "GET", "/v1/messages", e.keyB, nil, nil)
	if n := len(list["messages"].([]any)); n != 0 {
		t.Fatalf("other clinic sees %d messages", n)
	}
	// Still intact for its owner.
	_, v := e.do(t, "GET", "/v1/enrollments/"+id, e.keyA, nil, nil)
	if v["enrollment"].(map[string]any)["cancelled"] != false {
		t.Fatal("cross-clinic cancel changed the enrollment")
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	h := map[string]string{"Idempotency-Key": "front-desk-123"}
	r1, o1 := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), h)
	r2, o2 := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), h)
	if r1.StatusCode != 201 || r2.StatusCode != 200 {
		t.Fatalf("statuses %d, %d", r1.StatusCode, r2.StatusCode)
	}
	if o1["enrollment"].(map[string]any)["id"] != o2["enrollment"].(map[string]any)["id"] {
		t.Fatal("repeat returned a different enrollment")
	}
	_, msgs := e.counts(t)
	changed := validBody()
	changed["session_number"] = 2
	if r, out := e.do(t, "POST", "/v1/enrollments", e.keyA, changed, h); r.StatusCode != http.StatusConflict {
		t.Fatalf("same key, different body: %d %v", r.StatusCode, out)
	}
	// external_ref makes retries safe without the header too.
	withRef := validBody()
	withRef["external_ref"] = "visit-9"
	withRef["phone"] = "+14155550124"
	ra, oa := e.do(t, "POST", "/v1/enrollments", e.keyA, withRef, nil)
	rb, ob := e.do(t, "POST", "/v1/enrollments", e.keyA, withRef, nil)
	if ra.StatusCode != 201 || rb.StatusCode != 200 || oa["enrollment"].(map[string]any)["id"] != ob["enrollment"].(map[string]any)["id"] {
		t.Fatalf("external_ref repeat: %d %d", ra.StatusCode, rb.StatusCode)
	}
	_, msgs2 := e.counts(t)
	if msgs2 != msgs*2 {
		t.Fatalf("messages %d -> %d: a repeat planned twice", msgs, msgs2)
	}
}

func TestValidationErrorsChangeNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name   string
		mutate func(b map[string]any)
		status int
		field  string
	}{
		{"missing first name", func(b map[string]any) { delete(b, "first_name") }, 422, "first_name"},
		{"blank first name", func(b map[string]any) { b["first_name"] = "   " }, 422, "first_name"},
		{"control char in name", func(b map[string]any) { b["first_name"] = "An\u0000a" }, 422, "first_name"},
		{"name too long", func(b map[string]any) { b["last_name"] = strings.Repeat("a", 101) }, 422, "last_name"},
		{"missing phone", func(b map[string]any) { delete(b, "phone") }, 422, "phone"},
		{"letters in phone", func(b map[string]any) { b["phone"] = "call me" }, 422, "phone"},
		{"too short phone", func(b map[string]any) { b["phone"] = "+1415555" }, 422, "phone"},
		{"invalid area code", func(b map[string]any) { b["phone"] = "+11115550123" }, 422, "phone"},
		{"uk landline", func(b map[string]any) { b["phone"] = "+442071838750" }, 422, "phone"},
		{"bad email", func(b map[string]any) { b["email"] = "ana@" }, 422, "email"},
		{"email with name", func(b map[string]any) { b["email"] = "Ana <ana@example.com>" }, 422, "email"},
		{"email without dot", func(b map[string]any) { b["email"] = "ana@localhost" }, 422, "email"},
		{"email consent without email", func(b map[string]any) { b["email"] = "" }, 422, "email"},
		{"no consent at all", func(b map[string]any) { b["sms_consent"], b["email_consent"] = false, false }, 422, "sms_consent"},
		{"unknown zone", func(b map[string]any) { b["timezone"] = "Mars/Olympus" }, 422, "timezone"},
		{"Local zone", func(b map[string]any) { b["timezone"] = "Local" }, 422, "timezone"},
		{"path zone", func(b map[string]any) { b["timezone"] = "../../etc/passwd" }, 422, "timezone"},
		{"bad treated_at", func(b map[string]any) { b["treated_at"] = "yesterday" }, 422, "treated_at"},
		{"treated_at without offset", func(b map[string]any) { b["treated_at"] = "2026-11-25T09:30:00" }, 422, "treated_at"},
		{"treated_at far future", func(b map[string]any) { b["treated_at"] = "2026-11-27T09:30:00Z" }, 422, "treated_at"},
		{"treated_at far past", func(b map[string]any) { b["treated_at"] = "2026-09-01T09:30:00Z" }, 422, "treated_at"},
		{"session beyond series", func(b map[string]any) { b["session_number"] = 4 }, 422, "session_number"},
		{"session zero", func(b map[string]any) { b["session_number"] = 0 }, 422, "session_number"},
		{"series zero", func(b map[string]any) { b["series_length"] = 0 }, 422, "series_length"},
		{"series as string", func(b map[string]any) { b["series_length"] = "3" }, 422, "series_length"},
		{"unknown treatment", func(b map[string]any) { b["treatment"] = "botox" }, 422, "treatment"},
		{"unknown field", func(b map[string]any) { b["ssn"] = "123" }, 422, "ssn"},
		{"bad consent method", func(b map[string]any) { b["consent_method"] = "telepathy" }, 422, "consent_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validBody()
			tt.mutate(b)
			p0, m0 := e.counts(t)
			resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, b, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, out)
			}
			errObj, _ := out["error"].(map[string]any)
			if errObj == nil || errObj["field"] != tt.field || errObj["message"] == "" {
				t.Fatalf("error = %v, want field %q", out, tt.field)
			}
			if p1, m1 := e.counts(t); p1 != p0 || m1 != m0 {
				t.Fatalf("rejected request wrote: patients %d->%d messages %d->%d", p0, p1, m0, m1)
			}
		})
	}
}

func TestProtocolLevelErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
	}{
		{"malformed", `{"first_name":`, "application/json", 400},
		{"trailing", `{"first_name":"a"} {}`, "application/json", 400},
		{"not an object", `[1,2]`, "application/json", 422},
		{"wrong content type", `first_name=a`, "application/x-www-form-urlencoded", 415},
		{"no content type", `{}`, "", 415},
		{"too large", `{"first_name":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, "application/json", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/enrollments", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out map[string]any
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != tt.status || out["error"] == nil {
				t.Fatalf("status %d (want %d), body %v", resp.StatusCode, tt.status, out)
			}
		})
	}
	if p, m := e.counts(t); p != 0 || m != 0 {
		t.Fatalf("store changed: %d patients %d messages", p, m)
	}
}

func TestCancelAndMessageLog(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, out := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), nil)
	id := jsonNum(int64(out["enrollment"].(map[string]any)["id"].(float64)))
	resp, c := e.do(t, "POST", "/v1/enrollments/"+id+"/cancel", e.keyA, nil, nil)
	if resp.StatusCode != 200 || c["cancelled_messages"].(float64) < 10 {
		t.Fatalf("cancel: %d %v", resp.StatusCode, c["cancelled_messages"])
	}
	_, list := e.do(t, "GET", "/v1/messages?status=cancelled&channel=sms&limit=5", e.keyA, nil, nil)
	msgs := list["messages"].([]any)
	if len(msgs) != 5 || list["next_after"] == nil {
		t.Fatalf("page: %d messages, next_after %v", len(msgs), list["next_after"])
	}
	for _, m := range msgs {
		mm := m.(map[string]any)
		if mm["status"] != "cancelled" || mm["channel"] != "sms" {
			t.Fatalf("filter leaked %v", mm)
		}
	}
	next := jsonNum(int64(list["next_after"].(float64)))
	_, page2 := e.do(t, "GET", "/v1/messages?status=cancelled&channel=sms&limit=5&after="+next, e.keyA, nil, nil)
	if p2 := page2["messages"].([]any); len(p2) == 0 || p2[0].(map[string]any)["id"].(float64) <= list["next_after"].(float64) {
		t.Fatalf("page 2 = %v", p2)
	}
	for _, q := range []string{"status=bogus", "channel=fax", "limit=0", "from=yesterday", "after=-1"} {
		if resp, _ := e.do(t, "GET", "/v1/messages?"+q, e.keyA, nil, nil); resp.StatusCode != 422 {
			t.Errorf("GET /v1/messages?%s = %d, want 422", q, resp.StatusCode)
		}
	}
	if resp, _ := e.do(t, "GET", "/v1/enrollments/abc", e.keyA, nil, nil); resp.StatusCode != 422 {
		t.Errorf("non-numeric id: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, "GET", "/v1/enrollments/999999", e.keyA, nil, nil); resp.StatusCode != 404 {
		t.Errorf("missing id: %d", resp.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp, out := e.do(t, "GET", "/healthz", "", nil, nil)
	if resp.StatusCode != 200 || out["status"] != "ok" {
		t.Fatalf("healthz %d %v", resp.StatusCode, out)
	}
}
