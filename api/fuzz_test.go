package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/twilio"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// Seeds live in testdata/fuzz/<FuzzName>/ too; these are the small ones.

const (
	fuzzToken  = "0123456789abcdef0123456789abcdef"
	fuzzPublic = "https://aftercare.example"
	fuzzSID    = "SM0123456789abcdef0123456789abcdef"
)

// fuzzEnv is the real API handler over a real SQLite file, with one
// clinic, one enrolled patient (+14155550123) whose welcome text was sent
// as fuzzSID, and a connection of its own that sees every commit.
type fuzzEnv struct {
	h       http.Handler
	key     string
	version *sql.Conn // PRAGMA data_version changes when anyone else commits
	db      *sql.DB
}

type unsubscriber struct{}

func (unsubscriber) Unsubscribe(ctx context.Context, token string) (string, error) {
	return "", aftercare.Errorf(aftercare.ENOTFOUND, "this unsubscribe link is not valid or has expired")
}

func (unsubscriber) UnsubscribeLink(ctx context.Context, token string) (api.UnsubscribeLink, error) {
	return api.UnsubscribeLink{}, aftercare.Errorf(aftercare.ENOTFOUND, "this unsubscribe link is not valid or has expired")
}

func fuzzSetup(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	clock := testsupport.NewClock(now)
	// SQLite whatever AFTERCARE_TEST_DB says: the fuzzers count rows in
	// the file after every input.
	s := testsupport.OpenStoreAt(tb, testsupport.SQLiteDB(tb), store.Options{Clock: clock})
	path := s.Path()
	p, err := protocol.Default()
	if err != nil {
		tb.Fatal(err)
	}
	clinic, key, err := s.CreateClinic(ctx, aftercare.Clinic{Name: "Glow", Phone: "+14155550100", Timezone: "America/New_York",
		AlertEmail: "staff@glow.example", OnCallPhone: "+14155550199"})
	if err != nil {
		tb.Fatal(err)
	}
	// The key's first use records its last-used time (then at most once a
	// minute, and the clock stands still here): use it once now, so that a
	// refused request's "nothing written" is about the request alone.
	if _, _, _, err := s.AuthenticateAPIKey(ctx, key); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	enr := &enroll.Service{Store: s, Protocol: p, Clock: clock}
	if _, _, err := enr.Enroll(ctx, clinic, enroll.Request{FirstName: "Ana", Phone: "+14155550123", Email: "ana@example.com",
		SMSConsent: true, EmailConsent: true, TreatedAt: "2026-11-25T09:30:00-05:00", SessionNumber: 1, SeriesLength: 3}, ""); err != nil {
		tb.Fatal(err)
	}
	claimed, err := s.Claim(ctx, now, 1, time.Minute)
	if err != nil || len(claimed) != 1 {
		tb.Fatalf("claim: %v %d", err, len(claimed))
	}
	if _, err := s.Record(ctx, []store.Outcome{{ID: claimed[0].Message.ID, Kind: store.OutcomeSent, At: now, ProviderID: fuzzSID}}); err != nil {
		tb.Fatal(err)
	}
	srv := api.New(api.Deps{Store: s, Enroller: enr, Log: log})
	srv.EnableWebhooks(api.Webhooks{TwilioAuthToken: fuzzToken, PublicURL: fuzzPublic, Unsubscriber: unsubscriber{},
		Inbound: &inbound.Service{Store: s, Protocol: p, Clock: clock, Log: log, DefaultFrom: "+14155550100",
			ClassifyReceipt: twilio.ClassifyStatusCallback}})
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &fuzzEnv{h: srv.Handler(), key: key, version: conn, db: db}
}

// dataVersion changes whenever another connection commits to the file.
func (e *fuzzEnv) dataVersion(t *testing.T) int64 {
	t.Helper()
	var v int64
	if err := e.version.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *fuzzEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// checkEnrollment asserts the invariants of one enrollment request: no 5xx,
// a JSON answer, nothing written when refused, the whole plan stored when
// accepted.
func (e *fuzzEnv) checkEnrollment(t *testing.T, body []byte, ctype, idem string) {
	before := e.dataVersion(t)
	r := httptest.NewRequest("POST", "/v1/enrollments", bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+e.key)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if idem != "" {
		r.Header["Idempotency-Key"] = []string{idem}
	}
	w := e.serve(r)
	if w.Code >= 500 {
		t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
	}
	var out struct {
		Error      *struct{ Code string } `json:"error"`
		Enrollment struct{ ID int64 }     `json:"enrollment"`
		Patient    api.Patient            `json:"patient"`
		Messages   []json.RawMessage      `json:"messages"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("status %d with a body that is not JSON (%v): %s", w.Code, err, w.Body)
	}
	switch {
	case w.Code >= 400:
		if out.Error == nil || out.Error.Code == "" {
			t.Fatalf("status %d without an error code: %s", w.Code, w.Body)
		}
		if after := e.dataVersion(t); after != before {
			t.Fatalf("refused request (%d %s) changed the database", w.Code, w.Body)
		}
	case w.Code == http.StatusCreated || w.Code == http.StatusOK:
		var n int
		if err := e.db.QueryRow(`SELECT count(*) FROM messages WHERE enrollment_id = ?`, out.Enrollment.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 || n != len(out.Messages) {
			t.Fatalf("enrollment %d: %d messages stored, %d answered", out.Enrollment.ID, n, len(out.Messages))
		}
		if !e164.MatchString(out.Patient.Phone) || out.Patient.FirstName == "" {
			t.Fatalf("accepted patient %+v", out.Patient)
		}
	default:
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzEnrollmentBody throws arbitrary bodies at POST /v1/enrollments.
func FuzzEnrollmentBody(f *testing.F) {
	valid, _ := json.Marshal(validBody())
	f.Add(valid, "application/json", "")
	f.Add(valid, "application/json; charset=utf-8", "visit-1")
	f.Add([]byte(`{"first_name":"<script>","phone":"4155550124","sms_consent":true,"session_number":1,"series_length":1}`), "application/json", "")
	f.Add([]byte(`{"first_name":"Ana\u202e","phone":"+14155550123","sms_consent":true}`), "application/json", "k\xff")
	f.Add([]byte("{\"first_name\":\"\xff\"}"), "application/json", "")
	f.Add([]byte(`[{}]`), "application/json", "")
	f.Add([]byte(`{"clinic_id":2}`), "text/plain", "")
	e := fuzzSetup(f)
	f.Fuzz(func(t *testing.T, body []byte, ctype, idem string) {
		e.checkEnrollment(t, body, ctype, idem)
	})
}

// FuzzEnrollmentFields fills a well-formed enrollment with arbitrary field
// values, to reach the validation rules behind the JSON decoder.
func FuzzEnrollmentFields(f *testing.F) {
	f.Add("Ana", "Diaz", "+1 (415) 555-0123", "Ana@Example.com", "America/New_York", "2026-11-25T09:30:00-05:00", "visit-1", "front_desk", 1, 3, true, true)
	f.Add("علی\u200cرضا", "👨\u200d👩\u200d👧", "4155550125", "", "", "", "", "", 2, 2, true, false)
	f.Add("Robert'); DROP TABLE patients;--", "' OR '1'='1", "+447911123456", "o'reilly@example.com", "Europe/London", "2026-11-25T14:30:00Z", "x'; --", "api", 1, 1, true, true)
	f.Add("Ana\u202e", "\u0301", "+1 900 555 0123", "ana@127.0.0.1", "Local", "2026-11-25T14:30:00+24:00", "ref\x00", "telepathy", 0, 21, false, false)
	e := fuzzSetup(f)
	f.Fuzz(func(t *testing.T, first, last, phone, email, tz, treatedAt, ref, method string, session, series int, sms, em bool) {
		body, err := json.Marshal(map[string]any{"first_name": first, "last_name": last, "phone": phone, "email": email, "timezone": tz,
			"treated_at": treatedAt, "external_ref": ref, "consent_method": method, "session_number": session, "series_length": series,
			"sms_consent": sms, "email_consent": em})
		if err != nil {
			t.Skip()
		}
		e.checkEnrollment(t, body, "application/json", "")
	})
}

// FuzzTwilioWebhook posts arbitrary forms to both Twilio webhooks, signed
// correctly, signed with the wrong token or over the wrong URL, or not at
// all. Only a correctly signed, well-formed request may change anything;
// nothing gets a 5xx.
func FuzzTwilioWebhook(f *testing.F) {
	stop := twiliotest.InboundForm("AC0123456789abcdef0123456789abcdef", "+14155550123", "+14155550100", "STOP")
	red := twiliotest.InboundForm("AC0123456789abcdef0123456789abcdef", "+14155550123", "+14155550100", "<b>pus</b> and swelling")
	receipt := url.Values{"MessageSid": {fuzzSID}, "MessageStatus": {"delivered"}, "AccountSid": {"AC0"}}
	failed := url.Values{"MessageSid": {fuzzSID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30006"}}
	for sig := uint8(0); sig < 4; sig++ {
		f.Add(false, stop.Encode(), uint8(0), sig)
		f.Add(true, receipt.Encode(), uint8(0), sig)
	}
	f.Add(false, red.Encode(), uint8(0), uint8(1))
	f.Add(true, failed.Encode(), uint8(0), uint8(1))
	f.Add(false, "Body=%zz&From=%2", uint8(0), uint8(1))
	f.Add(false, stop.Encode()+"&Body=START", uint8(0), uint8(1))
	f.Add(true, receipt.Encode(), uint8(1), uint8(1))
	e := fuzzSetup(f)
	f.Fuzz(func(t *testing.T, status bool, form string, ctype, sig uint8) {
		path := "/webhooks/twilio/inbound"
		if status {
			path = "/webhooks/twilio/status"
		}
		r := httptest.NewRequest("POST", path, strings.NewReader(form))
		switch ctype % 3 {
		case 0:
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		case 1:
			r.Header.Set("Content-Type", "application/json")
		}
		params, _ := url.ParseQuery(form)
		signed := false
		switch sig % 4 {
		case 1:
			r.Header.Set("X-Twilio-Signature", twiliotest.Sign(fuzzToken, fuzzPublic+path, params))
			signed = true
		case 2:
			r.Header.Set("X-Twilio-Signature", twiliotest.Sign("0000000000000000000000000000dead", fuzzPublic+path, params))
		case 3:
			r.Header.Set("X-Twilio-Signature", twiliotest.Sign(fuzzToken, "https://evil.example"+path, params))
		}
		before := e.dataVersion(t)
		w := e.serve(r)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, form, w.Body)
		}
		if w.Code >= 400 || !signed {
			if w.Code < 400 {
				t.Fatalf("a request not signed with the auth token got %d", w.Code)
			}
			if e.dataVersion(t) != before {
				t.Fatalf("refused webhook (%d) changed the database", w.Code)
			}
		}
	})
}
