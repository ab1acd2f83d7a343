package abuse_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/store"
)

// hostile is one request that must be refused with want and change
// nothing in the database.
type hostile struct {
	name string
	req  request
	want int
}

// world is the state the hostile requests are tried against: a patient
// with an enrollment in each of two clinics, their welcome messages sent.
type world struct {
	enrollmentA, enrollmentB int64
	patientA, patientB       int64
	smsSID                   string // the provider id of A's welcome text
	revokedKey               string
}

func setupWorld(t *testing.T, h *harness) world {
	t.Helper()
	var w world
	b, _ := json.Marshal(enrollBody("Ana", "+14155550123", "ana@example.com"))
	r := h.do(request{method: "POST", path: "/v1/enrollments", key: h.keyA, ctype: "application/json", body: b,
		header: map[string]string{"Idempotency-Key": "visit-ana"}})
	if r.status != 201 {
		t.Fatalf("enroll A: %d %s", r.status, r.body)
	}
	out := r.json(t)
	w.enrollmentA = int64(out["enrollment"].(map[string]any)["id"].(float64))
	w.patientA = int64(out["patient"].(map[string]any)["id"].(float64))
	b, _ = json.Marshal(enrollBody("Beth", "+447911123456", "beth@example.co.uk"))
	r = h.do(request{method: "POST", path: "/v1/enrollments", key: h.keyB, ctype: "application/json", body: b})
	if r.status != 201 {
		t.Fatalf("enroll B: %d %s", r.status, r.body)
	}
	out = r.json(t)
	w.enrollmentB = int64(out["enrollment"].(map[string]any)["id"].(float64))
	w.patientB = int64(out["patient"].(map[string]any)["id"].(float64))
	h.runUntil(h.clock.Now().Add(time.Minute))
	for _, m := range h.tw.Sent() {
		if m.To == "+14155550123" {
			w.smsSID = m.SID
		}
	}
	if w.smsSID == "" {
		t.Fatal("A's welcome text was not sent")
	}

	// A third clinic whose key has been revoked.
	c, key, err := h.app.Store.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Closed Clinic", Phone: "+14155550222", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	db := testsupport.OpenWriter(t, h.app.Config.DB)
	if _, err := db.Exec(`UPDATE api_keys SET revoked_at = ? WHERE clinic_id = ?`, h.clock.Now().UnixMilli(), c.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	w.revokedKey = key
	return w
}

// TestHostileRequests tries a table of hostile requests against the real
// server: each gets the right 4xx and leaves every table exactly as it was.
func TestHostileRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	w := setupWorld(t, h)
	cases := hostileCases(h, w)

	statuses := map[int]int{}
	changed := 0
	// On SQLite, PRAGMA data_version on a connection of our own changes
	// with every commit anyone else makes, so the full snapshot is taken
	// only then; PostgreSQL has no such counter for a schema, so there
	// every request is followed by a snapshot. The snapshot says what
	// changed.
	conn, err := h.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var calls int64
	version := func() int64 {
		if h.db.Postgres() {
			calls++
			return calls
		}
		var v int64
		if err := conn.QueryRowContext(context.Background(), "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before, v := h.snapshot(), version()
	for _, c := range cases {
		r := h.do(c.req)
		statuses[r.status]++
		if r.status != c.want {
			t.Errorf("%s: status %d, want %d: %.300s", c.name, r.status, c.want, r.body)
		}
		if strings.HasPrefix(c.req.path, "/v1/") && r.status != 405 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
				t.Errorf("%s: the answer is not a JSON error: %.200s", c.name, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: answered as %q (nosniff %q)", c.name, ct, r.header.Get("X-Content-Type-Options"))
			}
		}
		if version() == v {
			continue
		}
		after := h.snapshot()
		if d := before.diff(after); d != "" {
			changed++
			t.Errorf("%s (status %d) changed the database: %s", c.name, r.status, d)
		}
		before, v = after, version()
	}
	if d := before.diff(h.snapshot()); d != "" {
		t.Errorf("the database changed: %s", d)
	}
	var codes []int
	for s := range statuses {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	var parts []string
	for _, s := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", statuses[s], s))
	}
	t.Logf("hostile: %d requests tried, statuses %s; %d changed the database", len(cases), strings.Join(parts, " "), changed)
}

func hostileCases(h *harness, w world) []hostile {
	now := h.clock.Now()
	base := func() map[string]any { return enrollBody("Eve", "+14155550177", "eve@example.com") }
	marshal := func(v any) []byte { b, _ := json.Marshal(v); return b }
	post := func(name string, body []byte, want int) hostile {
		return hostile{name, request{method: "POST", path: "/v1/enrollments", key: h.keyA, ctype: "application/json", body: body}, want}
	}
	field := func(name, key string, v any, want int) hostile {
		b := base()
		b[key] = v
		return post(name, marshal(b), want)
	}
	// rawField puts raw (possibly invalid UTF-8) bytes into a field.
	rawField := func(name, key, raw string, want int) hostile {
		b := base()
		b[key] = "@@RAW@@"
		return post(name, bytes.Replace(marshal(b), []byte("@@RAW@@"), []byte(raw), 1), want)
	}
	var cs []hostile
	add := func(c ...hostile) { cs = append(cs, c...) }

	// Oversized bodies.
	huge := marshal(map[string]any{"first_name": strings.Repeat("a", 70<<10)})
	add(post("oversized field", huge, 413),
		post("1 MiB of whitespace", append(bytes.Repeat([]byte(" "), 1<<20), '{', '}'), 413),
		post("one byte over the limit", append(bytes.Repeat([]byte(" "), api.MaxBodyBytes-1), '{', '}'), 413),
		hostile{"oversized preview", request{method: "POST", path: "/v1/enrollments/preview", key: h.keyA, ctype: "application/json", body: huge}, 413})

	// Wrong content types (the body is a valid enrollment).
	valid := marshal(base())
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/xml", "text/json", "application/jsonp", "application/json-patch+json", "json", "application/json;;"} {
		add(hostile{"content type " + strconv.Quote(ct), request{method: "POST", path: "/v1/enrollments", key: h.keyA, ctype: ct, body: valid}, 415})
	}

	// Malformed JSON and other shapes.
	for name, body := range map[string]string{
		"empty body": ``, "unterminated": `{"first_name":`, "trailing object": `{"first_name":"a"}{}`, "trailing garbage": `{} x`,
		"single quotes": `{'first_name':'a'}`, "comment": `{/* hi */}`, "NaN": `{"session_number": NaN}`,
		"BOM": "\ufeff{}", "deep nesting": `{"first_name":` + strings.Repeat("[", 20000), "bare word": `first_name`,
	} {
		add(post("malformed: "+name, []byte(body), 400))
	}
	for name, body := range map[string]string{
		"array": `[1,2]`, "string": `"Ana"`, "number": `42`, "null": `null`, "empty object": `{}`,
	} {
		add(post("not an enrollment: "+name, []byte(body), 422))
	}
	// Fields that must not be settable (mass assignment).
	for _, f := range []string{"id", "clinic_id", "patient_id", "status", "api_key", "messages", "sms_opt_out", "First_Name2"} {
		add(field("unknown field "+f, f, 2, 422))
	}

	// Invalid UTF-8 anywhere in the body.
	for _, f := range []string{"first_name", "last_name", "phone", "email", "timezone", "treatment", "treated_at", "external_ref", "consent_method"} {
		add(rawField("invalid UTF-8 in "+f, f, "Ana\xff", 400))
	}
	add(rawField("overlong UTF-8", "first_name", "\xc0\xaf", 400),
		rawField("UTF-8 surrogate", "first_name", "\xed\xa0\x80", 400),
		rawField("truncated UTF-8", "last_name", "Diaz\xe2\x82", 400),
		rawField("invalid UTF-8 in a key", "first_name", `Ana", "\xff": "x`, 400),
		rawField("escaped lone surrogate in a name", "first_name", `Ana\ud800`, 422),
		rawField("escaped lone surrogate in external_ref", "external_ref", `ref\udc00`, 422),
		rawField("escaped lone surrogate in email", "email", `ana\ud800@example.com`, 422))

	// Unicode that hides or disguises a name.
	for name, v := range map[string]string{
		"right-to-left override": "Ana\u202eziD", "left-to-right embedding": "\u202aAna", "right-to-left isolate": "Ana\u2067x\u2069",
		"left-to-right mark": "Ana\u200e", "zero-width space": "A\u200bna", "byte order mark": "\ufeffAna", "soft hyphen": "An\u00ada",
		"word joiner": "Ana\u2060", "NUL": "Ana\u0000", "escape sequence": "\u001b[31mAna", "DEL": "Ana\u007f",
		"tag characters": "Ana\U000e0041", "private use": "Ana\ue000", "unassigned": "Ana\u0378", "replacement character": "Ana\ufffd",
		"leading joiner": "\u200dAna", "trailing joiner": "Ana\u200d", "doubled joiner": "A\u200d\u200dna", "joiner before space": "Ana\u200d Diaz",
		"leading combining mark": "\u0301Ana", "zalgo": "Ana" + strings.Repeat("\u0336", 6), "101 characters": strings.Repeat("é", 101),
	} {
		add(field("name: "+name, "first_name", v, 422))
	}
	add(field("last name: right-to-left override", "last_name", "\u202eDiaz", 422),
		field("last name: 101 emoji", "last_name", strings.Repeat("💖", 101), 422),
		field("first name blank", "first_name", " \t\n ", 422))

	// Phone numbers in every wrong shape.
	for _, v := range []any{"", "   ", "123", "0", "+1", "+1415555012", "+141555501234", "+14155550123456789012",
		strings.Repeat("1", 33), "+1 415 CALL NOW", "+1 (415) 555-0123 ext. 5", "+1-900-555-0123", "+1 800 555 0123",
		"+44 20 7183 8750", "+999 1234567", "+0 415 555 0123", "＋１４１５５５５０１２３", "+١٤١٥٥٥٥٠١٢٣", "tel:+14155550123",
		"+1\t4155550123", "+14155550123;DROP TABLE patients", "+14155550123\u202e", "+1 415 555 0123 OR 1=1",
		14155550123, 1.5, true, []string{"+14155550123"}, map[string]string{"number": "+14155550123"}, nil} {
		add(field(fmt.Sprintf("phone %#v", v), "phone", v, 422))
	}

	// Emails in every wrong shape.
	for _, v := range []any{"plainaddress", "@example.com", "ana@", "ana@example", "ana@@example.com", "Ana <ana@example.com>",
		"<ana@example.com>", "ana@example.com>", "ana@example..com", "ana@.example.com", "ana@example.com.", "ana@exa_mple.com",
		"ana@[127.0.0.1]", "ana@127.0.0.1", "ana@localhost", "ana@-example.com", "ana@example-.com", "ana@" + strings.Repeat("a", 64) + ".com",
		`"ana diaz"@example.com`, "ana(comment)@example.com", "ana@example.com\r\nBcc: evil@example.net", "ana@example.com, bob@example.com",
		"ana\u202e@example.com", "ana\u200b@example.com", "ana\ufffd@example.com", strings.Repeat("a", 250) + "@example.com",
		"ana@example.com'; DROP TABLE patients;--", 42, []string{"ana@example.com"}} {
		add(field(fmt.Sprintf("email %#v", v), "email", v, 422))
	}
	noEmail := base()
	noEmail["email"] = ""
	add(post("email consent without an email", marshal(noEmail), 422))

	// treated_at far away or malformed.
	for _, v := range []any{"1970-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "+275760-09-13T00:00:00Z",
		now.Add(-60*24*time.Hour - time.Minute).Format(time.RFC3339), now.Add(24*time.Hour + time.Minute).Format(time.RFC3339),
		"2026-11-25T14:30:00", "2026-11-25 14:30:00-05:00", "2026-02-30T10:00:00Z", "2026-11-25T25:00:00Z", "2026-06-30T23:59:60Z",
		"2026-11-25T14:30:00+24:00", "yesterday", "1795000000", 1795000000, "2026-11-25T14:30:00Z'; DROP TABLE enrollments;--"} {
		add(field(fmt.Sprintf("treated_at %#v", v), "treated_at", v, 422))
	}

	// Other fields.
	for _, f := range []struct {
		key string
		v   any
	}{
		{"session_number", 0}, {"session_number", -1}, {"session_number", 4}, {"session_number", 1.5}, {"session_number", "1"},
		{"session_number", json.RawMessage("1e309")}, {"session_number", json.RawMessage("9223372036854775808")},
		{"series_length", 0}, {"series_length", 21}, {"series_length", 1000000}, {"sms_consent", "yes"}, {"email_consent", 1},
		{"treatment", "botox"}, {"treatment", "microneedling' OR '1'='1"}, {"timezone", "Mars/Olympus"}, {"timezone", "Local"},
		{"timezone", "../../../../etc/passwd"}, {"timezone", "/etc/localtime"}, {"timezone", "America/New_York\u0000"},
		{"timezone", "UTC\\"}, {"timezone", "America/New_York'; --"}, {"consent_method", "telepathy"},
		{"external_ref", strings.Repeat("r", 201)}, {"external_ref", "ref\u0000"}, {"external_ref", "ref\u202e"},
	} {
		add(field(fmt.Sprintf("%s %#v", f.key, f.v), f.key, f.v, 422))
	}
	bothOff := base()
	bothOff["sms_consent"], bothOff["email_consent"] = false, false
	add(post("no channel consented", marshal(bothOff), 422))
	for name, key := range map[string]string{"long": strings.Repeat("k", 201), "tab": "k\tk", "latin-1 byte": "k\xffk", "non-ASCII": "clé"} {
		add(hostile{"Idempotency-Key " + name, request{method: "POST", path: "/v1/enrollments", key: h.keyA, ctype: "application/json",
			body: valid, header: map[string]string{"Idempotency-Key": key}}, 422})
	}

	// API keys: missing, malformed, wrong, revoked, on every route.
	routes := []struct{ method, path string }{
		{"POST", "/v1/enrollments"}, {"POST", "/v1/enrollments/preview"}, {"GET", "/v1/enrollments/" + itoa(w.enrollmentA)},
		{"POST", "/v1/enrollments/" + itoa(w.enrollmentA) + "/cancel"}, {"GET", "/v1/messages"},
	}
	auths := map[string]string{
		"no key": "", "empty bearer": "Bearer ", "blank bearer": "Bearer    ", "basic auth": "Basic " + base64.StdEncoding.EncodeToString([]byte(h.keyA+":")),
		"lower-case scheme": "bearer " + h.keyA, "token scheme": "Token " + h.keyA, "bare key": h.keyA, "wrong key": "Bearer " + h.keyA + "x",
		"truncated key": "Bearer " + h.keyA[:len(h.keyA)-1], "revoked key": "Bearer " + w.revokedKey, "key hash": "Bearer " + store.HashAPIKey(h.keyA),
		"prefix only": "Bearer ak_", "10 KB key": "Bearer " + strings.Repeat("k", 10000), "SQL key": "Bearer ' OR '1'='1",
	}
	for _, r := range routes {
		for name, authz := range auths {
			req := request{method: r.method, path: r.path, header: map[string]string{}}
			if authz != "" {
				req.header["Authorization"] = authz
			}
			if r.method == "POST" {
				req.ctype, req.body = "application/json", valid
			}
			add(hostile{fmt.Sprintf("%s %s with %s", r.method, r.path, name), req, 401})
		}
	}

	// Another clinic's ids (BOLA), and ids in wrong shapes.
	add(hostile{"B reads A's enrollment", request{method: "GET", path: "/v1/enrollments/" + itoa(w.enrollmentA), key: h.keyB}, 404},
		hostile{"B cancels A's enrollment", request{method: "POST", path: "/v1/enrollments/" + itoa(w.enrollmentA) + "/cancel", key: h.keyB}, 404},
		hostile{"A reads B's enrollment", request{method: "GET", path: "/v1/enrollments/" + itoa(w.enrollmentB), key: h.keyA}, 404},
		hostile{"A cancels B's enrollment", request{method: "POST", path: "/v1/enrollments/" + itoa(w.enrollmentB) + "/cancel", key: h.keyA}, 404},
		hostile{"revoked clinic cancels A's enrollment", request{method: "POST", path: "/v1/enrollments/" + itoa(w.enrollmentA) + "/cancel", key: w.revokedKey}, 401},
		hostile{"missing enrollment", request{method: "GET", path: "/v1/enrollments/999999", key: h.keyA}, 404},
		hostile{"cancel missing enrollment", request{method: "POST", path: "/v1/enrollments/999999/cancel", key: h.keyA}, 404})
	for _, id := range []string{"0", "-1", "abc", "99999999999999999999", "1e3", "0x1", "%201", "1%00", "1;DROP%20TABLE%20messages"} {
		add(hostile{"GET enrollment id " + id, request{method: "GET", path: "/v1/enrollments/" + id, key: h.keyA}, 422},
			hostile{"cancel enrollment id " + id, request{method: "POST", path: "/v1/enrollments/" + id + "/cancel", key: h.keyA}, 422})
	}
	for _, m := range []struct{ method, path string }{{"PUT", "/v1/enrollments"}, {"DELETE", "/v1/enrollments/" + itoa(w.enrollmentA)},
		{"PATCH", "/v1/enrollments/" + itoa(w.enrollmentA)}, {"GET", "/v1/enrollments/" + itoa(w.enrollmentA) + "/cancel"}, {"DELETE", "/v1/messages"}} {
		add(hostile{m.method + " " + m.path, request{method: m.method, path: m.path, key: h.keyA, ctype: "application/json", body: []byte(`{}`)}, 405})
	}
	// Privacy endpoints (issue 12): another clinic's patient is 404 and
	// nothing is erased; bad ids and filters are 422, all without a write.
	add(hostile{"B exports A's patient", request{method: "GET", path: "/v1/patients/" + itoa(w.patientA) + "/export", key: h.keyB}, 404},
		hostile{"B erases A's patient", request{method: "DELETE", path: "/v1/patients/" + itoa(w.patientA), key: h.keyB}, 404},
		hostile{"A erases B's patient", request{method: "DELETE", path: "/v1/patients/" + itoa(w.patientB), key: h.keyA}, 404},
		hostile{"revoked key erases A's patient", request{method: "DELETE", path: "/v1/patients/" + itoa(w.patientA), key: w.revokedKey}, 401},
		hostile{"erase without a key", request{method: "DELETE", path: "/v1/patients/" + itoa(w.patientA)}, 401},
		hostile{"audit without a key", request{method: "GET", path: "/v1/audit"}, 401},
		hostile{"erase missing patient", request{method: "DELETE", path: "/v1/patients/999999", key: h.keyA}, 404})
	for _, id := range []string{"0", "-1", "abc", "99999999999999999999", "1;DROP%20TABLE%20patients"} {
		add(hostile{"erase patient id " + id, request{method: "DELETE", path: "/v1/patients/" + id, key: h.keyA}, 422},
			hostile{"export patient id " + id, request{method: "GET", path: "/v1/patients/" + id + "/export", key: h.keyA}, 422})
	}
	for _, q := range []string{"patient_id=0", "patient_id=1%20OR%201%3D1", "actor_kind=root", "since=yesterday", "until=2026-13-01",
		"limit=0", "limit=100000", "before=-5", "action=" + strings.Repeat("a", 41)} {
		add(hostile{"audit filter " + q, request{method: "GET", path: "/v1/audit?" + q, key: h.keyA}, 422})
	}
	for _, q := range []string{"status=bogus", "status=%27%20OR%201%3D1--", "channel=fax", "limit=0", "limit=1001", "limit=-1", "limit=abc",
		"after=-1", "after=x", "from=yesterday", "to=2026-13-01T00:00:00Z", "patient_id=0", "patient_id=1%20OR%201%3D1", "step=" + strings.Repeat("s", 65)} {
		add(hostile{"messages filter " + q, request{method: "GET", path: "/v1/messages?" + q, key: h.keyA}, 422})
	}
	conflict := base()
	conflict["first_name"] = "Someone Else"
	add(hostile{"Idempotency-Key reused with other details", request{method: "POST", path: "/v1/enrollments", key: h.keyA, ctype: "application/json",
		body: marshal(conflict), header: map[string]string{"Idempotency-Key": "visit-ana"}}, 409})

	// Twilio webhooks: unsigned, forged, tampered, misrouted.
	const inPath, statusPath = "/webhooks/twilio/inbound", "/webhooks/twilio/status"
	stop := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "STOP")
	hook := func(name, path string, form url.Values, sig string, want int) hostile {
		r := request{method: "POST", path: path, ctype: "application/x-www-form-urlencoded", body: []byte(form.Encode())}
		if sig != "" {
			r.header = map[string]string{"X-Twilio-Signature": sig}
		}
		return hostile{name, r, want}
	}
	sign := func(path string, form url.Values) string { return twiliotest.Sign(authToken, h.base+path, form) }
	tampered := cloneForm(stop)
	tampered.Set("Body", "START")
	added := cloneForm(stop)
	added.Set("Extra", "1")
	repeated := cloneForm(stop)
	repeated.Add("Body", "STOP")
	noSID := cloneForm(stop)
	noSID.Del("MessageSid")
	noSID.Del("SmsSid")
	noFrom := cloneForm(stop)
	noFrom.Del("From")
	delivered := url.Values{"MessageSid": {w.smsSID}, "MessageStatus": {"delivered"}, "AccountSid": {accountSID}}
	noStatus := url.Values{"MessageSid": {w.smsSID}, "AccountSid": {accountSID}}
	add(hook("unsigned STOP", inPath, stop, "", 403),
		hook("STOP signed with another token", inPath, stop, twiliotest.Sign("0000000000000000000000000000dead", h.base+inPath, stop), 403),
		hook("STOP signed with the clinic's API key", inPath, stop, twiliotest.Sign(h.keyA, h.base+inPath, stop), 403),
		hook("STOP signed for another host", inPath, stop, twiliotest.Sign(authToken, "https://evil.example"+inPath, stop), 403),
		hook("STOP signed for the status endpoint", inPath, stop, sign(statusPath, stop), 403),
		hook("STOP with its Body changed after signing", inPath, tampered, sign(inPath, stop), 403),
		hook("STOP with a field added after signing", inPath, added, sign(inPath, stop), 403),
		hook("STOP with a garbage signature", inPath, stop, "!!!not-base64!!!", 403),
		hook("STOP with an empty-HMAC signature", inPath, stop, base64.StdEncoding.EncodeToString(make([]byte, 20)), 403),
		hook("STOP with a repeated field", inPath, repeated, sign(inPath, repeated), 403),
		hook("STOP with an unsigned query string", inPath+"?From=%2B14155550124", stop, sign(inPath, stop), 403),
		hook("signed inbound without MessageSid", inPath, noSID, sign(inPath, noSID), 400),
		hook("signed inbound without From", inPath, noFrom, sign(inPath, noFrom), 400),
		hook("forged delivered receipt", statusPath, delivered, twiliotest.Sign("0000000000000000000000000000dead", h.base+statusPath, delivered), 403),
		hook("unsigned delivered receipt", statusPath, delivered, "", 403),
		hook("signed receipt without a status", statusPath, noStatus, sign(statusPath, noStatus), 400),
	)
	add(hostile{"signed malformed form", request{method: "POST", path: inPath, ctype: "application/x-www-form-urlencoded",
		body: []byte("Body=%zz&From=%2"), header: map[string]string{"X-Twilio-Signature": sign(inPath, url.Values{})}}, 400})
	bigForm := cloneForm(stop)
	bigForm.Set("Body", strings.Repeat("x", 70<<10))
	add(hook("oversized signed form", inPath, bigForm, sign(inPath, bigForm), 413),
		hostile{"STOP as JSON", request{method: "POST", path: inPath, ctype: "application/json", body: marshal(map[string]string{"Body": "STOP"}),
			header: map[string]string{"X-Twilio-Signature": sign(inPath, stop)}}, 415},
		hostile{"STOP without a content type", request{method: "POST", path: inPath, body: []byte(stop.Encode()),
			header: map[string]string{"X-Twilio-Signature": sign(inPath, stop)}}, 415},
		hostile{"GET the inbound webhook", request{method: "GET", path: inPath + "?" + stop.Encode()}, 405})

	// Unsubscribe links: forged, tampered, expired, crossed.
	secret := []byte(unsubSecret)
	good := inbound.SignUnsubscribe(secret, w.patientA, h.clinicA.ID, now.Add(time.Hour))
	flipped := []byte(good)
	flipped[10] ^= 1
	last := good[len(good)-1]
	nonCanonical := good[:len(good)-1] + string(base64URLNext(last))
	for name, tok := range map[string]string{
		"forged":           base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 40)),
		"tampered":         string(flipped),
		"non-canonical":    nonCanonical,
		"expired":          inbound.SignUnsubscribe(secret, w.patientA, h.clinicA.ID, now.Add(-time.Second)),
		"other secret":     inbound.SignUnsubscribe([]byte("another secret"), w.patientA, h.clinicA.ID, now.Add(time.Hour)),
		"crossed clinic":   inbound.SignUnsubscribe(secret, w.patientB, h.clinicA.ID, now.Add(time.Hour)),
		"missing patient":  inbound.SignUnsubscribe(secret, 999999, h.clinicA.ID, now.Add(time.Hour)),
		"missing clinic":   inbound.SignUnsubscribe(secret, w.patientA, 999999, now.Add(time.Hour)),
		"too long":         good + good,
		"garbage":          "%27%20OR%201%3D1--",
		"script":           "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
		"negative patient": inbound.SignUnsubscribe(secret, -1, h.clinicA.ID, now.Add(time.Hour)),
	} {
		add(hostile{"GET unsubscribe " + name, request{method: "GET", path: "/unsubscribe/" + tok}, 404},
			hostile{"POST unsubscribe " + name, request{method: "POST", path: "/unsubscribe/" + tok, ctype: "application/x-www-form-urlencoded",
				body: []byte("List-Unsubscribe=One-Click")}, 404})
	}
	return cs
}

// base64URLNext returns another base64url character with the same top
// two bits, i.e. one that decodes to the same last byte of a 40-byte token
// if unused bits are ignored.
func base64URLNext(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[(i&^15)|((i+1)&15)]
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestHostileInputAcceptedVerbatim: SQL-looking strings in every free-text
// field, HTML in names and unicode that is a person's real name are
// accepted, stored exactly as sent (after whitespace normalisation), and
// add exactly one patient, one enrollment and its plan; HTML is escaped in
// the emails' HTML part and in the API's JSON.
func TestHostileInputAcceptedVerbatim(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	w := setupWorld(t, h)
	phone := 140
	next := func() string { phone++; return fmt.Sprintf("+1415555%04d", phone) }

	type accepted struct {
		name     string
		mod      map[string]any
		idemKey  string
		wantName [2]string // stored first and last name
	}
	cases := []accepted{
		{name: "SQL in every free-text field", mod: map[string]any{"first_name": "Robert'); DROP TABLE patients;--", "last_name": "' OR '1'='1",
			"external_ref": "x'; DELETE FROM messages WHERE '1'='1", "email": "o'reilly@example.com"},
			idemKey: "k' OR 1=1 --; DROP TABLE enrollments", wantName: [2]string{"Robert'); DROP TABLE patients;--", "' OR '1'='1"}},
		{name: "LIKE wildcards", mod: map[string]any{"first_name": "%_%", "last_name": `\%`}, wantName: [2]string{"%_%", `\%`}},
		{name: "HTML and script in names", mod: map[string]any{"first_name": "<script>alert(1)</script>", "last_name": `<img src=x onerror="alert(2)">`},
			wantName: [2]string{"<script>alert(1)</script>", `<img src=x onerror="alert(2)">`}},
		{name: "decomposed accent", mod: map[string]any{"first_name": "Jose\u0301"}, wantName: [2]string{"Jose\u0301", "Diaz"}},
		{name: "stacked Vietnamese diacritics", mod: map[string]any{"first_name": "Nguye\u0323\u0302n"}, wantName: [2]string{"Nguye\u0323\u0302n", "Diaz"}},
		{name: "Persian name with a zero-width non-joiner", mod: map[string]any{"first_name": "علی\u200cرضا", "last_name": "رضایی"}, wantName: [2]string{"علی\u200cرضا", "رضایی"}},
		{name: "emoji joined by zero-width joiners", mod: map[string]any{"first_name": "Ana 👩\u200d⚕\ufe0f", "last_name": "👨\u200d👩\u200d👧"}, wantName: [2]string{"Ana 👩\u200d⚕\ufe0f", "👨\u200d👩\u200d👧"}},
		{name: "flag and 100 emoji", mod: map[string]any{"first_name": "🇵🇹", "last_name": strings.Repeat("💖", 100)}, wantName: [2]string{"🇵🇹", strings.Repeat("💖", 100)}},
		{name: "Arabic, CJK, Devanagari", mod: map[string]any{"first_name": "مريم 李小龙", "last_name": "क्षितिज"}, wantName: [2]string{"مريم 李小龙", "क्षितिज"}},
		{name: "Cyrillic look-alike", mod: map[string]any{"first_name": "Аnа"}, wantName: [2]string{"Аnа", "Diaz"}},
		{name: "whitespace normalised", mod: map[string]any{"first_name": "  Ana\n\tMaria\u2028 ", "last_name": "Diaz\u00a0Lopez"}, wantName: [2]string{"Ana Maria", "Diaz Lopez"}},
		{name: "internationalised email", mod: map[string]any{"email": "anä@exämple.com"}, wantName: [2]string{"Eve", "Diaz"}},
		{name: "phone without country code", mod: map[string]any{"phone": "(415) 555-0190"}, wantName: [2]string{"Eve", "Diaz"}},
	}
	planLen := -1
	for _, c := range cases {
		b := enrollBody("Eve", next(), "eve@example.com")
		for k, v := range c.mod {
			b[k] = v
		}
		before := h.snapshot()
		beforeCounts := h.tableCounts()
		body, _ := json.Marshal(b)
		req := request{method: "POST", path: "/v1/enrollments", key: h.keyA, ctype: "application/json", body: body}
		if c.idemKey != "" {
			req.header = map[string]string{"Idempotency-Key": c.idemKey}
		}
		r := h.do(req)
		if r.status != 201 {
			t.Errorf("%s: status %d: %.300s", c.name, r.status, r.body)
			continue
		}
		if bytes.ContainsAny(r.body, "<>") {
			t.Errorf("%s: the JSON answer carries a raw < or >", c.name)
		}
		out := r.json(t)
		id := int64(out["enrollment"].(map[string]any)["id"].(float64))
		g := h.do(request{method: "GET", path: "/v1/enrollments/" + itoa(id), key: h.keyA}).json(t)
		p := g["patient"].(map[string]any)
		if p["first_name"] != c.wantName[0] || p["last_name"] != c.wantName[1] {
			t.Errorf("%s: stored %q %q, want %q %q", c.name, p["first_name"], p["last_name"], c.wantName[0], c.wantName[1])
		}
		if ref, ok := c.mod["external_ref"]; ok && g["enrollment"].(map[string]any)["external_ref"] != ref {
			t.Errorf("%s: external_ref stored as %q", c.name, g["enrollment"].(map[string]any)["external_ref"])
		}
		if e, ok := c.mod["email"]; ok && p["email"] != e {
			t.Errorf("%s: email stored as %q", c.name, p["email"])
		}
		// Exactly one patient, one enrollment with its page link, two
		// consents, the plan and two audit rows (the enrollment and the
		// read of it) were added;
		// nothing else changed.
		n := len(g["messages"].([]any))
		if planLen == -1 {
			planLen = n
		}
		after := h.tableCounts()
		want := map[string]int{"patients": 1, "enrollments": 1, "consents": 2, "messages": planLen, "events": planLen, "audit_log": 2,
			"patient_links": 1}
		for table, d := range want {
			if after[table]-beforeCounts[table] != d {
				t.Errorf("%s: %s grew by %d, want %d", c.name, table, after[table]-beforeCounts[table], d)
			}
		}
		s := h.snapshot()
		for table := range s {
			if _, grows := want[table]; !grows && s[table] != before[table] {
				t.Errorf("%s: %s changed", c.name, table)
			}
		}
		if c.idemKey != "" {
			r := h.do(req) // the same key again: the same enrollment
			if r.status != 200 || int64(r.json(t)["enrollment"].(map[string]any)["id"].(float64)) != id {
				t.Errorf("%s: repeat with the same Idempotency-Key: %d", c.name, r.status)
			}
		}
	}

	// Clinic B enrolling A's patient's number and reusing A's
	// Idempotency-Key gets a patient and an enrollment of its own; A's stay
	// as they were.
	aBefore := h.rowHash("patients", w.patientA)
	shared := enrollBody("Mallory", "+14155550123", "mallory@example.com")
	body, _ := json.Marshal(shared)
	r := h.do(request{method: "POST", path: "/v1/enrollments", key: h.keyB, ctype: "application/json", body: body,
		header: map[string]string{"Idempotency-Key": "visit-ana"}})
	if r.status != 201 {
		t.Fatalf("B enrolling A's patient's number: %d %s", r.status, r.body)
	}
	if p := r.json(t)["patient"].(map[string]any); int64(p["clinic_id"].(float64)) != h.clinicB.ID || int64(p["id"].(float64)) == w.patientA {
		t.Errorf("B's enrollment landed on %v", p)
	}
	if h.rowHash("patients", w.patientA) != aBefore {
		t.Error("B's enrollment changed A's patient")
	}
	// B's delivery log filtered on A's patient shows nothing.
	lr := h.do(request{method: "GET", path: "/v1/messages?patient_id=" + itoa(w.patientA), key: h.keyB})
	if lr.status != 200 || len(lr.json(t)["messages"].([]any)) != 0 {
		t.Errorf("B's log of A's patient: %d %.200s", lr.status, lr.body)
	}
	lr = h.do(request{method: "GET", path: "/v1/messages?limit=1000", key: h.keyB})
	for _, m := range lr.json(t)["messages"].([]any) {
		if int64(m.(map[string]any)["clinic_id"].(float64)) != h.clinicB.ID {
			t.Errorf("B's log shows a message of clinic %v", m.(map[string]any)["clinic_id"])
		}
	}
	// A step filter that looks like SQL is only a filter.
	lr = h.do(request{method: "GET", path: "/v1/messages?step=" + url.QueryEscape("welcome' OR '1'='1"), key: h.keyA})
	if lr.status != 200 || len(lr.json(t)["messages"].([]any)) != 0 {
		t.Errorf("SQL-looking step filter: %d %.200s", lr.status, lr.body)
	}

	// The welcome emails went out; the HTML part escapes the names.
	h.runUntil(h.clock.Now().Add(time.Minute))
	found := false
	for _, m := range h.mail.Messages() {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.Text, "<script>alert(1)</script>") {
			continue
		}
		found = true
		if p.HTML == "" {
			t.Fatal("the email has no HTML part")
		}
		if strings.Contains(p.HTML, "<script>alert(1)") || strings.Contains(p.HTML, "<img src=x") {
			t.Errorf("the HTML part carries the raw name:\n%s", excerpt(p.HTML, "alert"))
		}
		if !strings.Contains(p.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("the HTML part does not show the name escaped:\n%s", excerpt(p.HTML, "alert"))
		}
	}
	if !found {
		t.Fatal("no email to the patient named <script>")
	}

	// A red-flag reply full of HTML reaches staff escaped.
	red := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, `<script>alert("x")</script> my face is swollen with pus`)
	if r := h.webhook("/webhooks/twilio/inbound", red, authToken); r.status != 200 {
		t.Fatalf("red flag: %d", r.status)
	}
	h.runUntil(h.clock.Now().Add(time.Minute))
	// Clinic B ("Mallory") texted this number last: the reply is B's.
	checkedAlert := false
	for _, m := range h.mail.Messages() {
		if len(m.To) > 0 && m.To[0] == "staff@glow.example" {
			t.Error("clinic A's staff got a reply that belongs to clinic B")
		}
		if len(m.To) == 0 || m.To[0] != "staff@other.example" {
			continue
		}
		p, err := smtptest.Parse(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		checkedAlert = true
		if strings.Contains(p.HTML, `<script>alert("x")`) || !strings.Contains(p.HTML, "&lt;script&gt;") {
			t.Errorf("the staff alert's HTML part does not escape the reply:\n%s", excerpt(p.HTML, "alert"))
		}
	}
	if !checkedAlert {
		t.Error("no staff alert email")
	}

	// The unsubscribe page escapes a clinic name with HTML in it.
	evil, key, err := h.app.Store.CreateClinic(context.Background(), aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: `<b onmouseover="alert(1)">Evil & Co</b>`,
		Phone: "+14155550333", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = json.Marshal(enrollBody("Zoe", "+14155550160", "zoe@example.com"))
	r = h.do(request{method: "POST", path: "/v1/enrollments", key: key, ctype: "application/json", body: body})
	if r.status != 201 {
		t.Fatalf("enroll at the evil clinic: %d", r.status)
	}
	pid := int64(r.json(t)["patient"].(map[string]any)["id"].(float64))
	tok := inbound.SignUnsubscribe([]byte(unsubSecret), pid, evil.ID, h.clock.Now().Add(time.Hour))
	page := h.do(request{method: "GET", path: "/unsubscribe/" + tok})
	if page.status != 200 || strings.Contains(string(page.body), "<b onmouseover") || !strings.Contains(string(page.body), "&lt;b onmouseover") {
		t.Errorf("unsubscribe page: %d\n%s", page.status, excerpt(string(page.body), "Evil"))
	}
}

// tableCounts counts the rows of every table.
func (h *harness) tableCounts() map[string]int {
	out := map[string]int{}
	for _, table := range h.tables() {
		out[table] = h.count("SELECT count(*) FROM " + table)
	}
	return out
}

// rowHash is the content of one row.
func (h *harness) rowHash(table string, id int64) string {
	h.t.Helper()
	rows, err := h.db.Query("SELECT * FROM "+table+" WHERE id = ?", id)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		h.t.Fatalf("%s %d not found", table, id)
	}
	if err := rows.Scan(ptrs...); err != nil {
		h.t.Fatal(err)
	}
	return fmt.Sprint(vals...)
}

func excerpt(s, near string) string {
	i := strings.Index(s, near)
	if i < 0 {
		return s[:min(len(s), 400)]
	}
	return s[max(0, i-200):min(len(s), i+200)]
}

// TestReplayedWebhooksAndLinks: a valid signed webhook or unsubscribe link
// that arrives twice (providers retry; an attacker may replay a captured
// one) is processed once; the second time changes nothing.
func TestReplayedWebhooksAndLinks(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	w := setupWorld(t, h)
	red := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "there is pus and my face is swollen")
	stop := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "STOP")
	start := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "START")
	delivered := url.Values{"MessageSid": {w.smsSID}, "MessageStatus": {"delivered"}, "AccountSid": {accountSID}}
	tok := inbound.SignUnsubscribe([]byte(unsubSecret), w.patientA, h.clinicA.ID, h.clock.Now().Add(time.Hour))
	steps := []struct {
		name string
		do   func() response
	}{
		{"delivered receipt", func() response { return h.webhook("/webhooks/twilio/status", delivered, authToken) }},
		{"red-flag reply", func() response { return h.webhook("/webhooks/twilio/inbound", red, authToken) }},
		{"START reply", func() response { return h.webhook("/webhooks/twilio/inbound", start, authToken) }},
		{"STOP reply", func() response { return h.webhook("/webhooks/twilio/inbound", stop, authToken) }},
		{"unsubscribe link", func() response {
			return h.do(request{method: "POST", path: "/unsubscribe/" + tok, ctype: "application/x-www-form-urlencoded", body: []byte("List-Unsubscribe=One-Click")})
		}},
	}
	for _, s := range steps {
		before := h.snapshot()
		if r := s.do(); r.status != 200 {
			t.Fatalf("%s: %d %s", s.name, r.status, r.body)
		}
		first := h.snapshot()
		if first.diff(before) == "" {
			t.Errorf("%s: the first delivery changed nothing", s.name)
		}
		for i := 0; i < 3; i++ {
			if r := s.do(); r.status != 200 {
				t.Fatalf("%s replayed: %d %s", s.name, r.status, r.body)
			}
		}
		if d := first.diff(h.snapshot()); d != "" {
			t.Errorf("%s replayed 3 times changed: %s", s.name, d)
		}
	}
	// A replay of the earlier START after STOP does not opt back in.
	if r := h.webhook("/webhooks/twilio/inbound", start, authToken); r.status != 200 {
		t.Fatalf("START replay: %d", r.status)
	}
	p, err := h.app.Store.Patient(context.Background(), h.clinicA.ID, w.patientA)
	if err != nil {
		t.Fatal(err)
	}
	if !p.SMSOptOut || !p.EmailOptOut {
		t.Errorf("after STOP, an old START replayed and unsubscribe: sms opt-out %v, email opt-out %v", p.SMSOptOut, p.EmailOptOut)
	}
	// One alert per channel for the red flag however often it came.
	if n := h.count(`SELECT count(*) FROM messages WHERE step = 'alert_staff'`); n != 2 {
		t.Errorf("%d staff alerts queued, want 2 (email and on-call text)", n)
	}
}

// TestUnsubscribeLinkOpenedByScanner: mail scanners and link previews open
// every link of an email (GET or HEAD). Opening a valid unsubscribe link
// only shows a page with one button and changes nothing; the button's POST,
// or a mail client's RFC 8058 one-click POST, unsubscribes.
func TestUnsubscribeLinkOpenedByScanner(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	w := setupWorld(t, h)
	tok := inbound.SignUnsubscribe([]byte(unsubSecret), w.patientA, h.clinicA.ID, h.clock.Now().Add(time.Hour))
	path := "/unsubscribe/" + tok
	optedOut := func() bool {
		p, err := h.app.Store.Patient(context.Background(), h.clinicA.ID, w.patientA)
		if err != nil {
			t.Fatal(err)
		}
		return p.EmailOptOut
	}
	before := h.snapshot()
	for i := 0; i < 3; i++ {
		for _, method := range []string{"GET", "HEAD"} {
			r := h.do(request{method: method, path: path})
			if r.status != 200 {
				t.Fatalf("%s: %d %s", method, r.status, r.body)
			}
			if method == "GET" && (!strings.Contains(string(r.body), `<form method="post">`) ||
				!strings.Contains(string(r.body), `<button type="submit" id="unsubscribe">Unsubscribe</button>`) ||
				!strings.Contains(string(r.body), "Stop aftercare emails?") || !strings.Contains(string(r.body), `lang="en"`)) {
				t.Fatalf("GET shows no confirmation button:\n%s", r.body)
			}
		}
	}
	// A POST that is neither the button nor one-click changes nothing.
	for _, r := range []request{
		{method: "POST", path: path},
		{method: "POST", path: path, ctype: "application/x-www-form-urlencoded", body: []byte("List-Unsubscribe=Yes")},
		{method: "POST", path: path, ctype: "application/json", body: []byte(`{"List-Unsubscribe":"One-Click"}`)},
	} {
		if got := h.do(r); got.status != 400 {
			t.Errorf("POST %q %q: %d, want 400", r.ctype, r.body, got.status)
		}
	}
	if d := before.diff(h.snapshot()); d != "" || optedOut() {
		t.Fatalf("opening the link changed: %s (opted out: %v)", d, optedOut())
	}
	// The button (the same body as RFC 8058 one-click) unsubscribes.
	r := h.do(request{method: "POST", path: path, ctype: "application/x-www-form-urlencoded", body: []byte("List-Unsubscribe=One-Click")})
	if r.status != 200 || !strings.Contains(string(r.body), "You are unsubscribed") || !optedOut() {
		t.Fatalf("POST one-click: %d, opted out %v\n%s", r.status, optedOut(), r.body)
	}
	if n := h.count(`SELECT count(*) FROM messages WHERE patient_id = ? AND channel = 'email' AND status = 'scheduled'`, w.patientA); n != 0 {
		t.Errorf("%d emails still scheduled after unsubscribing", n)
	}
	// Opened again, the page says so and offers no button.
	r = h.do(request{method: "GET", path: path})
	if r.status != 200 || !strings.Contains(string(r.body), "already unsubscribed") || strings.Contains(string(r.body), "<form") {
		t.Errorf("GET after unsubscribing: %d\n%s", r.status, r.body)
	}

	// RFC 8058 allows the one-click POST as multipart/form-data too.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	tokB := inbound.SignUnsubscribe([]byte(unsubSecret), w.patientB, h.clinicB.ID, h.clock.Now().Add(time.Hour))
	r = h.do(request{method: "POST", path: "/unsubscribe/" + tokB, ctype: mw.FormDataContentType(), body: mp.Bytes()})
	if p, err := h.app.Store.Patient(context.Background(), h.clinicB.ID, w.patientB); r.status != 200 || err != nil || !p.EmailOptOut {
		t.Errorf("multipart one-click: %d, opted out %v (%v)", r.status, p.EmailOptOut, err)
	}
}
