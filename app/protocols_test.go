package app_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// One daemon, two treatments: the enrollment's treatment picks its
// protocol, every text of the plan comes from it, and a treatment without
// a protocol is refused with the list of those there are.
func TestTwoTreatmentsOneDaemon(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 24, 10, 0, 0, 0, ny)
	d := testsupport.StartDaemon(t, testsupport.DaemonOptions{Start: treated.Add(5 * time.Minute),
		Configure: func(c *config.Config) { c.ProtocolsDir = filepath.Join("..", "testdata", "protocols") }})
	clinic, key := d.AddClinic(t, testsupport.GlowClinic())
	h := &harness{t: t, app: d.App, clock: d.Clock, tw: d.Twilio, mail: d.Mail, base: d.Base, key: key, clinic: clinic, logs: d.Logs, d: d}

	enroll := func(treatment, phone string) (int, map[string]any) {
		return h.api("POST", "/v1/enrollments", map[string]any{
			"first_name": "Ana", "phone": phone, "timezone": "America/New_York", "sms_consent": true,
			"treatment": treatment, "treated_at": treated.Format(time.RFC3339), "session_number": 1, "series_length": 1,
		})
	}
	status, out := enroll("botox", "+14155550101")
	if status != 422 || !strings.Contains(strings.ToLower(toJSON(out)), "chemical peel, microneedling") {
		t.Fatalf("unknown treatment: %d %v", status, out)
	}
	status, peel := enroll("Chemical Peel", "+14155550102")
	if status != 201 {
		t.Fatalf("enroll peel: %d %v", status, peel)
	}
	status, micro := enroll("microneedling", "+14155550103")
	if status != 201 {
		t.Fatalf("enroll microneedling: %d %v", status, micro)
	}
	steps := func(v map[string]any) map[string]bool {
		id := int64(v["enrollment"].(map[string]any)["id"].(float64))
		out := map[string]bool{}
		for _, m := range messages(h.enrollment(id)) {
			out[m["step"].(string)] = true
		}
		return out
	}
	if s := steps(peel); !s["day2_checkin"] || s["sunscreen"] || s["dryness"] {
		t.Errorf("peel plan steps: %v", s)
	}
	if s := steps(micro); s["day2_checkin"] || !s["sunscreen"] {
		t.Errorf("microneedling plan steps: %v", s)
	}
	h.runUntil(treated.Add(3 * 24 * time.Hour))
	var peelTexts, microTexts int
	for _, m := range h.tw.Sent() {
		switch m.To {
		case "+14155550102":
			peelTexts++
			if strings.Contains(m.Body, "unscreen") || strings.Contains(m.Body, "makeup") {
				t.Errorf("peel patient got a microneedling text: %q", m.Body)
			}
		case "+14155550103":
			microTexts++
			if strings.Contains(m.Body, "peel") {
				t.Errorf("microneedling patient got a peel text: %q", m.Body)
			}
		case "+14155550101":
			t.Errorf("the refused enrollment was texted: %q", m.Body)
		}
	}
	if peelTexts != 2 || microTexts < 6 {
		t.Errorf("texts by day 3: peel %d (want welcome and day 2), microneedling %d", peelTexts, microTexts)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A protocol file that does not pass lint keeps the daemon from starting,
// and the error names the file, line, step and field.
func TestBrokenProtocolRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "testdata", "protocols", "example-chemical-peel.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "checking in after your peel.", "checking in after your {{.Frist}} peel.", 1)
	if broken == string(src) {
		t.Fatal("the example changed: nothing to break")
	}
	if err := os.WriteFile(filepath.Join(dir, "peel.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.ProtocolsDir = dir
	_, err = app.LoadLibrary(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("a protocol with an unknown template field was loaded")
	}
	for _, want := range []string{"peel.yaml:", `step "day2_checkin"`, "sms", "Frist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
