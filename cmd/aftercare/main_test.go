package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPreviewJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"preview", "--treated-at", "2026-03-07T15:00:00-05:00", "--tz", "America/New_York", "--session", "1", "--series", "3", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var items []map[string]any
	if err := json.Unmarshal(out.Bytes(), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) < 20 {
		t.Fatalf("%d items", len(items))
	}
	sawDST := false
	for _, it := range items {
		for _, k := range []string{"step", "channel", "send_at", "stale_at", "status", "body"} {
			if _, ok := it[k]; !ok {
				t.Fatalf("item lacks %q: %v", k, it)
			}
		}
		send, err := time.Parse(time.RFC3339, it["send_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		// Sunscreen stays at 08:30 local across the 8 March DST change,
		// and the offset in send_at is the patient's.
		if it["step"] == "sunscreen" {
			if send.Format("15:04") != "08:30" {
				t.Errorf("sunscreen at %s", it["send_at"])
			}
			if strings.HasSuffix(it["send_at"].(string), "-04:00") {
				sawDST = true
			}
		}
	}
	if !sawDST {
		t.Error("no sunscreen text after the DST change shows the -04:00 offset")
	}
}

func TestClinicAddPrintsKeyAlone(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	t.Setenv("AFTERCARE_DB", db)
	var out, errb bytes.Buffer
	code := run([]string{"clinic", "add", "--name", "Glow", "--phone", "+14155550100", "--tz", "America/New_York",
		"--alert-email", "staff@glow.example", "--after-hours-phone", "+14155550177"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "ak_") || strings.Contains(last, " ") {
		t.Fatalf("last line %q is not the key alone", last)
	}
}

func TestClinicAddRefusesAClinicWithoutAlertRoute(t *testing.T) {
	db := filepath.Join(t.TempDir(), "c.db")
	t.Setenv("AFTERCARE_DB", db)
	var out, errb bytes.Buffer
	code := run([]string{"clinic", "add", "--name", "Glow", "--phone", "+14155550100", "--tz", "America/New_York"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--alert-email, --on-call-phone") {
		t.Fatalf("clinic add without an alert route: exit %d, %q", code, errb.String())
	}
	if strings.Contains(out.String(), "ak_") {
		t.Fatalf("a key was printed: %q", out.String())
	}
	// A bad route is refused too, with every problem at once.
	out.Reset()
	errb.Reset()
	code = run([]string{"clinic", "add", "--name", "Glow", "--phone", "+14155550100", "--tz", "Mars/Base",
		"--on-call-phone", "12"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "on-call-phone") || !strings.Contains(errb.String(), "tz") {
		t.Fatalf("clinic add with a bad on-call phone and zone: exit %d, %q", code, errb.String())
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"preview"}, 2, "--treated-at"},
		{[]string{"preview", "--treated-at", "nope", "--tz", "UTC"}, 1, "treated-at"},
		{[]string{"preview", "--treated-at", "2026-03-07T15:00:00Z", "--tz", "Mars/Base"}, 1, "timezone"},
		{[]string{"clinic", "add", "--name", "x"}, 2, "--phone"},
		{[]string{"clinic", "remove"}, 2, "usage"},
		{[]string{"serve", "--bogus"}, 2, "bogus"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(errb.String(), tt.msg) {
			t.Errorf("run(%q) = %d, stderr %q; want %d mentioning %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
	}
}

func TestBadConfigIsReported(t *testing.T) {
	t.Setenv("AFTERCARE_LISTEN", "nope")
	var out, errb bytes.Buffer
	if code := run([]string{"serve"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "listen") {
		t.Fatalf("exit %d stderr %q", code, errb.String())
	}
}
