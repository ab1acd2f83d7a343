package abuse_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

const (
	accountSID   = testsupport.AccountSID
	authToken    = testsupport.AuthToken
	fromNumber   = testsupport.FromNumber
	smtpUser     = "care-mailer"
	smtpPassword = "SmtpPassw0rd-Zq8Xv"
	unsubSecret  = "unsubscribe-secret-9f8e7d6c5b4a39281706"
)

// harness is the whole daemon in-process with two clinics.
type harness struct {
	t      testing.TB
	d      *testsupport.Daemon
	app    *app.App
	clock  *testsupport.Clock
	tw     *twiliotest.Server
	mail   *smtptest.Server
	base   string
	logs   *testsupport.LogBuffer
	db     *testsupport.Handle // a read-only connection of the test's own, for snapshots
	client *http.Client

	keyA, keyB       string
	clinicA, clinicB aftercare.Clinic
}

type harnessOptions struct {
	start time.Time
	// scheduled runs the real cron scheduler (dispatcher every second,
	// housekeeping) instead of leaving dispatch to the test.
	scheduled bool
	smsRate   float64
	emailRate float64
	logLevel  slog.Level
	smtpAuth  bool
	// proxyHeader is web.trusted_proxy_header (sign-in tests use it to
	// come from many addresses).
	proxyHeader string
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.start.IsZero() {
		o.start = defaultNow
	}
	do := testsupport.DaemonOptions{Start: o.start, Scheduled: o.scheduled, LogLevel: o.logLevel,
		Configure: func(cfg *config.Config) {
			cfg.Secret = unsubSecret
			cfg.Twilio.Timeout, cfg.SMTP.Timeout = 30*time.Second, 30*time.Second // nothing waits for them to fire
			cfg.Dispatch.SMSRate, cfg.Dispatch.EmailRate = o.smsRate, o.emailRate
			cfg.Web.TrustedProxyHeader = o.proxyHeader
		}}
	if o.smtpAuth {
		do.Providers = testsupport.ProviderOptions{SMTPUsername: smtpUser, SMTPPassword: smtpPassword}
	}
	d := testsupport.StartDaemon(t, do)
	h := &harness{t: t, d: d, app: d.App, clock: d.Clock, tw: d.Twilio, mail: d.Mail, base: d.Base, logs: d.Logs,
		client: &http.Client{Timeout: 30 * time.Second}}
	h.clinicA, h.keyA = d.AddClinic(t, testsupport.GlowClinic())
	h.clinicB, h.keyB = d.AddClinic(t, aftercare.Clinic{Name: "Other Clinic", Phone: "+442071838750",
		Timezone: "Europe/London", AlertEmail: "staff@other.example"})
	h.db = testsupport.OpenReader(t, d.App.Config.DB)
	return h
}

// 2026-11-25 15:00 UTC = 10:00 in New York: daytime for the US patients.
var defaultNow = time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)

// enrollBody is a valid enrollment for phone, treated half an hour before
// the harness' start.
func enrollBody(first, phone, email string) map[string]any {
	return map[string]any{
		"first_name": first, "last_name": "Diaz", "phone": phone, "email": email,
		"timezone": "America/New_York", "sms_consent": true, "email_consent": email != "",
		"treatment": "microneedling", "treated_at": defaultNow.Add(-30 * time.Minute).Format(time.RFC3339),
		"session_number": 1, "series_length": 3,
	}
}

// request is one HTTP request of a test.
type request struct {
	method, path string
	key          string // bearer key; "" sends no Authorization header
	ctype        string // Content-Type; "" sends none
	body         []byte
	header       map[string]string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("response is not JSON (%v): %.300s", err, r.body)
	}
	return out
}

func (h *harness) do(r request) response {
	h.t.Helper()
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, h.base+r.path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if r.key != "" {
		req.Header.Set("Authorization", "Bearer "+r.key)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// post sends v as JSON with clinic A's key.
func (h *harness) post(path string, v any) response {
	h.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(request{method: "POST", path: path, key: h.keyA, ctype: "application/json", body: b})
}

// webhook posts a Twilio form, signed with token over the public URL when
// token is not "".
func (h *harness) webhook(path string, form url.Values, token string) response {
	h.t.Helper()
	r := request{method: "POST", path: path, ctype: "application/x-www-form-urlencoded", body: []byte(form.Encode())}
	if token != "" {
		r.header = map[string]string{"X-Twilio-Signature": twiliotest.Sign(token, h.base+path, form)}
	}
	return h.do(r)
}

// runUntil delivers everything due up to t with the real dispatcher,
// jumping the virtual clock from one due message to the next.
func (h *harness) runUntil(t time.Time) {
	h.t.Helper()
	h.d.RunUntil(h.t, t)
}

// tables lists every table of the schema (the driver's own and the
// migration record aside): a rejected request must change none of them.
func (h *harness) tables() []string {
	h.t.Helper()
	out, err := h.db.Tables(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	if len(out) < 10 {
		h.t.Fatalf("only %d tables: %v", len(out), out)
	}
	return out
}

// snapshot is the row count and a content hash of every table.
type snapshot map[string]string

// snapshot reads every row of every table (readiness pings excepted).
func (h *harness) snapshot() snapshot {
	h.t.Helper()
	out := snapshot{}
	for _, table := range h.tables() {
		q := "SELECT * FROM " + table
		if table == "webhook_seen" {
			q += " WHERE kind <> 'ping'"
		}
		if table == "api_keys" {
			// A key's last use is bookkeeping of every authenticated
			// request, refused or not (store.LastUsedEvery).
			q = "SELECT id, clinic_id, key_hash, prefix, created_at, revoked_at, label FROM api_keys"
		}
		rows, err := h.db.Query(q + " ORDER BY 1, 2")
		if err != nil {
			h.t.Fatalf("snapshot %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		sum := sha256.New()
		n := 0
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				h.t.Fatalf("snapshot %s: %v", table, err)
			}
			for _, v := range vals {
				fmt.Fprintf(sum, "%v\x00", v)
			}
			sum.Write([]byte{'\n'})
			n++
		}
		if err := rows.Err(); err != nil {
			h.t.Fatalf("snapshot %s: %v", table, err)
		}
		rows.Close()
		out[table] = fmt.Sprintf("%d rows %s", n, hex.EncodeToString(sum.Sum(nil))[:12])
	}
	return out
}

// diff names the tables that differ.
func (s snapshot) diff(o snapshot) string {
	var names []string
	for t := range s {
		names = append(names, t)
	}
	for t := range o {
		if _, ok := s[t]; !ok {
			names = append(names, t)
		}
	}
	sort.Strings(names)
	var d []string
	for _, t := range names {
		if s[t] != o[t] {
			d = append(d, fmt.Sprintf("%s: %s -> %s", t, s[t], o[t]))
		}
	}
	return strings.Join(d, "; ")
}

// count runs a count query on the test's own connection.
func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(q, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return n
}
