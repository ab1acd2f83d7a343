package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The preview says plainly when an enrollment is late and which steps will
// be skipped and why, and what every text costs in SMS segments.
func TestPreviewLateEnrollment(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name      string
		treatedAt time.Time
		firstName string
		late      string // late_by, "" for on time
	}{
		{"on time", now.Add(-10 * time.Minute), "Ana", ""},
		{"30 hours late", now.Add(-30 * time.Hour), "Ana", "30 hours"},
		{"20 days late", now.Add(-20 * 24 * time.Hour), "Ana", "20 days"},
		{"name outside GSM-7", now.Add(-10 * time.Minute), "Zoë", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := validBody()
			body["treated_at"] = tc.treatedAt.Format(time.RFC3339)
			body["first_name"] = tc.firstName
			resp, out := e.do(t, "POST", "/v1/enrollments/preview", e.keyA, body, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("preview: %d %v", resp.StatusCode, out)
			}
			sum, _ := out["summary"].(map[string]any)
			if sum == nil {
				t.Fatalf("no summary in %v", out)
			}
			if late, _ := sum["late"].(bool); late != (tc.late != "") || (tc.late != "" && sum["late_by"] != tc.late) {
				t.Errorf("late %v by %v, want %q", sum["late"], sum["late_by"], tc.late)
			}
			notes := ""
			for _, n := range sum["notes"].([]any) {
				notes += n.(string) + "\n"
			}
			if tc.late != "" {
				if !strings.Contains(notes, "Late enrollment: the treatment was "+tc.late+" ago") || !strings.Contains(notes, "names the warning signs") {
					t.Errorf("notes do not say the enrollment is late:\n%s", notes)
				}
				skipped := map[string]string{}
				for _, s := range sum["skipped"].([]any) {
					s := s.(map[string]any)
					skipped[s["step"].(string)+"/"+s["channel"].(string)] = s["reason"].(string)
				}
				if !strings.HasPrefix(skipped["welcome/sms"], "stale") {
					t.Errorf("skipped %v, want the welcome text with its reason", skipped)
				}
				if !strings.Contains(notes, "welcome and the first 24 hours (text)") {
					t.Errorf("notes do not name the skipped welcome:\n%s", notes)
				}
			} else if sum["late"] != false {
				t.Errorf("on-time enrollment called late: %v", notes)
			}
			// Per text and per plan segments agree.
			texts, segments, unicode := 0, 0, 0
			first := ""
			for _, m := range out["messages"].([]any) {
				m := m.(map[string]any)
				if m["channel"] != "sms" {
					if _, ok := m["segments"]; ok {
						t.Errorf("email %s has segments", m["step"])
					}
					continue
				}
				n, _ := m["segments"].(float64)
				if n < 1 || n > 2 && m["encoding"] == "gsm-7" || n > 5 {
					t.Errorf("%s: %v segments", m["step"], m["segments"])
				}
				if m["status"] != "scheduled" {
					continue
				}
				if first == "" {
					first = m["step"].(string)
				}
				texts++
				segments += int(n)
				if m["encoding"] == "ucs-2" {
					unicode++
				} else if m["encoding"] != "gsm-7" {
					t.Errorf("%s: encoding %v", m["step"], m["encoding"])
				}
			}
			if float64(texts) != sum["texts"] || float64(segments) != sum["segments"] || float64(unicode) != sum["unicode_texts"] {
				t.Errorf("summary %v texts %v segments %v unicode; messages say %d, %d, %d", sum["texts"], sum["segments"], sum["unicode_texts"], texts, segments, unicode)
			}
			if (tc.firstName == "Zoë") != (unicode > 0) {
				t.Errorf("%d texts as UCS-2 for %s", unicode, tc.firstName)
			}
			if want := map[bool]string{true: "late_start", false: "welcome"}[tc.late != ""]; first != want {
				t.Errorf("first text %s, want %s", first, want)
			}
		})
	}
}
