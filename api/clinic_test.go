package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/store"
)

// stubTreatments is the daemon's and the clinic's protocols' treatments
// in these tests.
func stubTreatments(context.Context, int64) ([]string, error) {
	return []string{"microneedling", "chemical peel"}, nil
}

// clinicEnv is a server on a real store with one clinic (and another, to
// prove the API only touches the caller's).
type clinicEnv struct {
	*env
	audits func() []aftercare.AuditEntry
}

func setupClinic(t *testing.T) *clinicEnv {
	t.Helper()
	s := testsupport.OpenStore(t, store.Options{Clock: testsupport.NewClock(now)})
	ctx := context.Background()
	a, keyA, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow",
		Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	b, keyB, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other",
		Phone: "+442071838750", Timezone: "Europe/London"})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Deps{Store: s, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Treatments: stubTreatments})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{srv: ts, store: s, keyA: keyA, keyB: keyB, clinicA: a, clB: b}
	return &clinicEnv{env: e, audits: func() []aftercare.AuditEntry {
		rows, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: a.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []aftercare.AuditEntry
		for _, r := range rows {
			if r.Action == aftercare.AuditSettings {
				out = append(out, r)
			}
		}
		return out
	}}
}

// TestClinicSettingsRoundTrip: a PATCH changes the planning settings on
// the real store in one audited write, GET shows them, null resets a
// setting to the default, the other clinic is untouched, and a PATCH that
// changes nothing writes no audit row.
func TestClinicSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	e := setupClinic(t)
	resp, got := e.do(t, "GET", "/v1/clinic", e.keyA, nil, nil)
	if resp.StatusCode != 200 || got["name"] != "Glow" || got["timezone"] != "America/New_York" ||
		got["default_language"] != "" || got["daily_text_cap"] != 0.0 || !reflect.DeepEqual(got["treatments"], []any{}) {
		t.Fatalf("GET: %d %v", resp.StatusCode, got)
	}
	for _, secret := range []string{"alert_email", "on_call_phone", "sms_from", "messaging_service_sid", "email_from", "reply_to", "api_key"} {
		if _, ok := got[secret]; ok {
			t.Fatalf("GET shows %s: %v", secret, got)
		}
	}

	patch := `{"default_language":"ES","quiet_hours":"21:30-7:00","daily_text_cap":2,"weekly_text_cap":10,
		"treatments":["Microneedling","chemical  peel"],"booking_url":"https://glow.example/book",
		"after_hours_phone":"(415) 555-0199","timezone":"America/Chicago"}`
	resp, got = e.doRaw(t, "PATCH", "/v1/clinic", e.keyA, "application/merge-patch+json", patch)
	want := map[string]any{"id": float64(e.clinicA.ID), "name": "Glow", "phone": "+14155550100", "timezone": "America/Chicago",
		"booking_url": "https://glow.example/book", "after_hours_phone": "+14155550199", "default_language": "es",
		"quiet_hours": "21:30-07:00", "daily_text_cap": 2.0, "weekly_text_cap": 10.0,
		"treatments": []any{"microneedling", "chemical peel"}}
	if resp.StatusCode != 200 || !reflect.DeepEqual(got, want) {
		t.Fatalf("PATCH: %d\n got %v\nwant %v", resp.StatusCode, got, want)
	}
	if _, again := e.do(t, "GET", "/v1/clinic", e.keyA, nil, nil); !reflect.DeepEqual(again, want) {
		t.Fatalf("GET after PATCH (read back from the store):\n got %v\nwant %v", again, want)
	}
	stored, err := e.store.Clinic(context.Background(), e.clinicA.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.AlertEmail != "staff@clinic.example" || stored.DailyTextCap != 2 || stored.DefaultLanguage != "es" {
		t.Fatalf("stored clinic: %+v", stored)
	}
	audits := e.audits()
	if len(audits) != 1 || audits[0].Actor.Kind != aftercare.ActorAPIKey {
		t.Fatalf("want one settings audit row by the API key, got %+v", audits)
	}
	for _, f := range []string{"timezone", "booking_url", "after_hours_phone", "default_language", "quiet_hours",
		"daily_text_cap", "weekly_text_cap", "treatments"} {
		if !strings.Contains(audits[0].Detail, f) {
			t.Fatalf("audit %q does not name %s", audits[0].Detail, f)
		}
	}
	if strings.Contains(audits[0].Detail, "glow.example") {
		t.Fatalf("audit row holds a value: %q", audits[0].Detail)
	}

	// Same values again: nothing changes, no audit row.
	if resp, _ := e.doRaw(t, "PATCH", "/v1/clinic", e.keyA, "application/json", patch); resp.StatusCode != 200 {
		t.Fatalf("repeat PATCH: %d", resp.StatusCode)
	}
	if n := len(e.audits()); n != 1 {
		t.Fatalf("a PATCH that changed nothing wrote an audit row (%d rows)", n)
	}

	// null resets to the default; absent members stay.
	resp, got = e.doRaw(t, "PATCH", "/v1/clinic", e.keyA, "application/merge-patch+json",
		`{"quiet_hours":null,"weekly_text_cap":null,"treatments":null,"booking_url":null}`)
	if resp.StatusCode != 200 || got["quiet_hours"] != "" || got["weekly_text_cap"] != 0.0 || got["booking_url"] != "" ||
		!reflect.DeepEqual(got["treatments"], []any{}) || got["default_language"] != "es" || got["daily_text_cap"] != 2.0 {
		t.Fatalf("PATCH with nulls: %d %v", resp.StatusCode, got)
	}

	// The other clinic is untouched.
	if _, other := e.do(t, "GET", "/v1/clinic", e.keyB, nil, nil); other["name"] != "Other" || other["default_language"] != "" {
		t.Fatalf("other clinic: %v", other)
	}
}

// TestClinicPatchRefused: bad patches get every problem at once, named by
// field in the order given, and write nothing.
func TestClinicPatchRefused(t *testing.T) {
	t.Parallel()
	e := setupClinic(t)
	type problem struct{ field, msg string }
	for _, tc := range []struct {
		name   string
		ctype  string
		body   string
		status int
		code   string
		want   []problem // every field error, in order (nil: no field errors)
	}{
		{name: "every planning field bad", body: `{"default_language":"fr","quiet_hours":"9pm-8am","daily_text_cap":4,"weekly_text_cap":60,"treatments":["botox","microneedling"]}`,
			status: 422, code: "invalid", want: []problem{{"default_language", "en or es"}, {"quiet_hours", "like 21:00-08:00"},
				{"daily_text_cap", "between 1 and 3"}, {"weekly_text_cap", "and 50"}, {"treatments", `no protocol for "botox"`}}},
		{name: "order follows the patch", body: `{"treatments":["laser"],"timezone":"Mars/Base","booking_url":"ftp://x"}`,
			status: 422, code: "invalid", want: []problem{{"treatments", `"laser"`}, {"timezone", ""}, {"booking_url", "https://"}}},
		{name: "unknown and read-only fields", body: `{"colour":"blue","name":"New","alert_email":"x@example.com","daily_text_cap":3}`,
			status: 422, code: "invalid", want: []problem{{"colour", "unknown field; the settings PATCH /v1/clinic changes are timezone, booking_url"},
				{"name", "cannot be changed through the API"}, {"alert_email", "alert routes are changed in the console"}}},
		{name: "wrong types", body: `{"daily_text_cap":"2","weekly_text_cap":2.5,"treatments":"microneedling","quiet_hours":21,"default_language":true}`,
			status: 422, code: "invalid", want: []problem{{"daily_text_cap", "whole number"}, {"weekly_text_cap", "whole number"},
				{"treatments", "list of treatment names"}, {"quiet_hours", "must be a string"}, {"default_language", "must be a string"}}},
		{name: "weekly below daily", body: `{"daily_text_cap":3,"weekly_text_cap":2}`, status: 422, code: "invalid",
			want: []problem{{"weekly_text_cap", "daily cap (3)"}}},
		{name: "treatment twice", body: `{"treatments":["microneedling","Microneedling"]}`, status: 422, code: "invalid",
			want: []problem{{"treatments", "twice"}}},
		{name: "timezone cleared", body: `{"timezone":null}`, status: 422, code: "invalid", want: []problem{{"timezone", ""}}},
		{name: "member twice", body: `{"daily_text_cap":3,"daily_text_cap":4}`, status: 422, code: "invalid",
			want: []problem{{"daily_text_cap", "given twice"}}},
		{name: "array", body: `[{"daily_text_cap":3}]`, status: 422, code: "invalid", want: []problem{{"", "must be a JSON object"}}},
		{name: "null body", body: `null`, status: 422, code: "invalid", want: []problem{{"", "must be a JSON object"}}},
		{name: "malformed", body: `{"daily_text_cap":3`, status: 400, code: "bad_json"},
		{name: "trailing data", body: `{"daily_text_cap":3} {}`, status: 400, code: "bad_json"},
		{name: "invalid UTF-8", body: "{\"quiet_hours\":\"\xff\"}", status: 400, code: "bad_json"},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: `daily_text_cap=3`, status: 415, code: "unsupported_media_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctype := tc.ctype
			if ctype == "" {
				ctype = "application/merge-patch+json"
			}
			resp, out := e.doRaw(t, "PATCH", "/v1/clinic", e.keyA, ctype, tc.body)
			errObj, _ := out["error"].(map[string]any)
			if resp.StatusCode != tc.status || errObj["code"] != tc.code {
				t.Fatalf("status %d code %v, want %d %s: %v", resp.StatusCode, errObj["code"], tc.status, tc.code, out)
			}
			list, _ := out["errors"].([]any)
			if len(list) != len(tc.want) {
				t.Fatalf("%d field errors, want %d: %v", len(list), len(tc.want), out["errors"])
			}
			for i, w := range tc.want {
				p := list[i].(map[string]any)
				if field, _ := p["field"].(string); field != w.field || !strings.Contains(p["message"].(string), w.msg) {
					t.Fatalf("error %d = %v, want field %s with %q", i, p, w.field, w.msg)
				}
			}
		})
	}
	if n := len(e.audits()); n != 0 {
		t.Fatalf("refused patches wrote %d audit rows", n)
	}
	stored, err := e.store.Clinic(context.Background(), e.clinicA.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Timezone != "America/New_York" || !reflect.DeepEqual(stored.ClinicPlanning, aftercare.ClinicPlanning{}) {
		t.Fatalf("a refused patch changed the clinic: %+v", stored)
	}
	if resp, _ := e.doRaw(t, "PATCH", "/v1/clinic", "", "application/json", `{}`); resp.StatusCode != 401 {
		t.Fatalf("PATCH without a key: %d", resp.StatusCode)
	}
}

// TestGoldenClinic pins the wire format of GET and PATCH /v1/clinic,
// answers and errors, on a fake store holding a realistic clinic.
func TestGoldenClinic(t *testing.T) {
	t.Parallel()
	fx := newFixture(zero)
	fx.clinic = aftercare.Clinic{ID: 1, Name: "Glow & Co", Phone: "+14155550100", Timezone: "America/New_York",
		AlertEmail: "alerts@glow.example", SMSFrom: "+14155550111", ReplyTo: "desk@glow.example",
		ClinicPlanning: aftercare.ClinicPlanning{DefaultLanguage: "es", Treatments: []string{"microneedling"}}}
	srv := api.New(api.Deps{Store: fx, Enroller: fx, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Treatments: stubTreatments})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	var got bytes.Buffer
	for _, c := range []struct{ method, body string }{
		{"GET", ""},
		{"PATCH", `{"quiet_hours":"22:00-07:30","daily_text_cap":1,"weekly_text_cap":5,"treatments":["microneedling","Chemical Peel"],"booking_url":"https://glow.example/book"}`},
		{"PATCH", `{"default_language":null,"treatments":[]}`},
		{"PATCH", `{"default_language":"pt","quiet_hours":"08:00-08:00","treatments":["laser"],"sms_from":"+1"}`},
		{"PATCH", `[]`},
		{"GET", ""},
	} {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, err := http.NewRequest(c.method, ts.URL+"/v1/clinic", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+goldenKey)
		req.Header.Set("Content-Type", "application/merge-patch+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&got, "### %s /v1/clinic %s\nstatus: %d\nContent-Type: %s\n", c.method, c.body, resp.StatusCode, resp.Header.Get("Content-Type"))
		got.Write(raw)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "clinic.txt"), got.Bytes())
}

// doRaw sends body as is with the given content type.
func (e *env) doRaw(t *testing.T, method, path, key, ctype, body string) (*http.Response, map[string]any) {
	t.Helper()
	return e.do(t, method, path, key, body, map[string]string{"Content-Type": ctype})
}
