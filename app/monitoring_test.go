package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/metrics"
	"github.com/aftercare/aftercare/notify/twiliotest"
)

// scrape reads GET /metrics as a map from series ("name{l="v",...}" as
// written) to value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// family sums every series of a metric name whose labels contain all of
// the given label pairs (e.g. `channel="sms"`).
func family(m map[string]float64, name string, labels ...string) (float64, bool) {
	sum, found := 0.0, false
	for k, v := range m {
		n, rest, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
			}
		}
		if ok {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

func TestMetricsMoveWhenMessagesAreSent(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 14, 30, 0, 0, ny)
	h := newHarness(t, treated.Add(5*time.Minute))

	before := scrape(t, h.base)
	for _, name := range []string{metrics.MessagesHandled, metrics.SendDuration + "_bucket", metrics.DispatchLateness + "_bucket",
		metrics.OutboxMessages, metrics.Receipts, metrics.DispatchLastSuccess,
		"go_goroutines", "process_start_time_seconds"} {
		if _, ok := family(before, name); !ok {
			t.Errorf("series %s missing before any message", name)
		}
	}
	if v, _ := family(before, metrics.OutboxMessages, `status="scheduled"`); v != 0 {
		t.Fatalf("scheduled before enrolling: %v", v)
	}

	status, out := h.api("POST", "/v1/enrollments", map[string]any{
		"first_name": "Ana", "last_name": "Diaz", "phone": "+14155550123", "email": "ana@example.com",
		"timezone": "America/New_York", "sms_consent": true, "email_consent": true,
		"treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 3,
	})
	if status != 201 {
		t.Fatalf("enroll: %d %v", status, out)
	}
	planned := scrape(t, h.base)
	scheduled, _ := family(planned, metrics.OutboxMessages, `status="scheduled"`)
	if scheduled < 10 {
		t.Fatalf("outbox gauge after enrolling: %v scheduled", scheduled)
	}

	// The first messages go out ten minutes after their planned time, and
	// Twilio refuses one text with a 429 first.
	h.clock.Set(h.clock.Now().Add(10 * time.Minute))
	h.tw.RateLimitNext(1, time.Second)
	h.runUntil(treated.Add(27 * time.Hour))
	texts := len(h.tw.Sent())
	if texts < 4 {
		t.Fatalf("texts by day 1: %d", texts)
	}
	if err := h.tw.DeliverAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := twiliotest.InboundForm(accountSID, "+14155550123", fromNumber, "STOP")
	if code := h.webhook("/webhooks/twilio/inbound", stop, false); code != 403 {
		t.Fatalf("unsigned webhook: %d", code)
	}
	after := scrape(t, h.base)

	delta := func(name string, labels ...string) float64 {
		a, ok := family(after, name, labels...)
		if !ok {
			t.Errorf("series %s%v missing", name, labels)
		}
		b, _ := family(before, name, labels...)
		return a - b
	}
	emails := float64(len(h.mail.Messages()))
	checks := []struct {
		what      string
		got, want float64
	}{
		{"sms sent", delta(metrics.MessagesHandled, `channel="sms"`, `outcome="sent"`), float64(texts)},
		{"email sent", delta(metrics.MessagesHandled, `channel="email"`, `outcome="sent"`), emails},
		{"sms retried", delta(metrics.MessagesHandled, `channel="sms"`, `outcome="retry"`), 1},
		{"provider errors 20429", delta(metrics.ProviderErrors, `channel="sms"`, `code="20429"`), 1},
		{"sms send calls", delta(metrics.SendDuration+"_count", `channel="sms"`), float64(texts) + 1},
		{"sms lateness observations", delta(metrics.DispatchLateness+"_count", `channel="sms"`), float64(texts)},
		{"receipts delivered", delta(metrics.Receipts, `status="delivered"`), float64(texts)},
		{"outbox delivered", delta(metrics.OutboxMessages, `status="delivered"`), float64(texts)},
		{"rejected unsigned", delta(metrics.WebhookRejections, `endpoint="/webhooks/twilio/inbound"`, `reason="unsigned"`), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s moved by %v, want %v", c.what, c.got, c.want)
		}
	}
	if emails < 1 {
		t.Fatalf("no email sent")
	}
	// The dispatcher's last good pass, on the virtual clock: the last due
	// message of day 1.
	if last := after[metrics.DispatchLastSuccess]; last < float64(treated.Add(12*time.Hour).Unix()) || last > float64(h.clock.Now().Unix()) {
		t.Errorf("%s = %v, want on day 1 (now %v)", metrics.DispatchLastSuccess, last, h.clock.Now().Unix())
	}
	// Lateness: the welcome text and email went out 10 minutes late; the
	// rest on time (the clock jumps to each due message).
	if late := delta(metrics.DispatchLateness+"_sum", `channel="sms"`); late < 600 {
		t.Errorf("sms lateness sum %vs, want at least the 600s of the late welcome text", late)
	}
	onTime := delta(metrics.DispatchLateness+"_bucket", `channel="sms"`, `le="0.05"`)
	within5m := delta(metrics.DispatchLateness+"_bucket", `channel="sms"`, `le="300"`)
	if onTime < 1 || within5m >= float64(texts) {
		t.Errorf("lateness buckets: %v on time, %v within 5m of %d texts; want some on time and some later", onTime, within5m, texts)
	}
	if got, _ := family(after, metrics.OutboxMessages, `status="scheduled"`); got >= scheduled {
		t.Errorf("scheduled gauge did not fall: %v -> %v", scheduled, got)
	}
	if sum := delta(metrics.SendDuration+"_sum", `channel="email"`); sum <= 0 {
		t.Errorf("email send duration sum moved by %v", sum)
	}

	// Every log line about a message names it and its clinic, and no line
	// carries the patient's phone or email (this harness logs unmasked).
	logs := h.logs.String()
	if strings.Contains(logs, "4155550123") || strings.Contains(logs, "ana@example.com") {
		t.Errorf("logs contain the patient's phone or email")
	}
	perMessage := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		_, hasMsg := rec["message_id"]
		_, hasClinic := rec["clinic_id"]
		switch msg {
		case "sent", "send failed", "delivery receipt":
			perMessage[msg]++
			if !hasMsg || !hasClinic {
				t.Errorf("log line about a message without message_id and clinic_id: %s", line)
			}
		}
		if hasMsg && !hasClinic {
			t.Errorf("log line with message_id but no clinic_id: %s", line)
		}
	}
	if perMessage["sent"] == 0 || perMessage["send failed"] != 1 || perMessage["delivery receipt"] != texts {
		t.Errorf("per-message log lines: %v", perMessage)
	}
}

func readyz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestReadyzFailsWhenTheDatabaseCannotBeWritten(t *testing.T) {
	h := newHarness(t, time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC))
	code, body := readyz(t, h.base)
	checks, _ := body["checks"].(map[string]any)
	if code != 200 || body["ready"] != true || checks["database"] != "ok" || checks["providers"] != "ok" || body["warnings"] != nil {
		t.Fatalf("ready with Twilio, SMTP and a public URL: %d %v", code, body)
	}
	if err := h.app.Store.Close(); err != nil {
		t.Fatal(err)
	}
	code, body = readyz(t, h.base)
	checks, _ = body["checks"].(map[string]any)
	reason, _ := checks["database"].(string)
	if code != http.StatusServiceUnavailable || body["ready"] != false || !strings.Contains(reason, "database is closed") {
		t.Fatalf("readyz with the database closed: %d %v", code, body)
	}
	if checks["providers"] != "ok" {
		t.Errorf("providers check with the database closed: %v", checks["providers"])
	}
}

func TestReadyzReportsProviderWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		configure func(*config.Config)
		warn      []string
	}{
		{"console notifier for both channels", func(c *config.Config) {}, []string{"sms goes to the console notifier", "email goes to the console notifier"}},
		{"twilio without a public url", func(c *config.Config) {
			c.Twilio = config.Twilio{AccountSID: accountSID, AuthToken: authToken, From: fromNumber, BaseURL: "http://127.0.0.1:9", Timeout: time.Second}
		}, []string{"sms uses Twilio but public_url is not set", "email goes to the console notifier"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := startDaemon(t, func(c *config.Config) {
				c.PublicURL = ""
				tt.configure(c)
			})
			code, body := readyz(t, "http://"+a.Addr())
			checks, _ := body["checks"].(map[string]any)
			warnings, _ := body["warnings"].(map[string]any)
			text, _ := warnings["providers"].(string)
			if code != 200 || checks["providers"] != "ok" {
				t.Fatalf("a warning made the daemon unready: %d %v", code, body)
			}
			for _, w := range tt.warn {
				if !strings.Contains(text, w) {
					t.Errorf("providers warning %q lacks %q", text, w)
				}
			}
		})
	}
}

func TestNewLoggerMasksPhoneNumbersAndEmails(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log := app.NewLogger(config.Log{Level: "debug", Format: "auto"}, f)
	log.Debug("text to +14155550123 failed", "err", "550 <ana@example.com>: mailbox unavailable", "message_id", 42, "clinic_id", 7)
	log.With("to", "+1 (415) 555-0123").Error("e", slog.Group("g", "email", "ana@example.com"))
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("got %d lines:\n%s", len(lines), b)
	}
	var first map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatalf("not JSON off a terminal: %v\n%s", err, b)
	}
	if first["msg"] != "text to +1415*****23 failed" || first["err"] != "550 <a***@example.com>: mailbox unavailable" ||
		first["message_id"] != float64(42) || first["clinic_id"] != float64(7) {
		t.Errorf("first line: %s", lines[0])
	}
	if bytes.Contains(b, []byte("4155550123")) || bytes.Contains(b, []byte("555-0123")) || bytes.Contains(b, []byte("ana@")) {
		t.Errorf("log leaks a phone or email:\n%s", b)
	}
}
