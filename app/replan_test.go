package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// TestReplanWithTheClinicsNewWording: a patient enrolled with the default
// protocol gets day 0; the clinic then switches to its own version with
// different wording. The dry run shows changes to future texts only and
// writes nothing; applied, days 1 to 3 go out in the new wording and
// nothing goes out twice.
func TestReplanWithTheClinicsNewWording(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	treated := time.Date(2026, 11, 25, 10, 0, 0, 0, ny)
	h := newHarness(t, treated.Add(time.Minute))
	id := h.enroll(treated, patientPhone, 1, 3)
	h.runUntil(time.Date(2026, 11, 25, 22, 0, 0, 0, ny))
	day0 := len(h.tw.Sent())
	if day0 == 0 {
		t.Fatal("nothing sent on day 0")
	}

	var src []byte
	for _, s := range protocol.EmbeddedSources() {
		if s.Name == "embedded:microneedling.en" {
			src = s.Data
		}
	}
	newer := strings.NewReplacer("version: 3\n", "version: 4\n",
		"redness today is normal", "redness today is expected",
		"dryness and light flaking are normal", "some dryness and flaking is expected").Replace(string(src))
	if newer == string(src) || !strings.Contains(newer, "version: 4\n") {
		t.Fatal("the test's protocol edit did not apply")
	}
	ctx := context.Background()
	if _, err := h.app.Store.AddClinicProtocol(ctx, store.ClinicProtocol{ClinicID: h.clinic.ID, Treatment: "microneedling",
		Language: "en", Version: 4, Source: newer, Active: true}); err != nil {
		t.Fatal(err)
	}
	before := h.enrollment(id)

	// The CLI's dry run names the changed steps and writes nothing.
	var out bytes.Buffer
	if err := h.app.Replan(ctx, &out, app.ReplanOptions{ClinicID: h.clinic.ID}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"microneedling v3 (en) -> microneedling v4 (en)", "day1_checkin/sms/0 text", "dryness/sms/0 text", "dry run"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	status, diff := h.api("POST", "/v1/enrollments/"+itoa(id)+"/replan", map[string]any{"dry_run": true})
	if status != 200 {
		t.Fatalf("dry run: %d %v", status, diff)
	}
	now := h.clock.Now()
	changed := diff["changed"].([]any)
	if len(changed) != 2 || len(diff["added"].([]any)) != 0 || len(diff["removed"].([]any)) != 0 {
		t.Fatalf("dry run = %v", diff)
	}
	for _, c := range changed {
		c := c.(map[string]any)
		at, _ := time.Parse(time.RFC3339, c["old_send_at"].(string))
		if !at.After(now) || c["old_body"] == c["new_body"] || !strings.Contains(c["new_body"].(string), "expected") {
			t.Fatalf("changed = %v", c)
		}
	}
	if after := h.enrollment(id); toJSON(after) != toJSON(before) {
		t.Fatal("the dry run wrote")
	}

	// Applied, days 1 to 3 go out in the new wording; nothing twice.
	out.Reset()
	if err := h.app.Replan(ctx, &out, app.ReplanOptions{ClinicID: h.clinic.ID, Treatment: "Microneedling", Apply: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 active enrollment(s): 1 changed") {
		t.Fatalf("apply output:\n%s", out.String())
	}
	h.runUntil(time.Date(2026, 11, 28, 23, 0, 0, 0, ny))
	seen := map[string]bool{}
	var checkin, dryness int
	for i, m := range h.tw.Sent() {
		if seen[m.Body] {
			t.Fatalf("sent twice: %q", m.Body)
		}
		seen[m.Body] = true
		if i < day0 {
			continue
		}
		if strings.Contains(m.Body, "redness today is") {
			checkin++
			if !strings.Contains(m.Body, "redness today is expected") {
				t.Fatalf("day 1 in the old wording: %q", m.Body)
			}
		}
		if strings.Contains(m.Body, "flaking") {
			dryness++
			if !strings.Contains(m.Body, "some dryness and flaking is expected") {
				t.Fatalf("day 3 in the old wording: %q", m.Body)
			}
		}
	}
	if checkin != 1 || dryness != 1 {
		t.Fatalf("day 1 check-in sent %d times, dryness %d times", checkin, dryness)
	}
	v, err := h.app.Store.Enrollment(ctx, h.clinic.ID, id)
	if err != nil || v.Enrollment.ProtocolVersion != 4 {
		t.Fatalf("enrollment records version %d, %v", v.Enrollment.ProtocolVersion, err)
	}
	if err := h.app.Store.CheckTransitions(ctx); err != nil {
		t.Fatal(err)
	}
}
