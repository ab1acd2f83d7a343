package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/booking"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// libraryOf serves one library to every clinic.
type libraryOf struct{ lib *protocol.Library }

func (l libraryOf) Library(context.Context, int64) (*protocol.Library, error) { return l.lib, nil }

type bookingEnv struct {
	srv              *httptest.Server
	store            *store.Store
	clock            *testsupport.Clock
	clinicA, clinicB aftercare.Clinic
	secretA, secretB string
}

func setupBooking(t testing.TB) *bookingEnv {
	t.Helper()
	clock := testsupport.NewClock(now)
	s := testsupport.OpenStore(t, store.Options{Clock: clock})
	lib, err := protocol.DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550111", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	secretA, err := s.SetBookingSecret(ctx, a.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	secretB, err := s.SetBookingSecret(ctx, b.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	en := &enroll.Service{Store: s, Protocols: libraryOf{lib}, Clock: clock}
	srv := api.New(api.Deps{Store: s, Enroller: en, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.EnableBooking(api.Booking{Secrets: s.BookingSecrets, Clock: clock,
		Handler: &booking.Service{Store: s, Enroller: en, Protocols: libraryOf{lib}}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &bookingEnv{srv: ts, store: s, clock: clock, clinicA: a, clinicB: b, secretA: secretA, secretB: secretB}
}

func completedEvent(appt string) map[string]any {
	return map[string]any{
		"event": "appointment.completed", "appointment_id": appt, "occurred_at": "2026-11-25T14:55:00Z",
		"treatment": "microneedling", "treated_at": "2026-11-25T09:30:00-05:00", "session_number": 1, "series_length": 3,
		"patient": map[string]any{"first_name": "Ana", "last_name": "Diaz", "phone": "+14155550123",
			"email": "ana@example.com", "timezone": "America/New_York", "language": "en"},
		"consent": map[string]any{"sms": true, "email": true, "wording_version": "booking-2026-10"},
	}
}

func sign(secret string, ts int64, body []byte) (string, string) {
	t := strconv.FormatInt(ts, 10)
	return t, "v1=" + hex.EncodeToString(api.SignBooking(secret, t, body))
}

// post sends body to clinic's booking webhook with the given headers
// (none set when hdr is nil) and returns the status, headers and body.
func (e *bookingEnv) post(t *testing.T, clinic string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/webhooks/booking/"+clinic, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// signed posts v signed with secret at the clock's time.
func (e *bookingEnv) signed(t *testing.T, clinic aftercare.Clinic, secret string, v any) (int, http.Header, []byte) {
	t.Helper()
	body, _ := json.Marshal(v)
	ts, sig := sign(secret, e.clock.Now().Unix(), body)
	return e.post(t, strconv.FormatInt(clinic.ID, 10), body, map[string]string{api.HeaderBookingTimestamp: ts, api.HeaderBookingSignature: sig})
}

func (e *bookingEnv) events(t *testing.T, clinicID int64) int {
	t.Helper()
	n := 0
	counts, err := e.store.BookingEventCounts(context.Background(), clinicID, time.Unix(0, 0), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		n += c
	}
	return n
}

// TestBookingWebhookSignature: only a request signed with the clinic's
// own secret, timestamped within five minutes of the daemon's clock, is
// acted on; every other one gets the same 401, without saying why, and
// writes nothing.
func TestBookingWebhookSignature(t *testing.T) {
	t.Parallel()
	e := setupBooking(t)
	body, _ := json.Marshal(completedEvent("appt-1"))
	a := strconv.FormatInt(e.clinicA.ID, 10)
	b := strconv.FormatInt(e.clinicB.ID, 10)
	nowTS := e.clock.Now().Unix()
	hdr := func(secret string, ts int64, signed []byte) map[string]string {
		t, sig := sign(secret, ts, signed)
		return map[string]string{api.HeaderBookingTimestamp: t, api.HeaderBookingSignature: sig}
	}
	_, wrongSig := sign("bks_not-the-secret", nowTS, body)
	var first []byte
	for _, tc := range []struct {
		name   string
		clinic string
		hdr    map[string]string
	}{
		{"no headers", a, nil},
		{"no signature", a, map[string]string{api.HeaderBookingTimestamp: strconv.FormatInt(nowTS, 10)}},
		{"wrong secret", a, map[string]string{api.HeaderBookingTimestamp: strconv.FormatInt(nowTS, 10), api.HeaderBookingSignature: wrongSig}},
		{"clinic A's secret for clinic B", b, hdr(e.secretA, nowTS, body)},
		{"clinic B's secret for clinic A", a, hdr(e.secretB, nowTS, body)},
		{"stale timestamp", a, hdr(e.secretA, nowTS-int64(api.BookingWindow/time.Second)-1, body)},
		{"timestamp from the future", a, hdr(e.secretA, nowTS+int64(api.BookingWindow/time.Second)+1, body)},
		{"signature of another body", a, hdr(e.secretA, nowTS, append([]byte(" "), body...))},
		{"timestamp not a number", a, map[string]string{api.HeaderBookingTimestamp: "soon", api.HeaderBookingSignature: hdr(e.secretA, nowTS, body)[api.HeaderBookingSignature]}},
		{"unknown clinic", "999", hdr(e.secretA, nowTS, body)},
		{"clinic not a number", "glow", hdr(e.secretA, nowTS, body)},
	} {
		status, _, raw := e.post(t, tc.clinic, body, tc.hdr)
		if status != http.StatusUnauthorized {
			t.Errorf("%s: status %d (%s), want 401", tc.name, status, raw)
			continue
		}
		if first == nil {
			first = raw
		} else if !bytes.Equal(raw, first) {
			t.Errorf("%s: answer %s differs from %s: it tells the failures apart", tc.name, raw, first)
		}
	}
	if n := e.events(t, e.clinicA.ID) + e.events(t, e.clinicB.ID); n != 0 {
		t.Fatalf("%d booking events recorded from refused requests", n)
	}
	if ps, _ := e.store.SearchPatients(context.Background(), e.clinicA.ID, "", 10); len(ps) != 0 {
		t.Fatalf("refused requests made %d patients", len(ps))
	}

	// Within the window, with several v1= values (a rotation), one right.
	ts, sig := sign(e.secretA, nowTS-int64(api.BookingWindow/time.Second)+5, body)
	_, other := sign("bks_other", nowTS, body)
	status, _, raw := e.post(t, a, body, map[string]string{api.HeaderBookingTimestamp: ts, api.HeaderBookingSignature: other + ", " + sig})
	if status != http.StatusOK {
		t.Fatalf("signed request: %d %s", status, raw)
	}

	// Over 64 KiB is refused before anything else.
	big := append(bytes.Repeat([]byte(" "), api.MaxBodyBytes+1), body...)
	if status, _, raw := e.post(t, a, big, hdr(e.secretA, nowTS, big)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d %s", status, raw)
	}
}

// TestBookingWebhookRotation: after a rotation both secrets verify for 24
// hours, then only the new one.
func TestBookingWebhookRotation(t *testing.T) {
	t.Parallel()
	e := setupBooking(t)
	ctx := context.Background()
	newSecret, err := e.store.SetBookingSecret(ctx, e.clinicA.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(appt string) map[string]any {
		return map[string]any{"event": "appointment.booked", "appointment_id": appt, "occurred_at": "2026-11-25T14:55:00Z",
			"starts_at": "2026-12-24T10:00:00-05:00", "patient": map[string]any{"phone": "+14155550123"}}
	}
	for _, tc := range []struct {
		name    string
		advance time.Duration
		secret  string
		want    int
	}{
		{"old secret right after rotation", 0, e.secretA, http.StatusOK},
		{"new secret right after rotation", 0, newSecret, http.StatusOK},
		{"old secret a minute before the day is out", store.BookingSecretOverlap - time.Minute, e.secretA, http.StatusOK},
		{"old secret after a day", 2 * time.Minute, e.secretA, http.StatusUnauthorized},
		{"new secret after a day", 0, newSecret, http.StatusOK},
	} {
		e.clock.Advance(tc.advance)
		if status, _, raw := e.signed(t, e.clinicA, tc.secret, ev(tc.name)); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, raw, tc.want)
		}
	}
}

// TestBookingWebhookReplay: the same event sent again (a retry, or a
// replay inside the window) answers the first outcome with 200 and
// Aftercare-Repeat, and enrolls no one twice; the enrollment is audited
// as the booking system of the clinic, with its consent evidence.
func TestBookingWebhookReplay(t *testing.T) {
	t.Parallel()
	e := setupBooking(t)
	ctx := context.Background()
	body, _ := json.Marshal(completedEvent("appt-7"))
	ts, sig := sign(e.secretA, e.clock.Now().Unix(), body)
	hdr := map[string]string{api.HeaderBookingTimestamp: ts, api.HeaderBookingSignature: sig}
	a := strconv.FormatInt(e.clinicA.ID, 10)
	status, h, first := e.post(t, a, body, hdr)
	if status != http.StatusOK || h.Get(api.HeaderBookingRepeat) != "" {
		t.Fatalf("first: %d %s (repeat %q)", status, first, h.Get(api.HeaderBookingRepeat))
	}
	var res api.BookingResult
	if err := json.Unmarshal(first, &res); err != nil || res.Outcome != store.BookingEnrolled || res.EnrollmentID == 0 {
		t.Fatalf("first answer = %s (%v)", first, err)
	}
	e.clock.Advance(time.Minute)
	status, h, again := e.post(t, a, body, hdr)
	if status != http.StatusOK || h.Get(api.HeaderBookingRepeat) != "true" || !bytes.Equal(again, first) {
		t.Fatalf("replay: %d %s (repeat %q), want 200 %s", status, again, h.Get(api.HeaderBookingRepeat), first)
	}
	ps, _ := e.store.SearchPatients(ctx, e.clinicA.ID, "", 10)
	if len(ps) != 1 {
		t.Fatalf("%d patients after a replay, want 1", len(ps))
	}
	if es, _ := e.store.Enrollments(ctx, e.clinicA.ID, ps[0].ID); len(es) != 1 || es[0].ExternalRef != "appt-7" {
		t.Fatalf("enrollments = %+v, want one with external_ref appt-7", es)
	}
	rows, err := e.store.AuditLog(ctx, store.AuditFilter{ClinicID: e.clinicA.ID, Action: aftercare.AuditEnroll})
	if err != nil || len(rows) != 1 {
		t.Fatalf("enroll audit rows = %d, %v", len(rows), err)
	}
	if got := rows[0].Actor; got.Kind != aftercare.ActorBookingSystem || got.ID != e.clinicA.ID || !strings.Contains(got.Label, "booking system") {
		t.Fatalf("enroll audited as %+v, want the booking system of clinic %d", got, e.clinicA.ID)
	}
	cs, _ := e.store.Consents(ctx, ps[0].ID)
	if len(cs) != 2 {
		t.Fatalf("consents = %+v", cs)
	}
	for _, c := range cs {
		if c.Method != aftercare.ConsentBookingSystem || c.WordingVersion != "booking-2026-10" || !strings.Contains(c.Detail, "appt-7") {
			t.Errorf("consent evidence = %+v", c)
		}
	}
	// The same appointment id at the other clinic is another appointment,
	// and its patient is not clinic A's.
	if status, _, raw := e.signed(t, e.clinicB, e.secretB, completedEvent("appt-7")); status != http.StatusOK {
		t.Fatalf("clinic B: %d %s", status, raw)
	}
	if psB, _ := e.store.SearchPatients(ctx, e.clinicB.ID, "", 10); len(psB) != 1 || psB[0].ID == ps[0].ID {
		t.Fatalf("clinic B patients = %+v, want its own one", psB)
	}
}

// TestBookingWebhookValidation: every field's problem at once, as JSON
// 4xx, never a 500, and nothing written.
func TestBookingWebhookValidation(t *testing.T) {
	t.Parallel()
	e := setupBooking(t)
	bad := completedEvent("")
	bad["occurred_at"] = "yesterday"
	bad["treated_at"] = "2026-11-25"
	bad["session_number"] = 0
	bad["series_length"] = 0
	bad["treatment"] = "tattoo"
	bad["patient"] = map[string]any{"first_name": "", "phone": "12", "email": "not-an-email", "timezone": "Mars/Base", "language": "xx"}
	bad["consent"] = map[string]any{"sms": true, "email": false, "wording_version": ""}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		fields []string
	}{
		{"completed, everything wrong", bad, http.StatusUnprocessableEntity, []string{"appointment_id", "occurred_at",
			"consent.wording_version", "patient.first_name", "patient.phone", "patient.email", "patient.timezone",
			"treatment", "patient.language", "treated_at", "series_length", "session_number"}},
		{"booked without time or patient", map[string]any{"event": "appointment.booked", "appointment_id": "a1",
			"occurred_at": "2026-11-25T14:55:00Z"}, http.StatusUnprocessableEntity, []string{"starts_at", "patient.phone"}},
		{"booked with a bad phone and email", map[string]any{"event": "appointment.booked", "appointment_id": "a1",
			"occurred_at": "2026-11-25T14:55:00Z", "starts_at": "2026-12-24T10:00:00Z",
			"patient": map[string]any{"phone": "call me", "email": "@"}}, http.StatusUnprocessableEntity, []string{"patient.phone", "patient.email"}},
		{"unknown event", map[string]any{"event": "appointment.moved", "appointment_id": "a1", "occurred_at": "2026-11-25T14:55:00Z"},
			http.StatusUnprocessableEntity, []string{"event"}},
		{"empty object", map[string]any{}, http.StatusUnprocessableEntity, []string{"event", "appointment_id", "occurred_at"}},
		{"wrong type", map[string]any{"event": "appointment.completed", "session_number": "one"}, http.StatusUnprocessableEntity, []string{"session_number"}},
		{"an array", []any{1}, http.StatusUnprocessableEntity, nil},
		{"malformed", json.RawMessage(`{"event":`), http.StatusBadRequest, nil},
	} {
		var body []byte
		if raw, ok := tc.body.(json.RawMessage); ok {
			body = raw
		} else {
			body, _ = json.Marshal(tc.body)
		}
		ts, sig := sign(e.secretA, e.clock.Now().Unix(), body)
		status, h, raw := e.post(t, strconv.FormatInt(e.clinicA.ID, 10), body, map[string]string{api.HeaderBookingTimestamp: ts, api.HeaderBookingSignature: sig})
		if status != tc.status || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, want %d JSON", tc.name, status, raw, tc.status)
			continue
		}
		var out struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		_ = json.Unmarshal(raw, &out)
		var got []string
		for _, p := range out.Errors {
			got = append(got, p.Field)
		}
		want := append([]string(nil), tc.fields...)
		sort.Strings(got)
		sort.Strings(want)
		if tc.fields != nil && strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: fields %v, want %v (%s)", tc.name, got, want, raw)
		}
	}
	if n := e.events(t, e.clinicA.ID); n != 0 {
		t.Fatalf("%d booking events recorded from invalid requests", n)
	}
	if ps, _ := e.store.SearchPatients(context.Background(), e.clinicA.ID, "", 10); len(ps) != 0 {
		t.Fatalf("invalid requests made %d patients", len(ps))
	}
	// The wrong Content-Type, signed, is refused as such.
	body, _ := json.Marshal(completedEvent("a2"))
	ts, sig := sign(e.secretA, e.clock.Now().Unix(), body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/webhooks/booking/"+strconv.FormatInt(e.clinicA.ID, 10), bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set(api.HeaderBookingTimestamp, ts)
	req.Header.Set(api.HeaderBookingSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %d, want 415", resp.StatusCode)
	}
}

// TestBookingGoldenJSON pins the booking webhook's answers byte for byte
// (testdata/golden/booking.txt; -update rewrites it).
func TestBookingGoldenJSON(t *testing.T) {
	t.Parallel()
	e := setupBooking(t)
	var got bytes.Buffer
	for _, ev := range []map[string]any{
		completedEvent("g-1"),
		{"event": "appointment.booked", "appointment_id": "g-2", "occurred_at": "2026-11-25T14:56:00Z",
			"starts_at": "2026-12-24T10:00:00-05:00", "patient": map[string]any{"phone": "+14155550123"}},
		{"event": "appointment.cancelled", "appointment_id": "g-2", "occurred_at": "2026-11-25T14:57:00Z",
			"patient": map[string]any{"email": "ana@example.com"}},
		{"event": "appointment.booked", "appointment_id": "g-3", "occurred_at": "2026-11-25T14:56:00Z",
			"starts_at": "2026-12-24T10:00:00-05:00", "patient": map[string]any{"email": "nobody@example.com"}},
		{"event": "appointment.booked"},
	} {
		status, _, raw := e.signed(t, e.clinicA, e.secretA, ev)
		got.WriteString(strconv.Itoa(status) + " " + string(raw))
	}
	// Ids depend on the database; the shape is what is pinned.
	out := got.Bytes()
	path := filepath.Join("testdata", "golden", "booking.txt")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("booking answers differ from %s:\n got: %s\nwant: %s", path, out, want)
	}
}

// FuzzBookingWebhook: whatever a booking system with the right secret
// posts, the answer is JSON and never a 500 (bad input is the sender's
// problem, not the daemon's).
func FuzzBookingWebhook(f *testing.F) {
	for _, ev := range []map[string]any{
		completedEvent("f-1"),
		{"event": "appointment.booked", "appointment_id": "f-2", "occurred_at": "2026-11-25T14:55:00Z",
			"starts_at": "2026-12-24T10:00:00-05:00", "patient": map[string]any{"phone": "+14155550123"}},
		{"event": "appointment.cancelled", "appointment_id": "f-2", "occurred_at": "2026-11-25T14:55:00Z",
			"patient": map[string]any{"email": "ana@example.com"}},
	} {
		b, _ := json.Marshal(ev)
		f.Add(string(b))
	}
	f.Add(`{"event":"appointment.completed","session_number":1e99}`)
	f.Add(`{"event":"appointment.booked","appointment_id":"\u0000","starts_at":"0000-00-00T00:00:00Z","patient":{"phone":"+"}}`)
	f.Add(`{"patient":null,"consent":[]}`)
	f.Add("\xff\xfe")
	e := setupBooking(f)
	f.Fuzz(func(t *testing.T, body string) {
		ts, sig := sign(e.secretA, e.clock.Now().Unix(), []byte(body))
		status, h, raw := e.post(t, strconv.FormatInt(e.clinicA.ID, 10), []byte(body),
			map[string]string{api.HeaderBookingTimestamp: ts, api.HeaderBookingSignature: sig})
		if status >= 500 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || !json.Valid(raw) {
			t.Fatalf("body %q: %d %s", body, status, raw)
		}
	})
}
